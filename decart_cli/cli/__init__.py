"""The command line: ``decart edit``, ``decart watch``, ``decart serve``, ``decart models``, ``decart bench``, ``decart doctor``.

This is the only place that reads the environment and the command line,
and the only place where exceptions become messages and exit codes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ..errors import DecartError
from .fixes import FIXES
from ..protocol import redact_url

app = typer.Typer(
    name="decart",
    help="Realtime AI video editing: webcam or file in, edited video out, prompts from stdin.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

err_console = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


class RedactingFilter(logging.Filter):
    """Hides API keys in log records (websockets logs request lines at debug level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(verbose: int) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv; without -v, native libraries' own lines go to the log too."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    if verbose == 0:
        from .native_output import filter_native_stderr

        filter_native_stderr()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if verbose < 2:
        # aiortc and aioice are chatty at info level.
        for name in ("aiortc", "aioice", "websockets"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # LiveKit's Rust client logs its own reconnect steps as warnings
        # ("dropping pass-through signal") while ours already says what happens.
        # Its reconnect failures ("ERROR livekit: livekit::rtc_engine ... failed to reconnect")
        # too: our "reconnecting" line says it; -v shows theirs.
        logging.getLogger("livekit").setLevel(logging.CRITICAL if verbose == 0 else logging.WARNING)
        # OpenCV's FFmpeg prints its own errors ("moov atom not found") next
        # to our one-line error about the same file; -vv keeps them. Read by
        # OpenCV when it first opens a file, so setting it here is in time.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def configure_media() -> None:
    """Apply ``DECART_RTC_TUNING`` (aiortc latency tuning; see decart_cli.rtc) before any peer exists."""
    from .. import rtc
    from ..errors import UsageError

    try:
        rtc.configure(os.environ.get(rtc.ENV, ""))
    except ValueError as exc:
        raise UsageError(str(exc), f"fix or unset {rtc.ENV}") from None


SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while others wait for it, in a process that edits.

The engine thread runs next to the event loop, the decoder and the encoder.
An engine that holds the GIL while it works (pure Python, like the bench's
``Costly``) would otherwise make each of those wait up to Python's default
5 ms every time it gives the GIL up for I/O, hundreds of times a second:
with editing overlapping encoding, a 40 ms edit then cost ~22 fps and a
p95 of ~190 ms instead of ~24 fps and ~115 ms.
"""


def configure_editing_process() -> None:
    """Settings of a process that runs an editing server (``decart serve``, ``decart edit``'s embedded one): the GIL's switch interval."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)


def prepare_windows() -> None:
    """Settings of a process that may open a window: a ``QT_QPA_PLATFORM`` OpenCV's Qt can honour (see decart_cli.media.window)."""
    from ..media.window import qt_platform_override

    platform = qt_platform_override(os.environ)
    if platform is not None:
        os.environ["QT_QPA_PLATFORM"] = platform


def allow_local_engines() -> None:
    """Let ``--engine module:Class`` find a ``module.py`` in the working directory (appended to ``sys.path``)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    err_console.print(Text.assemble(("error: ", "bold red"), redact_url(message)), soft_wrap=True)
    return typer.Exit(code)


def user_errors(fn: F) -> F:
    """Turn DecartError (and Ctrl-C) into one line on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _ctrl_c_interrupts()
            return fn(*args, **kwargs)
        except DecartError as exc:
            raise fail(exc.user_message(FIXES), exc.exit_code) from None
        except KeyboardInterrupt:
            _ignore_signals()  # leaving: a second press must not raise again on the way out (exit -2, the code lost)
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def _ctrl_c_interrupts() -> None:
    """From here on, Ctrl-C raises KeyboardInterrupt (worded by :func:`user_errors`), unless it is ignored (a background job).

    Until the command starts, the handler is ``decart_entry``'s, which ends a
    program still loading (importing, building the command, parsing its
    arguments) quietly with exit code 130.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Stoppable(Protocol):
    """A session the command runs: stopped gracefully on request, run to its end."""

    def request_stop(self, reason: str = "stopped", *, hurry: bool = False) -> None: ...

    async def run(self) -> Any: ...


def run_stoppable(session: Stoppable) -> None:
    """Run ``session`` to its end; SIGINT / SIGTERM ask it to stop (the handlers only set its flags).

    The first signal stops it gracefully (the frames in flight reach the
    file); a second one hurries the stop (no waiting for them); a third
    leaves at once with exit code 130, keeping what the recording already
    holds (it is written in fragments). A signal never raises
    KeyboardInterrupt inside the event loop: that tears whatever was
    running and can leave the shutdown waiting forever.

    The count goes on after the session ends, while the program prints its
    summary and exits: one more press there changes nothing (it is leaving
    already), the third still leaves at once. Without this, a quick second
    Ctrl-C that lands after the loop closed would be Python's own: a
    KeyboardInterrupt in the summary, or, once the interpreter is tearing
    down, death by the signal with the session's exit code lost.
    """
    presses = SignalCount(session)
    try:
        asyncio.run(presses.run())
    finally:
        presses.leaving()


class SignalCount:
    """The SIGINT / SIGTERM presses of one command, during its session and while it leaves."""

    def __init__(self, session: Stoppable) -> None:
        self._session: Stoppable | None = session
        self.count = 0

    async def run(self) -> None:
        """Run the session with the signals routed to :meth:`press` (through the loop, so the handler runs between callbacks)."""
        loop = asyncio.get_running_loop()
        for signum, name in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
            try:
                loop.add_signal_handler(signum, self.press, name)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                pass
        assert self._session is not None
        await self._session.run()

    def press(self, name: str) -> None:
        """One signal: stop, hurry, or (the third) leave at once."""
        self.count += 1
        if self.count > 2:
            os.write(2, b"\nquit without finishing\n")
            os._exit(130)
        if self._session is not None:
            self._session.request_stop(name, hurry=self.count == 2)

    def leaving(self) -> None:
        """The session is over: later signals go on counting (Python's handlers, which run while threads are joined), then are ignored while the interpreter tears down."""
        self._session = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                signal.signal(signum, lambda _signum, _frame: self.press("leaving"))
        atexit.register(_ignore_signals)  # atexit runs last-in first: before the libraries' own exit handlers


def _ignore_signals() -> None:
    """Ignore SIGINT / SIGTERM from here to the process's end (the interpreter would reset them to the default, which kills)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, signal.SIG_IGN)


def version_line() -> str:
    """``decart 0.1.0 (Python 3.11.2; aiortc 1.16.0, livekit 1.2.1, av 17.1.0, opencv 4.14.0)``: what a bug report needs."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    parts = []
    for name, dist in (("aiortc", "aiortc"), ("livekit", "livekit"), ("av", "av"), ("opencv", "opencv-python")):
        try:
            parts.append(f"{name} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{name} missing")
    return f"decart {__version__} (Python {sys.version.split()[0]}; {', '.join(parts)})"


def _print_version(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", help="Print the version (and those of the libraries that carry media), then exit.", is_eager=True, callback=_print_version),
) -> None:
    """Realtime AI video editing from the command line."""


from . import edit as _edit  # noqa: E402,F401  (registers commands)
from . import serve as _serve  # noqa: E402,F401
from . import bench as _bench  # noqa: E402,F401
from . import doctor as _doctor  # noqa: E402,F401
from . import watch as _watch  # noqa: E402,F401


OPTIONAL_VALUES = ("--vcam",)
"""Options whose value may be left out (``--vcam`` alone: the first virtual camera found)."""


def optional_values(argv: list[str]) -> list[str]:
    """``argv`` with each bare option of :data:`OPTIONAL_VALUES` given an empty value (click needs one)."""
    out = []
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else None
        if arg in OPTIONAL_VALUES and (following is None or following.startswith("-")):
            arg += "="
        out.append(arg)
    return out


def main() -> None:
    """Console-script entry point."""
    from .help import tidy

    command = typer.main.get_command(app)
    tidy(command)
    command.main(args=optional_values(sys.argv[1:]), prog_name="decart")
