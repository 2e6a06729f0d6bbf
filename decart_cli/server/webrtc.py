"""The legacy protocol's media: one aiortc peer connection negotiated over the control socket.

:class:`WebRTCSession` answers the client's ``offer``, takes its trickled
``ice-candidate`` messages, edits the video it receives and sends it back
on the same peer connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiortc import MediaStreamTrack

from .. import protocol as p
from ..engine import Engine
from ..errors import ProtocolError
from ..models import TODAY, Model, names_of
from ..rtc.peer import Peer
from .editor import EditedTrack
from .session import ServerSession, check_media_sections, discard
from .sockets import Socket

log = logging.getLogger("decart.server")

MAX_CANDIDATES = 100
"""Remote ICE candidates accepted per session (browsers send a handful)."""
MAX_MEDIA_SECTIONS = 8
"""``m=`` sections accepted in an offer (each costs a transport)."""


def legacy_refusal(model: Model) -> str:
    """Why a client of today's protocol (``livekit_join``) cannot use legacy ``model``: "not allowed", so the SDKs stop retrying."""
    return (
        f"livekit_join is not allowed for model {model.name}: it speaks the legacy protocol (offer / answer on this socket); "
        f"today's protocol serves {names_of(TODAY)}"
    )


class WebRTCSession(ServerSession):
    """A legacy session: the peer connection is negotiated on the control socket."""

    def __init__(self, ws: Socket, model: Model, engine: Callable[[], Engine], **options) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ws, model, engine, **options)
        self.peer: Peer | None = None
        self.track: EditedTrack | None = None
        self.candidates = Candidates()

    async def start(self) -> None:
        await self.editor.start()  # a legacy session holds its slot from the start
        host, port = self.ws.local_address[:2]
        await self.send(p.SessionId(session_id=self.id, server_ip=host, server_port=port))
        if self.idle_timeout > 0:
            self.spawn(self._close_if_idle(self.idle_timeout))

    async def _close_if_idle(self, timeout: float) -> None:
        await asyncio.sleep(timeout)
        if self.peer is None:
            log.info("session %s: no offer within %g s; closing", self.id, timeout)
            await self.send(p.Error(error=f"no offer within {timeout:g} s; closing the session"))
            await self.ws.close(1008, "no offer")

    async def handle_media(self, message: p.Message) -> None:
        if isinstance(message, p.Offer):
            await self.on_offer(message.sdp)
        elif isinstance(message, p.IceCandidate):
            await self.candidates.take(message.candidate, self.peer)
        elif isinstance(message, p.LiveKitJoin):
            raise ProtocolError(legacy_refusal(self.model))
        else:
            raise ProtocolError(f"{message.type!r} is a server message; clients send offer, ice-candidate, prompt or set_image")

    async def on_offer(self, sdp: str) -> None:
        """Answer the client's offer, sending its video back edited."""
        if self.peer is not None:
            raise ProtocolError("this session already has a peer connection; open a new socket to renegotiate")
        check_media_sections(sdp, MAX_MEDIA_SECTIONS)
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
                if track.kind == "audio":
                    log.info("session %s: the client sends audio (not edited: only video is)", self.id)
                self.spawn(discard(track))
                return
            self.track = EditedTrack(track, self.editor, on_first_frame=self.generation_started, on_frame=self.viewers.publish)
            pc.addTrack(self.track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.debug("session %s: peer connection %s", self.id, pc.connectionState)
            if pc.connectionState == "failed" and self.peer is peer:
                await self.send(p.Error(error="the media connection failed"))
                await self.ws.close()

        # The client's video binds to this transceiver and the edited track is
        # added to it in on_track. No codec preferences of ours: the answer
        # keeps the offer's order, so a client gets the codec it lists first
        # (ours offers H.264 first; a stock aiortc client or a browser, VP8).
        peer.add_video_transceiver("video", "recvonly", our_codecs=False)
        await peer.set_remote(sdp, "offer")
        if self.track is None:
            raise ProtocolError("the offer has no video track to edit")
        await send_answer(peer, self.send, early=self.candidates.early(), trickle=self.candidates.wanted_back(sdp), session=self.id)

    async def close(self) -> None:
        """Release the peer connection, then the engine thread and tasks."""
        if self.track is not None:
            self.track.stop()
        if self.peer is not None:
            await self.peer.close()
        await super().close()


class Candidates:
    """The ICE candidates a client trickles: counted (at most :data:`MAX_CANDIDATES`), kept until its peer connection exists."""

    def __init__(self) -> None:
        self.trickled = False
        self._count = 0
        self._early: list[p.Candidate | None] = []

    async def take(self, candidate: p.Candidate | None, peer: Peer | None) -> None:
        """Add ``candidate`` to ``peer``, or keep it for later when there is none yet; ProtocolError past the limit."""
        self.trickled = True
        if candidate is not None:
            self._count += 1
            if self._count > MAX_CANDIDATES:
                raise ProtocolError(f"too many ice candidates (the limit is {MAX_CANDIDATES} per connection); ignoring this one")
        if peer is None:
            self._early.append(candidate)
        else:
            await peer.add_candidate(candidate)

    def early(self) -> list[p.Candidate | None]:
        """The candidates that came before the peer connection (each handed out once)."""
        early, self._early = self._early, []
        return early

    def wanted_back(self, offer_sdp: str) -> bool:
        """Whether the client wants our candidates one by one: it trickled its own, or its offer carries none (browsers)."""
        return self.trickled or "a=candidate:" not in offer_sdp


async def send_answer(peer: Peer, send: Callable[[p.Message], Awaitable[None]], *, early: list[p.Candidate | None], trickle: bool, session: str) -> None:
    """With the client's offer applied: add the candidates that came before it, send the answer, our candidates (if ``trickle``), then ``ready``.

    The answer carries every candidate (aiortc gathers before answering).
    Clients that trickle their own (browsers: no candidate in the offer)
    also get ours one by one; non-trickle clients such as the official
    Python SDK choke on ice-candidate messages, so they get none.
    """
    for candidate in early:
        try:
            await peer.add_candidate(candidate)
        except ProtocolError as exc:  # a bad early candidate must not sink the offer
            log.debug("session %s: early candidate skipped: %s", session, exc)
    answer = await peer.answer()
    await send(p.Answer(sdp=answer.sdp))
    if trickle:
        for candidate in peer.local_candidates():
            await send(p.IceCandidate(candidate=candidate))
    await send(p.Ready())
