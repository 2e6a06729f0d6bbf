"""Global style edits of the built-in engine, on the Y, U, V planes of an I420 frame.

:data:`EDITS` maps an :class:`EditSpec` ``kind`` to a factory that returns an
:class:`Edit` (stage :data:`STAGE_STYLE`, no face needed). Every edit changes
``ctx.image`` in place and never converts the whole frame to BGR:

- per-level work is a lookup table (``cv2.LUT``) built once, when the edit is
  made or the first time a frame size is seen;
- whatever depends on the frame size (vignette masks, grain tiles, scratch
  buffers) is built on the first frame of that size and kept on the edit;
- neighbourhood filters (smoothing, edges, blur) run on a 1/2- or 1/4-size
  copy of a plane and are scaled back up.

Each costs 0.01..2.5 ms per 1280x704 frame on a 2-core machine (see the
module's report / ``decart bench engine``); the budget is 15 ms.

Kinds and what they read from the spec (``amount`` defaults to 1.0):

==================  =========================================================
``black_and_white`` ``amount`` < 1 desaturates partly (1 = no colour at all)
``invert``          (nothing)
``tint``            ``color`` (required); ``amount`` scales the strength
``brightness``      ``amount``: mid-grey luma is multiplied by it (1.3 brighter,
                    0.7 darker; clamped to 0.25..1.9)
``warmth``          ``amount``: > 0 warmer, < 0 cooler (±1 = a clear cast,
                    clamped to ±3)
``sepia``           ``amount`` scales tone, fade, grain and vignette (0..2)
``cartoon``         ``amount`` scales edge darkness and colour boost (0..2)
``sketch``          ``amount`` > 1 darker, bolder lines (0.5..2)
``thermal``         (nothing)
``night_vision``    ``amount`` scales gain and noise (0.5..2)
``neon``            ``amount`` scales saturation and glow (0..2)
``pixelate``        ``amount`` scales the 16 px block size (block 2..128 px)
``blur``            ``amount`` scales the blur radius (0.25..4)
==================  =========================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .colors import ACHROMATIC, rgb_to_yuv
from .frame import STAGE_STYLE, Edit, EditSpec, FrameContext

__all__ = ["EDITS", "TINT_STRENGTH"]

TINT_STRENGTH = 0.6
"""How far a tint pulls the chroma toward the colour at amount 1 (0 = none, 1 = flat colour)."""

_ACHROMATIC_TINT = {
    # name: (chroma strength toward neutral, luma strength toward the colour's Y)
    "white": (TINT_STRENGTH, 0.5),  # washed out, brighter
    "black": (TINT_STRENGTH, 0.5),  # muted, darker
    "gray": (1.0, 0.3),  # colourless, lower contrast
    "silver": (1.0, 0.3),  # colourless, lighter
}

_LEVELS = np.arange(256, dtype=np.float64)


# --------------------------------------------------------------------- helpers


def _lut(values: np.ndarray) -> np.ndarray:
    """A uint8 lookup table from 256 float values (rounded, clipped)."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _blend_lut(target: float, strength: float) -> np.ndarray:
    """x -> x + (target - x) * strength."""
    return _lut(_LEVELS + (target - _LEVELS) * strength)


def _clamp(x: float, lo: float, hi: float) -> float:
    """``x`` limited to ``lo..hi``; a NaN or infinite amount counts as the normal 1.0."""
    if not math.isfinite(x):
        x = 1.0
    return min(hi, max(lo, x))


def _chroma(ctx: FrameContext) -> np.ndarray:
    """Both chroma planes as one (2, H/2*W/2) view: U row then V row."""
    return ctx.image.reshape(-1)[ctx.height * ctx.width :].reshape(2, -1)


def _quarter(w: int, h: int) -> tuple[int, int]:
    """The (w, h) of the 1/4-size working image (at least 8 x 8)."""
    return max(8, w // 4), max(8, h // 4)


def _vignette(w: int, h: int, strength: float, power: float = 2.0) -> np.ndarray:
    """A uint8 (h, w) mask, 255 in the centre falling to 255*(1-strength) in the corners."""
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
    r2 = (ys[:, None] ** 2 + xs[None, :] ** 2) / 2  # 0 in the centre, ~1 in the corners
    fall = np.clip(r2, 0, 1) ** (power / 2)
    return np.clip(np.rint(255 * (1 - strength * fall)), 0, 255).astype(np.uint8)


def _noise_tile(w: int, h: int, sigma: float, seed: int, grain: int = 1) -> np.ndarray:
    """Zero-mean Gaussian noise biased by +64 as uint8, (h + 64, w + 64); ``grain`` px clumps."""
    rng = np.random.default_rng(seed)
    th, tw = (h + 64 + grain - 1) // grain, (w + 64 + grain - 1) // grain
    noise = rng.normal(0.0, sigma, (th, tw)).astype(np.float32)
    if grain > 1:
        noise = cv2.resize(noise, (tw * grain, th * grain), interpolation=cv2.INTER_LINEAR)
    noise = noise[: h + 64, : w + 64]
    return np.clip(np.rint(noise + 64), 0, 255).astype(np.uint8)


class _Style:
    """Base of every style edit: stage, no face, and a per-frame-size cache."""

    stage = STAGE_STYLE
    needs_face = False
    kind = "style"

    def __init__(self, spec: EditSpec) -> None:
        self.spec = spec
        self._sized: dict[tuple[int, int], dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.kind} amount={self.spec.amount:g}>"

    def sized(self, ctx: FrameContext) -> dict[str, Any]:
        """What this edit keeps for the frame size of ``ctx`` (built on first use)."""
        key = (ctx.width, ctx.height)
        data = self._sized.get(key)
        if data is None:
            if len(self._sized) > 4:  # sizes rarely change; do not grow forever
                self._sized.clear()
            data = self._sized[key] = self.prepare(ctx.width, ctx.height)
        return data

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        """Build size-dependent tables for a w x h frame."""
        return {}

    def apply(self, ctx: FrameContext) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _Grain:
    """Per-frame noise from a fixed tile: a random window of it each frame."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def window(self, tile: np.ndarray, w: int, h: int) -> np.ndarray:
        """A (h, w) view of ``tile`` at a random offset (tiles are 64 px larger each way)."""
        dy, dx = (int(v) for v in self.rng.integers(0, 64, 2))
        return tile[dy : dy + h, dx : dx + w]


def _add_biased(plane: np.ndarray, biased: np.ndarray, bias: int = 64) -> None:
    """plane += (biased - bias), saturating, in place."""
    cv2.addWeighted(plane, 1.0, biased, 1.0, -float(bias), dst=plane)


# ---------------------------------------------------------- simple colour edits


class BlackAndWhite(_Style):
    """No colour: chroma = 128 (``amount`` < 1 keeps some colour)."""

    kind = "black_and_white"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        strength = _clamp(spec.amount, 0.0, 1.0)
        self._lut = None if strength >= 1.0 else _blend_lut(128, strength)

    def apply(self, ctx: FrameContext) -> None:
        chroma = _chroma(ctx)
        if self._lut is None:
            chroma.fill(128)
        else:
            cv2.LUT(chroma, self._lut, dst=chroma)


class Invert(_Style):
    """A photo negative: every sample x becomes 255 - x."""

    kind = "invert"

    def apply(self, ctx: FrameContext) -> None:
        cv2.bitwise_not(ctx.image, dst=ctx.image)


class Tint(_Style):
    """Chroma pulled toward a colour; for black/white/gray/silver, luma and saturation instead."""

    kind = "tint"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        color = spec.color
        if color is None:
            raise ValueError("a tint needs a colour")
        scale = _clamp(spec.amount, 0.0, 1.0 / TINT_STRENGTH)
        self._y_lut: np.ndarray | None = None
        if color.name in ACHROMATIC:
            chroma_s, luma_s = _ACHROMATIC_TINT.get(color.name, (1.0, 0.3))
            chroma_s = min(1.0, chroma_s * scale)
            luma_s = min(1.0, luma_s * scale)
            self._y_lut = _blend_lut(color.y, luma_s)
            self._u_lut = self._v_lut = _blend_lut(128, chroma_s)
        else:
            s = min(1.0, TINT_STRENGTH * scale)
            self._u_lut = _blend_lut(color.u, s)
            self._v_lut = _blend_lut(color.v, s)

    def apply(self, ctx: FrameContext) -> None:
        if self._y_lut is not None:
            y = ctx.y
            cv2.LUT(y, self._y_lut, dst=y)
        u, v = ctx.u, ctx.v
        cv2.LUT(u, self._u_lut, dst=u)
        cv2.LUT(v, self._v_lut, dst=v)


class Brightness(_Style):
    """A luma curve that multiplies mid-grey by ``amount`` and keeps black and white."""

    kind = "brightness"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        amount = _clamp(spec.amount, 0.25, 1.9)
        # gamma with 0.5 ** g == 0.5 * amount, on the limited range 16..235
        g = math.log(0.5 * amount) / math.log(0.5)
        x = np.clip((_LEVELS - 16) / 219, 0, 1)
        y = 16 + 219 * x**g
        y = np.where(_LEVELS > 235, _LEVELS, np.where(_LEVELS < 16, _LEVELS, y))
        self._lut = _lut(y)
        # keep colours from looking washed out / neon: chroma follows a little
        c = _clamp(0.85 + 0.15 * amount, 0.85, 1.1)
        self._c_lut = None if abs(c - 1) < 1e-3 else _lut(128 + (_LEVELS - 128) * c)

    def apply(self, ctx: FrameContext) -> None:
        y = ctx.y
        cv2.LUT(y, self._lut, dst=y)
        if self._c_lut is not None:
            chroma = _chroma(ctx)
            cv2.LUT(chroma, self._c_lut, dst=chroma)


WARMTH_SHIFT = 12.0
"""Chroma shift (U down, V up) of ``warmth`` at amount 1."""


class Warmth(_Style):
    """Colour temperature: V up and U down for warmer (amount > 0), the reverse for cooler."""

    kind = "warmth"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        shift = WARMTH_SHIFT * _clamp(spec.amount, -3.0, 3.0)
        self._u_lut = _lut(_LEVELS - shift)
        self._v_lut = _lut(_LEVELS + shift)

    def apply(self, ctx: FrameContext) -> None:
        u, v = ctx.u, ctx.v
        cv2.LUT(u, self._u_lut, dst=u)
        cv2.LUT(v, self._v_lut, dst=v)


# ------------------------------------------------------------------ film looks


class Sepia(_Style):
    """Old film: sepia tone, faded contrast, grain that changes every frame, vignette, flicker."""

    kind = "sepia"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.0, 2.0)
        self._grain = _Grain(seed=7)
        self._u = int(round(128 - 16 * a))
        self._v = int(round(128 + 14 * a))
        # faded: blacks lifted, whites lowered, slight midtone lift; four flicker levels
        x = np.clip((_LEVELS - 16) / 219, 0, 1)
        lo, hi = 16 + 22 * a, 235 - 22 * a
        curve = x ** (1 - 0.1 * a)
        self._luts = [_lut(lo + (hi - lo) * curve + f * a) for f in (-4.0, -1.5, 1.5, 4.0)]

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        a = self._a
        sigma = 6.0 * a
        return {
            "vignette": _vignette(w, h, min(0.9, 0.35 * a), power=2.5),
            "grain": _noise_tile(w, h, sigma, seed=11, grain=1) if sigma > 0 else None,
        }

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        flick = int(self._grain.rng.integers(0, len(self._luts)))
        cv2.LUT(y, self._luts[flick], dst=y)
        cv2.multiply(y, data["vignette"], dst=y, scale=1 / 255)
        if data["grain"] is not None:
            _add_biased(y, self._grain.window(data["grain"], ctx.width, ctx.height))
            # now and then a thin vertical scratch, as on worn film
            if self._a > 0 and self._grain.rng.random() < 0.25:
                x = int(self._grain.rng.integers(0, ctx.width))
                shade = 200 if self._grain.rng.random() < 0.5 else 40
                cv2.line(y, (x, 0), (x, ctx.height - 1), shade, 1)
        u, v = ctx.u, ctx.v
        u.fill(self._u)
        v.fill(self._v)


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _soft_bands(levels: np.ndarray, n: int, ramp: float) -> np.ndarray:
    """Limited-range levels quantised to ``n`` flat bands; ``ramp`` (0..1) of each band blends into the next."""
    step = 219 / n
    pos = np.clip(levels - 16, 0, 218.999) / step  # 0..n
    band = np.floor(pos)
    frac = pos - band
    # 0 inside the band, rising smoothly to 1 over the last ``ramp`` of it
    t = np.clip((frac - (1 - ramp)) / max(ramp, 1e-6), 0, 1)
    t = t * t * (3 - 2 * t)
    band = np.minimum(band + t, n - 1)
    return 16 + (band + 0.5) * step


class Cartoon(_Style):
    """Comic / anime: smoothed, posterised colours with dark outlines (luma at 1/2 size, chroma at 1/4)."""

    kind = "cartoon"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.0, 2.0)
        # luma: 6 flat bands, slightly brightened, with short ramps between them so
        # texture near a band boundary does not turn into ragged speckle
        self._y_lut = _lut(6 + _soft_bands(_LEVELS, 6, ramp=0.35))
        # chroma: saturation boosted, then quantised to steps of 12
        sat = 1.0 + 0.35 * a
        c = np.clip(128 + (_LEVELS - 128) * sat, 16, 240)
        self._c_lut = _lut(128 + np.round((c - 128) / 12) * 12)
        self._edge_level = int(round(16 + (1 - min(a, 1.0)) * 140))  # luma of outline pixels

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {"half": (w // 2, h // 2), "q": _quarter(w, h)}

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        half = data["half"]
        y = ctx.y
        # luma: edge-preserving smoothing at 1/2 size, outlines from Canny there
        small = cv2.resize(y, half, interpolation=cv2.INTER_AREA)
        smooth = cv2.bilateralFilter(small, 5, 30, 5)
        edges = cv2.Canny(smooth, 50, 120)
        keep = cv2.bitwise_not(edges)
        cv2.max(keep, self._edge_level, dst=keep)
        keep = cv2.erode(keep, _CROSS) if self._a > 0.5 else keep
        cv2.resize(smooth, (ctx.width, ctx.height), dst=y, interpolation=cv2.INTER_LINEAR)
        cv2.LUT(y, self._y_lut, dst=y)
        keep_full = cv2.resize(keep, (ctx.width, ctx.height), interpolation=cv2.INTER_LINEAR)
        cv2.min(y, keep_full, dst=y)
        # colours: median-smoothed at 1/4 size, back up, saturated and quantised
        qw, qh = data["q"]
        for plane in (ctx.u, ctx.v):
            sm = cv2.resize(plane, (qw, qh), interpolation=cv2.INTER_AREA)
            sm = cv2.medianBlur(sm, 3)
            cv2.resize(sm, half, dst=plane, interpolation=cv2.INTER_LINEAR)
        chroma = _chroma(ctx)
        cv2.LUT(chroma, self._c_lut, dst=chroma)


class Sketch(_Style):
    """Pencil sketch: luma dodge-blended with its blurred inverse, pencil outlines, no colour."""

    kind = "sketch"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.5, 2.0)
        # dodge output 0..255 (255 = paper): darken the strokes, map to limited range
        x = _LEVELS / 255
        self._lut = _lut(16 + 219 * x ** (2.0 * a))
        # outline strength: Sobel magnitude (0..255) -> multiplier 255 (none) .. ~90 (dark line)
        self._edge_lut = _lut(255 - np.clip((_LEVELS - 12) * 2.2 * a, 0, 165))

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {"half": (w // 2, h // 2)}

    def apply(self, ctx: FrameContext) -> None:
        half = self.sized(ctx)["half"]
        y = ctx.y
        small = cv2.resize(y, half, interpolation=cv2.INTER_AREA)
        blurred = cv2.GaussianBlur(small, (0, 0), 3.0)
        cv2.max(blurred, 1, dst=blurred)
        # outlines: gradient magnitude of the lightly smoothed half-size luma
        soft = cv2.GaussianBlur(small, (3, 3), 0)
        gx = cv2.Sobel(soft, cv2.CV_16S, 1, 0)
        gy = cv2.Sobel(soft, cv2.CV_16S, 0, 1)
        mag = cv2.addWeighted(cv2.convertScaleAbs(gx), 0.5, cv2.convertScaleAbs(gy), 0.5, 0)
        cv2.LUT(mag, self._edge_lut, dst=mag)
        # colour dodge of y with the inverted blur: y * 255 / (255 - (255 - blur)) = y * 255 / blur
        cv2.divide(small, blurred, dst=small, scale=255)
        cv2.LUT(small, self._lut, dst=small)
        cv2.multiply(small, mag, dst=small, scale=1 / 255)
        cv2.resize(small, (ctx.width, ctx.height), dst=y, interpolation=cv2.INTER_LINEAR)
        _chroma(ctx).fill(128)


def _thermal_palette() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V lookup tables from a luma level to an 'ironbow'-like heat colour."""
    stops = [  # position, RGB: cold deep blue -> purple -> red -> orange -> yellow
        (0.00, (8, 0, 80)),
        (0.20, (40, 10, 170)),
        (0.40, (150, 0, 170)),
        (0.60, (230, 30, 60)),
        (0.78, (255, 130, 0)),
        (0.92, (255, 220, 0)),
        (1.00, (255, 250, 150)),
    ]
    pos = np.array([s[0] for s in stops])
    rgb = np.array([s[1] for s in stops], dtype=np.float64)
    t = np.clip((_LEVELS - 16) / 219, 0, 1)
    r, g, b = (np.interp(t, pos, rgb[:, k]) for k in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return _lut(y), _lut(u), _lut(v)


class Thermal(_Style):
    """Heat map: luma, stretched to the frame's range and softened, through a cold-to-hot palette."""

    kind = "thermal"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self._pal_y, self._pal_u, self._pal_v = _thermal_palette()
        self._range: tuple[float, float] | None = None  # luma range mapped to the palette

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {"q": _quarter(w, h)}

    def apply(self, ctx: FrameContext) -> None:
        qw, qh = self.sized(ctx)["q"]
        y = ctx.y
        small = cv2.resize(y, (qw, qh), interpolation=cv2.INTER_AREA)
        cv2.GaussianBlur(small, (0, 0), 1.2, dst=small)
        # auto range from the small frame's 2nd..98th percentile, smoothed over frames
        hist = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel().cumsum()
        lo = float(np.searchsorted(hist, hist[-1] * 0.02))
        hi = float(np.searchsorted(hist, hist[-1] * 0.98))
        if hi - lo < 40:
            mid = (hi + lo) / 2
            lo, hi = mid - 20, mid + 20
        if self._range is not None:  # follow slowly, so the colours do not pump
            lo = self._range[0] + (lo - self._range[0]) * 0.3
            hi = self._range[1] + (hi - self._range[1]) * 0.3
        self._range = (lo, hi)
        idx = _lut(16 + (_LEVELS - lo) * 219 / max(1.0, hi - lo))
        lut_y, lut_u, lut_v = self._pal_y[idx], self._pal_u[idx], self._pal_v[idx]
        half = cv2.resize(small, (ctx.width // 2, ctx.height // 2), interpolation=cv2.INTER_LINEAR)
        cv2.LUT(half, lut_u, dst=ctx.u)
        cv2.LUT(half, lut_v, dst=ctx.v)
        cv2.resize(small, (ctx.width, ctx.height), dst=y, interpolation=cv2.INTER_LINEAR)
        cv2.LUT(y, lut_y, dst=y)


class NightVision(_Style):
    """Image intensifier: green monochrome, high gain, sensor noise, round dark vignette."""

    kind = "night_vision"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.5, 2.0)
        self._grain = _Grain(seed=23)
        x = np.clip((_LEVELS - 16) / 219, 0, 1)
        gained = np.clip(x ** (1 / (1 + 0.5 * a)) * (1 + 0.08 * a), 0, 1)
        self._y_lut = _lut(16 + 219 * gained)
        # chroma by (gained) luma: phosphor green, strongest in the mid-tones, paler near white
        t = np.clip((_LEVELS - 16) / 219, 0, 1)
        s = np.clip(t / 0.3, 0, 1) * (1 - 0.45 * np.clip((t - 0.75) / 0.25, 0, 1))
        _, gu, gv = rgb_to_yuv(60, 255, 90)
        self._u_lut = _lut(128 + (gu - 128) * 0.8 * s)
        self._v_lut = _lut(128 + (gv - 128) * 0.8 * s)

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        # round "through the tube" look: bright inside ~45% of the half-diagonal, dark towards the corners
        xs = np.arange(w, dtype=np.float32) - (w - 1) / 2
        ys = np.arange(h, dtype=np.float32) - (h - 1) / 2
        r = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2) / (0.5 * math.hypot(w, h))
        mask = np.clip(1.0 - 0.85 * np.clip((r - 0.45) / 0.55, 0, 1) ** 1.5, 0, 1)
        return {
            "vignette": np.rint(mask * 255).astype(np.uint8),
            "noise": _noise_tile(w, h, 9.0 * self._a, seed=29, grain=1),
            "half": (w // 2, h // 2),
        }

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        cv2.LUT(y, self._y_lut, dst=y)
        _add_biased(y, self._grain.window(data["noise"], ctx.width, ctx.height))
        cv2.multiply(y, data["vignette"], dst=y, scale=1 / 255)
        half = cv2.resize(y, data["half"], interpolation=cv2.INTER_NEAREST)
        cv2.LUT(half, self._u_lut, dst=ctx.u)
        cv2.LUT(half, self._v_lut, dst=ctx.v)


class Neon(_Style):
    """Cyberpunk: dark, saturated magenta/violet grade with glowing cyan edges."""

    kind = "neon"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.0, 2.0)
        x = np.clip((_LEVELS - 16) / 219, 0, 1)
        # darker, contrasty body so the glow reads
        self._y_lut = _lut(16 + 219 * np.clip(x ** (1 + 0.5 * a) * (1 + 0.05 * a), 0, 1))
        sat = 1.0 + 0.9 * a
        self._sat_lut = _lut(128 + (_LEVELS - 128) * sat)
        # luma-driven push (biased by 128): shadows blue-violet, highlights magenta-pink
        t = x
        _, mu, mv = rgb_to_yuv(255, 0, 200)  # hot magenta
        _, bu, bv = rgb_to_yuv(60, 0, 255)  # electric violet-blue
        push_u = (bu - 128) * (1 - t) + (mu - 128) * t
        push_v = (bv - 128) * (1 - t) + (mv - 128) * t
        self._push_u = _lut(128 + 0.45 * a * push_u)
        self._push_v = _lut(128 + 0.45 * a * push_v)
        _, self._cu, self._cv = rgb_to_yuv(0, 255, 255)  # cyan glow

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {"q": _quarter(w, h), "half": (w // 2, h // 2)}

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        qw, qh = data["q"]
        half_size = data["half"]
        a = self._a
        y = ctx.y
        small = cv2.resize(y, (qw, qh), interpolation=cv2.INTER_AREA)
        edges = cv2.Canny(cv2.GaussianBlur(small, (3, 3), 0), 40, 110)
        glow = cv2.GaussianBlur(edges, (0, 0), 1.5)
        cv2.max(glow, edges, dst=glow)
        yhalf = cv2.resize(y, half_size, interpolation=cv2.INTER_NEAREST)
        glow_half = cv2.resize(glow, half_size, interpolation=cv2.INTER_LINEAR)
        # chroma: boosted saturation + luma-driven magenta/violet push + cyan where it glows
        for plane, push, target in ((ctx.u, self._push_u, self._cu), (ctx.v, self._push_v, self._cv)):
            cv2.LUT(plane, self._sat_lut, dst=plane)
            p = cv2.LUT(yhalf, push)
            cv2.addWeighted(plane, 1.0, p, 1.0, -128.0, dst=plane)
            k = (target - 128) / 255 * 0.9 * min(1.0, a)
            cv2.addWeighted(plane, 1.0, glow_half, k, 0.0, dst=plane)
        cv2.LUT(y, self._y_lut, dst=y)
        glow_full = cv2.resize(glow, (ctx.width, ctx.height), interpolation=cv2.INTER_LINEAR)
        cv2.addWeighted(y, 1.0, glow_full, 0.6 * min(1.0, a), 0.0, dst=y)


class Pixelate(_Style):
    """8-bit look: aligned square blocks (16 px at amount 1) and a reduced palette."""

    kind = "pixelate"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        block = int(round(16 * _clamp(spec.amount, 0.125, 8.0)))
        self.block = max(2, block + (block % 2))  # even, so chroma blocks line up
        # palette reduction: 12 luma levels, chroma in steps of 16 with a little more saturation
        step = 219 / 12
        self._y_lut = _lut(16 + (np.floor(np.clip(_LEVELS - 16, 0, 218.9) / step) + 0.5) * step)
        c = 128 + (_LEVELS - 128) * 1.15
        self._c_lut = _lut(np.clip(128 + np.round((c - 128) / 16) * 16, 16, 240))

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        b = self.block
        bw, bh = -(-w // b), -(-h // b)  # blocks across and down (a partial one at the edge)
        return {
            "blocks": (bw, bh),
            "exact": bw * b == w and bh * b == h,
            "y_big": np.empty((bh * b, bw * b), np.uint8),
            "c_big": np.empty((bh * b // 2, bw * b // 2), np.uint8),
        }

    @staticmethod
    def _blocks(plane: np.ndarray, block: int, data: dict[str, Any], big: np.ndarray, lut: np.ndarray) -> None:
        """Replace ``plane`` by ``block``-px squares of its (palette-reduced) block means."""
        h, w = plane.shape
        bw, bh = data["blocks"]
        exact = data["exact"]
        if exact:
            small = cv2.resize(plane, (bw, bh), interpolation=cv2.INTER_AREA)
        else:  # pad to whole blocks by repeating the edge, so every block is an exact mean
            padded = cv2.copyMakeBorder(plane, 0, bh * block - h, 0, bw * block - w, cv2.BORDER_REPLICATE)
            small = cv2.resize(padded, (bw, bh), interpolation=cv2.INTER_AREA)
        cv2.LUT(small, lut, dst=small)
        if exact:
            cv2.resize(small, (w, h), dst=plane, interpolation=cv2.INTER_NEAREST)
        else:
            cv2.resize(small, (bw * block, bh * block), dst=big, interpolation=cv2.INTER_NEAREST)
            plane[:] = big[:h, :w]

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        b = self.block
        self._blocks(ctx.y, b, data, data["y_big"], self._y_lut)
        for plane in (ctx.u, ctx.v):
            self._blocks(plane, b // 2, data, data["c_big"], self._c_lut)


class Blur(_Style):
    """A strong soft-focus blur (sigma about 8 px at amount 1), done at 1/4 or 1/8 size and scaled up."""

    kind = "blur"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        sigma = 8.0 * _clamp(spec.amount, 0.25, 4.0)  # in full-size pixels
        # wide blurs work at 1/8 size, so the kernel stays small (and the cost flat)
        self._scale = 8 if sigma > 12 else 4
        self._sigma = sigma / self._scale

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        f = self._scale
        return {"small": (max(4, w // f), max(4, h // f)), "csmall": (max(2, w // (2 * f)), max(2, h // (2 * f)))}

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        small = cv2.resize(y, data["small"], interpolation=cv2.INTER_AREA)
        cv2.GaussianBlur(small, (0, 0), self._sigma, dst=small)
        cv2.resize(small, (ctx.width, ctx.height), dst=y, interpolation=cv2.INTER_LINEAR)
        for plane in (ctx.u, ctx.v):
            sm = cv2.resize(plane, data["csmall"], interpolation=cv2.INTER_AREA)
            cv2.GaussianBlur(sm, (0, 0), self._sigma, dst=sm)
            cv2.resize(sm, (ctx.width // 2, ctx.height // 2), dst=plane, interpolation=cv2.INTER_LINEAR)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    cls.kind: cls
    for cls in (
        BlackAndWhite,
        Invert,
        Tint,
        Brightness,
        Warmth,
        Sepia,
        Cartoon,
        Sketch,
        Thermal,
        NightVision,
        Neon,
        Pixelate,
        Blur,
    )
}
"""Style edits by :attr:`EditSpec.kind`: each factory takes the spec and returns the edit."""
