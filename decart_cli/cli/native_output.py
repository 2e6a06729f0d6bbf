"""Native libraries' own lines kept off the terminal: what they write to file descriptor 2 goes to the log.

OpenH264 (inside LiveKit's WebRTC library) prints ``[OpenH264] this = 0x...,
Warning: Actual input framerate ...`` straight to fd 2, below Python, where
no logger can reach it. :func:`filter_native_stderr` puts a pipe on fd 2
and points Python's own ``sys.stderr`` at the terminal directly (so our
lines never wait on the pipe); a thread reads the pipe and writes each
line to the terminal, except lines of :data:`NATIVE_NOISE`, which become
debug records of the ``decart.native`` logger (seen with ``-vv``).

Only for a quiet run (no ``-v``): when asked for detail, everything goes
to the terminal as written. At exit the pipe is drained into the terminal
before the process ends.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

log = logging.getLogger("decart.native")

_installed = False

NATIVE_NOISE = re.compile(rb"^\[OpenH264\]")
"""Lines native libraries print that are theirs, not the user's business."""


def filter_native_stderr() -> None:
    """Route fd 2 through a filter thread (see the module docstring); Python's ``sys.stderr`` keeps writing to the terminal.

    Only in a process whose ``sys.stderr`` is still its own fd 2 (not one run
    in-process by a test runner that captures it), and only once.
    """
    global _installed
    if _installed or sys.stderr is not sys.__stderr__:
        return
    _installed = True
    try:
        terminal = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:  # pragma: no cover - no fd 2 (a daemon): nothing to filter
        return
    stream = os.fdopen(terminal, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8", errors="backslashreplace")
    sys.stderr = stream
    thread = threading.Thread(target=_copy, args=(read_end, terminal), name="decart-native-stderr", daemon=True)
    thread.start()

    def drain() -> None:
        try:
            os.dup2(terminal, 2)  # the pipe's last writer closes: the thread sees its end
        except OSError:  # pragma: no cover
            return
        thread.join(timeout=1.0)

    atexit.register(drain)


def _copy(read_end: int, terminal: int) -> None:
    """Copy the pipe to the terminal line by line, the noise to the log."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _emit(line, terminal)
    if pending:
        _emit(pending, terminal)


def _emit(line: bytes, terminal: int) -> None:
    if NATIVE_NOISE.match(line):
        log.debug("%s", line.decode("utf-8", "replace"))
        return
    try:
        os.write(terminal, line + b"\n")
    except OSError:  # pragma: no cover - the terminal went away
        pass
