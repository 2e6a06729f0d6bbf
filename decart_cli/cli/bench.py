"""``decart bench``: measured figures, never guesses."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..models import DEFAULT_MODEL, get_model
from . import app, user_errors

bench_app = typer.Typer(help="Measure decart on this machine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def machine_description() -> str:
    """A one-line description of this machine, for benchmark reports."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


@bench_app.command("engine")
@user_errors
def bench_engine(
    input: str = typer.Option("sample", "-i", "--input", help="Frames to edit: 'sample' (the shipped clip), 'test', or a video file."),
    model: str = typer.Option(DEFAULT_MODEL, "-m", "--model", help="Model whose frame size to use."),
    frames: int = typer.Option(100, "--frames", min=10, help="Frames to time per prompt."),
    prompt: Optional[list[str]] = typer.Option(None, "-p", "--prompt", help="Prompt to time (repeatable); default: one per edit, and some 3-edit combinations."),
    engine: Optional[str] = typer.Option(None, "--engine", help="Engine as module:Class (default: the built-in one)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Time each edit of the engine per frame (median, p95, max) against the 15 ms budget."""
    from ..engine import load_engine
    from ..engine.bench import BUDGET_MS, DEFAULT_PROMPTS, EditTiming, time_prompts
    from ..media.clip import read_frames

    chosen = get_model(model)
    load_engine(engine)  # a bad --engine fails before any work
    images = read_frames(input, chosen.width, chosen.height, frames)
    console = Console()
    table = Table(title=f"engine cost per {chosen.width}x{chosen.height} frame ({len(images)} frames of {input!r}; budget {BUDGET_MS:g} ms)")
    for column in ("prompt", "median ms", "p95 ms", "max ms", ""):
        table.add_column(column, justify="left" if column == "prompt" else "right")

    def row(result: EditTiming) -> None:
        if result.error:
            table.add_row(result.prompt, "-", "-", "-", f"[red]refused: {result.error}[/]")
        else:
            mark = "[green]ok[/]" if result.within_budget else "[red]over[/]"
            table.add_row(result.prompt or "(passthrough)", f"{result.median_ms:.2f}", f"{result.p95_ms:.2f}", f"{result.max_ms:.2f}", mark)

    with console.status("timing edits..."):
        results = time_prompts(lambda: load_engine(engine), images, prompt or DEFAULT_PROMPTS, on_result=row)
    console.print(table)
    machine = machine_description()
    console.print(f"machine: {machine}")
    over = [r for r in results if not r.within_budget]
    if json_out is not None:
        json_out.write_text(json.dumps({"machine": machine, "input": input, "frames": len(images), "budget_ms": BUDGET_MS, "results": [r.to_dict() for r in results]}, indent=2))
        console.print(f"wrote {json_out}")
    if over:
        console.print(f"[yellow]{len(over)} of {len(results)} over budget or refused[/]")
