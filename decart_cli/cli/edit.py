"""``decart edit`` and ``decart models``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..config import FIT_MODES, HOSTED_URL, EditConfig, SourceConfig
from ..errors import ProtocolError, UsageError
from ..models import DEFAULT_MODEL, LEGACY, MODELS, get_model, models_of
from ..protocol import check_prompt
from ..ui import ConsoleReporter, render_summary
from . import app, configure_media, setup_logging, user_errors


def _fit(value: str) -> str:
    if value not in FIT_MODES:
        raise typer.BadParameter(f"use one of {', '.join(FIT_MODES)}")
    return value


def _check_prompt(text: str) -> str:
    """The -p text stripped; a UsageError when it is empty or over the hosted API's limit."""
    if not text.strip():
        raise UsageError("the prompt is empty", "give an edit instruction with -p, or leave -p out to start unedited")
    try:
        return check_prompt(text)
    except ProtocolError as exc:
        raise UsageError(exc.message, "shorten the -p text") from None


@app.command()
@user_errors
def edit(
    prompt: Optional[str] = typer.Option(None, "-p", "--prompt", help="Initial edit instruction, applied before the first frame."),
    input: str = typer.Option("0", "-i", "--input", help="Camera index (0) or device path, a video file, 'sample' (shipped clip with a face) or 'test' (built-in pattern)."),
    model: str = typer.Option(DEFAULT_MODEL, "-m", "--model", help="Realtime model (see `decart models`)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Record the edited video to this .mp4 or .mkv file."),
    show: Optional[bool] = typer.Option(None, "--show/--no-show", help="Show the edited video in a window [default: when a display exists]."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.1, help="Stop after this many seconds of edited video."),
    fit: str = typer.Option("crop", "--fit", callback=_fit, help="Fit the input to the model's size: crop, pad or stretch."),
    mirror: bool = typer.Option(False, "--mirror", help="Flip the input horizontally (front-facing cameras)."),
    loop: bool = typer.Option(False, "--loop", help="Play a file input again and again."),
    enhance: bool = typer.Option(True, "--enhance/--no-enhance", help="Let the server enhance prompts."),
    url: Optional[str] = typer.Option(None, "--url", help="Server base URL, e.g. wss://api3.decart.ai or ws://127.0.0.1:8765."),
    local: bool = typer.Option(False, "--local", help="Use the built-in local server even when an API key is set."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="DECART_API_KEY", show_envvar=True, show_default=False, help="API key for the hosted service."),
    connect_timeout: float = typer.Option(15.0, "--connect-timeout", min=0.1, help="Seconds to wait for the server."),
    reconnect: int = typer.Option(5, "--reconnect", min=0, help="Reconnect attempts when an established session drops (0: stop instead)."),
    reconnect_delay: float = typer.Option(1.0, "--reconnect-delay", min=0.0, help="Seconds before the first reconnect attempt; doubles each attempt."),
    reconnect_max_delay: float = typer.Option(10.0, "--reconnect-max-delay", min=0.0, help="Longest wait between reconnect attempts."),
    stdin: bool = typer.Option(True, "--stdin/--no-stdin", help="Read new prompts from standard input, one per line."),
    stats: bool = typer.Option(False, "--stats", help="Show live latency and bitrate (stamps a small frame-id strip into the video's top-left corner)."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More logging (-vv for debug)."),
) -> None:
    """Edit a camera or video file live: show it, record it, change the prompt from stdin."""
    setup_logging(verbose)
    configure_media()
    from ..media.window import display_available  # cv2 only, no aiortc

    chosen = legacy_model(model)
    if prompt is not None:
        prompt = _check_prompt(prompt)
    if show is None:
        show = display_available()
    elif show and not display_available():
        raise UsageError("cannot open a window: no display", "use --no-show, or run where DISPLAY is set")
    if not show and output is None:
        raise UsageError("nothing to do: no window and no recording", "add -o FILE.mp4, or --show")
    key = (api_key or "").strip()
    if local:
        server_url = None
    elif url:
        server_url = url
    elif key:
        server_url = HOSTED_URL
    else:
        server_url = None
    config = EditConfig(
        source=SourceConfig(spec=input, width=chosen.width, height=chosen.height, fps=chosen.fps, fit=fit, mirror=mirror, loop=loop),  # type: ignore[arg-type]
        model=chosen.name,
        url=server_url,
        api_key=key,
        prompt=prompt,
        enhance=enhance,
        output=output.expanduser().absolute() if output is not None else None,
        show=show,
        duration=duration,
        read_stdin=stdin,
        connect_timeout=connect_timeout,
        ack_timeout=connect_timeout,
        stats=stats,
        reconnect_attempts=reconnect,
        reconnect_delay=reconnect_delay,
        reconnect_max_delay=max(reconnect_max_delay, reconnect_delay),
    )
    from ..session import EditSession

    reporter = ConsoleReporter()
    session = EditSession(config, chosen, reporter)
    failed = True
    try:
        asyncio.run(_run(session))
        failed = False
    finally:
        # Also after a failure: say what was recorded before it.
        if session.stats.media_started is not None:
            summary = render_summary(session.stats, failed=failed)
            reporter.console.print(summary, soft_wrap=True, markup=False, highlight=False)


def legacy_model(name: str):  # type: ignore[no-untyped-def]
    """The model called ``name``, for a session of the legacy protocol (the only one the client speaks yet)."""
    chosen = get_model(name)
    if chosen.uses_livekit:
        legacy = ", ".join(m.name for m in models_of(LEGACY))
        raise UsageError(
            f"model {chosen.name} speaks today's protocol (media through a LiveKit room), which decart edit does not speak yet",
            f"use a legacy model ({legacy}); `decart serve` serves {chosen.name} to the official SDK 0.2.x",
        )
    return chosen


async def _run(session) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()

    def on_signal(name: str, signum: int) -> None:
        # First signal: stop gracefully. A second one falls through to the
        # default handler, for when the user really wants out now.
        session.request_stop(name)
        loop.remove_signal_handler(signum)

    for signum, name in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
        try:
            loop.add_signal_handler(signum, on_signal, name, signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    await session.run()


@app.command()
def models() -> None:
    """List the realtime models: protocol generation, frame rate and size."""
    table = Table(title="realtime models")
    table.add_column("model")
    table.add_column("protocol")
    table.add_column("fps", justify="right")
    table.add_column("size")
    table.add_column("what it does")
    for m in MODELS.values():
        name = m.name + (" (default)" if m.name == DEFAULT_MODEL else "")
        notes = [m.description]
        if m.alias_of:
            notes.append(f"alias of {m.alias_of}")
        if m.speeds:
            notes.append("speed=" + "|".join(m.speeds))
        protocol = "today's (LiveKit)" if m.uses_livekit else "legacy (WebRTC)"
        table.add_row(name, protocol, str(m.fps), f"{m.width}x{m.height}", "; ".join(notes))
    Console().print(table)
