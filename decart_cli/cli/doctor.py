"""`decart doctor`: check what a session needs on this machine, and say what to fix."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..config import HOSTED_URL, Screen
from . import app, configure_media, prepare_windows, setup_logging, user_errors
from .fixes import FIXES
from .edit import choose_model, transport_option
from .options import at_least

_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


@app.command()
@user_errors
def doctor(
    input: Optional[str] = typer.Option(None, "-i", "--input", metavar="SOURCE", help="The source the session will use, as `decart edit -i` (a camera, a file, 'sample', 'test') \\[default: every camera found]."),
    url: Optional[str] = typer.Option(None, "--url", help="Server to check \\[default: the hosted service with a key, else the local server]."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="DECART_API_KEY", show_envvar=True, show_default=False, help="API key for the hosted service (checked, never shown)."),
    local: bool = typer.Option(False, "--local", help="Check the local server even when a key is set."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model to probe the server with \\[default: as `decart edit`]."),
    transport: str = typer.Option("auto", "--transport", callback=transport_option, help="auto, webrtc or livekit, as `decart edit`."),
    camera_seconds: float = typer.Option(2.0, "--camera-seconds", callback=at_least(0.2), help="How long each camera's frame rate is measured."),
    json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON (for scripts) instead of a table."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More logging."),
) -> None:
    """Check the input (every camera, or the -i source), display, virtual camera, microphone, API key, server and local engine; exit 0 when a session would work."""
    from ..diagnose import doctor as d

    setup_logging(verbose)
    configure_media()
    prepare_windows()
    key = (api_key or "").strip()
    server_url = None if local else url or (HOSTED_URL if key else None)
    hosted = server_url is not None and bool(key) and server_url.rstrip("/") == HOSTED_URL
    chosen, transport = choose_model(model, "webrtc" if transport == "auto" and not hosted and model is None else transport, hosted=hosted)
    console = Console(stderr=True)
    with console.status("checking...") if not json_out else contextlib.nullcontext():
        if input is None:
            checks = d.check_cameras(d.camera_candidates(), camera_seconds)
        else:
            checks = d.check_source(input, chosen.width, chosen.height, chosen.fps, camera_seconds)
        checks += [d.check_display(Screen.of(os.environ)), d.check_virtual_camera(), d.check_microphone(), d.check_key(bool(key))]
        checks.append(asyncio.run(d.check_server(server_url, key, chosen, transport)))
        checks.append(d.check_engine(chosen.width, chosen.height, chosen.fps))
    works = d.would_work(checks)
    if json_out:
        print(json.dumps({"would_work": works, "checks": [c.to_dict(FIXES) for c in checks]}, indent=2))
    else:
        table = Table(title="decart doctor")
        for column in ("check", "", "found", "fix"):
            table.add_column(column)
        for check in checks:
            table.add_row(check.name, f"[{_STYLE[check.status]}]{check.status}[/]", check.detail, check.advice(FIXES))
        Console().print(table)
        Console().print("a session would work" if works else "[red]a session would not work[/]: fix the failed lines above")
    sys.exit(0 if works else 1)

