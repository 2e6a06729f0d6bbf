"""Frames read all at once (not paced), for benchmarks and offline work."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from ..config import Fit
from ..errors import SourceError
from .fit import fit_frame


def read_frames(spec: str, width: int, height: int, count: int, *, fit: Fit = "crop") -> list[np.ndarray]:
    """Up to ``count`` I420 frames (``(H*3//2, W)`` uint8) of a source, fitted to ``width`` x ``height``.

    ``spec`` is a video file, ``sample`` (the shipped clip) or ``test`` (the
    built-in pattern). A file shorter than ``count`` frames is read again
    from the start.
    """
    if spec == "test":
        from .sources import TestPattern

        pattern = TestPattern(width, height)
        return [cv2.cvtColor(pattern.render(i), cv2.COLOR_BGR2YUV_I420) for i in range(count)]
    if spec == "sample":
        from ..assets import sample_clip

        path = sample_clip()
    else:
        path = Path(spec)
    if not path.is_file():
        raise SourceError(f"no such file: {path}", fix="clip")
    frames: list[np.ndarray] = []
    try:
        while len(frames) < count:
            before = len(frames)
            with av.open(str(path)) as container:
                for frame in container.decode(video=0):
                    bgr = fit_frame(frame.to_ndarray(format="bgr24"), width, height, fit)
                    frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420))
                    if len(frames) == count:
                        break
            if len(frames) == before:
                break
    except (av.FFmpegError, IndexError) as exc:
        raise SourceError(f"{path} is not a video that can be read ({exc.__class__.__name__})", "use another file") from None
    if not frames:
        raise SourceError(f"{path} has no video frames", "use another file")
    return frames
