"""Files shipped with decart: the sample clip (see ``ASSETS.md`` next to this file).

``sample.mp4`` is what ``-i sample`` plays, what ``make demo`` edits, and what
the engine tests run on: a real face (public domain) moving across a room.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_FPS", "SAMPLE_SIZE", "sample_clip"]

SAMPLE_SIZE = (1280, 704)
"""The sample clip's (width, height)."""
SAMPLE_FPS = 25
"""The sample clip's frame rate (200 frames, 8 s, loops seamlessly)."""


def sample_clip() -> Path:
    """The path of the bundled sample clip (H.264 yuv420p, 1280x704, 25 fps, 8 s).

    Raises FileNotFoundError if the installation lacks it (a broken package).
    """
    path = Path(__file__).resolve().parent / "sample.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"the sample clip is missing from this installation: {path}")
    return path
