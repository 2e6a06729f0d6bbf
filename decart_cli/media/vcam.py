"""Send the edited stream to a virtual camera that other apps can pick (Zoom, Meet, OBS, a browser).

The sink has the shape of the others (``addTrack``, ``start``, ``stop``)::

    track.recv() ──(one slot, newest wins)──▶ camera thread: I420 → pyvirtualcam.Camera.send

:mod:`pyvirtualcam` talks to the platform's driver: v4l2loopback on Linux,
OBS's virtual camera on macOS and Windows. :meth:`VirtualCamera.start`
opens the device (so a missing driver stops the session before it starts,
with :class:`~decart_cli.errors.VirtualCameraError`); afterwards a device
that fails (unloaded, taken away) ends this output only, with one warning.

The track it reads is the session's relay, which repeats the last frame
while there is no connection: through a reconnect the camera keeps showing
the last edited frame at the model's rate (apps drop cameras that stall).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from ..aio import cancelled
from ..errors import VirtualCameraError

log = logging.getLogger(__name__)


def driver_hint(platform: str = sys.platform) -> str:
    """How to get a virtual camera driver on ``platform`` (the CLI adds how to do without one)."""
    if platform.startswith("linux"):
        return 'load v4l2loopback (sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="decart")'
    return "install OBS Studio and start its virtual camera once"


def _first_sentence(text: str) -> str:
    """pyvirtualcam's error, short: its first line, without the backend's name, to the first full stop."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if line.startswith("'") and "' backend: " in line:
        line = line.split("' backend: ", 1)[1]
    return line.split(". ", 1)[0].rstrip(".")


class VirtualCamera:
    """A virtual camera fed with the frames of one track (see the module docstring)."""

    def __init__(self, width: int, height: int, fps: float, *, device: str | None = None, backend: str | None = None) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self.device = device
        """The device asked for (``/dev/video4``, ``OBS Virtual Camera``); None: the first that works."""
        self.backend = backend
        """The pyvirtualcam backend to use; None tries every registered one."""
        self.on_warning: Callable[[str], None] = lambda message: log.warning("%s", message)
        """Called (from the camera thread) when the device fails mid-session."""
        self.frames_sent = 0
        self.opened_device: str | None = None
        self._camera: Any = None
        self._track: MediaStreamTrack | None = None
        self._task: asyncio.Task[None] | None = None
        self._slot: np.ndarray | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._failed = False
        self._thread: threading.Thread | None = None

    def addTrack(self, track: MediaStreamTrack) -> None:  # noqa: N802 (aiortc's name)
        """Send the frames of ``track`` (read from :meth:`start` on, or at once if started already)."""
        self._track = track
        if self._thread is not None and self._task is None:
            self._task = asyncio.ensure_future(self._read(track))

    async def start(self) -> None:
        """Open the device (raises :class:`VirtualCameraError` when there is none), then start sending."""
        self._camera = await asyncio.to_thread(self._open)
        self.opened_device = str(self._camera.device)
        self._thread = threading.Thread(target=self._run, name="decart-vcam", daemon=True)
        self._thread.start()
        if self._track is not None:
            self._task = asyncio.ensure_future(self._read(self._track))

    def probe(self) -> str:
        """Open the device and close it again, sending nothing; the device's name (raises like :meth:`start`)."""
        camera = self._open()
        try:
            return str(camera.device)
        finally:
            camera.close()

    def _open(self) -> Any:
        import pyvirtualcam

        try:
            return pyvirtualcam.Camera(self.width, self.height, self.fps, fmt=pyvirtualcam.PixelFormat.I420, device=self.device, backend=self.backend)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            reason = _first_sentence(str(exc)) or type(exc).__name__
            raise VirtualCameraError(self.device, reason, driver_hint()) from None

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while not self._failed:
                self.show(await track.recv())
        except MediaStreamError:
            pass

    def show(self, frame: VideoFrame) -> None:
        """Make ``frame`` the next one sent (an unsent older one is dropped)."""
        if (frame.width, frame.height) != (self.width, self.height) or frame.format.name != "yuv420p":
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        planes = frame.to_ndarray(format="yuv420p").reshape(-1)
        with self._wake:
            self._slot = planes
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._slot is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                planes, self._slot = self._slot, None
            try:
                self._camera.send(planes)
            except Exception as exc:  # the device went away: end this output, not the session
                self._failed = True
                self.on_warning(f"virtual camera {self.opened_device} stopped ({exc}); the session goes on without it")
                return
            self.frames_sent += 1

    async def stop(self) -> None:
        """Stop sending and close the device (idempotent)."""
        if self._task is not None:
            await cancelled(self._task)
            self._task = None
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                await asyncio.to_thread(camera.close)
            except Exception as exc:  # a device already gone cannot be closed cleanly
                log.debug("closing the virtual camera: %s", exc)
