"""The engine interface: what ``decart serve`` runs on every decoded frame.

An engine turns a text prompt into an edit and then applies that edit to
frames, one at a time, synchronously. It knows nothing about the network:
the server decodes a frame, hands its pixels to :meth:`Engine.process` (in a
worker thread) and encodes whatever comes back.

Any class with these members is an engine (a :class:`typing.Protocol`, so no
base class is needed)::

    # my_engines.py
    import numpy as np
    from decart_cli.errors import UnsupportedPrompt

    class Mirror:
        pixel_format = "bgr24"          # frames arrive as (H, W, 3) uint8 BGR

        def __init__(self) -> None:
            self.on = False

        def set_prompt(self, prompt: str) -> None:
            text = prompt.strip().lower()
            if text not in ("", "mirror"):
                raise UnsupportedPrompt(f"cannot do {prompt!r}; it can: mirror")
            self.on = text == "mirror"

        def process(self, image: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(image[:, ::-1]) if self.on else image

        def describe(self) -> str:
            return "mirror" if self.on else "passthrough"

and is served with ``decart serve --engine my_engines:Mirror`` (the current
directory is searched for ``my_engines.py`` after the usual import path).

:func:`load_engine` turns that ``module:Class`` spec into an instance, or
raises :class:`~decart_cli.errors.UsageError` with a one-line message.

Reference images (optional): an engine that also has::

    def set_image(self, image: np.ndarray | None) -> None:
        ...

takes the reference image the service's ``set_image`` message carries (the
server decodes it): ``image`` is an ``(H, W, 3)`` uint8 BGR array of any
size, or None to clear it; a bad array raises ValueError. Like
:meth:`Engine.set_prompt` it may be called from another thread than
:meth:`Engine.process`, so the engine should swap its image in one
assignment. An engine without ``set_image`` does not take reference images
(the server refuses them for it); :func:`accepts_image` tells which.

Other optional members, each used when present:

* ``notice() -> str``: what the user should know about the current edit
  beyond "applied" ("'sombrero' is drawn as a plain hat", "waiting for a
  face"); the server puts it in the prompt's acknowledgement (``note``) and
  sends it again when it changes.
* ``warm() -> None``: work the engine would otherwise do on its first
  prompt; the server runs it (in a thread) as it starts, before it accepts
  clients.
"""

from __future__ import annotations

import importlib
import re
from typing import Protocol, runtime_checkable

import numpy as np

from decart_cli.errors import UsageError

PIXEL_FORMATS = ("yuv420p", "bgr24")
"""The pixel formats an engine may ask for."""

_SPEC_RE = re.compile(
    r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$"
)


@runtime_checkable
class Engine(Protocol):
    """A synchronous frame editor driven by text prompts.

    One instance serves one session. :meth:`set_prompt` and :meth:`process`
    may be called from different threads; an engine should swap its edit in
    one assignment so that a frame sees either the old edit or the new one.
    The optional ``set_image`` member (reference images; see the module
    docstring and :func:`accepts_image`) is not part of this protocol.
    """

    pixel_format: str
    """``"yuv420p"``: an ``(H*3//2, W)`` uint8 I420 array, as
    ``av.VideoFrame.to_ndarray(format="yuv420p")`` gives (Y plane, then U,
    then V); or ``"bgr24"``: an ``(H, W, 3)`` uint8 BGR array."""

    def set_prompt(self, prompt: str) -> None:
        """Switch to the edit this prompt asks for.

        If the engine cannot do it, raise
        :class:`~decart_cli.errors.UnsupportedPrompt` whose message lists
        what it can do, and keep the previous edit in effect.
        """
        ...

    def process(self, image: np.ndarray) -> np.ndarray:
        """Return the edited frame, same shape and format as ``image``.

        May modify ``image`` in place and return it.
        """
        ...

    def describe(self) -> str:
        """A short human description of the current edit, for logs."""
        ...


def accepts_image(engine: object) -> bool:
    """True if ``engine`` takes reference images: it has a callable ``set_image`` (see the module docstring)."""
    return callable(getattr(engine, "set_image", None))


def load_engine(spec: str | None) -> Engine:
    """Return the engine named by ``spec``.

    ``None`` (or ``"builtin"``) gives the built-in
    :class:`~decart_cli.engine.builtin.BuiltinEngine`; ``"module:Class"``
    imports ``module`` (from ``sys.path``: the command that loads an engine
    puts the working directory there, so a local ``module.py`` is found)
    and calls ``Class()`` with no arguments.

    Raises :class:`~decart_cli.errors.UsageError` (one line plus a hint, no
    traceback) when the spec is malformed, the module cannot be imported,
    the attribute is missing or not a class, construction fails, or the
    object lacks a member of :class:`Engine`.
    """
    if spec is None or spec.strip() == "builtin":
        from decart_cli.engine.builtin import BuiltinEngine

        return BuiltinEngine()

    spec = spec.strip()
    match = _SPEC_RE.match(spec)
    if match is None:
        raise UsageError(f"bad engine spec {spec!r}", fix="engine_spec")
    module_name, attr_path = match["module"], match["attr"]

    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, SyntaxError, errors raised at import time
        raise UsageError(
            f"cannot import engine module {module_name!r} ({_one_line(exc)})",
            "check the name and that it is importable from the current directory or PYTHONPATH",
        ) from None

    obj: object = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(
                f"engine module {module_name!r} has no attribute {attr_path!r}",
                fix="engine_spec",
            ) from None
    if not isinstance(obj, type):
        raise UsageError(
            f"engine {spec!r} is a {type(obj).__name__}, not a class",
            fix="engine_spec",
        )

    try:
        engine = obj()
    except Exception as exc:
        raise UsageError(
            f"cannot create engine {spec!r} ({_one_line(exc)})",
            "the class must be constructible with no arguments",
        ) from None

    missing = [
        name
        for name in ("set_prompt", "process", "describe")
        if not callable(getattr(engine, name, None))
    ]
    if missing:
        raise UsageError(
            f"engine {spec!r} lacks {', '.join(missing)}",
            "an engine needs pixel_format, set_prompt(prompt), process(image) and describe()",
        )
    pixel_format = getattr(engine, "pixel_format", None)
    if pixel_format not in PIXEL_FORMATS:
        raise UsageError(
            f"engine {spec!r} has pixel_format {pixel_format!r}",
            f"it must be one of {', '.join(repr(p) for p in PIXEL_FORMATS)}",
        )
    return engine  # type: ignore[return-value]


def _one_line(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
