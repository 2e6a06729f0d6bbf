"""What ``decart bench`` measures inside a session.

:class:`BenchProbe` plugs into :class:`~decart_cli.client.session.EditSession`: it
stamps a frame id into every outbound frame (:mod:`.marker`) and notes when
the frame left the source; each edited frame that comes back is read for its
id, giving the glass-to-glass latency of that frame. It also keeps a few sent
luma planes to compare with what came back (PSNR), the signaling timeline,
and byte counters from the link's media transport.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np
from aiortc import MediaStreamTrack
from av import VideoFrame

from ... import protocol as p
from . import marker

if TYPE_CHECKING:
    from ...client.link import Link

_LIVE_FRAMES = 125
"""Frames (5 s at 25 fps) a live probe's figures are taken over."""
PSNR_EVERY = 5
"""Compare one frame in this many (a copy of its luma is kept until it returns)."""
_KEEP = 64


def luma(frame: VideoFrame) -> np.ndarray:
    """The Y plane of a yuv420p frame as a (H, W) array view (no copy)."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB (inf when equal)."""
    # cv2.norm sums squared differences in one pass (~0.03 ms at 1280x704,
    # against ~0.5 ms through float32 copies).
    mse = cv2.norm(a, b, cv2.NORM_L2SQR) / a.size if a.size else 0.0
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


class StampingTrack(MediaStreamTrack):
    """Passes a source's frames on with a frame id stamped into each."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, probe: BenchProbe) -> None:
        super().__init__()
        self._source = source
        self._probe = probe

    async def recv(self) -> VideoFrame:
        frame = await self._source.recv()
        self._probe.stamp(frame)
        return frame

    def stop(self) -> None:
        super().stop()
        self._source.stop()


@dataclass
class BenchProbe:
    """Collects a bench run's raw measurements; :func:`decart_cli.diagnose.bench.run.run_bench` turns them into the report's figures."""

    warmup: float = 2.0
    """Seconds after the first edited frame before measuring starts."""
    live: bool = False
    """For a long session's status line: keep only recent figures (bounded memory)."""
    started: float = field(default_factory=time.monotonic)
    events: dict[str, float] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    psnr_db: list[float] = field(default_factory=list)
    received_ids: set[int] = field(default_factory=set)
    unreadable: int = 0
    frames_received: int = 0
    window_start: float | None = None
    window_end: float | None = None
    link: Link | None = None
    _next_id: int = 0
    _kept: OrderedDict[int, np.ndarray] = field(default_factory=OrderedDict)

    # Session hooks.

    def wrap_source(self, track: MediaStreamTrack) -> MediaStreamTrack:
        self.mark("source open")  # the session wraps its source once it is open
        return StampingTrack(track, self)

    def on_connected(self, link: Link) -> None:
        self.link = link
        self.mark("media_connected")

    def on_message(self, message: p.Message) -> None:
        if isinstance(message, (p.Ready, p.GenerationStarted, p.SessionId, p.Answer)):
            self.mark(message.type)

    def on_frame(self, frame: VideoFrame) -> None:
        now = time.monotonic()
        if "first_frame" not in self.events:
            self.mark("first_frame")
        y = luma(frame)
        frame_id = marker.read(y)
        if frame_id is None:
            self.unreadable += 1
            return
        self.received_ids.add(frame_id)
        sent = self.sent_at.get(frame_id)  # only frames sent inside the window are kept
        if sent is None or not self.measuring(now):
            return
        self.frames_received += 1
        self.latencies_ms.append((now - sent) * 1000)
        kept = None
        if frame_id in self._kept:
            # Lumas are kept in send order and frames come back in that order:
            # those before this frame's belong to dropped frames (0.9 MB each
            # at 1280x704); free them now, not once _KEEP (58 MB) piled up.
            while (oldest := next(iter(self._kept))) != frame_id:
                del self._kept[oldest]
            kept = self._kept.pop(frame_id)
        if kept is not None and kept.shape == y.shape:
            self.psnr_db.append(psnr(kept, y))

    # Sending side.

    def stamp(self, frame: VideoFrame) -> None:
        """Stamp the next id into ``frame`` (yuv420p, written in place) and note the time."""
        frame_id = self._next_id
        self._next_id = (self._next_id + 1) & marker.MAX_ID
        y = luma(frame)
        marker.stamp(y, frame_id)
        now = time.monotonic()
        if self.live and len(self.sent_at) >= 2 * _LIVE_FRAMES:
            # Ids older than a few seconds will never come back now.
            for old in list(self.sent_at)[:_LIVE_FRAMES]:
                del self.sent_at[old]
            del self.latencies_ms[:-_LIVE_FRAMES]
            del self.psnr_db[:-_LIVE_FRAMES]
        if self.measuring(now):
            self.sent_at[frame_id] = now
            if frame_id % PSNR_EVERY == 0:
                self._kept[frame_id] = y.copy()
                while len(self._kept) > _KEEP:
                    self._kept.popitem(last=False)

    def recent_latency(self) -> tuple[float, float] | None:
        """(p50, p95) in ms over the last few seconds, or None before any frame came back."""
        recent = sorted(self.latencies_ms[-_LIVE_FRAMES:])
        if not recent:
            return None
        return recent[len(recent) // 2], recent[min(len(recent) - 1, round(0.95 * (len(recent) - 1)))]

    # Windows.

    def mark(self, name: str) -> None:
        """Note when ``name`` first happened."""
        self.events.setdefault(name, time.monotonic())

    def measuring(self, now: float) -> bool:
        """Whether ``now`` is inside the measurement window (after the warm-up, before the end)."""
        first = self.events.get("first_frame")
        if first is None or now < first + self.warmup:
            return False
        if self.window_start is None:
            self.window_start = now
        return self.window_end is None or now <= self.window_end

    def end_window(self) -> None:
        """Stop measuring (frames still in flight after this are not counted)."""
        if self.window_end is None:
            self.window_end = time.monotonic()

    async def transport_bytes(self) -> tuple[int, int] | None:
        """(bytes sent, bytes received) by the current link's media so far; None without one."""
        return None if self.link is None else await self.link.transport_bytes()
