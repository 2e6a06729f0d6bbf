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
