"""The built-in test picture (``-i test``, ``decart bench``): numpy and OpenCV only, no media stack.

Kept apart from :mod:`.sources` so that tools running in another venv (the
official SDKs' benchmarks) can draw the very same frames.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


class TestPattern:
    """A moving, colourful, grainy test picture, cheap to render.

    Rows: a scrolling full-saturation hue sweep whose brightness falls from
    full to mid-tones, then static colour bars (white, yellow, cyan, green,
    magenta, red, blue, black) and a grey ramp. On top: a bouncing ball, a
    spinning square, a sweeping bar and a frame counter, then film grain so
    that frames are not trivially compressible (a real encoder has work to
    do, as with a camera). The returned buffer is reused by the next
    :meth:`render`; copy it to keep it.
    """

    __test__ = False  # not a pytest test class despite the name

    GRAIN_SIGMA = 7.0
    _GRAIN_MARGIN = 64

    def __init__(self, width: int, height: int, fps: float = 25.0, seed: int = 0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._rng = np.random.default_rng(seed)
        self._bands_top = int(height * 0.72)
        self._scroll = self._hue_field(width, self._bands_top)
        self._static = self._bars_and_ramp(width, height - self._bands_top)
        self._buf = np.empty((height, width, 3), dtype=np.uint8)

        # Grain: one gaussian field split into its positive and negative
        # parts (two saturating uint8 ops beat int16 arithmetic); each frame
        # takes a window at a random offset, so the grain moves.
        m = self._GRAIN_MARGIN
        field = self._rng.standard_normal((height + m, width + m, 1), dtype=np.float32) * self.GRAIN_SIGMA
        field = np.repeat(field, 3, axis=2)  # luma grain, like film
        self._grain_pos = np.clip(field, 0, 255).astype(np.uint8)
        self._grain_neg = np.clip(-field, 0, 255).astype(np.uint8)

    def render(self, index: int) -> np.ndarray:
        """Draw frame number ``index`` (BGR, ``height`` x ``width``)."""
        w, h, buf = self.width, self.height, self._buf
        t = index / self.fps
        scale = h / 704.0

        # Background: the hue field is two periods wide, so scrolling is a slice.
        offset = int(index * max(2, w // 200)) % w
        buf[: self._bands_top] = self._scroll[:, offset : offset + w]
        buf[self._bands_top :] = self._static

        # Moving shapes.
        radius = max(4, int(60 * scale))
        cx = int((w - 2 * radius) * (0.5 + 0.5 * math.sin(t * 1.3))) + radius
        cy = int((self._bands_top - 2 * radius) * abs(math.sin(t * 2.1))) + radius
        cv2.circle(buf, (cx, cy), radius, (245, 245, 245), -1, cv2.LINE_AA)
        cv2.circle(buf, (cx, cy), radius, (20, 20, 20), max(1, int(4 * scale)), cv2.LINE_AA)

        side = 90 * scale
        sx = w * (0.5 + 0.35 * math.cos(t * 0.7))
        sy = self._bands_top * (0.5 + 0.3 * math.sin(t * 0.9))
        angle = t * 1.7
        corners = np.array(
            [
                (sx + side * math.cos(angle + k * math.pi / 2), sy + side * math.sin(angle + k * math.pi / 2))
                for k in range(4)
            ],
            dtype=np.int32,
        )
        cv2.fillPoly(buf, [corners], (200, 30, 200), cv2.LINE_AA)
        cv2.polylines(buf, [corners], True, (0, 230, 255), max(1, int(5 * scale)), cv2.LINE_AA)

        bar_x = int((index * 7) % w)
        cv2.rectangle(buf, (bar_x, 0), (min(w - 1, bar_x + max(2, int(12 * scale))), h - 1), (40, 40, 40), -1)

        # Frame counter, on a box so it stays legible over any background.
        # Drawn without anti-aliasing: AA text cost ~0.29 ms a frame against
        # ~0.06, a quarter of the source's CPU, and hard edges are no easier
        # for the encoder.
        text = f"decart test  frame {index:06d}  t={t:7.2f}s"
        font_scale = max(0.35, 0.9 * scale)
        thickness = max(1, int(2 * scale))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        pad = max(2, int(10 * scale))
        cv2.rectangle(buf, (pad, pad), (min(w - 1, 3 * pad + tw), 3 * pad + th + base), (16, 16, 16), -1)
        cv2.putText(
            buf, text, (2 * pad, 2 * pad + th), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
            (255, 255, 255), thickness, cv2.LINE_8,
        )

        # Grain last, so it covers shapes and text like sensor noise would.
        dy, dx = (int(v) for v in self._rng.integers(0, self._GRAIN_MARGIN, 2))
        cv2.add(buf, self._grain_pos[dy : dy + h, dx : dx + w], dst=buf)
        cv2.subtract(buf, self._grain_neg[dy : dy + h, dx : dx + w], dst=buf)
        return buf

    @staticmethod
    def _hue_field(width: int, height: int) -> np.ndarray:
        x = np.arange(2 * width)
        hue = ((x % width) * 180 // width).astype(np.uint8)  # OpenCV hue is 0..179
        # Value falls from 255 to ~110 down the field: saturated colours at
        # the top, mid-tones further down (edits must show on both).
        value = np.linspace(255, 110, height).astype(np.uint8)
        # Diagonal stripes in saturation give the flat field some texture.
        stripes = ((x[None, :] + np.arange(height)[:, None]) // max(4, width // 40)) % 2
        saturation = np.where(stripes == 0, 200, 255).astype(np.uint8)
        hsv = cv2.merge(
            [
                np.broadcast_to(hue[None, :], (height, 2 * width)).copy(),
                saturation,
                np.broadcast_to(value[:, None], (height, 2 * width)).copy(),
            ]
        )
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)

    @staticmethod
    def _bars_and_ramp(width: int, height: int) -> np.ndarray:
        bars = [
            (255, 255, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0),
            (255, 0, 255), (0, 0, 255), (255, 0, 0), (0, 0, 0),
        ]  # BGR: white, yellow, cyan, green, magenta, red, blue, black
        img = np.empty((height, width, 3), dtype=np.uint8)
        bar_h = height * 3 // 5
        for k, colour in enumerate(bars):
            img[:bar_h, k * width // len(bars) : (k + 1) * width // len(bars)] = colour
        ramp = np.linspace(0, 255, width).astype(np.uint8)
        img[bar_h:] = ramp[None, :, None]
        return img


# -- opening ----------------------------------------------------------------
