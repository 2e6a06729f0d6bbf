"""The control channel's messages, both generations: the dataclasses, parsing, serialisation. No I/O.

* :func:`parse` turns one WebSocket text message into a message object,
  raising :class:`~decart_cli.errors.ProtocolError` for anything malformed
  (it is :func:`decode`, which refuses what is not a JSON object at all,
  then :func:`from_dict`).
  Types it does not know become :class:`Unknown` (never an error): the
  service adds types over time.
* :func:`serialize` turns a message object into JSON text.
* :func:`check_prompt` holds a prompt to :data:`MAX_PROMPT_LENGTH`.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

from ..errors import ProtocolError

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
