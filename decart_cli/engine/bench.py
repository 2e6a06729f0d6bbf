"""Per-edit cost of an engine: the figures behind ``decart bench engine``.

Each prompt is set on a fresh engine, which then edits the same frames
(copies, so every edit sees an unedited frame) after a short warm-up; the
time of each ``process`` call is kept. Face tracking, when a prompt needs
it, is part of the cost, amortised as it is in a session.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .base import Engine

BUDGET_MS = 15.0
"""The most one frame may cost, per edit or combination, at 1280x704 (issue 3)."""

DEFAULT_PROMPTS: tuple[str, ...] = (
    "",
    "black and white",
    "invert the colors",
    "tint it red",
    "make it brighter",
    "warmer",
    "sepia",
    "old film",
    "cartoon",
    "pencil sketch",
    "thermal",
    "night vision",
    "neon",
    "pixelate",
    "blur",
    "change the shirt to red",
    "make the hair blonde",
    "make the background blue",
    "blur the background",
    "change the car to green",
    "add sunglasses",
    "add a hat",
    "add a mustache",
    "pixelate my face",
    "blur my face",
    "add snow",
    "add rain",
    "add a bird flying overhead",
    # art styles (paintings)
    "watercolor",
    "oil painting",
    "pop art",
    "colored pencil",
    "mosaic",

    # times and weather (atmosphere)
    "make it look like night",
    "sunset",
    "add some fog",
    "set it on fire",
    "add lightning",
    "thunderstorm",

    # face looks (looks)
    "give him a beard",
    "add glasses",
    "put makeup on her",
    "make me a clown",
    "make me look like a zombie",
    "make me a robot",
    "make me look older",
    "make me look younger",

    # accessories and patterns (wardrobe)
    "put a crown on her head",
    "add a red cap",
    "add headphones",
    "add a bow tie",
    "make the shirt red and white striped",
    "plaid shirt",
    "polka dot shirt",

    # scenes behind the person (backdrops)
    "put me on a beach",
    "put me in a forest",
    "put me in space",
    "city skyline background",
    "office background",
    "solid green background",
    "remove the background",

    # three at once
    "a striped shirt, a bow tie and a crown",
    "polka dot shirt with headphones and a blue cap",
    "black and white with sunglasses and snow",
    "change the shirt to red, add a hat and make it warmer",
    "cartoon with sunglasses and a bird flying overhead",
    "blur the background, add a mustache and rain",
    "make me look older with glasses and a beard",
    "night time with fog and fire",
    "pop art with sunglasses and snow",
    "oil painting, add a hat and a bird flying overhead",
    "put me on a beach with sunglasses and make it warmer",
)


@dataclass(frozen=True)
class EditTiming:
    """What one prompt cost per frame, in milliseconds."""

    prompt: str
    frames: int
    median_ms: float
    p95_ms: float
    max_ms: float
    error: str | None = None

    @property
    def within_budget(self) -> bool:
        """True when the 95th percentile is within :data:`BUDGET_MS`."""
        return self.error is None and self.p95_ms <= BUDGET_MS

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "within_budget": self.within_budget}


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_prompt(engine: Engine, prompt: str, frames: Sequence[np.ndarray], *, warmup: int = 5) -> EditTiming:
    """Set ``prompt`` on ``engine`` and time ``process`` over ``frames``."""
    try:
        engine.set_prompt(prompt)
    except Exception as exc:  # a refused prompt is a row in the table, not a crash
        return EditTiming(prompt, 0, 0.0, 0.0, 0.0, error=str(exc).split(";")[0])
    for frame in frames[:warmup]:
        engine.process(frame.copy())
    times: list[float] = []
    for frame in frames:
        work = frame.copy()
        start = time.perf_counter()
        engine.process(work)
        times.append((time.perf_counter() - start) * 1000)
    return EditTiming(prompt, len(times), statistics.median(times), _percentile(times, 0.95), max(times))


def time_prompts(
    engine_factory: Callable[[], Engine],
    frames: Sequence[np.ndarray],
    prompts: Iterable[str] = DEFAULT_PROMPTS,
    *,
    on_result: Callable[[EditTiming], None] | None = None,
) -> list[EditTiming]:
    """Time every prompt on a fresh engine; ``on_result`` sees each row as it is measured."""
    results = []
    for prompt in prompts:
        result = time_prompt(engine_factory(), prompt, frames)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
