"""The reference image: a picture given to the engine with ``set_image``, shown or used as the background.

:meth:`~.builtin.BuiltinEngine.set_image` wraps the picture (an ``(H, W, 3)``
uint8 BGR array of any size) in a :class:`Reference`. What a frame needs from
it is made lazily, for that frame's size, converted to I420 once and cached
(a stream keeps its size, so after the first frame each use is a plane copy
or a blend):

picture-in-picture (:meth:`Reference.pip`)
    With no prompt about the image, the engine draws it in the top-right
    corner after all the prompt's edits: :data:`PIP_WIDTH` of the frame's
    width (its aspect ratio kept), :data:`PIP_MARGIN` from the edges, inside a
    :data:`PIP_BORDER`-pixel light border (:func:`pip_box` gives the place).
the background (:meth:`Reference.cover`, :class:`.backdrops.ImageBackground`)
    "replace the background with the image", "use the image as the
    background", "put me in front of the image": the image, cover-fitted to
    the frame (scaled to fill it, centred, the overflow cropped), replaces
    everything outside the person, composited as the painted backdrops are
    (:func:`.backdrops.composite`). Without an image
    (or a face) the edit leaves the frame as it is, so the prompt may come
    before the image.

The engine hands the current :class:`Reference` to edits of a frame as
``ctx.cache[CACHE_KEY]``; an edit with ``uses_image = True`` turns the
picture-in-picture off.

The words that ask for it ("use the image as the background", ...) are a
row of :mod:`.instructions`' rules.
"""

from __future__ import annotations

import cv2
import numpy as np

from .frame import FrameContext

__all__ = [
    "CACHE_KEY",
    "EXAMPLE",
    "KIND",
    "Reference",
    "cover_crop",
    "pip_box",
    "validate_image",
]

KIND = "image_background"
"""The :attr:`~.frame.EditSpec.kind` of "use the image as the background"."""
EXAMPLE = "use the image as the background"
"""How the refusal lists it among what the engine can do."""
CACHE_KEY = "reference.image"
"""``ctx.cache`` key under which the engine passes the current :class:`Reference` to a frame's edits."""

PIP_WIDTH = 0.25
"""Picture-in-picture width, as a share of the frame's width (before fitting its height in the frame)."""
PIP_MARGIN = 0.02
"""Gap between the picture-in-picture's border and the frame's top and right edges, as a share of the frame's width."""
PIP_BORDER = 2
"""Width in pixels of the light border around the picture-in-picture (even, so chroma stays aligned)."""
PIP_BORDER_Y = 235
"""Luma of the border: limited-range white (its chroma is neutral)."""
MAX_SIDE = 4096
"""A bigger reference image is shrunk to this longest side when set (no frame needs more)."""


def validate_image(image: object) -> np.ndarray:
    """``image`` as the engine keeps it: its own contiguous ``(H, W, 3)`` uint8 copy.

    Raises ValueError, saying what was expected and what came, for anything
    else (not an array, not 3 channels, empty, not uint8).
    """
    expected = "a reference image must be an (H, W, 3) uint8 BGR array"
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{expected}, got a {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{expected}, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{expected}, got an empty one (shape {image.shape})")
    if image.dtype != np.uint8:
        raise ValueError(f"{expected}, got dtype {image.dtype}")
    h, w = image.shape[:2]
    if max(h, w) > MAX_SIDE:
        k = MAX_SIDE / max(h, w)
        return cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return np.array(image, order="C")  # a copy: the caller may reuse its buffer


def _even(value: float) -> int:
    return 2 * int(round(value / 2))


def pip_box(width: int, height: int, image_w: int, image_h: int) -> tuple[int, int, int, int] | None:
    """Where the picture-in-picture goes in a ``width`` x ``height`` frame: ``(x, y, w, h)`` of the picture.

    The border lies around that box, :data:`PIP_BORDER` pixels wide. All four
    numbers are even (so the box covers whole chroma samples). None when the
    frame is too small to hold a picture of at least 2x2 with its border.
    """
    margin = max(2, _even(PIP_MARGIN * width))
    room_w = width - 2 * margin - 2 * PIP_BORDER
    room_h = height - 2 * margin - 2 * PIP_BORDER
    w = min(_even(PIP_WIDTH * width), room_w - room_w % 2)
    h = _even(w * image_h / image_w)
    if h > room_h:  # a tall picture: fit its height instead
        h = room_h - room_h % 2
        w = min(w, _even(h * image_w / image_h))
    w, h = max(2, w), max(2, h)
    if w > room_w or h > room_h:
        return None
    return width - margin - PIP_BORDER - w, margin + PIP_BORDER, w, h


def cover_crop(image_w: int, image_h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The centred part ``(x, y, w, h)`` of an image that, scaled, exactly fills a ``width`` x ``height`` frame."""
    scale = max(width / image_w, height / image_h)
    w = min(image_w, max(1, round(width / scale)))
    h = min(image_h, max(1, round(height / scale)))
    return (image_w - w) // 2, (image_h - h) // 2, w, h


def _i420(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y, U, V planes (as the frames have) of an even-sized BGR image."""
    h, w = bgr.shape[:2]
    flat = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    q = (h // 2) * (w // 2)
    y = flat[: h * w].reshape(h, w)
    u = flat[h * w : h * w + q].reshape(h // 2, w // 2)
    v = flat[h * w + q :].reshape(h // 2, w // 2)
    return y, u, v


def _resized(bgr: np.ndarray, w: int, h: int) -> np.ndarray:
    shrink = w <= bgr.shape[1] and h <= bgr.shape[0]
    return cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


class Reference:
    """One reference image and what frames of a given size need of it, made on first use and kept.

    Built where the image is set (validating it: ValueError); used by one
    frame-processing thread at a time. A stream of another size costs one
    more conversion (the last size is kept per use).
    """

    def __init__(self, image: np.ndarray) -> None:
        self.bgr = validate_image(image)
        self._pip: tuple[tuple[int, int], tuple[tuple[int, int, int, int], Planes] | None] | None = None
        self._cover: tuple[tuple[int, int], Planes] | None = None

    @property
    def width(self) -> int:
        return self.bgr.shape[1]

    @property
    def height(self) -> int:
        return self.bgr.shape[0]

    def pip(self, width: int, height: int) -> tuple[tuple[int, int, int, int], Planes] | None:
        """The picture-in-picture for a frame: its box (see :func:`pip_box`) and its Y, U, V planes; None if it cannot fit."""
        key = (width, height)
        if self._pip is None or self._pip[0] != key:
            box = pip_box(width, height, self.width, self.height)
            made = None if box is None else (box, _i420(_resized(self.bgr, box[2], box[3])))
            self._pip = (key, made)
        return self._pip[1]

    def cover(self, width: int, height: int) -> Planes:
        """The image cover-fitted to a ``width`` x ``height`` frame, as its Y, U, V planes."""
        key = (width, height)
        if self._cover is None or self._cover[0] != key:
            x, y, w, h = cover_crop(self.width, self.height, width, height)
            self._cover = (key, _i420(_resized(self.bgr[y : y + h, x : x + w], width, height)))
        return self._cover[1]

    def draw_pip(self, ctx: FrameContext) -> None:
        """Draw the picture-in-picture, with its border, into ``ctx.image`` (nothing if the frame is too small)."""
        made = self.pip(ctx.width, ctx.height)
        if made is None:
            return
        (x, y, w, h), (py, pu, pv) = made
        b = PIP_BORDER
        ctx.y[y - b : y + h + b, x - b : x + w + b] = PIP_BORDER_Y
        ctx.y[y : y + h, x : x + w] = py
        cx, cy, cw, ch, cb = x // 2, y // 2, w // 2, h // 2, b // 2
        for plane, picture in ((ctx.u, pu), (ctx.v, pv)):
            plane[cy - cb : cy + ch + cb, cx - cb : cx + cw + cb] = 128
            plane[cy : cy + ch, cx : cx + cw] = picture

    def __repr__(self) -> str:
        return f"Reference({self.width}x{self.height})"
