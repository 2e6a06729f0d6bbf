"""Colour words the built-in engine understands, with their Y, U, V values.

Values are BT.601 limited range, as libavcodec/aiortc use for ``yuv420p``.
"""

from __future__ import annotations

from .frame import Color

_RGB: dict[str, tuple[int, int, int]] = {
    # the 16 CSS basic colours
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
    # everyday ones
    "orange": (255, 140, 0),
    "pink": (255, 105, 180),
    "brown": (139, 69, 19),
    "gold": (255, 200, 0),
    "blonde": (240, 210, 130),
    "violet": (148, 0, 211),
    "turquoise": (64, 224, 208),
    "beige": (225, 205, 160),
}

ALIASES = {"grey": "gray", "magenta": "fuchsia", "cyan": "aqua", "blond": "blonde", "golden": "gold", "dark blue": "navy", "light blue": "aqua", "dark green": "green", "dark red": "maroon"}
"""Other words for colours in the table."""


def rgb_to_yuv(r: int, g: int, b: int) -> tuple[int, int, int]:
    """BT.601 limited-range Y, U (Cb), V (Cr) of an 8-bit RGB colour."""
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


def _make(name: str, rgb: tuple[int, int, int]) -> Color:
    r, g, b = rgb
    y, u, v = rgb_to_yuv(r, g, b)
    return Color(name=name, bgr=(b, g, r), y=y, u=u, v=v)


COLORS: dict[str, Color] = {name: _make(name, rgb) for name, rgb in _RGB.items()}
"""Every colour by its canonical name."""

ACHROMATIC = frozenset({"black", "white", "gray", "silver"})
"""Colours with no hue: recolouring to them changes lightness, not chroma."""


def lookup_color(words: str) -> Color | None:
    """The colour named by ``words`` (case-insensitive; aliases allowed), or None."""
    key = " ".join(words.lower().split())
    key = ALIASES.get(key, key)
    return COLORS.get(key)


def color_names() -> list[str]:
    """Canonical colour names, in table order (for help and refusal messages)."""
    return list(COLORS)
