"""Waiting for the first of several things (:func:`first_of`), or for one thing unless another comes first (:func:`unless`): the client side's races."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from ..aio import cancelled

T = TypeVar("T")


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


class Overtaken(Exception):
    """What :func:`unless` awaited was overtaken: ``names`` came first (``late``: its result, had it finished while being cancelled)."""

    def __init__(self, names: set[str], late: object = None) -> None:
        super().__init__(", ".join(sorted(names)))
        self.names = names
        self.late = late


_AWAITED = "\0awaited"


async def unless(awaitable: Awaitable[T], others: dict[Awaitable[object], str], timeout: float | None = None) -> T:
    """Await ``awaitable`` unless one of ``others`` (or ``timeout``) comes first: then cancel it and raise :class:`Overtaken`.

    The one "await this unless that" of the client side (a link closing, a
    stop request, the session ending). When our caller is cancelled, so is
    what it awaited.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done = await first_of({task: _AWAITED, **others}, timeout)
    except asyncio.CancelledError:
        await cancelled(task)
        raise
    if _AWAITED in done:
        return task.result()
    task.cancel()
    (result,) = await asyncio.gather(task, return_exceptions=True)
    raise Overtaken(done, None if isinstance(result, BaseException) else result)
