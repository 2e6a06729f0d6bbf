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
    """`decart bench` runs a real session against a child server and reports latency, fps, drops, bitrate, PSNR, CPU."""
    out = tmp_path / "session.json"
    result = run_decart("bench", "--duration", "2", "--warmup", "0.5", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report) >= {
        "machine", "server", "model", "connect_to_ready", "ready_to_first_frame", "connect_to_first_frame",
        "latency_ms", "output_fps", "frames_sent", "frames_received", "dropped", "bitrate_kbps", "psnr_db", "cpu_percent",
    }
    assert "local child process" in report["server"]
    assert 0 < report["connect_to_ready"] < report["connect_to_first_frame"] < 15
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["max"] < 5000
    assert report["frames_received"] > 10 and report["output_fps"] > 5
    assert set(report["dropped"]) == {"source", "network_or_server", "unreadable"}
    assert report["bitrate_kbps"]["up"] > 50 and report["bitrate_kbps"]["down"] > 50
    assert report["psnr_db"]["mean"] > 20
    assert report["cpu_percent"]["client"] > 0 and report["cpu_percent"]["server"] > 0
    assert "glass-to-glass" in result.stdout


def test_costly_engine_takes_cost_prompts_only() -> None:
    """The overload engine understands 'cost N' (ms), passes frames through, and refuses anything else."""
    import numpy as np
    import pytest

    from decart_cli.bench.engines import Costly
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

    from decart_cli.bench.probe import psnr

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (704, 1280), np.uint8)
    b = np.clip(a.astype(np.int16) + rng.integers(-6, 7, a.shape), 0, 255).astype(np.uint8)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    assert math.isclose(psnr(a, b), 10 * math.log10(255**2 / mse), rel_tol=1e-9)
    assert psnr(a, a) == math.inf
    assert math.isclose(psnr(a[:, :640], b[:, :640]), psnr(a[:, :640].copy(), b[:, :640].copy()))
