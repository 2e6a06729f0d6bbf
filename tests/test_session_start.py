"""An edit session's start: the first link connects while the source opens, and what fails first is what is said.

The session opens its source in a thread while the first link does what
needs no media (`Link.begin`: the socket, the prompt acknowledged, today's
room and camera track). The camera here is the one thing that cannot exist:
`cv2.VideoCapture` is replaced at the boundary of the code that opens it,
by one that takes a second to open (as real cameras do); the server, the
peer connection and everything after are real.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from decart_cli.client.link import Link
from decart_cli.client.session import EditSession
from decart_cli.config import EditConfig, ServeConfig, SourceConfig
from decart_cli.errors import SourceError
from decart_cli.media import sources
from decart_cli.models import get_model
from decart_cli.server import Server
from decart_cli.ui.reporter import ConsoleReporter

OPEN_SECONDS = 1.0


class SlowCamera:
    """cv2.VideoCapture for a camera that takes OPEN_SECONDS to open, then delivers grey 640x480 frames at 30 fps (or, ``dead``, none)."""

    opened_at: float | None = None
    dead = False

    def __init__(self, device: object, *args: object) -> None:
        time.sleep(OPEN_SECONDS)
        SlowCamera.opened_at = time.monotonic()
        self.reads = 0

    def isOpened(self) -> bool:
        return True

    def set(self, *args: object) -> bool:
        return False

    def get(self, prop: int) -> float:
        return 30.0 if prop == sources.cv2.CAP_PROP_FPS else 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(1 / 30)
        self.reads += 1
        if SlowCamera.dead:
            return False, None
        return True, np.full((480, 640, 3), 128, np.uint8)

    def release(self) -> None:
        pass


class Steps:
    """The session's probe, as small as it gets: keeps the link once media is up (its ``steps``)."""

    link: Link | None = None

    def wrap_source(self, track):  # type: ignore[no-untyped-def]
        return track

    def on_connected(self, link: Link) -> None:
        self.link = link

    def on_message(self, message: object) -> None:
        pass

    def on_frame(self, frame: object) -> None:
        pass


@pytest.fixture
def slow_camera(monkeypatch: pytest.MonkeyPatch) -> type[SlowCamera]:
    SlowCamera.opened_at = None
    SlowCamera.dead = False
    monkeypatch.setattr(sources.cv2, "VideoCapture", SlowCamera)
    monkeypatch.setattr(sources, "CAMERA_WARMUP", 0.5)
    return SlowCamera


def run_session(tmp_path: Path, *, duration: float = 2.0, probe: Steps | None = None) -> tuple[EditSession, str, float, BaseException | None]:
    """A session from camera 0 to a real local server; (session, what it printed, when it started, its error)."""
    console = Console(file=io.StringIO(), width=200)

    async def main() -> tuple[EditSession, float, BaseException | None]:
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        try:
            config = EditConfig(
                source=SourceConfig(spec="0", width=1280, height=704, fps=25), url=server.url, prompt="invert the colors",
                output=tmp_path / "out.mp4", duration=duration, read_stdin=False,
            )
            session = EditSession(config, get_model(config.model), ConsoleReporter(console, live=False), probe=probe)
            started = time.monotonic()
            try:
                await asyncio.wait_for(session.run(), 60)
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                return session, started, exc
            return session, started, None
        finally:
            await server.stop()

    session, started, error = asyncio.run(main())
    return session, console.file.getvalue(), started, error


def test_the_prompt_is_acknowledged_while_the_camera_still_opens(tmp_path: Path, slow_camera: type[SlowCamera]) -> None:
    """The first link's socket and prompt are done before a camera that takes a second has opened; the session then runs as usual."""
    probe = Steps()
    session, shown, started, error = run_session(tmp_path, probe=probe)
    assert error is None, shown
    assert probe.link is not None and slow_camera.opened_at is not None
    steps = probe.link.steps
    assert steps["prompt acknowledged"] < slow_camera.opened_at - 0.5, (steps, slow_camera.opened_at)
    assert steps["media connected"] > slow_camera.opened_at
    assert session.stats.frames_received > 10, shown


def test_a_camera_that_fails_to_open_is_the_one_error_and_the_link_begun_is_closed(tmp_path: Path, slow_camera: type[SlowCamera]) -> None:
    """When the camera fails after the link began, the camera's error ends the session, and the server sees the socket close."""
    slow_camera.dead = True
    console_error: list[BaseException | None] = []

    async def main() -> int:
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        try:
            config = EditConfig(source=SourceConfig(spec="0", width=1280, height=704, fps=25), url=server.url, prompt="invert the colors", read_stdin=False)
            session = EditSession(config, get_model(config.model), ConsoleReporter(Console(file=io.StringIO()), live=False))
            try:
                await asyncio.wait_for(session.run(), 30)
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                console_error.append(exc)
            for _ in range(100):  # the server notices the socket closing
                if not server.sessions:
                    break
                await asyncio.sleep(0.05)
            return len(server.sessions)
        finally:
            await server.stop()

    left = asyncio.run(main())
    (error,) = console_error
    assert isinstance(error, SourceError) and "delivered no picture" in str(error), repr(error)
    assert left == 0


class SlowLocalServer:
    """A local server (the session's LocalServer seam) that takes 10 s to start: a real Server behind a wait."""

    def __init__(self) -> None:
        self.server = Server(ServeConfig(host="127.0.0.1", port=0))
        self.stopped = False
        self.announced = False

    async def start(self) -> str:
        await asyncio.sleep(10)
        await self.server.start()
        return self.server.url

    def announce(self) -> None:
        self.announced = True

    async def stop(self) -> None:
        self.stopped = True
        await self.server.stop()


def test_a_camera_failing_while_the_local_server_starts_is_said_at_once(slow_camera: type[SlowCamera]) -> None:
    """A source that fails while the local server is still starting ends the session then, with the source's error; the server is stopped, never announced."""
    slow_camera.dead = True
    local = SlowLocalServer()

    async def main() -> tuple[BaseException | None, float]:
        config = EditConfig(source=SourceConfig(spec="0", width=1280, height=704, fps=25), url=None, prompt="invert the colors", read_stdin=False)
        session = EditSession(config, get_model(config.model), ConsoleReporter(Console(file=io.StringIO()), live=False), local_server=local)
        started = time.monotonic()
        try:
            await asyncio.wait_for(session.run(), 30)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            return exc, time.monotonic() - started
        return None, time.monotonic() - started

    error, took = asyncio.run(main())
    assert isinstance(error, SourceError) and "delivered no picture" in str(error), repr(error)
    assert took < OPEN_SECONDS + 3, took  # not the server's 10 s
    assert local.stopped and not local.announced
