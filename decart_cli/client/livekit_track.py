"""The edited video of a LiveKit room, as an aiortc-style track that follows the newest edited track.

The service may publish its edited track again mid-session (a worker
restarts, the codec changes) or only after the client joined the room.
:class:`LiveKitTrack` reads one room track at a time:

* :meth:`~LiveKitTrack.follow` switches to a newly subscribed track; the
  previous track's reader is stopped and its stream closed (awaited by
  :meth:`~LiveKitTrack.close`);
* :meth:`~LiveKitTrack.drop` stops reading a track that went away;
  :meth:`~LiveKitTrack.recv` then waits for the next one instead of ending;
* only :meth:`~LiveKitTrack.stop` (or :meth:`~LiveKitTrack.close`) ends it.

Newest frame wins, nothing queues: each track is read through an
``rtc.VideoStream`` that keeps one frame (LiveKit's ring queue, capacity 1)
by one reader task that keeps the newest (a
:class:`~decart_cli.media.newest.NewestTrack` slot);
:meth:`~LiveKitTrack.recv` converts that one to an ``av.VideoFrame``
(yuv420p), so the relay and every sink after it are the legacy path's.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from typing import Any

import numpy as np
from av import VideoFrame

from ..media.newest import NewestTrack
from ..media.sources import i420_frame

log = logging.getLogger(__name__)

MICROSECONDS = fractions.Fraction(1, 1_000_000)
CLOSE_TIMEOUT = 5.0
"""Seconds a closing ``rtc.VideoStream`` may take to end (LiveKit's FFI answers a closed stream with its end)."""


class LiveKitTrack(NewestTrack):
    """The edited video of a room: frames of the newest edited track followed (see the module docstring)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.track_sid: str | None = None
        """The room track read now; None before the first and while waiting for the next."""
        self.followed = 0
        """How many tracks were followed so far."""
        self._stream: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def follow(self, track: Any, sid: str) -> None:
        """Read ``track`` (room track ``sid``) from now on, in place of the track read so far."""
        if self.readyState != "live" or sid == self.track_sid:
            return
        from livekit import rtc

        self._retire()
        log.debug("following the edited track %s", sid)
        self.track_sid = sid
        self.followed += 1
        self._stream = rtc.VideoStream(track, capacity=1, format=rtc.VideoBufferType.I420)
        self._reader = asyncio.create_task(self._read(self._stream), name="decart-livekit-edited")

    def drop(self, sid: str) -> None:
        """Room track ``sid`` went away (unpublished, unsubscribed): stop reading it if it is the one read."""
        if sid == self.track_sid:
            log.debug("the edited track %s went away; waiting for the next", sid)
            self._retire()

    async def _read(self, stream: Any) -> None:
        async for event in stream:
            self.put(event)

    def _retire(self) -> None:
        """Stop reading the current track: its reader is cancelled and its stream closed, in a task :meth:`close` awaits."""
        reader, stream = self._reader, self._stream
        self._reader = self._stream = self.track_sid = None
        if reader is None:
            return
        reader.cancel()
        closing = asyncio.create_task(self._close_stream(reader, stream), name="decart-livekit-edited-close")
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_stream(reader: asyncio.Task[None], stream: Any) -> None:
        await asyncio.gather(reader, return_exceptions=True)
        try:
            await asyncio.wait_for(stream.aclose(), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            log.debug("an edited track's stream did not end within %g s", CLOSE_TIMEOUT)

    async def recv(self) -> VideoFrame:
        event = await self.take()
        frame = event.frame
        planes = np.frombuffer(frame.data, np.uint8)[: frame.width * frame.height * 3 // 2]
        out = i420_frame(planes.reshape(frame.height * 3 // 2, frame.width))
        out.pts, out.time_base = event.timestamp_us, MICROSECONDS
        return out

    def stop(self) -> None:
        """End this track: stop reading, and wake a waiting :meth:`recv` (which raises MediaStreamError)."""
        super().stop()
        self._retire()

    async def close(self) -> None:
        """:meth:`stop`, then wait until every track read so far is closed."""
        self.stop()
        while self._closing:
            await asyncio.gather(*self._closing)
