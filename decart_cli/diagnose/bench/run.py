"""``decart bench``: run a real session and report how it performed.

The session is an ordinary :class:`~decart_cli.client.session.EditSession` with a
:class:`~decart_cli.diagnose.bench.probe.BenchProbe` plugged in, sending the built-in
test pattern (motion and film grain) at the model's size and rate. Without
``--url`` the local server runs as a child process, so that its CPU time is
measured apart from the client's.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ... import protocol as p
from ... import rtc
from ...client.session import EditSession
from ...config import EditConfig, SourceConfig
from ...errors import ConnectError
from ...models import Model
from ...ui.reporter import ConsoleReporter
from .probe import BenchProbe


@dataclass(frozen=True)
class BenchConfig:
    """What one ``decart bench`` run does."""

    model: Model
    duration: float = 10.0
    warmup: float = 2.0
    url: str | None = None
    api_key: str = ""
    prompt: str | None = None
    output: Path | None = None
    connect_timeout: float = 15.0
    server_args: tuple[str, ...] = ()
    """Extra ``decart serve`` arguments for the child server (e.g. an engine)."""
    transport: str = "webrtc"
    """``webrtc`` (legacy protocol) or ``livekit`` (today's), as the model's generation asks."""


@dataclass
class BenchReport:
    """The figures of one bench run (times in seconds unless the name says ms)."""

    machine: str
    server: str
    model: str
    transport: str
    prompt: str
    duration: float
    warmup: float
    connect_to_ready: float | None
    ready_to_first_frame: float | None
    connect_to_first_frame: float | None
    latency_ms: dict[str, float | None]
    output_fps: float
    frames_sent: int
    frames_received: int
    dropped: dict[str, int]
    bitrate_kbps: dict[str, float | None]
    psnr_db: dict[str, float | None]
    cpu_percent: dict[str, float | None]
    memory_mb: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """RSS of ``client`` and ``server`` (see :func:`memory_figures`); None where unmeasured."""
    recorded: dict[str, object] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds from the start to each step of reaching the first edited frame (source open, the link's steps, the frame), in order."""
    rtc_tuning: dict[str, str] = field(default_factory=dict)
    """The client process's aiortc tuning, part by part (:func:`decart_cli.rtc.status`): a skipped part costs latency or quality."""

    def tuning_line(self) -> str | None:
        """``rtc tuning: <part> skipped (why)`` when any part of the tuning was skipped, else None."""
        return rtc.skipped_line(self.rtc_tuning)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _proc_cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of a process, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


MB = 1024 * 1024
MEMORY_EVERY = 1.0
"""Seconds between RSS samples (one /proc read each: microseconds)."""


def rss_bytes(pid: int | None = None) -> int | None:
    """Resident set size of process ``pid`` (default: this one) in bytes; None without /proc or once it is gone."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None


def memory_figures(samples: list[tuple[float, float]]) -> dict[str, float | None]:
    """Baseline, peak, end, growth (end - baseline) in MB and slope in MB/min, from (seconds, MB) samples.

    The slope is a least-squares fit over the second half of the window only:
    over a short run, growth is mostly warm-up allocation (codec buffers,
    pools), while a leak keeps climbing after it.
    """
    if not samples:
        return {"baseline": None, "peak": None, "end": None, "growth": None, "slope_mb_per_min": None}
    # Growth from the rounded figures, so that the printed ones add up.
    baseline, end = round(samples[0][1], 1), round(samples[-1][1], 1)
    half = samples[0][0] + (samples[-1][0] - samples[0][0]) / 2
    late = [(t, mb) for t, mb in samples if t >= half]
    slope = None
    if len(late) >= 2:
        mean_t = statistics.fmean(t for t, _ in late)
        mean_mb = statistics.fmean(mb for _, mb in late)
        var = sum((t - mean_t) ** 2 for t, _ in late)
        if var > 0:
            slope = round(sum((t - mean_t) * (mb - mean_mb) for t, mb in late) / var * 60, 3)
    return {
        "baseline": baseline,
        "peak": round(max(mb for _, mb in samples), 1),
        "end": end,
        "growth": round(end - baseline, 1),
        "slope_mb_per_min": slope,
    }


@dataclass
class MemoryTrace:
    """RSS samples of one process over the measurement window."""

    pid: int | None = None
    """Process to sample (None: this one)."""
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the window started, MB)."""

    def sample(self, at: float) -> None:
        """Record the process's RSS now, ``at`` seconds into the window (nothing where it cannot be read)."""
        rss = rss_bytes(self.pid)
        if rss is not None:
            self.samples.append((at, rss / MB))

    def figures(self) -> dict[str, float | None]:
        """See :func:`memory_figures`."""
        return memory_figures(self.samples)


def _self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ChildServer:
    """``decart serve`` in a child process on a free loopback port."""

    def __init__(self, args: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "decart_cli", "serve", "--host", "127.0.0.1", "--port", "0", "-v", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = ""

    async def wait_ready(self, timeout: float) -> str:
        """The server's URL once it listens; raises ConnectError if it does not start."""
        loop = asyncio.get_running_loop()
        assert self.proc.stdout is not None
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline), timeout)
            if not line:
                break
            match = re.search(r"ws://127\.0\.0\.1:\d+", line)
            if match:
                self.url = match.group(0)
                # Keep draining its output so it never blocks on a full pipe.
                loop.run_in_executor(None, self.proc.stdout.read)
                return self.url
        raise ConnectError("the local bench server did not start", "run `decart serve` by hand to see why")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def run_bench(
    config: BenchConfig,
    reporter: ConsoleReporter,
    machine: str,
    on_progress: Callable[[float], None] | None = None,
) -> BenchReport:
    """Run one bench session and compute its report."""
    model = config.model
    server: ChildServer | None = None
    url = config.url
    try:
        if url is None:
            server = ChildServer(config.server_args)
            url = await server.wait_ready(config.connect_timeout)
        probe = BenchProbe(warmup=config.warmup)
        edit = EditConfig(
            source=SourceConfig(spec="test", width=model.width, height=model.height, fps=model.fps),
            model=model.name,
            url=url,
            api_key=config.api_key or "bench",
            prompt=config.prompt,
            output=config.output,
            show=False,
            duration=config.warmup + config.duration + 1.0,
            read_stdin=False,
            connect_timeout=config.connect_timeout,
            ack_timeout=config.connect_timeout,
            transport=config.transport,
        )
        session = EditSession(edit, model, reporter, probe=probe)
        probe.started = time.monotonic()
        task = asyncio.ensure_future(session.run())
        counters = await _measure_window(probe, config, task, server, on_progress)
        await task
    finally:
        if server is not None:
            server.stop()
    return _report(config, probe, session, counters, url, machine)


async def _measure_window(probe: BenchProbe, config: BenchConfig, task: asyncio.Future, server: ChildServer | None, on_progress) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Sample byte and CPU counters at the start and end of the measurement window, and RSS throughout it."""
    while probe.window_start is None:
        if task.done():
            task.result()  # raises the session's error
            raise ConnectError("the session ended before any edited frame came back")
        await asyncio.sleep(0.02)
        if "first_frame" in probe.events and on_progress:
            on_progress(0.0)
    start = time.monotonic()
    bytes0 = await probe.transport_bytes()
    cpu0 = _self_cpu_seconds()
    server0 = _proc_cpu_seconds(server.proc.pid) if server else None
    traces = {"client": MemoryTrace(), "server": MemoryTrace(server.proc.pid) if server else None}

    def sample_memory(at: float) -> None:
        for trace in traces.values():
            if trace is not None:
                trace.sample(at)

    sample_memory(0.0)
    next_sample = MEMORY_EVERY
    while time.monotonic() - start < config.duration:
        if task.done():
            break
        await asyncio.sleep(0.1)
        now = time.monotonic() - start
        if now >= next_sample:
            sample_memory(now)
            next_sample += MEMORY_EVERY
        if on_progress:
            on_progress(min(1.0, now / config.duration))
    probe.end_window()
    elapsed = time.monotonic() - start
    sample_memory(elapsed)
    bytes1 = await probe.transport_bytes()
    cpu1 = _self_cpu_seconds()
    server1 = _proc_cpu_seconds(server.proc.pid) if server else None
    return {
        "elapsed": elapsed,
        "up_kbps": None if bytes0 is None or bytes1 is None else (bytes1[0] - bytes0[0]) * 8 / elapsed / 1000,
        "down_kbps": None if bytes0 is None or bytes1 is None else (bytes1[1] - bytes0[1]) * 8 / elapsed / 1000,
        "client_cpu": (cpu1 - cpu0) / elapsed * 100,
        "server_cpu": None if server0 is None or server1 is None else (server1 - server0) / elapsed * 100,
        "memory_mb": {name: (trace.figures() if trace else memory_figures([])) for name, trace in traces.items()},
    }


def _steps(probe: BenchProbe) -> dict[str, float]:
    """The time line to the first edited frame: the source, the link's own steps (:attr:`Link.steps`), the frame; seconds from the start."""
    marks = {name: at for name, at in probe.events.items() if name == "source open"}
    if probe.link is not None:
        marks.update(probe.link.steps)
    if "first_frame" in probe.events:
        marks["first edited frame"] = probe.events["first_frame"]
    return {name: round(at - probe.started, 4) for name, at in sorted(marks.items(), key=lambda item: item[1])}


def _report(config: BenchConfig, probe: BenchProbe, session, counters: dict[str, Any], url: str, machine: str) -> BenchReport:  # type: ignore[no-untyped-def]
    events = probe.events
    t0 = probe.started

    def span(a: str | None, b: str) -> float | None:
        start = t0 if a is None else events.get(a)
        end = events.get(b)
        return None if start is None or end is None else round(end - start, 4)

    elapsed = counters["elapsed"] or config.duration
    window_end = probe.window_end or time.monotonic()
    # Frames sent in the window that had time to come back, but never did.
    settled = [fid for fid, at in probe.sent_at.items() if at <= window_end - 0.5]
    lost = sum(1 for fid in settled if fid not in probe.received_ids)
    stats = session.stats
    lat = probe.latencies_ms
    return BenchReport(
        machine=machine,
        server=p.display_url(url) + (" (local child process)" if config.url is None else ""),
        model=config.model.name,
        transport=config.transport,
        prompt=config.prompt or "",
        duration=round(elapsed, 3),
        warmup=config.warmup,
        connect_to_ready=span(None, "ready"),
        ready_to_first_frame=span("ready", "first_frame"),
        connect_to_first_frame=span(None, "first_frame"),
        steps=_steps(probe),
        latency_ms={
            "p50": _percentile(lat, 0.5),
            "p95": _percentile(lat, 0.95),
            "max": max(lat) if lat else None,
            "mean": statistics.fmean(lat) if lat else None,
        },
        output_fps=round(probe.frames_received / elapsed, 2),
        frames_sent=len(probe.sent_at),
        frames_received=probe.frames_received,
        dropped={
            "source": stats.frames_dropped_source,
            "network_or_server": lost,
            "unreadable": probe.unreadable,
        },
        bitrate_kbps={"up": counters["up_kbps"], "down": counters["down_kbps"]},
        psnr_db={
            "mean": statistics.fmean(probe.psnr_db) if probe.psnr_db else None,
            "min": min(probe.psnr_db) if probe.psnr_db else None,
        },
        cpu_percent={"client": counters["client_cpu"], "server": counters["server_cpu"]},
        memory_mb=counters["memory_mb"],
        # "received": the whole session's edited frames (warm-up included), as the file's are.
        recorded={"path": str(config.output), "frames": stats.frames_recorded, "received": stats.frames_received} if config.output else {},
        rtc_tuning=rtc.status(),
    )
