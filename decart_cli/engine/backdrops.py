"""The background as a scene behind the person: beach, forest, space, city, office, a solid colour, removed."""

from __future__ import annotations

EDITS: dict = {}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
