"""Fan one received track out to several sinks, each with a bounded buffer.

aiortc queues every decoded frame of a remote track in an unbounded
``asyncio.Queue``; a sink that reads slowly (a window, a recorder busy
encoding) would make that queue, and the latency, grow without end. And a
track can only be ``recv()``-ed by one reader. :class:`Relay` solves both:
one task drains the remote track as fast as frames arrive, and hands each
frame to every subscriber's own small buffer, where overflow drops the
oldest frame instead of queueing it.

::

    remote track ──▶ Relay reader task ──┬─▶ window   (maxsize=1: newest wins)
                                         ├─▶ recorder (maxsize=50: drop oldest)
                                         └─▶ on_frame (stats, every frame)

Subscribers share the same frame objects: treat them as read-only.

A relay can outlive its source: with ``persistent=True`` the end of a
track does not end the subscribers, and :meth:`Relay.attach` switches to
the next track (a reconnected session's). Meanwhile, with ``hold`` set,
the last frame is repeated at that interval, so a window and a recording
go on through the gap as held frames in real time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..aio import cancelled

__all__ = ["Relay", "RelayTrack"]

log = logging.getLogger(__name__)


class Relay:
    """Read ``track`` in one task and fan each frame out to subscribers.

    The reader task starts at ``await start()`` or, if that was never
    called, at the first ``recv()`` of any subscriber. Start it as soon as
    the remote track exists: until the relay reads it, aiortc's own
    unbounded queue is what fills up. Subscribe every sink before starting,
    or a late subscriber misses the frames that came before it.

    ``frames`` counts frames read from the source; ``on_frame``, when set,
    is called on the event loop with every frame (for stats) and must be
    quick. ``ended`` turns true when the source ended (unless
    ``persistent``) or the relay stopped; ``error`` holds an unexpected
    exception from the source, if any. ``held`` counts the repeats of the
    last frame sent while there was no source (``hold`` seconds apart; they
    reach the subscribers but not ``on_frame``). The relay never stops a
    source track: its owner does.
    """

    def __init__(
        self,
        track: MediaStreamTrack | None = None,
        on_frame: Callable[[Any], None] | None = None,
        *,
        persistent: bool = False,
        hold: float | None = None,
    ) -> None:
        self.track = track
        self.on_frame = on_frame
        self.persistent = persistent
        self.hold = hold
        self.frames = 0
        self.held = 0
        self.ended = False
        self.error: BaseException | None = None
        self._subscribers: list[RelayTrack] = []
        self._task: asyncio.Task[None] | None = None
        self._holder: asyncio.Task[None] | None = None
        self._last: Any = None

    def subscribe(self, maxsize: int = 1, name: str = "") -> RelayTrack:
        """Return a new track that receives every frame read from now on.

        ``maxsize=1`` keeps only the newest frame (for live displays);
        a larger ``maxsize`` keeps up to that many and, when full, drops the
        oldest (for recorders, which prefer every frame but must not grow).
        """
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        sub = RelayTrack(self, maxsize, name, kind=getattr(self.track, "kind", None) or "video")
        if self.ended:
            sub._end()
        else:
            self._subscribers.append(sub)
        return sub

    async def start(self) -> None:
        """Start the reader task on the running loop (idempotent); returns at once."""
        self._ensure_started()

    def attach(self, track: MediaStreamTrack) -> None:
        """Read ``track`` from now on, in place of the current one (which is no longer read).

        Held frames, if any, go on until the new track's first frame.
        """
        if self.ended:
            raise RuntimeError("the relay has stopped")
        self._cancel_reader()
        self.track = track
        self._ensure_started()

    @property
    def last(self) -> Any:
        """The newest frame read (None before the first)."""
        return self._last

    def hold_last(self) -> None:
        """With ``hold`` set, repeat the last frame until the next one arrives (the source paused)."""
        self._start_holding()

    def detach(self) -> None:
        """Stop reading the current track; with ``hold`` set, repeat the last frame until the next :meth:`attach`."""
        self._cancel_reader()
        self.track = None
        self._start_holding()

    def _ensure_started(self) -> None:
        if self._task is None and not self.ended and self.track is not None:
            self._task = asyncio.get_running_loop().create_task(self._run(self.track), name="decart-relay")

    def _cancel_reader(self) -> None:
        # The reader is awaiting the track's recv(): cancelling it is how a
        # track stops being read (aiortc's receive queue is cancel-safe).
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def stop(self) -> None:
        """Cancel the reader task and wait for it; subscribers then end."""
        await cancelled(*(t for t in (self._task, self._holder) if t is not None and not t.done()))
        self._finish()

    @property
    def subscribers(self) -> tuple[RelayTrack, ...]:
        """The subscribers still attached."""
        return tuple(self._subscribers)

    async def _run(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if self._holder is not None:
                    self._holder.cancel()
                    self._holder = None
                self._last = frame
                self.frames += 1
                if self.on_frame is not None:
                    try:
                        self.on_frame(frame)
                    except Exception:  # a stats bug must not stop the video
                        log.exception("relay on_frame callback failed")
                for sub in self._subscribers:
                    sub._put(frame)
        except MediaStreamError:
            pass
        except asyncio.CancelledError:
            return  # replaced (attach/detach) or stopped: stop() settles the end
        except Exception as exc:
            log.exception("relay source failed")
            self.error = exc
        if self.track is track:
            if self.persistent:
                self._start_holding()
            else:
                self._finish()

    def _start_holding(self) -> None:
        if self.hold and self._holder is None and not self.ended:
            self._holder = asyncio.get_running_loop().create_task(self._repeat_last(self.hold), name="decart-relay-hold")

    async def _repeat_last(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + interval
        while True:
            # Paced by the clock, not by the sleeps, so the held frames keep the rate.
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += interval
            if self._last is not None:
                self.held += 1
                for sub in self._subscribers:
                    sub._put(self._last)

    def _finish(self) -> None:
        self.ended = True
        if self._holder is not None:
            self._holder.cancel()
            self._holder = None
        for sub in self._subscribers:
            sub._end()

    def _unsubscribe(self, sub: RelayTrack) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(sub)


class RelayTrack(MediaStreamTrack):
    """One subscriber of a :class:`Relay`: a track with its own bounded buffer.

    ``recv()`` returns the oldest buffered frame, waiting for one if the
    buffer is empty; once the source has ended and the buffer is drained it
    raises ``MediaStreamError`` and the track ends. ``received`` counts
    frames put in the buffer, ``dropped`` those pushed out unread by newer
    ones. :meth:`stop` detaches it from the relay (the others go on).
    """

    def __init__(self, relay: Relay, maxsize: int, name: str, kind: str = "video") -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self.maxsize = maxsize
        self.received = 0
        self.dropped = 0
        self._relay = relay
        self._buffer: collections.deque[Any] = collections.deque()
        self._wakeup = asyncio.Event()
        self._source_ended = False

    async def recv(self) -> Any:
        """Return the next buffered frame; MediaStreamError once the source is done."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._buffer:
                return self._buffer.popleft()
            if self._source_ended:
                self.stop()
                raise MediaStreamError
            # Lazy start, for owners that never called Relay.start().
            self._relay._ensure_started()
            self._wakeup.clear()
            await self._wakeup.wait()

    def stop(self) -> None:
        """Detach from the relay and end this track (idempotent)."""
        self._relay._unsubscribe(self)
        self._buffer.clear()
        self._wakeup.set()  # a recv() waiting right now must see the end
        super().stop()

    @property
    def pending(self) -> int:
        """Frames buffered and not yet read."""
        return len(self._buffer)

    def _put(self, frame: Any) -> None:
        if len(self._buffer) >= self.maxsize:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(frame)
        self.received += 1
        self._wakeup.set()

    def _end(self) -> None:
        self._source_ended = True
        self._wakeup.set()
