"""Time of day and weather over the whole picture: night, sunset, fog, fire, lightning."""

from __future__ import annotations

EDITS: dict = {}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
