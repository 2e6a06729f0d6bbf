"""Looks that change the face itself: beard, glasses, makeup, clown / zombie / robot, older / younger."""

from __future__ import annotations

EDITS: dict = {}
"""Edits of this module, by kind (merged into :data:`.builtin.REGISTRY`)."""
