"""Waiting for the first of several things: the one race primitive of the client side."""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Awaitable


async def first_of(waiters: dict[Awaitable[object], str], timeout: float | None = None) -> set[str]:
    """Wait until one of ``waiters`` completes (or ``timeout`` passes); the names of those done.

    The one way a session and its links race anything ("ended", "closed",
    "stopped", "first frame"). Futures are left as they are (their owners cancel them);
    coroutines are run as tasks here and cancelled when this returns.
    """
    futures: dict[asyncio.Future[object], str] = {}
    started: list[asyncio.Future[object]] = []
    for waiter, name in waiters.items():
        future = asyncio.ensure_future(waiter)
        if future is not waiter:
            started.append(future)
        futures[future] = name
    try:
        done, _ = await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in started:
            future.cancel()
    return {futures[f] for f in done}


async def cancelled(*futures: asyncio.Future[Any]) -> None:
    """Cancel ``futures`` and wait until they have finished (their errors are theirs: not raised here)."""
    for future in futures:
        future.cancel()
    await asyncio.gather(*futures, return_exceptions=True)
