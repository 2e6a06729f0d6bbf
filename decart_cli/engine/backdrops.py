"""The background as a scene behind the person: beach, forest, space, city, office, a solid colour, removed.

Every edit here replaces everything outside the person (the mask of
:class:`~.regions.PersonModel`, MediaPipe's segmentation network at 1/4 of
the frame size) with a picture:

``beach_background``
    Sky with a sun and clouds, a sea to the horizon with glints, a foam
    line, wet and dry sand, a palm leaning in at the left edge.
``forest_background``
    Misty green depth, three rows of trunks (pale far away, dark brown in
    front) under layers of foliage, a mossy floor.
``space_background``
    Black with ~700 stars (the brightest with cross glints), a purple-blue
    nebula and a ringed, banded planet at the top right.
``city_background``
    A skyline at dusk: a far row of hazy towers and a near row of dark ones
    with grids of lit and unlit windows under a navy-to-amber sky.
``office_background``
    A beige wall, a window with blinds, a bookshelf, a plant and a desk top.
``solid_background``
    A flat fill of exactly the named colour (white without one).
``no_background``
    "remove the background": the grey-and-white checkerboard that every
    image editor shows for transparent pixels. A plain backdrop would be
    the same thing as "plain white background" (:class:`SolidBackdrop`);
    the checker is the one picture that reads as "nothing is there".

How they are drawn: each scene is painted once per frame size in BGR with
numpy and OpenCV (seeded, so every stream sees the same scene), converted
to I420 planes and kept (:func:`scene_planes`; 40-260 ms on the first
frame of a size, nothing after). The scenes are still pictures: nothing is
animated. A frame then costs the person mask (~4-5 ms, shared with the
other background edits) and one weighted sum per plane by weights made at
1/4 size and upscaled (:func:`composite`, ~3 ms at 1280x704), which also
removes the old wall's share from the person's soft edge so no halo of it
stays beside the hair and suit. The solid colour and the checkerboard are
constant planes, cached the same way.

Like the other background edits they need a face: the mask is computed
only when one is tracked, and a frame without a face is left as it came.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from .colors import lookup_color
from .frame import STAGE_REGION, Color, Edit, EditSpec, FrameContext
from .reference import CACHE_KEY, Planes, Reference, _i420
from .reference import KIND as IMAGE_KIND
from .regions import SCALE, PersonModel, _blend_into, _small

__all__ = [
    "EDITS",
    "PAINTERS",
    "Backdrop",
    "SceneBackdrop",
    "SolidBackdrop",
    "CheckerBackdrop",
    "composite",
    "scene_planes",
]

Painter = Callable[[int, int], np.ndarray]


# -- painting helpers (BGR float32 images, 0..255) -----------------------------------


def _vertical(h: int, w: int, stops: list[tuple[float, tuple[float, float, float]]]) -> np.ndarray:
    """A top-to-bottom gradient through ``(position 0..1, BGR)`` stops."""
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)
    cols = [np.interp(ys, [p for p, _ in stops], [c[i] for _, c in stops]) for i in range(3)]
    column = np.stack(cols, axis=1).astype(np.float32)
    return np.repeat(column[:, None, :], w, axis=1)


def _noise(rng: np.random.Generator, h: int, w: int, cell: int, sigma: float = 1.0) -> np.ndarray:
    """Smooth value noise, about -1..1: random cells of ``cell`` pixels, smoothed while small, upscaled."""
    small = rng.uniform(-1, 1, (max(2, h // cell + 2), max(2, w // cell + 2))).astype(np.float32)
    if sigma > 0:
        small = cv2.GaussianBlur(small, (0, 0), 0.5 * sigma) * 1.6
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _overlay(image: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> None:
    """``image = image * (1 - alpha) + layer * alpha`` in place (alpha HxW in 0..1)."""
    a = alpha[..., None]
    image *= 1 - a
    image += layer * a


def _shape(h: int, w: int, draw: Callable[[np.ndarray], None], blur: float = 0.7) -> np.ndarray:
    """An anti-aliased 0..1 alpha drawn by ``draw`` (on a uint8 canvas, value 255)."""
    canvas = np.zeros((h, w), np.uint8)
    draw(canvas)
    alpha = canvas.astype(np.float32) * (1 / 255)
    return cv2.GaussianBlur(alpha, (0, 0), blur) if blur > 0 else alpha


# -- the scenes ----------------------------------------------------------------------


def paint_beach(w: int, h: int) -> np.ndarray:
    """Sky, sun and clouds above a horizon at 45%; sea down to 64%; foam, wet and dry sand; a palm at the left."""
    rng = np.random.default_rng(20)
    horizon, shore = round(0.45 * h), round(0.64 * h)
    img = _vertical(h, w, [(0.0, (205, 135, 50)), (0.30, (230, 185, 120)), (0.45, (240, 225, 200)),
                           (0.4501, (135, 95, 20)), (0.64, (180, 170, 60)),
                           (0.6401, (150, 200, 225)), (1.0, (165, 215, 240))])
    # sun: a bright disc with a glow
    sx, sy, r = 0.80 * w, 0.16 * h, 0.055 * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - sx, yy - sy)
    glow = np.clip(1 - (dist - r) / (3.5 * r), 0, 1) ** 2 * 0.55
    glow[horizon:] = 0
    _overlay(img, np.full_like(img, (220, 250, 255)), glow)
    _overlay(img, np.full_like(img, (235, 252, 255)), np.clip(r + 1 - dist, 0, 1))
    # clouds: clusters of soft white ellipses
    clouds = np.zeros((h, w), np.uint8)
    for cx, cy, size in ((0.18, 0.13, 1.0), (0.50, 0.08, 0.8), (0.62, 0.30, 0.6), (0.33, 0.33, 0.5)):
        for _ in range(7):
            ex = (cx + rng.uniform(-0.05, 0.05) * size) * w
            ey = (cy + rng.uniform(-0.012, 0.02)) * h
            axes = (round(rng.uniform(0.03, 0.06) * w * size), round(rng.uniform(0.02, 0.035) * h * size))
            cv2.ellipse(clouds, (round(ex), round(ey)), axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    cloud = cv2.GaussianBlur(clouds.astype(np.float32) * (1 / 255), (0, 0), 4)
    cloud[horizon - 4 :] = 0
    _overlay(img, np.full_like(img, (250, 250, 250)), cloud * 0.9)
    # sea: darker swell bands and light glints
    swell = _noise(rng, h, w, 24, 1.0)
    sea = slice(horizon, shore)
    depth = np.linspace(0.4, 1.0, shore - horizon, dtype=np.float32)[:, None, None]
    img[sea] += swell[sea][..., None] * 14 * depth
    for _ in range(int(w * 0.08)):
        gx, gy = rng.uniform(0, w), rng.uniform(horizon + 3, shore - 10)
        length = (2 + 10 * (gy - horizon) / (shore - horizon)) * rng.uniform(0.5, 1.2)
        cv2.line(img, (round(gx - length), round(gy)), (round(gx + length), round(gy)), (215, 225, 225), 1, cv2.LINE_AA)
    # foam where the waves end
    xs = np.arange(w, dtype=np.float32)
    edge = shore + 3 * np.sin(xs / (0.03 * w)) + 2 * np.sin(xs / (0.011 * w) + 1)
    foam = np.clip(1 - np.abs(np.arange(h, dtype=np.float32)[:, None] - edge[None, :]) / 4, 0, 1)
    _overlay(img, np.full_like(img, (245, 248, 248)), foam * 0.9)
    # sand: grain and ripples; wet sand darker near the water
    grain = rng.normal(0, 5, (h - shore, w)).astype(np.float32)
    ripples = _noise(rng, h - shore, w, 40, 1.0) * 8
    img[shore:] += (grain + ripples)[..., None]
    wet = np.clip(1 - np.arange(h - shore, dtype=np.float32) / (0.05 * h), 0, 1)[:, None, None]
    img[shore:] -= wet * np.array([45, 40, 35], np.float32)
    # a palm leaning in from the left edge
    trunk = [(round(0.02 * w + 0.07 * w * t ** 1.6), round(h - (h - 0.22 * h) * t)) for t in np.linspace(0, 1, 24)]
    palm = np.zeros((h, w), np.uint8)
    for i in range(len(trunk) - 1):
        thick = round((0.030 - 0.016 * i / len(trunk)) * w)
        cv2.line(palm, trunk[i], trunk[i + 1], 255, max(2, thick), cv2.LINE_AA)
    bark = cv2.GaussianBlur(palm.astype(np.float32) / 255, (0, 0), 1.0)
    rings = (0.75 + 0.25 * np.sin(yy * 0.25)).astype(np.float32)
    _overlay(img, np.stack([40 * rings, 80 * rings, 110 * rings], axis=2), bark)
    top = trunk[-1]
    fronds = np.zeros((h, w), np.uint8)
    for angle in (-165, -135, -105, -75, -45, -15, 15, 195):
        a = math.radians(angle + rng.uniform(-8, 8))
        length = 0.15 * w * rng.uniform(0.8, 1.1)
        ts = np.linspace(0, 1, 16)
        spine = np.array([(top[0] + math.cos(a) * length * t, top[1] + math.sin(a) * length * t + 0.4 * length * t * t) for t in ts])
        d = np.gradient(spine, axis=0)
        normal = np.stack([-d[:, 1], d[:, 0]], axis=1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)
        width = 0.011 * w * np.sin(np.pi * np.clip(ts, 0.02, 1)) ** 0.6 * (1 + 0.5 * (np.arange(16) % 2))
        outline = np.concatenate([spine + normal * width[:, None], (spine - normal * width[:, None])[::-1]])
        cv2.fillPoly(fronds, [outline.round().astype(np.int32)], 255, cv2.LINE_AA)
    leaf = cv2.GaussianBlur(fronds.astype(np.float32) / 255, (0, 0), 1.0)
    _overlay(img, np.full_like(img, (35, 120, 50)), leaf)
    return img


def paint_forest(w: int, h: int) -> np.ndarray:
    """Misty green depth; rows of trunks, far (pale, thin) to near (dark, wide), each under its foliage; a mossy floor."""
    rng = np.random.default_rng(21)
    ground = round(0.80 * h)
    img = _vertical(h, w, [(0.0, (130, 205, 160)), (0.55, (100, 175, 125)), (0.80, (70, 140, 90)),
                           (0.8001, (40, 85, 60)), (1.0, (25, 60, 45))])
    img[:ground] += (_noise(rng, ground, w, 80, 1.0) * 12)[..., None]
    layers = ((0.70, 14, (0.010, 0.018), (120, 160, 140), (70, 150, 95)),
              (0.45, 10, (0.018, 0.030), (70, 95, 95), (40, 115, 60)),
              (0.0, 6, (0.035, 0.060), (30, 50, 65), (20, 80, 35)))
    yy = np.arange(h, dtype=np.float32)[:, None]
    for haze, count, (wmin, wmax), bark, leaves in layers:
        mix = lambda c, haze=haze: tuple(haze * m + (1 - haze) * v for m, v in zip((115, 190, 140), c))  # noqa: E731
        bottom = ground + round((1 - haze) * 0.10 * h)
        trunks = np.zeros((h, w), np.uint8)
        xs = (np.arange(count) + rng.uniform(0.1, 0.9, count)) * w / count
        for x in xs:
            half = rng.uniform(wmin, wmax) * w / 2
            cv2.fillConvexPoly(trunks, np.array([[x - half * 0.8, 0], [x + half * 0.8, 0], [x + half * 1.15, bottom], [x - half * 1.15, bottom]], np.int32), 255, cv2.LINE_AA)
        alpha = trunks.astype(np.float32) / 255
        streaks = 1 + 0.25 * _noise(rng, h, w, 6, 0.5)[:1].repeat(h, axis=0)
        _overlay(img, np.stack([mix(bark)[i] * streaks for i in range(3)], axis=2), alpha)
        canopy = _noise(rng, h, w, 28, 1.0) + 0.9 - 2.2 * (yy / h) / (0.55 - 0.2 * haze) - 0.15
        canopy_alpha = np.clip(canopy * 4, 0, 1)
        shade = 0.8 + 0.35 * _noise(rng, h, w, 9, 1.0)
        _overlay(img, np.stack([mix(leaves)[i] * shade for i in range(3)], axis=2), canopy_alpha)
    floor = rng.normal(0, 10, (h - ground, w)).astype(np.float32) + _noise(rng, h - ground, w, 20, 1.0) * 14
    img[ground:] += floor[..., None] * np.array([0.6, 1.0, 0.7], np.float32)
    return img


def paint_space(w: int, h: int) -> np.ndarray:
    """Black with a purple-blue nebula, ~700 stars (a few with glows) and a ringed, banded planet at the top right."""
    rng = np.random.default_rng(22)
    img = np.full((h, w, 3), (10, 5, 6), np.float32)
    cloud = np.clip(_noise(rng, h, w, 160, 1.0) * 1.6 + _noise(rng, h, w, 40, 1.0) * 0.5 - 0.2, 0, 1) ** 1.5
    tone = _noise(rng, h, w, 220, 1.0)
    img += cloud[..., None] * (np.stack([110 + 40 * tone, 30 + 10 * tone, 90 - 50 * tone], axis=2))
    for x, y, b in _stars(w, h):
        size = 1 if b < 200 else 2
        cv2.circle(img, (x, y), size - 1, (b, b, min(255, b + 10)), -1)
        if b > 235:
            cv2.line(img, (x - 5, y), (x + 5, y), (180, 180, 190), 1, cv2.LINE_AA)
            cv2.line(img, (x, y - 5), (x, y + 5), (180, 180, 190), 1, cv2.LINE_AA)
    # a planet: banded, lit from the upper left, with a ring in front
    px, py, r = 0.87 * w, 0.24 * h, 0.12 * h
    x0, x1 = max(0, round(px - 2.1 * r)), min(w, round(px + 2.1 * r))
    y0, y1 = max(0, round(py - 1.2 * r)), min(h, round(py + 1.2 * r))
    box = img[y0:y1, x0:x1]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = (xx - px) / r, (yy - py) / r
    inside = np.clip((1 - np.hypot(dx, dy)) * r, 0, 1)
    light = np.clip(0.25 + 0.9 * (-0.6 * dx - 0.5 * dy + 0.6 * np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, 1))), 0.08, 1.1)
    bands = 0.8 + 0.2 * np.sin(dy * 9 + 0.6 * np.sin(dx * 3))
    body = np.stack([110 * bands * light, 160 * bands * light, 215 * bands * light], axis=2)
    ring = _shape(y1 - y0, x1 - x0, lambda c: cv2.ellipse(c, (round(px) - x0, round(py) - y0), (round(1.9 * r), round(0.42 * r)), -12, 0, 360, 255, max(2, round(0.06 * r)), cv2.LINE_AA), 1.0)
    ring[(dy < -0.05 * dx) & (np.hypot(dx, dy) < 1)] = 0  # the ring's far half passes behind the planet
    _overlay(box, body, inside)
    _overlay(box, np.full_like(box, (170, 200, 220)), ring * 0.85)
    return img


@lru_cache(maxsize=4)
def _stars(w: int, h: int) -> tuple[tuple[int, int, int], ...]:
    """The star field: (x, y, brightness) of ~1 star per 1300 pixels, most faint, few bright."""
    rng = np.random.default_rng(23)
    count = w * h // 1300
    xs, ys = rng.integers(2, w - 2, count), rng.integers(2, h - 2, count)
    bright = (90 + 165 * rng.power(0.35 + 0 * 1, count) ** 4).astype(int)
    return tuple(zip(xs.tolist(), ys.tolist(), bright.tolist()))


def paint_city(w: int, h: int) -> np.ndarray:
    """Dusk over a skyline: a far row of hazy towers, a near row of dark ones with lit and unlit window grids."""
    rng = np.random.default_rng(24)
    img = _vertical(h, w, [(0.0, (70, 30, 18)), (0.35, (110, 60, 60)), (0.6, (110, 120, 200)), (1.0, (90, 140, 230))])
    for row, (lo, hi), body, lit_share in ((0, (0.25, 0.55), (105, 75, 70), 0.2), (1, (0.10, 0.45), (45, 32, 30), 0.45)):
        x = -rng.uniform(0, 40)
        while x < w:
            bw = rng.uniform(0.05, 0.11) * w
            top = rng.uniform(lo, hi) * h + row * 0.15 * h
            x0, x1, y0 = round(x), round(x + bw), round(top)
            cv2.rectangle(img, (x0, y0), (x1, h), body, -1)
            if rng.random() < 0.35:  # a setback crown and an antenna with a red light
                cw = round(bw * 0.5)
                cv2.rectangle(img, (x0 + round(bw * 0.25), y0 - round(0.04 * h)), (x0 + round(bw * 0.25) + cw, y0), body, -1)
                ax = x0 + round(bw / 2)
                cv2.line(img, (ax, y0 - round(0.04 * h)), (ax, y0 - round(0.09 * h)), body, 2)
                cv2.circle(img, (ax, y0 - round(0.09 * h)), 2, (40, 40, 230), -1, cv2.LINE_AA)
            ww, wh, gx, gy = max(3, round(0.007 * w)), max(4, round(0.014 * h)), max(6, round(0.016 * w)), max(8, round(0.03 * h))
            for wy in range(y0 + gy // 2, h - wh, gy):
                for wx in range(x0 + gx // 2, x1 - ww - 2, gx):
                    if rng.random() < lit_share:
                        glow = rng.uniform(0.75, 1.0)
                        color = (110 * glow, 215 * glow, 250 * glow) if rng.random() < 0.8 else (235 * glow, 230 * glow, 215 * glow)
                    else:
                        color = tuple(c * 1.35 + 8 for c in body)
                    cv2.rectangle(img, (wx, wy), (wx + ww, wy + wh), color, -1)
            x += bw + rng.uniform(0.0, 0.02) * w
        if row == 0:
            img = img * (1 - 0.35) + np.array([120, 110, 170], np.float32) * 0.35
    return img


def paint_office(w: int, h: int) -> np.ndarray:
    """A beige wall with a window (blinds, sky), a bookshelf, a plant and a wooden desk top."""
    rng = np.random.default_rng(25)
    img = _vertical(h, w, [(0.0, (170, 200, 215)), (1.0, (140, 172, 190))])
    img += (_noise(rng, h, w, 30, 1.0) * 3)[..., None]
    def box(x0: float, y0: float, x1: float, y1: float, color: tuple[float, float, float]) -> None:
        cv2.rectangle(img, (round(x0 * w), round(y0 * h)), (round(x1 * w), round(y1 * h)), color, -1)
    # window with blinds
    box(0.05, 0.08, 0.33, 0.60, (235, 235, 235))
    box(0.065, 0.10, 0.315, 0.58, (235, 200, 150))
    for i, (bx, bh) in enumerate(((0.07, 0.22), (0.12, 0.30), (0.19, 0.18), (0.24, 0.26), (0.28, 0.14))):
        box(bx, 0.58 - bh, bx + 0.045, 0.58, (200, 175, 150))
    for y in np.arange(0.10, 0.58, 0.024):
        cv2.line(img, (round(0.065 * w), round(y * h)), (round(0.315 * w), round(y * h)), (215, 225, 230), max(2, round(0.008 * h)))
    box(0.04, 0.60, 0.34, 0.62, (220, 225, 230))
    # bookshelf
    box(0.70, 0.06, 0.97, 0.86, (40, 70, 105))
    box(0.715, 0.08, 0.955, 0.86, (30, 50, 75))
    for shelf in np.arange(0.08, 0.86, 0.155):
        box(0.70, shelf + 0.14, 0.97, shelf + 0.155, (50, 85, 125))
        x = 0.72
        while x < 0.95:
            bw = rng.uniform(0.008, 0.018)
            if x + bw > 0.95:
                break
            bh = rng.uniform(0.09, 0.13)
            color = tuple(float(c) for c in rng.choice([(40, 40, 150), (130, 70, 30), (40, 110, 50), (60, 160, 200), (120, 120, 120), (30, 30, 30), (160, 140, 90)]))
            box(x, shelf + 0.14 - bh, x + bw, shelf + 0.14, color)
            x += bw + (0.003 if rng.random() < 0.85 else 0.03)
    # plant on the desk
    box(0.60, 0.74, 0.66, 0.86, (60, 80, 170))
    for _ in range(14):
        a = math.radians(rng.uniform(-160, -20))
        L = rng.uniform(0.06, 0.13) * h
        cx, cy = 0.63 * w, 0.74 * h
        ex, ey = cx + math.cos(a) * L, cy + math.sin(a) * L
        cv2.ellipse(img, (round((cx + ex) / 2), round((cy + ey) / 2)), (round(L / 2), max(3, round(0.012 * h))), math.degrees(a), 0, 360, (40, rng.uniform(110, 150), 50), -1, cv2.LINE_AA)
    # desk top
    box(0.0, 0.86, 1.0, 1.0, (60, 100, 145))
    box(0.0, 0.86, 1.0, 0.875, (90, 135, 180))
    img[round(0.875 * h) :] += (_noise(rng, h - round(0.875 * h), w, 5, 0.3)[:, :] * 8)[..., None]
    return img


PAINTERS: dict[str, Painter] = {
    "beach": paint_beach,
    "forest": paint_forest,
    "space": paint_space,
    "city": paint_city,
    "office": paint_office,
}
"""Scene name -> painter of a ``w`` x ``h`` BGR float picture."""


@lru_cache(maxsize=8)
def scene_planes(name: str, width: int, height: int) -> Planes:
    """The scene ``name`` painted for a ``width`` x ``height`` frame, as read-only I420 planes (painted once per size)."""
    bgr = np.clip(PAINTERS[name](width, height), 0, 255).astype(np.uint8)
    planes = _i420(bgr)
    for plane in planes:
        plane.setflags(write=False)
    return planes


# -- putting a picture behind the person ---------------------------------------------------


EDGE = (72, 232)
"""Person-mask values taken as 0 and 255 when compositing: the network's soft ramp, pulled inwards and shortened."""
SIGMA_OLD = 3.0
"""Reach (pixels at 1/4 size) of the local average of the old background near the person's edge."""


def _ramp(low: int, high: int) -> np.ndarray:
    return np.clip((np.arange(256, dtype=np.float32) - low) * (255 / (high - low)), 0, 255)


_EDGE_LUT = (_ramp(*EDGE) + 0.5).astype(np.uint8)
_a = _ramp(*EDGE) / 255
_SPILL_LUT = ((1 - _a) * np.minimum(1.0, 3 * _a) * 255 + 0.5).astype(np.uint8)
"""How much of the old background to take back out of an edge pixel, by person-mask value: ``(1 - a)``, faded out towards the background."""
del _a


def _old_background(ctx: FrameContext, person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What lay behind the person near its edge, Y, U, V at 1/4 size (float32).

    The local average of surely-background pixels; where none is near (deep
    inside the person) the pixel itself, so nothing is taken out there.
    """
    s = _small(ctx)
    sure = (person < 16).astype(np.float32)
    weight = cv2.GaussianBlur(sure, (0, 0), SIGMA_OLD) + 0.02
    out = []
    for p in (s.y, s.u, s.v):
        pf = p.astype(np.float32)
        out.append(cv2.divide(cv2.GaussianBlur(cv2.multiply(pf, sure), (0, 0), SIGMA_OLD) + 0.02 * pf, weight))
    return out[0], out[1], out[2]


def composite(ctx: FrameContext, person: np.ndarray, picture: Planes) -> None:
    """``picture`` (Y, U, V planes of the frame's size) everywhere outside ``person`` (uint8 mask at 1/4 size), in place.

    The mask is tightened (:data:`EDGE`, opacity ``a``). A plain blend,
    ``a * pixel + (1 - a) * new``, would keep ``a * (1 - a)`` of the old wall
    in every edge pixel: a pale band around the person. Near the edge the
    old background's share is taken out instead, ``pixel + (1 - a) * (new -
    old)`` with ``old`` the local average of the wall (:func:`_old_background`);
    all of it is one weighted sum of uint8 planes whose weights are made at
    1/4 size and upscaled: ``keep * pixel + (1 - a) * new - spill * old``.
    """
    alpha = cv2.LUT(person, _EDGE_LUT)
    back = cv2.bitwise_not(alpha)
    spill = cv2.LUT(person, _SPILL_LUT)
    keep = cv2.add(alpha, spill)
    share = spill.astype(np.float32) * (1 / 255)
    for plane, new, old in zip((ctx.y, ctx.u, ctx.v), picture, _old_background(ctx, person)):
        size = (plane.shape[1], plane.shape[0])
        taken = cv2.resize(cv2.multiply(old, share).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)
        cv2.multiply(plane, cv2.resize(keep, size, interpolation=cv2.INTER_LINEAR), dst=plane, scale=1 / 255)
        cv2.add(plane, cv2.multiply(new, cv2.resize(back, size, interpolation=cv2.INTER_LINEAR), scale=1 / 255), dst=plane)
        cv2.subtract(plane, taken, dst=plane)


class Backdrop:
    """A picture behind the person; subclasses say which (:meth:`picture`)."""

    stage = STAGE_REGION
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        self.spec = spec
        self.model = PersonModel()

    def picture(self, ctx: FrameContext) -> Planes | None:
        """This frame's backdrop as Y, U, V planes of the frame's size (None: none yet, the frame stays as it is)."""
        raise NotImplementedError

    def apply(self, ctx: FrameContext) -> None:
        picture = self.picture(ctx)
        if picture is None:
            return
        person = self.model.mask(ctx)
        if person is None:
            return
        composite(ctx, person, picture)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SceneBackdrop(Backdrop):
    """A painted scene (:data:`PAINTERS`) behind the person."""

    def __init__(self, spec: EditSpec, name: str) -> None:
        super().__init__(spec)
        self.name = name

    def picture(self, ctx: FrameContext) -> Planes:
        return scene_planes(self.name, ctx.width, ctx.height)

    def __repr__(self) -> str:
        return f"SceneBackdrop({self.name})"


class SolidBackdrop(Backdrop):
    """"solid green background": exactly the named colour (white when none is named) behind the person."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self.color: Color = spec.color or lookup_color("white")  # type: ignore[assignment]

    def picture(self, ctx: FrameContext) -> Planes:
        return _flat(self.color.y, self.color.u, self.color.v, ctx.width, ctx.height)

    def __repr__(self) -> str:
        return f"SolidBackdrop({self.color.name})"


CHECKER_LIGHT = 235
"""Luma of the checkerboard's white squares (limited-range white)."""
CHECKER_DARK = 191
"""Luma of its grey squares (#CCCCCC, as image editors show transparency)."""


class CheckerBackdrop(Backdrop):
    """"remove the background": grey and white squares (about 1/22 of the frame's height) behind the person."""

    def picture(self, ctx: FrameContext) -> Planes:
        return _checker(ctx.width, ctx.height)


@lru_cache(maxsize=8)
def _flat(y: int, u: int, v: int, width: int, height: int) -> Planes:
    planes = (np.full((height, width), y, np.uint8), np.full((height // 2, width // 2), u, np.uint8), np.full((height // 2, width // 2), v, np.uint8))
    for plane in planes:
        plane.setflags(write=False)
    return planes


def checker_size(height: int) -> int:
    """Side of a checkerboard square in pixels: even (whole chroma samples), about 1/22 of the height."""
    return max(2, 2 * round(height / 44))


@lru_cache(maxsize=4)
def _checker(width: int, height: int) -> Planes:
    side = checker_size(height)
    rows = (np.arange(height) // side)[:, None]
    cols = (np.arange(width) // side)[None, :]
    y = np.where((rows + cols) % 2 == 0, CHECKER_LIGHT, CHECKER_DARK).astype(np.uint8)
    _, u, v = _flat(16, 128, 128, width, height)
    y.setflags(write=False)
    return y, u, v


def _scene(name: str) -> Callable[[EditSpec], Edit]:
    return lambda spec: SceneBackdrop(spec, name)


class ImageBackground(Backdrop):
    """"replace the background with the image": the reference image (:mod:`.reference`), cover-fitted, behind the person."""

    uses_image = True
    """The engine draws no picture-in-picture while this edit is in the plan."""

    def picture(self, ctx: FrameContext) -> Planes | None:
        reference: Reference | None = ctx.cache.get(CACHE_KEY)
        return None if reference is None else reference.cover(ctx.width, ctx.height)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    IMAGE_KIND: ImageBackground,
    **{f"{name}_background": _scene(name) for name in PAINTERS},
    "solid_background": SolidBackdrop,
    "no_background": CheckerBackdrop,
}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
