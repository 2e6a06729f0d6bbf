"""Lend a track to one peer connection without giving it away.

aiortc's ``RTCRtpSender`` stops the track it sends when the sender stops,
so a source handed straight to a peer connection dies with it. A session
that reconnects sends the same source over successive connections: each
gets a :class:`BorrowedTrack`, which ends with its connection while the
source goes on.
"""

from __future__ import annotations

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.frame import Frame

__all__ = ["BorrowedTrack"]


class BorrowedTrack(MediaStreamTrack):
    """Reads ``source`` for one consumer; stopping it leaves ``source`` running.

    Frames pass through untouched (same object, same ``pts``/``time_base``).
    The source must be read by one borrower at a time.
    """

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source

    async def recv(self) -> Frame:
        """The source's next frame; MediaStreamError once this borrower or the source has stopped."""
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self.source.recv()
        if self.readyState != "live":
            raise MediaStreamError
        return frame
