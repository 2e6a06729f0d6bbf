"""Engines for benchmarks: passthrough with a chosen cost per frame.

``decart bench --edit-cost-ms 40`` serves :class:`Costly` and sends the prompt
``cost 40``: every frame then takes 40 ms of engine time (busy, like a real
model, not a sleep), which shows how the pipeline behaves when edits are
slower than the frame rate.
"""

from __future__ import annotations

import re
import time

import numpy as np

from ...errors import UnsupportedPrompt


class Costly:
    """Returns frames unchanged after spending ``cost N`` milliseconds of CPU on each."""

    pixel_format = "yuv420p"

    def __init__(self) -> None:
        self.cost = 0.0

    def set_prompt(self, prompt: str) -> None:
        text = prompt.strip().lower()
        match = re.fullmatch(r"(?:cost\s+(\d+(?:\.\d+)?)\s*(?:ms)?)?", text)
        if match is None:
            raise UnsupportedPrompt(f"cannot do {prompt!r}; it can: cost <milliseconds>")
        self.cost = float(match.group(1) or 0) / 1000

    def process(self, image: np.ndarray) -> np.ndarray:
        deadline = time.perf_counter() + self.cost
        while time.perf_counter() < deadline:
            pass
        return image

    def describe(self) -> str:
        return f"cost {self.cost * 1000:g} ms"
