"""Art styles over the whole picture: watercolor, oil painting, pop art, coloured pencil, mosaic."""

from __future__ import annotations

EDITS: dict = {}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
