"""When a new prompt first shows in the edited video, measured on the frames.

Each edited frame is compared with the input frame it was made from (see
:mod:`decart_cli.media.pairing`): the difference of their colours on a
coarse grid is the edit's *signature*. While one prompt is in force the
signature stays put; when the server starts applying the next, it jumps.
:class:`FirstVisible` takes a baseline when a prompt is sent and reports the
first frame whose signature leaves it (confirmed by the frame after). A new
prompt that looks the same as the old one (or a still, flat picture) is not
seen: it is reported as not measured after :data:`GIVE_UP` seconds.
"""

from __future__ import annotations

import collections
from typing import Any

import cv2
import numpy as np

from .sources import plane_pixels

GRID = 8
THRESHOLD = 12.0
"""Mean change of the signature (in 8-bit levels) that counts as the new prompt showing."""
GIVE_UP = 5.0
"""Seconds after which a prompt not seen is reported as not measured."""


def _planes(frame: Any) -> np.ndarray:
    """A yuv420p frame's Y, U, V means on a GRID x GRID grid, as (GRID, GRID, 3) float32."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    cells = [cv2.resize(plane_pixels(frame, index), (GRID, GRID), interpolation=cv2.INTER_AREA).astype(np.float32) for index in range(3)]
    return np.dstack(cells)


def signature(edited: Any, source: Any) -> np.ndarray:
    """What the edit does to the picture, coarsely: edited minus input, per cell and plane."""
    return _planes(edited) - _planes(source)


class FirstVisible:
    """Watches the signatures for a sent prompt to show (see the module docstring)."""

    def __init__(self) -> None:
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=10)
        self._pending: tuple[object, float, np.ndarray | None] | None = None
        self._candidate: float | None = None

    def expect(self, key: object, at: float) -> list[tuple[object, float | None]]:
        """A prompt (``key``) was sent at ``at``; returns the earlier one it replaces, not seen, if any."""
        dropped = [(self._pending[0], None)] if self._pending is not None else []
        baseline = np.median(np.stack(self._recent), axis=0) if self._recent else None
        self._pending, self._candidate = (key, at, baseline), None
        return dropped

    def observe(self, edited: Any, source: Any, at: float) -> list[tuple[object, float | None]]:
        """One edited frame (received at ``at``) and its input: the prompts seen (with the time), or given up on (None)."""
        if source is None:
            return []
        current = signature(edited, source)
        self._recent.append(current)
        if self._pending is None:
            return []
        key, sent, baseline = self._pending
        if baseline is None:  # nothing to compare with: the first frame shows the first prompt
            self._pending = None
            return [(key, at)]
        if float(np.abs(current - baseline).mean()) > THRESHOLD:
            if self._candidate is not None:
                self._pending = None
                return [(key, self._candidate)]
            self._candidate = at
            return []
        self._candidate = None
        if at - sent > GIVE_UP:
            self._pending = None
            return [(key, None)]
        return []
