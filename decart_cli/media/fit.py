"""Shape one BGR image to the model's exact size.

Sources deliver whatever size the camera or file has; the model takes one
fixed size. :func:`fit_frame` is the single place where that gap is closed,
so every source fits frames the same way.
"""

from __future__ import annotations

import cv2
import numpy as np

from decart_cli.config import FIT_MODES, Fit



def fit_frame(
    img: np.ndarray, width: int, height: int, mode: Fit = "crop", mirror: bool = False
) -> np.ndarray:
    """Return ``img`` (BGR ``HxWx3`` uint8) as a contiguous BGR image of exactly ``width`` x ``height``.

    ``crop`` scales to cover the target and cuts the overflowing edges
    equally (no distortion, nothing black); ``pad`` scales to fit inside and
    centres the picture on black (letterbox or pillarbox); ``stretch``
    resizes each axis independently. ``mirror`` flips left/right.

    Grey (``HxW``) and BGRA images are accepted too and come out as BGR.
    """
    if mode not in FIT_MODES:
        raise ValueError(f"unknown fit mode {mode!r}; expected one of {', '.join(FIT_MODES)}")
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    img = _as_bgr(img)
    src_h, src_w = img.shape[:2]
    if src_w <= 0 or src_h <= 0:
        raise ValueError("cannot fit an empty image")

    if (src_w, src_h) == (width, height):
        out = img
    elif mode == "stretch":
        out = _resize(img, width, height)
    elif mode == "crop":
        # Cut the source to the target's aspect first, then resize: resizing
        # pixels that are about to be thrown away would be wasted work.
        scale = max(width / src_w, height / src_h)
        crop_w = min(src_w, max(1, round(width / scale)))
        crop_h = min(src_h, max(1, round(height / scale)))
        x0 = (src_w - crop_w) // 2
        y0 = (src_h - crop_h) // 2
        out = _resize(img[y0 : y0 + crop_h, x0 : x0 + crop_w], width, height)
    else:  # pad
        scale = min(width / src_w, height / src_h)
        inner_w = min(width, max(1, round(src_w * scale)))
        inner_h = min(height, max(1, round(src_h * scale)))
        inner = _resize(img, inner_w, inner_h)
        if (inner_w, inner_h) == (width, height):
            out = inner
        else:
            out = np.zeros((height, width, 3), dtype=np.uint8)
            x0 = (width - inner_w) // 2
            y0 = (height - inner_h) // 2
            out[y0 : y0 + inner_h, x0 : x0 + inner_w] = inner

    if mirror:
        # cv2.flip writes a new array, so this also makes `out` contiguous.
        return cv2.flip(out, 1)
    return np.ascontiguousarray(out)


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    src_h, src_w = img.shape[:2]
    if (src_w, src_h) == (width, height):
        return img
    # INTER_AREA averages the pixels it merges (no aliasing when shrinking)
    # but degrades to blocky nearest-neighbour when enlarging.
    shrinking = width <= src_w and height <= src_h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interpolation)


def _as_bgr(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    raise ValueError(f"expected a BGR image (HxWx3), got shape {img.shape}")
