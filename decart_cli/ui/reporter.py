"""What the user sees in the terminal while a session runs.

:class:`SessionStats` is the state of a session; :func:`render_status` is a
pure function of it (the status line). :class:`ConsoleReporter` shows the
line with rich on a terminal and prints events (acks, errors, notices)
above it; on a pipe it prints only the events, one per line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from ..errors import DecartError

STATES = ("connecting", "connected", "generating", "reconnecting", "disconnected")


@dataclass
class SessionStats:
    """Counters and state of one editing session."""

    state: str = "connecting"
    prompt: str = ""
    model: str = ""
    frames_sent: int = 0
    frames_received: int = 0
    frames_recorded: int = 0
    frames_dropped_source: int = 0
    """Frames the source captured but replaced with a newer one before sending."""
    fps_in: float = 0.0
    fps_out: float = 0.0
    started: float = field(default_factory=time.monotonic)
    media_started: float | None = None
    ended: float | None = None
    output: Path | None = None
    latency_ms: tuple[float, float] | None = None
    """Glass-to-glass (p50, p95) over the last seconds, with ``--stats``."""
    bitrate_kbps: tuple[float, float] | None = None
    """Media kbit/s (up, down), with ``--stats``."""
    reconnect_attempt: int = 0
    """While ``reconnecting``: which attempt this is (1-based)."""
    reconnect_attempts: int = 0
    """While ``reconnecting``: how many attempts there will be at most."""
    reconnects: int = 0
    """Times the session was re-established after a drop."""
    frames_held: int = 0
    """Repeats of the last frame recorded while reconnecting (re-encoded recordings; with no
    recording: those shown)."""
    recording_gap: float = 0.0
    """Seconds without frames in a remuxed recording where it reconnected (a hole in its timestamps)."""
    transport: str = "webrtc"
    """``webrtc`` (legacy protocol) or ``livekit`` (today's)."""
    queue: tuple[int, int] | None = None
    """While waiting for a slot on the server: (position, queue size)."""
    billed_seconds: int = 0
    """Seconds the server has billed (``generation_tick``; today's protocol)."""
    paused: bool = False
    """No frames are being sent (``/pause``)."""
    was_paused: bool = False
    """The session was paused at some point (held frames are then not all from reconnects)."""

    @property
    def elapsed(self) -> float:
        """Seconds of edited video so far (since the first edited frame)."""
        if self.media_started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.media_started


_STATE_STYLE = {
    "connecting": "yellow",
    "connected": "cyan",
    "generating": "green",
    "reconnecting": "yellow",
    "disconnected": "red",
}


STATUS_PROMPT_MIN = 24
"""Columns the prompt keeps on a narrow status line before it is cut (less useful figures go first)."""


def render_status(stats: SessionStats, width: int | None = None) -> Text:
    """The one-line status view of ``stats``, fitted to ``width`` columns when given.

    Figures are dropped least useful first (sent/received counts, bitrate,
    transport, input fps, elapsed time, billing) until the prompt has
    :data:`STATUS_PROMPT_MIN` columns; then the prompt is cut. The state,
    output fps, ``--stats`` latency and the recording count stay longest.
    """
    state = stats.state
    if state == "reconnecting" and stats.reconnect_attempt:
        state = f"reconnecting {stats.reconnect_attempt}/{stats.reconnect_attempts}"
    if stats.queue is not None and stats.state == "connecting":
        state = f"queued {stats.queue[0]}/{stats.queue[1]}"
    if stats.paused:
        state = "paused"
    # (text, style, priority): the lower the priority, the sooner it goes on a narrow line; None stays.
    pieces: list[tuple[str, str, int | None]] = [
        (f"● {state}", _STATE_STYLE.get(stats.state, "white"), None),
        (f"  {stats.transport}", "dim", 2),
        (f"  {stats.elapsed:5.1f}s", "dim", 4),
        (f"  in {stats.fps_in:4.1f} fps", "", 3),
        (f"  out {stats.fps_out:4.1f} fps", "", 8),
        (f"  sent {stats.frames_sent}  received {stats.frames_received}", "dim", 0),
    ]
    if stats.latency_ms is not None:
        pieces.append((f"  latency {stats.latency_ms[0]:.0f}/{stats.latency_ms[1]:.0f} ms", "", 7))
    if stats.bitrate_kbps is not None:
        pieces.append((f"  up {stats.bitrate_kbps[0] / 1000:.1f} down {stats.bitrate_kbps[1] / 1000:.1f} Mbit/s", "dim", 1))
    if stats.output is not None:
        pieces.append((f"  rec {stats.frames_recorded}", "red", 6))
    if stats.billed_seconds:
        pieces.append((f"  billed {stats.billed_seconds}s", "", 5))
    prompt = " ".join((stats.prompt or "(no edit)").split())
    head = "  prompt: "
    if width is not None:
        def used() -> int:
            return sum(len(text) for text, _, _ in pieces) + len(head)

        droppable = sorted((prio, i) for i, (_, _, prio) in enumerate(pieces) if prio is not None)
        gone: set[int] = set()
        for _, index in droppable:
            if used() - sum(len(pieces[i][0]) for i in gone) + min(len(prompt), STATUS_PROMPT_MIN) <= width:
                break
            gone.add(index)
        pieces = [piece for i, piece in enumerate(pieces) if i not in gone]
        room = max(4, width - used())
        if len(prompt) > room:
            prompt = prompt[: room - 1] + "…"
    elif len(prompt) > 60:
        prompt = prompt[:57] + "..."
    line = Text()
    for text, style, _ in pieces:
        line.append(text, style=style)
    line.append(head + prompt, style="bold")
    return line


def render_summary(stats: SessionStats, *, failed: bool = False) -> str:
    """The one-line summary printed when a session ends (``failed``: it ended on an error)."""
    parts = [
        f"sent {stats.frames_sent} frames",
        f"received {stats.frames_received}",
        f"{stats.elapsed:.1f} s over {stats.transport}" + (f" ({stats.billed_seconds} billed seconds)" if stats.billed_seconds else ""),
    ]
    if stats.output is not None:
        held = ""
        why = "paused or reconnecting" if stats.was_paused and stats.reconnects else "paused" if stats.was_paused else "reconnecting"
        if stats.frames_held:
            held = f" ({stats.frames_held} held while {why})"
        elif stats.recording_gap >= 0.05:
            held = f" ({stats.recording_gap:.1f} s gap while {why})"
        if stats.frames_recorded:
            parts.append(f"recorded {stats.frames_recorded} frames{held} to {stats.output}")
        else:
            parts.append("nothing recorded")
    if stats.reconnects:
        parts.append(f"reconnected {stats.reconnects} time{'s' if stats.reconnects > 1 else ''}")
    return ("stopped early: " if failed else "done: ") + ", ".join(parts)


class ConsoleReporter:
    """Shows a session in the terminal: a live status line and event lines."""

    def __init__(self, console: Console | None = None, *, live: bool | None = None, fixes: Mapping[str, str] | None = None, notices: Mapping[str, str | Callable[..., str]] | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.fixes = fixes or {}
        """How the command line words a failure's ``fix`` (see :mod:`decart_cli.cli.fixes`)."""
        self.notices = notices or {}
        """How the command line words the notices that name its flags (:meth:`announce`)."""
        self.copyable: Mapping[str, Callable[..., tuple[str, str]]] = {}
        """Notices the command line words as (caption, line to copy) (:meth:`announce`)."""
        self._use_live = self.console.is_terminal if live is None else live
        self._live: Live | None = None

    def start(self, stats: SessionStats) -> None:
        """Begin showing the status line (on a terminal)."""
        if self._use_live and self._live is None:
            self._live = Live(render_status(stats, self.console.width), console=self.console, refresh_per_second=4, transient=True)
            self._live.start()

    def update(self, stats: SessionStats) -> None:
        """Refresh the status line."""
        if self._live is not None:
            self._live.update(render_status(stats, self.console.width))

    def stop(self) -> None:
        """Remove the status line."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def event(self, text: str, style: str = "") -> None:
        """Print one event line (above the status line when it is shown)."""
        self.console.print(Text(text, style=style) if style else escape(text), soft_wrap=True)

    def notice(self, text: str) -> None:
        """Something the user should know, not a problem."""
        self.event(text, "cyan")

    def announce(self, name: str, style: str = "cyan", **details: object) -> None:
        """A notice the command line words (it may name a flag): ``notices[name]`` with ``details`` filled in.

        A notice the command line words as a line to copy (``copyable[name]``,
        e.g. the ``decart watch`` command) is that line alone on stdout, after
        its caption on stderr: ``decart edit | head -1`` gives the command.
        """
        copy = self.copyable.get(name)
        if copy is not None:
            caption, line = copy(**details)
            self.event(caption, style)
            self.output(line)
            return
        template = self.notices.get(name)
        text = template(**details) if callable(template) else template.format(**details) if template is not None else f"{name.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in details.items())
        self.event(text, style)

    def output(self, line: str) -> None:
        """A line meant to be copied or parsed: on stdout, as it is (no markup, no wrapping)."""
        print(line, file=sys.stdout, flush=True)

    def describe(self, error: DecartError) -> str:
        """The one line for ``error``, worded as the command line words it."""
        return error.user_message(self.fixes)

    def warning(self, text: str) -> None:
        """Something went wrong but the session goes on."""
        self.event(text, "yellow")
