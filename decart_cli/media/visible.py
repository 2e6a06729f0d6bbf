"""When a new prompt first shows in the edited video, measured on the frames.

Each edited frame is compared with the input frame it was made from (the
closest match, see :meth:`~decart_cli.media.pairing.Pairing.match`): the
edit's *signature* is, for each of the Y, U and V planes, the share of the
pixels (per mille) that the edit made darker, or lighter, by more than each
of :data:`STEPS` levels. It says how far the edit moves pixels, not where:

- a whole-frame style (cartoon, sketch, blur) changes how far every pixel
  moves, though the mean colour of a region may stay put;
- a colour or region edit (a tint, the shirt made blue) moves a share of the
  pixels' U and V one way;
- an object or a scene edit (a hat, sunglasses, snow, a bird) moves few
  pixels far, and moves them as far wherever the object is, so a head that
  turns or a bird that flies on leaves the signature as it was.

While one prompt is in force the signature stays within the spread of its
recent frames (coding noise, the picture's own motion); a frame that shows
the next prompt leaves it. :class:`FirstVisible` keeps the signatures of the
last :data:`HISTORY` frames; once a prompt is sent, the first frame whose
signature lies further than :data:`JUMP` times that spread (plus
:data:`FLOOR`) from their median, in any one measure, and whose next frame
does too, is the prompt showing; the baseline then starts again from those
two frames. The match of an edited frame to its input is a frame or two off
now and then (frames arriving in bursts, a slow picture), and the picture's
motion then passes for an edit: a frame that leaves the spread is measured
again against the inputs next to its match
(:meth:`~decart_cli.media.pairing.Pairing.around`), and counts only if none
of them brings it back. One frame alone that leaves the spread does not
count and is not kept. A prompt sent before any frame came (the initial
one) shows on the first frame.

Measured on the shipped sample clip through the built-in engine and H.264
(``tests/test_visible.py``) and in sessions with the local server, on a
loaded machine too: each kind of edit (style, colour, region, object,
scene) is seen on the first frame made with it, at ~1.7 ms a 1280x704
frame. What is not seen is reported as not measured: a prompt that looks
like the last one, after :data:`GIVE_UP` seconds; a prompt the next one
replaced before it showed; a prompt still waiting when the session ends
(:meth:`FirstVisible.finish`). What it cannot tell from a change: edited
frames that come back more than the pairing's history (a second) after
their inputs are matched to inputs they were not made from, which a
pending prompt may be taken to show.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

from .sources import plane_pixels

STEPS = (3, 6, 12, 24, 48)
"""Levels, of half the difference edited minus input, a pixel's move is measured against (6..96 levels of difference)."""
HISTORY = 10
"""Frames whose signatures make the baseline a new prompt is measured against."""
FLOOR = 0.2
"""Per mille of the pixels added to the spread: the least change that counts (times :data:`JUMP`), whatever the spread."""
JUMP = 5.0
"""How many times the spread (plus :data:`FLOOR`) a measure must move for the new prompt to count as showing."""
GIVE_UP = 5.0
"""Seconds after which a prompt not seen is reported as not measured."""

K = TypeVar("K")


def _planes(frame: Any) -> list[np.ndarray]:
    """A frame's Y, U and V planes as arrays (yuv420p read in place; other formats converted)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    return [plane_pixels(frame, index) for index in range(3)]


def signature(edited: Any, source: Any) -> np.ndarray:
    """What the edit does to the picture, wherever it does it: see the module docstring.

    ``(3 * 2 * len(STEPS),)`` float32: per plane, the per mille of pixels made
    darker by more than each step (largest step first), then lighter.
    """
    measures = []
    for after, before in zip(_planes(edited), _planes(source)):
        half = cv2.addWeighted(after, 0.5, before, -0.5, 128.0)  # (edited - input) / 2 + 128, saturated
        counts = cv2.calcHist([np.ascontiguousarray(half)], [0], None, [256], [0, 256]).ravel()
        below = np.cumsum(counts) * (1000.0 / counts.sum())  # per mille at or below each level
        measures += [below[127 - step] for step in reversed(STEPS)]
        measures += [1000.0 - below[128 + step] for step in STEPS]
    return np.array(measures, np.float32)


class FirstVisible(Generic[K]):
    """Watches the signatures for a sent prompt (any key: the session's record entry) to show (see the module docstring)."""

    def __init__(self) -> None:
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=HISTORY)
        self._pending: tuple[K, float] | None = None
        self._candidate: tuple[float, np.ndarray] | None = None
        """The frame that left the baseline (its time and signature), until the next one says whether it showed the prompt."""

    def expect(self, key: K, at: float) -> list[tuple[K, float | None]]:
        """A prompt (``key``) was sent at ``at``; returns the earlier one it replaces, not seen, if any."""
        dropped = self.finish()
        self._pending = (key, at)
        return dropped

    def forget(self, key: K) -> None:
        """Stop waiting for ``key`` (e.g. refused: it will not show)."""
        if self._pending is not None and self._pending[0] is key:
            self._pending, self._candidate = None, None

    def finish(self) -> list[tuple[K, float | None]]:
        """The prompt still waiting to show, if any, as not seen; nothing is waited for after this."""
        dropped = [(self._pending[0], None)] if self._pending is not None else []
        self._pending, self._candidate = None, None
        return dropped

    def observe(self, edited: Any, sources: Sequence[Any], at: float) -> list[tuple[K, float | None]]:
        """One edited frame (received at ``at``) and the inputs it may come from, the closest match first: the prompts seen (with the time), or given up on (None).

        No input (none kept yet): the frame is not measured.
        """
        if not sources:
            return self._give_up(at)
        current = signature(edited, sources[0])
        if self._pending is None:
            self._recent.append(current)
            return []
        key, _ = self._pending
        if not self._recent:  # nothing to compare with: the first frame shows the first prompt
            return self._seen(key, at, [current])
        explained = self._explained(current, edited, sources[1:])
        if explained is None:
            if self._candidate is not None:
                return self._seen(key, self._candidate[0], [self._candidate[1], current])
            self._candidate = (at, current)
            return []
        self._candidate = None
        self._recent.append(explained)
        return self._give_up(at)

    def _explained(self, current: np.ndarray, edited: Any, others: Sequence[Any]) -> np.ndarray | None:
        """A signature of ``edited`` within the recent spread: ``current``, or against one of ``others`` (a pairing a frame or two off); None if none is."""
        if not self._departs(current):
            return current
        for other in others:
            candidate = signature(edited, other)
            if not self._departs(candidate):
                return candidate
        return None

    def _give_up(self, at: float) -> list[tuple[K, float | None]]:
        """The prompt waited for, as not seen, once :data:`GIVE_UP` seconds have passed since it was sent."""
        if self._pending is None or at - self._pending[1] <= GIVE_UP:
            return []
        key = self._pending[0]
        self._pending, self._candidate = None, None
        return [(key, None)]

    def _departs(self, current: np.ndarray) -> bool:
        """Whether ``current`` lies outside the recent frames' spread, in any one measure."""
        recent = np.stack(self._recent)
        baseline = np.median(recent, axis=0)
        spread = np.abs(recent - baseline).max(axis=0)
        return bool((np.abs(current - baseline) > JUMP * (spread + FLOOR)).any())

    def _seen(self, key: K, at: float, showing: list[np.ndarray]) -> list[tuple[K, float | None]]:
        """``key`` showed from ``at``: the baseline starts again from the frames that show it."""
        self._pending, self._candidate = None, None
        self._recent.clear()
        self._recent.extend(showing)
        return [(key, at)]
