"""The record of a session kept beside its recording: ``out.mp4`` gets ``out.json``.

What was asked and when, on the video's own timeline (seconds from the
recording's first frame): each prompt's sending, the server's
acknowledgement, when it first showed (``first_visible``), and how that was
obtained (``first_visible_by``):

- ``"seen"``: the first frame that showed it, measured on the frames (see
  :mod:`decart_cli.media.visible`);
- ``"acknowledged"``: the frames could not tell (the prompt looked like the
  last, the next prompt came first, or the session ended), so it is the
  acknowledgement plus the measured lag of the edited frames behind the
  input (what the caption in the recording uses too);
- null, with ``first_visible`` null: refused, or never acknowledged.

Then the reconnect gaps, and the totals. Written at the end of the session,
however it ends, and whenever a prompt is first seen (so a killed session
leaves most of it), atomically.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ui.reporter import SessionStats


@dataclass
class PromptEntry:
    """One prompt, with its times (monotonic; None: did not happen)."""

    text: str
    sent: float
    acknowledged: float | None = None
    first_visible: float | None = None
    first_visible_by: str | None = None
    """How ``first_visible`` was obtained: "seen", "acknowledged" (see the module docstring), None while unknown."""
    refused: str | None = None

    def showed(self, at: float | None, lag: float | None) -> None:
        """It first showed at ``at`` (None: the frames could not tell; then the acknowledgement plus ``lag``, if acknowledged)."""
        if at is not None:
            self.first_visible, self.first_visible_by = at, "seen"
        elif self.acknowledged is not None:
            self.first_visible, self.first_visible_by = self.acknowledged + (lag or 0.0), "acknowledged"


@dataclass
class SessionRecord:
    """Collects a session's record (see the module docstring)."""

    path: Path
    """The recording this is the record of."""
    model: str
    transport: str
    server: str
    session_id: str | None = None
    started_wall: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"))
    started: float = field(default_factory=time.monotonic)
    prompts: list[PromptEntry] = field(default_factory=list)
    gaps: list[tuple[float, float | None]] = field(default_factory=list)

    @staticmethod
    def beside(output: Path) -> Path:
        """Where the record of a recording at ``output`` goes."""
        return output.with_suffix(".json")

    def sent(self, text: str) -> PromptEntry:
        entry = PromptEntry(text, time.monotonic())
        self.prompts.append(entry)
        return entry

    def find(self, text: str) -> PromptEntry | None:
        """The latest prompt with this text still waiting for its answer."""
        for entry in reversed(self.prompts):
            if entry.text == text and entry.acknowledged is None and entry.refused is None:
                return entry
        return None

    def lost(self) -> None:
        self.gaps.append((time.monotonic(), None))

    def back(self) -> None:
        if self.gaps and self.gaps[-1][1] is None:
            self.gaps[-1] = (self.gaps[-1][0], time.monotonic())

    def to_dict(self, stats: SessionStats, t0: float | None) -> dict[str, Any]:
        origin = t0 if t0 is not None else self.started

        def at(moment: float | None) -> float | None:
            return None if moment is None else round(moment - origin, 3)

        return {
            "recording": self.path.name,
            "session_id": self.session_id,
            "model": self.model,
            "transport": self.transport,
            "server": self.server,
            "started": self.started_wall,
            "timeline": "seconds from the recording's first frame" if t0 is not None else "seconds from the session's start (nothing was recorded)",
            "prompts": [
                {
                    "text": e.text, "sent": at(e.sent), "acknowledged": at(e.acknowledged),
                    "first_visible": at(e.first_visible), "first_visible_by": e.first_visible_by, "refused": e.refused,
                }
                for e in self.prompts
            ],
            "reconnects": [{"lost": at(lost), "back": at(back)} for lost, back in self.gaps],
            "totals": {
                "seconds": round(stats.elapsed, 3),
                "frames_sent": stats.frames_sent,
                "frames_received": stats.frames_received,
                "frames_recorded": stats.frames_recorded,
                "billed_seconds": stats.billed_seconds,
                "reconnects": stats.reconnects,
            },
        }

    def write(self, stats: SessionStats, t0: float | None) -> Path:
        """Write the record next to the recording (atomically); its path."""
        target = self.beside(self.path)
        data = self.to_dict(stats, t0)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, target)
        return target
