"""The tuning's one switch: its parts, what is installed, the active settings, each part's status.

Every part is listed once, in :func:`parts`: its name (the key in
:func:`status`), whether the settings want it, the function that installs
it (``"applied"`` or ``"skipped: why"``) and what its absence costs. The
modules that install the parts (:mod:`.jitter`, :mod:`.encoder`,
:mod:`.ice`) keep no state of their own: they read and record it in
:data:`.state.STATE`, which they import from :mod:`.state` (this module
imports them, never the reverse).

A part that cannot be installed (what it patches is missing in this
aiortc/aioice, or its self-test fails) is skipped, never an error, and said
once per process as a warning on the ``decart.rtc`` logger: which part, what
is missing, and what it costs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from . import encoder, ice, jitter
from .settings import MediaTuning
from .state import STATE

log = logging.getLogger("decart.rtc")


@dataclass(frozen=True)
class Part:
    """One piece of the tuning."""

    name: str
    """Its key in :func:`status`."""
    wanted: Callable[[MediaTuning], bool]
    """Whether these settings want it (else it is ``off`` and aiortc's own is put back)."""
    install: Callable[[], str]
    """Install it (idempotent; reads :data:`STATE`); ``"applied"`` or ``"skipped: why"``."""
    cost: str
    """What a session loses when it is skipped (said in the warning)."""
    needs: str | None = None
    """A part it only makes sense on: without it applied, this one is left out of :func:`status`."""


def parts() -> tuple[Part, ...]:
    """Every part of the tuning, in the order they are installed."""
    return (
        Part(
            "jitter",
            lambda t: t.jitter,
            jitter.patch_jitter_buffer,
            "each received video frame waits one frame interval longer, and a lost packet can hold the video for seconds",
        ),
        Part(
            "receiver_codecs",
            lambda t: t.jitter,
            jitter.patch_receiver_codecs,
            "frames missing their start reach the decoder broken instead of being dropped with a keyframe request",
            needs="jitter",
        ),
        Part(
            "h264_encoder",
            lambda t: t.encoder,
            encoder.patch_h264_encoder,
            "H.264 is encoded with aiortc's x264 settings (preset medium, no VBV cap, a new keyframe at every REMB change over 10%): more CPU and latency a frame",
        ),
        Part(
            "h264_bitrates",
            lambda t: t.encoder,
            encoder.patch_h264_bitrates,
            "H.264 starts at aiortc's 1 Mbit/s and takes ~20 s to reach a good quality",
        ),
        Part(
            "vp8_bitrates",
            lambda t: t.encoder,
            encoder.patch_vp8_bitrates,
            "VP8 starts at aiortc's 0.5 Mbit/s and takes ~20 s to reach a good quality",
        ),
        Part(
            "codec_preferences",
            lambda t: True,
            encoder.check_codec_preferences,
            "transceivers keep aiortc's codec order (VP8 first, ~6x the encoding CPU of x264 ultrafast)",
        ),
        Part(
            "ice_loopback",
            lambda t: True,
            ice.patch_loopback,
            "loopback sessions gather this machine's other addresses instead of 127.0.0.1 and need one that routes",
        ),
    )


def apply(tuning: MediaTuning | None = None) -> dict[str, str]:
    """Install the parts (once) and make ``tuning`` the active settings.

    Without ``tuning`` the active settings stay as they are (the defaults on
    the first call; nothing changes once applied or turned off). Returns
    :func:`status`. Never raises for a mismatched aiortc: a part that cannot
    be applied is skipped, with a warning (once per process).
    """
    state = STATE
    if tuning is None:
        if state.status:
            return status()  # already applied (or turned off): idempotent
        tuning = MediaTuning()
    state.tuning = tuning
    state.status["enabled"] = "yes"
    for part in parts():
        if not part.wanted(tuning) or (part.needs is not None and state.status.get(part.needs) != "applied"):
            state.restore(part.name)
            if part.needs is None:
                state.status[part.name] = "off"
            else:
                state.status.pop(part.name, None)
            continue
        try:
            result = part.install()
        except Exception as exc:  # an unexpected aiortc: never break a session over a tuning
            result = f"skipped: {exc.__class__.__name__}: {exc}"
        state.status[part.name] = result
        if result != "applied":
            _warn(part, result)
    return status()


def _warn(part: Part, result: str) -> None:
    """Log that ``part`` was skipped, once per process for each reason."""
    why = result.removeprefix("skipped: ").removeprefix("skipped")
    if (part.name, why) in STATE.warned:
        return
    STATE.warned.add((part.name, why))
    log.warning("rtc tuning: %s skipped (%s): %s", part.name, why, part.cost)


def configure(value: str) -> dict[str, str]:
    """Apply what a ``DECART_RTC_TUNING`` value asks for (the CLI reads the variable).

    ``off`` leaves aiortc and aioice stock for this process (the loopback
    hook included); raises ValueError for a bad value.
    """
    tuning = MediaTuning.parse(value)
    if tuning is None:
        unapply()
        STATE.status["enabled"] = "no"
        return status()
    return apply(tuning)


def unapply() -> None:
    """Restore everything :func:`apply` changed (for tests and A/B runs)."""
    state = STATE
    for part in reversed(list(state.installed)):
        state.restore(part)
    state.classes.clear()
    state.status.clear()
    state.tuning = MediaTuning()


def status() -> dict[str, str]:
    """``enabled`` and each part: ``applied``, ``off`` or ``skipped: why`` (empty before :func:`apply`)."""
    return dict(STATE.status)


def skipped_line(tuning_status: dict[str, str] | None = None) -> str | None:
    """``rtc tuning: <part> skipped (why)`` for each skipped part, on one line; None when none is."""
    current = status() if tuning_status is None else tuning_status
    skips = [
        f"{name} skipped ({value.removeprefix('skipped: ').removeprefix('skipped')})"
        for name, value in current.items()
        if value.startswith("skipped")
    ]
    return "rtc tuning: " + "; ".join(skips) if skips else None


def active() -> MediaTuning:
    """The settings new encoders and transceivers get."""
    return STATE.tuning
