"""Session slots: how many sessions edit at once, and the queue of those waiting.

Today's protocol queues a client while the service is busy and tells it its
place (``queue_position``); the legacy protocol has no queue, so a legacy
client is refused when no slot is free (or when others are already waiting:
it may not jump the queue). The queue holds at most ``max_waiting``
clients: one more is turned away (:class:`QueueFull`), as the service says
it is at capacity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Waiter:
    granted: asyncio.Future[None]
    notify: Callable[[int, int], None]
    told: tuple[int, int] | None = field(default=None)


class QueueFull(Exception):
    """No slot is free and the queue is full."""

    def __init__(self, limit: int, waiting: int) -> None:
        super().__init__(f"{waiting} clients already waiting for {limit} sessions")
        self.limit = limit
        self.waiting = waiting


class Slots:
    """``limit`` slots (0: no limit) and a first-come, first-served queue of at most ``max_waiting`` for them (0: unbounded)."""

    def __init__(self, limit: int, max_waiting: int = 0) -> None:
        self.limit = limit
        self.max_waiting = max_waiting
        self.in_use = 0
        self._waiting: list[_Waiter] = []

    @property
    def waiting(self) -> int:
        """Clients in the queue."""
        return len(self._waiting)

    def _free(self) -> bool:
        return self.limit <= 0 or self.in_use < self.limit

    def try_take(self) -> bool:
        """Take a slot now if one is free and nobody is waiting for it; False otherwise."""
        if self._waiting or not self._free():
            return False
        self.in_use += 1
        return True

    async def take(self, notify: Callable[[int, int], None]) -> None:
        """Take a slot, waiting in the queue if needed.

        While waiting, ``notify(position, queue_size)`` is called whenever
        either changes (position 1 is next). Cancelling the wait leaves the
        queue; a slot granted just before the cancel is given back. Raises
        :class:`QueueFull` when the queue already holds ``max_waiting``.
        """
        if self.try_take():
            return
        if self.max_waiting > 0 and len(self._waiting) >= self.max_waiting:
            raise QueueFull(self.limit, len(self._waiting))
        waiter = _Waiter(asyncio.get_running_loop().create_future(), notify)
        self._waiting.append(waiter)
        self._announce()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
                self._announce()
            elif waiter.granted.done() and not waiter.granted.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back; the first waiter (if any) gets it."""
        self.in_use = max(0, self.in_use - 1)
        while self._waiting and self._free():
            waiter = self._waiting.pop(0)
            if waiter.granted.done():  # cancelled meanwhile
                continue
            self.in_use += 1
            waiter.granted.set_result(None)
        self._announce()

    def _announce(self) -> None:
        size = len(self._waiting)
        for index, waiter in enumerate(self._waiting):
            place = (index + 1, size)
            if waiter.told != place:
                waiter.told = place
                waiter.notify(*place)
