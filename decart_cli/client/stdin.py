"""Lines from standard input, read on a thread of their own and handed to the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE = 64 * 1024
"""Longest stdin line kept whole; a longer one is passed on cut once (to be refused as too long), the rest skipped."""


def read_lines(stream: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> threading.Thread:
    """Feed each line of ``stream`` (decoded leniently) to ``queue`` from a daemon thread.

    End of input simply ends the thread: it does not end the session. A
    stream with a file descriptor is read with ``os.read``: a daemon thread
    blocked inside a buffered reader's lock makes the interpreter abort at
    exit ("could not acquire lock ... at interpreter shutdown") when the
    session ends while the writer still holds the pipe open.
    """

    def deliver(raw: bytes) -> bool:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the loop has closed: the session is over
            return False
        return True

    def chunks() -> Iterator[bytes]:
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            yield from iter(stream.readline, b"")
            return
        yield from iter(lambda: os.read(fd, 65536), b"")

    def pump() -> None:
        pending = b""
        skipping = False  # the rest of a line already passed on cut
        try:
            for chunk in chunks():
                *lines, pending = (pending + chunk).split(b"\n")
                if skipping:
                    if not lines:
                        pending = b""
                        continue
                    lines, skipping = lines[1:], False
                if len(pending) > MAX_LINE:
                    lines.append(pending[:MAX_LINE])
                    pending, skipping = b"", True
                for raw in lines:
                    if not deliver(raw):
                        return
        except (OSError, ValueError):
            return
        if pending:
            deliver(pending)

    thread = threading.Thread(target=pump, name="decart-stdin", daemon=True)
    thread.start()
    return thread

