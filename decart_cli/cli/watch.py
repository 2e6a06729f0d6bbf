"""``decart watch TOKEN``: a running session's edited video, receive-only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..protocol.watch_token import decode
from ..config import HOSTED_URL, Screen, WatchConfig
from ..errors import UsageError
from ..ui.reporter import ConsoleReporter
from .fixes import FIXES
from . import app, configure_media, prepare_windows, run_stoppable, setup_logging, user_errors
from .options import at_least


@app.command()
@user_errors
def watch(
    token: str = typer.Argument(..., help="The session's token: `decart edit` prints the whole command (decart watch TOKEN ...), the SDKs call it subscribe_token."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Record what is watched to this .mp4 or .mkv file."),
    show: Optional[bool] = typer.Option(None, "--show/--no-show", help="Show the video in a window \\[default: when a display exists]."),
    duration: Optional[float] = typer.Option(None, "--duration", callback=at_least(0.1), help="Stop after this many seconds of video."),
    url: Optional[str] = typer.Option(None, "--url", help="The server the session runs on \\[default: the hosted service]; `decart edit` prints it for a local server."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="DECART_API_KEY", show_envvar=True, show_default=False, help="API key for the hosted service."),
    connect_timeout: float = typer.Option(15.0, "--connect-timeout", callback=at_least(0.1), help="Seconds to wait for the server and the first frame."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More logging (-vv for debug)."),
) -> None:
    """Watch (and record) a running session receive-only, by the token `decart edit` prints."""
    setup_logging(verbose)
    configure_media()
    from ..media.window import display_available

    prepare_windows()
    screen = Screen.of(os.environ)

    decoded = decode(token)
    if show is None:
        show = display_available(screen)
    elif show and not display_available(screen):
        raise UsageError("cannot open a window: no display", "use --no-show -o FILE.mp4, or run where DISPLAY is set")
    if not show and output is None:
        raise UsageError("nothing to do: no window and no recording", "add -o FILE.mp4 or --show")
    key = (api_key or "").strip()
    if url:
        server_url = url
    elif key:
        server_url = HOSTED_URL
    else:
        raise UsageError("no server to watch on", "give --url (`decart edit` prints it for a local server), or set DECART_API_KEY for the hosted service")
    config = WatchConfig(
        token=decoded,
        url=server_url,
        api_key=key,
        output=output.expanduser().absolute() if output is not None else None,
        show=show,
        duration=duration,
        connect_timeout=connect_timeout,
        screen=screen,
    )
    from ..client.watch import WatchSession, render_watch_summary

    reporter = ConsoleReporter(live=False, fixes=FIXES)
    session = WatchSession(config, reporter)
    failed = True
    try:
        run_stoppable(session)
        failed = False
    finally:
        if session.stats.first_frame is not None:
            reporter.console.print(render_watch_summary(session.stats, failed=failed), soft_wrap=True, markup=False, highlight=False)
