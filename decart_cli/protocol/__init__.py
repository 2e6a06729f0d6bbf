"""The realtime protocol: messages, parsing, serialisation, URLs. No I/O.

Shared by the client and the local server. See ``shared/PROTOCOL.md``.

* :func:`parse` turns one WebSocket text message into a message object,
  raising :class:`~decart_cli.errors.ProtocolError` for anything malformed
  (it is :func:`decode`, which refuses what is not a JSON object at all,
  then :func:`from_dict`).
  Types it does not know become :class:`Unknown` (never an error): the
  service adds types over time.
* :func:`serialize` turns a message object into JSON text.
* :func:`stream_url` builds the endpoint URL from a base URL; :func:`redact_url`
  hides the API key in any URL before it is shown or logged.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import BadURLError, ProtocolError

MAX_PROMPT_LENGTH = 1000


@dataclass(frozen=True)
class Candidate:
    """An ICE candidate as carried in ``ice-candidate`` messages."""

    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None


@dataclass(frozen=True)
class Message:
    """Base of all protocol messages; ``type`` is the wire name."""

    type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this message, ``type`` first."""
        return {"type": self.type, **asdict(self)}


# Client to server.


@dataclass(frozen=True)
class Offer(Message):
    type: ClassVar[str] = "offer"
    sdp: str


@dataclass(frozen=True)
class IceCandidate(Message):
    """A trickled ICE candidate (either direction); ``candidate=None`` ends the trickle."""

    type: ClassVar[str] = "ice-candidate"
    candidate: Candidate | None


@dataclass(frozen=True)
class Prompt(Message):
    type: ClassVar[str] = "prompt"
    prompt: str
    enhance_prompt: bool = True


@dataclass(frozen=True)
class LiveKitJoin(Message):
    """Today's protocol: ask the control channel for a LiveKit room."""

    type: ClassVar[str] = "livekit_join"


@dataclass(frozen=True)
class SetImage(Message):
    type: ClassVar[str] = "set_image"
    image_data: str | None = None
    """Base64 image (or a ``data:`` URL); None with no ``image_ref`` clears the image."""
    prompt: str | None = None
    enhance_prompt: bool | None = None
    image_ref: str | None = None
    """An uploaded file's id (``file_...``, see ``/v1/files``) instead of ``image_data``."""

    def to_dict(self) -> dict[str, Any]:
        """As the SDKs send it: ``image_ref`` only when set (then without ``image_data``)."""
        data = super().to_dict()
        if self.image_ref is None:
            del data["image_ref"]
        else:
            del data["image_data"]
        return data


# Server to client.


@dataclass(frozen=True)
class Answer(Message):
    type: ClassVar[str] = "answer"
    sdp: str


@dataclass(frozen=True)
class PromptAck(Message):
    """The answer to a prompt, matched by its text.

    ``note`` is this project's addition (the hosted service sends none; the
    official SDKs ignore it): how the local engine took a prompt it applied
    where that is not literal ("'sombrero' is drawn as a plain hat",
    "waiting for a face"). The local server also repeats the current
    prompt's ack with a new ``note`` when that changes (a face comes into
    view); clients that wait for no such ack ignore it.
    """

    type: ClassVar[str] = "prompt_ack"
    prompt: str
    success: bool = True
    error: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.note is None:
            del data["note"]
        return data


@dataclass(frozen=True)
class SetImageAck(Message):
    type: ClassVar[str] = "set_image_ack"
    success: bool = True
    error: str | None = None


@dataclass(frozen=True)
class SessionId(Message):
    type: ClassVar[str] = "session_id"
    session_id: str
    server_ip: str = ""
    server_port: int = 0


@dataclass(frozen=True)
class Ready(Message):
    type: ClassVar[str] = "ready"


@dataclass(frozen=True)
class GenerationStarted(Message):
    type: ClassVar[str] = "generation_started"


@dataclass(frozen=True)
class QueuePosition(Message):
    """Today's protocol: the session waits for a slot; ``position`` 1 is next."""

    type: ClassVar[str] = "queue_position"
    position: int
    queue_size: int


@dataclass(frozen=True)
class LiveKitRoomInfo(Message):
    """Today's protocol: where the session's media goes (a LiveKit room and a token to join it)."""

    type: ClassVar[str] = "livekit_room_info"
    livekit_url: str
    token: str
    room_name: str
    session_id: str


@dataclass(frozen=True)
class GenerationTick(Message):
    """Billed seconds of edited video so far."""

    type: ClassVar[str] = "generation_tick"
    seconds: int


@dataclass(frozen=True)
class GenerationEnded(Message):
    type: ClassVar[str] = "generation_ended"
    seconds: int
    reason: str


@dataclass(frozen=True)
class Error(Message):
    type: ClassVar[str] = "error"
    error: str


@dataclass(frozen=True)
class Unknown(Message):
    """A message of a type this version does not know; kept, never fatal."""

    kind: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.data, "type": self.kind}


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.type: cls
    for cls in (
        Offer,
        IceCandidate,
        Prompt,
        LiveKitJoin,
        SetImage,
        Answer,
        PromptAck,
        SetImageAck,
        SessionId,
        Ready,
        GenerationStarted,
        QueuePosition,
        LiveKitRoomInfo,
        GenerationTick,
        GenerationEnded,
        Error,
    )
}

_INFORMATIONAL = (QueuePosition, GenerationTick, GenerationEnded)
"""Server messages a client only shows: with fields that do not fit they are kept as :class:`Unknown`, never an error."""

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "bool": (bool,),
    "bool | None": (bool, type(None)),
    "int": (int,),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _parse_candidate(value: Any) -> Candidate | None:
    if value is None:
        return None
    if isinstance(value, str):
        # Some clients send the bare candidate line.
        return Candidate(candidate=value)
    if not isinstance(value, dict) or not isinstance(value.get("candidate"), str):
        raise ProtocolError("ice-candidate: 'candidate' must be an object with a 'candidate' string")
    mid = value.get("sdpMid")
    index = value.get("sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise ProtocolError("ice-candidate: 'sdpMid' must be a string")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise ProtocolError("ice-candidate: 'sdpMLineIndex' must be an integer")
    if value["candidate"] == "":
        return None  # end-of-candidates, as browsers send it
    return Candidate(candidate=value["candidate"], sdpMid=mid, sdpMLineIndex=index)


def from_dict(data: Any) -> Message:
    """Build a message from a decoded JSON value; raise ProtocolError if it is not one."""
    if not isinstance(data, dict):
        raise ProtocolError(f"a message must be a JSON object, not {_type_name(data)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("a message needs a string 'type'")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        return Unknown(kind=kind, data={k: v for k, v in data.items() if k != "type"})
    if cls is IceCandidate:
        return IceCandidate(candidate=_parse_candidate(data.get("candidate")))
    if cls in _INFORMATIONAL:
        try:
            return _build(cls, kind, data)
        except ProtocolError:
            return Unknown(kind=kind, data={k: v for k, v in data.items() if k != "type"})
    return _build(cls, kind, data)


def _build(cls: type[Message], kind: str, data: dict[str, Any]) -> Message:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ProtocolError(f"{kind}: missing field {f.name!r}")
            continue
        value = data[f.name]
        allowed = _FIELD_TYPES[str(f.type)]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ProtocolError(f"{kind}: field {f.name!r} must be {f.type}, not {_type_name(value)}")
        kwargs[f.name] = value
    return cls(**kwargs)


def decode(text: str | bytes) -> dict[str, Any]:
    """The JSON object of one WebSocket message; raise ProtocolError if it is not a JSON object in a text frame.

    What this refuses cannot be a message of any version of the protocol
    (unlike a known type with odd fields, which :func:`from_dict` refuses).
    """
    if isinstance(text, bytes):
        raise ProtocolError("binary WebSocket frames are not part of the protocol; send JSON text")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"a message must be a JSON object, not {_type_name(data)}")
    return data


def parse(text: str | bytes) -> Message:
    """Parse one WebSocket message; raise ProtocolError if it is not valid JSON of the protocol."""
    return from_dict(decode(text))


def serialize(message: Message) -> str:
    """The JSON text of ``message``."""
    data = message.to_dict()
    if isinstance(message, IceCandidate):
        data["candidate"] = None if message.candidate is None else asdict(message.candidate)
    return json.dumps(data, separators=(",", ":"))


def check_prompt(text: str, limit: int = MAX_PROMPT_LENGTH) -> str:
    """Return ``text`` stripped; raise ProtocolError if it is longer than ``limit``."""
    text = text.strip()
    if len(text) > limit:
        raise ProtocolError(f"prompt is {len(text)} characters; the limit is {limit}")
    return text


# URLs.

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
# Parameter names as clients may spell them, percent-encoded or not
# (api_key, api%5Fkey, api-key, apikey, key, token; LiveKit's access_token).
_SECRET_QUERY = re.compile(r"(?i)([?&](?:api(?:_|%5f|-|%2d)?key|key|token|access(?:_|%5f|-|%2d)?token)=)[^&#\s]*")


def _server_base(base: str) -> tuple[str, SplitResult]:
    """``base``'s WebSocket scheme and its parts; BadURLError when it is not a ws(s)/http(s) URL with a host."""
    # Shown without its query (where a key may be) in the messages below.
    shown = redact_url(re.split(r"[?#]", base.strip(), maxsplit=1)[0])
    try:
        parts = urlsplit(base.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise BadURLError(f"cannot use server URL {shown!r}", "give one like wss://host or ws://127.0.0.1:8765") from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise BadURLError(
            f"cannot use server URL {shown!r}",
            "give a ws://, wss://, http:// or https:// URL with a host, like ws://127.0.0.1:8765",
        )
    return scheme, parts


def stream_url(base: str, *, api_key: str, model: str, path: str = "/v1/stream", user_agent: str | None = None, livekit: bool = False, resolution: str | None = None) -> str:
    """The WebSocket URL of a model's stream on the server at ``base``.

    ``base`` is a scheme, host and port (``wss://api3.decart.ai``,
    ``http://127.0.0.1:8765``); ``http(s)`` maps to ``ws(s)``; a base that
    already ends in the model's path is accepted as is. ``livekit`` adds
    ``livekit_early_room_info=true`` (today's protocol, as the official SDKs ask),
    ``resolution`` a ``resolution=`` after it (where the SDKs put it).
    """
    scheme, parts = _server_base(base)
    base_path = parts.path.rstrip("/")
    if not base_path.endswith(path):
        base_path += path
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("api_key", "model", "user_agent", "livekit_early_room_info", "resolution")]
    query += [("api_key", api_key), ("model", model)]
    if livekit:
        query.append(("livekit_early_room_info", "true"))
    if resolution:
        query.append(("resolution", resolution))
    if user_agent:
        query.append(("user_agent", user_agent))
    return urlunsplit((scheme, parts.netloc, base_path, urlencode(query, quote_via=quote), ""))


def _origin(parts: SplitResult) -> str:
    """The part of a base URL's path before ``/v1/stream`` (a base given with the model's path is a kindness)."""
    path = parts.path.rstrip("/")
    return path[: path.index("/v1/")] if "/v1/" in path + "/" else path


def subscribe_url(base: str, *, session_id: str, ip: str, port: int, api_key: str) -> str:
    """A legacy viewer's WebSocket URL: ``/subscribe/<sid>?IP=&port=&api_key=`` on the server at ``base``."""
    scheme, parts = _server_base(base)
    query = urlencode([("IP", ip), ("port", str(port)), ("api_key", api_key)], quote_via=quote)
    return urlunsplit((scheme, parts.netloc, f"{_origin(parts)}/subscribe/{quote(session_id, safe='')}", query, ""))


def watch_stream_url(base: str, room_name: str) -> str:
    """Where a viewer of today's protocol asks for room credentials: ``POST http(s)://…/watch-stream/<room>``."""
    scheme, parts = _server_base(base)
    http = "https" if scheme == "wss" else "http"
    return urlunsplit((http, parts.netloc, f"{_origin(parts)}/watch-stream/{quote(room_name, safe='')}", "", ""))


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters replaced by ``***``."""
    return _SECRET_QUERY.sub(r"\1***", url)


def display_url(url: str) -> str:
    """``url`` without its query (which holds the key): scheme, host, port and path."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_url(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) or redact_url(url)


def url_host(url: str) -> str:
    """The host part of ``url`` (empty when there is none)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# SDP candidates.

_CANDIDATE_ADDRESS = re.compile(r"^(?:a=)?candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ ", re.IGNORECASE)


def candidate_address(line: str) -> str | None:
    """The connection address of an SDP candidate line, or None if it is not one."""
    match = _CANDIDATE_ADDRESS.match(line.strip())
    return match.group(1) if match else None


def keep_candidates(sdp: str, keep: Callable[[str], bool] = is_loopback_host) -> str:
    """``sdp`` without the candidate lines whose address ``keep`` refuses (by default: not a loopback address).

    A session between two peers on one machine keeps its media there.
    """
    kept = []
    for line in sdp.splitlines(keepends=True):
        address = candidate_address(line)
        if address is not None and not keep(address):
            continue
        kept.append(line)
    return "".join(kept)
