"""The tuning's one state object: what is installed, the active settings, each part's status.

Read and written by the parts (:mod:`.jitter`, :mod:`.encoder`, :mod:`.ice`)
and by :mod:`.registry`, which installs them; it imports nothing of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .settings import MediaTuning


@dataclass
class State:
    """Everything the tuning changes or knows, in one place (one instance: :data:`STATE`)."""

    tuning: MediaTuning = field(default_factory=MediaTuning)
    """The active settings: what new jitter buffers, encoders and transceivers get."""
    installed: dict[str, list[tuple[object, str, object]]] = field(default_factory=dict)
    """Part -> [(object patched, attribute, original value)], for :meth:`restore`."""
    classes: dict[str, type] = field(default_factory=dict)
    """Part -> the class it installed (the low-latency jitter buffer, the tuned encoder)."""
    status: dict[str, str] = field(default_factory=dict)
    """``enabled`` (``yes``/``no``) and each part's ``applied``, ``off`` or ``skipped: why``; empty before :func:`apply`."""
    warned: set[tuple[str, str]] = field(default_factory=set)
    """(part, why) skips already logged: a warning once per process, not per :func:`apply`."""

    def replace(self, part: str, target: object, attribute: str, value: object) -> None:
        """Set ``target.attribute`` to ``value``, remembering the value it had before ``part`` first set it."""
        records = self.installed.setdefault(part, [])
        if not any(t is target and a == attribute for t, a, _ in records):
            records.append((target, attribute, getattr(target, attribute)))
        setattr(target, attribute, value)

    def restore(self, part: str) -> None:
        """Put back what ``part`` replaced (nothing if it replaced nothing)."""
        for target, attribute, original in reversed(self.installed.pop(part, [])):
            setattr(target, attribute, original)
        self.classes.pop(part, None)


STATE = State()


__all__ = ["STATE", "State"]
