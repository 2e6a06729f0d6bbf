"""The built-in engine: simple colour edits on I420 frames, with no model.

It understands a handful of prompts (case, punctuation and surrounding
whitespace do not matter):

- ``""`` (or ``reset`` / ``none`` / ``original``): no edit;
- ``invert the colors`` / ``invert colours`` / ``invert`` / ``negative``;
- ``black and white`` / ``grayscale`` / ``greyscale`` / ``monochrome``;
- ``tint it <color>`` / ``tint <color>`` / ``make it <color>`` /
  ``turn it <color>`` / ``<color>``, for the colours in :data:`COLORS`.

Every edit is a per-plane lookup table (or a fill) applied in place to the
Y, U and V planes of the I420 buffer: no BGR conversion, well under a
millisecond per 1280x704 frame. Colours are converted with BT.601 limited
range, which is what libavcodec/aiortc use for ``yuv420p``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from decart_cli.errors import EngineError, UnsupportedPrompt

TINT_STRENGTH = 0.6
"""How far a tint pulls the chroma planes toward the colour (0 = none, 1 = flat colour)."""

COLORS: dict[str, tuple[int, int, int]] = {
    # the 16 CSS basic colours, as RGB
    "black": (0, 0, 0),
    "silver": (192, 192, 192),
    "gray": (128, 128, 128),
    "white": (255, 255, 255),
    "maroon": (128, 0, 0),
    "red": (255, 0, 0),
    "purple": (128, 0, 128),
    "fuchsia": (255, 0, 255),
    "green": (0, 128, 0),
    "lime": (0, 255, 0),
    "olive": (128, 128, 0),
    "yellow": (255, 255, 0),
    "navy": (0, 0, 128),
    "blue": (0, 0, 255),
    "teal": (0, 128, 128),
    "aqua": (0, 255, 255),
    # and a few more everyday ones
    "orange": (255, 165, 0),
    "pink": (255, 192, 203),
    "brown": (165, 42, 42),
    "gold": (255, 215, 0),
}
"""Colour names a tint understands, as RGB."""

COLOR_ALIASES = {"grey": "gray", "magenta": "fuchsia", "cyan": "aqua"}
"""Other spellings of names in :data:`COLORS`."""

_ACHROMATIC = {
    # name: (chroma strength toward neutral, luma strength toward the colour's Y)
    "white": (TINT_STRENGTH, 0.5),  # washed out, brighter
    "black": (TINT_STRENGTH, 0.5),  # muted, darker
    "gray": (1.0, 0.3),  # colourless, lower contrast
    "silver": (1.0, 0.3),  # colourless, lighter
}

_PASSTHROUGH = {"", "reset", "none", "no edit", "original", "passthrough", "clear"}
_INVERT_RE = re.compile(
    r"^(?:(?:invert|negate)(?: the| all(?: the)?)?(?: colou?rs?| image| picture| video)?"
    r"|(?:make it )?(?:a |photo )?negative)$"
)
_GRAY_RE = re.compile(
    r"^(?:(?:make|turn|convert) (?:it )?(?:to |into |in )?)?"
    r"(?:black and white|b and w|b w|gr[ae]y ?scale|monochrome|desaturated?)$"
)
_TINT_RE = re.compile(
    r"^(?:(?:tint|colou?r|make|turn|paint)(?: it| everything| the (?:image|picture|video|scene))?"
    r"(?: to| in| into)? )?(?P<color>[a-z]+)(?: tint| tinted)?$"
)


def rgb_to_yuv(r: float, g: float, b: float) -> tuple[float, float, float]:
    """BT.601 limited-range Y, U (Cb), V (Cr) of an 8-bit RGB colour."""
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return y, u, v


def _blend_lut(target: float, strength: float) -> np.ndarray | None:
    """Lookup table x -> x + (target - x) * strength, or None when it is the identity."""
    if strength == 0:
        return None
    x = np.arange(256, dtype=np.float64)
    return np.clip(np.rint(x + (target - x) * strength), 0, 255).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class _Edit:
    """One edit, fixed at set_prompt time; process() only applies it."""

    description: str
    kind: str  # "pass" | "invert" | "gray" | "lut"
    y_lut: np.ndarray | None = None
    u_lut: np.ndarray | None = None
    v_lut: np.ndarray | None = None


_NO_EDIT = _Edit("passthrough", "pass")


def _tint(name: str) -> _Edit:
    """The edit for ``tint it <name>``."""
    y, u, v = rgb_to_yuv(*COLORS[name])
    if name in _ACHROMATIC:
        chroma_strength, luma_strength = _ACHROMATIC[name]
        return _Edit(
            f"tint {name}",
            "lut",
            y_lut=_blend_lut(y, luma_strength),
            u_lut=_blend_lut(128, chroma_strength),
            v_lut=_blend_lut(128, chroma_strength),
        )
    return _Edit(
        f"tint {name}",
        "lut",
        u_lut=_blend_lut(u, TINT_STRENGTH),
        v_lut=_blend_lut(v, TINT_STRENGTH),
    )


def normalize_prompt(prompt: str) -> str:
    """Lower-case, ``&`` read as ``and``, punctuation dropped, spaces collapsed, ``please`` dropped."""
    text = prompt.lower().replace("&", " and ")
    text = " ".join(re.sub(r"[^a-z0-9\s]+", " ", text).split())
    text = re.sub(r"^please |(?:^| )please$", "", text).strip()
    return text


def parse_prompt(prompt: str) -> _Edit | None:
    """The edit a prompt asks for, or None when the built-in engine cannot do it."""
    text = normalize_prompt(prompt)
    if text in _PASSTHROUGH:
        return _NO_EDIT
    if _INVERT_RE.match(text):
        return _Edit("invert the colors", "invert")
    if _GRAY_RE.match(text):
        return _Edit("black and white", "gray")
    match = _TINT_RE.match(text)
    if match:
        name = COLOR_ALIASES.get(match["color"], match["color"])
        if name in COLORS:
            return _tint(name)
    return None


CAPABILITIES = (
    "invert the colors, black and white, tint it <color> ("
    + ", ".join(COLORS)
    + "), or an empty prompt for no edit"
)
"""What the built-in engine can do, as shown to users."""


class BuiltinEngine:
    """Colour edits on ``yuv420p`` frames: passthrough, invert, black and white, tint.

    ``set_prompt`` swaps the current edit in one assignment, so it is safe to
    call while another thread runs ``process``.
    """

    pixel_format = "yuv420p"

    def __init__(self) -> None:
        self._edit = _NO_EDIT

    def set_prompt(self, prompt: str) -> None:
        """Switch to the edit ``prompt`` asks for.

        Raises :class:`UnsupportedPrompt` naming what it cannot do and
        listing what it can; the previous edit stays in effect.
        """
        edit = parse_prompt(prompt)
        if edit is None:
            shown = " ".join(prompt.split())
            if len(shown) > 80:
                shown = shown[:77] + "..."
            raise UnsupportedPrompt(
                f"the local engine cannot do {shown!r}; it can: {CAPABILITIES}"
            )
        self._edit = edit

    def describe(self) -> str:
        """The current edit, e.g. ``"tint red"`` or ``"passthrough"``."""
        return self._edit.description

    def process(self, image: np.ndarray) -> np.ndarray:
        """Apply the current edit to an I420 ``(H*3//2, W)`` uint8 frame, in place when it can.

        Returns the same array (or a contiguous copy when ``image`` was not
        contiguous). Raises :class:`EngineError` for an array that is not I420.
        """
        edit = self._edit  # read once: set_prompt may swap it meanwhile
        if edit.kind == "pass":
            return image
        if image.dtype != np.uint8 or image.ndim != 2 or image.shape[0] % 3 or image.shape[1] % 2:
            raise EngineError(
                "the built-in engine needs an I420 (yuv420p) uint8 frame of shape (H*3/2, W), "
                f"got {image.dtype} {image.shape}"
            )
        if not image.flags.c_contiguous:
            image = np.ascontiguousarray(image)

        if edit.kind == "invert":
            cv2.bitwise_not(image, dst=image)
            return image

        height = image.shape[0] * 2 // 3
        chroma = image.reshape(-1)[height * image.shape[1] :]  # U plane then V plane
        if edit.kind == "gray":
            chroma.fill(128)
            return image

        if edit.y_lut is not None:
            luma = image[:height]
            cv2.LUT(luma, edit.y_lut, dst=luma)
        planes = chroma.reshape(2, -1)
        u, v = planes[0:1], planes[1:2]
        if edit.u_lut is not None:
            cv2.LUT(u, edit.u_lut, dst=u)
        if edit.v_lut is not None:
            cv2.LUT(v, edit.v_lut, dst=v)
        return image
