"""`decart bench engine`: a real timing run, its table and JSON shape (not the timings)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_decart


def test_engine_bench_writes_a_row_per_prompt(tmp_path: Path) -> None:
    """Each prompt gets median/p95/max and a budget verdict; a refused prompt is a row with its error."""
    out = tmp_path / "bench.json"
    result = run_decart("bench", "engine", "-i", "test", "--frames", "10", "-p", "black and white", "-p", "remove the tree", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["frames"] == 10 and report["budget_ms"] == 15.0 and "cores" in report["machine"]
    ok, refused = report["results"]
    assert ok["prompt"] == "black and white" and ok["error"] is None and ok["frames"] == 10
    assert 0 < ok["median_ms"] <= ok["p95_ms"] <= ok["max_ms"] and ok["within_budget"] is True
    assert refused["prompt"] == "remove the tree" and "remove the tree" in refused["error"] and refused["within_budget"] is False
    assert "black and white" in result.stdout and "budget 15 ms" in result.stdout


def test_engine_bench_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    """A missing input file is one error line with exit 2."""
    result = run_decart("bench", "engine", "-i", str(tmp_path / "none.mp4"))
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr


def test_session_bench_reports_every_figure(tmp_path: Path) -> None:
    """`decart bench` runs a real session against a child server and reports latency, fps, drops, bitrate, PSNR, CPU, RSS (no leak slope from a short run)."""
    out = tmp_path / "session.json"
    result = run_decart("bench", "--duration", "2", "--warmup", "0.5", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report) >= {
        "machine", "server", "model", "connect_to_ready", "ready_to_first_frame", "connect_to_first_frame",
        "latency_ms", "output_fps", "frames_sent", "frames_received", "dropped", "bitrate_kbps", "psnr_db", "cpu_percent", "memory_mb",
    }
    assert "local child process" in report["server"]
    assert 0 < report["connect_to_ready"] < report["connect_to_first_frame"] < 15
    steps = report["steps"]  # the time line to the first frame, in order (the source opens while the link begins)
    assert list(steps)[-1] == "first edited frame", steps
    assert {"source open", "control channel open", "answer received", "media connected"} <= set(steps), steps
    assert steps["source open"] < steps["answer received"], steps  # media needs the source; the socket does not
    assert list(steps.values()) == sorted(steps.values()) and steps["first edited frame"] == report["connect_to_first_frame"], steps
    assert "first edited frame" in result.stdout and "control channel open" in result.stdout
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["max"] < 5000
    assert report["frames_received"] > 10 and report["output_fps"] > 5
    assert set(report["dropped"]) == {"source", "network_or_server", "unreadable"}
    assert report["bitrate_kbps"]["up"] > 50 and report["bitrate_kbps"]["down"] > 50
    assert report["psnr_db"]["mean"] > 20
    assert report["cpu_percent"]["client"] > 0 and report["cpu_percent"]["server"] > 0
    memory = report["memory_mb"]
    assert set(memory) == {"client", "server"}
    for figures in memory.values():
        assert set(figures) == {"baseline", "peak", "end", "growth", "slope_mb_per_min"}
        assert 10 < figures["baseline"] <= figures["peak"] < 4096 and figures["end"] <= figures["peak"]
        assert figures["growth"] == round(figures["end"] - figures["baseline"], 1)
        assert isinstance(figures["slope_mb_per_min"], float)
    assert "glass-to-glass" in result.stdout and "RSS growth client / server" in result.stdout
    # A 2 s run cannot tell a leak: no MB/min figure that reads like one, and what it takes instead.
    assert "MB/min" not in result.stdout and "needs --duration 60 or more" in result.stdout


def test_memory_figures_from_samples() -> None:
    """Baseline is the first sample, end the last, growth their difference, slope a fit over the second half in MB/min."""
    from decart_cli.diagnose.bench.run import memory_figures

    # Warm-up allocation in the first half, then a steady 0.5 MB/s (30 MB/min) climb.
    samples = [(0.0, 100.0), (1.0, 140.0), (2.0, 120.0), (3.0, 120.5), (4.0, 121.0), (5.0, 121.5), (6.0, 122.0)]
    assert memory_figures(samples) == {"baseline": 100.0, "peak": 140.0, "end": 122.0, "growth": 22.0, "slope_mb_per_min": 30.0}
    flat = memory_figures([(0.0, 50.0), (1.0, 50.0), (2.0, 50.0)])
    assert flat["growth"] == 0.0 and flat["slope_mb_per_min"] == 0.0
    assert memory_figures([(0.0, 50.0)])["slope_mb_per_min"] is None
    assert set(memory_figures([]).values()) == {None}


def test_rss_is_read_from_proc_and_none_for_a_gone_process() -> None:
    """rss_bytes reads a process's resident size from /proc (this one by default) and gives None for a pid that cannot exist."""
    import os

    import pytest

    from decart_cli.diagnose.bench.run import MB, rss_bytes

    assert rss_bytes(2**22 + 1) is None  # above Linux's largest pid_max; elsewhere there is no /proc at all
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("no /proc on this system")
    before = rss_bytes()
    assert before is not None and abs(rss_bytes(os.getpid()) - before) < MB
    # Another process's growth: in this one, memory freed by earlier tests may already be resident.
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, numpy as np; print('ready', flush=True); sys.stdin.readline(); b = np.ones(64 << 20, np.uint8); print(b[-1], flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        idle = rss_bytes(child.pid)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "1"  # written pages count towards RSS
        assert idle is not None and rss_bytes(child.pid) - idle > 32 * MB
    finally:
        child.kill()
        child.wait()


def test_probe_frees_the_kept_lumas_of_dropped_frames() -> None:
    """When a frame comes back, the probe frees the PSNR lumas it kept for frames sent before it (dropped), instead of holding up to 64."""
    from av import VideoFrame

    from decart_cli.diagnose.bench import marker
    from decart_cli.diagnose.bench.probe import PSNR_EVERY, BenchProbe

    probe = BenchProbe(warmup=0.0)
    probe.mark("first_frame")
    frames = [VideoFrame(width=marker.WIDTH, height=marker.BLOCK, format="yuv420p") for _ in range(3 * PSNR_EVERY + 1)]
    for frame in frames:
        probe.stamp(frame)
    assert len(probe._kept) == 4  # ids 0, 5, 10, 15: one luma in PSNR_EVERY
    probe.on_frame(frames[2 * PSNR_EVERY])  # 0 and 5 never came back: dropped on the way
    assert list(probe._kept) == [3 * PSNR_EVERY] and probe.psnr_db == [float("inf")]
    probe.on_frame(frames[2 * PSNR_EVERY + 1])  # a frame with no kept luma frees nothing
    assert list(probe._kept) == [3 * PSNR_EVERY] and probe.frames_received == 2


def test_costly_engine_takes_cost_prompts_only() -> None:
    """The overload engine understands 'cost N' (ms), passes frames through, and refuses anything else."""
    import numpy as np
    import pytest

    from decart_cli.diagnose.bench.engines import Costly
    from decart_cli.errors import UnsupportedPrompt

    engine = Costly()
    engine.set_prompt("cost 40")
    assert engine.cost == 0.04 and engine.describe() == "cost 40 ms"
    engine.set_prompt("")
    assert engine.cost == 0
    frame = np.zeros((6, 4), np.uint8)
    assert engine.process(frame) is frame
    with pytest.raises(UnsupportedPrompt, match="cost <milliseconds>"):
        engine.set_prompt("add sunglasses")


def test_psnr_matches_its_definition() -> None:
    import math

    import numpy as np

    from decart_cli.diagnose.bench.probe import psnr

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (704, 1280), np.uint8)
    b = np.clip(a.astype(np.int16) + rng.integers(-6, 7, a.shape), 0, 255).astype(np.uint8)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    assert math.isclose(psnr(a, b), 10 * math.log10(255**2 / mse), rel_tol=1e-9)
    assert psnr(a, a) == math.inf
    assert math.isclose(psnr(a[:, :640], b[:, :640]), psnr(a[:, :640].copy(), b[:, :640].copy()))
