"""Things added to the whole scene: falling snow, rain, a bird flying overhead.

The animations are functions of time (``ctx.t``, or ``ctx.index`` at
:data:`NOMINAL_FPS` when the engine leaves ``t`` at 0), not of how many
frames were drawn, so they move at the right speed at any frame rate and
the same moment always looks the same. Particles live in frame-relative
coordinates (0..1), so any frame size works.

Everything is drawn into the I420 planes directly: particles are vectorised
numpy fancy-index updates of a few thousand pixels (small soft stamps for
snowflakes, anti-aliased 1-pixel streaks for rain), the bird is a cached
sprite (see :mod:`.overlays`) blended over its bounding box.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from .frame import STAGE_SCENE, Edit, EditSpec, FrameContext
from .overlays import Canvas, Master, Sprite

NOMINAL_FPS = 25.0
"""Frame rate assumed for ``ctx.index`` when ``ctx.t`` is not set."""

WHITE_Y = 235
"""Limited-range white."""


def clock(ctx: FrameContext) -> float:
    """Seconds into the animation for this frame."""
    return ctx.t if ctx.t else ctx.index / NOMINAL_FPS


def _amount(amount: float) -> float:
    return max(0.2, min(4.0, amount or 1.0))


def _lighten(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray, weight: np.ndarray, target: float) -> None:
    """plane[rows, cols] moves toward ``target`` by ``weight`` (0..1), in place."""
    vals = plane[rows, cols].astype(np.float32)
    vals += (target - vals) * weight
    plane[rows, cols] = (vals + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------
# Snow

SNOW_FLAKES = 420
"""Flakes on screen at amount 1.0."""


def _stamp(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dy, dx, weight) of a soft disc of ``radius`` pixels."""
    r = int(math.ceil(radius + 0.5))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    d = np.hypot(dy, dx)
    w = np.clip(radius + 0.5 - d, 0, 1)
    keep = w > 0.05
    return dy[keep], dx[keep], w[keep].astype(np.float32)


_FLAKE_STAMPS = (_stamp(0.6), _stamp(1.2), _stamp(2.0), _stamp(2.9))
"""Flake shapes from far (tiny) to near (big)."""


class Snow:
    """Falling snowflakes of different sizes and speeds, drifting and swaying."""

    stage = STAGE_SCENE
    needs_face = False

    def __init__(self, amount: float = 1.0, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        n = int(SNOW_FLAKES * _amount(amount))
        depth = rng.random(n) ** 1.6  # mostly far, small flakes
        self.x0 = rng.random(n)
        self.y0 = rng.random(n)
        self.depth = depth
        self.speed = (0.07 + 0.22 * depth) * (0.85 + 0.3 * rng.random(n))  # frame heights per second
        self.wind = 0.012 + 0.01 * depth  # frame widths per second, to the right
        self.sway = (0.002 + 0.008 * depth) * rng.random(n)  # frame widths
        self.sway_hz = 0.2 + 0.5 * rng.random(n)
        self.phase = rng.random(n) * 2 * math.pi
        self.opacity = (0.55 + 0.45 * depth).astype(np.float32)
        self.size = np.minimum((depth * len(_FLAKE_STAMPS)).astype(int), len(_FLAKE_STAMPS) - 1)
        self.groups = [np.flatnonzero(self.size == k) for k in range(len(_FLAKE_STAMPS))]

    def positions(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Flake centres (x, y) in frame fractions (0..1) at time ``t``."""
        y = (self.y0 + self.speed * t) % 1.0
        x = (self.x0 + self.wind * t + self.sway * np.sin(2 * math.pi * self.sway_hz * t + self.phase)) % 1.0
        return x, y

    def apply(self, ctx: FrameContext) -> None:
        W, H = ctx.width, ctx.height
        fx, fy = self.positions(clock(ctx))
        xi = (fx * W).astype(np.intp)
        yi = (fy * H).astype(np.intp)
        yp, up, vp = ctx.y, ctx.u, ctx.v
        for k, idx in enumerate(self.groups):
            if not len(idx):
                continue
            dys, dxs, ws = _FLAKE_STAMPS[k]
            # every (flake, stamp pixel) pair at once; flakes wrap around the edges
            rows = (yi[idx, None] + dys[None, :]) % H
            cols = (xi[idx, None] + dxs[None, :]) % W
            weight = self.opacity[idx, None] * ws[None, :]
            _lighten(yp, rows.ravel(), cols.ravel(), weight.ravel(), WHITE_Y)
            # white has no colour: pull the chroma under each flake toward neutral
            crow = (rows[:, :: max(1, len(dys) // 4)] // 2).ravel()
            ccol = (cols[:, :: max(1, len(dys) // 4)] // 2).ravel()
            cw = (weight[:, :: max(1, len(dys) // 4)] * 0.8).ravel()
            _lighten(up, crow, ccol, cw, 128)
            _lighten(vp, crow, ccol, cw, 128)


# --------------------------------------------------------------------------
# Rain

RAIN_DROPS = 240
"""Streaks on screen at amount 1.0."""
RAIN_SLANT = 0.22
"""Horizontal pixels per vertical pixel of a streak (falling down and to the right)."""
RAIN_DARKEN = 0.86
"""How much the scene's luma (above black) keeps under rain clouds."""
RAIN_DESATURATE = 0.85
"""How much of the scene's colour stays under rain."""
_RAIN_SAMPLES = 40


class Rain:
    """Slanted, fast, slightly bright streaks over a darker, greyer scene."""

    stage = STAGE_SCENE
    needs_face = False

    def __init__(self, amount: float = 1.0, seed: int = 2) -> None:
        rng = np.random.default_rng(seed)
        n = int(RAIN_DROPS * _amount(amount))
        depth = rng.random(n)
        self.x0 = rng.random(n)
        self.y0 = rng.random(n)
        self.speed = 1.3 + 0.9 * depth  # frame heights per second
        self.length = (0.03 + 0.035 * depth).astype(np.float32)  # frame heights
        self.strength = (0.18 + 0.24 * depth).astype(np.float32)
        s = np.linspace(0.0, 1.0, _RAIN_SAMPLES, dtype=np.float32)
        self.s = s
        self.profile = (0.35 + 0.65 * np.sin(np.pi * s)).astype(np.float32)  # faint ends
        y = np.arange(256, dtype=np.float32)
        self._y_lut = np.clip(16 + (y - 16) * RAIN_DARKEN + 0.5, 0, 255).astype(np.uint8)
        self._c_lut = np.clip(128 + (y - 128) * RAIN_DESATURATE + 0.5, 0, 255).astype(np.uint8)

    def streaks(self, t: float, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Streak sample points (x, y) in pixels, shape (drops, samples), and drop weights."""
        span = height * (1 + float(self.length.max()))
        travel = (self.y0 + self.speed * t) % 1.0 * span  # distance fallen, wrapping
        head_y = travel - self.length.max() * height  # top of the streak, may start above the frame
        head_x = self.x0 * width + RAIN_SLANT * (self.speed * t * height)
        length = self.length[:, None] * height * self.s[None, :]
        ys = head_y[:, None] + length
        xs = (head_x[:, None] + RAIN_SLANT * length) % width
        return xs, ys, self.strength

    def apply(self, ctx: FrameContext) -> None:
        W, H = ctx.width, ctx.height
        yp = ctx.y
        cv2.LUT(yp, self._y_lut, dst=yp)
        cv2.LUT(ctx.u, self._c_lut, dst=ctx.u)
        cv2.LUT(ctx.v, self._c_lut, dst=ctx.v)
        xs, ys, strength = self.streaks(clock(ctx), W, H)
        weight = strength[:, None] * self.profile[None, :]
        rows = ys.astype(np.intp)
        inside = (ys >= 0) & (rows < H)
        rows, xs, weight = rows[inside], xs[inside], weight[inside]
        # anti-aliased across: split each sample between its two columns
        c0 = xs.astype(np.intp)
        f = (xs - c0).astype(np.float32)
        _lighten(yp, rows, c0 % W, weight * (1 - f), WHITE_Y)
        _lighten(yp, rows, (c0 + 1) % W, weight * f, WHITE_Y)


# --------------------------------------------------------------------------
# A bird flying overhead

BIRD_CROSS_SECONDS = 6.0
"""Seconds for the bird to fly across the frame, left to right (then it comes round again)."""
BIRD_SPAN = 0.09
"""Wingspan-ish size of the bird, as a fraction of the frame width."""
BIRD_ALTITUDE = 0.15
"""Height of the bird's flight line, as a fraction of the frame height from the top."""
BIRD_BOB = 0.025
"""Amplitude of its gentle up-and-down, as a fraction of the frame height."""
BIRD_FLAP_HZ = 3.0
"""Wing beats per second."""
BIRD_WING_ANGLES = (62.0, 18.0, -38.0, 14.0)
"""Wing angle (degrees above the body) of each flap frame: up, middle, down, middle."""

_BIRD_MASTER_SPAN = 256
_BIRD_BGR = (38, 34, 32)


@lru_cache(maxsize=8)
def bird_master(angle: float) -> Master:
    """A dark bird in side view, flying right, wings at ``angle`` degrees; anchored at its body."""
    L = _BIRD_MASTER_SPAN  # body + tail length ~ L; sprite wide enough for it
    w, h = int(L * 1.1), int(L * 1.1)
    c = Canvas(w, h)
    cx, cy = w * 0.48, h * 0.5
    body_len, body_h = 0.34 * L, 0.085 * L
    col = _BIRD_BGR

    # the wing flat (bird seen from above): x along the body (+ forward), z outward from the shoulder
    flat = [(0.10, 0.0), (0.12, 0.12), (0.08, 0.26), (0.0, 0.38), (-0.12, 0.47), (-0.24, 0.52),  # leading edge to tip
            (-0.20, 0.44), (-0.25, 0.40), (-0.19, 0.33), (-0.23, 0.28), (-0.17, 0.20), (-0.19, 0.12), (-0.13, 0.0)]

    def wing(angle_deg: float, dx: float, dy: float, tilt: float) -> np.ndarray:
        """The wing raised ``angle_deg`` above horizontal, seen from the side and a little below."""
        a = math.radians(angle_deg)
        sx, sy = cx + dx, cy - 0.2 * body_h + dy
        pts = [(sx + x * L, sy - z * L * (math.sin(a) + tilt * math.cos(a))) for x, z in flat]
        return c.poly_mask(pts)

    # far wing first, a little lighter so the near wing reads against it
    c.over(wing(angle * 0.85, 0.02 * L, -0.01 * L, -0.35), _shade_bgr(col, 1.5), 1.0)
    # body: a tapered ellipse, head, beak, forked tail
    yy, xx = c.yy, c.xx
    r = ((xx - cx) / (body_len / 2)) ** 2 + ((yy - cy) / (body_h / 2)) ** 2
    body = np.clip((1 - r) * body_h / 4 + 0.5, 0, 1)
    c.over(body, col)
    hx, hy, hr = cx + body_len * 0.5, cy - body_h * 0.25, 0.055 * L
    head = np.clip((hr - np.hypot(xx - hx, yy - hy)) + 0.5, 0, 1)
    c.over(head, col)
    beak = c.poly_mask([(hx + hr * 0.7, hy - hr * 0.35), (hx + hr * 2.0, hy + hr * 0.1), (hx + hr * 0.7, hy + hr * 0.45)])
    c.over(beak, _shade_bgr(col, 1.25))
    tx = cx - body_len * 0.45
    tail = c.poly_mask([(tx + 0.02 * L, cy - body_h * 0.35), (tx - 0.2 * L, cy - 0.06 * L), (tx - 0.14 * L, cy + 0.0 * L),
                        (tx - 0.2 * L, cy + 0.05 * L), (tx + 0.02 * L, cy + body_h * 0.4)])
    c.over(tail, col)
    c.over(wing(angle, 0.0, 0.0, 0.35), col, 1.0)
    return Master.from_canvas(c.pm, c.a, anchor=(cx, cy), scale=L)


def _shade_bgr(bgr: tuple[int, int, int], f: float) -> tuple[float, float, float]:
    return tuple(min(255.0, ch * f) for ch in bgr)  # type: ignore[return-value]


class Bird:
    """A dark bird with flapping wings flying across the top of the frame, bobbing gently."""

    stage = STAGE_SCENE
    needs_face = False

    def __init__(self, amount: float = 1.0) -> None:
        self.masters = [bird_master(a) for a in BIRD_WING_ANGLES]
        self.size = BIRD_SPAN * max(0.5, min(2.0, amount or 1.0))
        self._sprites: dict[int, list[Sprite]] = {}

    def sprites(self, width: int) -> list[Sprite]:
        """The flap frames sized for a frame ``width`` pixels wide."""
        frames = self._sprites.get(width)
        if frames is None:
            span = self.size * width
            frames = [m.sized(span / m.scale) for m in self.masters]
            self._sprites = {width: frames}
        return frames

    def position(self, t: float, width: int, height: int) -> tuple[float, float]:
        """Where the bird's body is at time ``t`` (frame pixels)."""
        margin = self.size * width * 0.75
        phase = (t / BIRD_CROSS_SECONDS) % 1.0
        x = -margin + phase * (width + 2 * margin)
        y = height * (BIRD_ALTITUDE + BIRD_BOB * math.sin(2 * math.pi * t / 2.3) + 0.01 * math.sin(2 * math.pi * t / 0.9))
        return x, y

    def apply(self, ctx: FrameContext) -> None:
        t = clock(ctx)
        frames = self.sprites(ctx.width)
        frame = frames[int(t * BIRD_FLAP_HZ * len(frames)) % len(frames)]
        x, y = self.position(t, ctx.width, ctx.height)
        frame.draw(ctx, x, y)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    "snow": lambda spec: Snow(spec.amount),
    "rain": lambda spec: Rain(spec.amount),
    "bird": lambda spec: Bird(),
}
"""Spec kind -> edit factory, for the edits that add to the whole scene."""
