"""The local realtime server: both generations of the hosted protocol on one port.

:class:`Server` listens for ``/v1/stream?api_key=&model=`` and runs one
session per WebSocket, chosen by the model's generation: a
:class:`~.webrtc.WebRTCSession` (legacy: the client's offer is answered on
the socket and the edited video comes back on the same peer connection) or
a :class:`~.livekit_session.LiveKitSession` (today's: the socket is a
control channel and media goes through a room of the LiveKit-compatible
endpoint at ``/rtc/v1``, :mod:`.room`). Any client of either protocol works
(ours, the official SDKs, a browser page).

Sessions share :class:`~.slots.Slots` (``max_sessions``): today's clients
queue for one, legacy clients are refused when none is free.

A running session can be watched receive-only (:mod:`.viewers`): legacy
viewers open ``/subscribe/<session_id>`` (:mod:`.subscribe`); today's ask
``POST /watch-stream/<room>`` for credentials and join the room. Viewers
take no slot. The browser page is served at ``/``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server as WSServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .. import __version__
from .. import protocol as p
from ..config import ServeConfig
from ..engine import Engine, load_engine
from ..errors import ProtocolError
from ..models import MODELS, Model
from .livekit_session import LiveKitSession
from .room import RoomHub
from .session import ServerSession
from .slots import Slots
from .subscribe import SUBSCRIBE_PREFIX, LegacyViewer
from .viewers import TooManyViewers
from .webrtc import WebRTCSession

log = logging.getLogger("decart.server")

STREAM_PATH = "/v1/stream"
ROOM_PATH = "/rtc/v1"
"""LiveKit's signaling path (single peer connection), where today's clients join their room."""
WATCH_PREFIX = "/watch-stream/"
"""``POST /watch-stream/<room>`` (header ``x-api-key``): credentials for a viewer of today's protocol to join that room."""
ROOM_PATH_V0 = "/rtc"
"""LiveKit's older signaling path (two peer connections); not served, answered with a clear refusal."""
SERVER_HEADER = f"decart-serve/{__version__}"
"""The ``Server`` header of every response: how a client knows it talks to decart serve (see decart_cli.client.probe)."""
SPEEDS = ("fast",)
RESOLUTIONS = ("720p", "1080p")


_QUERY_PARAM = re.compile(r"([?&])([^=&#\s]*)=([^&#\s]*)")
_SECRET_NAMES = {"apikey", "key", "token", "accesstoken"}


def redact_query(text: str) -> str:
    """``text`` with the values of secret-looking query parameters replaced by ``***``.

    Unlike :func:`protocol.redact_url` this also catches names the client
    percent-encoded or spelled differently (``api%5Fkey``, ``API-Key``),
    which ``parse_qs`` would still decode to ``api_key``.
    """

    def hide(match: re.Match[str]) -> str:
        name = re.sub(r"[^a-z0-9]", "", unquote(match.group(2)).lower())
        if name in _SECRET_NAMES:
            return f"{match.group(1)}{match.group(2)}=***"
        return match.group(0)

    return _QUERY_PARAM.sub(hide, text)


PAGE_PATHS = ("", "/index.html")
"""Where the browser page is served (``/``)."""


def page_response() -> Response:
    """The browser page: the camera, a prompt box and the edited video, speaking to this server."""
    from importlib import resources

    body = resources.files("decart_cli.assets").joinpath("page.html").read_bytes()
    return http_response(HTTPStatus.OK, body, "text/html; charset=utf-8")


def json_response(status: HTTPStatus, body: dict[str, object], **headers: str) -> Response:
    """An HTTP response with a JSON body."""
    return http_response(status, json.dumps(body).encode(), "application/json", **headers)


def http_response(status: HTTPStatus, body: bytes, content_type: str, **headers: str) -> Response:
    """A plain HTTP response (not cached); ``headers`` are named in Python (``Allow``, ``Retry_After``)."""
    fields = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    for name, value in headers.items():
        fields[name.replace("_", "-")] = value
    return Response(status, status.phrase, fields, body)


class _RedactKeys(logging.Filter):
    """Hides keys in websockets' request-line logs (debug level) before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_query(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT_KEYS = _RedactKeys()


class Server:
    """The local realtime server. ``await start()``, then ``await stop()``."""

    def __init__(self, config: ServeConfig, engine_factory: Callable[[], Engine] | None = None) -> None:
        self.config = config
        self._engine_factory = engine_factory or (lambda: load_engine(config.engine))
        self._ws_server: WSServer | None = None
        self.sessions: set[ServerSession] = set()
        self.slots = Slots(config.max_sessions)
        self.rooms = RoomHub()
        self.refused_full = 0
        """Legacy clients turned away because the server was full."""

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._ws_server is not None, "server not started"
        return self._ws_server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The base URL clients should use (``ws://host:port``)."""
        host = self.config.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start accepting sessions; raises OSError if the port is taken."""
        self._engine_factory()  # fail now, not at the first client, if the engine cannot load
        for name in ("websockets.server", "websockets"):
            logger = logging.getLogger(name)
            if _REDACT_KEYS not in logger.filters:
                logger.addFilter(_REDACT_KEYS)
        self._ws_server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            max_size=self.config.max_message_bytes,
            compression=None,
            server_header=SERVER_HEADER,
        )

    def _key_accepted(self, key: str) -> bool:
        """Whether ``key`` opens this server (any key does when it has none)."""
        return self.config.api_key is None or hmac.compare_digest(key.encode(), self.config.api_key.encode())

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path.rstrip("/")
        if path.startswith(WATCH_PREFIX):
            return self._watch_stream(connection, request, unquote(path[len(WATCH_PREFIX):]))
        if path == STREAM_PATH or path.startswith(SUBSCRIBE_PREFIX):
            return None
        if path in PAGE_PATHS and request.headers.get("Upgrade", "").lower() != "websocket":
            return page_response()
        if path in (ROOM_PATH, ROOM_PATH_V0, ROOM_PATH + "/validate", ROOM_PATH_V0 + "/validate"):
            return self._room_request(connection, request, path)
        return connection.respond(HTTPStatus.NOT_FOUND, f"no such endpoint; the browser page is at /, clients use {STREAM_PATH}?api_key=KEY&model=MODEL\n")

    def _room_request(self, connection: ServerConnection, request: Request, path: str) -> Response | None:
        """Refuse room connections that cannot succeed before upgrading (the client then asks /validate)."""
        if path.startswith(ROOM_PATH_V0) and not path.startswith(ROOM_PATH):
            return connection.respond(HTTPStatus.NOT_IMPLEMENTED, "this room endpoint speaks LiveKit's single peer connection signaling (/rtc/v1) only\n")
        try:
            self.rooms.admit(request.headers.get("Authorization"))
        except ProtocolError as exc:
            return connection.respond(HTTPStatus.UNAUTHORIZED, f"{exc}\n")
        if path.endswith("/validate"):
            return connection.respond(HTTPStatus.OK, "success\n")
        return None

    def _watch_stream(self, connection: ServerConnection, request: Request, room_name: str) -> Response:
        """``POST /watch-stream/<room>``: a viewer's room credentials (JSON), as the hosted service answers."""
        if request.method != "POST":
            return json_response(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"}, Allow="POST")
        if not self._key_accepted(request.headers.get("x-api-key", "")):
            log.info("refused a viewer: invalid api key")
            return json_response(HTTPStatus.UNAUTHORIZED, {"error": "invalid api key"})
        try:
            room, token = self.rooms.viewer_token(room_name)
        except LookupError:
            return json_response(HTTPStatus.NOT_FOUND, {"error": f"no session is running in room {room_name[:80]!r} (it may have ended)"})
        except TooManyViewers as exc:
            return json_response(HTTPStatus.TOO_MANY_REQUESTS, {"error": f"{exc}; try again later"})
        log.info("room %s: viewer credentials issued", room.name)
        host = _host_of(request.headers.get("Host"), connection.local_address)
        return json_response(HTTPStatus.OK, {"livekit_url": f"ws://{host}", "token": token, "room_name": room.name, "session_id": room.session_id})

    async def _handle(self, ws: ServerConnection) -> None:
        split = urlsplit(ws.request.path)
        remote = ws.remote_address[0] if ws.remote_address else ""
        if split.path.rstrip("/") == ROOM_PATH:
            join = parse_qs(split.query).get("join_request", [""])[0]
            await self.rooms.serve(ws, join, ws.request.headers.get("Authorization"), loopback=p.is_loopback_host(remote))
            return
        query = parse_qs(split.query)
        api_key = query.get("api_key", [""])[0]
        model_name = query.get("model", [""])[0]
        if not self._key_accepted(api_key):
            log.info("refused a client: invalid api key")
            await ws.send(p.serialize(p.Error(error="invalid api key")))
            await ws.close(1008, "invalid api key")
            return
        if split.path.startswith(SUBSCRIBE_PREFIX):
            await self._subscribe(ws, unquote(split.path[len(SUBSCRIBE_PREFIX):].rstrip("/")), loopback=p.is_loopback_host(remote))
            return
        model = MODELS.get(model_name)
        refusal = self._refusal(model, model_name, query)
        if refusal is not None or model is None:
            await ws.send(p.serialize(p.Error(error=refusal or "unknown model")))
            await ws.close(1008, "unknown model" if model is None else "bad query")
            return
        options = dict(
            loopback=p.is_loopback_host(remote),
            max_prompt_length=self.config.max_prompt_length,
            idle_timeout=self.config.idle_timeout,
            prompt_rate=self.config.prompt_rate,
            prompt_burst=self.config.prompt_burst,
            max_message_bytes=self.config.max_message_bytes,
        )
        legacy = not model.uses_livekit
        if legacy and not self.slots.try_take():
            # Today's clients queue for a slot; the legacy protocol has no queue.
            self.refused_full += 1
            limit = self.config.max_sessions
            log.warning("refused a client: server is full (%d sessions)", limit)
            await ws.send(p.serialize(p.Error(error=f"server is full ({limit} sessions); try again later")))
            await ws.close(1013, "server is full")
            return
        session: ServerSession
        try:
            if legacy:
                session = WebRTCSession(ws, model, self._engine_factory(), **options)
            else:
                session = LiveKitSession(ws, model, self._engine_factory(), slots=self.slots, rooms=self.rooms, room_url=_room_url(ws), **options)
        except BaseException:
            if legacy:
                self.slots.release()
            raise
        self.sessions.add(session)
        log.info("session %s: %s connected, model %s", session.id, remote, model.name)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            if isinstance(session, WebRTCSession):
                self.slots.release()
            log.info("session %s: closed", session.id)

    async def _subscribe(self, ws: ServerConnection, session_id: str, *, loopback: bool) -> None:
        """A legacy viewer of session ``session_id`` (``/subscribe/<sid>``)."""
        watched = next((session for session in self.sessions if session.id == session_id), None)
        if watched is None:
            log.info("refused a viewer: no session %r", session_id[:40])
            await ws.send(p.serialize(p.Error(error=f"no session {session_id[:40]!r} is running on this server (it may have ended)")))
            await ws.close(1008, "no such session")
            return
        await LegacyViewer(ws, watched, loopback=loopback).run()

    @staticmethod
    def _refusal(model: Model | None, name: str, query: dict[str, list[str]]) -> str | None:
        """Why the query cannot open a session (unknown model, speed or resolution), or None."""
        if model is None:
            known = ", ".join(MODELS)
            shown = repr(name[:60]) if name else "(none)"
            return f"unknown model {shown}; known models: {known}"
        speed = query.get("speed", [None])[0]
        if speed is not None and speed not in SPEEDS:
            return f"unknown speed {speed[:20]!r}; the speed tier is 'fast' (or leave it out)"
        if speed is not None and speed not in model.speeds:
            log.info("speed=%s is ignored for model %s", speed, model.name)
        resolution = query.get("resolution", [None])[0]
        if resolution is not None and resolution not in RESOLUTIONS:
            return f"unknown resolution {resolution[:20]!r}; use 720p or 1080p"
        return None

    async def stop(self) -> None:
        """Tell generating clients of today's protocol why it ends, close every session and stop listening."""
        if self._ws_server is None:
            return
        ending = [session.end_generation("server_stopped") for session in self.sessions if isinstance(session, LiveKitSession)]
        await asyncio.gather(*(task for task in ending if task is not None), return_exceptions=True)
        self._ws_server.close()
        await self._ws_server.wait_closed()
        self._ws_server = None


def _room_url(ws: ServerConnection) -> str:
    """The base URL of the room endpoint as this client reaches the server (its ``Host`` header)."""
    return f"ws://{_host_of(ws.request.headers.get('Host'), ws.local_address)}"


def _host_of(host: str | None, address: tuple[str, int]) -> str:
    """``host:port`` as the client reached this server: its ``Host`` header, else the socket's address."""
    if host:
        return host
    return f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
