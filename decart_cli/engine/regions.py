"""Region edits: recolour the shirt, the hair, the background or a coloured thing; blur the background.

Every edit here works on the I420 planes and computes its masks at 1/4 of
the frame size (320x176 for 1280x704; the chroma planes are 1/2), from a
downscaled copy of the frame shared by all region edits of that frame
(``ctx.cache``). Masks are soft (0..255) and feathered, and applied only
inside their bounding box.

Regions anchored to the face (``needs_face = True``; they do nothing on a
frame without ``ctx.face``):

``shirt`` (and :data:`TORSO_WORDS`)
    A torso-shaped area from ~0.3 face heights below the chin down to the
    frame's bottom, ~3.5 face widths wide, narrowed to the pixels whose
    chroma is near the torso's dominant chroma (so the background and the
    neck between the shoulders are not painted), plus the mixed pixels at
    its edges (at least halfway to that chroma, next to the garment: left
    out, they were a fringe of the old colour), and cut at the person's
    edge where the segmentation network runs.
``hair`` (and :data:`HAIR_WORDS`)
    The head's outline above and beside the face minus the face itself,
    narrowed to pixels like the colour just above the forehead. Where the
    segmentation network runs, only within the person, where shade counts
    less (the darker locks are taken) and a pixel nearer the cheeks' chroma
    than the hair's is left as skin.
``background`` (and :data:`BACKGROUND_WORDS`)
    Everything outside the person, as MediaPipe's segmentation network sees
    it (:mod:`.segment`, ~4 ms a frame). Where this OpenCV cannot run the
    network: a generous head-and-torso outline, in which a colour model
    (histograms of the person's core vs what lies outside, updated each
    frame) decides pixel by pixel; the face and the torso's core are always
    the person.

Any other ``target`` ("change the car to blue") recolours the dominant
saturated colour of the frame: the biggest cluster of saturated chroma, and
everything within ~20 degrees of its hue and a similar saturation
(``needs_face = False``; a known face is protected anyway).

Recolouring maps chroma so that the region's typical colour lands on the
target colour while its variations (folds, highlights, prints) keep their
relative shading; luma is kept, shifted part of the way towards the target's
lightness (a little for colours, e.g. blonde lifts hair; most of the way for
black, white, gray and silver, which also drop the chroma).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from .colors import ACHROMATIC
from .face import chin_y, face_ellipse
from .frame import STAGE_REGION, Color, Edit, EditSpec, Face, FrameContext
from .segment import PersonSegmenter

__all__ = [
    "EDITS",
    "TORSO_WORDS",
    "HAIR_WORDS",
    "BACKGROUND_WORDS",
    "RecolorTorso",
    "RecolorHair",
    "RecolorBackground",
    "RecolorDominant",
    "BlurBackground",
    "person_mask",
]

TORSO_WORDS = frozenset(
    {"shirt", "t-shirt", "tshirt", "top", "jacket", "sweater", "jumper", "hoodie", "blouse", "coat",
     "suit", "clothes", "outfit", "dress", "torso", "vest", "cardigan", "sweatshirt", "jersey"}
)
"""Targets recoloured as the torso below the face."""
HAIR_WORDS = frozenset({"hair", "hairs", "hairstyle"})
"""Targets recoloured as the hair above the face."""
BACKGROUND_WORDS = frozenset({"background", "backdrop", "wall", "walls", "room", "scene behind"})
"""Targets recoloured as everything outside the person."""

SCALE = 4
"""Masks are computed at 1/SCALE of the frame size."""

_CACHE_SMALL = "regions.small"
_CACHE_PERSON = "regions.person"


# -- shared per-frame analysis -------------------------------------------------


class _Small:
    """The frame at mask resolution (as it entered the region stage), plus mask-space helpers."""

    def __init__(self, ctx: FrameContext) -> None:
        self.w, self.h = ctx.width // SCALE, ctx.height // SCALE
        self.y = _shrink(ctx.y, self.w, self.h)
        self.u = _shrink(ctx.u, self.w, self.h)
        self.v = _shrink(ctx.v, self.w, self.h)
        self._bins: np.ndarray | None = None

    @property
    def bins(self) -> np.ndarray:
        """Each pixel's colour bin: (Y/32, U/16, V/16) -> 0..2047 (for histogram colour models)."""
        if self._bins is None:
            y = (self.y >> 5).astype(np.int16)
            u = (self.u >> 4).astype(np.int16)
            v = (self.v >> 4).astype(np.int16)
            self._bins = (y << 8) | (u << 4) | v
        return self._bins


def _shrink(plane: np.ndarray, w: int, h: int) -> np.ndarray:
    """``plane`` filtered and downscaled to w x h (halving with pyrDown where sizes allow: ~2x faster than INTER_AREA)."""
    while plane.shape[1] >= 2 * w and plane.shape[0] >= 2 * h:
        ph, pw = plane.shape
        if pw % 2 or ph % 2:
            break
        plane = cv2.pyrDown(plane)
    if plane.shape[:2] != (h, w):
        plane = cv2.resize(plane, (w, h), interpolation=cv2.INTER_AREA)
    return plane


def _small(ctx: FrameContext) -> _Small:
    small = ctx.cache.get(_CACHE_SMALL)
    if small is None:
        small = ctx.cache[_CACHE_SMALL] = _Small(ctx)
    return small


def _scaled(face: Face) -> Face:
    return Face(face.x / SCALE, face.y / SCALE, face.w / SCALE, face.h / SCALE)


def _pts(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([[round(x), round(y)] for x, y in points], np.int32)


def _ellipse(mask: np.ndarray, center: tuple[float, float], axes: tuple[float, float], value: int) -> None:
    cv2.ellipse(mask, (round(center[0]), round(center[1])), (max(1, round(axes[0])), max(1, round(axes[1]))), 0, 0, 360, value, -1, cv2.LINE_AA)


def _torso_polygon(f: Face, bottom: float, top_gap: float, top_half: float, mid_half: float, bottom_half: float) -> np.ndarray:
    """A shoulders-to-bottom trapezoid in mask coordinates, around the face's centre line."""
    top = chin_y(f) + top_gap * f.h
    mid = chin_y(f) + 1.0 * f.h
    cx = f.cx
    return _pts([
        (cx - top_half * f.w, top), (cx + top_half * f.w, top),
        (cx + mid_half * f.w, mid), (cx + bottom_half * f.w, bottom),
        (cx - bottom_half * f.w, bottom), (cx - mid_half * f.w, mid),
    ])


def _soft(values: np.ndarray, full: float, zero: float) -> np.ndarray:
    """1 where ``values <= full``, 0 where ``>= zero``, linear between (float32)."""
    return np.clip((zero - values.astype(np.float32)) * (1 / (zero - full)), 0.0, 1.0)


def _to_u8(mask: np.ndarray) -> np.ndarray:
    return (mask * 255.0 + 0.5).astype(np.uint8)


# -- the person (for the background) --------------------------------------------


class PersonModel:
    """Tells the person from the background: a segmentation network where it runs, else by colour near the face.

    With a :class:`~.segment.PersonSegmenter` (the default, where this
    OpenCV can run it) the mask is the network's. Without one, two colour
    histograms (see :attr:`_Small.bins`) decide: the person's core (face
    and the torso's centre) and everything outside a generous head-and-torso
    outline; both are exponentially averaged over frames, so a pixel's
    class is stable even as the person moves.
    """

    def __init__(self, segmenter: PersonSegmenter | None | bool = True) -> None:
        self.segmenter = PersonSegmenter.load() if segmenter is True else segmenter or None
        """The network, or None: the colour model below."""
        self.hist_person = np.zeros(2048, np.float32)
        self.hist_back = np.zeros(2048, np.float32)
        self.frames = 0

    def mask(self, ctx: FrameContext) -> np.ndarray | None:
        """The person as a feathered uint8 mask at mask resolution, or None without a face."""
        if ctx.face is None:
            return None
        cached = ctx.cache.get(_CACHE_PERSON)
        if cached is not None:
            return cached
        s = _small(ctx)
        if self.segmenter is not None:
            m = ctx.cache[_CACHE_PERSON] = self.segmenter.mask(s.y, s.u, s.v)
            return m
        f = _scaled(ctx.face)
        outline = np.zeros((s.h, s.w), np.uint8)
        _ellipse(outline, (f.cx, f.y + 0.30 * f.h), (0.80 * f.w, 0.92 * f.h), 255)
        cv2.rectangle(outline, (round(f.cx - 0.45 * f.w), round(f.y + 0.8 * f.h)), (round(f.cx + 0.45 * f.w), round(chin_y(f) + 0.6 * f.h)), 255, -1)
        cv2.fillPoly(outline, [_torso_polygon(f, s.h + 2, 0.1, 1.1, 2.4, 2.9)], 255)
        core = np.zeros((s.h, s.w), np.uint8)
        (ex, ey), (ax, ay) = face_ellipse(f)
        _ellipse(core, (ex, ey), (0.85 * ax, 0.9 * ay), 255)
        cv2.fillPoly(core, [_torso_polygon(f, s.h + 2, 0.6, 0.5, 0.8, 1.0)], 255)

        bins = s.bins
        outside = cv2.dilate(outline, np.ones((5, 5), np.uint8)) == 0
        rate = 0.3 if self.frames else 1.0
        for hist, where in ((self.hist_person, core > 0), (self.hist_back, outside)):
            counts = np.bincount(bins[where], minlength=2048).astype(np.float32)
            total = counts.sum()
            if total > 0:
                hist *= 1 - rate
                hist += rate * counts / total
        self.frames += 1
        eps = 2e-4
        ratio = (self.hist_person + eps) / (self.hist_person + self.hist_back + 2 * eps)
        person = ratio[bins]
        person = np.clip((person - 0.3) * (1 / 0.35), 0.0, 1.0)
        person *= outline.astype(np.float32) * (1 / 255)
        m = _to_u8(person)
        np.maximum(m, core, out=m)
        m = cv2.medianBlur(m, 5)
        m = cv2.GaussianBlur(m, (0, 0), 1.2)
        ctx.cache[_CACHE_PERSON] = m
        return m


def person_mask(ctx: FrameContext, model: PersonModel | None = None) -> np.ndarray | None:
    """The person at 1/4 size (uint8, 255 = person, feathered), or None without a face."""
    return (model or PersonModel()).mask(ctx)


# -- applying a recolour ------------------------------------------------------------


class ChromaMap:
    """Maps a region's typical colour (y0, u0, v0) onto a target colour, keeping variation.

    ``u' = a*u + b*v + c``, ``v' = d*u + e*v + f`` (a rotation and scaling
    of chroma around neutral, or a plain shift when the source is nearly
    neutral), and a luma shift of part of the lightness difference.
    """

    def __init__(self, source: tuple[float, float, float], color: Color) -> None:
        y0, u0, v0 = source
        su, sv = u0 - 128.0, v0 - 128.0
        tu, tv = color.u - 128.0, color.v - 128.0
        if color.name in ACHROMATIC:
            m = np.eye(2) * 0.15
            luma_share = 0.85
        else:
            src_sat, dst_sat = math.hypot(su, sv), math.hypot(tu, tv)
            if src_sat >= 12:
                angle = math.atan2(tv, tu) - math.atan2(sv, su)
                k = min(3.0, max(0.5, dst_sat / src_sat))
                m = k * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            else:
                m = np.eye(2)
            luma_share = 0.5
        # c' = t + M (c - s), in absolute chroma terms
        offset = np.array([color.u, color.v]) - m @ np.array([u0, v0])
        self.coeffs = (float(m[0, 0]), float(m[0, 1]), float(offset[0]), float(m[1, 0]), float(m[1, 1]), float(offset[1]))
        self.luma_shift = float(np.clip(luma_share * (color.y - y0), -90, 90))

    def apply(self, ctx: FrameContext, mask: np.ndarray, strength: float = 1.0) -> None:
        """Recolour ``ctx`` where ``mask`` (uint8 at mask resolution) says, in place."""
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return
        if strength < 1.0:
            mask = cv2.multiply(mask, max(0.0, strength))
        piece = mask[y : y + h, x : x + w]

        # chroma, at half resolution
        cw, ch = ctx.width // 2, ctx.height // 2
        cx0, cy0 = x * SCALE // 2, y * SCALE // 2
        cx1 = cw if x + w >= mask.shape[1] else min(cw, (x + w) * SCALE // 2)
        cy1 = ch if y + h >= mask.shape[0] else min(ch, (y + h) * SCALE // 2)
        m = cv2.resize(piece, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_LINEAR)
        u = ctx.u[cy0:cy1, cx0:cx1]
        v = ctx.v[cy0:cy1, cx0:cx1]
        a, b, c, d, e, f = self.coeffs
        new_u = cv2.addWeighted(u, a, v, b, c)
        new_v = cv2.addWeighted(u, d, v, e, f)
        _blend_into(u, new_u, m)
        _blend_into(v, new_v, m)

        # luma, at full resolution
        shift = self.luma_shift
        if abs(shift) >= 1.5:
            fx0, fy0 = x * SCALE, y * SCALE
            fx1 = ctx.width if x + w >= mask.shape[1] else min(ctx.width, (x + w) * SCALE)
            fy1 = ctx.height if y + h >= mask.shape[0] else min(ctx.height, (y + h) * SCALE)
            mf = cv2.resize(piece, (fx1 - fx0, fy1 - fy0), interpolation=cv2.INTER_LINEAR)
            delta = cv2.multiply(mf, abs(shift) / 255.0)
            luma = ctx.y[fy0:fy1, fx0:fx1]
            if shift > 0:
                cv2.add(luma, delta, dst=luma)
            else:
                cv2.subtract(luma, delta, dst=luma)


def _blend_into(dst: np.ndarray, new: np.ndarray, mask: np.ndarray) -> None:
    """``dst = dst + (new - dst) * mask / 255`` in place (uint8 planes, uint8 mask)."""
    keep = cv2.multiply(dst, cv2.bitwise_not(mask), scale=1 / 255)
    take = cv2.multiply(new, mask, scale=1 / 255)
    cv2.add(keep, take, dst=dst)


def _mean_color(s: _Small, weights: np.ndarray) -> tuple[float, float, float] | None:
    """Weighted mean (y, u, v) at mask resolution, or None if the weights are empty."""
    total = float(weights.sum())
    if total < 1e-3:
        return None
    return (
        float((s.y * weights).sum() / total),
        float((s.u * weights).sum() / total),
        float((s.v * weights).sum() / total),
    )


def _chroma_peak(u: np.ndarray, v: np.ndarray, weights: np.ndarray) -> tuple[int, int] | None:
    """The most common (u, v) among weighted pixels, from a smoothed 32x32 histogram."""
    if not weights.any():
        return None
    index = ((u >> 3).astype(np.intp) << 5) | (v >> 3)
    hist = np.bincount(index.ravel(), weights=weights.ravel(), minlength=1024).reshape(32, 32)
    hist = cv2.GaussianBlur(hist.astype(np.float32), (3, 3), 0.8)
    iu, iv = np.unravel_index(int(np.argmax(hist)), hist.shape)
    return int(iu) * 8 + 4, int(iv) * 8 + 4


# -- the edits ---------------------------------------------------------------------


class _Recolor:
    stage = STAGE_REGION
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        if spec.color is None:
            raise ValueError(f"{spec.kind} needs a colour")
        self.spec = spec
        self.color = spec.color
        self.strength = float(min(1.0, max(0.0, spec.amount)))
        self._source: np.ndarray | None = None  # smoothed typical colour of the region (y, u, v)

    def _track_source(self, sample: tuple[float, float, float], jump: float = 40.0) -> tuple[float, float, float]:
        """Smooth the region's typical colour over frames (restart on a big change)."""
        new = np.array(sample)
        if self._source is None or np.abs(new[1:] - self._source[1:]).sum() > jump:
            self._source = new
        else:
            self._source = 0.8 * self._source + 0.2 * new
        return tuple(float(c) for c in self._source)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.color.name})"


class RecolorTorso(_Recolor):
    """"change the shirt to red": the torso below the face, by its dominant chroma, out to the person's edge."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self.person = PersonModel()

    def mask(self, ctx: FrameContext) -> tuple[np.ndarray, tuple[float, float, float]] | None:
        """The torso mask (uint8, mask resolution) and the torso's typical colour, or None."""
        if ctx.face is None:
            return None
        s = _small(ctx)
        f = _scaled(ctx.face)
        if chin_y(f) + 0.3 * f.h >= s.h - 2:
            return None  # no torso in the picture
        prior = np.zeros((s.h, s.w), np.uint8)
        cv2.fillPoly(prior, [_torso_polygon(f, s.h + 2, 0.3, 1.0, 1.75, 1.9)], 255, cv2.LINE_AA)
        core = np.zeros((s.h, s.w), np.uint8)
        cv2.fillPoly(core, [_torso_polygon(f, s.h + 2, 0.3, 0.7, 1.2, 1.3)], 255)
        # Weight the core twice and saturated pixels more: a shirt is more often coloured than not.
        weights = (prior > 0).astype(np.float32) + (core > 0)
        sat = cv2.absdiff(s.u, 128).astype(np.float32) + cv2.absdiff(s.v, 128)
        weights *= 1.0 + np.minimum(sat, 40.0) * (1 / 20)
        peak = _chroma_peak(s.u, s.v, weights)
        if peak is None:
            return None
        near = (cv2.absdiff(s.u, peak[0]).astype(np.int16) + cv2.absdiff(s.v, peak[1]) < 16) & (prior > 0)
        sample = _mean_color(s, near.astype(np.float32))
        if sample is None:
            return None
        y0, u0, v0 = self._track_source(sample)
        d = cv2.absdiff(s.u, round(u0)).astype(np.float32) + cv2.absdiff(s.v, round(v0))
        inside = prior.astype(np.float32) * (1 / 255)
        mask = cv2.medianBlur(_to_u8(_soft(d, 14.0, 30.0) * inside), 3)
        # Edge pixels are half garment, half what lies beside it: too far in chroma to be taken
        # above, they stayed a fringe of the old colour. Take those next to the garment that are
        # at least halfway to its colour.
        mixed = _to_u8(_soft(d, 30.0, 55.0) * inside)
        mask = cv2.max(mask, cv2.min(mixed, cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)))
        if self.person.segmenter is not None:
            person = self.person.mask(ctx)
            if person is not None:
                mask = cv2.min(mask, person)  # and never past the person's edge
        return cv2.GaussianBlur(mask, (0, 0), 0.8), (y0, u0, v0)

    def apply(self, ctx: FrameContext) -> None:
        found = self.mask(ctx)
        if found is not None:
            mask, source = found
            ChromaMap(source, self.color).apply(ctx, mask, self.strength)


class RecolorHair(_Recolor):
    """"make the hair blonde": above and beside the face, by the colour above the forehead (within the person, where the network runs)."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self.person = PersonModel()

    def mask(self, ctx: FrameContext) -> tuple[np.ndarray, tuple[float, float, float]] | None:
        if ctx.face is None:
            return None
        s = _small(ctx)
        f = _scaled(ctx.face)
        prior = np.zeros((s.h, s.w), np.uint8)
        _ellipse(prior, (f.cx, f.y + 0.32 * f.h), (0.78 * f.w, 0.80 * f.h), 255)
        (ex, ey), (ax, ay) = face_ellipse(f)
        _ellipse(prior, (ex, ey + 0.06 * f.h), (0.95 * ax, 0.96 * ay), 0)
        prior[max(0, round(chin_y(f) - 0.1 * f.h)) :] = 0
        # The colour just above the forehead.
        x0, x1 = round(f.cx - 0.25 * f.w), round(f.cx + 0.25 * f.w)
        y0, y1 = round(f.y - 0.22 * f.h), round(f.y - 0.04 * f.h)
        x0, x1, y0, y1 = max(0, x0), min(s.w, x1), max(0, y0), min(s.h, y1)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        sample = (
            float(np.median(s.y[y0:y1, x0:x1])),
            float(np.median(s.u[y0:y1, x0:x1])),
            float(np.median(s.v[y0:y1, x0:x1])),
        )
        ly, lu, lv = self._track_source(sample)
        person = self.person.mask(ctx) if self.person.segmenter is not None else None
        # Within the person the background cannot be taken for hair: shade (luma) counts
        # less, so the darker locks over the forehead and at the sides are taken too.
        shade = 0.3 if person is None else 0.1
        chroma = cv2.absdiff(s.u, round(lu)).astype(np.float32) + cv2.absdiff(s.v, round(lv))
        d = chroma + shade * cv2.absdiff(s.y, round(ly)).astype(np.float32)
        m = _soft(d, 16.0, 32.0)
        m *= prior.astype(np.float32) * (1 / 255)
        if person is not None:
            m *= person.astype(np.float32) * (1 / 255)
            # Nor the skin beside the face: a pixel nearer the cheeks' chroma than the hair's is skin.
            cx0, cx1 = max(0, round(ex - 0.4 * ax)), min(s.w, round(ex + 0.4 * ax))
            cy0, cy1 = max(0, round(ey)), min(s.h, round(ey + 0.4 * ay))
            if cx1 > cx0 and cy1 > cy0:
                su, sv = float(np.median(s.u[cy0:cy1, cx0:cx1])), float(np.median(s.v[cy0:cy1, cx0:cx1]))
                skin = cv2.absdiff(s.u, round(su)).astype(np.float32) + cv2.absdiff(s.v, round(sv))
                m *= np.clip((skin - chroma) * (1 / 6.0) + 0.5, 0.0, 1.0)
        mask = cv2.medianBlur(_to_u8(m), 3)
        return cv2.GaussianBlur(mask, (0, 0), 0.8), (ly, lu, lv)

    def apply(self, ctx: FrameContext) -> None:
        found = self.mask(ctx)
        if found is not None:
            mask, source = found
            ChromaMap(source, self.color).apply(ctx, mask, self.strength)


class RecolorBackground(_Recolor):
    """"make the background blue": everything outside the person."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self.model = PersonModel()

    def mask(self, ctx: FrameContext) -> tuple[np.ndarray, tuple[float, float, float]] | None:
        person = self.model.mask(ctx)
        if person is None:
            return None
        back = cv2.bitwise_not(person)
        s = _small(ctx)
        sample = _mean_color(s, (back > 128).astype(np.float32))
        if sample is None:
            return None
        return back, self._track_source(sample)

    def apply(self, ctx: FrameContext) -> None:
        found = self.mask(ctx)
        if found is not None:
            mask, source = found
            ChromaMap(source, self.color).apply(ctx, mask, self.strength)


class RecolorDominant(_Recolor):
    """"change the car to blue": the frame's dominant saturated colour, wherever it is."""

    needs_face = False
    MIN_SATURATION = 24
    """Chroma distance from neutral (U, V units) below which a pixel has no hue to speak of."""

    def __init__(self, spec: EditSpec) -> None:
        super().__init__(spec)
        self._lut: np.ndarray | None = None
        self._lut_for: tuple[int, int] | None = None

    def mask(self, ctx: FrameContext) -> tuple[np.ndarray, tuple[float, float, float]] | None:
        s = _small(ctx)
        du = s.u.astype(np.int16) - 128
        dv = s.v.astype(np.int16) - 128
        saturated = (np.abs(du) + np.abs(dv)) >= self.MIN_SATURATION
        if saturated.mean() < 0.005:
            return None
        peak = _chroma_peak(s.u, s.v, saturated.astype(np.float32))
        if peak is None:
            return None
        near = (cv2.absdiff(s.u, peak[0]).astype(np.int16) + cv2.absdiff(s.v, peak[1]) < 20) & saturated
        sample = _mean_color(s, near.astype(np.float32))
        if sample is None:
            return None
        y0, u0, v0 = self._track_source(sample, jump=30.0)
        key = (round(u0) >> 1, round(v0) >> 1)
        if self._lut is None or key != self._lut_for:
            self._lut = self._build_lut(u0, v0)
            self._lut_for = key
        m = self._lut[(s.u >> 2).astype(np.intp), (s.v >> 2).astype(np.intp)]
        if ctx.face is not None:  # protect a known face (skin often shares a hue with orange/red things)
            (ex, ey), (ax, ay) = face_ellipse(_scaled(ctx.face))
            _ellipse(m, (ex, ey), (ax * 1.1, ay * 1.1), 0)
        mask = cv2.medianBlur(m, 3)
        return cv2.GaussianBlur(mask, (0, 0), 0.8), (y0, u0, v0)

    def _build_lut(self, u0: float, v0: float) -> np.ndarray:
        """Mask value for each (u/4, v/4): near the cluster's hue and of a similar saturation."""
        grid = np.arange(64, dtype=np.float32) * 4 + 2 - 128
        du, dv = np.meshgrid(grid, grid, indexing="ij")
        sat = np.hypot(du, dv)
        hue = np.arctan2(dv, du)
        s0 = math.hypot(u0 - 128, v0 - 128)
        h0 = math.atan2(v0 - 128, u0 - 128)
        dh = np.abs((hue - h0 + np.pi) % (2 * np.pi) - np.pi) * (180 / np.pi)
        hue_ok = _soft(dh.astype(np.float32), 14.0, 26.0)
        ratio = sat / max(s0, 1.0)
        sat_ok = np.clip((ratio - 0.45) / 0.2, 0, 1) * np.clip((2.2 - ratio) / 0.4, 0, 1)
        sat_ok *= np.clip((sat - self.MIN_SATURATION * 0.6) / (self.MIN_SATURATION * 0.4), 0, 1)
        return _to_u8(hue_ok * sat_ok)

    def apply(self, ctx: FrameContext) -> None:
        found = self.mask(ctx)
        if found is not None:
            mask, source = found
            ChromaMap(source, self.color).apply(ctx, mask, self.strength)


class BlurBackground:
    """"blur the background": everything outside the person, softly (a shallow depth of field)."""

    stage = STAGE_REGION
    needs_face = True

    def __init__(self, spec: EditSpec) -> None:
        self.spec = spec
        self.sigma = 2.5 * float(min(3.0, max(0.2, spec.amount)))  # at 1/4 size: ~10 px at full size
        self.model = PersonModel()

    def apply(self, ctx: FrameContext) -> None:
        person = self.model.mask(ctx)
        if person is None:
            return
        # Blur what the frame holds now (earlier edits included) at 1/4 size, blend back at full size.
        back = cv2.bitwise_not(person)
        w4, h4 = back.shape[1], back.shape[0]
        for plane in (ctx.y, ctx.u, ctx.v):
            size = (plane.shape[1], plane.shape[0])
            blurred = cv2.GaussianBlur(_shrink(plane, w4, h4), (0, 0), self.sigma)
            blurred = cv2.resize(blurred, size, interpolation=cv2.INTER_LINEAR)
            _blend_into(plane, blurred, cv2.resize(back, size, interpolation=cv2.INTER_LINEAR))

    def __repr__(self) -> str:
        return "BlurBackground()"


def recolor_region(spec: EditSpec) -> RecolorTorso | RecolorHair | RecolorBackground | RecolorDominant:
    """The recolour edit for ``spec.target``: torso, hair, background, or the dominant colour."""
    target = " ".join((spec.target or "").lower().split())
    if target in TORSO_WORDS:
        return RecolorTorso(spec)
    if target in HAIR_WORDS:
        return RecolorHair(spec)
    if target in BACKGROUND_WORDS:
        return RecolorBackground(spec)
    return RecolorDominant(spec)


EDITS: dict[str, Callable[[EditSpec], Edit]] = {
    "recolor_region": recolor_region,
    "blur_background": BlurBackground,
}
"""Edit kind -> factory (an :class:`~.frame.Edit` for an :class:`~.frame.EditSpec`)."""
