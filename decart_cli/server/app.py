"""The local realtime server: the hosted protocol over WebSocket + aiortc.

:class:`Server` listens for ``/v1/stream?api_key=&model=`` and runs one
:class:`ServerSession` per WebSocket: it answers the client's offer, edits
the received video with an engine and sends it back on the same peer
connection, and acknowledges prompts. Any client of the protocol works
(ours, the official SDKs, a browser page).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

from aiortc import MediaStreamTrack
from websockets.asyncio.server import Server as WSServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .. import protocol as p
from ..config import ServeConfig
from ..engine import Engine, load_engine
from ..errors import ProtocolError, UnsupportedPrompt
from ..models import MODELS, Model
from ..peer import Peer
from .editor import EditedTrack, Editor

log = logging.getLogger("decart.server")

STREAM_PATH = "/v1/stream"

MAX_CANDIDATES = 100
"""Remote ICE candidates accepted per session (browsers send a handful)."""
MAX_MEDIA_SECTIONS = 8
"""``m=`` sections accepted in an offer (each costs a transport)."""
MAX_ERROR_TEXT = 300
"""Longest ``error`` text sent back (client-supplied names are cut)."""


class TokenBucket:
    """A rate limit: ``rate`` tokens a second, at most ``burst`` saved; ``rate <= 0`` never limits."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        if self.rate <= 0:
            return True
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


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


class _RedactKeys(logging.Filter):
    """Hides keys in websockets' request-line logs (debug level) before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_query(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT_KEYS = _RedactKeys()


def _cut(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ServerSession:
    """One client's session: its socket, peer connection and engine."""

    def __init__(
        self,
        ws: ServerConnection,
        model: Model,
        engine: Engine,
        *,
        loopback: bool,
        max_prompt_length: int = 1000,
        idle_timeout: float = 0.0,
        prompt_rate: float = 0.0,
        prompt_burst: int = 20,
    ) -> None:
        self.ws = ws
        self.model = model
        self.id = uuid.uuid4().hex[:12]
        self.editor = Editor(engine)
        self.loopback = loopback
        self.max_prompt_length = max_prompt_length
        self.idle_timeout = idle_timeout
        self.prompts = TokenBucket(prompt_rate, prompt_burst)
        self.peer: Peer | None = None
        self.track: EditedTrack | None = None
        self._early_candidates: list[p.Candidate | None] = []
        self._trickled = False
        self._candidates = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: p.Message) -> None:
        """Send a message; a closed socket is not an error here."""
        try:
            await self.ws.send(p.serialize(message))
        except ConnectionClosed:
            pass

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Serve messages until the client goes away (or stays idle too long)."""
        try:
            host, port = self.ws.local_address[:2]
            await self.send(p.SessionId(session_id=self.id, server_ip=host, server_port=port))
            if self.idle_timeout > 0:
                self._spawn(self._close_if_idle(self.idle_timeout))
            async for raw in self.ws:
                try:
                    message = p.parse(raw)
                except ProtocolError as exc:
                    await self.send(p.Error(error=_cut(f"invalid message: {exc}")))
                    continue
                except Exception as exc:  # pragma: no cover - parse raises only ProtocolError (fuzzed)
                    log.debug("session %s: parse failed", self.id, exc_info=True)
                    await self.send(p.Error(error=f"invalid message ({exc.__class__.__name__})"))
                    continue
                try:
                    await self.handle(message)
                except ProtocolError as exc:
                    await self.send(p.Error(error=_cut(str(exc))))
                except Exception as exc:  # one bad message must not end the session or the server
                    log.warning("session %s: %s failed: %s", self.id, message.type or "message", exc.__class__.__name__)
                    log.debug("session %s: failure detail", self.id, exc_info=True)
                    await self.send(p.Error(error=f"the server could not handle this {message.type or 'message'} ({exc.__class__.__name__})"))
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                log.info("session %s: closed: a message was larger than %s bytes", self.id, self.ws.max_size)
        finally:
            await self.close()

    async def _close_if_idle(self, timeout: float) -> None:
        await asyncio.sleep(timeout)
        if self.peer is None:
            log.info("session %s: no offer within %g s; closing", self.id, timeout)
            await self.send(p.Error(error=f"no offer within {timeout:g} s; closing the session"))
            await self.ws.close(1008, "no offer")

    async def handle(self, message: p.Message) -> None:
        """Act on one client message."""
        if isinstance(message, p.Prompt):
            await self.on_prompt(message.prompt)
        elif isinstance(message, p.Offer):
            await self.on_offer(message.sdp)
        elif isinstance(message, p.IceCandidate):
            self._trickled = True
            if message.candidate is not None:
                self._candidates += 1
                if self._candidates > MAX_CANDIDATES:
                    raise ProtocolError(f"too many ice candidates (the limit is {MAX_CANDIDATES} per session); ignoring this one")
            if self.peer is None:
                self._early_candidates.append(message.candidate)
            else:
                await self.peer.add_candidate(message.candidate)
        elif isinstance(message, p.SetImage):
            await self.on_set_image(message)
        elif isinstance(message, p.Unknown):
            log.debug("session %s: ignoring message of unknown type %r", self.id, message.kind[:60])
        else:
            raise ProtocolError(f"{message.type!r} is a server message; clients send offer, ice-candidate, prompt or set_image")

    async def on_prompt(self, text: str) -> None:
        """Apply a prompt and acknowledge it by its exact text."""
        if not self.prompts.take():
            await self.send(p.PromptAck(prompt=text, success=False, error=self._too_many()))
            return
        if len(text) > self.max_prompt_length:
            await self.send(p.PromptAck(prompt=text, success=False, error=f"prompt is {len(text)} characters; the limit is {self.max_prompt_length}"))
            return
        try:
            await self.editor.set_prompt(text)
        except UnsupportedPrompt as exc:
            log.info("session %s: refused prompt %r", self.id, text[:80])
            await self.send(p.PromptAck(prompt=text, success=False, error=str(exc)))
            return
        log.info("session %s: prompt %r", self.id, text[:80])
        await self.send(p.PromptAck(prompt=text, success=True, error=None))

    async def on_set_image(self, message: p.SetImage) -> None:
        """Reference images: the local engine takes none, so only a clear (null) succeeds."""
        if not self.prompts.take():
            await self.send(p.SetImageAck(success=False, error=self._too_many()))
            return
        if message.image_data is not None:
            await self.send(p.SetImageAck(success=False, error="the local engine does not use reference images"))
            return
        if message.prompt is not None:
            try:
                await self.editor.set_prompt(message.prompt)
            except UnsupportedPrompt as exc:
                await self.send(p.SetImageAck(success=False, error=str(exc)))
                return
        await self.send(p.SetImageAck(success=True, error=None))

    def _too_many(self) -> str:
        bucket = self.prompts
        return f"too many prompts: the limit is {bucket.rate:g} a second (bursts of {bucket.burst}); send it again later"

    async def on_offer(self, sdp: str) -> None:
        """Answer the client's offer, sending its video back edited."""
        if self.peer is not None:
            raise ProtocolError("this session already has a peer connection; open a new socket to renegotiate")
        sections = sum(1 for line in sdp.splitlines() if line.startswith("m="))
        if sections > MAX_MEDIA_SECTIONS:
            raise ProtocolError(f"the offer has {sections} media sections; at most {MAX_MEDIA_SECTIONS} are accepted")
        self.peer = peer = Peer(loopback=self.loopback, ice_servers=())
        try:
            await self._negotiate(peer, sdp)
        except BaseException:
            # A failed offer leaves nothing behind: the client may offer again.
            if self.track is not None:
                self.track.stop()
                self.track = None
            await peer.close()
            if self.peer is peer:
                self.peer = None
            raise

    async def _negotiate(self, peer: Peer, sdp: str) -> None:
        pc = peer.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind != "video" or self.track is not None:
                return
            self.track = EditedTrack(track, self.editor, on_first_frame=self._generation_started)
            pc.addTrack(self.track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.debug("session %s: peer connection %s", self.id, pc.connectionState)
            if pc.connectionState == "failed" and self.peer is peer:
                await self.send(p.Error(error="the media connection failed"))
                await self.ws.close()

        # A video transceiver made before the offer is applied carries our
        # codec preferences into the answer (the client's video binds to it,
        # and the edited track is added to it in on_track).
        peer.add_video_transceiver("video", "recvonly")
        await peer.set_remote(sdp, "offer")
        if self.track is None:
            raise ProtocolError("the offer has no video track to edit")
        early, self._early_candidates = self._early_candidates, []
        for candidate in early:
            try:
                await peer.add_candidate(candidate)
            except ProtocolError as exc:  # a bad early candidate must not sink the offer
                log.debug("session %s: early candidate skipped: %s", self.id, exc)
        answer = await peer.answer()
        await self.send(p.Answer(sdp=answer.sdp))
        # The answer carries every candidate (aiortc gathers before answering).
        # Clients that trickle their own (browsers: no candidate in the offer)
        # also get ours one by one; non-trickle clients such as the official
        # Python SDK choke on ice-candidate messages, so they get none.
        if self._client_trickles(sdp):
            for candidate in peer.local_candidates():
                await self.send(p.IceCandidate(candidate=candidate))
        await self.send(p.Ready())

    def _client_trickles(self, offer_sdp: str) -> bool:
        return self._trickled or "a=candidate:" not in offer_sdp

    def _generation_started(self) -> None:
        log.info("session %s: generation started", self.id)
        self._spawn(self.send(p.GenerationStarted()))

    async def close(self) -> None:
        """Release the peer connection, engine thread and tasks."""
        if self.track is not None:
            self.track.stop()
        if self.peer is not None:
            await self.peer.close()
        self.editor.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Server:
    """The local realtime server. ``await start()``, then ``await stop()``."""

    def __init__(self, config: ServeConfig, engine_factory: Callable[[], Engine] | None = None) -> None:
        self.config = config
        self._engine_factory = engine_factory or (lambda: load_engine(config.engine))
        self._ws_server: WSServer | None = None
        self.sessions: set[ServerSession] = set()
        self.refused_full = 0
        """Clients turned away because the server was full."""

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
            server_header=None,
        )

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path.rstrip("/")
        if path != STREAM_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no such endpoint; use {STREAM_PATH}?api_key=KEY&model=MODEL\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        api_key = query.get("api_key", [""])[0]
        model_name = query.get("model", [""])[0]
        if self.config.api_key is not None and not hmac.compare_digest(api_key.encode(), self.config.api_key.encode()):
            log.info("refused a client: invalid api key")
            await ws.send(p.serialize(p.Error(error="invalid api key")))
            await ws.close(1008, "invalid api key")
            return
        model = MODELS.get(model_name)
        if model is None:
            known = ", ".join(MODELS)
            shown = repr(model_name[:60]) if model_name else "(none)"
            await ws.send(p.serialize(p.Error(error=f"unknown model {shown}; known models: {known}")))
            await ws.close(1008, "unknown model")
            return
        limit = self.config.max_sessions
        if limit > 0 and len(self.sessions) >= limit:
            # No await between this check and sessions.add below: no race.
            self.refused_full += 1
            log.warning("refused a client: server is full (%d sessions)", limit)
            await ws.send(p.serialize(p.Error(error=f"server is full ({limit} sessions); try again later")))
            await ws.close(1013, "server is full")
            return
        remote = ws.remote_address[0] if ws.remote_address else ""
        session = ServerSession(
            ws,
            model,
            self._engine_factory(),
            loopback=p.is_loopback_host(remote),
            max_prompt_length=self.config.max_prompt_length,
            idle_timeout=self.config.idle_timeout,
            prompt_rate=self.config.prompt_rate,
            prompt_burst=self.config.prompt_burst,
        )
        self.sessions.add(session)
        log.info("session %s: %s connected, model %s", session.id, remote, model.name)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            log.info("session %s: closed", session.id)

    async def stop(self) -> None:
        """Close every session and stop listening."""
        if self._ws_server is None:
            return
        self._ws_server.close()
        await self._ws_server.wait_closed()
        self._ws_server = None
