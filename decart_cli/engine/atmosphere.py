"""Time of day and weather over the whole picture: night, sunset, fog, fire, lightning, a storm.

Every edit works on the I420 planes in place, without a BGR round trip:

- the **grades** (night, sunset, the storm's sky) are lookup tables on
  Y, U, V built once, and light maps (uint8 gains or offsets: a vignette,
  the sky's gradient from the top, a moonlight pool on the face) built once
  per frame size, or per frame at 1/4 size where they follow the face and
  scaled up;
- the **moving** parts are functions of :func:`.scene.clock` (the same
  moment always looks the same): fog banks and flames are windows into
  periodic smooth noise tiles (made once per frame size by filtering white
  noise in the Fourier domain) that scroll with time, worked out at 1/4
  size and blended in at full size; lightning strikes on a fixed schedule
  (:func:`flash`), and the bolt of each strike is a jagged polyline seeded
  by the strike's number, drawn once with its glow into a small patch.

Grades run at :data:`STAGE_LIGHT`, after hats and glasses are drawn (so they
are lit the same) and before snow, rain, fire and lightning, which stay
bright over a dark or foggy scene. Costs per 1280x704 frame on a 2-core
machine shared with other work (best medians, so the figures are rough):
night ~1 ms, sunset ~0.6 ms, lightning ~0.8 ms (+~2 ms once per strike to
draw its bolt), storm (lightning and rain) ~3.5 ms, fire ~3 ms, fog ~2 ms
plus the person mask (the segmentation network, ~4 ms, shared with the
other edits that use it in the same frame).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .frame import STAGE_SCENE, Edit, EditSpec, Face, FrameContext
from .regions import PersonModel
from .scene import Rain, clock
from .styles import _chroma, _lut, _Style, _vignette

__all__ = ["EDITS", "FLASH_AT", "FLASH_PERIOD", "STAGE_LIGHT", "flash"]

STAGE_LIGHT = STAGE_SCENE - 5
"""When the grades run: after objects on the person, before things drawn into the scene."""

_LEVELS = np.arange(256, dtype=np.float64)
_X = np.clip((_LEVELS - 16) / 219, 0, 1)
"""Each luma level as a 0..1 fraction of the limited range."""
UNIT = 128
"""A gain map's value for "unchanged" (uint8 gains are multiplied with ``scale=1/UNIT``)."""


def _strength(spec: EditSpec, lo: float = 0.3, hi: float = 1.6) -> float:
    """The spec's amount, limited to ``lo..hi`` (NaN or 0 reads as 1)."""
    a = spec.amount if spec.amount and math.isfinite(spec.amount) else 1.0
    return min(hi, max(lo, a))


def _gain(values: np.ndarray) -> np.ndarray:
    """A float gain map (1.0 = unchanged) as uint8, :data:`UNIT` = 1.0."""
    return np.clip(np.rint(values * UNIT), 0, 255).astype(np.uint8)


def _multiply(plane: np.ndarray, gain: np.ndarray) -> None:
    """plane *= gain / UNIT, saturating, in place (``gain`` scaled to the plane's size if smaller)."""
    if gain.shape != plane.shape:
        gain = cv2.resize(gain, (plane.shape[1], plane.shape[0]), interpolation=cv2.INTER_LINEAR)
    cv2.multiply(plane, gain, dst=plane, scale=1.0 / UNIT)


def _blend(plane: np.ndarray, target: np.ndarray | float, alpha: np.ndarray) -> None:
    """``plane += (target - plane) * alpha / 255`` in place; ``target`` a plane or one level."""
    keep = cv2.multiply(plane, cv2.bitwise_not(alpha), scale=1 / 255)
    if isinstance(target, np.ndarray):
        take = cv2.multiply(target, alpha, scale=1 / 255)
    else:
        take = cv2.convertScaleAbs(alpha, alpha=float(target) / 255)
    cv2.add(keep, take, dst=plane)


def _rows(h: int) -> np.ndarray:
    """Row centres as 0..1 fractions from the top, a (h, 1) column."""
    return ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]


def periodic_noise(h: int, w: int, sigma_y: float, sigma_x: float, seed: int) -> np.ndarray:
    """Smooth noise that wraps around both edges, float32 (h, w), mean 0 and std 1; features ~sigma px."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((h, w))
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    shaped = np.fft.rfft2(white) * np.exp(-2 * math.pi**2 * ((ky * sigma_y) ** 2 + (kx * sigma_x) ** 2))
    noise = np.fft.irfft2(shaped, s=(h, w))
    noise -= noise.mean()
    return (noise / (noise.std() + 1e-9)).astype(np.float32)


def _scroll_x(tile: np.ndarray, shift: float, width: int) -> np.ndarray:
    """``width`` columns of a horizontally periodic ``tile`` starting at fractional column ``shift``."""
    i = math.floor(shift)
    f = shift - i
    cols = (np.arange(width) + i) % tile.shape[1]
    return tile[:, cols] * (1 - f) + tile[:, (cols + 1) % tile.shape[1]] * f


def _quarter(ctx: FrameContext) -> tuple[int, int]:
    """(w, h) of the 1/4-size working maps."""
    return max(8, ctx.width // 4), max(8, ctx.height // 4)


class _Grade(_Style):
    """A light and colour grade of the whole picture (stage :data:`STAGE_LIGHT`), cached per frame size."""

    stage = STAGE_LIGHT

    def _luts(self, ctx: FrameContext, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """Run the three lookup tables on the planes."""
        yp = ctx.y
        cv2.LUT(yp, y, dst=yp)
        for plane, lut in ((ctx.u, u), (ctx.v, v)):
            cv2.LUT(plane, lut, dst=plane)


# --------------------------------------------------------------------------
# Night


class Night(_Grade):
    """Moonlit night: dark, blue and nearly colourless, shadows crushed, a vignette, moonlight on the face.

    Luma follows a steep curve (mid-grey falls to ~1/4, white keeps ~60%),
    chroma keeps a third of its saturation and shifts to blue; a vignette
    darkens the edges, and a soft pool of cool light around the face (when
    one is tracked) keeps the person readable, like a moonlit figure in a
    dark room.
    """

    kind = "night"
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        s = _strength(spec)
        self.y_lut = _lut(16 + 219 * (0.62 * _X ** (1.0 + 1.9 * s)))
        keep = max(0.15, 0.45 - 0.15 * s)
        self.u_lut = _lut(128 + (_LEVELS - 128) * keep + 16 * s)
        self.v_lut = _lut(128 + (_LEVELS - 128) * keep - 5 * s)

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        qw, qh = max(8, w // 4), max(8, h // 4)
        vignette = _vignette(qw, qh, 0.65, 2.2).astype(np.float32) / 255
        yy, xx = np.mgrid[0:qh, 0:qw].astype(np.float32)
        return {"vignette": vignette, "yy": yy, "xx": xx}

    def light(self, ctx: FrameContext) -> np.ndarray:
        """The 1/4-size gain map of this frame: the vignette, lifted by moonlight around the face."""
        data = self.sized(ctx)
        gain = data["vignette"] * 1.12
        face = ctx.face
        if face is not None:
            qx, qy = ctx.width / data["xx"].shape[1], ctx.height / data["yy"].shape[0]
            cx, cy = face.cx / qx, (face.y + 0.6 * face.h) / qy
            rx, ry = 1.1 * face.w / qx, 1.5 * face.h / qy
            pool = np.exp(-(((data["xx"] - cx) / rx) ** 2 + ((data["yy"] - cy) / ry) ** 2))
            gain = gain + 0.9 * pool
        return _gain(gain)

    def apply(self, ctx: FrameContext) -> None:
        self._luts(ctx, self.y_lut, self.u_lut, self.v_lut)
        _multiply(ctx.y, self.light(ctx))


# --------------------------------------------------------------------------
# Sunset

SUN_AT = (0.78, 0.02)
"""Where the low sun's glow centres, as fractions of the frame (x, y): top right."""


class Sunset(_Grade):
    """Golden hour: orange-pink colour, warm sky light falling from the top, a low sun's glow, darker ground.

    Chroma loses blue and gains red everywhere (orange); on top of that a
    gradient from the top adds pink-gold light to the upper frame, and a
    broad bloom around :data:`SUN_AT` brightens and yellows it; the lower
    frame is dimmed a little, as in the long shadows of evening.
    """

    kind = "sunset"

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        s = self.s = _strength(spec)
        self.y_lut = _lut(16 + 219 * (_X ** 1.15))
        self.u_lut = _lut(128 + (_LEVELS - 128) * 0.55 - 18 * s)
        self.v_lut = _lut(128 + (_LEVELS - 128) * 0.7 + 28 * s)

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        s = self.s
        qw, qh = max(8, w // 4), max(8, h // 4)
        rows = _rows(qh)
        xs = ((np.arange(qw, dtype=np.float32) + 0.5) / qw)[None, :]
        sky = np.clip(1 - rows / 0.75, 0, 1) ** 1.3  # 1 at the top, 0 from 75% down
        aspect = w / h
        sun = np.exp(-(((xs - SUN_AT[0]) * aspect) ** 2 + (rows - SUN_AT[1]) ** 2) / 0.2)
        gain = 0.84 + 0.14 * (1 - rows) + 0.1 * s * sky + 0.2 * s * sun
        half = (w // 2, h // 2)

        def offset(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
            return cv2.resize(np.clip(values, 0, 255).astype(np.float32), size, interpolation=cv2.INTER_LINEAR).astype(np.uint8)

        return {
            "gain": cv2.resize(_gain(gain), (w, h), interpolation=cv2.INTER_LINEAR),
            "glow": offset(40 * s * sun + 8 * s * sky, (w, h)),
            # the sky: pink-red at the top (more red, a little blue), gold under the sun (less blue)
            "more_blue": offset(10 * s * sky * (1 - sun), half),
            "less_blue": offset(30 * s * sun, half),
            "more_red": offset(18 * s * sky * (1 - 0.6 * sun), half),
        }

    def apply(self, ctx: FrameContext) -> None:
        data = self.sized(ctx)
        self._luts(ctx, self.y_lut, self.u_lut, self.v_lut)
        yp, u, v = ctx.y, ctx.u, ctx.v
        cv2.multiply(yp, data["gain"], dst=yp, scale=1.0 / UNIT)
        cv2.add(yp, data["glow"], dst=yp)
        cv2.add(u, data["more_blue"], dst=u)
        cv2.subtract(u, data["less_blue"], dst=u)
        cv2.add(v, data["more_red"], dst=v)


# --------------------------------------------------------------------------
# Fog

FOG_Y = 200
"""Luma of the fog itself by day: a light grey (at most 60 above the scene's mean luma, so fog at night is dim)."""
FOG_DENSITY = 0.82
"""How much fog covers what is far from the person at amount 1 (0..1), before the drifting banks."""
FOG_NEAR = 0.2
"""Fraction of that density over the person (they stand in the fog, nearer than the room)."""
FOG_AMBIENT = 0.6
"""How much of the scene's average colour the fog takes (the rest is neutral grey)."""
FOG_DRIFT = (6.0, -3.5)
"""Drift of the two layers of fog banks, in 1/4-size pixels per second (to the right, to the left)."""


class Fog(_Grade):
    """Haze that whitens and flattens the picture, thickest far from the person, in slowly drifting banks.

    Per frame at 1/4 size: the fog's opacity is :data:`FOG_DENSITY` times a
    distance term (the person, from :class:`.regions.PersonModel`, keeps
    :data:`FOG_NEAR` of it; the fog thickens over ~1/4 of the frame width
    away from them) times two layers of large smooth noise drifting in
    opposite directions. The opacity is scaled up and every plane is
    blended by it toward the fog's colour (:meth:`colour`: a light grey,
    dimmer and tinted in a dark or tinted scene).
    """

    kind = "fog"
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self.density = min(0.95, FOG_DENSITY * _strength(spec, 0.3, 1.45))
        self.model = PersonModel()

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        qw, qh = max(8, w // 4), max(8, h // 4)
        return {
            "banks": (periodic_noise(qh, 2 * qw, qh / 7, qw / 9, 11), periodic_noise(qh, 2 * qw, qh / 10, qw / 14, 12)),
            "ground": (0.85 + 0.3 * _rows(qh)).astype(np.float32),  # a little thicker low down
        }

    def opacity(self, ctx: FrameContext) -> np.ndarray:
        """The fog's opacity at 1/4 size, uint8 (255 = only fog)."""
        data = self.sized(ctx)
        qw, qh = _quarter(ctx)
        t = clock(ctx)
        a, b = data["banks"]
        drift = 0.5 * _scroll_x(a, FOG_DRIFT[0] * t, qw) + 0.35 * _scroll_x(b, FOG_DRIFT[1] * t, qw)
        banks = np.clip(1.05 + 0.5 * drift, 0.4, 1.5)
        person = self.model.mask(ctx)
        if person is None:
            depth = np.float32(0.85)
        else:
            outside = cv2.resize(person, (qw, qh), interpolation=cv2.INTER_AREA) < 128
            dist = cv2.distanceTransform(outside.astype(np.uint8), cv2.DIST_L2, 3)
            depth = FOG_NEAR + (1 - FOG_NEAR) * np.minimum(1.0, 0.3 * (dist > 0) + dist * (4.0 / qw))
        alpha = self.density * depth * banks * data["ground"]
        return np.clip(alpha * 255, 0, 255).astype(np.uint8)

    def colour(self, ctx: FrameContext) -> tuple[float, float, float]:
        """The fog's (Y, U, V): light grey by day; in a dark or tinted scene (night, a storm) lit as the scene is."""
        y = float(cv2.mean(ctx.y)[0])
        u, v = (128 + FOG_AMBIENT * (float(cv2.mean(p)[0]) - 128) for p in (ctx.u, ctx.v))
        return min(FOG_Y, y + 60), u, v

    def apply(self, ctx: FrameContext) -> None:
        small = cv2.GaussianBlur(self.opacity(ctx), (0, 0), 1.5)
        fy, fu, fv = self.colour(ctx)
        for plane, level in ((ctx.y, fy), (ctx.u, fu), (ctx.v, fv)):
            alpha = cv2.resize(small, (plane.shape[1], plane.shape[0]), interpolation=cv2.INTER_LINEAR)
            _blend(plane, level, alpha)


# --------------------------------------------------------------------------
# Fire

FIRE_HEIGHT = 0.4
"""Height of the tallest flames, as a fraction of the frame height (from the bottom)."""
FIRE_RISE = 1.6
"""How fast the flames' texture rises, in flame heights per second."""
FIRE_GLOW = 0.75
"""How far up from the bottom the flames' warm light reaches, as a fraction of the frame height (never onto the face)."""
_FIRE_STOPS = (
    # intensity, (Y, U, V), opacity: transparent -> deep red -> orange -> yellow -> pale core
    (0.00, (40, 118, 150), 0.0),
    (0.10, (55, 112, 180), 0.6),
    (0.35, (95, 82, 200), 0.95),
    (0.62, (150, 58, 185), 1.0),
    (0.85, (200, 48, 158), 1.0),
    (1.00, (232, 100, 136), 1.0),
)


def _fire_palette() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V and opacity lookup tables from flame intensity (0..255)."""
    x = _LEVELS / 255
    at = [s[0] for s in _FIRE_STOPS]
    y, u, v = (np.interp(x, at, [s[1][k] for s in _FIRE_STOPS]) for k in range(3))
    return _lut(y), _lut(u), _lut(v), _lut(255 * np.interp(x, at, [s[2] for s in _FIRE_STOPS]))


class Fire(_Style):
    """Flames rising from the bottom of the frame, flickering, with their warm light on the scene above.

    At 1/4 size each frame: a flame intensity field is "height left"
    (1 at the bottom, 0 at each column's flame tip, the tips rising and
    falling with a slow noise along x) broken up by two layers of tall
    noise that scroll upward at different speeds; a palette turns it into
    deep red at the edges through orange and yellow to a pale core. The
    field is scaled up over the bottom band and blended in by its opacity;
    a warm, flickering glow fades up the frame above it. Flames and glow
    stop below the face's chin, so a face low in the frame stays clear.
    """

    kind = "fire"
    stage = STAGE_SCENE
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self.s = _strength(spec, 0.5, 1.4)
        self.y_lut, self.u_lut, self.v_lut, self.a_lut = _fire_palette()

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        qw, qh = max(8, w // 4), max(8, h // 4)
        band = max(4, round(qh * FIRE_HEIGHT))
        return {
            "coarse": periodic_noise(4 * band, qw, band / 5, qw / 70, 21),
            "fine": periodic_noise(4 * band, qw, band / 10, qw / 150, 22),
            "tips": periodic_noise(1, 4 * qw, 1, qw / 30, 23)[0],
            "band": band,
        }

    def limit(self, ctx: FrameContext) -> int:
        """First frame row the fire may touch: below the face's chin (0 without a face)."""
        face = ctx.face
        return 0 if face is None else min(ctx.height, math.ceil(face.y + 1.2 * face.h) + 4)

    def intensity(self, ctx: FrameContext, band: int) -> np.ndarray:
        """The flames over the bottom ``band`` rows at 1/4 size, float32 0..1 (1 = the core)."""
        data = self.sized(ctx)
        qw = max(8, ctx.width // 4)
        t = clock(ctx)
        coarse, fine, tips = data["coarse"], data["fine"], data["tips"]
        full = data["band"]
        rise = FIRE_RISE * full * t
        rows = np.arange(full - band, full)
        n = 0.6 * coarse[(rows + int(rise)) % coarse.shape[0]] + 0.4 * fine[(rows + int(1.7 * rise)) % fine.shape[0]]
        # each column's flame height: a slow wave along x that shifts and breathes
        height = 0.55 + 0.22 * _scroll_x(tips[None, :], 9.0 * t, qw)[0] + 0.08 * math.sin(7.3 * t) * _scroll_x(tips[None, :], 40 - 5.0 * t, qw)[0]
        up = (full - 0.5 - rows)[:, None] / full  # 0 at the bottom row, ~1 at the top of the band
        field = 1.0 - up / np.clip(height * self.s, 0.15, 1.0)[None, :] + 0.38 * n
        return np.clip(field, 0, 1) ** 1.5

    def apply(self, ctx: FrameContext) -> None:
        W, H = ctx.width, ctx.height
        band = self.sized(ctx)["band"]
        limit = self.limit(ctx)
        band = min(band, (H - limit) // 4)
        if band < 2:
            return
        flames = (self.intensity(ctx, band) * 255).astype(np.uint8)
        top = H - 4 * band
        self._glow(ctx, flames, top, limit)
        full = cv2.resize(flames, (W, 4 * band), interpolation=cv2.INTER_CUBIC)
        yb = ctx.y[top:]
        _blend(yb, cv2.LUT(full, self.y_lut), cv2.LUT(full, self.a_lut))
        half = cv2.resize(flames, (W // 2, 2 * band), interpolation=cv2.INTER_LINEAR)
        alpha = cv2.LUT(half, self.a_lut)
        for plane, lut in ((ctx.u, self.u_lut), (ctx.v, self.v_lut)):
            _blend(plane[top // 2 :], cv2.LUT(half, lut), alpha)

    def _glow(self, ctx: FrameContext, flames: np.ndarray, top: int, limit: int) -> None:
        """Warm flickering light from the flames up to :data:`FIRE_GLOW` of the frame, not above ``limit``."""
        t = clock(ctx)
        flicker = 0.8 + 0.12 * math.sin(11.0 * t) + 0.08 * math.sin(23.0 * t + 1.3)
        start = max(limit, round(ctx.height * (1 - FIRE_GLOW)))
        start += start % 2
        rows = ctx.height - start
        if rows < 8:
            return
        # along x: where the flames are strongest; down the frame: rising toward the fire
        across = cv2.GaussianBlur(flames.mean(axis=0, dtype=np.float32)[None, :], (0, 0), 8).ravel()
        across = 0.5 + 0.5 * across / (across.max() + 1e-6)
        fall = np.clip((np.arange(rows // 4 + 1, dtype=np.float32) + 0.5) / (rows / 4), 0, 1)[:, None]
        glow = np.clip(fall * across[None, :] * flicker * self.s, 0, 1)
        for plane, scale, op in ((ctx.y, 48, cv2.add), (ctx.u, 30, cv2.subtract), (ctx.v, 36, cv2.add)):
            part = plane[start * plane.shape[0] // ctx.height :]
            g = cv2.resize((glow * scale).astype(np.uint8), (part.shape[1], part.shape[0]), interpolation=cv2.INTER_LINEAR)
            op(part, g, dst=part)


# --------------------------------------------------------------------------
# Lightning

FLASH_PERIOD = 3.5
"""Seconds between lightning strikes."""
FLASH_AT = 1.0
"""When, within each period, a strike begins (so the first is at 1.0 s)."""
_FLASH_SHAPE = ((0.0, 1.0), (0.08, 0.3), (0.16, 0.9), (0.24, 0.55), (0.6, 0.0))
"""Brightness of a strike over its seconds: a flash, a dip, the re-strike, the fade."""
BOLT_SHOWN = 0.4
"""The bolt is drawn while the flash is at least this bright."""


def flash(t: float) -> tuple[float, int]:
    """(brightness 0..1 of the lightning at ``t`` seconds, number of the strike)."""
    k = math.floor((t - FLASH_AT) / FLASH_PERIOD)
    since = t - FLASH_AT - k * FLASH_PERIOD
    if k < 0:
        return 0.0, -1
    at, value = zip(*_FLASH_SHAPE, strict=True)
    return float(np.interp(since, at, value, right=0.0)), k


def _bolt_path(rng: np.random.Generator, x: float, y: float, bottom: float, step: float, spread: float) -> list[tuple[float, float]]:
    """A jagged line down from (x, y) to ``bottom``: short segments at random angles, staying near its start column."""
    points = [(x, y)]
    start = x
    while y < bottom:
        y += step * (0.6 + 0.8 * rng.random())
        x += step * rng.normal(0, 0.9) - 0.15 * (x - start)
        x = min(start + spread, max(start - spread, x))
        points.append((x, y))
    return points


class Lightning(_Grade):
    """A storm: a dark blue-grey sky, and every :data:`FLASH_PERIOD` s a flash that lights up the scene, with a bolt.

    The storm's grade and the flash are one lookup table mixed per frame
    (the dark grade toward a bright cool one by :func:`flash`); the upper
    frame, the sky, is darker still. While a strike is bright a jagged,
    branching bolt (seeded by the strike's number, kept clear of the face)
    is added with a blue-white glow in the upper half of the frame.
    """

    kind = "lightning"
    stage = STAGE_SCENE
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        s = _strength(spec, 0.5, 1.5)
        dark = (16 + 219 * 0.62 * _X**1.6, 128 + (_LEVELS - 128) * 0.45 + 8, 128 + (_LEVELS - 128) * 0.45 - 3)
        bright = (16 + 219 * (0.22 + 0.72 * _X**0.7), 128 + (_LEVELS - 128) * 0.35 + 6, 128 + (_LEVELS - 128) * 0.35 - 2)
        self.dark = dark
        self.bright = bright
        self.s = s
        self._bolt: tuple[tuple[int, int, int], np.ndarray, tuple[int, int]] | None = None

    def prepare(self, w: int, h: int) -> dict[str, Any]:
        rows = _rows(max(8, h // 4))
        sky = 0.78 + 0.22 * np.clip(rows / 0.6, 0, 1)
        return {"sky": cv2.resize(_gain(np.repeat(sky, max(8, w // 4), axis=1)), (w, h), interpolation=cv2.INTER_LINEAR)}

    def apply(self, ctx: FrameContext) -> None:
        e, k = flash(clock(ctx))
        e = min(1.0, e * self.s)
        luts = [_lut(d + (b - d) * e) for d, b in zip(self.dark, self.bright, strict=True)]
        self._luts(ctx, *luts)
        sky = self.sized(ctx)["sky"]
        if e > 0:  # a flash lights the sky as much as the ground
            sky = cv2.convertScaleAbs(sky, alpha=1 - e, beta=UNIT * e)
        yp = ctx.y
        cv2.multiply(yp, sky, dst=yp, scale=1.0 / UNIT)
        if e >= BOLT_SHOWN:
            self._draw_bolt(ctx, k, e)

    def bolt(self, ctx: FrameContext, k: int) -> tuple[np.ndarray, tuple[int, int]]:
        """Strike ``k``'s bolt as a uint8 luma patch to add (core + glow) and its top-left corner (x, y)."""
        key = (k, ctx.width, ctx.height)
        if self._bolt is not None and self._bolt[0] == key:
            return self._bolt[1], self._bolt[2]
        W, H = ctx.width, ctx.height
        rng = np.random.default_rng(1000 + k)
        spread = 0.07 * W
        x0 = _clear_column(rng, W, ctx.face, spread)
        main = _bolt_path(rng, x0, -4.0, 0.5 * H, 0.035 * H, spread)
        branches = []
        for _ in range(2 + int(rng.integers(0, 2))):
            bx, by = main[int(rng.integers(2, max(3, len(main) - 2)))]
            lean = rng.choice([-1.0, 1.0])
            path = _bolt_path(rng, bx, by, by + 0.16 * H * (0.6 + 0.6 * rng.random()), 0.025 * H, 0.4 * spread)
            branches.append([(px + lean * 0.5 * (py - by), py) for px, py in path])
        pad = 24
        left, top = int(x0 - spread - 0.3 * H) - pad, 0
        width, height = int(2 * spread + 0.6 * H) + 2 * pad, min(H, int(0.72 * H))
        left = max(0, min(W - width, left))
        core = np.zeros((height, width), np.uint8)
        for path, thick, level in [(main, 2, 255), *[(b, 1, 210) for b in branches]]:
            pts = np.array([[px - left, py - top] for px, py in path], np.int32)
            cv2.polylines(core, [pts], False, level, thick, cv2.LINE_AA)
        near = cv2.GaussianBlur(core, (0, 0), 0.004 * H)
        small = cv2.resize(core, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
        halo = cv2.resize(cv2.GaussianBlur(small, (0, 0), 0.025 * H / 4), (width, height), interpolation=cv2.INTER_LINEAR)
        patch = cv2.add(cv2.add(core, cv2.convertScaleAbs(near, alpha=1.2)), cv2.convertScaleAbs(halo, alpha=2.2))
        self._bolt = (key, patch, (left, top))
        return patch, (left, top)

    def _draw_bolt(self, ctx: FrameContext, k: int, e: float) -> None:
        patch, (x, y) = self.bolt(ctx, k)
        h, w = patch.shape
        h = min(h, ctx.height - y)
        yp = ctx.y[y : y + h, x : x + w]
        cv2.scaleAdd(patch[:h], float(e), yp, dst=yp)


def _clear_column(rng: np.random.Generator, width: int, face: Face | None, spread: float) -> float:
    """A column for a bolt to start from, ``spread`` px clear of the face (random among the clear ones)."""
    lo, hi = 0.08 * width + spread, 0.92 * width - spread
    for _ in range(20):
        x = lo + (hi - lo) * rng.random()
        if face is None or x + 2 * spread < face.x - 0.3 * face.w or x - 2 * spread > face.x + 1.3 * face.w:
            return x
    return lo if face is None or face.cx > width / 2 else hi


class Storm:
    """A thunderstorm: :class:`Lightning` over :class:`.scene.Rain`."""

    stage = STAGE_SCENE
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        self.rain = Rain(spec.amount)
        self.lightning = Lightning(spec)

    def apply(self, ctx: FrameContext) -> None:
        self.lightning.apply(ctx)
        self.rain.apply(ctx)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    "night": Night,
    "sunset": Sunset,
    "fog": Fog,
    "fire": Fire,
    "lightning": Lightning,
    "storm": Storm,
}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
