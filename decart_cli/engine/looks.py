"""Looks that change the face itself: beard, glasses, makeup, clown / zombie / robot, older / younger.

Every edit here anchors to ``ctx.face`` (the tracked Haar box; positions
below are in *face units*: 0..1 across the box, its top at the hairline, its
bottom at the chin) and does nothing without a face. Three kinds of layer
make a look, each touching only a box around the face:

* **Sprites** (beard, goatee, glasses, a clown's nose, mouth and eye marks,
  a robot's plates and LED eyes, a zombie's wounds): drawn once with cv2 at a
  canonical face width (:data:`MASTER_FACE_WIDTH`) as premultiplied Y, U, V
  and alpha (:class:`~.overlays.Master`), resized once per face-size bucket
  (:class:`~.overlays.SpriteCache`) and alpha-blended (~0.3 ms).
* **Relief** (wrinkles, veins): luma and chroma *deltas* drawn once in face
  units (:class:`Relief`), resized once per face-box size and added where
  the skin is, so the lines shade the person's own skin (~0.3 ms).
* **Skin transforms** (white face paint, grey-green zombie skin, metal,
  sallow or smoothed skin, lipstick, blush, eyeshadow): per-pixel arithmetic
  on the face's planes, weighted by :class:`FaceArea`'s skin mask: the face
  ellipse (:func:`~.face.face_ellipse`) narrowed to pixels near the cheeks'
  colour (hair over the forehead is left alone), computed once per frame
  from the frame as it entered the first look and shared (~0.5 ms).

"older" also greys the hair with :class:`~.regions.RecolorHair` (the hair
within the person from the segmentation network, ~4-5 ms); every other look
costs 0.5-2 ms a frame on a 1280x704 frame with a ~150 px face. Looks of the
skin run at :data:`~.frame.STAGE_REGION` (a global style then applies over
them: a black-and-white zombie); glasses are an object
(:data:`~.frame.STAGE_OBJECT`), like the sunglasses.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from .colors import rgb_to_yuv
from .face import eye_centers, eye_distance, eye_line_y, face_ellipse
from .frame import STAGE_OBJECT, STAGE_REGION, Color, Edit, EditSpec, Face, FrameContext
from .overlays import LENS_DROP, Canvas, Master, SpriteCache

MASTER_FACE_WIDTH = 320
"""Face width (pixels) sprites and relief are drawn at before being resized to the face."""

_UNIT = Face(0.0, 0.0, 1.0, 1.0)
EYES = eye_centers(_UNIT)
"""Eye centres in face units ((x, y) left, right)."""
EYE_SEP = eye_distance(_UNIT)
MOUTH = (0.5, 0.785)
"""Centre of the lips in face units (the mouth opening of a smile; a little below :func:`~.face.mouth_center`, which marks the upper lip)."""
NOSE = (0.5, 0.585)
"""Tip of the nose in face units."""

DEFAULT_BEARD_BGR = (38, 54, 78)
"""A dark-brown hair colour, for a beard with no colour named."""
DEFAULT_FRAME_BGR = (22, 20, 24)
"""Near-black frames, for glasses with no colour named."""

_CACHE_SKIN = "looks.skin"


# --------------------------------------------------------------------------
# Where the face is: a box around it, its planes, face-unit coordinates, skin


class FaceArea:
    """A box around the face given in face units, as even frame pixels, with views of the planes inside it.

    ``extent`` is (left, top, right, bottom) in face units; the box is
    clipped to the frame (:attr:`clip` says which part of the unclipped box,
    :attr:`size`, is inside it). :attr:`y`, :attr:`u`, :attr:`v` are views:
    writing them edits the frame.
    """

    def __init__(self, ctx: FrameContext, face: Face, extent: tuple[float, float, float, float]) -> None:
        e0, f0, e1, f1 = extent
        self.face = face
        x0 = 2 * math.floor((face.x + e0 * face.w) / 2)
        y0 = 2 * math.floor((face.y + f0 * face.h) / 2)
        x1 = 2 * math.ceil((face.x + e1 * face.w) / 2)
        y1 = 2 * math.ceil((face.y + f1 * face.h) / 2)
        self.origin = (x0, y0)
        self.size = (x1 - x0, y1 - y0)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, ctx.width), min(y1, ctx.height)
        self.empty = cx1 - cx0 < 4 or cy1 - cy0 < 4
        self.box = (cx0, cy0, cx1, cy1)
        self.clip = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        self.clip2 = (slice((cy0 - y0) // 2, (cy1 - y0) // 2), slice((cx0 - x0) // 2, (cx1 - x0) // 2))
        self.y = ctx.y[cy0:cy1, cx0:cx1]
        self.u = ctx.u[cy0 // 2 : cy1 // 2, cx0 // 2 : cx1 // 2]
        self.v = ctx.v[cy0 // 2 : cy1 // 2, cx0 // 2 : cx1 // 2]

    def coords(self, half: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Face-unit (x, y) of each pixel of the clipped box, luma or (``half``) chroma resolution."""
        cx0, cy0, cx1, cy1 = self.box
        step = 2 if half else 1
        xs = (np.arange(cx0, cx1, step, dtype=np.float32) + 0.5 * step - 0.5 - self.face.x) / self.face.w
        ys = (np.arange(cy0, cy1, step, dtype=np.float32) + 0.5 * step - 0.5 - self.face.y) / self.face.h
        return xs[None, :], ys[:, None]

    def ellipse(self, cx: float, cy: float, ax: float, ay: float, soft: float = 0.3, half: bool = False) -> np.ndarray:
        """1 inside the ellipse (face units), 0 beyond ``soft`` of its radius further out (float32)."""
        x, y = self.coords(half)
        r = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
        return np.clip((1 + soft / 2 - r) / soft, 0, 1).astype(np.float32)

    def skin(self, ctx: FrameContext) -> np.ndarray:
        """The face's skin at chroma resolution (0..1 float32): the face ellipse, near the cheeks' colour.

        Computed from the frame as the first look of the frame found it, and
        shared by the looks after it (they may have changed the skin).
        """
        key = (_CACHE_SKIN, self.box)
        found = ctx.cache.get(key)
        if found is None:
            found = ctx.cache[key] = self._skin()
        return found

    def _skin(self) -> np.ndarray:
        (ex, ey), (ax, ay) = face_ellipse(_UNIT)
        inside = self.ellipse(ex, ey + 0.02, ax * 1.02, ay * 1.04, soft=0.12, half=True)
        y2 = cv2.resize(self.y, (self.u.shape[1], self.u.shape[0]), interpolation=cv2.INTER_AREA)
        cheeks = (self.ellipse(0.28, 0.58, 0.08, 0.06, 0.01, True) + self.ellipse(0.72, 0.58, 0.08, 0.06, 0.01, True)) > 0.5
        if cheeks.sum() < 4:
            return inside
        ref = [float(np.median(p[cheeks])) for p in (y2, self.u, self.v)]
        d = (cv2.absdiff(self.u, round(ref[1])).astype(np.float32) + cv2.absdiff(self.v, round(ref[2]))
             + 0.6 * np.maximum(ref[0] - 30 - y2.astype(np.float32), 0))  # much darker than the cheeks: hair, brows
        return inside * np.clip((26 - d) / 12, 0, 1)

    def full(self, half_map: np.ndarray) -> np.ndarray:
        """A chroma-resolution map at luma resolution."""
        return cv2.resize(half_map, (self.y.shape[1], self.y.shape[0]), interpolation=cv2.INTER_LINEAR)


def mix(plane: np.ndarray, target: np.ndarray | float, weight: np.ndarray) -> None:
    """``plane += (target - plane) * weight`` in place (uint8 plane, float target and weight)."""
    cur = plane.astype(np.float32)
    cur += (target - cur) * weight
    np.clip(cur + 0.5, 0, 255, out=cur)
    plane[...] = cur.astype(np.uint8)


def add(plane: np.ndarray, delta: np.ndarray) -> None:
    """``plane += delta`` in place, clipped (uint8 plane, float delta)."""
    cur = plane.astype(np.float32) + delta + 0.5
    np.clip(cur, 0, 255, out=cur)
    plane[...] = cur.astype(np.uint8)


def yuv(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 limited-range Y, U, V of a BGR colour."""
    b, g, r = bgr
    return rgb_to_yuv(r, g, b)


# --------------------------------------------------------------------------
# Drawing in face units (masters, once per look and colour)


class Sketch(Canvas):
    """A canvas over ``extent`` (face units) at :data:`MASTER_FACE_WIDTH` pixels per face width."""

    def __init__(self, extent: tuple[float, float, float, float]) -> None:
        self.extent = extent
        self.fw = float(MASTER_FACE_WIDTH)
        e0, f0, e1, f1 = extent
        super().__init__(int(round((e1 - e0) * self.fw)), int(round((f1 - f0) * self.fw)))

    def p(self, x: float, y: float) -> tuple[float, float]:
        """Canvas pixel of face point (x, y)."""
        return (x - self.extent[0]) * self.fw, (y - self.extent[1]) * self.fw

    def fx(self) -> tuple[np.ndarray, np.ndarray]:
        """Face-unit x and y of every canvas pixel."""
        return self.xx / self.fw + self.extent[0], self.yy / self.fw + self.extent[1]

    def shape(self, points: list[tuple[float, float]], blur: float = 0.0) -> np.ndarray:
        """A 0..1 mask of a filled polygon given in face units, feathered by ``blur`` face widths."""
        return self.poly_mask([self.p(x, y) for x, y in points], blur * self.fw)

    def lines(self, paths: list[list[tuple[float, float]]], width: float, blur: float = 0.0) -> np.ndarray:
        """A 0..1 mask of open polylines in face units, ``width`` face widths thick."""
        m = np.zeros((self.h, self.w), np.uint8)
        pts = [np.round(np.asarray([self.p(x, y) for x, y in path]) * 16).astype(np.int32) for path in paths]
        cv2.polylines(m, pts, False, 255, max(1, int(round(width * self.fw))), cv2.LINE_AA, shift=4)
        mask = m.astype(np.float32) / 255
        return cv2.GaussianBlur(mask, (0, 0), blur * self.fw) if blur > 0 else mask

    def disc(self, cx: float, cy: float, rx: float, ry: float, soft: float = 0.004) -> np.ndarray:
        """A 0..1 mask of an ellipse in face units with an edge ``soft`` face widths wide."""
        x, y = self.fx()
        r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
        return np.clip((1 - r) * min(rx, ry) / soft + 0.5, 0, 1).astype(np.float32)

    def master(self) -> Master:
        """The drawing as a sprite anchored at the face box's top left."""
        return Master.from_canvas(self.pm, self.a, anchor=self.p(0.0, 0.0), scale=self.fw)


def _strands(sk: Sketch, seed: int, along: float = 0.03, across: float = 0.5) -> np.ndarray:
    """Hair texture: unit-variance noise smeared into short strands (vertical), float32."""
    noise = np.random.default_rng(seed).random((sk.h, sk.w)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=across, sigmaY=along * sk.fw)
    return (noise - noise.mean()) / (noise.std() + 1e-6)


def _shade(bgr: tuple[int, int, int], tone: np.ndarray) -> np.ndarray:
    """``bgr`` scaled per pixel by ``tone`` (h, w) -> (h, w, 3)."""
    return np.clip(np.asarray(bgr, np.float32) * tone[..., None], 0, 255)


BEARD_EXTENT = (-0.1, 0.3, 1.1, 1.25)
_FULL_BEARD = [
    (0.02, 0.40), (0.12, 0.40), (0.14, 0.58), (0.22, 0.68), (0.34, 0.685), (0.42, 0.665), (0.5, 0.655),
    (0.58, 0.665), (0.66, 0.685), (0.78, 0.68), (0.86, 0.58), (0.88, 0.40), (0.98, 0.40), (0.99, 0.62),
    (0.93, 0.83), (0.81, 1.0), (0.66, 1.12), (0.5, 1.16), (0.34, 1.12), (0.19, 1.0), (0.07, 0.83), (0.01, 0.62),
]
_GOATEE = [
    (0.30, 0.70), (0.40, 0.67), (0.5, 0.66), (0.60, 0.67), (0.70, 0.70), (0.72, 0.80), (0.67, 0.93),
    (0.60, 1.08), (0.5, 1.13), (0.40, 1.08), (0.33, 0.93), (0.28, 0.80),
]


@lru_cache(maxsize=16)
def beard_master(bgr: tuple[int, int, int], goatee: bool = False) -> Master:
    """A full beard (jaw, chin, mustache) or a goatee (mustache and chin) of hair colour ``bgr``, the lips left bare."""
    sk = Sketch(BEARD_EXTENT)
    mask = sk.shape(_GOATEE if goatee else _FULL_BEARD, blur=0.012)
    mouth = sk.disc(MOUTH[0], MOUTH[1] + 0.005, 0.15, 0.062, soft=0.02)
    mask *= 1 - mouth
    x, y = sk.fx()
    # hair: long strands, short curls and fine grain, mixed
    strands = 0.6 * _strands(sk, 11) + 0.5 * _strands(sk, 12, along=0.008, across=1.2) + 0.3 * _strands(sk, 13, along=0.002, across=0.6)
    # a ragged lower edge: strands end at different lengths
    ragged = np.clip(0.8 + 0.35 * _strands(sk, 14, along=0.012, across=2.5), 0, 1)
    mask *= 1 - (1 - ragged) * np.clip((y - 1.0) * 12, 0, 1)
    # lighter on top, darker under the chin; strands lighter and darker
    tone = np.clip(1.1 - 0.4 * np.clip((y - 0.75) / 0.4, 0, 1) + 0.22 * strands, 0.4, 1.6)
    # thinner where it meets the cheeks: the upper edge lets some skin through
    density = np.clip(0.82 + 0.2 * strands, 0, 1) * np.clip((y - 0.42) / 0.08 + 0.6, 0.55, 1)
    sk.over(mask * density, _shade(bgr, tone), 0.97)
    return sk.master()


def _superellipse(cx: float, cy: float, ax: float, by: float, p: float = 3.0, n: int = 72) -> list[tuple[float, float]]:
    """Points of |x/ax|^p + |y/by|^p = 1 around (cx, cy) (a rounded rectangle for p > 2)."""
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        c, s = math.cos(t), math.sin(t)
        pts.append((cx + ax * math.copysign(abs(c) ** (2 / p), c), cy + by * math.copysign(abs(s) ** (2 / p), s)))
    return pts


GLASSES_EXTENT = (-0.05, 0.15, 1.05, 0.55)


@lru_cache(maxsize=16)
def glasses_master(bgr: tuple[int, int, int]) -> Master:
    """Clear eyeglasses: thin frames of colour ``bgr``, a bridge, arms, faint lens glints; anchored on the face box."""
    sk = Sketch(GLASSES_EXTENT)
    ey = EYES[0][1] + LENS_DROP
    ax, by = 0.15, 0.095
    rims = [_superellipse(cx, ey, ax, by) + [_superellipse(cx, ey, ax, by)[0]] for cx in (EYES[0][0], EYES[1][0])]
    lx, rx = EYES[0][0], EYES[1][0]
    top = ey - by * 0.55
    bridge = [(lx + ax * 0.92, top), (0.5 - 0.03, top - 0.018), (0.5 + 0.03, top - 0.018), (rx - ax * 0.92, top)]
    arms = [[(lx - ax, ey - by * 0.35), (-0.02, ey - by * 0.5)], [(rx + ax, ey - by * 0.35), (1.02, ey - by * 0.5)]]
    x, y = sk.fx()
    # lenses: a faint cool tint and a glint across their upper outer parts
    for cx in (lx, rx):
        lens = sk.shape(_superellipse(cx, ey, ax, by))
        d = (x - cx) + 0.8 * (y - ey)
        glint = np.exp(-(((d + 0.55 * ax) / (0.06 * ax)) ** 2)) + 0.6 * np.exp(-(((d + 0.8 * ax) / (0.03 * ax)) ** 2))
        sk.over(lens, (250, 240, 230), 0.06)
        sk.over(lens * glint, (255, 255, 255), 0.35)
    frame = np.maximum(sk.lines(rims, 0.018), sk.lines([bridge, *arms], 0.016))
    # a lighter top edge on the frame (light from above)
    tone = 1.0 + 0.9 * np.clip((ey - y) / by, 0, 1) * (max(bgr) < 60)
    sk.over(frame, _shade(bgr, tone) + (22 if max(bgr) < 60 else 0), 1.0)
    return sk.master()


CLOWN_EXTENT = (0.05, 0.1, 0.95, 1.02)


@lru_cache(maxsize=2)
def clown_master() -> Master:
    """A clown's painted features: blue diamonds through the eyes, a big red smile around the lips, a round red nose."""
    sk = Sketch(CLOWN_EXTENT)
    x, y = sk.fx()
    blue = (200, 90, 20)
    for cx, cy in EYES:
        diamond = sk.shape([(cx, cy - 0.17), (cx + 0.065, cy), (cx, cy + 0.14), (cx - 0.065, cy)], blur=0.004)
        eye = sk.disc(cx, cy, 0.075, 0.034, soft=0.01)
        sk.over(diamond * (1 - eye), blue, 0.85)
    # the mouth: a wide smile, corners turned up, the lips' opening left bare (teeth show)
    mx, my = MOUTH
    u = (x - mx) / 0.26
    upper = my - 0.055 - 0.07 * u**2
    lower = my + 0.08 + 0.05 * (1 - u**2) - 0.09 * u**2
    smile = ((np.abs(u) < 1) & (y > upper) & (y < lower)).astype(np.float32)
    smile = cv2.GaussianBlur(smile, (0, 0), 0.005 * sk.fw)
    opening = sk.disc(mx, my + 0.003, 0.13, 0.042, soft=0.012)
    sk.over(smile * (1 - opening), (40, 30, 215), 0.92)
    # the nose: a red ball, lit from the upper left, with a highlight
    nx, ny, r = NOSE[0], NOSE[1] - 0.01, 0.085
    ball = sk.disc(nx, ny, r, r, soft=0.006)
    light = np.clip(1 - np.sqrt(((x - nx + 0.35 * r) ** 2 + (y - ny + 0.4 * r) ** 2)) / (1.6 * r), 0, 1)
    sk.over(ball, _shade((30, 25, 210), 0.55 + 0.7 * light), 1.0)
    spot = sk.disc(nx - 0.35 * r, ny - 0.4 * r, 0.22 * r, 0.16 * r, soft=0.01)
    sk.over(spot * ball, (255, 255, 255), 0.8)
    return sk.master()


ZOMBIE_EXTENT = (0.0, 0.0, 1.0, 1.05)


@lru_cache(maxsize=2)
def zombie_master() -> Master:
    """A zombie's wounds: a stitched gash on one cheek, a scab on the forehead."""
    sk = Sketch(ZOMBIE_EXTENT)
    rng = np.random.default_rng(5)
    # gash across the left cheek: dark red, a darker core, black stitches across it
    a, b = (0.16, 0.52), (0.34, 0.66)
    gash = sk.lines([[a, ((a[0] + b[0]) / 2 + 0.01, (a[1] + b[1]) / 2 - 0.01), b]], 0.022, blur=0.004)
    core = sk.lines([[a, ((a[0] + b[0]) / 2 + 0.01, (a[1] + b[1]) / 2 - 0.01), b]], 0.008)
    sk.over(gash, (25, 25, 120), 0.85)
    sk.over(core, (10, 10, 50), 0.9)
    stitches = []
    for t in np.linspace(0.12, 0.88, 5):
        px, py = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        stitches.append([(px - 0.02, py + 0.025), (px + 0.02, py - 0.025)])
    sk.over(sk.lines(stitches, 0.007), (20, 25, 30), 0.95)
    # a scab on the right of the forehead
    blob = sk.disc(0.66, 0.2, 0.05, 0.03, soft=0.01) * np.clip(0.7 + 0.5 * rng.random((sk.h, sk.w)), 0, 1)
    sk.over(cv2.GaussianBlur(blob.astype(np.float32), (0, 0), 1.0), (30, 40, 105), 0.8)
    return sk.master()


ROBOT_EXTENT = (-0.02, -0.02, 1.02, 1.06)


@lru_cache(maxsize=2)
def robot_master() -> Master:
    """A robot's face parts: dark eye sockets with glowing LED eyes, a mouth grille, rivets at the plates' corners."""
    sk = Sketch(ROBOT_EXTENT)
    x, y = sk.fx()
    for cx, cy in EYES:
        socket = sk.disc(cx, cy, 0.1, 0.07, soft=0.006)
        sk.over(socket, (40, 38, 36), 1.0)
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
        glow = np.exp(-((r / 0.06) ** 2))
        sk.over(np.clip(glow * 1.3, 0, 1) * socket, (255, 230, 60), 0.9)  # cyan halo
        sk.over(sk.disc(cx, cy, 0.04, 0.04, soft=0.008), (255, 255, 230), 1.0)  # white-hot core
    # mouth grille: a dark slot with bright bars
    mx, my = MOUTH
    grille = sk.shape(_superellipse(mx, my, 0.18, 0.055, p=4))
    sk.over(grille, (30, 30, 32), 1.0)
    bars = (np.abs(((x - mx) / 0.045) % 1 - 0.5) < 0.16).astype(np.float32)
    sk.over(grille * bars * sk.disc(mx, my, 0.16, 0.04, 0.004), (190, 190, 195), 1.0)
    # rivets: a dark ring, a light dome
    for px, py in [(0.2, 0.12), (0.8, 0.12), (0.14, 0.52), (0.86, 0.52), (0.3, 0.93), (0.7, 0.93), (0.5, 0.06)]:
        sk.over(sk.disc(px, py, 0.022, 0.022, 0.004), (50, 50, 55), 1.0)
        sk.over(sk.disc(px - 0.004, py - 0.004, 0.015, 0.015, 0.004), (225, 225, 230), 1.0)
    return sk.master()


# --------------------------------------------------------------------------
# Relief: luma/chroma deltas in face units, added where the skin is


class Relief:
    """Deltas of Y, U, V drawn in face units over ``extent``, resized once per face-box size."""

    def __init__(self, extent: tuple[float, float, float, float], dy: np.ndarray, du: np.ndarray, dv: np.ndarray) -> None:
        self.extent = extent
        self._planes = (dy, du, dv)
        self._sized: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    def sized(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """dy at ``size`` (w, h), du and dv at half of it."""
        found = self._sized.get(size)
        if found is None:
            w, h = size
            dy, du, dv = self._planes
            found = (cv2.resize(dy, (w, h), interpolation=cv2.INTER_AREA),
                     cv2.resize(du, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
                     cv2.resize(dv, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
            self._sized[size] = found
            if len(self._sized) > 24:
                self._sized.popitem(last=False)
        else:
            self._sized.move_to_end(size)
        return found

    def apply(self, ctx: FrameContext, face: Face, weight: Callable[[FaceArea], np.ndarray], strength: float = 1.0) -> None:
        """Add the deltas around ``face``, times ``weight(area)`` (chroma resolution, 0..1)."""
        area = FaceArea(ctx, face, self.extent)
        if area.empty:
            return
        dy, du, dv = self.sized(area.size)
        w2 = weight(area) * strength
        add(area.y, dy[area.clip] * area.full(w2))
        add(area.u, du[area.clip2] * w2)
        add(area.v, dv[area.clip2] * w2)


WRINKLE_EXTENT = (0.0, 0.0, 1.0, 1.0)


@lru_cache(maxsize=2)
def wrinkles() -> Relief:
    """Forehead lines, frown lines, crow's feet, bags under the eyes and nasolabial folds: dark creases with a light edge below."""
    sk = Sketch(WRINKLE_EXTENT)
    paths: list[list[tuple[float, float]]] = []
    for i, fy in enumerate((0.13, 0.18, 0.23)):  # forehead: gently waving lines across
        xs = np.linspace(0.28 + 0.03 * i, 0.72 - 0.03 * i, 12)
        paths.append([(float(px), float(fy + 0.008 * math.sin(px * 19 + i))) for px in xs])
    for side in (-1, 1):
        ex, ey = EYES[0] if side < 0 else EYES[1]
        ox = ex + side * 0.11  # outer eye corner
        for k in (-1, 0, 1):  # crow's feet fanning out
            paths.append([(ox, ey + 0.01 * k), (ox + side * 0.07, ey + 0.035 * k - 0.005)])
        paths.append([(ex - 0.07, ey + 0.055), (ex, ey + 0.075), (ex + 0.07, ey + 0.06)])  # bag under the eye
        paths.append([(0.5 + side * 0.025, 0.26), (0.5 + side * 0.03, 0.3)])  # frown line
        # nasolabial fold: from beside the nose's wing, around the mouth's corner
        paths.append([(0.5 + side * 0.1, 0.57), (0.5 + side * 0.155, 0.66), (0.5 + side * 0.195, 0.75), (0.5 + side * 0.2, 0.83)])
    depth = cv2.GaussianBlur(np.random.default_rng(9).random((sk.h, sk.w)).astype(np.float32), (0, 0), 0.03 * sk.fw)
    depth = np.clip(0.8 + (depth - depth.mean()) / (depth.std() + 1e-6) * 0.3, 0.4, 1.0)  # deeper in places
    crease = sk.lines(paths, 0.008, blur=0.004) * depth
    shift = int(round(0.009 * sk.fw))
    below = np.roll(sk.lines(paths, 0.01, blur=0.005), shift, axis=0)
    dy = -48 * crease + 14 * np.clip(below - crease, 0, 1)
    du = 1 * crease
    dv = 2 * crease  # creases are a shade ruddier
    return Relief(WRINKLE_EXTENT, dy.astype(np.float32), du.astype(np.float32), dv.astype(np.float32))


@lru_cache(maxsize=2)
def veins() -> Relief:
    """Branching dark purple veins on the temples, cheeks and jaw."""
    sk = Sketch(ZOMBIE_EXTENT)
    rng = np.random.default_rng(3)
    paths: list[list[tuple[float, float]]] = []

    def branch(x: float, y: float, angle: float, length: float, depth: int) -> None:
        pts = [(x, y)]
        for _ in range(6):
            angle += rng.normal(0, 0.35)
            x += math.cos(angle) * length / 6
            y += math.sin(angle) * length / 6
            pts.append((x, y))
            if depth > 0 and rng.random() < 0.35:
                branch(x, y, angle + rng.choice((-0.8, 0.8)), length * 0.5, depth - 1)
        paths.append(pts)

    for x, y, angle in [(0.1, 0.3, 0.9), (0.9, 0.3, math.pi - 0.9), (0.12, 0.7, 0.3), (0.88, 0.72, math.pi - 0.2),
                        (0.4, 0.06, 1.6), (0.72, 0.85, 2.4)]:
        branch(x, y, angle, 0.2, 2)
    line = sk.lines(paths, 0.007, blur=0.002)
    return Relief(ZOMBIE_EXTENT, (-45 * line).astype(np.float32), (6 * line).astype(np.float32), (5 * line).astype(np.float32))


# --------------------------------------------------------------------------
# The edits


class _Look:
    """A look of the face: does nothing without a face (or one too small to draw on)."""

    stage = STAGE_REGION
    needs_face = True
    extent = (-0.05, -0.05, 1.05, 1.1)
    """The box around the face (face units) the skin transform works in."""

    def apply(self, ctx: FrameContext) -> None:
        face = ctx.face
        if face is None or face.w < 16 or face.h < 16:
            return
        self.draw(ctx, face)

    def draw(self, ctx: FrameContext, face: Face) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def area(self, ctx: FrameContext, face: Face) -> FaceArea | None:
        """The box this look's skin transform works in, or None when it is off the frame."""
        area = FaceArea(ctx, face, self.extent)
        return None if area.empty else area

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _SpriteLook(_Look):
    """A look that is (partly) a sprite drawn on the face box."""

    def __init__(self, master: Master) -> None:
        self.sprites = SpriteCache(master)

    def draw_sprite(self, ctx: FrameContext, face: Face) -> None:
        self.sprites.for_width(face.w).draw(ctx, face.x, face.y)

    def draw(self, ctx: FrameContext, face: Face) -> None:
        self.draw_sprite(ctx, face)


class Beard(_SpriteLook):
    """A full beard along the jaw and chin and around the mouth (or a goatee), the lips left visible, in a hair colour."""

    def __init__(self, color: Color | None = None, goatee: bool = False) -> None:
        super().__init__(beard_master(tuple(color.bgr) if color else DEFAULT_BEARD_BGR, goatee))
        self.goatee = goatee


class Glasses(_SpriteLook):
    """Clear eyeglasses: thin frames around the eyes, the eyes visible through the lenses."""

    stage = STAGE_OBJECT

    def __init__(self, color: Color | None = None) -> None:
        super().__init__(glasses_master(tuple(color.bgr) if color else DEFAULT_FRAME_BGR))


class Makeup(_Look):
    """Lipstick on the lips, blush on the cheeks, eyeshadow on the upper lids.

    ``lips_only`` ("red lipstick") leaves the cheeks and eyes alone; ``color``
    is the lipstick's (red by default).
    """

    extent = (0.05, 0.15, 0.95, 0.95)

    def __init__(self, color: Color | None = None, lips_only: bool = False) -> None:
        self.lip = yuv(color.bgr) if color else yuv((45, 20, 190))
        self.lips_only = lips_only

    def draw(self, ctx: FrameContext, face: Face) -> None:
        area = self.area(ctx, face)
        if area is None:
            return
        skin = area.skin(ctx)
        # lips: a lip-shaped patch around the mouth, less the teeth (bluer than the cheeks) and the dark gap
        mouth = area.ellipse(MOUTH[0], MOUTH[1] + 0.003, 0.145, 0.068, soft=0.3, half=True)
        y2 = cv2.resize(area.y, (area.u.shape[1], area.u.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
        v = area.v.astype(np.float32)
        cheeks = area.ellipse(0.5, 0.62, 0.3, 0.05, 0.01, True) * skin > 0.5
        ref_v = float(np.median(v[cheeks])) if cheeks.any() else 146.0
        lips = mouth * np.clip((v - ref_v + 6) / 5, 0, 1) * np.clip((y2 - 50) / 30, 0, 1)
        lips = cv2.GaussianBlur(lips, (0, 0), 0.7)
        ly, lu, lv = self.lip
        mix(area.u, lu, lips * 0.85)
        mix(area.v, lv, lips * 0.85)
        cur = area.y.astype(np.float32)
        mix(area.y, cur * 0.45 + ly * 0.55, area.full(lips) * 0.9)
        if self.lips_only:
            return
        # blush: soft pink on the cheekbones
        blush = (area.ellipse(0.24, 0.62, 0.12, 0.085, 1.2, True) + area.ellipse(0.76, 0.62, 0.12, 0.085, 1.2, True)) * skin
        add(area.v, 11 * blush)
        add(area.u, 2 * blush)
        add(area.y, -5 * area.full(blush))
        # eyeshadow: mauve-brown on the upper lids, under the brows
        lids = sum(area.ellipse(ex, ey - 0.035, 0.095, 0.035, 0.6, True) for ex, ey in EYES)
        _, yy = area.coords(True)
        lids = lids * np.clip((EYES[0][1] + 0.005 - yy) / 0.02, 0, 1)
        add(area.u, 14 * lids)
        add(area.v, 10 * lids)
        cur = area.y.astype(np.float32)
        mix(area.y, cur * 0.7, area.full(lids) * 0.8)


class Clown(_SpriteLook):
    """White face paint, a round red nose, a big red smile and blue diamonds through the eyes."""

    def __init__(self) -> None:
        super().__init__(clown_master())

    def draw(self, ctx: FrameContext, face: Face) -> None:
        area = self.area(ctx, face)
        if area is None:
            return
        paint = area.skin(ctx).copy()
        for ex, ey in EYES:  # the eyes themselves stay
            paint *= 1 - area.ellipse(ex, ey, 0.07, 0.028, 0.4, True)
        full = area.full(paint)
        cur = area.y.astype(np.float32)
        white = np.clip(228 + 0.35 * (cur - float(cur[full > 0.5].mean() if (full > 0.5).any() else 180)), 170, 240)
        mix(area.y, white, full)
        mix(area.u, 128.0, paint)
        mix(area.v, 128.0, paint)
        self.draw_sprite(ctx, face)


class Zombie(_SpriteLook):
    """Grey-green sickly skin, dark sunken eye sockets, veins, a stitched wound, bluish lips."""

    def __init__(self) -> None:
        super().__init__(zombie_master())
        self.veins = veins()

    def draw(self, ctx: FrameContext, face: Face) -> None:
        area = self.area(ctx, face)
        if area is None:
            return
        skin = area.skin(ctx)
        u, v = area.u.astype(np.float32), area.v.astype(np.float32)
        # the colour drains to a grey-green (U a little up, V well below neutral)
        mix(area.u, 128 + 0.2 * (u - 128) - 6, skin)
        mix(area.v, 128 + 0.2 * (v - 128) - 10, skin)
        cur = area.y.astype(np.float32)
        mix(area.y, 0.8 * cur + 10, area.full(skin))
        # sunken eyes: dark, bruised-purple rings
        sockets = sum(area.ellipse(ex, ey + 0.005, 0.12, 0.085, 0.5, True) for ex, ey in EYES)
        sockets = np.clip(sockets, 0, 1)
        cur = area.y.astype(np.float32)
        mix(area.y, cur * 0.3, area.full(sockets) * 0.85)
        add(area.u, 3 * sockets)
        add(area.v, 5 * sockets)
        # bloodless lips: dark and bluish
        lips = area.ellipse(MOUTH[0], MOUTH[1], 0.15, 0.07, 0.3, True) * (1 - skin)
        mix(area.u, 136.0, lips * 0.7)
        mix(area.v, 122.0, lips * 0.7)
        self.veins.apply(ctx, face, lambda a: a.skin(ctx))
        self.draw_sprite(ctx, face)


class Robot(_SpriteLook):
    """A metallic grey face with panel seams and rivets, glowing LED eyes and a mouth grille."""

    extent = (-0.02, -0.02, 1.02, 1.06)

    def __init__(self) -> None:
        super().__init__(robot_master())
        self.seams = seams()

    def draw(self, ctx: FrameContext, face: Face) -> None:
        area = self.area(ctx, face)
        if area is None:
            return
        (ex, ey), (ax, ay) = face_ellipse(_UNIT)
        metal = area.ellipse(ex, ey + 0.02, ax * 1.02, ay * 1.02, soft=0.05, half=True)
        full = area.full(metal)
        cur = area.y.astype(np.float32)
        x, y = area.coords()
        # brushed steel: the face's own shading compressed, lit from the top left
        sheen = 20 * np.exp(-(((x - 0.35) / 0.25) ** 2 + ((y - 0.3) / 0.35) ** 2))
        mix(area.y, 0.45 * cur + 70 + sheen, full)
        mix(area.u, 131.0, metal)
        mix(area.v, 126.0, metal)
        self.seams.apply(ctx, face, lambda a: a.ellipse(ex, ey + 0.02, ax, ay, soft=0.05, half=True))
        self.draw_sprite(ctx, face)


@lru_cache(maxsize=2)
def seams() -> Relief:
    """A robot face's panel seams: dark grooves with a bright edge below."""
    sk = Sketch(ROBOT_EXTENT)
    paths = [
        [(0.1, 0.27), (0.9, 0.27)],  # brow plate
        [(0.5, -0.02), (0.5, 0.27)],  # forehead split
        [(0.3, 0.27), (0.3, 0.47), (0.42, 0.5), (0.42, 0.66)],  # nose plate
        [(0.7, 0.27), (0.7, 0.47), (0.58, 0.5), (0.58, 0.66)],
        [(0.04, 0.5), (0.24, 0.5), (0.3, 0.7), (0.2, 0.95)],  # cheek plates
        [(0.96, 0.5), (0.76, 0.5), (0.7, 0.7), (0.8, 0.95)],
        [(0.42, 0.66), (0.58, 0.66)],
    ]
    groove = sk.lines(paths, 0.011, blur=0.002)
    edge = np.roll(sk.lines(paths, 0.011, blur=0.002), int(round(0.012 * sk.fw)), axis=0)
    dy = -70 * groove + 45 * np.clip(edge - groove, 0, 1)
    zero = np.zeros_like(dy)
    return Relief(ROBOT_EXTENT, dy.astype(np.float32), zero, zero)


class Older(_Look):
    """An aged look: wrinkles (forehead, crow's feet, nasolabial folds), greyer hair, sallower skin."""

    extent = (-0.05, -0.05, 1.05, 1.1)

    def __init__(self, amount: float = 1.0) -> None:
        self.strength = float(min(1.5, max(0.3, amount)))
        self.wrinkles = wrinkles()

    def draw(self, ctx: FrameContext, face: Face) -> None:
        self.grey_hair(ctx, face)
        area = self.area(ctx, face)
        if area is None:
            return
        skin = area.skin(ctx)
        u, v = area.u.astype(np.float32), area.v.astype(np.float32)
        k = min(1.0, 0.7 * self.strength)
        # sallower: less rosy, a touch yellower and duller
        mix(area.u, 128 + 0.75 * (u - 128) - 3, skin * k)
        mix(area.v, 128 + 0.75 * (v - 128), skin * k)
        add(area.y, -6 * area.full(skin) * k)
        self.wrinkles.apply(ctx, face, lambda a: a.skin(ctx), self.strength)

    def grey_hair(self, ctx: FrameContext, face: Face) -> None:
        """The hair around the face turned silver-grey, its strands' shading kept."""
        area = FaceArea(ctx, face, HAIR_EXTENT)
        if area.empty:
            return
        hair = hair_mask(area) * min(1.0, 0.85 * self.strength)
        u, v = area.u.astype(np.float32), area.v.astype(np.float32)
        mix(area.u, 128 + 0.12 * (u - 128) + 1, hair)
        mix(area.v, 128 + 0.12 * (v - 128), hair)
        cur = area.y.astype(np.float32)
        mix(area.y, 0.6 * cur + 92, area.full(hair))


HAIR_EXTENT = (-0.45, -0.6, 1.45, 1.0)


def hair_mask(area: FaceArea) -> np.ndarray:
    """The hair around the face at chroma resolution (0..1): the head's outline less the face, near the colour above the forehead."""
    prior = area.ellipse(0.5, 0.32, 0.8, 0.82, soft=0.12, half=True)
    (ex, ey), (ax, ay) = face_ellipse(_UNIT)
    _, yy = area.coords(True)
    # the face is no hair, but a fringe over the forehead may be
    prior *= 1 - area.ellipse(ex, ey + 0.06, 0.95 * ax, 0.96 * ay, soft=0.08, half=True) * np.clip((yy - 0.12) / 0.1, 0, 1)
    prior *= np.clip((0.9 - yy) / 0.1, 0, 1)
    above = (area.ellipse(0.5, -0.13, 0.15, 0.09, 0.01, True) > 0.5)
    if above.sum() < 4:
        return np.zeros_like(prior)
    y2 = cv2.resize(area.y, (area.u.shape[1], area.u.shape[0]), interpolation=cv2.INTER_AREA)
    ref = [float(np.median(p[above])) for p in (y2, area.u, area.v)]
    d = (cv2.absdiff(area.u, round(ref[1])).astype(np.float32) + cv2.absdiff(area.v, round(ref[2]))
         + 0.25 * cv2.absdiff(y2, round(ref[0])).astype(np.float32))
    m = np.clip((34 - d) / 16, 0, 1) * prior
    return cv2.GaussianBlur(m, (0, 0), 0.8)


class Younger(_Look):
    """A younger look: smoother skin (edge-preserving), a little brighter, fuller colour."""

    def __init__(self, amount: float = 1.0) -> None:
        self.strength = float(min(1.5, max(0.3, amount)))

    def draw(self, ctx: FrameContext, face: Face) -> None:
        area = self.area(ctx, face)
        if area is None:
            return
        skin = area.skin(ctx)
        full = area.full(skin)
        # the eyes, brows and mouth keep their detail
        for (x, y), (ax, ay) in (((EYES[0][0], EYES[0][1] - 0.02), (0.1, 0.06)), ((EYES[1][0], EYES[1][1] - 0.02), (0.1, 0.06)),
                                 ((MOUTH[0], MOUTH[1]), (0.15, 0.06))):
            full *= 1 - area.ellipse(x, y, ax, ay, 0.5)
        smooth = cv2.bilateralFilter(area.y, 7, 24 * self.strength, 4)
        k = min(1.0, 0.9 * self.strength)
        mix(area.y, smooth.astype(np.float32) + 7 * self.strength, full * k)
        u, v = area.u.astype(np.float32), area.v.astype(np.float32)
        mix(area.u, 128 + 1.15 * (u - 128), skin * k)
        mix(area.v, 128 + 1.2 * (v - 128) + 2, skin * k)


def beard(spec: EditSpec) -> Beard:
    """"give him a beard", "a red beard", "goatee"."""
    return Beard(spec.color, goatee=spec.target == "goatee")


def makeup(spec: EditSpec) -> Makeup:
    """"put makeup on her" (lips, cheeks, eyes) or "red lipstick" (``target="lips"``: the lips only)."""
    return Makeup(spec.color, lips_only=spec.target == "lips")


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    "beard": beard,
    "glasses": lambda spec: Glasses(spec.color),
    "makeup": makeup,
    "clown": lambda spec: Clown(),
    "zombie": lambda spec: Zombie(),
    "robot": lambda spec: Robot(),
    "older": lambda spec: Older(spec.amount),
    "younger": lambda spec: Younger(spec.amount),
}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
