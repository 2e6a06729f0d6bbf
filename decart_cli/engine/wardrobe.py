"""What the person wears: head and neck accessories (crown, cap, headphones, bow tie) and shirt patterns (striped, checked, polka dots)."""

from __future__ import annotations

EDITS: dict = {}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
