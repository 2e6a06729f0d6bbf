"""A track that hands out the newest item it was given: newest wins, nothing queues.

:class:`NewestTrack` keeps one slot. A producer puts items in
(:meth:`~NewestTrack.put`), each replacing one not yet taken; the consumer's
``recv()`` takes the item there (:meth:`~NewestTrack.take`), waiting while
the slot is empty, and raises ``MediaStreamError`` once the track stopped.
Subclasses turn the item into what ``recv()`` returns.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

__all__ = ["NewestTrack"]


class NewestTrack(MediaStreamTrack):
    """One slot between a producer and ``recv()``; stopping wakes a waiting ``recv()``."""

    def __init__(self) -> None:
        super().__init__()
        self._latest: Any = None
        self._ready = asyncio.Event()

    def put(self, item: Any) -> None:
        """Make ``item`` the next one taken (replacing one not taken yet)."""
        self._latest = item
        self._ready.set()

    async def take(self) -> Any:
        """The newest item put and not taken yet, once there is one; MediaStreamError once stopped."""
        while self._latest is None:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        item, self._latest = self._latest, None
        return item

    def stop(self) -> None:
        super().stop()
        self._ready.set()
