"""Files shipped with decart: the sample clip and the person segmentation model (see ``ASSETS.md`` next to this file).

``sample.mp4`` is what ``-i sample`` plays, what ``make demo`` edits, and what
the engine tests run on: a real face (public domain) moving across a room.
``selfie_segmentation_landscape.tflite`` is MediaPipe's person segmentation
model (Apache-2.0), which the local engine runs through OpenCV.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_FPS", "SAMPLE_SIZE", "sample_clip", "segmentation_model"]

SAMPLE_SIZE = (1280, 704)
"""The sample clip's (width, height)."""
SAMPLE_FPS = 25
"""The sample clip's frame rate (200 frames, 8 s, loops seamlessly)."""


def sample_clip() -> Path:
    """The path of the bundled sample clip (H.264 yuv420p, 1280x704, 25 fps, 8 s).

    Raises FileNotFoundError if the installation lacks it (a broken package).
    """
    return _bundled("sample.mp4", "the sample clip")


def segmentation_model() -> Path:
    """The path of the bundled person segmentation model (TFLite, 256x144 in, a person probability out).

    Raises FileNotFoundError if the installation lacks it (a broken package).
    """
    return _bundled("selfie_segmentation_landscape.tflite", "the segmentation model")


def _bundled(name: str, what: str) -> Path:
    path = Path(__file__).resolve().parent / name
    if not path.is_file():
        raise FileNotFoundError(f"{what} is missing from this installation: {path}")
    return path
