"""Where the edited video goes: one relay fanning out to a recording, a window and a virtual camera.

Shared by ``decart edit`` (:mod:`.session`) and ``decart watch``
(:mod:`.watch`)::

    link.remote ──▶ Relay ─┬─(50 frames)──▶ Recorder   (file)
                           ├─(newest)─────▶ Window     (optionally beside its input)
                           └─(newest)─────▶ VirtualCamera

The relay reads the link's track (so aiortc's unbounded receive queue is
always drained) and gives each sink a bounded buffer of its own: the
recorder may fall up to 50 frames (2 s at 25 fps) behind before it drops,
the window and the virtual camera only ever show the newest frame. An edit
session's relay outlives its links and repeats the last frame between them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from aiortc import MediaStreamTrack

from ..config import Screen
from ..media.recorder import Recorder
from ..media.relay import Relay

if TYPE_CHECKING:
    from ..media.vcam import VirtualCamera
    from ..media.window import Window

T = TypeVar("T")

RECORDER_QUEUE = 50
"""Frames the recorder may fall behind before the relay drops for it (2 s at 25 fps)."""


def from_thread(loop: asyncio.AbstractEventLoop, callback: Callable[[T], None]) -> Callable[[T], None]:
    """``callback`` for another thread (a sink's) to call: it runs on ``loop`` (and not at all once the loop has closed: the session is over)."""

    def call(value: T) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, value)

    return call


def new_window(title: str, screen: Screen) -> Window:
    """A window (not yet open) titled ``title``."""
    from ..media.window import Window  # its GUI toolkit loads only when a window is shown (start-up time)

    return Window(title, screen=screen)


def new_vcam(width: int, height: int, fps: float, *, device: str | None, backend: str) -> VirtualCamera:
    """A virtual camera (not yet started) of the model's size and rate."""
    from ..media.vcam import VirtualCamera  # pyvirtualcam loads only with --vcam (start-up time)

    return VirtualCamera(width, height, fps, device=device, backend=backend)


@dataclass
class Sinks:
    """The relay and the sinks it feeds (see the module docstring); built by :func:`wire`."""

    relay: Relay
    recorder: Recorder | None = None
    window: Window | None = None
    vcam: VirtualCamera | None = None


def wire(
    relay: Relay,
    *,
    recorder: Recorder | None = None,
    window: Window | None = None,
    vcam: VirtualCamera | None = None,
    shown: Callable[[MediaStreamTrack], MediaStreamTrack] | None = None,
) -> Sinks:
    """Subscribe each sink given to ``relay``; ``shown`` wraps what the window shows (e.g. the input beside the edit)."""
    if recorder is not None:
        recorder.addTrack(relay.subscribe(maxsize=RECORDER_QUEUE, name="recorder"))
    if window is not None:
        track = relay.subscribe(maxsize=1, name="window")
        window.addTrack(shown(track) if shown is not None else track)
    if vcam is not None:
        vcam.addTrack(relay.subscribe(maxsize=1, name="vcam"))
    return Sinks(relay, recorder, window, vcam)


__all__ = ["RECORDER_QUEUE", "Sinks", "from_thread", "new_vcam", "new_window", "wire"]
