"""What ends a running session normally, and a race against it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from .race import Overtaken, first_of, unless
from ..media.sources import SourceTrack

if TYPE_CHECKING:
    from ..media.window import Window

T = TypeVar("T")


class Ended(Exception):
    """The session ended normally while something else was still in progress."""


class StopRequest:
    """A request to end the session (a signal, ``q``, the billed-seconds limit, a failed recording): set once, with its reason."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason = ""
        self.hurry = False
        """A second request, or one that cannot wait: stop without waiting for the frames in flight."""

    def request(self, reason: str = "stopped", *, hurry: bool = False) -> None:
        """Ask to stop (safe from a signal handler); the first reason is kept."""
        self.hurry = self.hurry or hurry
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


async def source_ended(source: SourceTrack) -> None:
    """Return when ``source`` has ended (the end of a file, or it was stopped)."""
    ended = asyncio.Event()
    source.on("ended", ended.set)
    if source.readyState == "ended":
        return
    await ended.wait()


class Ends:
    """A stop request, the end of the source, the window closing, the duration passing: each ends a session.

    Built when media started (``started``), so ``duration`` counts from there.
    """

    def __init__(self, stop: StopRequest | asyncio.Event, source: SourceTrack, window: Window | None, *, duration: float | None, started: float | None) -> None:
        self._futures: dict[Awaitable[object], str] = {
            asyncio.ensure_future(stop.wait()): "stop",
            asyncio.ensure_future(source_ended(source)): "source",
        }
        if window is not None:
            self._futures[asyncio.ensure_future(window.wait_closed())] = "window"
        self.deadline = started + duration if duration is not None and started is not None else None

    async def race(self, others: dict[Awaitable[object], str], timeout: float | None = None) -> set[str]:
        """Wait for an end or one of ``others``; the names of what happened (empty: ``timeout`` passed)."""
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        limit = remaining if timeout is None else timeout if remaining is None else min(timeout, remaining)
        reasons = await first_of({**self._futures, **others}, limit)
        if not reasons and remaining is not None and (timeout is None or remaining <= timeout):
            reasons.add("duration")
        return reasons

    async def until(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``; raise :class:`Ended` (after cancelling it) if the session ends first."""
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        try:
            return await unless(awaitable, self._futures, remaining)
        except Overtaken:
            raise Ended from None

    def cancel(self) -> None:
        """Stop watching."""
        for future in self._futures:
            future.cancel()
