"""What a person can change while a session runs, whether typed (stdin, the prompt line) or keyed (the window).

:class:`Controls` carries out a line (:meth:`Controls.line`: a prompt or a
``/`` command, see :mod:`decart_cli.client.commands`) and the window's keys
(mirror, snapshot, pause), each reported on the terminal; :func:`play_cues`
carries out a cue sheet's lines at their times.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .commands import Command, Prompt, help_lines, parse_line, switch
from .cues import Cue, in_order
from ..engine.instructions import capability_lines
from ..errors import CommandError
from ..ui.reporter import ConsoleReporter, SessionStats

if TYPE_CHECKING:
    from .link import Link
    from .wanted import WantedEdit
    from ..media.relay import Relay
    from ..media.sources import SourceTrack

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class Controls:
    """Carries out what the user asks during a session (see the module docstring)."""

    def __init__(
        self,
        *,
        wanted: WantedEdit,
        source: SourceTrack,
        relay: Relay,
        reporter: ConsoleReporter,
        stats: SessionStats,
        link: Callable[[], Link | None],
        stop: Callable[[str], None],
        snapshot_dir: Path,
    ) -> None:
        self.wanted = wanted
        self.source = source
        self.relay = relay
        self.reporter = reporter
        self.stats = stats
        self.link = link
        """The link to send through now, or None while reconnecting."""
        self.stop = stop
        self.snapshot_dir = snapshot_dir
        """Where ``/snapshot`` without a name (and the window's ``s``) writes."""
        self._pending: set[asyncio.Future[object]] = set()

    async def line(self, line: str) -> None:
        """Carry out one line typed or piped."""
        try:
            parsed = parse_line(line)
        except CommandError as exc:
            self.reporter.warning(self.reporter.describe(exc))
            return
        if parsed is None:
            return
        if isinstance(parsed, Prompt):
            await self.wanted.set_prompt(parsed.text, self.link())
            return
        await self.command(parsed)

    async def command(self, command: Command) -> None:
        name, argument = command.name, command.argument
        if name == "mirror":
            self.mirror(switch(argument, self.source.mirror))
        elif name == "enhance":
            self.wanted.enhance = switch(argument, self.wanted.enhance)
            self.reporter.notice(f"enhance {'on' if self.wanted.enhance else 'off'} (from the next prompt)")
        elif name == "image":
            await self.wanted.set_image(argument, self.link())
        elif name == "snapshot":
            await self.snapshot(Path(argument).expanduser() if argument else None)
        elif name == "pause":
            self.pause()
        elif name == "resume":
            self.resume()
        elif name == "quit":
            self.reporter.notice("quitting")
            self.stop("quit")
        elif name == "help":
            for text in capability_lines() if argument.lower() == "edits" else help_lines():
                self.reporter.event(text)

    def key(self, name: str) -> None:
        """A key pressed in the window: ``mirror``, ``snapshot`` or ``pause`` (toggles)."""
        if name == "mirror":
            self.toggle_mirror()
        elif name == "pause":
            self.toggle_pause()
        elif name == "snapshot":
            task = asyncio.ensure_future(self.snapshot())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def mirror(self, on: bool) -> None:
        self.source.mirror = on
        self.reporter.notice(f"mirror {'on' if on else 'off'}")

    def toggle_mirror(self) -> None:
        self.mirror(not self.source.mirror)

    def pause(self) -> None:
        if self.source.paused:
            return
        self.source.pause()
        self.relay.hold_last()  # the window, the file and a virtual camera keep the last frame
        self.stats.paused = self.stats.was_paused = True
        self.reporter.notice("paused: no frames are sent (/resume to go on)")

    def resume(self) -> None:
        if not self.source.paused:
            return
        self.source.resume()
        self.stats.paused = False
        self.reporter.notice("resumed")

    def toggle_pause(self) -> None:
        if self.source.paused:
            self.resume()
        else:
            self.pause()

    async def snapshot(self, path: Path | None = None) -> Path | None:
        """Save the current edited frame (PNG unless ``path`` ends in .jpg); the path written, or None."""
        frame = self.relay.last
        if frame is None:
            self.reporter.warning("no edited frame yet to save")
            return None
        if path is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
            path = self.snapshot_dir / f"decart-snapshot-{stamp}.png"
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            path = path.with_name(path.name + ".png")
        path = path if path.is_absolute() else self.snapshot_dir / path
        try:
            await asyncio.to_thread(write_image, path, frame.to_ndarray(format="bgr24"))
        except OSError as exc:
            self.reporter.warning(f"snapshot not saved: {exc.strerror or exc} ({path})")
            return None
        self.reporter.notice(f"snapshot: {path}")
        return path


def write_image(path: Path, bgr: object) -> None:
    """Write ``bgr`` to ``path`` (format from its suffix); OSError when it cannot."""
    import cv2

    if not path.parent.is_dir():
        raise FileNotFoundError(2, "no such directory", str(path.parent))
    ok, data = cv2.imencode(path.suffix.lower(), bgr)  # type: ignore[call-overload]
    if not ok:
        raise OSError(f"cannot encode {path.suffix}")
    path.write_bytes(data.tobytes())


async def play_cues(cues: list[Cue], controls: Controls, elapsed: Callable[[], float | None], fps: float) -> None:
    """Carry out each cue when the input reaches its time (``elapsed``: seconds of input sent, None before the first frame)."""
    for cue in in_order(cues, fps):
        due = cue.due(fps)
        while True:
            now = elapsed()
            if now is not None and now >= due:
                break
            await asyncio.sleep(0.01 if now is None else min(max(due - now, 0.001), 0.05))
        log.info("cue of line %d at %.3f s: %s", cue.line, due, cue.text)
        await controls.line(cue.text)
