"""The local realtime server: both generations of the hosted protocol, and the service's REST calls, on one port.

:class:`Server` is an aiohttp application (HTTP and WebSocket on one port:
request bodies, preflights, status codes). Its endpoints::

    GET  /v1/stream?api_key=&model=      WebSocket: one session (below)
    GET  /subscribe/<session_id>         WebSocket: a legacy viewer (.subscribe)
    GET  /rtc/v1                         WebSocket: LiveKit's signaling, today's media (.room)
    GET  /rtc/v1/validate                why a room connection was refused, as LiveKit answers
    GET  /rtc, /rtc/validate             LiveKit's older signaling: refused, saying why
    POST /watch-stream/<room>            a viewer's room credentials (today's)
    POST /v1/client/tokens               a short-lived client token (.keys)
    POST /v1/files, GET|DELETE /v1/files/<id>   uploaded files (.files)
    GET  /v1/realtime/quota              the key's concurrent sessions
    GET  /                               the browser page (or --web-root's index.html)
    GET  /<file>                         --web-root's files

A ``/v1/stream`` socket runs one session chosen by the model's generation:
a :class:`~.webrtc.WebRTCSession` (legacy: the client's offer is answered on
the socket and the edited video comes back on the same peer connection) or
a :class:`~.livekit_session.LiveKitSession` (today's: the socket is a
control channel and media goes through a room at ``/rtc/v1``). Any client
of either protocol works (ours, the official SDKs, a browser page). Sessions
share :class:`~.slots.Slots` (``max_sessions``): today's clients queue for
one, legacy clients are refused when none is free; each account may hold
``sessions_per_key`` (:mod:`.keys`).

Pages of loopback origins, the server's own page and the origins allowed
by name may call every endpoint; other pages are refused (:mod:`.cors`).
With a certificate and key it speaks TLS: ``wss://``, ``https://``, and a
``wss://`` room URL in the room info. No request's query (where keys and
room tokens travel) is ever logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from .. import __version__
from .. import protocol as p
from ..config import ServeConfig
from ..engine import Engine, load_engine
from ..errors import ProtocolError, Refused
from ..models import LEGACY, MODELS, RESOLUTIONS, TODAY, Model, names_of
from .connections import ConnectionGuard
from .cors import Origins, cors
from .editor import PromptChecker
from .files import MAX_FILE_BYTES, Files, parse_ttl
from .http_log import HttpErrorLog
from .keys import Access, Keys
from .livekit_session import LiveKitSession
from .room import RoomHub
from .session import ServerSession
from .slots import Slots
from .sockets import CLOSE_TIMEOUT, Socket, local_address
from .subscribe import SUBSCRIBE_PREFIX, LegacyViewer
from .viewers import TooManyViewers
from .webrtc import WebRTCSession

log = logging.getLogger("decart.server")
http_log = logging.getLogger("decart.server.http")

STREAM_PATH = "/v1/stream"
ROOM_PATH = "/rtc/v1"
"""LiveKit's signaling path (single peer connection), where today's clients join their room."""
ROOM_PATH_V0 = "/rtc"
"""LiveKit's older signaling path (two peer connections); not served, refused saying so."""
WATCH_PREFIX = "/watch-stream/"
"""``POST /watch-stream/<room>`` (header ``x-api-key``): credentials for a viewer of today's protocol to join that room."""
SERVER_HEADER = f"decart-serve/{__version__}"
"""The ``Server`` header of every response: how a client knows it talks to decart serve (see decart_cli.client.generation)."""
SPEEDS = ("fast",)
MAX_LINE = 16 * 1024
"""Longest request line accepted (a browser's LiveKit join request, offer included, is ~4 KB)."""
V0_REFUSAL = (
    "not allowed: decart serve speaks LiveKit's single peer connection signaling (/rtc/v1) only, "
    "not the two peer connection signaling (/rtc); leave the room option singlePeerConnection at its default (true)"
)
"""Why ``/rtc`` is refused. The words "not allowed" make the SDKs stop instead of retrying."""


def _text(status: int, text: str, **headers: str) -> web.Response:
    """A plain-text answer, not cached."""
    return web.Response(status=status, text=text if text.endswith("\n") else text + "\n", headers={"Cache-Control": "no-store", **headers})


def json_response(status: int, body: object, **headers: str) -> web.Response:
    """A JSON answer, not cached."""
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store", **headers})


def _detail(exc: Refused) -> web.Response:
    """A refused REST call, as the service answers one: ``{"detail": ...}`` with the status."""
    return json_response(exc.status, {"detail": str(exc)})


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[hdrs.SERVER] = SERVER_HEADER


def _room_token(request: web.Request) -> str | None:
    """The room token: ``Authorization: Bearer`` (native clients) or the ``access_token`` query (browsers cannot set headers)."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("access_token") or None


class Server:
    """The local realtime server. ``await start()``, then ``await stop()``."""

    def __init__(self, config: ServeConfig, engine_factory: Callable[[], Engine] | None = None) -> None:
        self.config = config
        self._engine_factory = engine_factory or (lambda: load_engine(config.engine))
        self._runner: web.AppRunner | None = None
        self.sessions: set[ServerSession] = set()
        self.slots = Slots(config.max_sessions, config.max_queue)
        self._checker: PromptChecker | None = None
        """Checks the prompts of sessions that wait for a slot (they have no engine yet)."""
        self.rooms = RoomHub()
        self.keys = Keys(config.api_key, sessions_per_key=config.sessions_per_key)
        self.files = Files()
        self.connections = ConnectionGuard(config.max_connections_per_address, config.idle_connection_seconds)
        """Open connections by client address, the cap on them, and their deadline for a first request."""
        self.sockets: set[Socket] = set()
        """Every open WebSocket (closed by :meth:`stop`)."""
        self.refused_full = 0
        """Legacy clients turned away because the server was full."""

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return self.addresses[0][1]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every (host, port) the server listens on."""
        assert self._runner is not None, "server not started"
        return [(str(address[0]), int(address[1])) for address in self._runner.addresses]

    @property
    def secure(self) -> bool:
        """Whether the server speaks TLS (``wss://``, ``https://``)."""
        return self.config.tls_cert is not None

    @property
    def scheme(self) -> str:
        """``wss`` with TLS, else ``ws``."""
        return "wss" if self.secure else "ws"

    @property
    def url(self) -> str:
        """The base URL clients on this machine should use (``ws://host:port``; a wildcard address is reached at loopback)."""
        host = self.config.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        return f"{self.scheme}://{_bracketed(host)}:{self.port}"

    @property
    def bound_urls(self) -> list[str]:
        """A URL for each address really bound (``ws://0.0.0.0:8765`` for every IPv4 interface)."""
        return [f"{self.scheme}://{_bracketed(host)}:{port}" for host, port in self.addresses]

    def application(self) -> web.Application:
        """The aiohttp application: every endpoint of the module docstring."""
        origins = cors(Origins(self.config.allowed_origins), secure=self.secure)
        app = web.Application(middlewares=[self._request_started, origins, self._log_requests], client_max_size=self.config.max_message_bytes)
        app.on_response_prepare.append(_server_header)
        add = app.router.add_route
        add("GET", STREAM_PATH, self._stream)
        add("GET", SUBSCRIBE_PREFIX + "{session_id}", self._subscribe)
        add("GET", ROOM_PATH, self._room)
        add("GET", ROOM_PATH + "/validate", self._validate)
        add("GET", ROOM_PATH_V0, self._room_v0)
        add("GET", ROOM_PATH_V0 + "/validate", self._validate)
        add("POST", WATCH_PREFIX + "{room}", self._watch_stream)
        add("POST", "/v1/client/tokens", self._client_token)
        add("POST", "/v1/files", self._upload)
        add("GET", "/v1/files/{file_id}", self._file)
        add("DELETE", "/v1/files/{file_id}", self._file)
        add("GET", "/v1/realtime/quota", self._quota)
        add("GET", "/", self._page)
        add("GET", "/index.html", self._page)
        add("GET", "/{name:.+}", self._web_file)
        return app

    async def start(self) -> None:
        """Bind and start accepting sessions; raises OSError if the port is taken."""
        self._checker = PromptChecker(self._engine_factory())  # and fail now, not at the first client, if the engine cannot load
        # Before accepting anyone: the built-in engine compiles its parser (~0.4 s), which
        # done on a first prompt instead delayed that session's first frame by a second.
        await asyncio.to_thread(self._checker.warm)
        runner = web.AppRunner(
            self.application(), access_log=None, handle_signals=False, max_line_size=MAX_LINE, shutdown_timeout=CLOSE_TIMEOUT,
            keepalive_timeout=self.config.idle_connection_seconds, logger=HttpErrorLog(),
        )
        await runner.setup()
        assert runner.server is not None
        self.connections.install(runner.server)
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self._tls())
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    def _tls(self) -> ssl.SSLContext | None:
        """The TLS context of :attr:`config` (its certificate and key loaded), or None without one."""
        if self.config.tls_cert is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    async def stop(self) -> None:
        """Tell generating clients of today's protocol why it ends, close every socket and stop listening."""
        if self._runner is None:
            return
        ending = [session.end_generation("server_stopped") for session in self.sessions if isinstance(session, LiveKitSession)]
        await asyncio.gather(*(task for task in ending if task is not None), return_exceptions=True)
        await asyncio.gather(*(socket.close(1001, "server stopping") for socket in list(self.sockets)), return_exceptions=True)
        runner, self._runner = self._runner, None
        await runner.cleanup()

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _request_started(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Tell the connection guard its connection sent a request in time."""
        self.connections.request_started(request.protocol)
        return await handler(request)

    @web.middleware
    async def _log_requests(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """One debug line per request, its path without the query; refusals as clients see them."""
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = _text(404, f"no such endpoint; the browser page is at /, clients use {STREAM_PATH}?api_key=KEY&model=MODEL")
        except web.HTTPMethodNotAllowed as exc:
            response = _text(405, f"{request.method} is not served here; use {', '.join(sorted(exc.allowed_methods))}", Allow=", ".join(sorted(exc.allowed_methods)))
        http_log.debug("%s %s %s %s", request.remote or "-", request.method, request.path, response.status)
        return response

    async def _accept(self, request: web.Request) -> Socket | web.Response:
        """Upgrade ``request`` to a WebSocket (registered until it closes), or a 426 answer if it asks for none."""
        ws = web.WebSocketResponse(max_msg_size=self.config.max_message_bytes, compress=False, timeout=CLOSE_TIMEOUT)
        if not ws.can_prepare(request).ok:
            return _text(426, f"{request.path} takes WebSocket connections", Upgrade="websocket")
        await ws.prepare(request)
        socket = Socket(ws, request)
        self.sockets.add(socket)
        return socket

    async def _run_socket(self, socket: Socket, serve: Awaitable[None]) -> web.StreamResponse:
        try:
            await serve
        finally:
            await socket.close()
            self.sockets.discard(socket)
        return socket._ws  # noqa: SLF001 - aiohttp wants the response back

    async def _refuse(self, socket: Socket, exc: Refused, who: str = "a client") -> None:
        """Tell a WebSocket client why it is refused (an ``error``, then a close with the refusal's code)."""
        log.info("refused %s: %s", who, exc)
        await socket.send_quietly(p.serialize(p.Error(error=str(exc))))
        await socket.close(exc.close_code, str(exc)[:120])

    # ------------------------------------------------------------ /v1/stream

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        socket = await self._accept(request)
        if isinstance(socket, web.Response):
            return socket
        return await self._run_socket(socket, self._serve_stream(socket))

    async def _serve_stream(self, socket: Socket) -> None:
        query = socket.query
        model_name = query.get("model", "")
        try:
            access = self.keys.admit_stream(query.get("api_key"), model=model_name, origin=socket.headers.get(hdrs.ORIGIN))
        except Refused as exc:
            await self._refuse(socket, exc)
            return
        model = MODELS.get(model_name)
        refusal = self._refusal(model, model_name, query)
        if refusal is not None or model is None:
            log.info("refused a client: %s", refusal or "unknown model")
            await socket.send_quietly(p.serialize(p.Error(error=refusal or "unknown model")))
            await socket.close(1008, "unknown model" if model is None else "bad query")
            return
        model = model.at(query.get("resolution"))
        try:
            self.keys.open_session(access)
        except Refused as exc:
            log.info("refused a client of %s: %s (%d sessions)", access.account, exc, self.keys.active(access))
            await socket.close(exc.close_code, str(exc))
            return
        try:
            await self._run_session(socket, model, access)
        finally:
            self.keys.close_session(access)

    async def _run_session(self, socket: Socket, model: Model, access: Access) -> None:
        options: dict[str, Any] = dict(
            loopback=p.is_loopback_host(socket.remote),
            max_prompt_length=self.config.max_prompt_length,
            idle_timeout=self.config.idle_timeout,
            prompt_rate=self.config.prompt_rate,
            prompt_burst=self.config.prompt_burst,
            max_message_bytes=self.config.max_message_bytes,
            find_file=lambda file_id: self.files.get(access.account, file_id).data,
        )
        legacy = not model.uses_livekit
        if legacy and not self.slots.try_take():
            # Today's clients queue for a slot; the legacy protocol has no queue.
            self.refused_full += 1
            limit = self.config.max_sessions
            log.warning("refused a client: server is full (%d sessions)", limit)
            await socket.send_quietly(p.serialize(p.Error(error=f"server is full ({limit} sessions); try again later")))
            await socket.close(1013, "server is full")
            return
        session: ServerSession
        try:
            if legacy:
                session = WebRTCSession(socket, model, self._engine_factory, **options)
            else:
                room_url = f"{self.scheme}://{_host_of(socket.request)}"
                session = LiveKitSession(socket, model, self._engine_factory, checker=self._checker, slots=self.slots, rooms=self.rooms, room_url=room_url, **options)
        except BaseException:
            if legacy:
                self.slots.release()
            raise
        self.sessions.add(session)
        log.info("session %s: %s connected, model %s%s", session.id, socket.remote, model.name, f" at {model.resolution}" if model.resolution else "")
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            if isinstance(session, WebRTCSession):
                self.slots.release()
            log.info("session %s: closed", session.id)

    @staticmethod
    def _refusal(model: Model | None, name: str, query: Any) -> str | None:
        """Why the query cannot open a session (unknown model, speed or resolution), or None.

        An unknown model is "not allowed": the SDKs give up at once instead
        of retrying a name that will not start to exist.
        """
        if model is None:
            shown = repr(name[:60]) if name else "(none)"
            return f"unknown model {shown} (not allowed here); today's models: {names_of(TODAY)}; legacy models: {names_of(LEGACY)}"
        speed = query.get("speed")
        if speed is not None and speed not in SPEEDS:
            return f"unknown speed {speed[:20]!r}; the speed tier is 'fast' (or leave it out)"
        if speed is not None and speed not in model.speeds:
            log.info("speed=%s is ignored for model %s", speed, model.name)
        resolution = query.get("resolution")
        if resolution is not None and resolution not in RESOLUTIONS:
            return f"unknown resolution {resolution[:20]!r}; use 720p or 1080p"
        if resolution is not None and not model.offers(resolution):
            if not model.resolutions:
                return f"model {model.name} takes no resolution: the legacy protocol has none ({model.width}x{model.height} only)"
            return f"model {model.name} does not offer resolution {resolution}: it offers {' and '.join(model.resolutions)} only"
        return None

    # ------------------------------------------------------------ viewers

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        """A legacy viewer of one session (``/subscribe/<sid>``)."""
        socket = await self._accept(request)
        if isinstance(socket, web.Response):
            return socket
        return await self._run_socket(socket, self._serve_viewer(socket, request.match_info["session_id"]))

    async def _serve_viewer(self, socket: Socket, session_id: str) -> None:
        try:
            self.keys.admit(socket.query.get("api_key"))
        except Refused as exc:
            await self._refuse(socket, exc, "a viewer")
            return
        watched = next((session for session in self.sessions if session.id == session_id), None)
        if watched is None:
            log.info("refused a viewer: no session %r", session_id[:40])
            await socket.send_quietly(p.serialize(p.Error(error=f"no session {session_id[:40]!r} is running on this server (it may have ended)")))
            await socket.close(1008, "no such session")
            return
        await LegacyViewer(socket, watched, loopback=p.is_loopback_host(socket.remote)).run()

    async def _watch_stream(self, request: web.Request) -> web.Response:
        """``POST /watch-stream/<room>``: a viewer's room credentials (JSON), as the hosted service answers."""
        room_name = request.match_info["room"]
        try:
            self.keys.admit(request.headers.get("x-api-key"))
        except Refused as exc:
            log.info("refused a viewer: %s", exc)
            return json_response(HTTPStatus.UNAUTHORIZED, {"error": str(exc)})
        try:
            room, token = self.rooms.viewer_token(room_name)
        except LookupError:
            return json_response(HTTPStatus.NOT_FOUND, {"error": f"no session is running in room {room_name[:80]!r} (it may have ended)"})
        except TooManyViewers as exc:
            return json_response(HTTPStatus.TOO_MANY_REQUESTS, {"error": f"{exc}; try again later"})
        log.info("room %s: viewer credentials issued", room.name)
        return json_response(HTTPStatus.OK, {"livekit_url": f"{self.scheme}://{_host_of(request)}", "token": token, "room_name": room.name, "session_id": room.session_id})

    # ------------------------------------------------------------ the room

    async def _room(self, request: web.Request) -> web.StreamResponse:
        """LiveKit's signaling socket: refused before the upgrade (the client then asks /validate why), else served."""
        try:
            room, grant = self.rooms.admit(_room_token(request))
        except Refused as exc:
            log.info("room: refused a connection: %s", exc)
            return _text(exc.status, str(exc))
        socket = await self._accept(request)
        if isinstance(socket, web.Response):
            return _text(404, "the room endpoint takes WebSocket connections")
        join = request.query.get("join_request", "")
        return await self._run_socket(socket, self.rooms.serve(socket, join, room, grant, loopback=p.is_loopback_host(socket.remote)))

    async def _room_v0(self, request: web.Request) -> web.Response:
        log.info("room: refused a connection: it asked for LiveKit's two peer connection signaling (/rtc)")
        return _text(501, V0_REFUSAL)

    async def _validate(self, request: web.Request) -> web.Response:
        """Why a room connection fails, as LiveKit answers: 200 ``success``, 401 (token), 404 (room gone); 403 for ``/rtc``."""
        try:
            self.rooms.admit(_room_token(request))
        except Refused as exc:
            log.info("room: validate: %s", exc)
            return _text(exc.status, str(exc))
        if request.path.rstrip("/") == ROOM_PATH_V0 + "/validate":
            return _text(403, V0_REFUSAL)
        return _text(200, "success")

    # ------------------------------------------------------------ REST

    def _rest_access(self, request: web.Request) -> Access:
        """The account of a REST call's ``x-api-key``; raises Refused."""
        try:
            return self.keys.admit(request.headers.get("x-api-key"))
        except Refused as exc:
            log.info("refused a %s %s: %s", request.method, request.path, exc)
            raise

    async def _client_token(self, request: web.Request) -> web.Response:
        """``POST /v1/client/tokens``: a short-lived key for a web page."""
        try:
            access = self._rest_access(request)
            try:
                body = await request.json() if request.can_read_body else None
            except (ValueError, UnicodeDecodeError):
                raise Refused("the body is not JSON", status=400) from None
            token = self.keys.issue(access, body)
        except Refused as exc:
            return _detail(exc)
        log.info("client token issued to %s, valid %d s%s", access.account, round(token.expires_at - self.keys.clock()),
                 f", models {', '.join(token.models)}" if token.models else "")
        return json_response(HTTPStatus.OK, token.answer())

    async def _upload(self, request: web.Request) -> web.Response:
        """``POST /v1/files``: multipart ``file`` (and ``ttl_seconds``)."""
        try:
            access = self._rest_access(request)
            filename, mime, data, ttl = await _read_upload(request)
            stored = self.files.add(access.account, filename, mime, data, ttl)
        except Refused as exc:
            return _detail(exc)
        log.info("file %s uploaded: %d bytes, %s", stored.id, len(stored.data), stored.mime_type)
        return json_response(HTTPStatus.OK, stored.answer())

    async def _file(self, request: web.Request) -> web.Response:
        """``GET`` (what it is) or ``DELETE`` one uploaded file."""
        file_id = request.match_info["file_id"]
        try:
            access = self._rest_access(request)
            if request.method == hdrs.METH_DELETE:
                self.files.delete(access.account, file_id)
                log.info("file %s deleted", file_id[:40])
                return web.Response(status=204, headers={"Cache-Control": "no-store"})
            return json_response(HTTPStatus.OK, self.files.get(access.account, file_id).answer())
        except Refused as exc:
            return _detail(exc)

    async def _quota(self, request: web.Request) -> web.Response:
        """``GET /v1/realtime/quota``: how many sessions the key may hold, holds, and has left."""
        try:
            access = self._rest_access(request)
        except Refused as exc:
            return _detail(exc)
        limit = self.keys.sessions_per_key or self.config.max_sessions or None
        active = self.keys.active(access)
        return json_response(HTTPStatus.OK, {"limit": limit, "active": active, "remaining": None if limit is None else max(0, limit - active)})

    # ------------------------------------------------------------ pages

    async def _page(self, request: web.Request) -> web.StreamResponse:
        """The browser page (``--web-root``'s ``index.html`` when it has one): the camera, a prompt box and the edit."""
        root = self.config.web_root
        if root is not None and (Path(root) / "index.html").is_file():
            return web.FileResponse(Path(root) / "index.html", headers={"Cache-Control": "no-store"})
        body = resources.files("decart_cli.assets").joinpath("page.html").read_bytes()
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"})

    async def _web_file(self, request: web.Request) -> web.StreamResponse:
        """A file of ``--web-root`` (your web app, served from this origin); 404 outside it, 405 on an endpoint's path."""
        for resource in request.app.router.resources():
            if resource is not request.match_info.route.resource:
                match, allowed = await resource.resolve(request)
                if match is None and allowed:
                    raise web.HTTPMethodNotAllowed(request.method, allowed)
        root = self.config.web_root
        if root is None:
            raise web.HTTPNotFound()
        base = Path(root).resolve()
        path = (base / request.match_info["name"]).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})


async def _read_upload(request: web.Request) -> tuple[str, str, bytes, float | None]:
    """The multipart form of an upload: the ``file`` part (name, type, bytes) and ``ttl_seconds``; raises Refused (400/413)."""
    if not request.content_type.startswith("multipart/"):
        raise Refused("send the file as multipart/form-data with a part named file", status=400)
    try:
        reader = await request.multipart()
        found: tuple[str, str, bytes] | None = None
        ttl_text: str | None = None
        while (part := await reader.next()) is not None:
            if not hasattr(part, "read_chunk"):
                raise Refused("nested multipart bodies are not taken", status=400)
            if part.name == "file":
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > MAX_FILE_BYTES:
                        raise Refused(f"the file is over {MAX_FILE_BYTES} bytes, the most accepted", status=413)
                found = (part.filename or "file", part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream"), bytes(data))
            elif part.name == "ttl_seconds":
                ttl_text = (await part.read(decode=False))[:40].decode(errors="replace").strip()
            else:
                await part.release()
    except ValueError:
        raise Refused("the multipart body cannot be read", status=400) from None
    if found is None:
        raise Refused("no part named file in the form", status=400)
    return (*found, parse_ttl(ttl_text))


def _bracketed(host: str) -> str:
    """``host`` as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def _host_of(request: web.Request) -> str:
    """``host:port`` as the client reached this server: its ``Host`` header, else the socket's address."""
    host = request.headers.get(hdrs.HOST)
    if host:
        return host
    address, port = local_address(request)
    return f"{_bracketed(address)}:{port}"
