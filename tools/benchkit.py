"""What the SDK benchmarks (`sdk_bench.py`, `sdk2_bench.py`) share: the server child, percentiles, options.

Plain Python only: each benchmark runs in its SDK's own venv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def start_server(server_python: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start `decart serve` on a free loopback port; return it, its base URL and the lines it printed."""
    return start_child([server_python, "-m", "decart_cli", "serve", "--host", "127.0.0.1", "--port", "0"], "decart serve")


def start_child(command: list[str], name: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start a server child that prints its ws://127.0.0.1:PORT URL; return it, that URL and the lines it printed."""
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    lines: list[str] = []
    assert server.stdout is not None
    for line in server.stdout:
        lines.append(line)
        match = re.search(r"ws://127\.0\.0\.1:\d+", line)
        if match:
            return server, match.group(0), lines
    server.wait(10)
    raise SystemExit(f"{name} did not start:\n" + "".join(lines))


def stop_server(server: subprocess.Popen[str], lines: list[str]) -> None:
    """Stop the server child, keeping the rest of what it printed in ``lines``."""
    server.terminate()
    try:
        rest, _ = server.communicate(timeout=10)
        lines.append(rest or "")
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def percentile(ordered: list[float], q: float) -> float | None:
    """The ``q`` quantile of already sorted values (nearest rank), None for none."""
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else None


def arguments(description: str) -> argparse.ArgumentParser:
    """The options both benchmarks take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--server-python", required=True, help="python of the venv where decart_cli is installed")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--json", type=Path)
    return parser


def report(figures: dict, path: Path | None) -> None:
    """Print the figures as JSON, and write them to ``path`` if given."""
    text = json.dumps(figures, indent=2)
    print(text)
    if path is not None:
        path.write_text(text)


async def measure(connect: Callable[[], Awaitable[Any]], window: dict[str, float], seconds: float) -> tuple[Any, float, float]:
    """Connect, wait (30 s at most) until ``window["first"]`` is set by the frame reader, then sleep ``seconds``.

    Returns the connected client, connect → first edited frame in seconds,
    and this process's CPU over the ``seconds`` (percent of a core).
    """
    started = time.monotonic()
    client = await connect()
    while "first" not in window and time.monotonic() - started < 30:
        await asyncio.sleep(0.02)
    first_frame = window.get("first", time.monotonic()) - started
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(seconds)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / seconds * 100
    return client, first_frame, cpu
