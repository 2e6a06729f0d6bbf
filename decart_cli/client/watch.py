"""One ``decart watch`` session: a running session's edited video, receive-only.

:class:`WatchSession` opens a viewer's link (:func:`~decart_cli.client.viewer.open_viewer`)
and hands the video to the same sinks ``decart edit`` uses (:mod:`.sinks`):
a window and/or a recording. It ends
when the user stops it (signal, window, ``duration``) or when the watched
session ends (the server lets its viewers go); a recording is finished
either way. A viewer does not reconnect: the session it watched is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .race import Overtaken, first_of, unless
from .viewer import Viewing, open_viewer
from ..config import WatchConfig
from ..errors import ConnectError, DecartError, Interrupted
from ..media.recorder import Recorder
from ..media.relay import Relay
from ..ui.reporter import ConsoleReporter
from .sinks import new_window, wire

if TYPE_CHECKING:
    from .link import Link
    from ..media.window import Window

NOMINAL_FPS = 30
"""The recording's nominal rate (a viewer is not told the model's; timestamps are the frames' arrival times)."""


@dataclass
class WatchStats:
    """What one ``decart watch`` saw."""

    transport: str = ""
    frames_received: int = 0
    frames_recorded: int = 0
    output: Path | None = None
    started: float = field(default_factory=time.monotonic)
    first_frame: float | None = None
    ended: float | None = None
    why: str = ""
    """What ended it: ``stopped``, ``session ended``, ``duration``, ``window closed``."""

    @property
    def watched_seconds(self) -> float:
        if self.first_frame is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.first_frame


def render_watch_summary(stats: WatchStats, *, failed: bool = False) -> str:
    """The line printed when watching ends."""
    parts = [f"watched {stats.frames_received} frames", f"{stats.watched_seconds:.1f} s over {stats.transport}"]
    if stats.output is not None:
        parts.append(f"recorded {stats.frames_recorded} frames to {stats.output}")
    if stats.why:
        parts.append(stats.why)
    return ("stopped early: " if failed else "done: ") + ", ".join(parts)


class WatchSession(Viewing):
    """Runs one viewer described by a :class:`WatchConfig`."""

    def __init__(self, config: WatchConfig, reporter: ConsoleReporter) -> None:
        self.config = config
        self.reporter = reporter
        self.stats = WatchStats(output=config.output)
        self._stop = asyncio.Event()
        self._stop_reason = "stopped"
        self._first = asyncio.Event()

    def request_stop(self, reason: str = "stopped", *, hurry: bool = False) -> None:
        """Ask the viewer to end (safe from a signal handler; its stop is short, ``hurry`` changes nothing)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    async def run(self) -> WatchStats:
        """Watch until it ends; return what was seen. Raises DecartError when the session cannot be watched."""
        cfg = self.config
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self._finish)
            recorder = Recorder(cfg.output, fps=NOMINAL_FPS) if cfg.output is not None else None
            window = new_window("decart watch - ? for keys", cfg.screen) if cfg.show else None
            relay = Relay(on_frame=self._on_frame)
            stack.push_async_callback(relay.stop)
            wire(relay, recorder=recorder, window=window)
            if recorder is not None:
                stack.callback(self._count_recorded, recorder)  # after the file is finished
                stack.push_async_callback(recorder.stop)
            link = await self._until_stopped(open_viewer(cfg.token, cfg.url, api_key=cfg.api_key or "local", owner=self, connect_timeout=cfg.connect_timeout, ice_servers=cfg.ice_servers))
            stack.push_async_callback(link.close)
            self.stats.transport = link.transport
            assert link.remote is not None
            relay.attach(link.remote)
            if recorder is not None:
                await recorder.start()
            if window is not None:
                stack.push_async_callback(window.stop)
                await window.start()
            self.reporter.event(f"watching over {link.transport}: waiting for the first frame")
            await self._wait_first_frame(link)
            self.reporter.event(f"first frame after {self.stats.first_frame - self.stats.started:.2f} s" if self.stats.first_frame else "watching", "green")
            self.stats.why = await self._until_the_end(link, window)
            if self.stats.why == "the watched session ended":
                self.reporter.notice("the watched session ended")
            await relay.stop()
            if recorder is not None:
                await recorder.stop()
        return self.stats

    async def _until_stopped(self, awaitable: object) -> Link:
        try:
            return await unless(awaitable, {self._stop.wait(): "stop"})  # type: ignore[arg-type]
        except Overtaken as overtaken:
            if overtaken.late is not None:  # the link opened as it was given up
                await overtaken.late.close()  # type: ignore[attr-defined]
            raise Interrupted(f"{self._stop_reason} before the video started") from None

    async def _wait_first_frame(self, link: Link) -> None:
        timeout = self.config.connect_timeout
        done = await first_of({self._first.wait(): "first", self._stop.wait(): "stop", link.closed: "closed"}, timeout)
        if done & {"first", "stop"}:
            return
        if "closed" in done:
            error = link.closed.result()
            if error is link.media_failure:
                raise ConnectError("the media connection failed before any frame came", "check that UDP can reach the server")
            raise error
        raise ConnectError(f"no frame came within {timeout:g} s", fix="watch_url")

    async def _until_the_end(self, link: Link, window: Window | None) -> str:
        """Wait for what ends watching; say what it was."""
        futures: dict[object, str] = {self._stop.wait(): "stop", link.closed: "closed"}
        if window is not None:
            futures[window.wait_closed()] = "window"
        duration = self.config.duration
        left = None
        if duration is not None and self.stats.first_frame is not None:
            left = max(0.0, self.stats.first_frame + duration - time.monotonic())
        done = await first_of(futures, left)  # type: ignore[arg-type]
        if "stop" in done:
            return self._stop_reason
        if "window" in done:
            return "window closed"
        if "closed" in done:
            return "the watched session ended"
        return "duration reached"

    # -- counting (what the link asks of its owner is Viewing's: nothing)

    def _on_frame(self, frame: object) -> None:
        """Every frame the relay reads: counted; the first one starts the watch."""
        self.stats.frames_received += 1
        if self.stats.first_frame is None:
            self.stats.first_frame = time.monotonic()
            self._first.set()

    def _count_recorded(self, recorder: Recorder) -> None:
        self.stats.frames_recorded = recorder.frames_written

    def _finish(self) -> None:
        self.stats.ended = time.monotonic()


__all__ = ["WatchSession", "WatchStats", "render_watch_summary", "DecartError"]
