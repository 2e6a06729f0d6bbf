"""The client's media connection: our track out, the edited track back.

:class:`MediaConnection` makes the offer, sends it over :class:`~decart_cli.client.signaling.Signaling`,
applies the answer and the server's trickled candidates, and returns the
remote (edited) video track.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.sdp import SessionDescription

from .. import protocol as p
from .. import rtc
from ..errors import ConnectError, SessionClosed
from ..rtc.peer import Peer
from .signaling import Signaling

log = logging.getLogger(__name__)


class MediaConnection:
    """One peer connection to the server for one video track."""

    def __init__(
        self,
        signaling: Signaling,
        *,
        loopback: bool,
        ice_servers: tuple[str, ...] | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._signaling = signaling
        self._peer = Peer(loopback=loopback, ice_servers=ice_servers)
        self._timeout = timeout
        self._remote: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        self.failed = asyncio.Event()
        """Set when the peer connection fails or closes from the other side."""
        self.connection_state = "new"
        pc = self._peer.pc
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)

    @property
    def pc(self) -> RTCPeerConnection:
        """The underlying peer connection (for stats)."""
        return self._peer.pc

    def encoded_source(self) -> Any:
        """The low-latency jitter buffer of the video receiver, whose taps see each received H.264 frame still encoded.

        None before the server's answer, when the edited video does not come
        as H.264 (the file takes H.264 only), when the tuning is off (or its
        jitter buffer was skipped), or when this aiortc keeps the buffer
        elsewhere. See :class:`~decart_cli.media.remux.EncodedTap`.
        """
        if self.received_codec() != "h264":
            return None
        receivers = [t.receiver for t in self._peer.pc.getTransceivers() if t.kind == "video"]
        return rtc.tappable_jitter_buffer(receivers[0]) if receivers else None

    def received_codec(self) -> str | None:
        """The codec the edited video comes in (``"h264"``, ``"vp8"``): the first of the answer's video codecs; None before the answer."""
        answer = self._peer.pc.remoteDescription
        if answer is None:
            return None
        for media in SessionDescription.parse(answer.sdp).media:
            if media.kind == "video" and media.rtp.codecs:
                return media.rtp.codecs[0].mimeType.split("/")[-1].lower()
        return None

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and not self._remote.done():
            self._remote.set_result(track)

    async def _on_state(self) -> None:
        self.connection_state = self._peer.pc.connectionState
        log.debug("peer connection %s", self.connection_state)
        if self.connection_state in ("failed", "closed"):
            self.failed.set()

    async def start(self, track: MediaStreamTrack | None, audio: MediaStreamTrack | None = None) -> MediaStreamTrack:
        """Send ``track`` (and ``audio``, send-only); return the server's edited track once media is connected.

        With no ``track`` the connection only receives (a viewer's).
        """
        self._peer.add_video_transceiver(track if track is not None else "video", "sendrecv" if track is not None else "recvonly")
        if audio is not None:
            self._peer.pc.addTransceiver(audio, direction="sendonly")
        offer = await self._peer.offer()
        self._signaling.expect_answer()
        await self._signaling.send(p.Offer(sdp=offer.sdp))
        answer = await self._signaling.wait_answer(self._timeout)
        await self._peer.set_remote(answer.sdp, "answer")
        try:
            remote = await asyncio.wait_for(asyncio.shield(self._remote), self._timeout)
        except asyncio.TimeoutError:
            raise ConnectError("the server's answer carried no video track", "is this a realtime video server?") from None
        if self.failed.is_set():
            raise SessionClosed("the media connection failed")
        return remote

    async def wait_connected(self, timeout: float) -> None:
        """Wait until ICE and DTLS are up; raise ConnectError if they are not in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._peer.pc.connectionState != "connected":
            if self.failed.is_set():
                raise ConnectError("the media connection failed", "check that UDP can reach the server")
            if loop.time() > deadline:
                raise ConnectError(f"the media connection did not come up within {timeout:g} s", "check that UDP can reach the server")
            await asyncio.sleep(0.02)

    async def add_candidate(self, candidate: p.Candidate | None) -> None:
        """Add a candidate the server trickled."""
        await self._peer.add_candidate(candidate)

    async def close(self) -> None:
        """Close the peer connection (idempotent)."""
        await self._peer.close()
