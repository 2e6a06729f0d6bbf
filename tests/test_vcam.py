"""`--vcam`: the edited stream as a virtual camera, through pyvirtualcam's own backend interface.

The kernel's v4l2loopback module cannot be loaded in these containers, so
the tests register a pyvirtualcam backend (``pyvirtualcam.register_backend``,
the library's documented extension point) that keeps what it is sent;
everything above that boundary is the real code. The no-driver case runs the
real v4l2loopback backend, which finds no device here.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import cv2
import numpy as np
import pyvirtualcam
import pytest
from conftest import bar_means, decode, run_decart
from rich.console import Console

from decart_cli.cli import optional_values
from decart_cli.config import EditConfig, ServeConfig, SourceConfig
from decart_cli.media.sources import TestPattern
from decart_cli.models import get_model
from decart_cli.server import Server
from decart_cli.client.session import EditSession
from decart_cli.ui.reporter import ConsoleReporter

SOURCE = bar_means(TestPattern(1280, 704).render(0))


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it is sent (and can be told to fail, as an unplugged device)."""

    instances: list[RecordingBackend] = []
    fail_after: int | None = None

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.name = device or "/dev/video-test"
        self.sent: list[tuple[float, np.ndarray]] = []
        self.closed = False
        RecordingBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise RuntimeError("device went away")
        i420 = frame.reshape(self.height * 3 // 2, self.width)
        self.sent.append((time.monotonic(), cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)[::8, ::8].copy()))

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self.name

    def native_fourcc(self) -> int | None:
        return None


@pytest.fixture
def backend():
    RecordingBackend.instances.clear()
    RecordingBackend.fail_after = None
    pyvirtualcam.register_backend("decart-test", RecordingBackend)
    yield RecordingBackend
    pyvirtualcam.camera.BACKENDS.pop("decart-test", None)


def run_session(tmp_path, *, drop_media_after: int | None = None, duration: float = 4.0) -> tuple[EditSession, str]:
    console = Console(file=io.StringIO(), width=200)

    async def main() -> EditSession:
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        try:
            config = EditConfig(
                source=SourceConfig(spec="test", width=1280, height=704, fps=25), url=server.url, prompt="invert the colors",
                output=tmp_path / "out.mp4", duration=duration, read_stdin=False, reconnect_delay=0.3,
                vcam="", vcam_backend="decart-test",
            )
            session = EditSession(config, get_model(config.model), ConsoleReporter(console, live=False))
            run = asyncio.ensure_future(session.run())
            if drop_media_after is not None:
                while session.stats.frames_received < drop_media_after:
                    assert not run.done(), console.file.getvalue()
                    await asyncio.sleep(0.05)
                (first,) = server.sessions
                await first.peer.close()  # media fails: the session reconnects
            await asyncio.wait_for(run, 60)
            return session
        finally:
            await server.stop()

    session = asyncio.run(main())
    return session, console.file.getvalue()


def inverted(small_bgr: np.ndarray) -> bool:
    big = cv2.resize(small_bgr, (1280, 704), interpolation=cv2.INTER_NEAREST)
    return bool(np.abs(bar_means(big) - (255 - SOURCE)).max() < 40)


def test_the_camera_gets_edited_frames_at_the_models_size_and_rate_through_a_reconnect(backend, tmp_path) -> None:
    """The virtual camera is opened at 1280x704, 25 fps, I420; it gets the edit at ~25 fps and keeps getting frames while reconnecting."""
    session, shown = run_session(tmp_path, drop_media_after=25, duration=6.0)
    assert session.stats.reconnects == 1, shown
    (camera,) = backend.instances
    assert (camera.width, camera.height, camera.fps) == (1280, 704, 25)
    assert camera.fourcc == pyvirtualcam.util.encode_fourcc("I420") and camera.closed
    assert "virtual camera: /dev/video-test (1280x704 at 25 fps)" in shown
    times = np.array([t for t, _ in camera.sent])
    span = times[-1] - times[0]
    assert abs(len(times) / span - 25) < 4, (len(times), span)
    # Through the reconnect the camera never stalls: the relay repeats the last frame.
    assert np.diff(times).max() < 0.3, np.diff(times).max()
    assert inverted(camera.sent[-1][1]) and inverted(camera.sent[len(camera.sent) // 2][1])


def test_a_camera_that_fails_mid_session_ends_only_that_output(backend, tmp_path) -> None:
    """When the device fails, one warning says so; the session runs to its end and the recording is complete."""
    backend.fail_after = 20
    session, shown = run_session(tmp_path, duration=3.0)
    assert shown.count("virtual camera /dev/video-test stopped (device went away)") == 1, shown
    assert session.stats.frames_received >= 60
    assert len(decode(tmp_path / "out.mp4").frames) == session.stats.frames_recorded >= 60


def test_no_driver_is_one_line_with_the_fix_and_exit_2(tmp_path) -> None:
    """Without v4l2loopback, `--vcam` fails before the session starts: one line naming modprobe, exit 2, no traceback, no file."""
    out = tmp_path / "out.mp4"
    for args in (["--vcam"], ["--vcam", "/dev/video63"]):
        result = run_decart("edit", "-i", "test", *args, "-o", str(out), "--no-show", "--no-stdin", "--duration", "2", timeout=60)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "modprobe v4l2loopback" in lines[0], result.stderr
        assert ("/dev/video63" in lines[0]) == (len(args) == 2)
        assert "Traceback" not in result.stderr and not out.exists()


def test_vcam_takes_an_optional_device() -> None:
    """`--vcam` alone means the first camera found; a value after it is the device; other options are left alone."""
    assert optional_values(["edit", "--vcam"]) == ["edit", "--vcam="]
    assert optional_values(["edit", "--vcam", "-i", "x"]) == ["edit", "--vcam=", "-i", "x"]
    assert optional_values(["edit", "--vcam", "/dev/video4", "-o", "a.mp4"]) == ["edit", "--vcam", "/dev/video4", "-o", "a.mp4"]
