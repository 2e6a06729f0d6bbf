"""``decart serve``: the local realtime server."""

from __future__ import annotations

import asyncio
import errno
import ssl
from pathlib import Path
from typing import Optional

import typer

from ..config import DEFAULT_PORT, ServeConfig
from ..errors import DecartError, UsageError
from ..protocol import is_loopback_host
from . import allow_local_engines, app, configure_editing_process, configure_media, err_console, run_stoppable, setup_logging, user_errors
from .options import at_least

_DEFAULTS = ServeConfig()


@app.command()
@user_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", callback=at_least(0, at_most=65535), help="Port to listen on (0: any free port)."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="DECART_SERVE_API_KEY", show_envvar=True, show_default=False, help="Only accept clients presenting this key (default on loopback: accept any). Prefer the variable or --api-key-file: a command line shows in ps."),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", show_default=False, help="Read the key clients must present from this file (its first line)."),
    engine: Optional[str] = typer.Option(None, "--engine", help="Editing engine as module:Class (default: the built-in CPU engine)."),
    max_sessions: int = typer.Option(_DEFAULTS.max_sessions, "--max-sessions", callback=at_least(0), help="Concurrent sessions (0: no limit); more clients are told the server is full."),
    max_queue: int = typer.Option(_DEFAULTS.max_queue, "--max-queue", callback=at_least(0), help="Clients of today's protocol that may wait for a session (0: no limit); one more is told the server is at capacity."),
    max_connections_per_address: int = typer.Option(_DEFAULTS.max_connections_per_address, "--max-connections-per-address", callback=at_least(0), help="Open connections one client address may hold (0: no limit); one more is answered 429 and closed."),
    idle_timeout: float = typer.Option(_DEFAULTS.idle_timeout, "--idle-timeout", callback=at_least(0), help="Seconds a client may stay connected without an offer (0: forever)."),
    prompt_rate: float = typer.Option(_DEFAULTS.prompt_rate, "--prompt-rate", callback=at_least(0), help="Prompts per second per session (0: no limit); excess prompts are refused in their ack."),
    prompt_burst: int = typer.Option(_DEFAULTS.prompt_burst, "--prompt-burst", callback=at_least(1), help="Prompts a session may send at once before --prompt-rate applies."),
    max_prompt_length: int = typer.Option(_DEFAULTS.max_prompt_length, "--max-prompt-length", callback=at_least(1), help="Longest prompt accepted, in characters."),
    max_message_bytes: int = typer.Option(_DEFAULTS.max_message_bytes, "--max-message-bytes", callback=at_least(1024), help="Largest WebSocket message accepted; a bigger one closes that client's socket."),
    sessions_per_key: int = typer.Option(_DEFAULTS.sessions_per_key, "--sessions-per-key", callback=at_least(0), help="Sessions one API key (with its client tokens) may hold at once; one more is closed with 1013, as the service does (0: no limit)."),
    web_root: Optional[Path] = typer.Option(None, "--web-root", exists=True, file_okay=False, dir_okay=True, readable=True, resolve_path=True, show_default=False, help="Serve this folder's files at their paths (your web app on this server's origin); its index.html replaces the built-in page."),
    allow_origin: list[str] = typer.Option([], "--allow-origin", metavar="ORIGIN", show_default=False, help="Let web pages of this origin (https://app.example:8443) use the server, besides loopback pages and its own; repeat for more, * for any."),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", exists=True, dir_okay=False, readable=True, resolve_path=True, show_default=False, help="PEM certificate (chain): serve wss:// and https:// (with --tls-key), as phones need for the camera."),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", exists=True, dir_okay=False, readable=True, resolve_path=True, show_default=False, help="PEM private key of --tls-cert."),
    open_page: bool = typer.Option(False, "--open", help="Open the browser page (your camera, a prompt box, the edit) once listening."),
    verbose: int = typer.Option(1, "-v", "--verbose", count=True, help="More logging (-vv for debug)."),
) -> None:
    """Run a local server that speaks the realtime API's protocol, editing on the CPU."""
    setup_logging(verbose)
    configure_media()
    configure_editing_process()
    if engine is not None:
        allow_local_engines()
    key = _read_key(api_key, api_key_file)
    if key is None and not is_loopback_host(host):
        raise UsageError(
            f"--host {host} serves beyond this machine: it needs a key",
            "set DECART_SERVE_API_KEY or --api-key-file FILE (make one: head -c 24 /dev/urandom | base64 > FILE)",
        )
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", "give both: the certificate and its private key")
    config = ServeConfig(
        host=host,
        port=port,
        api_key=key,
        engine=engine,
        max_sessions=max_sessions,
        max_queue=max_queue,
        max_connections_per_address=max_connections_per_address,
        idle_timeout=idle_timeout,
        prompt_rate=prompt_rate,
        prompt_burst=prompt_burst,
        max_prompt_length=max_prompt_length,
        max_message_bytes=max_message_bytes,
        sessions_per_key=sessions_per_key,
        web_root=None if web_root is None else str(web_root),
        allowed_origins=tuple(allow_origin),
        tls_cert=None if tls_cert is None else str(tls_cert),
        tls_key=None if tls_key is None else str(tls_key),
    )
    run_stoppable(Serving(config, open_page=open_page))


def _read_key(api_key: str | None, path: Path | None) -> str | None:
    """The key clients must present: ``--api-key`` (or its variable), else the first line of ``--api-key-file``; None for none."""
    if api_key is not None and path is not None:
        raise UsageError("--api-key (or DECART_SERVE_API_KEY) and --api-key-file both give a key", "keep one of them")
    if path is not None:
        try:
            lines = path.expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
            raise UsageError(f"cannot read the key file {path}: {reason}", "check the path of --api-key-file") from None
        api_key = lines[0] if lines else ""
        if not api_key.strip():
            raise UsageError(f"the key file {path} is empty", "write the key on its first line")
    if api_key is None:
        return None
    api_key = api_key.strip()
    if not api_key:
        raise UsageError("the API key is empty", "give a key, or leave out --api-key and DECART_SERVE_API_KEY")
    return api_key


def page_url(server_url: str) -> str:
    """The browser page of a server reached at ``server_url`` (``ws://host:port`` or ``wss://``); a wildcard host is shown as 127.0.0.1."""
    scheme, host_port = server_url.split("://", 1)
    host, _, port = host_port.rpartition(":")
    if host in ("0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{'https' if scheme == 'wss' else 'http'}://{host}:{port}/"


class Serving:
    """``decart serve`` run until a stop is asked (by :func:`run_stoppable`, which routes SIGINT / SIGTERM to :meth:`request_stop`)."""

    def __init__(self, config: ServeConfig, *, open_page: bool = False) -> None:
        self.config = config
        self.open_page = open_page
        self._stop = asyncio.Event()

    def request_stop(self, reason: str = "stopped", *, hurry: bool = False) -> None:
        """Stop serving: clients of today's protocol are told why, every socket is closed (a second press changes nothing; the third leaves at once)."""
        self._stop.set()

    async def run(self) -> None:
        await _serve(self.config, self._stop, open_page=self.open_page)


async def _serve(config: ServeConfig, stop: asyncio.Event, *, open_page: bool = False) -> None:
    from ..server import Server  # here, not at the top: every other command loads without the server (its modules, aiohttp)

    server = Server(config)
    try:
        await server.start()
    except ssl.SSLError as exc:
        raise UsageError(f"cannot use --tls-cert and --tls-key ({exc.reason or exc})", "give a PEM certificate and the private key that matches it") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DecartError(f"port {config.port} on {config.host} is already in use", "pick another with --port, or --port 0") from None
        raise DecartError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})", "check --host and --port") from None
    auth = "clients must present the API key" if config.api_key else "any API key accepted"
    bound = ", ".join(server.bound_urls)
    err_console.print(f"decart serve: listening on {bound} ({auth}); the browser page is {page_url(server.url)}; Ctrl-C to stop", soft_wrap=True, highlight=False, markup=False)
    if open_page:
        import webbrowser

        if not await asyncio.to_thread(webbrowser.open, page_url(server.url)):
            err_console.print(f"could not open a browser: open {page_url(server.url)} yourself", soft_wrap=True, highlight=False, markup=False)
    try:
        await stop.wait()
    finally:
        await server.stop()
