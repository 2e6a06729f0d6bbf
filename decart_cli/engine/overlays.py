"""Objects drawn on the face (sunglasses, a hat, a mustache) and face privacy.

Every edit here anchors to ``ctx.face`` and does nothing when it is None.
Objects are sprites: each is drawn once, at a large canonical face width,
as premultiplied Y, U, V and alpha planes (:class:`Master`); for the face
width of the moment it is resized once per size bucket (:class:`Sprite`,
full-size luma and alpha, half-size chroma and alpha) and cached, so a frame
only alpha-blends the sprite's bounding box into the I420 planes (well under
a millisecond). Privacy edits (``pixelate_face``, ``blur_face``) work on the
face box enlarged by :data:`PRIVACY_MARGIN`, at reduced resolution.

Anchors come from :mod:`.face` (average proportions of a Haar face box):
sunglasses centre between :func:`~.face.eye_centers`, lenses spaced by
:func:`~.face.eye_distance`; the mustache :data:`MUSTACHE_ABOVE_MOUTH` face
heights above :func:`~.face.mouth_center` (between the nose and the upper
lip); the hat's brim across :func:`~.face.forehead_y`, its crown tall enough
to cover :func:`~.face.head_top_y` and some hair.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from .face import eye_centers, eye_distance, forehead_y, mouth_center
from .frame import STAGE_OBJECT, STAGE_PRIVACY, Color, Edit, EditSpec, Face, FrameContext

_UNIT_FACE = Face(0.0, 0.0, 1.0, 1.0)
_EYE_SEP = eye_distance(_UNIT_FACE)
"""Pupil distance in face widths."""

MUSTACHE_ABOVE_MOUTH = 0.09
"""Centre of the mustache above the mouth centre, in face heights."""
LENS_DROP = 0.015
"""Lens centres sit this many face heights below the eye line (glasses rest on the nose)."""
PRIVACY_MARGIN = 1.2
"""How much the face box is enlarged (about its centre) for pixelate/blur."""
PIXEL_BLOCKS = 10
"""Pixelated face: blocks across the (unenlarged) face width."""

MASTER_FACE_WIDTH = 400
"""Face width (pixels) sprites are drawn at before being resized to the face."""
_SUPERSAMPLE = 1
"""Masters are drawn this many times larger, then area-averaged (1: their own soft edges suffice)."""
_BUCKET = 4
"""Face widths are rounded to this many pixels; one resized sprite per bucket."""
_SPRITE_CACHE_SIZE = 24

DEFAULT_HAT_BGR = (28, 42, 62)
"""A dark brown felt, for a hat with no colour named."""


# --------------------------------------------------------------------------
# Sprites: premultiplied Y/U/V + alpha, blended into the I420 planes in place


def _bgr_to_yuv_premultiplied(pm: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range (Y*a, U*a, V*a) of premultiplied BGR ``pm`` (0..255) with alpha ``a``."""
    b, g, r = pm[..., 0], pm[..., 1], pm[..., 2]
    y = 16 * a + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 * a + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 * a + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return y.astype(np.float32), u.astype(np.float32), v.astype(np.float32)


@dataclass(frozen=True)
class Master:
    """A sprite at canonical size: premultiplied Y, U, V and alpha, float32, same shape.

    ``anchor`` is the point (x, y) of the sprite, in its own pixels, that is
    placed on the anchor point of the face; ``scale`` is pixels per unit of
    face width (the sprite was drawn for a face that wide).
    """

    ya: np.ndarray
    ua: np.ndarray
    va: np.ndarray
    a: np.ndarray
    anchor: tuple[float, float]
    scale: float
    _smaller: list["Master"] = field(default_factory=list, repr=False, compare=False)
    """Cache of :meth:`half`."""

    @classmethod
    def from_canvas(cls, pm: np.ndarray, alpha: np.ndarray, anchor: tuple[float, float], scale: float, supersample: int = 1) -> "Master":
        """A master from a premultiplied BGR canvas and its alpha, downsampled by ``supersample``."""
        if supersample > 1:
            h, w = alpha.shape
            size = (w // supersample, h // supersample)
            pm = cv2.resize(pm, size, interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
            anchor = (anchor[0] / supersample, anchor[1] / supersample)
            scale = scale / supersample
        ya, ua, va = _bgr_to_yuv_premultiplied(pm, alpha)
        return cls(ya, ua, va, alpha.astype(np.float32), anchor, scale)

    def half(self) -> "Master":
        """This master at half size (computed once)."""
        if not self._smaller:
            h, w = self.a.shape
            size = (max(1, w // 2), max(1, h // 2))
            fx, fy = size[0] / w, size[1] / h

            def rs(p: np.ndarray) -> np.ndarray:
                return cv2.resize(p, size, interpolation=cv2.INTER_AREA)

            self._smaller.append(Master(rs(self.ya), rs(self.ua), rs(self.va), rs(self.a),
                                        (self.anchor[0] * fx, self.anchor[1] * fy), self.scale * fx))
        return self._smaller[0]

    def sized(self, factor: float) -> "Sprite":
        """This sprite resized by ``factor`` (even width and height), ready to blend."""
        if factor < 0.5 and min(self.a.shape) >= 16:
            # shrink from the nearest power-of-two level: far fewer pixels to average
            half = self.half()
            return half.sized(factor * self.a.shape[1] / half.a.shape[1])
        h, w = self.a.shape
        sw = max(2, int(round(w * factor / 2)) * 2)
        sh = max(2, int(round(h * factor / 2)) * 2)
        full, half = (sw, sh), (sw // 2, sh // 2)
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR

        def rs(p: np.ndarray, size: tuple[int, int]) -> np.ndarray:
            return cv2.resize(p, size, interpolation=interp)

        a = np.clip(rs(self.a, full), 0, 1)
        a2 = np.clip(rs(self.a, half), 0, 1)
        fx, fy = sw / w, sh / h
        return Sprite(
            ya=rs(self.ya, full), inv=1 - a, a=a,
            ua=rs(self.ua, half), va=rs(self.va, half), inv2=1 - a2,
            anchor=(self.anchor[0] * fx, self.anchor[1] * fy),
        )


@dataclass(frozen=True)
class Sprite:
    """A sprite at the size it is drawn: luma full size, chroma half size, premultiplied."""

    ya: np.ndarray
    inv: np.ndarray
    """1 - alpha, full size."""
    a: np.ndarray
    ua: np.ndarray
    va: np.ndarray
    inv2: np.ndarray
    """1 - alpha, half size."""
    anchor: tuple[float, float]

    @property
    def width(self) -> int:
        return self.ya.shape[1]

    @property
    def height(self) -> int:
        return self.ya.shape[0]

    def draw(self, ctx: FrameContext, x: float, y: float) -> None:
        """Blend into ``ctx``'s planes with the sprite's anchor at frame point (x, y)."""
        # even corners keep the half-size chroma exactly under the luma
        hx = int(round((x - self.anchor[0]) / 2))
        hy = int(round((y - self.anchor[1]) / 2))
        _blend(ctx.y, 2 * hx, 2 * hy, self.ya, self.inv)
        _blend(ctx.u, hx, hy, self.ua, self.inv2)
        _blend(ctx.v, hx, hy, self.va, self.inv2)


def _blend(plane: np.ndarray, x0: int, y0: int, pm: np.ndarray, inv: np.ndarray) -> None:
    """plane = plane * inv + pm over the sprite's box at (x0, y0), clipped to the plane."""
    ph, pw = plane.shape
    sh, sw = pm.shape
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + sw, pw), min(y0 + sh, ph)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    sx0, sy0 = fx0 - x0, fy0 - y0
    sx1, sy1 = sx0 + fx1 - fx0, sy0 + fy1 - fy0
    roi = plane[fy0:fy1, fx0:fx1]
    out = roi * inv[sy0:sy1, sx0:sx1]
    out += pm[sy0:sy1, sx0:sx1]
    out += 0.5
    np.clip(out, 0, 255, out=out)
    roi[...] = out.astype(np.uint8)


class SpriteCache:
    """Sprites of one master resized per face-width bucket (least recently used dropped)."""

    def __init__(self, master: Master, size: int = _SPRITE_CACHE_SIZE) -> None:
        self.master = master
        self._size = size
        self._sprites: OrderedDict[int, Sprite] = OrderedDict()

    def for_width(self, face_width: float) -> Sprite:
        """The sprite for a face about ``face_width`` pixels wide."""
        bucket = max(1, int(round(face_width / _BUCKET)))
        sprite = self._sprites.get(bucket)
        if sprite is None:
            sprite = self.master.sized(bucket * _BUCKET / (self.master.scale))
            self._sprites[bucket] = sprite
            if len(self._sprites) > self._size:
                self._sprites.popitem(last=False)
        else:
            self._sprites.move_to_end(bucket)
        return sprite


# --------------------------------------------------------------------------
# Drawing helpers for masters (run once per object and colour)


class Canvas:
    """A premultiplied BGR + alpha float canvas, composited with "over"."""

    def __init__(self, w: int, h: int) -> None:
        self.pm = np.zeros((h, w, 3), np.float32)
        self.a = np.zeros((h, w), np.float32)
        self.h, self.w = h, w
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.xx, self.yy = xx, yy

    def over(self, mask: np.ndarray, colour, opacity: float = 1.0) -> None:
        """Paint ``colour`` (BGR tuple or (h, w, 3) array) where ``mask`` (0..1) says, over what is there."""
        k = (mask * opacity).astype(np.float32)
        col = np.asarray(colour, np.float32)
        self.pm *= (1 - k)[..., None]
        self.pm += col * k[..., None]
        self.a *= 1 - k
        self.a += k

    def poly_mask(self, points, blur: float = 0.0) -> np.ndarray:
        """A 0..1 mask of a filled polygon (points in canvas pixels), optionally feathered."""
        m = np.zeros((self.h, self.w), np.uint8)
        pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, lineType=cv2.LINE_AA, shift=4)
        mask = m.astype(np.float32) / 255
        return _feather(mask, blur)


def _feather(mask: np.ndarray, blur: float) -> np.ndarray:
    if blur <= 0:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), blur)


def _shade(bgr, factor: np.ndarray | float) -> np.ndarray:
    """``bgr`` darkened (factor < 1) or lightened toward white (factor > 1), per pixel."""
    col = np.asarray(bgr, np.float32)
    f = np.asarray(factor, np.float32)[..., None]
    dark = np.minimum(f, 1) * col
    return dark + (255 - dark) * (np.maximum(f - 1, 0) * 0.6)


def _superellipse(c: Canvas, cx: float, cy: float, ax: float, by: float, p: float, narrow: float = 0.0) -> np.ndarray:
    """A soft-edged 0..1 mask of |x/ax|^p + |y/by|^p <= 1 (bottom narrower by ``narrow``)."""
    dy = (c.yy - cy) / by
    ax_eff = ax * (1 - narrow * np.clip(dy, 0, 1))
    dx = (c.xx - cx) / ax_eff
    r = np.abs(dx) ** p + np.abs(dy) ** p
    # about one pixel of antialiasing at the rim
    edge = 1.5 / min(ax, by) * p
    return np.clip((1 - r) / edge + 0.5, 0, 1).astype(np.float32)


@lru_cache(maxsize=4)
def sunglasses_master() -> Master:
    """Dark rounded lenses, a bridge and arms, with a highlight; anchored between the eyes."""
    s = _SUPERSAMPLE
    fw = MASTER_FACE_WIDTH * s
    w, h = int(fw * 1.04), int(fw * 0.34)
    c = Canvas(w, h)
    ox = (w - fw) / 2  # canvas x of the face box's left edge
    cy = h * 0.46  # lens centre line; the sprite anchors on the eye line here
    ax, by = 0.145 * fw, 0.105 * fw
    rim = 0.022 * fw
    frame_col = (14, 14, 16)
    lenses = []
    lx, rx = w / 2 - _EYE_SEP / 2 * fw, w / 2 + _EYE_SEP / 2 * fw
    for cx in (lx, rx):
        outer = _superellipse(c, cx, cy, ax + rim, by + rim, 2.6, narrow=0.12)
        inner = _superellipse(c, cx, cy, ax, by, 2.6, narrow=0.12)
        lenses.append((cx, inner))
        c.over(np.clip(outer - inner, 0, 1), frame_col, 1.0)
    # bridge and arms, drawn as thick polylines in the frame colour
    top = cy - by * 0.55
    bridge = np.zeros((h, w), np.uint8)
    thick = max(2, int(0.028 * fw))
    k = 16
    def pl(pts):
        return np.round(np.asarray(pts) * k).astype(np.int32)
    cv2.polylines(bridge, [pl([(lx + ax * 0.9, top), ((lx + rx) / 2, top - by * 0.22), (rx - ax * 0.9, top)])],
                  False, 255, thick, cv2.LINE_AA, shift=4)
    arm = int(0.024 * fw)
    cv2.line(bridge, tuple(pl((lx - ax - rim * 0.5, top - by * 0.2))), tuple(pl((ox + 0.0 * fw, top - by * 0.35))), 255, arm, cv2.LINE_AA, shift=4)
    cv2.line(bridge, tuple(pl((rx + ax + rim * 0.5, top - by * 0.2))), tuple(pl((ox + 1.0 * fw, top - by * 0.35))), 255, arm, cv2.LINE_AA, shift=4)
    c.over(bridge.astype(np.float32) / 255, frame_col, 1.0)
    # lenses: a dark gradient (a little lighter at the top), nearly opaque
    grad = np.clip((c.yy - (cy - by)) / (2 * by), 0, 1)
    lens_col = np.stack([30 - 22 * grad, 27 - 20 * grad, 25 - 18 * grad], axis=-1)
    for cx, inner in lenses:
        c.over(inner, lens_col, 0.96)
        # a soft diagonal reflection across the upper left of each lens
        d = (c.xx - cx) + 0.9 * (c.yy - cy)
        # (toward the rim, clear of the pupil so the eyes stay dark)
        band = np.exp(-(((d + 0.75 * ax) / (0.13 * ax)) ** 2)) + 0.6 * np.exp(-(((d + 1.05 * ax) / (0.05 * ax)) ** 2))
        c.over(inner * band * np.clip(1.1 - grad, 0, 1), (235, 235, 240), 0.3)
    return Master.from_canvas(c.pm, c.a, anchor=(w / 2, cy), scale=fw, supersample=s)


@lru_cache(maxsize=16)
def hat_master(bgr: tuple[int, int, int]) -> Master:
    """A brimmed felt hat (fedora-like) of colour ``bgr``; anchored at the brim's centre."""
    s = _SUPERSAMPLE
    fw = MASTER_FACE_WIDTH * s
    w, h = int(fw * 1.72), int(fw * 0.92)
    c = Canvas(w, h)
    cx = w / 2
    brim_y = h - 0.12 * fw  # brim centre line
    brim_ax, brim_by = 0.8 * fw, 0.08 * fw
    crown_h = 0.68 * fw
    band_h = 0.13 * fw
    xn = (c.xx - cx) / (0.55 * fw)  # -1..1 across the crown
    # cylinder shading across the crown, lit from the upper left
    shade = np.clip(1.08 - 0.55 * (xn + 0.25) ** 2, 0.45, 1.15)
    # brim: a flat ellipse, its underside darker, with a lighter upper rim
    brim = _superellipse(c, cx, brim_y, brim_ax, brim_by, 2.0)
    under = np.clip((c.yy - brim_y) / brim_by, 0, 1)
    c.over(brim, _shade(bgr, np.clip(0.95 - 0.45 * under, 0.3, 1) * np.clip(1.05 - 0.25 * ((c.xx - cx) / brim_ax) ** 2, 0.6, 1.1)), 1.0)
    # crown: tapering up, rounded top with a pinch (the crease)
    bw, tw = 0.52 * fw, 0.44 * fw
    base = brim_y - 0.01 * fw
    top = base - crown_h
    pts = []
    n = 24
    for i in range(n + 1):  # left side up
        t = i / n
        pts.append((cx - (bw + (tw - bw) * t), base - crown_h * 0.82 * t))
    for i in range(n + 1):  # the top: a rounded dome with a central crease
        t = i / n
        x = cx - tw + 2 * tw * t
        dome = math.sin(math.pi * t) ** 0.3
        crease = 0.04 * fw * math.exp(-((t - 0.5) / 0.12) ** 2)
        pts.append((x, base - crown_h * 0.82 - (crown_h * 0.18) * dome + crease))
    for i in range(n + 1):  # right side down
        t = 1 - i / n
        pts.append((cx + (bw + (tw - bw) * t), base - crown_h * 0.82 * t))
    crown = c.poly_mask(pts)
    vert = np.clip((c.yy - top) / crown_h, 0, 1)
    c.over(crown, _shade(bgr, shade * (1.05 - 0.2 * vert)), 1.0)
    # the crease's shadow
    crease = np.exp(-((c.xx - cx) / (0.05 * fw)) ** 2) * np.clip(1 - (c.yy - top) / (0.35 * crown_h), 0, 1)
    c.over(crown * crease, _shade(bgr, 0.55), 0.6)
    # band just above the brim: dark, or light grey on a near-black hat
    band_col = (200, 200, 200) if max(bgr) < 50 else (18, 16, 16)
    band = crown * ((c.yy > base - band_h) & (c.yy < base)).astype(np.float32)
    band = cv2.GaussianBlur(band, (0, 0), 1.0)
    c.over(band, _shade(band_col, shade), 0.9 if max(bgr) >= 50 else 0.45)
    # the front of the brim over the bottom of the crown
    front = brim * (c.yy > brim_y - 0.01 * fw).astype(np.float32)
    front = cv2.GaussianBlur(front, (0, 0), 1.0)
    c.over(front, _shade(bgr, np.clip(0.9 - 0.5 * under, 0.3, 1)), 1.0)
    return Master.from_canvas(c.pm, c.a, anchor=(cx, brim_y), scale=fw, supersample=s)


@lru_cache(maxsize=4)
def mustache_master() -> Master:
    """A full dark-brown mustache with a philtrum notch and hair texture; anchored at its centre."""
    s = _SUPERSAMPLE
    fw = MASTER_FACE_WIDTH * s
    w, h = int(fw * 0.6), int(fw * 0.22)
    c = Canvas(w, h)
    cx, cy = w / 2, h * 0.42
    half = 0.27 * fw
    u = (c.xx - cx) / half
    au = np.clip(np.abs(u), 0, 1)
    thick = 0.095 * fw * np.clip(1 - au**2.4, 0, 1) ** 0.55
    centre = cy + 0.055 * fw * au**2  # droops toward the ends
    notch = 0.022 * fw * np.exp(-((u / 0.09) ** 2))
    top = centre - thick * 0.5 + notch
    bottom = centre + thick * 0.5
    inside = (np.abs(u) <= 1) & (c.yy >= top) & (c.yy <= bottom)
    mask = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.012 * fw)
    # hair: fine strands, slanted outward from the centre, lighter and darker
    rng = np.random.default_rng(7)
    noise = rng.random((h, w)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=0.6, sigmaY=0.01 * fw)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    tone = np.clip(1 + 0.22 * noise, 0.55, 1.5) * (1.1 - 0.25 * np.clip((c.yy - top) / (thick + 1), 0, 1))
    base = (22, 30, 42)  # very dark brown
    c.over(mask, _shade(base, tone), 0.96)
    return Master.from_canvas(c.pm, c.a, anchor=(cx, cy), scale=fw, supersample=s)


# --------------------------------------------------------------------------
# The edits


class _SpriteEdit:
    """Draws a sprite anchored to a point of the face, sized to its width."""

    stage = STAGE_OBJECT
    needs_face = True

    def __init__(self, master: Master) -> None:
        self.sprites = SpriteCache(master)

    def anchor(self, face: Face) -> tuple[float, float]:  # pragma: no cover - overridden
        raise NotImplementedError

    def apply(self, ctx: FrameContext) -> None:
        face = ctx.face
        if face is None or face.w < 8 or face.h < 8:
            return
        x, y = self.anchor(face)
        self.sprites.for_width(face.w).draw(ctx, x, y)


class Sunglasses(_SpriteEdit):
    """Dark sunglasses on the eyes."""

    def __init__(self) -> None:
        super().__init__(sunglasses_master())

    def anchor(self, face: Face) -> tuple[float, float]:
        (lx, ly), (rx, ry) = eye_centers(face)
        return (lx + rx) / 2, (ly + ry) / 2 + LENS_DROP * face.h


class Hat(_SpriteEdit):
    """A brimmed hat on the head, its brim across the top of the forehead."""

    def __init__(self, color: Color | None = None) -> None:
        super().__init__(hat_master(tuple(color.bgr) if color else DEFAULT_HAT_BGR))

    def anchor(self, face: Face) -> tuple[float, float]:
        return face.cx, forehead_y(face)


class Mustache(_SpriteEdit):
    """A dark mustache between the nose and the upper lip."""

    def __init__(self) -> None:
        super().__init__(mustache_master())

    def anchor(self, face: Face) -> tuple[float, float]:
        mx, my = mouth_center(face)
        return mx, my - MUSTACHE_ABOVE_MOUTH * face.h


def privacy_box(face: Face, width: int, height: int, margin: float = PRIVACY_MARGIN) -> tuple[int, int, int, int] | None:
    """The face box enlarged by ``margin``, clipped to the frame, with even edges: (x0, y0, x1, y1)."""
    w, h = face.w * margin, face.h * margin
    x0 = int(math.floor((face.cx - w / 2) / 2)) * 2
    y0 = int(math.floor((face.cy - h / 2) / 2)) * 2
    x1 = int(math.ceil((face.cx + w / 2) / 2)) * 2
    y1 = int(math.ceil((face.cy + h / 2) / 2)) * 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def _face_planes(ctx: FrameContext) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Views of the Y, U, V planes inside the face's :func:`privacy_box`, or None without a face."""
    if ctx.face is None:
        return None
    box = privacy_box(ctx.face, ctx.width, ctx.height)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    chroma = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
    return ctx.y[y0:y1, x0:x1], ctx.u[chroma], ctx.v[chroma]


def _pixelate(plane: np.ndarray, block: int) -> None:
    """Replace ``plane`` (a view) in place by ``block`` x ``block`` cells of its mean, from its top left."""
    h, w = plane.shape
    nx, ny = -(-w // block), -(-h // block)
    # pad to whole blocks by repeating the edge, average each block, repeat back
    pw, ph = nx * block, ny * block
    src = plane if (pw == w and ph == h) else cv2.copyMakeBorder(plane, 0, ph - h, 0, pw - w, cv2.BORDER_REPLICATE)
    small = cv2.resize(src, (nx, ny), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_NEAREST)
    plane[...] = big[:h, :w]


class PixelateFace:
    """The face box, enlarged, as big blocks (about :data:`PIXEL_BLOCKS` across the face)."""

    stage = STAGE_PRIVACY
    needs_face = True

    def __init__(self, amount: float = 1.0) -> None:
        self.blocks = PIXEL_BLOCKS / max(0.25, min(4.0, amount or 1.0))

    def block_size(self, face: Face) -> int:
        """Luma block size (even, at least 4) for ``face``."""
        return max(4, int(round(face.w / self.blocks / 2)) * 2)

    def apply(self, ctx: FrameContext) -> None:
        planes = _face_planes(ctx)
        if planes is None:
            return
        assert ctx.face is not None
        b = self.block_size(ctx.face)
        y, u, v = planes
        _pixelate(y, b)
        _pixelate(u, b // 2)
        _pixelate(v, b // 2)


def _blur(plane: np.ndarray, factor: int, sigma: float) -> None:
    """Strong blur of ``plane`` (a view) in place: downscale, Gaussian, upscale."""
    h, w = plane.shape
    sw, sh = max(1, w // factor), max(1, h // factor)
    small = cv2.resize(plane, (sw, sh), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    plane[...] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class BlurFace:
    """The face box, enlarged, strongly blurred (features unrecognisable)."""

    stage = STAGE_PRIVACY
    needs_face = True

    def __init__(self, amount: float = 1.0) -> None:
        self.strength = max(0.25, min(4.0, amount or 1.0))

    def apply(self, ctx: FrameContext) -> None:
        planes = _face_planes(ctx)
        if planes is None:
            return
        assert ctx.face is not None
        # work at ~24 px across the face; blur over ~1/8 of the face width
        factor = max(2, int(round(ctx.face.w / 24 / 2)) * 2)
        sigma = 1.6 * self.strength
        y, u, v = planes
        _blur(y, factor, sigma)
        _blur(u, factor // 2, sigma)
        _blur(v, factor // 2, sigma)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    "sunglasses": lambda spec: Sunglasses(),
    "hat": lambda spec: Hat(spec.color),
    "mustache": lambda spec: Mustache(),
    "pixelate_face": lambda spec: PixelateFace(spec.amount),
    "blur_face": lambda spec: BlurFace(spec.amount),
}
"""Spec kind -> edit factory, for the edits drawn on or over the face."""
