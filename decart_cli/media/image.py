"""Reference images: read a file, check it, and encode it as the protocol carries it (base64)."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageError

MAX_IMAGE_BYTES = 6 * 1024 * 1024
"""Largest image file sent (base64 makes it 4/3 larger; servers take 8 MiB messages)."""
MAX_IMAGE_SIDE = 4096


def load_image(path: Path) -> str:
    """The base64 text of the image file at ``path``; raises ImageError saying what is wrong."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"no image at {path}", "check the path") from None
    except IsADirectoryError:
        raise ImageError(f"{path} is a directory, not an image", "give a PNG or JPEG file") from None
    except OSError as exc:
        raise ImageError(f"cannot read {path} ({exc.strerror or exc.__class__.__name__})", "check the file's permissions") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{path} is {len(data) / 1e6:.1f} MB; at most {MAX_IMAGE_BYTES // (1024 * 1024)} MiB can be sent", "scale it down or save it as JPEG")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise ImageError(f"{path} is not an image that can be read", "give a PNG, JPEG or WebP file")
    height, width = image.shape[:2]
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageError(f"{path} is {width}x{height}; at most {MAX_IMAGE_SIDE} pixels a side", "scale it down")
    return base64.b64encode(data).decode("ascii")
