"""Which input frame an edited frame was made from, for showing the two side by side.

The server's timestamps cannot say it (an RTP sender starts its clock at a
random origin, and LiveKit hands over local render times), so the frames
are matched by picture structure: every input frame sent is kept for a
second as a small gradient-magnitude thumbnail, and each edited frame's
thumbnail is compared with them. Gradient magnitude survives what edits
typically do to a picture (colours changed, inverted, restyled) better than
the pixels do. The lag of the best match is smoothed (a running median), so
one poor match does not make the input side jump; with a still input every
match is as good as any other and the newest input is shown. Measuring what
an edit did (:mod:`.visible`) takes the best match itself instead
(``closest``): the smoothed lag is a frame or more off whenever frames
arrive in bursts.

:class:`InputTap` is the track that records what is sent; :class:`Pairing`
holds the history and answers :meth:`Pairing.match`; :class:`PairedTrack`
turns the edited track into :class:`Pair` objects for the window.
"""

from __future__ import annotations

import collections
import statistics
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from aiortc import MediaStreamTrack

from .sources import plane_pixels

THUMB = (64, 36)
"""Thumbnail size (width, height) the frames are compared at."""
HISTORY = 1.0
"""Seconds of input frames kept to match against."""
SMOOTHING = 15
"""Lags the running median is taken over."""


@dataclass(frozen=True)
class Pair:
    """An edited frame and the input frame it was made from (None until one is known)."""

    input: Any
    edited: Any


def structure(frame: Any) -> np.ndarray:
    """A frame's luma gradient magnitude at :data:`THUMB` size, zero-mean and unit-norm."""
    luma = frame if isinstance(frame, np.ndarray) else _luma(frame)
    small = cv2.resize(luma, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy).ravel()
    magnitude -= magnitude.mean()
    norm = float(np.linalg.norm(magnitude))
    return magnitude / norm if norm > 1e-6 else magnitude


def _luma(frame: Any) -> np.ndarray:
    """The Y plane of a yuv420p ``av.VideoFrame`` as an array, without conversion (others are converted)."""
    if frame.format.name != "yuv420p":
        return frame.to_ndarray(format="gray")
    return plane_pixels(frame, 0)


class Pairing:
    """The last second of input frames, and the input frame that goes with an edited one."""

    def __init__(self, history: float = HISTORY) -> None:
        self.history = history
        self._inputs: collections.deque[tuple[float, Any, np.ndarray]] = collections.deque()
        self._lags: collections.deque[float] = collections.deque(maxlen=SMOOTHING)

    @property
    def lag(self) -> float | None:
        """The smoothed lag (seconds from sending an input frame to receiving its edit), once known."""
        return statistics.median(self._lags) if self._lags else None

    def record_input(self, frame: Any, at: float | None = None) -> None:
        """Keep ``frame`` (sent at ``at``, monotonic) to match against."""
        now = time.monotonic() if at is None else at
        self._inputs.append((now, frame, structure(frame)))
        while self._inputs and self._inputs[0][0] < now - self.history:
            self._inputs.popleft()

    def match(self, edited: Any, at: float | None = None, *, closest: bool = False) -> Any:
        """The input frame ``edited`` (received at ``at``) was most likely made from; None before any input.

        By default the input the smoothed lag points at (steady, for showing
        beside the edit); with ``closest``, the one whose structure matches
        this frame best, however slightly (a slow picture has many inputs
        nearly as good, and the lag is no guide in a burst). Either way a
        distinct best match updates :attr:`lag`.
        """
        if not self._inputs:
            return None
        now = time.monotonic() if at is None else at
        target = structure(edited)
        scores = np.array([float(np.dot(target, thumb)) for _, _, thumb in self._inputs])
        best = int(np.argmax(scores))
        if scores.max() - np.median(scores) > 0.02:  # a distinct best match (a still picture has none)
            self._lags.append(now - self._inputs[best][0])
        if closest:
            return self._inputs[best][1]
        lag = self.lag
        if lag is None:
            return self._inputs[-1][1]
        wanted = now - lag
        return min(self._inputs, key=lambda item: abs(item[0] - wanted))[1]


    def around(self, frame: Any, reach: int = 2) -> list[Any]:
        """``frame`` (a kept input) and the inputs kept up to ``reach`` before and after it, nearest first; [] if it is not kept."""
        inputs = [kept for _, kept, _ in self._inputs]
        index = next((i for i, kept in enumerate(inputs) if kept is frame), None)
        if index is None:
            return []
        near = sorted(range(max(0, index - reach), min(len(inputs), index + reach + 1)), key=lambda i: abs(i - index))
        return [inputs[i] for i in near]


class InputTap(MediaStreamTrack):
    """Passes ``source``'s frames through unchanged, recording each into ``pairing`` as it is sent."""

    def __init__(self, source: MediaStreamTrack, pairing: Pairing) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.pairing = pairing

    async def recv(self) -> Any:
        frame = await self.source.recv()
        self.pairing.record_input(frame)
        return frame


class PairedTrack(MediaStreamTrack):
    """The edited frames of ``edited``, each as a :class:`Pair` with its input frame (for a side-by-side window)."""

    def __init__(self, edited: MediaStreamTrack, pairing: Pairing) -> None:
        super().__init__()
        self.kind = edited.kind
        self.edited = edited
        self.pairing = pairing

    async def recv(self) -> Any:
        frame = await self.edited.recv()
        return Pair(self.pairing.match(frame), frame)
