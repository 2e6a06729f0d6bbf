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
from decart_cli.errors import Interrupted, SourceError
from decart_cli.media import sources
from decart_cli.media.recorder import Recorder
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


async def camera_session(
    url: str | None, console: Console, *, probe: Steps | None = None, local_server: SlowLocalServer | None = None, output: Path | None = None, duration: float | None = None,
) -> tuple[EditSession, BaseException | None, float]:
    """Run a session from camera 0 with "invert the colors" to ``url`` (None: ``local_server``); (the session, its error, the seconds it took)."""
    config = EditConfig(source=SourceConfig(spec="0", width=1280, height=704, fps=25), url=url, prompt="invert the colors", read_stdin=False, output=output, duration=duration)
    session = EditSession(config, get_model(config.model), ConsoleReporter(console, live=False), local_server=local_server, probe=probe)
    started = time.monotonic()
    try:
        await asyncio.wait_for(session.run(), 60)
    except BaseException as exc:  # noqa: BLE001 - the test looks at it
        return session, exc, time.monotonic() - started
    return session, None, time.monotonic() - started


def test_the_prompt_is_acknowledged_while_the_camera_still_opens(tmp_path: Path, slow_camera: type[SlowCamera]) -> None:
    """The first link's socket and prompt are done before a camera that takes a second has opened; the session then runs as usual."""
    probe = Steps()
    console = Console(file=io.StringIO(), width=200)

    async def main() -> tuple[EditSession, BaseException | None, float]:
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        try:
            return await camera_session(server.url, console, probe=probe, output=tmp_path / "out.mp4", duration=2.0)
        finally:
            await server.stop()

    session, error, _ = asyncio.run(main())
    shown = console.file.getvalue()
    assert error is None, shown
    assert probe.link is not None and slow_camera.opened_at is not None
    steps = probe.link.steps
    assert steps["prompt acknowledged"] < slow_camera.opened_at - 0.5, (steps, slow_camera.opened_at)
    assert steps["media connected"] > slow_camera.opened_at
    assert session.stats.frames_received > 10, shown


def test_a_camera_that_fails_to_open_is_the_one_error_and_the_link_begun_is_closed(slow_camera: type[SlowCamera]) -> None:
    """When the camera fails after the link began, the camera's error ends the session, and the server sees the socket close."""
    slow_camera.dead = True

    async def main() -> tuple[BaseException | None, int]:
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        try:
            _, error, _ = await camera_session(server.url, Console(file=io.StringIO()))
            for _ in range(100):  # the server notices the socket closing
                if not server.sessions:
                    break
                await asyncio.sleep(0.05)
            return error, len(server.sessions)
        finally:
            await server.stop()

    error, left = asyncio.run(main())
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

    _, error, took = asyncio.run(camera_session(None, Console(file=io.StringIO()), local_server=local))
    assert isinstance(error, SourceError) and "delivered no picture" in str(error), repr(error)
    assert took < OPEN_SECONDS + 3, took  # not the server's 10 s
    assert local.stopped and not local.announced


def test_a_stop_as_the_first_frame_reaches_the_file_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C as the first edited frame reaches the recorder, before the session sees it: "interrupted before the first edited frame", and no file (none is named)."""
    session: EditSession | None = None
    for name in ("write", "write_encoded"):  # the moment: the recorder has the frame (received, or decoded), the session has not counted it yet
        original = getattr(Recorder, name)

        def pressed_now(self: Recorder, *args: object, _original=original, **kwargs: object) -> None:  # type: ignore[no-untyped-def]
            _original(self, *args, **kwargs)
            assert session is not None
            session.request_stop("interrupted")

        monkeypatch.setattr(Recorder, name, pressed_now)
    out = tmp_path / "out.mp4"

    async def main() -> BaseException | None:
        nonlocal session
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        config = EditConfig(source=SourceConfig(spec="test", width=1280, height=704, fps=25), url=server.url, prompt="invert the colors", read_stdin=False, output=out)
        session = EditSession(config, get_model(config.model), ConsoleReporter(Console(file=io.StringIO()), live=False))
        try:
            await asyncio.wait_for(session.run(), 60)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            return exc
        finally:
            await server.stop()
        return None

    error = asyncio.run(main())
    assert isinstance(error, Interrupted) and "before the first edited frame" in str(error), repr(error)
    assert not out.exists()
