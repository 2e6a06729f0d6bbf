"""Editing engines: prompt -> edit, frame in -> frame out. Pure, synchronous, no network.

- :mod:`decart_cli.engine.base`: the :class:`Engine` protocol and
  :func:`load_engine` (``None`` or ``"module:Class"`` -> an engine).
- :mod:`decart_cli.engine.builtin`: :class:`BuiltinEngine`, colour edits on
  I420 frames (invert, black and white, tint).
"""

from decart_cli.engine.base import Engine, load_engine
from decart_cli.engine.builtin import BuiltinEngine

__all__ = ["BuiltinEngine", "Engine", "load_engine"]
