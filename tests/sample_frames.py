"""The shipped sample clip (a real face), decoded once with PyAV, for the engine's pixel tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import av
import numpy as np

from decart_cli.assets import sample_clip
from decart_cli.engine.face import FaceTracker
from decart_cli.engine.frame import Face, FrameContext


@dataclass(frozen=True)
class Shot:
    """One frame of the sample clip (I420, never edited: take :meth:`ctx`) and its tracked face."""

    index: int
    image: np.ndarray
    face: Face | None

    def ctx(self, *, face: bool = True, index: int | None = None) -> FrameContext:
        """A context over a fresh copy of the frame, with its face (or none)."""
        return FrameContext.wrap(self.image.copy(), face=self.face if face else None, index=self.index if index is None else index)


@lru_cache(maxsize=1)
def _decoded(count: int) -> tuple[Shot, ...]:
    tracker = FaceTracker()
    shots = []
    with av.open(str(sample_clip())) as container:
        for i, frame in enumerate(container.decode(video=0)):
            image = frame.to_ndarray(format="yuv420p")
            image.setflags(write=False)
            shots.append(Shot(i, image, tracker.update(FrameContext.wrap(image.copy(), index=i))))
            if len(shots) == count:
                break
    return tuple(shots)


def sample_shots(count: int = 180) -> tuple[Shot, ...]:
    """The first ``count`` frames of the sample clip with the faces the engine's tracker finds (decoded once per process)."""
    return _decoded(180)[:count] if count <= 180 else _decoded(count)
