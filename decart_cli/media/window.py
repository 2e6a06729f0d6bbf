"""Show the edited stream in an OpenCV window.

The sink has aiortc's shape (``addTrack``, ``start``, ``stop``), and a
thread-safe :meth:`Window.show` for feeding it without a track::

    track.recv() ──▶ show(frame) ──(one slot, newest wins)──▶
        GUI thread: VideoFrame → BGR → cv2.imshow → cv2.waitKey(1)

**One GUI thread per process.** OpenCV's Qt backend creates its
``QApplication`` in the first thread that calls highgui, and every later
highgui call must come from that same thread (a second thread's
``namedWindow`` hangs once the first thread has gone). So all highgui calls
of every :class:`Window` run in one daemon thread, started on first use and
kept for the life of the process; a window's ``stop()`` has that thread
destroy the window and waits until it has. The asyncio side only drops the
newest frame into a slot; the conversion to BGR happens in the GUI thread.

**No display, no abort.** Qt aborts the whole process when it cannot reach
the display, so :meth:`Window.start` first checks the X server itself
(``xcb_connect``, as Qt does) and raises
:class:`~decart_cli.errors.UsageError` instead.

**Import cv2 before av.** The opencv-python and PyAV wheels both bundle
``libxcb-shm``/``-shape``/``-xfixes`` under the *same* file names, each
linked to its own ``libxcb``. Whichever wheel loads first provides them to
the process; if it is PyAV, Qt's X connection (made with the system
``libxcb``) is handed to PyAV's copy and ``cv2.namedWindow`` hangs forever.
This module imports cv2 at the top for that reason, and the program should
import it before anything imports ``av`` or ``aiortc``. If the clash is
already there, :meth:`Window.start` raises a
:class:`~decart_cli.errors.DecartError` instead of hanging.

**A window Qt never painted is mapped again.** About one start in twenty
on a bare X server (Xvfb), OpenCV's Qt 5.15 loses the X events that come
right after it maps its window (the MapNotify among them): Qt then
believes the window is not exposed and never paints it, and it stays black
for the whole session. A second after the first frame, the GUI thread
reads a few pixels at the window's centre from the X server
(:mod:`decart_cli.media.xserver`); black where the frame is not makes it
unmap and map the window, and Qt paints from the fresh events (checked
again after each, up to three times).

``q``, ``Q``, Esc or closing the window sets :attr:`Window.closed`; the
session awaits :meth:`Window.wait_closed`. (``cv2.waitKey`` reports keys of
any OpenCV window, so with several windows open a key closes all of them.)
The window's own keys: ``f`` fullscreen, ``h`` the overlay (the lines
:attr:`Window.overlay` gives), ``?`` the list of keys; the others in
:data:`ACTION_KEYS` go to :attr:`Window.on_key` on the event loop.

:meth:`Window.show` also takes a :class:`~decart_cli.media.pairing.Pair`
(input and edited frame): the GUI thread draws them side by side.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2  # before anything loads PyAV, see the module docstring
import numpy as np

from decart_cli.config import Screen
from decart_cli.errors import DecartError, UsageError
from decart_cli.media import xserver
from decart_cli.media.pairing import Pair

__all__ = ["Window", "display_available"]

log = logging.getLogger(__name__)

_CLOSE_KEYS = {ord("q"), ord("Q"), 27}
ACTION_KEYS = {ord("m"): "mirror", ord("s"): "snapshot", ord(" "): "pause"}
"""Keys the window passes to its owner (``on_key`` gets the name)."""
KEYS_HELP = ("m  mirror the input", "s  snapshot", "space  pause / resume", "h  overlay", "f  fullscreen", "q, Esc  quit", "?  this list")
_PROBE_TIMEOUT = 5.0
_STOP_TIMEOUT = 5.0
_OPEN_TIMEOUT = 10.0
_IDLE_TICK = 0.01
"""How often (s) the GUI thread polls keys and window state while a window is open."""
_PAINT_CHECK = (1.0, 10.0)
"""From when to when (s after its first frame) a window is checked for having been painted (see :meth:`Window._gui_check_painted`)."""
_PAINT_REMAPS = 3
"""Times a window still black is mapped again, at most."""


def _uses_x11() -> bool:
    """Whether windows on this platform go through an X server (Linux and the BSDs)."""
    return not (sys.platform == "darwin" or sys.platform.startswith(("win", "cygwin")))


def qt_platform_override(environ: Mapping[str, str]) -> str | None:
    """The ``QT_QPA_PLATFORM`` a process must set before opening a window, or None to leave it.

    OpenCV's bundled Qt aborts the process when ``QT_QPA_PLATFORM`` names
    only plugins it lacks (often ``wayland`` on Wayland desktops); ``xcb``
    (Xwayland) works there. The command that owns the process sets it.
    """
    plugins = _qt_platform_plugins(environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", ""))
    if plugins is None:
        return None
    wanted = [p.strip().split(":")[0] for p in environ.get("QT_QPA_PLATFORM", "").split(";") if p.strip()]
    if wanted and not any(p in plugins for p in wanted) and "xcb" in plugins:
        return "xcb"
    return None


def display_available(screen: Screen) -> bool:
    """Whether a display is configured: on Linux an X or Wayland display; elsewhere True.

    A cheap check of what the process was given only; :meth:`Window.start`
    checks that the display can really be reached.
    """
    if not _uses_x11():
        return True
    return bool(screen.display or screen.wayland)


def _qt_platform_plugins(plugin_path: str) -> set[str] | None:
    """The Qt platform plugins bundled with this OpenCV (e.g. ``{"xcb"}``) in ``plugin_path``, or None if not a Qt build."""
    if not plugin_path:
        return None
    platforms = Path(plugin_path) / "platforms"
    if not platforms.is_dir():
        return None
    names = set()
    for lib in platforms.glob("libq*.so*"):
        names.add(lib.name.split(".")[0].removeprefix("libq"))
    return names or None


def _shadowed_library() -> str | None:
    """A library bundled with OpenCV that the process loaded from elsewhere (PyAV's wheel), or None.

    OpenCV's Qt would use that copy, and hang (see the module docstring).
    """
    libs = Path(cv2.__file__).resolve().parent.parent / "opencv_python.libs"
    if not libs.is_dir():
        return None
    ours = {lib.name for lib in libs.glob("libxcb*")}
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith("/"):
            continue
        mapped = Path(fields[5])
        if mapped.name in ours and mapped.parent.resolve() != libs:
            return str(mapped)
    return None


def _check_display(screen: Screen) -> None:
    """Raise unless a window can be opened here (blocking: it connects to the X server).

    :class:`~decart_cli.errors.UsageError` when there is no reachable
    display; :class:`~decart_cli.errors.DecartError` when OpenCV's X11
    libraries are shadowed (opening a window would hang).
    """
    if not _uses_x11():
        return
    display, wayland = screen.display, screen.wayland
    plugins = _qt_platform_plugins(screen.qt_plugins)
    if plugins is not None:
        if not display and "xcb" in plugins and "wayland" not in plugins:
            if wayland:
                message = "cannot open a window: no X display (this OpenCV needs X11 or Xwayland)"
                raise UsageError(message, fix="no_display")
            raise UsageError("cannot open a window: no display", fix="no_display")
    if not display and not wayland:
        raise UsageError("cannot open a window: no display", fix="no_display")
    if display and not xserver.reachable(display):
        raise UsageError(f"cannot open a window: cannot connect to display {display}", fix="check_display")
    shadowed = _shadowed_library()
    if shadowed is not None:
        raise DecartError(
            f"cannot open a window: OpenCV's X11 libraries are shadowed by {shadowed}",
            fix="window_bug",
        )


class _GuiThread:
    """The process's one highgui thread: runs submitted calls, draws and polls open windows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._calls: collections.deque[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._exiting = False
        self.windows: list[Window] = []  # touched only in the GUI thread

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Run ``fn()`` in the GUI thread; the future holds its result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._exiting:
                future.set_exception(RuntimeError("the GUI thread has shut down"))
                return future
            self._calls.append((fn, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="decart-gui", daemon=True)
                self._thread.start()
        self._wake.set()
        return future

    def wake(self) -> None:
        self._wake.set()

    def shutdown(self) -> None:
        """At interpreter exit: destroy every window and end the thread (bounded wait)."""
        with self._lock:
            thread = self._thread
            if thread is None or self._exiting:
                return
            self._calls.append((cv2.destroyAllWindows, concurrent.futures.Future()))
            self._exiting = True
        self._wake.set()
        thread.join(timeout=2.0)

    def _run(self) -> None:
        while True:
            self._wake.wait(_IDLE_TICK if self.windows else None)
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._calls:
                        exiting = self._exiting
                        break
                    fn, future = self._calls.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
            if exiting:
                return
            if not self.windows:
                continue
            for window in list(self.windows):
                window._gui_guarded(window._gui_draw)
            key = cv2.waitKey(1)
            for window in list(self.windows):
                window._gui_guarded(window._gui_poll, key)


_GUI = _GuiThread()
atexit.register(_GUI.shutdown)


def _draw_banner(image: np.ndarray, text: str) -> None:
    """Darken a strip across the top of ``image`` (BGR, in place) and write ``text`` on it."""
    height = max(24, image.shape[0] // 18)
    strip = image[:height]
    np.right_shift(strip, 2, out=strip)  # a quarter of the brightness: the text reads on any picture
    scale = height / 40
    cv2.putText(image, text, (height // 2, int(height * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, round(scale * 2)), cv2.LINE_AA)


def _draw_lines(image: np.ndarray, lines: list[str]) -> None:
    """Write ``lines`` in the bottom-left corner of ``image`` (BGR, in place) on a darkened box."""
    scale = max(0.5, image.shape[0] / 1400)
    step = int(34 * scale)
    width = int(max(len(line) for line in lines) * 19 * scale) + step
    top = image.shape[0] - step * len(lines) - step // 2
    box = image[max(0, top) :, : min(width, image.shape[1])]
    np.right_shift(box, 1, out=box)
    for index, line in enumerate(lines):
        y = top + step * (index + 1) - step // 4
        cv2.putText(image, line, (step // 2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, round(scale * 2)), cv2.LINE_AA)


def _side_by_side(pair: Pair) -> np.ndarray:
    """The input frame (left) and the edited one (right) as one BGR image at the edited frame's size each."""
    edited = pair.edited.to_ndarray(format="bgr24")
    height, width = edited.shape[:2]
    if pair.input is None:
        source = np.zeros_like(edited)
    else:
        source = pair.input.to_ndarray(format="bgr24")
        if source.shape[:2] != (height, width):
            source = cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
    return np.hstack((source, edited))


class Window:
    """An OpenCV window showing the newest frame of one video track (or of :meth:`show`).

    ``size`` is the initial ``(width, height)`` of the window; by default it
    is the size of the first frame. The window keeps the frame's aspect
    ratio when resized.

    ``banner``, when not empty, is a line of text drawn in a dark strip
    across the top of every frame shown (e.g. ``"reconnecting 2/5"`` while
    the frames are held); set it from any thread.

    ``closed`` turns true when the user presses ``q``/``Q``/Esc or closes
    the window (``close_reason`` is then ``"key"`` or ``"window"``), when
    showing a frame failed (``"error"``, the exception is in ``error``), and
    also once :meth:`stop` has run (``"stop"``). Counters: ``frames_shown``,
    and ``frames_dropped`` (replaced by a newer frame before they were shown).

    One window per title: two Windows with the same title share one OpenCV
    window.
    """

    def __init__(self, title: str = "decart", *, screen: Screen, size: tuple[int, int] | None = None) -> None:
        self.title = title
        self.screen = screen
        self.size = size
        self.frames_shown = 0
        self.frames_dropped = 0
        self.close_reason: str | None = None
        self.error: BaseException | None = None
        self.banner = ""
        self.overlay: Callable[[], list[str]] | None = None
        """Lines for the overlay (prompt, fps, latency), drawn while it is on (``h``); called in the GUI thread."""
        self.show_overlay = False
        self.show_keys = False
        self.fullscreen = False
        self.on_key: Callable[[str], None] = lambda name: None
        """Called on the event loop with the name of an :data:`ACTION_KEYS` key pressed."""

        self._slot_lock = threading.Lock()
        self._slot: Any = None
        self._closed = False
        self._closed_event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._stopped = False
        self._track: Any = None
        self._task: asyncio.Task[None] | None = None
        # GUI-thread state.
        self._open = False
        self._visible_seen = False
        self._sized = False
        self._first_shown_at: float | None = None
        self._checked_at = 0.0
        self._paint_checked = False
        self._remaps = 0

    # ------------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        """True once the user closed the window (key or close button) or :meth:`stop` ran."""
        return self._closed

    async def wait_closed(self) -> None:
        """Return when :attr:`closed` turns true."""
        await self._closed_event.wait()

    # ------------------------------------------------------------------ aiortc sink shape

    def addTrack(self, track: Any) -> None:  # noqa: N802 - aiortc's name
        """Show ``track`` (video) once :meth:`start` runs; audio tracks are ignored."""
        if getattr(track, "kind", "video") != "video":
            return
        if self._track is not None:
            raise RuntimeError("Window shows one video track")
        self._track = track

    async def start(self) -> None:
        """Open the window, then show the added track's frames as they come.

        Raises :class:`~decart_cli.errors.UsageError` if there is no display
        to open a window on.
        """
        if self._started or self._stopped:
            return
        loop = asyncio.get_running_loop()
        probe = loop.run_in_executor(None, _check_display, self.screen)
        try:
            await asyncio.wait_for(probe, _PROBE_TIMEOUT)
        except asyncio.TimeoutError:
            raise UsageError(f"cannot open a window: display {self.screen.display} does not answer", fix="check_display") from None
        self._loop = loop
        try:
            await asyncio.wait_for(asyncio.wrap_future(_GUI.submit(self._gui_open)), _OPEN_TIMEOUT)
        except DecartError:
            raise
        except asyncio.TimeoutError:
            raise DecartError("cannot open a window: the window system does not answer", fix="no_window") from None
        except Exception as exc:  # noqa: BLE001 - cv2.error and friends become one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"cannot open a window: {first}", fix="no_display") from None
        self._started = True
        if self._track is not None:
            self._task = asyncio.ensure_future(self._pump(self._track))

    async def stop(self) -> None:
        """Stop reading, destroy the window (in the GUI thread) and wait for it. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._started:
            future = _GUI.submit(self._gui_destroy)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.wrap_future(future), _STOP_TIMEOUT)
        if not self._closed:
            self._closed = True
            self.close_reason = "stop"
            self._closed_event.set()

    # ------------------------------------------------------------------ plain API

    def show(self, frame: Any) -> None:
        """Show ``frame`` next; any thread, never blocks. Newest wins.

        ``frame`` is an ``av.VideoFrame`` (converted to BGR in the GUI
        thread) or a BGR ``numpy`` array.
        """
        if self._closed:
            return
        with self._slot_lock:
            if self._slot is not None:
                self.frames_dropped += 1
            self._slot = frame
        _GUI.wake()

    # ------------------------------------------------------------------ internals

    async def _pump(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while not self._closed:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.show(frame)

    def _mark_closed(self, reason: str) -> None:
        """From the GUI thread: record why the window closed and wake the waiters."""
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(self._closed_event.set)

    # The methods below run in the GUI thread only.

    def _gui_guarded(self, step: Callable[..., None], *args: Any) -> None:
        """Run one drawing/polling step; a failure closes this window, not the GUI thread."""
        try:
            step(*args)
        except Exception as exc:  # noqa: BLE001 - reported through .error / close_reason
            self.error = exc
            with contextlib.suppress(Exception):
                self._gui_remove()
            self._open = False
            with contextlib.suppress(ValueError):
                _GUI.windows.remove(self)
            self._mark_closed("error")

    def _gui_open(self) -> None:
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        if self.size is not None:
            cv2.resizeWindow(self.title, int(self.size[0]), int(self.size[1]))
            self._sized = True
        self._open = True
        _GUI.windows.append(self)

    def _gui_draw(self) -> None:
        with self._slot_lock:
            frame, self._slot = self._slot, None
        if frame is None or not self._open:
            return
        image = _side_by_side(frame) if isinstance(frame, Pair) else frame if isinstance(frame, np.ndarray) else frame.to_ndarray(format="bgr24")
        lines = self._overlay_lines()
        banner = self.banner
        if (banner or lines) and image is frame:
            image = image.copy()  # the caller's array: draw on our own
        if banner:
            _draw_banner(image, banner)
        if lines:
            _draw_lines(image, lines)
        if not self._sized:
            # Side by side, the window starts at half scale: two full frames are wider than most screens.
            scale = 2 if isinstance(frame, Pair) else 1
            cv2.resizeWindow(self.title, image.shape[1] // scale, image.shape[0] // scale)
            self._sized = True
        cv2.imshow(self.title, image)
        self.frames_shown += 1
        if not self._paint_checked:
            self._gui_check_painted(image)

    def _gui_check_painted(self, image: np.ndarray) -> None:
        """From a second after the first frame: if the X server holds black where the frame is bright, map the window again (see the module docstring).

        Checked again a second after each remap, at most
        :data:`_PAINT_REMAPS` times; done once the window shows the frame.
        """
        now = time.monotonic()
        if self._first_shown_at is None:
            self._first_shown_at = self._checked_at = now
        waited = now - self._first_shown_at
        if now - self._checked_at < _PAINT_CHECK[0]:
            return
        display = self.screen.display
        if waited > _PAINT_CHECK[1] or not display or not _uses_x11():
            self._paint_checked = True
            return
        height, width = image.shape[:2]
        if image[height // 2 - 4 : height // 2 + 4, width // 2 - 4 : width // 2 + 4].mean() < 40:
            return  # too dark to tell: a later frame
        window = xserver.window_named(display, self.title)
        shown = xserver.window_centre(display, window) if window is not None else None
        log.debug("window paint check after %.1f s: window %s, centre %s", waited, window, None if shown is None else int(shown.max()))
        if window is None or shown is None or shown.max() > 2 or self._remaps >= _PAINT_REMAPS:
            self._paint_checked = True
            return
        self._remaps += 1
        self._checked_at = now
        log.info("the window stayed black (Qt missed the X server's first events for it): mapping it again")
        xserver.remap(display, window)

    def _overlay_lines(self) -> list[str]:
        lines: list[str] = []
        if self.show_overlay and self.overlay is not None:
            lines += self.overlay()
        if self.show_keys:
            lines += list(KEYS_HELP)
        return lines

    def _gui_poll(self, key: int) -> None:
        if not self._open:
            return
        code = key & 0xFF if key != -1 else -1
        if code in _CLOSE_KEYS:
            self._gui_remove()
            self._mark_closed("key")
            return
        if code == ord("h"):
            self.show_overlay = not self.show_overlay
        elif code == ord("?"):
            self.show_keys = not self.show_keys
        elif code == ord("f"):
            self.fullscreen = not self.fullscreen
            mode = cv2.WINDOW_FULLSCREEN if self.fullscreen else cv2.WINDOW_NORMAL
            with contextlib.suppress(cv2.error):
                cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, mode)
        elif code in ACTION_KEYS and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self.on_key, ACTION_KEYS[code])
        if self.frames_shown == 0:
            return
        try:
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE)
        except cv2.error:
            visible = -1
        if visible >= 1:
            self._visible_seen = True
        elif self._visible_seen:
            self._gui_remove()
            self._mark_closed("window")

    def _gui_remove(self) -> None:
        if not self._open:
            return
        self._open = False
        with contextlib.suppress(ValueError):
            _GUI.windows.remove(self)
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
        cv2.waitKey(1)  # let Qt process the destruction

    def _gui_destroy(self) -> None:
        self._gui_remove()
