"""Editing engines: prompt -> edit, frame in -> frame out. Pure, synchronous, no network.

- :mod:`decart_cli.engine.base`: the :class:`Engine` protocol and
  :func:`load_engine` (``None`` or ``"module:Class"`` -> an engine).
- :mod:`decart_cli.engine.instructions`: :func:`parse`, English instructions
  -> :class:`~decart_cli.engine.frame.EditSpec` list (pure, no numpy).
- :mod:`decart_cli.engine.builtin`: :class:`BuiltinEngine`, which turns specs
  into edits (:mod:`.styles`, :mod:`.regions`, :mod:`.overlays`,
  :mod:`.scene`, with :mod:`.face` tracking) and runs them on I420 frames.

``BuiltinEngine`` is imported on first use, so importing this package (or
the parser) does not load every edit module. OpenCV itself is loaded by
``decart_cli``'s own ``__init__`` (before PyAV, see there), so it is in
every process that imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from decart_cli.engine.base import Engine, load_engine
from decart_cli.engine.instructions import parse

if TYPE_CHECKING:
    from decart_cli.engine.builtin import BuiltinEngine

__all__ = ["BuiltinEngine", "Engine", "load_engine", "parse"]


def __getattr__(name: str) -> Any:
    if name == "BuiltinEngine":
        from decart_cli.engine.builtin import BuiltinEngine

        return BuiltinEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
