"""What the person wears: head and neck accessories (crown, cap, headphones, bow tie) and shirt patterns (striped, checked, polka dots).

Accessories are sprites, siblings of the hat and sunglasses of
:mod:`.overlays`: each is drawn once with cv2/numpy at the canonical face
width (:data:`~.overlays.MASTER_FACE_WIDTH`) per colour, resized once per
face-width bucket (:class:`~.overlays.SpriteCache`) and alpha-blended into
the I420 planes at an anchor of the tracked face (well under a millisecond a
frame). Anchors, in face-box units (see :mod:`.face`):

* the crown stands on the head, its band's lower edge :data:`CROWN_BASE`
  face heights above the face box's top (the hairline);
* the cap's crown covers the top of the head and its brim comes down over
  the forehead, the brim's joint with the crown at :data:`CAP_BASE`;
* the headphones' band arches over the head top and a cup sits at each side
  of the head at ear height (:data:`EAR_HEIGHT` down the face box);
* the bow tie sits :data:`BOW_TIE_BELOW_CHIN` face heights under the chin.

Shirt patterns (``striped_shirt``, ``checked_shirt``, ``polka_dot_shirt``)
paint the shirt region that ``make the shirt red`` recolours
(:class:`~.regions.RecolorTorso`'s mask: the torso's dominant colour, cut at
the person's edge by the segmentation network) with a pattern whose origin
is the chin and whose period is a fraction of the face width, so the
pattern moves and scales with the person, not the frame. The ink keeps the
garment's shading: its luma is the ink's lightness times the pixel's
lightness relative to the garment's typical lightness, so folds and
shadows show through; chroma becomes the ink's. Where the pattern leaves
the garment alone it keeps its own colour ("red and white striped" is a red
recolour plus white stripes, see :mod:`.instructions`). Cost: the shirt mask
(~4 ms, mostly the segmentation network, shared with other region edits of
the frame) plus ~2-3 ms of float blending over the torso's bounding box;
stripes and checks are built from one row and one column profile, dots from
a tile cached per dot size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from .colors import COLORS, rgb_to_yuv
from .face import chin_y
from .frame import STAGE_REGION, Color, Edit, EditSpec, Face, FrameContext
from .overlays import MASTER_FACE_WIDTH, Canvas, Master, _shade, _SpriteEdit, _superellipse
from .regions import SCALE, RecolorTorso

CROWN_BASE = 0.05
"""The crown band's lower edge, in face heights above the top of the face box."""
CAP_BASE = -0.02
"""Where the cap's brim meets its crown, in face heights below the top of the face box (negative: above)."""
BRIM_DROP = 0.26
"""How far the middle of the cap's bill comes down over the forehead, in face widths below the joint."""
EAR_HEIGHT = 0.50
"""Centre of the headphone cups, in face heights below the top of the face box."""
BOW_TIE_BELOW_CHIN = 0.27
"""Centre of the bow tie, in face heights below the chin."""

GOLD_BGR = (40, 180, 235)
"""The crown's gold when no colour is named."""
DEFAULT_CAP_BGR = (150, 70, 25)
"""A royal blue cap when no colour is named."""
DEFAULT_HEADPHONES_BGR = (38, 36, 36)
"""Black headphones when no colour is named."""
DEFAULT_BOW_TIE_BGR = (35, 20, 150)
"""A deep red bow tie when no colour is named (black vanishes on a dark collar)."""


def _bgr(color: Color | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(color.bgr) if color is not None else default  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Masters: drawn once per colour at the canonical face width


def _circle(c: Canvas, cx: float, cy: float, r: float) -> np.ndarray:
    """A soft-edged disc mask."""
    d = np.sqrt((c.xx - cx) ** 2 + (c.yy - cy) ** 2)
    return np.clip(r - d + 0.5, 0, 1).astype(np.float32)


def _lines(c: Canvas, polylines: list[list[tuple[float, float]]], width: float, blur: float = 0.0) -> np.ndarray:
    """A 0..1 mask of antialiased open polylines ``width`` canvas pixels thick."""
    m = np.zeros((c.h, c.w), np.uint8)
    pts = [np.round(np.asarray(p, np.float64) * 16).astype(np.int32) for p in polylines]
    cv2.polylines(m, pts, False, 255, max(1, int(round(width))), cv2.LINE_AA, shift=4)
    mask = m.astype(np.float32) / 255
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur > 0 else mask


def _jewel(c: Canvas, cx: float, cy: float, rx: float, ry: float, bgr: tuple[int, int, int]) -> None:
    """A cut stone: a dark-rimmed oval, lighter toward the top left, with a white glint."""
    rim = _superellipse(c, cx, cy, rx * 1.25, ry * 1.25, 2.0)
    c.over(rim, (20, 90, 120), 1.0)
    stone = _superellipse(c, cx, cy, rx, ry, 2.0)
    lit = np.clip(1.25 - 0.6 * ((c.xx - cx + 0.4 * rx) ** 2 / rx**2 + (c.yy - cy + 0.4 * ry) ** 2 / ry**2), 0.45, 1.3)
    c.over(stone, _shade(bgr, lit), 1.0)
    c.over(_circle(c, cx - 0.35 * rx, cy - 0.35 * ry, 0.28 * min(rx, ry)), (255, 255, 255), 0.85)


@lru_cache(maxsize=8)
def crown_master(bgr: tuple[int, int, int] = GOLD_BGR) -> Master:
    """A king's crown: a jewelled band, five points with pearls, a velvet cap inside; anchored at the band's lower centre."""
    fw = MASTER_FACE_WIDTH
    w, h = int(fw * 1.25), int(fw * 0.82)
    c = Canvas(w, h)
    cx = w / 2
    base = h - 0.05 * fw  # band's lower edge at the centre (the anchor)
    hw = 0.52 * fw  # band half width
    band_h = 0.15 * fw
    xn = np.clip((c.xx - cx) / hw, -1, 1)
    sag = 0.045 * fw  # the band's front is lower in the middle (a ring seen from the front)
    lower = base - sag * xn**2
    upper = lower - band_h
    inside = (np.abs(c.xx - cx) <= hw).astype(np.float32)
    # gold: a cylinder lit from the upper left, a vertical sheen, darker toward the sides
    cyl = np.clip(1.12 - 0.55 * (xn + 0.25) ** 2, 0.5, 1.2)
    # velvet cap behind the points (dark red), a dome over the band
    velvet = _superellipse(c, cx, upper.min() + 0.02 * fw, 0.40 * fw, 0.30 * fw, 2.2)
    velvet *= (c.yy < base - band_h * 0.5).astype(np.float32)
    c.over(velvet, _shade((30, 20, 120), np.clip(1.1 - 0.6 * (xn + 0.2) ** 2, 0.4, 1.1)), 1.0)
    # five points: tall in the middle, each a pointed arch rising from the band
    top0 = base - sag - band_h  # band top at the sides
    tips = [(-0.92, 0.30), (-0.48, 0.36), (0.0, 0.44), (0.48, 0.36), (0.92, 0.30)]
    pts = [(cx - hw, top0 + 0.02 * fw)]
    for i, (tx, th) in enumerate(tips):
        x = cx + tx * hw
        y_band = base - sag * tx**2 - band_h
        if i > 0:
            vx = (x + pts[-1][0]) / 2
            pts.append((vx, y_band - 0.07 * fw + sag * 0.5))
        pts.append((x - 0.06 * fw, y_band - th * fw * 0.55))
        pts.append((x, y_band - th * fw))
        pts.append((x + 0.06 * fw, y_band - th * fw * 0.55))
    pts.append((cx + hw, top0 + 0.02 * fw))
    pts.append((cx + hw, top0 + band_h))
    pts.append((cx - hw, top0 + band_h))
    points = c.poly_mask(pts)
    vert = np.clip((base - c.yy) / (0.6 * fw), 0, 1)
    c.over(points, _shade(bgr, cyl * (0.82 + 0.3 * vert)), 1.0)
    c.over(_lines(c, [pts[:-2]], 0.012 * fw, 0.6) * points, _shade(bgr, 0.45), 0.8)  # a darker edge
    # the band, with a bright rim above and below
    band = ((c.yy >= upper) & (c.yy <= lower)).astype(np.float32) * inside
    band = cv2.GaussianBlur(band, (0, 0), 0.7)
    sheen = 1 + 0.35 * np.exp(-(((c.yy - (upper + 0.3 * band_h)) / (0.12 * band_h)) ** 2))
    c.over(band, _shade(bgr, cyl * sheen), 1.0)
    for edge in (upper, lower):
        rim = np.exp(-(((c.yy - edge) / (0.018 * fw)) ** 2)).astype(np.float32) * inside
        c.over(rim, _shade(bgr, cyl * 1.35), 0.9)
    # pearls on the tips, jewels on the band and on the tall point
    for tx, th in tips:
        x = cx + tx * hw
        y_band = base - sag * tx**2 - band_h
        pearl = _circle(c, x, y_band - th * fw, 0.034 * fw)
        c.over(pearl, _shade((235, 240, 245), np.clip(1.2 - 0.9 * ((c.yy - (y_band - th * fw)) / (0.034 * fw) + 0.5).clip(0, 1.5) * 0.4, 0.6, 1.2)), 1.0)
        c.over(_circle(c, x - 0.01 * fw, y_band - th * fw - 0.012 * fw, 0.009 * fw), (255, 255, 255), 0.9)
    stones = [(-0.72, (40, 150, 40)), (-0.36, (170, 60, 30)), (0.0, (40, 30, 200)), (0.36, (170, 60, 30)), (0.72, (40, 150, 40))]
    for tx, stone in stones:
        x = cx + tx * hw
        y = base - sag * tx**2 - band_h / 2
        big = 1.3 if tx == 0 else 1.0
        _jewel(c, x, y, 0.045 * fw * big, 0.05 * fw * big, stone)
    _jewel(c, cx, base - band_h - 0.20 * fw, 0.03 * fw, 0.045 * fw, (40, 30, 200))
    return Master.from_canvas(c.pm, c.a, anchor=(cx, base), scale=fw)


@lru_cache(maxsize=16)
def cap_master(bgr: tuple[int, int, int] = DEFAULT_CAP_BGR) -> Master:
    """A baseball cap seen from the front: a six-panel dome, a button, a curved brim; anchored where the brim meets the crown."""
    fw = MASTER_FACE_WIDTH
    w, h = int(fw * 1.50), int(fw * 1.02)
    c = Canvas(w, h)
    cx = w / 2
    joint = h - 0.34 * fw  # the anchor: brim meets crown
    ax, by = 0.62 * fw, 0.52 * fw
    xn = (c.xx - cx) / ax
    # the shadow the brim casts on the forehead
    shadow = _superellipse(c, cx, joint + BRIM_DROP * fw, 0.5 * fw, 0.07 * fw, 2.0)
    c.over(cv2.GaussianBlur(shadow, (0, 0), 0.04 * fw), (0, 0, 0), 0.35)
    # the crown: the upper half of a rounded dome, lit from the upper left
    dome = _superellipse(c, cx, joint, ax, by, 2.3) * (c.yy <= joint + 0.01 * fw).astype(np.float32)
    dy = np.clip((joint - c.yy) / by, 0, 1)
    light = np.clip(1.15 - 0.5 * (xn + 0.3) ** 2 - 0.35 * (1 - dy) ** 2 + 0.15 * dy, 0.4, 1.2)
    c.over(dome, _shade(bgr, light), 1.0)
    # panel seams from the button down to the band, and the button
    top = joint - by
    seams = []
    for k in (-0.62, -0.22, 0.22, 0.62):
        seams.append([(cx + k * ax * (t**0.6) * 1.0, top + (joint - top) * t) for t in np.linspace(0.02, 0.97, 20)])
    c.over(_lines(c, seams, 0.008 * fw, 0.8) * dome, _shade(bgr, 0.5), 0.7)
    c.over(_circle(c, cx, top + 0.02 * fw, 0.035 * fw), _shade(bgr, 0.85), 1.0)
    # the bill, seen from the front: wider than the crown, coming down over the forehead in
    # the middle and curving down at the sides, where its darker underside shows
    bw = 0.70 * fw
    bn = np.clip((c.xx - cx) / bw, -1, 1)
    inside = (np.abs(c.xx - cx) <= bw).astype(np.float32)
    arc = np.sqrt(np.clip(1 - bn**2, 0, 1))
    upper = joint - 0.03 * fw + 0.03 * fw * arc + 0.10 * fw * bn**4
    lower = joint + 0.06 * fw * bn**2 + BRIM_DROP * fw * arc**0.7
    bill = ((c.yy >= upper) & (c.yy <= lower)).astype(np.float32) * inside
    bill = cv2.GaussianBlur(bill, (0, 0), 0.8)
    across = np.clip((c.yy - upper) / np.maximum(lower - upper, 1), 0, 1)
    top_light = np.clip(1.15 - 0.3 * (bn + 0.2) ** 2 - 0.3 * across, 0.55, 1.15)
    c.over(bill, _shade(bgr, top_light), 1.0)
    # the underside: a dark band along the front edge, widening toward the sides
    under_from = 1 - (0.16 + 0.5 * bn**4)
    underside = bill * np.clip((across - under_from) / 0.04, 0, 1)
    c.over(underside, _shade(bgr, 0.4), 1.0)
    # the seam where the bill meets the crown, and rows of stitching along the edge
    seam = [(cx + b * bw * 0.97, joint - 0.03 * fw + 0.03 * fw * math.sqrt(max(0.0, 1 - b * b)) + 0.10 * fw * b**4) for b in np.linspace(-0.97, 0.97, 60)]
    c.over(_lines(c, [seam], 0.012 * fw, 0.8), _shade(bgr, 0.35), 0.8)
    for off in (0.04, 0.07):
        line = [(cx + b * bw, joint + 0.06 * fw * b * b + BRIM_DROP * fw * (1 - b * b) ** 0.35 - off * fw) for b in np.linspace(-0.9, 0.9, 48)]
        c.over(_lines(c, [line], 0.005 * fw, 0.5) * bill * (1 - underside), _shade(bgr, 1.3), 0.55)
    return Master.from_canvas(c.pm, c.a, anchor=(cx, joint), scale=fw)


@lru_cache(maxsize=16)
def headphones_master(bgr: tuple[int, int, int] = DEFAULT_HEADPHONES_BGR) -> Master:
    """Over-ear headphones: a padded band over the head and a cup at each ear; anchored at the face box's top centre."""
    fw = MASTER_FACE_WIDTH
    w, h = int(fw * 1.75), int(fw * 1.45)
    c = Canvas(w, h)
    cx = w / 2
    top = 0.62 * fw  # canvas y of the face box's top (the anchor)
    ear_y = top + EAR_HEIGHT * fw
    cup_x = 0.66 * fw
    band_cy = ear_y - 0.25 * fw
    band_ax, band_by = cup_x - 0.02 * fw, band_cy - (top - 0.56 * fw)
    metal = (175, 175, 180)
    # the band: an arch of a thick ellipse outline, a darker padded cushion at the top
    ring_out = _superellipse(c, cx, band_cy, band_ax + 0.035 * fw, band_by + 0.035 * fw, 2.0)
    ring_in = _superellipse(c, cx, band_cy, band_ax - 0.035 * fw, band_by - 0.035 * fw, 2.0)
    arch = np.clip(ring_out - ring_in, 0, 1) * (c.yy <= band_cy).astype(np.float32)
    xr = (c.xx - cx) / band_ax
    c.over(arch, _shade(bgr, np.clip(1.15 - 0.5 * (xr + 0.3) ** 2, 0.5, 1.25)), 1.0)
    pad_out = _superellipse(c, cx, band_cy, band_ax + 0.005 * fw, band_by + 0.005 * fw, 2.0)
    pad_in = _superellipse(c, cx, band_cy, band_ax - 0.055 * fw, band_by - 0.055 * fw, 2.0)
    pad = np.clip(pad_out - pad_in, 0, 1) * (np.abs(xr) < 0.55).astype(np.float32) * (c.yy <= band_cy).astype(np.float32)
    c.over(cv2.GaussianBlur(pad, (0, 0), 1.0), _shade((30, 30, 32), np.clip(1.1 - 0.5 * np.abs(xr), 0.6, 1.1)), 1.0)
    # sliders from the band's ends to the cups
    for side in (-1, 1):
        x = cx + side * band_ax
        slider = [(x, band_cy - 0.02 * fw), (cx + side * cup_x, ear_y - 0.16 * fw)]
        c.over(_lines(c, [slider], 0.03 * fw, 0.6), _shade(metal, 1.0), 1.0)
    # the cups: a dark cushion against the head, the coloured shell outside, a metal ring
    for side in (-1, 1):
        x = cx + side * cup_x
        cushion = _superellipse(c, x - side * 0.05 * fw, ear_y, 0.075 * fw, 0.22 * fw, 2.6)
        c.over(cushion, _shade((28, 26, 26), np.clip(1.1 - 0.5 * ((c.yy - ear_y) / (0.22 * fw)) ** 2, 0.5, 1.1)), 1.0)
        shell = _superellipse(c, x + side * 0.03 * fw, ear_y, 0.1 * fw, 0.2 * fw, 2.8)
        sx = (c.xx - x - side * 0.03 * fw) / (0.1 * fw)
        sy = (c.yy - ear_y) / (0.2 * fw)
        c.over(shell, _shade(bgr, np.clip(1.2 - 0.45 * (sx + 0.4) ** 2 - 0.3 * sy, 0.45, 1.35)), 1.0)
        ring = np.clip(_superellipse(c, x + side * 0.03 * fw, ear_y, 0.1 * fw, 0.2 * fw, 2.8) - _superellipse(c, x + side * 0.03 * fw, ear_y, 0.085 * fw, 0.185 * fw, 2.8), 0, 1)
        c.over(ring, _shade(metal, np.clip(1.1 - 0.4 * sy, 0.6, 1.3)), 0.9)
        glint = _superellipse(c, x + side * 0.01 * fw, ear_y - 0.1 * fw, 0.02 * fw, 0.05 * fw, 2.0)
        c.over(glint, (255, 255, 255), 0.35)
    return Master.from_canvas(c.pm, c.a, anchor=(cx, top), scale=fw)


@lru_cache(maxsize=16)
def bow_tie_master(bgr: tuple[int, int, int] = DEFAULT_BOW_TIE_BGR) -> Master:
    """A bow tie: two flared wings with folds, pinched at a knot; anchored at the knot."""
    fw = MASTER_FACE_WIDTH
    w, h = int(fw * 0.72), int(fw * 0.34)
    c = Canvas(w, h)
    cx, cy = w / 2, h / 2
    half = 0.31 * fw
    knot_w, knot_h = 0.055 * fw, 0.10 * fw
    for side in (-1, 1):
        pts = []
        n = 16
        for i in range(n + 1):  # the outer edge, top to bottom, bulging with a notch in the middle
            t = i / n
            yy = cy + (t - 0.5) * 0.26 * fw
            notch = 0.03 * fw * math.exp(-(((t - 0.5) / 0.12) ** 2))
            xx = cx + side * (half - notch - 0.015 * fw * (2 * t - 1) ** 4)
            pts.append((xx, yy))
        pts.append((cx + side * knot_w * 0.6, cy + knot_h * 0.45))
        pts.append((cx + side * knot_w * 0.6, cy - knot_h * 0.45))
        wing = c.poly_mask(pts, blur=0.6)
        dx = np.clip(np.abs(c.xx - cx) / half, 0, 1)
        ang = np.arctan2(c.yy - cy, np.maximum(np.abs(c.xx - cx), 1.0))
        folds = 0.82 + 0.18 * np.cos(ang * 7) * dx + 0.25 * dx
        c.over(wing, _shade(bgr, np.clip(folds - 0.35 * (1 - dx) ** 3, 0.35, 1.25)), 1.0)
        c.over(_lines(c, [pts[: n + 1]], 0.012 * fw, 0.6) * wing, _shade(bgr, 0.45), 0.6)
    knot = _superellipse(c, cx, cy, knot_w, knot_h / 2 * 1.05, 2.5)
    kx = (c.xx - cx) / knot_w
    c.over(knot, _shade(bgr, np.clip(1.15 - 0.6 * kx**2, 0.5, 1.2)), 1.0)
    return Master.from_canvas(c.pm, c.a, anchor=(cx, cy), scale=fw)


# --------------------------------------------------------------------------
# Accessories


class Crown(_SpriteEdit):
    """A jewelled gold crown standing on the head."""

    def __init__(self, color: Color | None = None) -> None:
        super().__init__(crown_master(_bgr(color, GOLD_BGR)))

    def anchor(self, face: Face) -> tuple[float, float]:
        return face.cx, face.y - CROWN_BASE * face.h


class Cap(_SpriteEdit):
    """A baseball cap, its brim over the forehead."""

    def __init__(self, color: Color | None = None) -> None:
        super().__init__(cap_master(_bgr(color, DEFAULT_CAP_BGR)))

    def anchor(self, face: Face) -> tuple[float, float]:
        return face.cx, face.y + CAP_BASE * face.h


class Headphones(_SpriteEdit):
    """Over-ear headphones: the band over the head, a cup at each ear."""

    def __init__(self, color: Color | None = None) -> None:
        super().__init__(headphones_master(_bgr(color, DEFAULT_HEADPHONES_BGR)))

    def anchor(self, face: Face) -> tuple[float, float]:
        return face.cx, face.y


class BowTie(_SpriteEdit):
    """A bow tie under the chin, at the collar."""

    def __init__(self, color: Color | None = None) -> None:
        super().__init__(bow_tie_master(_bgr(color, DEFAULT_BOW_TIE_BGR)))

    def anchor(self, face: Face) -> tuple[float, float]:
        return face.cx, chin_y(face) + BOW_TIE_BELOW_CHIN * face.h


# --------------------------------------------------------------------------
# Shirt patterns


def _square_wave(coord: np.ndarray, period: float, duty: float = 0.5) -> np.ndarray:
    """1 on the first ``duty`` of each period of ``coord`` (pixels), 0 elsewhere, with a one-pixel soft edge."""
    phase = np.mod(coord, period)
    rise = np.clip(phase + 0.5, 0, 1)  # soft start at phase 0
    fall = np.clip(duty * period - phase + 0.5, 0, 1)  # soft end at duty*period
    wrap = np.clip(phase - period + 0.5, 0, 1)  # the next period's start
    return np.maximum(np.minimum(rise, fall), wrap).astype(np.float32)


class _Pattern:
    """A pattern painted on the shirt region, anchored at the chin and sized by the face.

    Subclasses give :meth:`coverage`: how much ink (0..1) covers each pixel of
    a box of the frame, from the face. ``period`` is the pattern's repeat in
    face widths.
    """

    stage = STAGE_REGION
    needs_face = True
    period = 0.3
    default_ink: tuple[int, int, int] = (255, 255, 255)
    """The ink's colour (RGB) when none is named."""
    strength = 0.95
    """The most ink covers a pixel (1 = opaque up to the garment's shading)."""

    def __init__(self, spec: EditSpec) -> None:
        self.spec = spec
        self.ink = spec.color or _rgb_color(self.default_ink)
        self.torso = RecolorTorso(EditSpec("recolor_region", color=COLORS["white"], target="shirt"))

    def coverage(self, face: Face, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def apply(self, ctx: FrameContext) -> None:
        face = ctx.face
        if face is None or face.w < 8:
            return
        found = self.torso.mask(ctx)
        if found is None:
            return
        mask, (y0, _u0, _v0) = found
        bx, by, bw, bh = cv2.boundingRect(mask)
        if bw == 0 or bh == 0:
            return
        piece = mask[by : by + bh, bx : bx + bw]
        # the box at full size, with even corners so chroma lines up
        fx0, fy0 = bx * SCALE, by * SCALE
        fx1, fy1 = min(ctx.width, (bx + bw) * SCALE), min(ctx.height, (by + bh) * SCALE)
        ink = self.coverage(face, fx0, fy0, fx1, fy1)
        m = cv2.resize(piece, (fx1 - fx0, fy1 - fy0), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        a = ink * m * (self.strength / 255.0)
        luma = ctx.y[fy0:fy1, fx0:fx1]
        ly = luma.astype(np.float32)
        # the ink's lightness, shaded like the garment at that pixel
        shade = np.minimum(ly * (1.0 / max(y0, 24.0)), 1.6)
        target = np.clip(16.0 + (self.ink.y - 16.0) * shade, 16, 235)
        luma[...] = (ly + a * (target - ly) + 0.5).astype(np.uint8)
        a2 = cv2.resize(a, ((fx1 - fx0) // 2, (fy1 - fy0) // 2), interpolation=cv2.INTER_AREA)
        for plane, value in ((ctx.u, self.ink.u), (ctx.v, self.ink.v)):
            chroma = plane[fy0 // 2 : fy0 // 2 + a2.shape[0], fx0 // 2 : fx0 // 2 + a2.shape[1]]
            cf = chroma.astype(np.float32)
            chroma[...] = (cf + a2[: chroma.shape[0], : chroma.shape[1]] * (value - cf) + 0.5).astype(np.uint8)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ink.name})"


def _rgb_color(rgb: tuple[int, int, int]) -> Color:
    """An unnamed colour from RGB (a pattern's default ink)."""
    r, g, b = rgb
    return Color("default", (b, g, r), *rgb_to_yuv(r, g, b))


class StripedShirt(_Pattern):
    """Horizontal stripes across the shirt (white, or the named colour, on the shirt's own colour)."""

    period = 0.34

    def coverage(self, face: Face, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        p = self.period * face.w
        rows = np.arange(y0, y1, dtype=np.float32) - (chin_y(face) + 0.25 * p)
        return np.broadcast_to(_square_wave(rows, p)[:, None], (y1 - y0, x1 - x0))


class CheckedShirt(_Pattern):
    """Gingham checks: bands of ink across and down the shirt; darker where they cross."""

    period = 0.42
    default_ink = (40, 20, 20)
    strength = 0.85

    def coverage(self, face: Face, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        p = self.period * face.w
        rows = _square_wave(np.arange(y0, y1, dtype=np.float32) - chin_y(face), p)
        cols = _square_wave(np.arange(x0, x1, dtype=np.float32) - face.cx + 0.25 * p, p)
        # thin lines down the middle of the plain squares: the weave of a plaid
        thin_r = _square_wave(np.arange(y0, y1, dtype=np.float32) - chin_y(face) - 0.72 * p, p, 0.07)
        thin_c = _square_wave(np.arange(x0, x1, dtype=np.float32) - face.cx - 0.47 * p, p, 0.07)
        return 0.5 * rows[:, None] + 0.5 * cols[None, :] + 0.35 * np.maximum(thin_r[:, None], thin_c[None, :])


@lru_cache(maxsize=32)
def _dot_tile(period: int, radius: float) -> np.ndarray:
    """One repeat of a polka-dot pattern: a ``2*period`` square with dots on a staggered grid."""
    size = 2 * period
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    tile = np.zeros((size, size), np.float32)
    for cy, cx in ((0, 0), (0, size), (size, 0), (size, size), (period, period)):
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        tile = np.maximum(tile, np.clip(radius - d + 0.5, 0, 1))
    return tile


class PolkaDotShirt(_Pattern):
    """Round dots on a staggered grid over the shirt (white, or the named colour)."""

    period = 0.26
    radius = 0.3
    """Dot radius as a share of the period."""

    def coverage(self, face: Face, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        p = max(4, int(round(self.period * face.w / 2)) * 2)
        tile = _dot_tile(p, self.radius * p)
        size = tile.shape[0]
        ox = int(round(face.cx)) % size
        oy = int(round(chin_y(face))) % size
        sx, sy = (x0 - ox) % size, (y0 - oy) % size
        reps = ((y1 - y0 + sy) // size + 2, (x1 - x0 + sx) // size + 2)
        return np.tile(tile, reps)[sy : sy + y1 - y0, sx : sx + x1 - x0]


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    "crown": lambda spec: Crown(spec.color),
    "cap": lambda spec: Cap(spec.color),
    "headphones": lambda spec: Headphones(spec.color),
    "bow_tie": lambda spec: BowTie(spec.color),
    "striped_shirt": StripedShirt,
    "checked_shirt": CheckedShirt,
    "polka_dot_shirt": PolkaDotShirt,
}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
