"""The interactive prompt line, for a person at a terminal.

When standard input is a terminal, :class:`PromptLine` reads what is typed
with ``prompt_toolkit``: line editing, history (up arrow; kept across
sessions in a file), and the session's status as a bottom toolbar that is
redrawn on its own line, so it never writes over what is being typed.
Events (acknowledgements, warnings) are printed above the prompt: while it
runs, ``prompt_toolkit.patch_stdout`` routes what is written to
stdout/stderr (rich's console included) above the line being edited.

:class:`ToolbarReporter` is the reporter for that mode: instead of rich's
live status line it keeps the newest status for the toolbar.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from .reporter import ConsoleReporter, SessionStats, render_status

log = logging.getLogger(__name__)

PROMPT = "edit> "


class ToolbarReporter(ConsoleReporter):
    """A reporter whose status line is the prompt line's bottom toolbar (events print as usual)."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__(console, live=False)
        self.status: SessionStats | None = None
        self.on_update: Callable[[], None] = lambda: None
        """Called when the status changed (the prompt line redraws its toolbar)."""

    def start(self, stats: SessionStats) -> None:
        self.status = stats
        self.on_update()

    def update(self, stats: SessionStats) -> None:
        self.status = stats
        self.on_update()

    def stop(self) -> None:
        self.status = None


def ansi_status(stats: SessionStats, width: int) -> str:
    """The status line as ANSI text, cut to ``width`` columns."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=max(width, 20), highlight=False)
    console.print(render_status(stats, max(width, 20)), end="", no_wrap=True, overflow="ellipsis", crop=True)
    return buffer.getvalue()


class PromptLine:
    """Reads lines at the terminal until cancelled (see the module docstring)."""

    def __init__(self, reporter: ToolbarReporter, *, history_file: Path | None, output: TextIO) -> None:
        self.reporter = reporter
        self.history_file = history_file
        self.output = output
        """The terminal stream the prompt draws on (the one rich's console writes to)."""
        self._output: Any = None

    def _history(self) -> Any:
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        if self.history_file is None:
            return InMemoryHistory()
        try:
            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            self.history_file.touch(exist_ok=True)
        except OSError as exc:
            self.reporter.warning(f"prompt history not kept: {exc.strerror or exc} ({self.history_file})")
            return InMemoryHistory()
        return FileHistory(str(self.history_file))

    def _toolbar(self) -> Any:
        from prompt_toolkit.formatted_text import ANSI

        stats = self.reporter.status
        if stats is None:
            return ""
        columns = self._output.get_size().columns if self._output is not None else shutil.get_terminal_size().columns
        return ANSI(ansi_status(stats, columns - 1))

    async def run(self, deliver: Callable[[str], None], stop: Callable[[str], None]) -> None:
        """Hand each line typed to ``deliver``; Ctrl-C or Ctrl-D calls ``stop``. Runs until cancelled or stopped."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.output import create_output
        from prompt_toolkit.patch_stdout import patch_stdout
        from prompt_toolkit.styles import Style

        self._output = create_output(stdout=self.output)
        session: PromptSession[str] = PromptSession(
            history=self._history(),
            bottom_toolbar=self._toolbar,
            refresh_interval=0.5,
            output=self._output,
            style=Style.from_dict({"bottom-toolbar": "noreverse"}),
            erase_when_done=True,
        )

        def redraw() -> None:
            app = session.app
            if app.is_running:
                app.invalidate()

        self.reporter.on_update = redraw
        try:
            with patch_stdout(raw=True):
                while True:
                    try:
                        line = await session.prompt_async(PROMPT)
                    except KeyboardInterrupt:
                        stop("interrupted")
                        return
                    except EOFError:
                        stop("quit")
                        return
                    deliver(line)
        except asyncio.CancelledError:
            raise
        finally:
            self.reporter.on_update = lambda: None
