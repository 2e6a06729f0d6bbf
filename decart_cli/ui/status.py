"""The session's live figures: what the status line shows, refreshed twice a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..media.recorder import Recorder
from ..media.relay import Relay
from ..media.sources import SourceTrack
from .reporter import ConsoleReporter, SessionStats

if TYPE_CHECKING:
    from ..client.link import Link


def recording_counts(stats: SessionStats, relay: Relay, recorder: Recorder | None) -> None:
    """Frames in the file, and of those the held ones (none when the file is remuxed: it has a hole instead)."""
    if recorder is None:
        stats.frames_held = relay.held
        return
    stats.frames_recorded = recorder.frames_written
    stats.frames_held = 0 if recorder.mode == "remux" else relay.held
    stats.recording_gap = recorder.gap_seconds


class StatusTicker:
    """Every ``every`` seconds: frame counts and rates into ``stats``, then the reporter redraws.

    With ``measure`` (``decart edit --stats``) also the latency the probe
    measured and the media bitrate of the current link, from its transport
    counters (a new link counts from zero).
    """

    def __init__(
        self,
        stats: SessionStats,
        reporter: ConsoleReporter,
        *,
        source: SourceTrack,
        relay: Relay,
        recorder: Recorder | None,
        link: Callable[[], Link | None],
        probe: Any = None,
        measure: bool = False,
        every: float = 0.5,
    ) -> None:
        self.stats = stats
        self.reporter = reporter
        self.source = source
        self.relay = relay
        self.recorder = recorder
        self.link = link
        self.probe = probe
        self.measure = measure
        self.every = every
        self._bytes: tuple[int, int] | None = None
        self._bytes_of: Link | None = None

    async def run(self) -> None:
        """Refresh until cancelled."""
        stats = self.stats
        last_sent, last_received, last_t = 0, 0, time.monotonic()
        while True:
            await asyncio.sleep(self.every)
            now = time.monotonic()
            dt = max(now - last_t, 1e-6)
            if self.measure:
                await self._measure(dt)
            stats.frames_sent = self.source.frames_sent
            recording_counts(stats, self.relay, self.recorder)
            stats.fps_in = (stats.frames_sent - last_sent) / dt
            stats.fps_out = (stats.frames_received - last_received) / dt
            last_sent, last_received, last_t = stats.frames_sent, stats.frames_received, now
            self.reporter.update(stats)

    async def _measure(self, dt: float) -> None:
        recent_latency = getattr(self.probe, "recent_latency", None)
        if recent_latency is not None:
            self.stats.latency_ms = recent_latency()
        link = self.link()
        if link is not self._bytes_of:
            self._bytes, self._bytes_of = None, link
        counted = await link.transport_bytes() if link is not None else None
        if counted is not None and self._bytes is not None:
            self.stats.bitrate_kbps = (
                (counted[0] - self._bytes[0]) * 8 / dt / 1000,
                (counted[1] - self._bytes[1]) * 8 / dt / 1000,
            )
        self._bytes = counted
