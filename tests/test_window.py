"""Window: shows the newest frame on a real X server (Xvfb), closes on q/Esc/close, fails cleanly without one.

The window itself runs in a child Python (as `decart` would run it, cv2
imported before av): this test process has PyAV loaded first (conftest),
whose X libraries would shadow OpenCV's (see decart_cli.media.window).

Needs the Debian packages ``xvfb``, ``xdotool`` and ``imagemagick``
(screenshots). Without them the X tests are skipped, except when ``CI`` is
set: then they fail.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import screenshot

from decart_cli.cli.fixes import FIXES
from decart_cli.config import Screen
from decart_cli.errors import UsageError
from decart_cli.media.window import Window, display_available

REPO = Path(__file__).resolve().parent.parent
LEFT, RIGHT = (0, 0, 220), (220, 60, 0)  # BGR: red | blue
WIDTH, HEIGHT = 1280, 704


CHILD = textwrap.dedent(
    """
    import cv2  # first, as decart does: see decart_cli.media.window
    import asyncio, json, os, sys, threading, time
    import av, numpy as np
    from aiortc import MediaStreamTrack
    from decart_cli.config import Screen
    from decart_cli.media.window import Window

    title, size = sys.argv[1], sys.argv[2]
    banner = sys.argv[3] if len(sys.argv) > 3 else ""
    size = None if size == "none" else tuple(int(v) for v in size.split("x"))
    img = np.empty((704, 1280, 3), np.uint8)
    img[:, :640], img[:, 640:] = (0, 0, 220), (220, 60, 0)
    FRAME = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")

    class Solid(MediaStreamTrack):
        kind = "video"
        async def recv(self):
            await asyncio.sleep(0.04)
            return FRAME

    async def main():
        loop = asyncio.get_running_loop()
        told_to_stop = asyncio.Event()
        def wait_for_stdin():
            sys.stdin.readline()
            try:
                loop.call_soon_threadsafe(told_to_stop.set)
            except RuntimeError:  # the window closed first and the loop is gone
                pass

        threading.Thread(target=wait_for_stdin, daemon=True).start()
        window = Window(title, size=size, screen=Screen.of(os.environ))
        window.banner = banner
        window.addTrack(Solid())
        await window.start()
        while window.frames_shown < 3:
            await asyncio.sleep(0.02)
        print("READY", flush=True)
        closed = asyncio.ensure_future(window.wait_closed())
        stop = asyncio.ensure_future(told_to_stop.wait())
        await asyncio.wait({closed, stop}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        print("RESULT", json.dumps({"closed": window.closed, "reason": window.close_reason, "shown": window.frames_shown}), flush=True)
        await window.stop()
        await window.stop()
        print("STOPPED", json.dumps({"closed": window.closed, "reason": window.close_reason}), flush=True)
        stop.cancel()

    asyncio.run(main())
    """
)


class Child:
    """The CHILD script showing a window on ``display``; read its lines with :meth:`expect`."""

    def __init__(self, display: str, title: str, size: str = "none", banner: str = "") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, title, size, banner],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "DISPLAY": display, "PYTHONUNBUFFERED": "1"},
        )
        self.title = title
        self.display = display
        self.timer = threading.Timer(30, self.proc.kill)
        self.timer.start()

    def expect(self, tag: str) -> dict | None:
        """Read stdout up to the line starting with ``tag``; return its JSON payload (if any)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(tag):
                payload = line[len(tag) :].strip()
                return json.loads(payload) if payload else None
        raise AssertionError(f"child ended before {tag}: {self.finish()}")

    def tell_stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()

    def finish(self) -> str:
        """Wait for the child to exit; return its stderr."""
        try:
            _, err = self.proc.communicate(timeout=20)
        finally:
            self.timer.cancel()
            if self.proc.poll() is None:
                self.proc.kill()
        return err

    def window_id(self) -> str:
        out = subprocess.run(
            ["xdotool", "search", "--name", f"^{self.title}$"],
            capture_output=True, text=True, env={**os.environ, "DISPLAY": self.display}, timeout=10,
        ).stdout.split()
        assert out, f"no X window named {self.title}"
        return out[0]


def matching(image: np.ndarray, bgr: tuple[int, int, int], tolerance: int = 12) -> np.ndarray:
    """Boolean mask of the pixels within ``tolerance`` of ``bgr`` in every channel."""
    return np.all(np.abs(image.astype(np.int16) - np.array(bgr, np.int16)) <= tolerance, axis=2)


def assert_clean(stderr: str) -> None:
    """No traceback and no Qt chatter on the child's stderr."""
    noisy = [line for line in stderr.splitlines() if "Traceback" in line or line.startswith(("QObject", "qt.", "Qt", "QStandardPaths"))]
    assert not noisy, stderr


def painted(display: str, path: Path, timeout: float = 5.0) -> np.ndarray:
    """A screenshot once the window shows the frame's red and blue (polled: a loaded machine paints later), else the last one."""
    deadline = time.monotonic() + timeout
    while True:
        image = screenshot(display, path)
        if (matching(image, LEFT).any() and matching(image, RIGHT).any()) or time.monotonic() > deadline:
            return image
        time.sleep(0.2)


@pytest.mark.parametrize(("size", "expected"), [("none", (WIDTH, HEIGHT)), ("640x352", (640, 352))])
def test_window_shows_the_frame(xvfb: str, tmp_path: Path, size: str, expected: tuple[int, int]) -> None:
    """The window's content is the frame (red left half, blue right half) at the frame's size or the given one."""
    child = Child(xvfb, "decart-show", size)
    try:
        child.expect("READY")
        image = painted(xvfb, tmp_path / "shot.png")
    finally:
        child.tell_stop()
    result = child.expect("RESULT")
    stopped = child.expect("STOPPED")
    stderr = child.finish()

    red, blue = matching(image, LEFT), matching(image, RIGHT)
    width, height = expected
    for mask, name in ((red, "red"), (blue, "blue")):
        assert mask.sum() > 0.9 * (width // 2) * height, f"too little {name} in {tmp_path / 'shot.png'}"
    assert np.nonzero(red)[1].mean() < np.nonzero(blue)[1].mean(), "red is not left of blue"
    ys, xs = np.nonzero(red | blue)
    assert xs.max() - xs.min() + 1 == pytest.approx(width, abs=3)
    assert ys.max() - ys.min() + 1 == pytest.approx(height, abs=3)

    assert result == {"closed": False, "reason": None, "shown": result["shown"]} and result["shown"] >= 3
    assert stopped == {"closed": True, "reason": "stop"}
    assert child.proc.returncode == 0
    assert_clean(stderr)


def test_banner_is_drawn_across_the_top(xvfb: str, tmp_path: Path) -> None:
    """With a banner set, a dark strip with white text covers the top of the frame; the rest is the frame."""
    child = Child(xvfb, "decart-banner", "none", "reconnecting 2/5")
    try:
        child.expect("READY")
        image = painted(xvfb, tmp_path / "banner.png")
    finally:
        child.tell_stop()
    child.expect("RESULT")
    child.expect("STOPPED")
    assert_clean(child.finish())
    red, blue = matching(image, LEFT), matching(image, RIGHT)
    ys, xs = np.nonzero(red | blue)
    top, left = ys.min(), xs.min()  # the frame's visible part starts below the strip
    strip = image[: top, left : left + WIDTH]
    assert 30 <= top <= 50, top  # 704 / 18 rows of banner
    assert strip.size and (strip.max(axis=2) >= 200).mean() > 0.005  # white text
    assert (strip.max(axis=2) <= 60).mean() > 0.5  # on a darkened strip
    assert red[top + 5 :, :].sum() > 0.9 * (WIDTH // 2) * (HEIGHT - top - 5)


@pytest.mark.parametrize("key", ["q", "Escape"])
def test_key_closes_the_window(xvfb: str, key: str) -> None:
    """Pressing q or Esc in the window sets closed (reason "key") and wakes wait_closed()."""
    child = Child(xvfb, f"decart-key-{key}")
    try:
        child.expect("READY")
        subprocess.run(
            ["xdotool", "windowfocus", "--sync", child.window_id(), "key", "--clearmodifiers", key],
            check=True, timeout=10, env={**os.environ, "DISPLAY": xvfb},
        )
        result = child.expect("RESULT")
    finally:
        if child.proc.poll() is None:
            child.tell_stop()
    stderr = child.finish()
    assert result is not None and (result["closed"], result["reason"]) == (True, "key")
    assert child.proc.returncode == 0
    assert_clean(stderr)


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def send_wm_delete(display: str, window: int) -> None:
    """Ask ``window`` to close, as a window manager's close button does (WM_DELETE_WINDOW)."""
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open {display}"
    try:
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", False)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", False)
        event.xclient.data[1] = 0  # CurrentTime
        assert x11.XSendEvent(dpy, window, False, 0, ctypes.byref(event))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def test_closing_the_window_sets_closed(xvfb: str) -> None:
    """Closing the window from outside (WM_DELETE_WINDOW, the close button) sets closed (reason "window")."""
    child = Child(xvfb, "decart-close")
    try:
        child.expect("READY")
        send_wm_delete(xvfb, int(child.window_id()))
        result = child.expect("RESULT")
    finally:
        if child.proc.poll() is None:
            child.tell_stop()
    stderr = child.finish()
    assert result is not None and (result["closed"], result["reason"]) == (True, "window")
    assert_clean(stderr)


def test_display_available_needs_display_on_linux() -> None:
    """On Linux display_available() is false without an X or Wayland display and true with either (the CLI reads them from the environment)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux rule")
    assert display_available(Screen.of({})) is False
    assert display_available(Screen.of({"DISPLAY": ":0"})) is True
    assert display_available(Screen.of({"WAYLAND_DISPLAY": "wayland-0"})) is True


def test_start_without_display_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """start() with no display raises UsageError('cannot open a window: no display', hint) instead of aborting."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux rule")
    with pytest.raises(UsageError) as info:
        asyncio.run(Window(screen=Screen.of({**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""})).start())
    assert info.value.user_message(FIXES) == "cannot open a window: no display: use --no-show, or set DISPLAY"


def test_unreachable_display_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """start() with a DISPLAY nobody serves raises UsageError naming it (Qt would abort the process)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux rule")
    with pytest.raises(UsageError) as info:
        asyncio.run(Window(screen=Screen.of({**os.environ, "DISPLAY": ":4242"})).start())
    assert "cannot connect to display :4242" in info.value.user_message()


CLASH_CHILD = textwrap.dedent(
    """
    import asyncio, av  # PyAV first: its X libraries shadow OpenCV's
    from decart_cli.errors import DecartError
    import os
    from decart_cli.config import Screen
    from decart_cli.media.window import Window
    try:
        asyncio.run(Window(screen=Screen.of(os.environ)).start())
    except DecartError as err:
        print("ERROR", err.user_message())
    else:
        print("OPENED")
    """
)


def test_shadowed_x_libraries_fail_instead_of_hanging(xvfb: str) -> None:
    """With PyAV loaded before OpenCV, start() raises a DecartError at once (namedWindow would hang)."""
    result = subprocess.run(
        [sys.executable, "-c", CLASH_CHILD],
        capture_output=True, text=True, cwd=REPO, timeout=30,
        env={**os.environ, "DISPLAY": xvfb},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ERROR cannot open a window: OpenCV's X11 libraries are shadowed"), result.stdout


def test_a_qt_platform_opencv_lacks_is_replaced_by_the_command_not_the_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QT_QPA_PLATFORM=wayland with an xcb-only OpenCV Qt: qt_platform_override says xcb (pure); prepare_windows sets it; opening a window leaves the environment alone."""
    from decart_cli.cli import prepare_windows
    from decart_cli.media.window import qt_platform_override

    (tmp_path / "platforms").mkdir()
    (tmp_path / "platforms" / "libqxcb.so").write_bytes(b"")
    env = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(tmp_path), "QT_QPA_PLATFORM": "wayland"}
    assert qt_platform_override(env) == "xcb"
    assert qt_platform_override({**env, "QT_QPA_PLATFORM": "xcb"}) is None
    assert qt_platform_override({"QT_QPA_PLATFORM": "wayland"}) is None  # not a Qt build: nothing to say
    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", str(tmp_path))
    monkeypatch.setenv("QT_QPA_PLATFORM", "wayland")
    with pytest.raises(UsageError):
        asyncio.run(Window(screen=Screen.of({**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""})).start())
    assert os.environ["QT_QPA_PLATFORM"] == "wayland"
    prepare_windows()
    assert os.environ["QT_QPA_PLATFORM"] == "xcb"
