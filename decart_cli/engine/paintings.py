"""Art styles over the whole picture: watercolor, oil painting, pop art, coloured pencil, mosaic.

Every edit here is a global style (stage :data:`.frame.STAGE_STYLE`, no face
needed) that works on the Y, U, V planes of the I420 frame, never on BGR.
What makes each one read as its medium is a texture drawn procedurally with
numpy / cv2 the first time a frame size is seen and kept for the process
(:func:`functools.lru_cache` on the size): paper grain, brush strokes, a
halftone screen, pencil hatching, a tile layout. Per frame the picture is
analysed at 1/2 or 1/4 size (smoothing, edges, stroke orientation) and the
cached texture is combined with it with a few whole-plane cv2 operations.

- ``watercolor``: flat washes (bilateral + soft bands at 1/4 size), pigment
  pooled darker at the washes' edges, colour bled past the shapes (chroma
  blurred at 1/8 size) and paled, blotchy pigment density, cold-press paper
  grain and faint ink lines.
- ``oil_painting``: shapes simplified (median at 1/2 size), colour
  saturated, and an embossed brush-stroke relief whose stroke direction
  follows the picture's edges (structure tensor at 1/4 size, one of
  :data:`OIL_DIRECTIONS` cached stroke textures per pixel).
- ``pop_art``: each colour snapped to a bold hue of its own sector and one of
  three luma bands (black ink, strong colour with Ben-Day dots, pale flat
  colour), thick black outlines.
- ``colored_pencil``: white paper; pencil hatching (two directions, the
  second only in dark tones) whose coverage follows the picture's darkness,
  in the picture's own (slightly richer) colours, with coloured outlines.
- ``mosaic``: square tesserae in offset rows, each slightly turned and
  jittered, filled with the mean colour under it, bevelled, separated by
  grey grout.

Each costs about 2..8 ms per 1280x704 frame on a 2-core machine (see
``decart bench engine``); the budget is 15 ms. Building a texture costs
0.05..0.5 s once per frame size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from .colors import rgb_to_yuv
from .frame import Edit, EditSpec, FrameContext
from .styles import _LEVELS, _add_biased, _chroma, _clamp, _lut, _quarter, _soft_bands, _Style

__all__ = ["EDITS", "OIL_DIRECTIONS"]

OIL_DIRECTIONS = 6
"""Brush-stroke directions of the oil painting (every 180/6 = 30 degrees)."""


def _half(w: int, h: int) -> tuple[int, int]:
    """The (w, h) of the 1/2-size working image (and of the chroma planes)."""
    return w // 2, h // 2


def _noise(h: int, w: int, sigma: float, seed: int) -> np.ndarray:
    """Float32 (h, w) Gaussian noise of unit spread, smoothed over ``sigma`` px (none for 0)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((h, w)).astype(np.float32)
    if sigma > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        noise /= max(float(noise.std()), 1e-6)
    return noise


def _biased(values: np.ndarray, bias: int = 128) -> np.ndarray:
    """Float values as uint8 ``bias + value`` (rounded, saturated), for :func:`_add_biased`."""
    return np.clip(np.rint(values + bias), 0, 255).astype(np.uint8)


def _gain_lut(gain: float, offset: float = 0.0) -> np.ndarray:
    """x -> x * gain + offset."""
    return _lut(_LEVELS * gain + offset)


def _saturation_lut(sat: float) -> np.ndarray:
    """Chroma x -> 128 + (x - 128) * sat."""
    return _lut(128 + (_LEVELS - 128) * sat)


def _smooth_planes(ctx: FrameContext, size: tuple[int, int], median: int) -> tuple[np.ndarray, np.ndarray]:
    """U and V shrunk to ``size`` and median-smoothed (``median`` odd, 0 for none)."""
    out = []
    for plane in (ctx.u, ctx.v):
        small = cv2.resize(plane, size, interpolation=cv2.INTER_AREA)
        out.append(cv2.medianBlur(small, median) if median else small)
    return out[0], out[1]


# ------------------------------------------------------------------ watercolor


@lru_cache(maxsize=4)
def _paper(w: int, h: int) -> np.ndarray:
    """Cold-press paper grain for a w x h frame: biased uint8 (128 = no change), fine tooth plus soft dimples."""
    tooth = _noise(h, w, 0.7, seed=41)
    dimples = _noise(h, w, 3.0, seed=43)
    fibres = cv2.blur(_noise(h, w, 0, seed=47), (9, 1))  # short horizontal fibres
    return _biased(3.0 * tooth + 4.0 * dimples + 4.0 * fibres)


@lru_cache(maxsize=4)
def _pigment(w: int, h: int) -> np.ndarray:
    """Blotchy pigment density at 1/4 size: uint8 around 128 (128 = as painted), for cv2.multiply."""
    qw, qh = _quarter(w, h)
    blotch = 0.6 * _noise(qh, qw, 6.0, seed=51) + 0.4 * _noise(qh, qw, 2.0, seed=53)
    return np.clip(np.rint(128 * (1 + 0.12 * blotch)), 0, 255).astype(np.uint8)


class Watercolor(_Style):
    """Watercolour: pale flat washes with darker pooled rims, bled colour, paper grain, faint ink lines."""

    kind = "watercolor"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.3, 2.0)
        # washes: 5 soft bands, then paled toward the paper (dark pigment never reaches black)
        bands = _soft_bands(_LEVELS, 5, ramp=0.5)
        self._y_lut = _lut(235 - (235 - bands) * (0.68 - 0.08 * (a - 1)))
        self._c_lut = _saturation_lut(0.95)
        self._edge_lut = _lut(np.clip((_LEVELS - 6) * 1.6 * a, 0, 70))  # gradient -> pooled darkening
        self._ink_lut = _lut(np.where(_LEVELS > 0, 55 * min(a, 1.5), 0))  # an ink line darkens by this

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {
            "q": _quarter(w, h),
            "half": _half(w, h),
            "c8": (max(4, w // 8), max(4, h // 8)),
            "paper": _paper(w, h),
            "pigment": _pigment(w, h),
        }

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        size = (ctx.width, ctx.height)
        # faint ink lines from the half-size picture
        half = cv2.resize(y, data["half"], interpolation=cv2.INTER_AREA)
        ink = cv2.Canny(cv2.GaussianBlur(half, (5, 5), 1.2), 40, 110)
        cv2.LUT(ink, self._ink_lut, dst=ink)
        # washes at 1/4 size: smoothed flat areas, paled
        small = cv2.resize(half, data["q"], interpolation=cv2.INTER_AREA)
        wash = cv2.bilateralFilter(small, 7, 40, 4)
        cv2.LUT(wash, self._y_lut, dst=wash)
        # pigment: blotchy density of the paint (darkness scaled around 1)
        cv2.bitwise_not(wash, dst=wash)
        cv2.multiply(wash, data["pigment"], dst=wash, scale=1 / 128)
        cv2.bitwise_not(wash, dst=wash)
        # pooling: pigment collects at a wash's rim, darker where the wash changes
        gx = cv2.Sobel(wash, cv2.CV_16S, 1, 0)
        gy = cv2.Sobel(wash, cv2.CV_16S, 0, 1)
        rim = cv2.addWeighted(cv2.convertScaleAbs(gx), 0.5, cv2.convertScaleAbs(gy), 0.5, 0)
        cv2.LUT(rim, self._edge_lut, dst=rim)
        cv2.subtract(wash, rim, dst=wash)
        cv2.resize(wash, data["half"], dst=half, interpolation=cv2.INTER_LINEAR)
        cv2.subtract(half, ink, dst=half)
        cv2.resize(half, size, dst=y, interpolation=cv2.INTER_LINEAR)
        _add_biased(y, data["paper"], 128)
        # colour bleeds past the shapes: blurred at 1/8 size, slightly paled
        for plane in (ctx.u, ctx.v):
            sm = cv2.resize(plane, data["c8"], interpolation=cv2.INTER_AREA)
            cv2.GaussianBlur(sm, (0, 0), 1.0, dst=sm)
            cv2.resize(sm, data["half"], dst=plane, interpolation=cv2.INTER_LINEAR)
        chroma = _chroma(ctx)
        cv2.LUT(chroma, self._c_lut, dst=chroma)


# ----------------------------------------------------------------- oil painting


def _stroke_relief(w: int, h: int, angle: float, seed: int) -> np.ndarray:
    """Float32 (h, w) height of overlapping brush dabs along ``angle`` (radians), with bristle grooves."""
    rng = np.random.default_rng(seed)
    height = np.zeros((h, w), np.float32)
    count = int(w * h / 40)
    dx, dy = math.cos(angle), math.sin(angle)
    xs = rng.uniform(-10, w + 10, count)
    ys = rng.uniform(-10, h + 10, count)
    lengths = rng.uniform(5, 11, count)
    widths = rng.integers(2, 5, count)
    levels = rng.uniform(0.2, 1.0, count)
    turns = rng.normal(0, 0.12, count)
    for x, y, length, width, level, turn in zip(xs, ys, lengths, widths, levels, turns):
        ex, ey = (dx * math.cos(turn) - dy * math.sin(turn)) * length, (dx * math.sin(turn) + dy * math.cos(turn)) * length
        p0 = (int(round(x - ex)), int(round(y - ey)))
        p1 = (int(round(x + ex)), int(round(y + ey)))
        cv2.line(height, p0, p1, float(level), int(width), cv2.LINE_AA)
    # bristles: fine noise smeared along the stroke direction
    k = 9
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    cv2.line(kernel, (int(round(c - dx * c)), int(round(c - dy * c))), (int(round(c + dx * c)), int(round(c + dy * c))), 1.0, 1)
    kernel /= kernel.sum()
    bristles = cv2.filter2D(_noise(h, w, 0, seed=seed + 1), -1, kernel)
    return height + 0.25 * bristles


@lru_cache(maxsize=2)
def _oil_textures(w: int, h: int) -> tuple[np.ndarray, ...]:
    """:data:`OIL_DIRECTIONS` embossed stroke reliefs at 1/2 size, biased uint8 (128 = flat), lit from the top left."""
    hw, hh = _half(w, h)
    out = []
    for i in range(OIL_DIRECTIONS):
        relief = _stroke_relief(hw, hh, math.pi * i / OIL_DIRECTIONS, seed=61 + i)
        relief = cv2.GaussianBlur(relief, (0, 0), 0.6)
        gx = cv2.Sobel(relief, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(relief, cv2.CV_32F, 0, 1, ksize=3)
        shade = -(gx + gy) * 0.7071  # light from the top left: slopes facing it are brighter
        out.append(_biased(np.clip(shade * 14.0, -40, 40)))
    return tuple(out)


class OilPainting(_Style):
    """Oil painting: simplified, saturated colour under an embossed brush-stroke relief that follows the shapes."""

    kind = "oil_painting"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.3, 2.0)
        self._c_lut = _saturation_lut(1.0 + 0.45 * a)
        x = np.clip((_LEVELS - 16) / 219, 0, 1)
        contrast = 0.5 - 0.5 * np.cos(np.pi * x)  # a gentle S-curve: richer shadows and lights
        self._y_lut = _lut(16 + 219 * (x + (contrast - x) * 0.35 * min(a, 1.5)))
        self._relief = 0.9 * a

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {"q": _quarter(w, h), "half": _half(w, h), "textures": _oil_textures(w, h)}

    def _directions(self, small: np.ndarray) -> np.ndarray:
        """Per-pixel stroke direction index (0..OIL_DIRECTIONS-1) of a 1/4-size luma: along the edges."""
        soft = cv2.GaussianBlur(small, (0, 0), 1.0).astype(np.float32)
        gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1)
        jxx = cv2.GaussianBlur(gx * gx, (0, 0), 3.0)
        jyy = cv2.GaussianBlur(gy * gy, (0, 0), 3.0)
        jxy = cv2.GaussianBlur(gx * gy, (0, 0), 3.0)
        # gradient orientation is half the tensor's angle; strokes run across it (+90 degrees)
        theta = cv2.phase(jxx - jyy, 2 * jxy) * 0.5 + math.pi / 2  # 0 .. 1.5 pi
        step = math.pi / OIL_DIRECTIONS
        return (np.rint(theta / step).astype(np.int32) % OIL_DIRECTIONS).astype(np.uint8)

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        half_size = data["half"]
        half = cv2.resize(y, half_size, interpolation=cv2.INTER_AREA)
        paint = cv2.medianBlur(half, 5)
        cv2.LUT(paint, self._y_lut, dst=paint)
        small = cv2.resize(half, data["q"], interpolation=cv2.INTER_AREA)
        direction = cv2.resize(self._directions(small), half_size, interpolation=cv2.INTER_NEAREST)
        textures = data["textures"]
        relief = textures[0].copy()
        for i in range(1, OIL_DIRECTIONS):
            cv2.copyTo(textures[i], cv2.compare(direction, i, cv2.CMP_EQ), relief)
        cv2.addWeighted(paint, 1.0, relief, self._relief, -128.0 * self._relief, dst=paint)
        cv2.resize(paint, (ctx.width, ctx.height), dst=y, interpolation=cv2.INTER_LINEAR)
        u, v = _smooth_planes(ctx, data["q"], 5)
        cv2.resize(u, half_size, dst=ctx.u, interpolation=cv2.INTER_LINEAR)
        cv2.resize(v, half_size, dst=ctx.v, interpolation=cv2.INTER_LINEAR)
        chroma = _chroma(ctx)
        cv2.LUT(chroma, self._c_lut, dst=chroma)


# --------------------------------------------------------------------- pop art

POP_COLORS: tuple[tuple[float, tuple[int, int, int], tuple[int, int, int]], ...] = (
    # hue sector up to (degrees), strong RGB, pale RGB: the sectors are wide where
    # everyday colours sit (skin and hair orange, walls cyan) so they do not flicker between two
    (20, (235, 30, 40), (255, 150, 160)),  # red
    (38, (255, 130, 0), (255, 190, 170)),  # orange; pale = pop-art skin pink
    (75, (255, 215, 0), (255, 238, 130)),  # yellow
    (140, (30, 185, 70), (170, 240, 150)),  # green
    (205, (0, 165, 225), (125, 225, 245)),  # cyan
    (265, (35, 65, 220), (150, 170, 255)),  # blue
    (310, (150, 40, 200), (215, 165, 245)),  # purple
    (340, (240, 40, 160), (255, 165, 215)),  # magenta
    (360, (235, 30, 40), (255, 150, 160)),  # red again
)
"""Pop art's palette: each colour becomes the strong or pale colour of its hue sector."""
_POP_GREY = ((60, 80, 190), (250, 246, 232))
"""Strong and pale colour of greys (no hue): cobalt blue and cream paper."""
_POP_SLOTS = len(POP_COLORS) + 1
_POP_INK = (20, 16, 24)


def _pop_palette() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V of each (band, slot): bands ink / strong / pale, slots the hue sectors then grey."""
    pal = np.zeros((3, 3, _POP_SLOTS), np.uint8)
    colors = [(strong, pale) for _, strong, pale in POP_COLORS] + [_POP_GREY]
    for slot, (strong, pale) in enumerate(colors):
        for band, rgb in enumerate((_POP_INK, strong, pale)):
            pal[:, band, slot] = rgb_to_yuv(*rgb)
    return pal[0], pal[1], pal[2]


@lru_cache(maxsize=1)
def _pop_slots() -> np.ndarray:
    """uint8 (256, 256) table: (U, V) -> hue sector of the colour (or the grey slot when it is near grey)."""
    u, v = np.meshgrid(np.arange(256, dtype=np.float64) - 128, np.arange(256, dtype=np.float64) - 128, indexing="ij")
    # BT.601 chroma -> RGB differences at mid grey, then the RGB hue angle
    r = 1.596 * v
    g = -0.392 * u - 0.813 * v
    b = 2.017 * u
    hue = np.degrees(np.arctan2(math.sqrt(3) * (g - b), 2 * r - g - b)) % 360  # 0 = red, 120 = green, 240 = blue
    slots = np.searchsorted(np.array([end for end, _, _ in POP_COLORS]), hue, side="right")
    slots = np.minimum(slots, len(POP_COLORS) - 1)
    slots[np.hypot(u, v) < 6] = _POP_SLOTS - 1
    return slots.astype(np.uint8)


@lru_cache(maxsize=4)
def _dot_screen(w: int, h: int, period: float) -> np.ndarray:
    """uint8 (h, w): distance to the nearest dot centre of a 45-degree screen, 0 at centres, 255 at the farthest point."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    c = math.sqrt(0.5)
    a = (xs * c + ys * c) / period
    b = (xs * c - ys * c) / period
    da = a - np.rint(a)
    db = b - np.rint(b)
    dist = np.sqrt(da * da + db * db) / math.sqrt(0.5)  # 0 .. 1
    return np.clip(np.rint(dist * 255), 0, 255).astype(np.uint8)


class PopArt(_Style):
    """Pop art: bold flat colours by hue sector, three luma bands (ink, strong with Ben-Day dots, pale), thick outlines."""

    kind = "pop_art"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self._a = _clamp(spec.amount, 0.5, 2.0)
        self._pal_y, self._pal_u, self._pal_v = _pop_palette()
        self._slots = _pop_slots().reshape(-1)
        # luma -> band 0 (ink) / 1 (strong) / 2 (pale), thresholds in limited range
        self._band_lut = _lut(np.where(_LEVELS < 58, 0, np.where(_LEVELS < 138, 1, 2)))
        # band -> dot radius on the screen (0..255): big dots in the strong band, small in the pale
        self._radius_lut = _lut(np.select([_LEVELS == 1, _LEVELS == 2], [150, 80], 0))

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {
            "q": _quarter(w, h),
            "half": _half(w, h),
            "screen": _dot_screen(w // 2, h // 2, max(3.0, w / 320)),
            "grey": np.full((h // 2, w // 2), 128, np.uint8),
        }

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        half = cv2.resize(y, data["half"], interpolation=cv2.INTER_AREA)
        smooth = cv2.medianBlur(half, 5)
        outline = cv2.dilate(cv2.Canny(smooth, 45, 110), np.ones((2, 2), np.uint8))
        small = cv2.medianBlur(cv2.resize(smooth, data["q"], interpolation=cv2.INTER_AREA), 5)
        u, v = _smooth_planes(ctx, data["q"], 5)
        band = cv2.LUT(small, self._band_lut)
        slot = self._slots[(u.astype(np.int32) << 8) | v]
        index = band.astype(np.int32) * _POP_SLOTS + slot
        # luma at 1/2 size: flat colour, dots where the screen is under the band's radius, ink outlines
        half_size = data["half"]
        cv2.resize(self._pal_y.reshape(-1)[index], half_size, dst=half, interpolation=cv2.INTER_LINEAR)
        radius = cv2.resize(cv2.LUT(band, self._radius_lut), half_size, interpolation=cv2.INTER_NEAREST)
        cv2.subtract(half, 55, dst=half, mask=cv2.compare(data["screen"], radius, cv2.CMP_LT))
        cv2.subtract(half, outline, dst=half)
        cv2.max(half, 16, dst=half)
        cv2.resize(half, (ctx.width, ctx.height), dst=y, interpolation=cv2.INTER_LINEAR)
        for plane, pal in ((ctx.u, self._pal_u), (ctx.v, self._pal_v)):
            cv2.resize(pal.reshape(-1)[index], half_size, dst=plane, interpolation=cv2.INTER_NEAREST)
            cv2.copyTo(data["grey"], outline, plane)  # the outlines have no colour


# -------------------------------------------------------------- coloured pencil


def _hatch_layer(canvas: np.ndarray, angle: float, spacing: float, lo: int, hi: int, seed: int) -> None:
    """Draw pencil strokes along ``angle`` (degrees) on ``canvas``; each keeps the lowest threshold (lo..hi) that covers a pixel."""
    h, w = canvas.shape
    rng = np.random.default_rng(seed)
    count = int(w * h / (spacing * 30))
    values = np.sort(rng.integers(lo, hi, count))[::-1]  # highest first: lower thresholds drawn over them
    xs = rng.uniform(-30, w + 30, count)
    ys = rng.uniform(-30, h + 30, count)
    lengths = rng.uniform(14, 34, count)
    turns = np.radians(angle + rng.normal(0, 4, count))
    for x, y, length, turn, value in zip(xs, ys, lengths, turns, values):
        dx, dy = math.cos(turn) * length, -math.sin(turn) * length
        cv2.line(canvas, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), int(value), 1)


@lru_cache(maxsize=4)
def _hatching(w: int, h: int) -> np.ndarray:
    """uint8 (h, w) threshold screen of pencil hatching: a pixel is drawn once the darkness passes its value."""
    canvas = np.full((h, w), 255, np.uint8)
    _hatch_layer(canvas, 58, 1.6, 0, 190, seed=71)  # the main hatching, light to dark
    _hatch_layer(canvas, -32, 2.2, 110, 230, seed=73)  # cross-hatching, only in dark tones
    grain = _noise(h, w, 0.6, seed=79) * 22  # the paper's tooth breaks the lines up
    return np.clip(np.rint(canvas.astype(np.float32) + grain), 0, 255).astype(np.uint8)


class ColoredPencil(_Style):
    """Coloured pencil: hatched strokes in the picture's own colours on white paper, denser where darker."""

    kind = "colored_pencil"

    PAPER = 232
    """Luma of the paper."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        a = self._a = _clamp(spec.amount, 0.5, 2.0)
        x = np.clip((235 - _LEVELS) / 219, 0, 1)  # darkness 0..1
        self._tone_lut = _lut(30 + 225 * np.clip(x * (0.9 + 0.2 * a), 0, 1) ** 0.8)  # light areas still get strokes
        self._ink_lut = _lut(np.clip(_LEVELS * 5.0, 0, 255))  # (tone - screen) -> stroke opacity
        # stroke luma (as darkness below the paper): the colour's own luma, a little darker
        self._stroke_lut = _lut(np.clip(self.PAPER - (_LEVELS * 0.92 - 8), 0, 255))
        self._edge_lut = _lut(np.clip((_LEVELS - 14) * 3.0 * a, 0, 255))
        self._sat = 1.45

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        return {"half": _half(w, h), "screen": _hatching(w, h), "paper": np.full((h, w), self.PAPER, np.uint8)}

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        y = ctx.y
        size = (ctx.width, ctx.height)
        half = cv2.resize(y, data["half"], interpolation=cv2.INTER_AREA)
        soft = cv2.GaussianBlur(half, (3, 3), 0)
        gx = cv2.Sobel(soft, cv2.CV_16S, 1, 0)
        gy = cv2.Sobel(soft, cv2.CV_16S, 0, 1)
        edges = cv2.addWeighted(cv2.convertScaleAbs(gx), 0.5, cv2.convertScaleAbs(gy), 0.5, 0)
        cv2.LUT(edges, self._edge_lut, dst=edges)
        # outlines are drawn with the same pencil: they join the tone before hatching
        tone = cv2.max(cv2.LUT(soft, self._tone_lut), edges)
        big_soft = cv2.resize(soft, size, interpolation=cv2.INTER_LINEAR)
        ink = cv2.subtract(cv2.resize(tone, size, interpolation=cv2.INTER_LINEAR), data["screen"])
        cv2.LUT(ink, self._ink_lut, dst=ink)
        # luma: paper minus ink x (how far the colour is below the paper)
        depth = cv2.LUT(big_soft, self._stroke_lut)
        cv2.multiply(depth, ink, dst=depth, scale=1 / 255)
        cv2.subtract(data["paper"], depth, dst=y)
        # chroma: 128 + (c - 128) x ink x saturation, on the positive and negative parts in uint8
        ink_half = cv2.resize(ink, data["half"], interpolation=cv2.INTER_AREA).reshape(1, -1)
        weight = np.vstack((ink_half, ink_half))
        chroma = _chroma(ctx)
        above = cv2.subtract(chroma, 128)
        below = cv2.subtract(128, chroma)
        scale = self._sat / 255
        cv2.multiply(above, weight, dst=above, scale=scale)
        cv2.multiply(below, weight, dst=below, scale=scale)
        cv2.add(above, 128, dst=chroma)
        cv2.subtract(chroma, below, dst=chroma)


# ---------------------------------------------------------------------- mosaic

MOSAIC_TILE = 12
"""Tile pitch of the mosaic in pixels at 1280 wide (scaled with the frame width)."""


@lru_cache(maxsize=2)
def _tile_layout(w: int, h: int) -> dict[str, np.ndarray]:
    """Where each tessera is: its centre, a label per pixel (full and 1/2 size), and the bevel shading.

    Tiles sit in rows offset by half a tile every other row, each slightly
    turned, sized and placed at random; what no tile covers is grout (the
    last label). ``maps`` / ``half_maps`` send each pixel to its tile's
    column and row in the small per-tile colour image, for cv2.remap.
    """
    rng = np.random.default_rng(83)
    pitch = max(6.0, MOSAIC_TILE * w / 1280)
    cols = int(math.ceil(w / pitch)) + 2
    rows = int(math.ceil(h / pitch)) + 1
    label = np.full((h, w), rows * cols, np.int32)
    centres = np.zeros((rows * cols, 2), np.float32)
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            cx = (c - 1 + 0.5 * (r % 2) + 0.5) * pitch + rng.normal(0, 0.08 * pitch)
            cy = (r + 0.5) * pitch + rng.normal(0, 0.06 * pitch)
            centres[k] = (cx, cy)
            side = pitch * rng.uniform(0.74, 0.86)
            box = cv2.boxPoints(((cx, cy), (side * rng.uniform(0.92, 1.08), side), rng.normal(0, 6)))
            cv2.fillConvexPoly(label, np.rint(box * 16).astype(np.int32), k, cv2.LINE_8, shift=4)
    tile = (label < rows * cols).astype(np.float32)
    # bevel: a tile is lit at its top-left rim and shaded at its bottom-right one
    soft = cv2.GaussianBlur(tile, (0, 0), max(0.8, pitch / 10))
    gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    bevel = np.clip((gx + gy) * 30.0, -30, 30) * tile  # slopes rising toward the tile's centre face the light
    grid = cols + 1  # the extra column holds the grout colour
    col = np.where(label < rows * cols, label % cols, cols).astype(np.float32)
    row = np.where(label < rows * cols, label // cols, 0).astype(np.float32)
    half_label = cv2.resize(label, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    hcol = np.where(half_label < rows * cols, half_label % cols, cols).astype(np.float32)
    hrow = np.where(half_label < rows * cols, half_label // cols, 0).astype(np.float32)
    return {
        "grid": np.array([grid, rows]),
        "centres": centres,
        "maps": cv2.convertMaps(col, row, cv2.CV_16SC2)[0],
        "half_maps": cv2.convertMaps(hcol, hrow, cv2.CV_16SC2)[0],
        "bevel": _biased(bevel),
        "grout": (label >= rows * cols).astype(np.uint8) * 255,
        "shade": rng.normal(0, 7, (rows, cols)).astype(np.float32),
    }


class Mosaic(_Style):
    """Mosaic: bevelled square tesserae in offset rows, each the mean colour under it, set in grey grout."""

    kind = "mosaic"

    GROUT = (112, 128, 128)
    """Y, U, V of the grout."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self._c_lut = _saturation_lut(1.2)

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        layout = _tile_layout(w, h)
        cols, rows = (int(v) for v in layout["grid"])
        centres = layout["centres"]
        # where to sample each tile's colour in the 1/4-size picture (tiles in rows, one grout column)
        qx = (centres[:, 0] / 4).reshape(rows, cols - 1)
        qy = (centres[:, 1] / 4).reshape(rows, cols - 1)
        return {
            "layout": layout,
            "q": _quarter(w, h),
            "sample": (qx.astype(np.float32), qy.astype(np.float32)),
            "shade": _biased(layout["shade"]),
            "colours": np.empty((rows, cols), np.uint8),
        }

    def _tile_colours(self, plane: np.ndarray, data: dict[str, Any], size: tuple[int, int], grout: int, shade: bool) -> np.ndarray:
        """Per-tile colours of ``plane`` (1/4-size mean under each tile centre), with the grout column last."""
        small = cv2.resize(plane, size, interpolation=cv2.INTER_AREA)
        small = cv2.blur(small, (3, 3))
        qx, qy = data["sample"]
        scale = small.shape[1] / data["q"][0]
        colours = data["colours"].copy()
        colours[:, :-1] = cv2.remap(small, qx * scale, qy * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if shade:
            _add_biased(colours[:, :-1], data["shade"], 128)
        colours[:, -1] = grout
        return colours

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        layout = data["layout"]
        q = data["q"]
        gy, gu, gv = self.GROUT
        y = ctx.y
        cv2.remap(self._tile_colours(y, data, q, gy, True), layout["maps"], None, cv2.INTER_NEAREST, dst=y)
        _add_biased(y, layout["bevel"], 128)
        cq = (q[0] // 2, q[1] // 2)
        for plane, grout in ((ctx.u, gu), (ctx.v, gv)):
            colours = self._tile_colours(plane, data, cq, grout, False)
            cv2.LUT(colours, self._c_lut, dst=colours)
            cv2.remap(colours, layout["half_maps"], None, cv2.INTER_NEAREST, dst=plane)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {cls.kind: cls for cls in (Watercolor, OilPainting, PopArt, ColoredPencil, Mosaic)}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
