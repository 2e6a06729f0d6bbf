"""The legacy protocol's viewer: ``/subscribe/<session_id>``, receive-only.

A viewer opens a WebSocket to ``/subscribe/<sid>?IP=&port=&api_key=`` (the
official SDKs build it from a subscribe token, see
:mod:`decart_cli.protocol.watch_token`), offers a peer connection with one
receive-only video section, and gets the watched session's edited video
on it, send-only. ``IP`` and ``port`` route the hosted service to the
machine that runs the session; this server runs them all, so it reads only
the session id. The viewer's socket closes when the watched session ends;
a viewer cannot change the edit (prompts are refused with an ``error``).
"""

from __future__ import annotations

import asyncio
import logging

from .. import protocol as p
from ..errors import ProtocolError
from ..rtc.peer import Peer
from .session import ServerSession, check_media_sections, cut, send_message
from .sockets import Socket
from .viewers import TooManyViewers
from .webrtc import MAX_MEDIA_SECTIONS, Candidates, send_answer

log = logging.getLogger("decart.server")

SUBSCRIBE_PREFIX = "/subscribe/"


class LegacyViewer:
    """One viewer's socket and its send-only peer connection."""

    def __init__(self, ws: Socket, watched: ServerSession, *, loopback: bool) -> None:
        self.ws = ws
        self.watched = watched
        self.loopback = loopback
        self.peer: Peer | None = None
        self.candidates = Candidates()
        self._closing: asyncio.Future[None] | None = None

    async def send(self, message: p.Message) -> None:
        await send_message(self.ws, message)

    async def run(self) -> None:
        """Serve the viewer until it leaves or the watched session ends."""
        try:
            track = self.watched.viewers.track()
        except TooManyViewers as exc:
            await self.send(p.Error(error=f"{exc}; try again later"))
            await self.ws.close(1013, "too many viewers")
            return
        if track.readyState == "ended":  # the session ended meanwhile
            await self.ws.close(1000, "the session has ended")
            return

        def session_ended() -> None:
            log.info("session %s: a viewer is let go: the session ended", self.watched.id)
            self._closing = asyncio.ensure_future(self.ws.close(1000, "the session has ended"))

        track.on("ended", session_ended)
        log.info("session %s: a viewer joined (%d watching)", self.watched.id, len(self.watched.viewers))
        try:
            async for raw in self.ws:
                try:
                    await self.handle(p.parse(raw), track)
                except ProtocolError as exc:
                    await self.send(p.Error(error=cut(str(exc))))
        finally:
            track.remove_listener("ended", session_ended)
            track.stop()
            if self.peer is not None:
                await self.peer.close()
            log.info("session %s: a viewer left after %d frames", self.watched.id, track.frames_out)

    async def handle(self, message: p.Message, track: object) -> None:
        if isinstance(message, p.Offer):
            await self._answer(message.sdp, track)
        elif isinstance(message, p.IceCandidate):
            await self.candidates.take(message.candidate, self.peer)
        elif isinstance(message, (p.Prompt, p.SetImage)):
            raise ProtocolError("a viewer watches the session and cannot change its edit; prompts go to the session's own connection")
        elif isinstance(message, p.Unknown):
            log.debug("viewer of %s: ignoring message of unknown type %r", self.watched.id, message.kind[:60])
        else:
            raise ProtocolError(f"{message.type!r} is not a message a viewer sends; a viewer sends offer and ice-candidate")

    async def _answer(self, sdp: str, track: object) -> None:
        if self.peer is not None:
            raise ProtocolError("this viewer already has a peer connection; open a new socket to renegotiate")
        check_media_sections(sdp, MAX_MEDIA_SECTIONS)
        self.peer = peer = Peer(loopback=self.loopback, ice_servers=())
        peer.add_video_transceiver(track, "sendonly", our_codecs=False)  # type: ignore[arg-type]  # the viewer's codec order
        try:
            await peer.set_remote(sdp, "offer")
        except BaseException:
            await peer.close()
            self.peer = None
            raise
        await send_answer(peer, self.send, early=self.candidates.early(), trickle=self.candidates.wanted_back(sdp), session=self.watched.id)
