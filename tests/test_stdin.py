"""Prompts from stdin: lines as typed or piped, whatever the bytes, without blocking the session's exit."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
from pathlib import Path

from conftest import decode, start_decart

from decart_cli.config import EditConfig, SourceConfig
from decart_cli.client.stdin import MAX_LINE, read_lines


def lines_from(chunks: list[bytes], *, pipe: bool = True) -> list[str]:
    """What read_lines queues for ``chunks`` written to a pipe (or a file object without a descriptor)."""

    async def main() -> list[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        if pipe:
            read_fd, write_fd = os.pipe()
            stream = os.fdopen(read_fd, "rb")
            thread = read_lines(stream, asyncio.get_running_loop(), queue)
            for chunk in chunks:
                os.write(write_fd, chunk)
                await asyncio.sleep(0.01)
            os.close(write_fd)
        else:
            thread = read_lines(io.BytesIO(b"".join(chunks)), asyncio.get_running_loop(), queue)
        while thread.is_alive():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        return [queue.get_nowait() for _ in range(queue.qsize())]

    return asyncio.run(main())


def test_lines_split_across_writes_and_crlf() -> None:
    """A line written in pieces arrives whole; CRLF endings and a last line without newline are handled."""
    assert lines_from([b"add a h", b"at\r\nmake it ", b"sepia\nlast"]) == ["add a hat", "make it sepia", "last"]
    assert lines_from([b"one\ntwo\n"], pipe=False) == ["one", "two"]


def test_non_utf8_bytes_are_replaced_not_fatal() -> None:
    """Bytes that are not UTF-8 become replacement characters; the line still arrives."""
    assert lines_from([b"\xff\xfe add a hat\n"]) == ["\ufffd\ufffd add a hat"]


def test_endless_line_is_cut() -> None:
    """A line with no newline in sight is passed on once, cut at MAX_LINE (to be refused as too long); the rest is skipped."""
    assert lines_from([b"x" * 65536] * 3 + [b"x\nnext\n"]) == ["x" * MAX_LINE, "next"]


def test_backoff_doubles_up_to_the_cap() -> None:
    """Reconnect waits are 1, 2, 4, 8, 10 s by default, and follow the configured delay and cap."""
    config = EditConfig(source=SourceConfig(spec="test"))
    assert [config.reconnect_wait(n) for n in range(1, 6)] == [1, 2, 4, 8, 10]
    fast = EditConfig(source=SourceConfig(spec="test"), reconnect_delay=0.25, reconnect_max_delay=1)
    assert [fast.reconnect_wait(n) for n in range(1, 5)] == [0.25, 0.5, 1, 1]


def test_session_ends_while_the_writer_keeps_stdin_open(tmp_path: Path) -> None:
    """A session that ends (--duration) while stdin is an open pipe exits 0 with its file, not an abort at shutdown."""
    out = tmp_path / "open.mp4"
    proc = start_decart("edit", "-i", "test", "--no-show", "-o", str(out), "--duration", "1.5", stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        stderr = proc.stderr.read()  # EOF when the process exits: stdin stays open meanwhile
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stdin is not None
        proc.stdin.close()
    assert proc.returncode == 0, stderr
    assert len(decode(out).frames) >= 25
