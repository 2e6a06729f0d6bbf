"""``decart edit`` and ``decart models``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich import box
from rich.table import Table

from ..client.cues import Cue, parse_cues
from ..config import CODECS, FIT_MODES, VIEWS, HOSTED_URL, EditConfig, Screen, ServeConfig, SourceConfig
from ..errors import ProtocolError, UsageError
from ..media.image import load_image
from ..models import DEFAULT_MODEL, HOSTED_MODEL, LEGACY, MODELS, RESOLUTIONS, TODAY, Model, get_model, names_of
from ..protocol import check_prompt, display_url, stream_url
from ..ui.prompt_line import PromptLine, ToolbarReporter
from ..ui.reporter import ConsoleReporter, render_summary
from .fixes import COPYABLE, FIXES, NOTICES
from . import app, configure_editing_process, configure_media, prepare_windows, run_stoppable, setup_logging, user_errors
from .options import at_least

if TYPE_CHECKING:
    from ..server import Server


TRANSPORTS = ("auto", "webrtc", "livekit")
INPUT, OUTPUT, SERVER, SESSION = "Input", "Output", "Server", "Session"
"""``--help``'s panels: each is a table of its own, so short option names leave the help text room at 80 columns."""


def _fit(value: str) -> str:
    if value not in FIT_MODES:
        raise typer.BadParameter(f"use one of {', '.join(FIT_MODES)}")
    return value


def _view(value: str) -> str:
    if value not in VIEWS:
        raise typer.BadParameter(f"use one of {', '.join(VIEWS)}")
    return value


def _resolution(value: str | None) -> str | None:
    if value is not None and value not in RESOLUTIONS:
        raise typer.BadParameter(f"use one of {', '.join(RESOLUTIONS)}")
    return value


def _codec(value: str) -> str:
    value = value.lower()
    if value not in CODECS:
        raise typer.BadParameter(f"use one of {', '.join(CODECS)}")
    return value


def transport_option(value: str) -> str:
    if value not in TRANSPORTS:
        raise typer.BadParameter(f"use one of {', '.join(TRANSPORTS)}")
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
    input: str = typer.Option("0", "-i", "--input", metavar="SOURCE", rich_help_panel=INPUT, help="Camera index (0) or device path, a video file, 'sample' (shipped clip with a face) or 'test' (built-in pattern)."),
    audio: Optional[bool] = typer.Option(None, "--audio/--no-audio", rich_help_panel=INPUT, help="Sound in the recording (and to the server): a file's own by default; --audio also records the default microphone for a camera."),
    fit: str = typer.Option("crop", "--fit", callback=_fit, metavar="MODE", rich_help_panel=INPUT, help="Fit the input to the model's size: crop, pad or stretch."),
    mirror: bool = typer.Option(False, "--mirror", rich_help_panel=INPUT, help="Flip the input horizontally (front-facing cameras)."),
    loop: bool = typer.Option(False, "--loop", rich_help_panel=INPUT, help="Play a file input again and again."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="FILE", rich_help_panel=OUTPUT, help="Record the edited video to this .mp4 or .mkv file."),
    show: Optional[bool] = typer.Option(None, "--show/--no-show", rich_help_panel=OUTPUT, help="Show the edited video in a window \\[default: when a display exists]."),
    view: str = typer.Option("edited", "--view", callback=_view, metavar="VIEW", rich_help_panel=OUTPUT, help="What the window shows: edited, or side-by-side (the input beside the edit, the same moment)."),
    vcam: Optional[str] = typer.Option(None, "--vcam", metavar="[DEVICE]", show_default=False, rich_help_panel=OUTPUT, help="Also send the edited video to a virtual camera (v4l2loopback, OBS) for Zoom, Meet, OBS or a browser; DEVICE e.g. /dev/video4 \\[default: the first one found]."),
    model: Optional[str] = typer.Option(None, "-m", "--model", show_default=False, metavar="NAME", rich_help_panel=SERVER, help=f"Realtime model (see `decart models`) \\[default: {DEFAULT_MODEL} locally, {HOSTED_MODEL} on the hosted service]."),
    transport: str = typer.Option("auto", "--transport", callback=transport_option, metavar="MODE", rich_help_panel=SERVER, help="auto, webrtc (legacy protocol) or livekit (today's protocol) \\[auto: livekit on the hosted service or for today's models, else webrtc]."),
    resolution: Optional[str] = typer.Option(None, "--resolution", callback=_resolution, show_default=False, metavar="RES", rich_help_panel=SERVER, help="Output resolution, 720p or 1080p (1920x1080), for models that offer it (today's protocol; see `decart models`) \\[default: the model's own size]."),
    codec: str = typer.Option("h264", "--codec", callback=_codec, metavar="CODEC", rich_help_panel=SERVER, help="Codec the camera is published with on today's protocol: h264, vp8 or vp9."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", callback=at_least(1), metavar="SECONDS", rich_help_panel=SERVER, help="End the session once the server has billed this many seconds (a cost guard)."),
    url: Optional[str] = typer.Option(None, "--url", metavar="URL", rich_help_panel=SERVER, help="Server base URL, e.g. wss://api3.decart.ai or ws://127.0.0.1:8765."),
    local: bool = typer.Option(False, "--local", rich_help_panel=SERVER, help="Use the built-in local server even when an API key is set."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="DECART_API_KEY", show_envvar=True, show_default=False, metavar="KEY", rich_help_panel=SERVER, help="API key for the hosted service."),
    connect_timeout: float = typer.Option(15.0, "--connect-timeout", callback=at_least(0, strictly=True), metavar="SECONDS", rich_help_panel=SERVER, help="Seconds to wait for the server."),
    reconnect: int = typer.Option(5, "--reconnect", callback=at_least(0), metavar="N", rich_help_panel=SERVER, help="Reconnect attempts when an established session drops (0: stop instead)."),
    reconnect_delay: float = typer.Option(1.0, "--reconnect-delay", callback=at_least(0), metavar="SECONDS", rich_help_panel=SERVER, help="Seconds before the first reconnect attempt; doubles each attempt."),
    reconnect_max_delay: float = typer.Option(10.0, "--reconnect-max-delay", callback=at_least(0), metavar="SECONDS", rich_help_panel=SERVER, help="Longest wait between reconnect attempts."),
    prompt: Optional[str] = typer.Option(None, "-p", "--prompt", metavar="TEXT", rich_help_panel=SESSION, help="Initial edit instruction, applied before the first frame."),
    image: Optional[Path] = typer.Option(None, "--image", metavar="FILE", rich_help_panel=SESSION, help="Reference image (PNG/JPEG) for models that take one; `/image FILE` on stdin changes it."),
    cues: Optional[Path] = typer.Option(None, "--cues", metavar="FILE", rich_help_panel=SESSION, help="A cue sheet: one 'TIME prompt-or-/command' a line, TIME as SS, MM:SS(.fff) or #frame of the input."),
    duration: Optional[float] = typer.Option(None, "--duration", callback=at_least(0, strictly=True), metavar="SECONDS", rich_help_panel=SESSION, help="Stop after this many seconds of edited video."),
    enhance: bool = typer.Option(True, "--enhance/--no-enhance", rich_help_panel=SESSION, help="Let the server enhance prompts."),
    stdin: bool = typer.Option(True, "--stdin/--no-stdin", rich_help_panel=SESSION, help="Read new prompts from standard input, one per line."),
    stats: bool = typer.Option(False, "--stats", rich_help_panel=SESSION, help="Show live latency and bitrate (stamps a small frame-id strip into the video's top-left corner)."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, rich_help_panel=SESSION, help="More logging (-vv for debug)."),
) -> None:
    """Edit a camera or video file live: show it, record it, change the prompt from stdin."""
    setup_logging(verbose)
    configure_media()
    from ..media.window import display_available  # cv2 only, no aiortc

    prepare_windows()
    screen = Screen.of(os.environ)

    if prompt is not None:
        prompt = _check_prompt(prompt)
    cue_list = _read_cues(cues) if cues is not None else []
    if show is None:
        show = display_available(screen)
    elif show and not display_available(screen):
        raise UsageError("cannot open a window: no display", "use --no-show, or run where DISPLAY is set")
    if not show and output is None and vcam is None:
        raise UsageError("nothing to do: no window, no recording, no virtual camera", "add -o FILE.mp4, --show or --vcam")
    key = (api_key or "").strip()
    if local:
        server_url = None
    elif url:
        server_url = url
    elif key:
        server_url = HOSTED_URL
    else:
        server_url = None
    hosted = server_url is not None and bool(key) and server_url.rstrip("/") == HOSTED_URL
    interactive = stdin and sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
    reporter = ToolbarReporter() if interactive else ConsoleReporter()
    reporter.fixes, reporter.notices, reporter.copyable = FIXES, NOTICES, COPYABLE
    if transport == "auto" and model is None and (resolution is not None or codec != "h264"):
        transport = "livekit"  # options of today's protocol: its default model
    if transport == "auto" and model is None and server_url is not None and not hosted:
        transport = _ask_transport(server_url, key, connect_timeout, reporter)
    chosen, transport = choose_model(model, transport, hosted=hosted)
    chosen = _at_resolution(chosen, resolution, transport)
    if transport == "livekit":
        from ..client.livekit import preload

        preload()  # LiveKit's client loads while the rest is set up
    if codec != "h264" and transport != "livekit":
        raise UsageError(f"--codec {codec} is for today's protocol (livekit); model {chosen.name} speaks the legacy one (webrtc)", "drop --codec, or use a model of today's protocol (see `decart models`)")
    image_data = None
    if image is not None:
        if not chosen.accepts_image:
            takes = ", ".join(m.name for m in MODELS.values() if m.accepts_image and m.generation == chosen.generation)
            raise UsageError(f"model {chosen.name} takes no reference image", f"drop --image, or use a model that takes one ({takes})")
        image_data = load_image(image.expanduser())
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
        transport=transport,
        resolution=resolution,
        codec=codec,
        image=image_data,
        max_seconds=max_seconds,
        vcam=vcam.strip() if vcam is not None else None,
        snapshot_dir=Path.cwd(),
        view=view,
        audio=audio,
        cues=tuple(cue_list),
        screen=screen,
    )
    # aiortc and the session load only when a session runs (decart --help and decart models stay quick).
    from ..client.session import EditSession
    from ..diagnose.bench.probe import BenchProbe

    probe = BenchProbe(warmup=0.0, live=True) if config.stats else None  # --stats: the bench's latency probe, live
    prompt_line = None
    if isinstance(reporter, ToolbarReporter):
        prompt_line = PromptLine(reporter, history_file=data_dir() / "history", output=sys.stderr)
    if config.url is None:
        configure_editing_process()  # the embedded server edits in this process
    session = EditSession(config, chosen, reporter, local_server=EmbeddedServer(reporter) if config.url is None else None, prompt_line=prompt_line, probe=probe)
    failed = True
    try:
        run_stoppable(session)
        failed = False
    finally:
        # Also after a failure: say what was recorded before it.
        if session.stats.media_started is not None:
            summary = render_summary(session.stats, failed=failed)
            reporter.console.print(summary, soft_wrap=True, markup=False, highlight=False)


def _read_cues(path: Path) -> list[Cue]:
    """The cues of the sheet at ``path`` (read and checked before anything starts)."""
    try:
        text = path.expanduser().read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read the cue sheet {path}: {exc.strerror or exc}", "check the path of --cues") from None
    return parse_cues(text, path.name)


def data_dir() -> Path:
    """Where decart keeps what it remembers between sessions (the prompt history): the platform's per-user data directory."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "decart"
    if sys.platform.startswith("win"):
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "decart"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "decart"


def _ask_transport(server_url: str, key: str, timeout: float, reporter: ConsoleReporter) -> str:
    """``livekit`` or ``webrtc`` for ``--transport auto`` against a server that is not the hosted service."""
    from ..client.generation import ask_generation
    from ..client.connection import USER_AGENT

    url = stream_url(server_url, api_key=key or "local", model=HOSTED_MODEL, user_agent=USER_AGENT, livekit=True)
    answer = asyncio.run(ask_generation(url, timeout=timeout))
    if answer.livekit:
        return "livekit"
    if not answer.decart_serve:
        reporter.notice(f"the server at {display_url(server_url)} does not speak today's protocol ({answer.reason}); using the legacy one (webrtc)")
    return "webrtc"


def choose_model(name: str | None, transport: str, *, hosted: bool) -> tuple[Model, str]:
    """The model and the transport (``webrtc`` or ``livekit``) a session uses.

    ``auto`` follows the model's generation; without ``-m`` it is today's
    protocol and :data:`HOSTED_MODEL` on the hosted service (the only one it
    speaks), else the legacy path and :data:`DEFAULT_MODEL` (the faster one on
    loopback). A model of the other generation than ``--transport`` asks for
    is a usage error naming the models that fit.
    """
    if name is None:
        wants_today = transport == "livekit" or (transport == "auto" and hosted)
        name = HOSTED_MODEL if wants_today else DEFAULT_MODEL
    chosen = get_model(name)
    if transport == "auto":
        return chosen, "livekit" if chosen.uses_livekit else "webrtc"
    if (transport == "livekit") != chosen.uses_livekit:
        fitting = names_of(TODAY if transport == "livekit" else LEGACY)
        protocol = "today's protocol (livekit)" if chosen.uses_livekit else "the legacy protocol (webrtc)"
        raise UsageError(f"model {chosen.name} speaks {protocol}, not --transport {transport}", f"use one of {fitting}, or --transport auto")
    return chosen, transport


def _at_resolution(chosen: Model, resolution: str | None, transport: str) -> Model:
    """``chosen`` at ``--resolution`` (its size the one asked for); a usage error where it is not offered."""
    if resolution is None:
        return chosen
    if transport != "livekit":
        raise UsageError(f"--resolution is for today's protocol (livekit); model {chosen.name} speaks the legacy one (webrtc) at {chosen.width}x{chosen.height} only", "drop --resolution, or use a model of today's protocol (see `decart models`)")
    if not chosen.offers(resolution):
        raise UsageError(f"model {chosen.name} does not offer {resolution}: it offers {' and '.join(chosen.resolutions)} only", f"drop --resolution, or use a model that offers {resolution} ({_offering(resolution)})")
    return chosen.at(resolution)


def _offering(resolution: str) -> str:
    return ", ".join(m.name for m in MODELS.values() if m.offers(resolution))


class EmbeddedServer:
    """The local server `decart edit` runs in-process when it has no server to talk to (no key, or --local)."""

    def __init__(self, reporter: ConsoleReporter) -> None:
        self._server: Server | None = None
        self._reporter = reporter

    async def start(self) -> str:
        from ..server import Server  # here, not at load: the session checks its source first, and a bad one's error comes without loading the server

        self._server = Server(ServeConfig(host="127.0.0.1", port=0))
        await self._server.start()
        return self._server.url

    def announce(self) -> None:
        assert self._server is not None, "announced before start"
        self._reporter.notice(f"no API key: editing with the local server at {self._server.url} (set DECART_API_KEY for the hosted service)")

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()


@app.command()
def models(edits: bool = typer.Option(False, "--edits", help="List what the local engine can do (its edits and colours) instead.")) -> None:
    """List the realtime models: protocol generation, frame rate and size."""
    if edits:
        from ..engine.instructions import capability_lines

        print("\n".join(capability_lines()))
        return
    console = Console()
    wide = console.width >= 100
    table = Table(title="realtime models", box=box.SIMPLE_HEAD if not wide else box.HEAVY_HEAD, pad_edge=wide)
    table.add_column("model", no_wrap=True, min_width=max(len(name) for name in MODELS))
    table.add_column("protocol", no_wrap=True)
    table.add_column("fps", justify="right", no_wrap=True)
    table.add_column("size", no_wrap=True)
    table.add_column("what it does", ratio=1)
    for m in MODELS.values():
        notes = [m.description]
        if m.name == DEFAULT_MODEL:
            notes.insert(0, "default locally")
        if m.alias_of:
            notes.append(f"alias of {m.alias_of}")
        if m.speeds:
            notes.append("speed=" + "|".join(m.speeds))
        if m.resolutions:
            notes.append("resolution=" + "|".join(m.resolutions) + (f" ({'x'.join(map(str, m.at('1080p').size))})" if m.offers("1080p") else ""))
        protocol = ("today's (LiveKit)" if m.uses_livekit else "legacy (WebRTC)") if wide else ("today's" if m.uses_livekit else "legacy")
        table.add_row(m.name, protocol, str(m.fps), f"{m.width}x{m.height}", "; ".join(notes))
    console.print(table)
