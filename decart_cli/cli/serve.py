"""``decart serve``: the local realtime server."""

from __future__ import annotations

import asyncio
import errno
import signal
from typing import Optional

import typer

from ..config import DEFAULT_PORT, ServeConfig
from ..errors import DecartError
from ..server import Server
from . import app, configure_media, err_console, setup_logging, user_errors

_DEFAULTS = ServeConfig()


@app.command()
@user_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    api_key: Optional[str] = typer.Option(None, "--api-key", show_default=False, help="Only accept clients presenting this key (default: accept any)."),
    engine: Optional[str] = typer.Option(None, "--engine", help="Editing engine as module:Class (default: the built-in CPU engine)."),
    max_sessions: int = typer.Option(_DEFAULTS.max_sessions, "--max-sessions", min=0, help="Concurrent sessions (0: no limit); more clients are told the server is full."),
    idle_timeout: float = typer.Option(_DEFAULTS.idle_timeout, "--idle-timeout", min=0, help="Seconds a client may stay connected without an offer (0: forever)."),
    prompt_rate: float = typer.Option(_DEFAULTS.prompt_rate, "--prompt-rate", min=0, help="Prompts per second per session (0: no limit); excess prompts are refused in their ack."),
    prompt_burst: int = typer.Option(_DEFAULTS.prompt_burst, "--prompt-burst", min=1, help="Prompts a session may send at once before --prompt-rate applies."),
    max_prompt_length: int = typer.Option(_DEFAULTS.max_prompt_length, "--max-prompt-length", min=1, help="Longest prompt accepted, in characters."),
    max_message_bytes: int = typer.Option(_DEFAULTS.max_message_bytes, "--max-message-bytes", min=1024, help="Largest WebSocket message accepted; a bigger one closes that client's socket."),
    verbose: int = typer.Option(1, "-v", "--verbose", count=True, help="More logging (-vv for debug)."),
) -> None:
    """Run a local server that speaks the realtime API's protocol, editing on the CPU."""
    setup_logging(verbose)
    configure_media()
    config = ServeConfig(
        host=host,
        port=port,
        api_key=api_key,
        engine=engine,
        max_sessions=max_sessions,
        idle_timeout=idle_timeout,
        prompt_rate=prompt_rate,
        prompt_burst=prompt_burst,
        max_prompt_length=max_prompt_length,
        max_message_bytes=max_message_bytes,
    )
    asyncio.run(_serve(config))


async def _serve(config: ServeConfig) -> None:
    server = Server(config)
    try:
        await server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DecartError(f"port {config.port} on {config.host} is already in use", "pick another with --port, or --port 0") from None
        raise DecartError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})", "check --host and --port") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    auth = "clients must present the API key" if config.api_key else "any API key accepted"
    err_console.print(f"decart serve: listening on {server.url} ({auth}); Ctrl-C to stop", soft_wrap=True, highlight=False, markup=False)
    try:
        await stop.wait()
    finally:
        await server.stop()
