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

from ..errors import UsageError
from ..models import DEFAULT_MODEL, HOSTED_MODEL, get_model
from . import allow_local_engines, app, configure_media, user_errors
from .edit import choose_model, transport_option
from .fixes import COPYABLE, FIXES, NOTICES
from .options import at_least

bench_app = typer.Typer(help="Measure decart on this machine: a live session (default) or the engine alone (`bench engine`).")
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
    frames: int = typer.Option(100, "--frames", callback=at_least(10), help="Frames to time per prompt."),
    prompt: Optional[list[str]] = typer.Option(None, "-p", "--prompt", help="Prompt to time (repeatable); default: one per edit, and some 3-edit combinations."),
    engine: Optional[str] = typer.Option(None, "--engine", help="Engine as module:Class (default: the built-in one)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Time each edit of the engine per frame (median, p95, max) against the 15 ms budget."""
    from ..engine import load_engine
    from ..engine.bench import BUDGET_MS, DEFAULT_PROMPTS, EditTiming, time_prompts
    from ..media.clip import read_frames

    chosen = get_model(model)
    if engine is not None:
        allow_local_engines()
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


@bench_app.callback(invoke_without_command=True)
@user_errors
def bench_session(
    ctx: typer.Context,
    duration: float = typer.Option(10.0, "--duration", callback=at_least(1.0), help="Seconds to measure, after the warm-up."),
    warmup: float = typer.Option(2.0, "--warmup", callback=at_least(0.0), help="Seconds after the first edited frame before measuring."),
    model: Optional[str] = typer.Option(None, "-m", "--model", show_default=False, help=f"Realtime model (size and rate of the source) [default: {DEFAULT_MODEL}; with --transport livekit {HOSTED_MODEL}]."),
    transport: str = typer.Option("auto", "--transport", callback=transport_option, help="auto (the model's protocol), webrtc or livekit."),
    prompt: Optional[str] = typer.Option(None, "-p", "--prompt", help="Edit to apply (default: none, so PSNR compares like with like)."),
    url: Optional[str] = typer.Option(None, "--url", help="Server to measure (default: a local `decart serve` child process)."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="DECART_API_KEY", show_envvar=True, show_default=False, help="API key, with --url."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also record the edited stream (measures the recorder's cost)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    connect_timeout: float = typer.Option(15.0, "--connect-timeout", callback=at_least(0.1), help="Seconds to wait for the server."),
    edit_cost_ms: Optional[float] = typer.Option(None, "--edit-cost-ms", callback=at_least(0.0), help="Overload test: the local server spends this long on every frame (passthrough)."),
) -> None:
    """Run a session with a moving, grainy test source and report latency, fps, drops, bitrate, PSNR, CPU and memory."""
    if ctx.invoked_subcommand is not None:
        return
    configure_media()
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..diagnose.bench.run import BenchConfig, run_bench
    from ..ui.reporter import ConsoleReporter

    server_args: tuple[str, ...] = ()
    if edit_cost_ms is not None:
        if url is not None:
            raise UsageError("--edit-cost-ms needs the local server", "drop --url")
        server_args = ("--engine", "decart_cli.diagnose.bench.engines:Costly")
        prompt = f"cost {edit_cost_ms:g}"
    chosen, transport = choose_model(model, transport, hosted=False)
    if transport == "livekit":
        from ..client.livekit import preload

        preload()  # as `decart edit` does: LiveKit's client loads while the server starts
    config = BenchConfig(
        server_args=server_args,
        model=chosen,
        transport=transport,
        duration=duration,
        warmup=warmup,
        url=url,
        api_key=(api_key or "").strip(),
        prompt=prompt,
        output=output.expanduser().absolute() if output else None,
        connect_timeout=connect_timeout,
    )
    console = Console(stderr=True)
    reporter = ConsoleReporter(console, live=False, fixes=FIXES, notices=NOTICES)
    reporter.copyable = COPYABLE
    machine = machine_description()
    with Progress(TextColumn("measuring"), BarColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("bench", total=1.0)
        report = asyncio.run(
            run_bench(config, reporter, machine, on_progress=lambda f: bar.update(task, completed=f))
        )
    out = Console()
    out.print(render_report(report))
    tuning = report.tuning_line()
    if tuning is not None:
        out.print(tuning, markup=False, highlight=False, soft_wrap=True, style="yellow")
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_dict(), indent=2))
        console.print(f"wrote {json_out}")


LEAK_DURATION = 60.0
"""Seconds of measurement before the RSS slope of the second half is shown: shorter runs see codec and pool warm-up, not leaks."""


def _fmt(value: object, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _signed(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def render_report(report) -> Table:  # type: ignore[no-untyped-def]
    """The bench report as a table."""
    table = Table(title=f"decart bench: {report.model} over {report.transport} via {report.server}, {report.duration:.0f} s after {report.warmup:g} s warm-up")
    table.add_column("figure")
    table.add_column("value", justify="right")
    lat = report.latency_ms
    rows = [
        ("connect → ready", _fmt(report.connect_to_ready, " s", 3)),
        ("ready → first edited frame", _fmt(report.ready_to_first_frame, " s", 3)),
        ("connect → first edited frame", _fmt(report.connect_to_first_frame, " s", 3)),
        *((f"  {name}", f"at {at:.3f} s") for name, at in report.steps.items()),
        ("glass-to-glass p50 / p95 / max", f"{_fmt(lat['p50'])} / {_fmt(lat['p95'])} / {_fmt(lat['max'])} ms"),
        ("output fps", _fmt(report.output_fps, "", 2)),
        ("frames sent / received", f"{report.frames_sent} / {report.frames_received}"),
        ("dropped: source / network+server / unreadable", f"{report.dropped['source']} / {report.dropped['network_or_server']} / {report.dropped['unreadable']}"),
        ("bitrate up / down", f"{_fmt(report.bitrate_kbps['up'], '', 0)} / {_fmt(report.bitrate_kbps['down'], '', 0)} kbit/s"),
        ("PSNR-Y mean / min", f"{_fmt(report.psnr_db['mean'])} / {_fmt(report.psnr_db['min'])} dB"),
        ("CPU client / server", f"{_fmt(report.cpu_percent['client'], '%', 0)} / {_fmt(report.cpu_percent['server'], '%', 0)} of a core"),
    ]
    mem = report.memory_mb
    if mem:
        client, server = mem["client"], mem["server"]
        for name, figures in (("client", client), ("server", server)):
            rows.append((f"RSS {name}: baseline / peak / end", f"{_fmt(figures['baseline'])} / {_fmt(figures['peak'])} / {_fmt(figures['end'])} MB"))
        rows.append(("RSS growth client / server", f"{_signed(client['growth'])} / {_signed(server['growth'])} MB"))
        if report.duration >= LEAK_DURATION:
            rows.append(("RSS slope, 2nd half, client / server", f"{_signed(client['slope_mb_per_min'], 2)} / {_signed(server['slope_mb_per_min'], 2)} MB/min"))
        else:  # the second half of a short run is still warm-up: its slope says nothing about leaks
            rows.append(("RSS slope (leaks)", f"needs --duration {LEAK_DURATION:g} or more; {report.duration:.0f} s shows warm-up only"))
    if report.recorded:
        rows.append(("recorded", f"{report.recorded['frames']} of {report.recorded['received']} received frames to {report.recorded['path']}"))
    for name, value in rows:
        table.add_row(name, value)
    table.caption = f"machine: {report.machine}"
    return table
