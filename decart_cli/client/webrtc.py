"""The legacy link: WebSocket signaling and one aiortc peer connection both ways."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import MediaStreamTrack

from .. import protocol as p
from ..errors import SessionClosed
from .media_connection import MediaConnection
from .link import Link, LinkOwner
from ..protocol.watch_token import SessionToken


class WebRTCLink(Link):
    """Legacy protocol: the initial prompt, then offer / answer / candidates on the socket; media on one peer connection."""

    transport = "webrtc"

    def __init__(self, url: str, owner: LinkOwner, *, connect_timeout: float, ack_timeout: float, ice_servers: tuple[str, ...] | None = None) -> None:
        super().__init__(url, owner, connect_timeout=connect_timeout, ack_timeout=ack_timeout)
        self.ice_servers = ice_servers
        self.media: MediaConnection | None = None

    async def transport_bytes(self) -> tuple[int, int] | None:
        if self.media is None:
            return None
        sent = received = 0
        for stats in (await self.media.pc.getStats()).values():
            if stats.type == "transport":
                sent += getattr(stats, "bytesSent", 0) or 0
                received += getattr(stats, "bytesReceived", 0) or 0
        return sent, received

    def encoded_source(self) -> Any:
        return self.media.encoded_source() if self.media is not None else None

    async def _prepare(self, *, sending: bool) -> None:
        await self._connect_signaling()
        await self.until_closed(self.owner.initial_state(self))
        if self.state_sent:
            self.step("prompt acknowledged")

    async def _start_media(self, outbound: MediaStreamTrack | None, audio: MediaStreamTrack | None) -> None:
        loopback = p.is_loopback_host(p.url_host(self.url))
        self.media = media = MediaConnection(self.signaling, loopback=loopback, ice_servers=self.ice_servers, timeout=self.connect_timeout)
        self.media_failure = SessionClosed("the media connection to the server failed")
        self.watch(media.failed.wait(), self.media_failure)
        self.remote = await self.until_closed(media.start(outbound, audio))
        self.step("answer received")
        # Before media flows, so a recorder's tap sees the link's first (key)frame.
        self.owner.media_starting(self)
        await self.until_closed(media.wait_connected(self.connect_timeout))
        self.step("media connected")

    def _on_message(self, message: p.Message) -> None:
        if isinstance(message, p.SessionId) and message.server_ip and message.server_port:
            self.watch_token = SessionToken(message.session_id, message.server_ip, message.server_port).encode()
        if isinstance(message, p.IceCandidate):
            if self.media is not None:
                asyncio.ensure_future(self.media.add_candidate(message.candidate))
            return
        super()._on_message(message)

    async def _close_media(self) -> None:
        if self.media is not None:
            await self.media.close()
