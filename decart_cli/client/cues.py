"""Cue sheets: prompts and ``/`` commands at set times of the input (no I/O here).

One cue a line: a time, then what a line typed during the session could be
(a prompt, or a command such as ``/mirror on``)::

    0        make it sepia
    00:02.5  invert the colors
    #120     /mirror on
    # a comment (a hash and a space); blank lines are skipped

Times are ``SS(.fff)``, ``MM:SS(.fff)`` or ``#frame`` (a frame number of the
input), on the input's own clock: for a file its timestamps (a paused
session's clock stands still), for a camera the time since the first frame
sent. Each cue fires once; a looping file's clock keeps counting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import protocol as p
from ..errors import CommandError, CueError, ProtocolError
from .commands import Command, parse_line

_TIME = re.compile(r"^(?:(\d+):)?(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Cue:
    """What to do (``text``, as if typed) when the input reaches ``seconds``, or frame ``frame``."""

    line: int
    text: str
    seconds: float | None = None
    frame: int | None = None

    def due(self, fps: float) -> float:
        """When the cue fires, in seconds of input, for an input at ``fps`` frames a second."""
        return self.seconds if self.seconds is not None else (self.frame or 0) / fps


def parse_cues(text: str, name: str = "cue sheet") -> list[Cue]:
    """The cues of a sheet, in time order; :class:`CueError` naming the first bad line."""
    cues = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("# ") or line == "#":
            continue
        when, _, rest = line.partition(" ")
        rest = rest.strip()
        if not rest:
            raise CueError(name, number, f"{when!r} has nothing to do after it", "write a time, then a prompt or a / command")
        seconds, frame = _when(when, name, number)
        try:
            parsed = parse_line(rest)
            if not isinstance(parsed, Command):
                p.check_prompt(rest[1:] if rest.startswith("//") else rest)
        except (CommandError, ProtocolError) as exc:
            raise CueError(name, number, exc.message, "fix the line, or see /help for the commands") from None
        cues.append(Cue(number, rest, seconds, frame))
    return cues


def _when(text: str, name: str, number: int) -> tuple[float | None, int | None]:
    if text.startswith("#"):
        if text[1:].isdigit():
            return None, int(text[1:])
    else:
        match = _TIME.match(text)
        if match and (match.group(1) is None or float(match.group(2)) < 60):
            return int(match.group(1) or 0) * 60 + float(match.group(2)), None
    raise CueError(name, number, f"{text!r} is not a time", "use SS, MM:SS(.fff) or #frame")


def in_order(cues: list[Cue], fps: float) -> list[Cue]:
    """``cues`` by when they fire (sheet order among equals)."""
    return sorted(cues, key=lambda cue: (cue.due(fps), cue.line))
