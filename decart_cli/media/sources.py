"""Input sources (camera, video file, test pattern, sample clip) as paced aiortc video tracks.

::

    capture thread ──fit_frame + BGR→I420──▶ newest-frame slot ──▶ SourceTrack.recv()
    (reads at the source's own rate)          (one frame, no queue)   (ticks at cfg.fps)

The thread and the track run on separate clocks on purpose: the thread
follows the source (a camera's delivery rate, a file's own frame rate, the
test pattern's ``cfg.fps``), and ``recv()`` follows the model's frame rate
by taking whatever frame is newest at each tick. A fast source therefore
drops frames, a slow or stalled one repeats its last frame, and neither
ever blocks the stream or builds a backlog.

:func:`open_source` does all the probing up front, so a bad input
fails before any network work with a :class:`~decart_cli.errors.SourceError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import glob
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from decart_cli.config import SourceConfig
from decart_cli.errors import SourceError
from decart_cli.media.fit import fit_frame
from decart_cli.media.pattern import TestPattern

__all__ = ["SourceTrack", "open_source", "CLOCK_RATE", "TIME_BASE"]

log = logging.getLogger(__name__)

CLOCK_RATE = 90000
"""RTP video clock: pts count 1/90000 s, as aiortc's own tracks do."""
TIME_BASE = fractions.Fraction(1, CLOCK_RATE)

FILE_FALLBACK_FPS = 25.0
CAMERA_FALLBACK_FPS = 30.0
MAX_LAG = 0.5
"""Seconds ``recv()`` may fall behind its schedule before it skips ticks.

Without this, a consumer that stalled (a blocked loop, a slow encoder)
would be handed a burst of back-to-back frames to "catch up", adding load
exactly when the system is already behind.
"""
CAMERA_WARMUP = 3.0
"""Seconds a freshly opened camera gets to deliver its first frame."""


# OpenCV's log level is process-global, so concurrent probes must not
# restore each other's saved level out of order.
_cv_log_lock = threading.Lock()


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own stderr warnings while probing devices and files.

    Probing a missing camera makes OpenCV print several WARN/ERROR lines
    (one per backend it tries); the user gets our one-line SourceError instead.
    """
    with _cv_log_lock:
        try:
            previous = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        except Exception:  # pragma: no cover - very old OpenCV without the logging API
            previous = None
        try:
            yield
        finally:
            if previous is not None:
                cv2.utils.logging.setLogLevel(previous)


def open_source(cfg: SourceConfig) -> SourceTrack:
    """Open the source named by ``cfg.spec`` now and return its track.

    ``test`` is the built-in pattern, ``sample`` the bundled sample clip
    (:func:`decart_cli.assets.sample_clip`, played like a file, so ``loop``
    applies), all digits a camera index, ``/dev/...`` a camera device,
    anything else a video file. The first frame is read
    here, so a missing, unreadable or non-video input raises
    :class:`~decart_cli.errors.SourceError` (message plus a hint);
    :func:`check_source` finds the cheap cases without opening anything.
    Opening a camera can block for a second or more: call it in a thread
    from async code.

    Nothing is captured or played until the first ``recv()``: a file starts
    at its beginning when the stream starts, however long connecting took.
    """
    _check_format(cfg)  # a file's path is checked as it is opened (_open_file)
    spec = cfg.spec.strip()
    if spec == "test":
        return SourceTrack(cfg, _TestPatternReader(cfg))
    if spec == "sample":
        return SourceTrack(cfg, _open_sample(cfg))
    camera = camera_of(spec)
    if camera is not None:
        return SourceTrack(cfg, _open_camera(camera, cfg))
    return SourceTrack(cfg, _open_file(spec, cfg))


def check_source(cfg: SourceConfig) -> None:
    """Raise :class:`~decart_cli.errors.SourceError` now for what needs no opening: the size, the rate, a file's path (missing, a directory, a pipe, unreadable).

    Cheap (a ``stat``), so a caller can run it on the event loop before it
    starts anything else; :func:`open_source` makes the same checks.
    """
    _check_format(cfg)
    spec = cfg.spec.strip()
    if spec not in ("test", "sample") and camera_of(spec) is None:
        _check_file(spec)


def _check_format(cfg: SourceConfig) -> None:
    """SourceError for a frame size or rate no source can be fitted to."""
    if cfg.width <= 0 or cfg.height <= 0 or cfg.width % 2 or cfg.height % 2:
        raise SourceError(
            f"invalid frame size {cfg.width}x{cfg.height}",
            hint="width and height must be positive and even (I420 needs even sizes)",
        )
    if not (cfg.fps > 0 and math.isfinite(cfg.fps)):
        raise SourceError(f"invalid frame rate {cfg.fps}", hint="the frame rate must be a positive number")


def _check_file(spec: str) -> Path:
    """The path of the video file ``spec`` names; SourceError if it is missing, a directory, not a regular file or unreadable."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(f"no such file: {spec}", fix="input", lead="check the path")
    if path.is_dir():
        raise SourceError(f"{spec} is a directory, not a video file", fix="input", lead="give a video file")
    if not path.is_file():
        # A named pipe or socket: opening it would block until a writer comes.
        raise SourceError(f"{spec} is not a regular file (a pipe or socket)", fix="input", lead="save the video to a file first")
    if not os.access(path, os.R_OK):
        raise SourceError(f"cannot read {spec}: permission denied", hint="check the file's permissions")
    return path


def camera_of(spec: str) -> int | str | None:
    """The camera an input ``spec`` names (an index, all digits, or a ``/dev/...`` device), or None for anything else."""
    spec = spec.strip()
    if spec.isdigit():
        return int(spec)
    return spec if spec.startswith("/dev/") else None


class SourceTrack(MediaStreamTrack):
    """A video track that delivers the source's newest frame at ``cfg.fps``.

    ``recv()`` returns ``yuv420p`` :class:`av.VideoFrame` objects of exactly
    ``cfg.width`` x ``cfg.height`` with ``pts`` in a 1/90000 time base,
    paced in real time from the first ``recv()`` (like aiortc's
    ``VideoStreamTrack``). A separate daemon thread captures, fits and
    converts frames; the track samples the newest one at each tick and
    re-sends the previous frame when nothing new arrived. When a file ends
    (without ``loop``) or a camera stops delivering, the next ``recv()``
    after the last frame raises ``MediaStreamError`` and the track ends.

    Counters (read them from the event loop; they are updated without
    locking from two threads, which is fine for display purposes):

    ``frames_captured``
        frames taken from the source by the capture thread;
    ``frames_sent``
        frames returned by ``recv()``, repeats included;
    ``frames_repeated``
        ticks at which no new frame had arrived, so the last one was re-sent;
    ``frames_dropped``
        captured frames never sent: overwritten in the slot by a newer
        one, or skipped because reading fell behind the file's clock.

    :meth:`pause` stops the track's clock: ``recv()`` waits, a file or the
    test pattern waits at the frame it reached, a camera keeps being read
    (so it does not stall) but nothing it delivers counts as dropped.
    :meth:`resume` starts the clock again where it stopped, so ``pts`` and a
    file's position go on as if no time had passed. :attr:`mirror` may be
    changed while the track runs (it applies from the next captured frame).

    ``source_fps`` is the source's native rate (``cfg.fps`` for the test
    pattern), ``source_size`` its native ``(width, height)``, and ``label``
    a short human description. ``error`` says why a source ended early.
    Call :meth:`stop` when done; it is idempotent.
    """

    kind = "video"

    def __init__(self, cfg: SourceConfig, reader: _Reader) -> None:
        super().__init__()
        self.cfg = cfg
        self.mirror = cfg.mirror
        """Flip frames horizontally (from the next one captured)."""
        self._reader = reader
        self.label: str = reader.label
        self.source_fps: float = reader.fps
        self.source_size: tuple[int, int] = reader.size
        self.error: str | None = None

        self.frames_captured = 0
        self.frames_sent = 0
        self.frames_repeated = 0
        self.frames_dropped = 0

        self._lock = threading.Lock()
        self._fresh: VideoFrame | None = None  # newest frame not yet sent
        self._fresh_i420: np.ndarray | None = None
        self._last_i420: np.ndarray | None = None  # what was sent last, for repeats
        self._source_ended = False

        self._stop_event = threading.Event()
        self._running = threading.Event()
        """Clear while paused."""
        self._running.set()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._paused_total = 0.0
        self._paused_at: float | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._start: float | None = None
        self._tick = 0

        # The probe frame read by open_source is the first frame delivered,
        # so the first recv() never waits for a slow camera to warm up.
        self._publish(self._prepare(reader.first_frame()))

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    @property
    def started_at(self) -> float | None:
        """When frames started (on :meth:`clock`): the first ``recv()``; None before it."""
        return self._start

    @property
    def file_path(self) -> str | None:
        """The media file read, for a file input; None for a camera or the test pattern."""
        return getattr(self._reader, "path", None)

    def clock(self) -> float:
        """The track's time: ``time.monotonic()`` less every pause (it stands still while paused)."""
        with self._lock:
            now = self._paused_at if self._paused_at is not None else time.monotonic()
            return now - self._paused_total

    def pause(self) -> None:
        """Stop sending frames until :meth:`resume` (see the class docstring); idempotent. Call on the loop."""
        with self._lock:
            if self._paused_at is not None:
                return
            self._paused_at = time.monotonic()
            self._running.clear()
            self._resumed.clear()

    def resume(self) -> None:
        """Send frames again, from where the clock stopped; idempotent. Call on the loop."""
        with self._lock:
            if self._paused_at is None:
                return
            self._paused_total += time.monotonic() - self._paused_at
            self._paused_at = None
            self._running.set()
            self._resumed.set()

    async def recv(self) -> VideoFrame:
        """Wait for the next tick and return the newest frame (or the last one again)."""
        if self.readyState != "live":
            raise MediaStreamError
        await self._resumed.wait()
        if self.readyState != "live" or self._stopped:
            raise MediaStreamError
        fps = self.cfg.fps
        if self._start is None:
            self._start = self.clock()
            self._tick = 0
            self._start_thread(self._start)
        else:
            self._tick += 1
            wait = self._start + self._tick / fps - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
                await self._resumed.wait()  # paused meanwhile: the clock has stopped, so the tick is still due
            elif -wait > MAX_LAG:
                # Jump to the current tick: pts then keep matching the clock.
                self._tick = int((self.clock() - self._start) * fps)
            if self.readyState != "live":
                raise MediaStreamError

        with self._lock:
            frame, i420 = self._fresh, self._fresh_i420
            self._fresh = self._fresh_i420 = None
            ended = self._source_ended
        if frame is not None:
            self._last_i420 = i420
        elif ended or self._last_i420 is None:
            self.stop()
            raise MediaStreamError
        else:
            # A fresh VideoFrame per tick: consumers may hold on to earlier
            # frames, and a shared object would see its pts change under it.
            frame = i420_frame(self._last_i420)
            self.frames_repeated += 1

        frame.pts = round(self._tick * CLOCK_RATE / fps)
        frame.time_base = TIME_BASE
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        """Stop capturing, release the device or file and end the track (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._stop_event.set()
            self._resumed.set()  # a recv() waiting out a pause sees the end
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                # The thread releases the capture itself on its way out, so a
                # read that outlives this timeout cannot race the release.
                thread.join(timeout=2.0)
                if thread.is_alive():
                    log.warning("capture thread for %s did not stop within 2 s", self.label)
            elif thread is None:
                self._reader.close()
        super().stop()

    # -- capture thread ---------------------------------------------------

    def _start_thread(self, t0: float) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(t0,), name=f"decart-source {self.label}", daemon=True
        )
        self._thread.start()

    def _run(self, t0: float) -> None:
        try:
            self._reader.run(self, t0)
        except Exception as exc:  # a failed read must end the track, not kill the process
            log.exception("capture from %s failed", self.label)
            self.error = f"{self.label}: {exc}"
        finally:
            self._reader.close()
            with self._lock:
                self._source_ended = True

    def _prepare(self, img: np.ndarray) -> tuple[VideoFrame, np.ndarray]:
        """Fit, mirror and convert one BGR image: the only pixel work per frame.

        Runs in the capture thread, ahead of the frame's due time, so that
        publishing it is just a swap under the lock.
        """
        cfg = self.cfg
        bgr = fit_frame(img, cfg.width, cfg.height, cfg.fit, self.mirror)
        i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        return i420_frame(i420), i420

    def _publish(self, prepared: tuple[VideoFrame, np.ndarray]) -> None:
        """Make a prepared frame the newest, dropping an unsent older one."""
        with self._lock:
            if self._fresh is not None and self._paused_at is None:
                self.frames_dropped += 1
            self._fresh, self._fresh_i420 = prepared
            self.frames_captured += 1

    def _count_skipped(self) -> None:
        with self._lock:
            self.frames_captured += 1
            self.frames_dropped += 1

    def _sleep_until(self, due: float) -> bool:
        """Sleep until the track's :meth:`clock` reaches ``due`` (waiting out pauses); False when the track is stopping."""
        while True:
            while not self._running.is_set():
                if self._stop_event.wait(0.05):
                    return False
            delay = due - self.clock()
            if delay <= 0:
                return not self._stop_event.is_set()
            if self._stop_event.wait(delay):
                return False
            if self._running.is_set() and due - self.clock() <= 0:
                return True

    @property
    def _stopping(self) -> bool:
        return self._stop_event.is_set()


def plane_pixels(frame: VideoFrame, index: int) -> np.ndarray:
    """Plane ``index`` (0 Y, 1 U, 2 V) of a yuv420p frame as an array of its visible pixels, without a copy (rows may be padded)."""
    plane = frame.planes[index]
    width, height = (frame.width, frame.height) if index == 0 else (frame.width // 2, frame.height // 2)
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]


def copy_frame(frame: VideoFrame) -> VideoFrame:
    """A frame of its own with ``frame``'s pixels, format, ``pts`` and ``time_base``.

    Copied plane by plane (~0.06 ms at 1280x704 in yuv420p, against ~0.2 ms
    through a numpy array) when the planes are laid out alike, else through
    a numpy array.
    """
    own = VideoFrame(frame.width, frame.height, frame.format.name)
    if all(src.line_size == dst.line_size for src, dst in zip(frame.planes, own.planes)):
        for src, dst in zip(frame.planes, own.planes):
            dst.update(src)
    else:
        own = VideoFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name)
    own.pts = frame.pts
    if frame.time_base is not None:
        own.time_base = frame.time_base
    return own


def i420_frame(i420: np.ndarray) -> VideoFrame:
    """A yuv420p frame holding a copy of an (H*3/2, W) I420 array (OpenCV's layout).

    The same pixels as ``VideoFrame.from_ndarray(i420, format="yuv420p")``,
    copied plane by plane with memcpy (~0.06 ms at 1280x704 instead of ~0.18).
    """
    rows, width = i420.shape
    height = rows * 2 // 3
    frame = VideoFrame(width, height, "yuv420p")
    y, u, v = frame.planes
    if not (i420.flags.c_contiguous and y.line_size == width and u.line_size == v.line_size == width // 2):
        return VideoFrame.from_ndarray(i420, format="yuv420p")
    quarter = width * height // 4
    flat = i420.reshape(-1)
    y.update(flat[: width * height])
    u.update(flat[width * height : width * height + quarter])
    v.update(flat[width * height + quarter :])
    return frame


# -- readers: one per kind of source --------------------------------------


class _Reader:
    """What SourceTrack needs from a source: a probe frame and a capture loop."""

    label: str
    fps: float
    size: tuple[int, int]

    def first_frame(self) -> np.ndarray:
        raise NotImplementedError

    def run(self, track: SourceTrack, t0: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the reader holds; may be called more than once."""


class _CaptureReader(_Reader):
    """A camera or a file behind a cv2.VideoCapture."""

    def __init__(self, cap: cv2.VideoCapture, first: np.ndarray, label: str, fps: float) -> None:
        self.cap: cv2.VideoCapture | None = cap
        self._first = first
        self.label = label
        self.fps = fps
        self.size = (first.shape[1], first.shape[0])
        self._close_lock = threading.Lock()

    def first_frame(self) -> np.ndarray:
        return self._first

    def close(self) -> None:
        with self._close_lock:
            cap, self.cap = self.cap, None
        if cap is not None:
            with contextlib.suppress(Exception):
                cap.release()


class _CameraReader(_CaptureReader):
    def run(self, track: SourceTrack, t0: float) -> None:
        cap = self.cap
        failures = 0
        while cap is not None and not track._stopping:
            # read() blocks until the camera delivers: no pacing needed here.
            ok, img = cap.read()
            if ok and img is not None:
                failures = 0
                track._publish(track._prepare(img))
                continue
            failures += 1
            # A single failed read happens (USB hiccups); many in a row mean
            # the camera is gone, and the session should end, not hang.
            if failures >= 25:
                track.error = f"{self.label} stopped delivering frames"
                return
            track._stop_event.wait(0.02)


class _FileReader(_CaptureReader):
    def __init__(self, cap: cv2.VideoCapture, first: np.ndarray, label: str, fps: float, path: str, loop: bool) -> None:
        super().__init__(cap, first, label, fps)
        self.path = path
        self.loop = loop

    def run(self, track: SourceTrack, t0: float) -> None:
        period = 1.0 / self.fps
        # Frame i is published half a period before its nominal time, so that
        # when the file's rate equals the model's, each frame lands clearly
        # before the recv() tick that should take it instead of racing it.
        index = 1  # frame 0 was the probe frame, already in the slot
        rewound = False  # a read right after a rewind failed too: nothing to play
        while not track._stopping:
            due = t0 + (index - 0.5) * period
            if track.clock() > due + period:
                # Behind the file's clock (decoding too slow): skip this frame;
                # grab() decodes but skips the colour conversion and our fit.
                img = None
                got = self.cap is not None and bool(self.cap.grab())
            else:
                img = self._read()
                got = img is not None
            if not got:
                if rewound or not self._rewind():
                    return
                rewound = True
                continue
            rewound = False
            if img is None:
                track._count_skipped()
            else:
                prepared = track._prepare(img)
                if not track._sleep_until(due):
                    return
                track._publish(prepared)
            index += 1

    def _read(self) -> np.ndarray | None:
        cap = self.cap
        if cap is None:
            return None
        ok, img = cap.read()
        return img if ok and img is not None and img.size else None

    def _rewind(self) -> bool:
        """At the end of the file: seek back to its start when looping; False ends the track."""
        if not self.loop or self.cap is None:
            return False
        with _quiet_opencv():
            ok = False
            with contextlib.suppress(cv2.error):
                ok = bool(self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0))
            if not ok:
                # Some containers cannot seek; reopening always starts at 0.
                self.close()
                cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
                if not cap.isOpened():
                    log.warning("cannot reopen %s to loop it", self.path)
                    return False
                with self._close_lock:
                    self.cap = cap
        return True


class _TestPatternReader(_Reader):
    def __init__(self, cfg: SourceConfig) -> None:
        self.pattern = TestPattern(cfg.width, cfg.height, cfg.fps)
        self.label = "test pattern"
        self.fps = cfg.fps
        self.size = (cfg.width, cfg.height)

    def first_frame(self) -> np.ndarray:
        return self.pattern.render(0)

    def run(self, track: SourceTrack, t0: float) -> None:
        period = 1.0 / self.fps
        index = 1
        while not track._stopping:
            late = track.clock() - (t0 + (index - 0.5) * period)
            if late > period:
                # Generation fell behind: jump to now rather than trail forever.
                index += int(late / period)
            due = t0 + (index - 0.5) * period
            prepared = track._prepare(self.pattern.render(index))
            if not track._sleep_until(due):
                return
            track._publish(prepared)
            index += 1


def _open_camera(device: int | str, cfg: SourceConfig) -> _CameraReader:
    name = f"camera {device}"
    fix = _camera_fix()
    if isinstance(device, str) and not os.path.exists(device):
        raise SourceError(f"{name} not found", **fix)
    with _quiet_opencv():
        try:
            if isinstance(device, str) and sys.platform.startswith("linux"):
                cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
                if not cap.isOpened():
                    cap = cv2.VideoCapture(device)
            else:
                cap = cv2.VideoCapture(device)
        except cv2.error:
            raise SourceError(f"{name} not found", **fix) from None
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{name} not found", **fix)
        try:
            _request_camera_format(cap, cfg)
            first = None
            deadline = time.monotonic() + CAMERA_WARMUP
            while first is None and time.monotonic() < deadline:
                ok, img = cap.read()
                if ok and img is not None and img.size:
                    first = img
                else:
                    time.sleep(0.05)
            fps = _valid_fps(cap.get(cv2.CAP_PROP_FPS)) or CAMERA_FALLBACK_FPS
        except cv2.error:
            first = None
            fps = CAMERA_FALLBACK_FPS
    if first is None:
        cap.release()
        raise SourceError(
            f"{name} opened but delivered no picture",
            fix="camera_busy",
        )
    w, h = first.shape[1], first.shape[0]
    return _CameraReader(cap, first, f"{name} ({w}x{h})", fps)


def _request_camera_format(cap: cv2.VideoCapture, cfg: SourceConfig) -> None:
    """Ask the camera for a size near the model's; it picks the closest it has.

    MJPG first: at 720p many USB cameras only reach their full frame rate
    compressed. Each request is a hint a camera may ignore; fit_frame copes
    with whatever arrives.
    """
    with contextlib.suppress(cv2.error):
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        cap.set(cv2.CAP_PROP_FPS, max(cfg.fps, 30.0))
        # A one-frame driver buffer: a stale frame there is pure latency.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)


def _camera_fix() -> dict[str, str]:
    """What a missing camera's error names to fix (``fix`` and its details): the cameras there are, where they can be listed."""
    if sys.platform.startswith("linux"):
        devices = sorted(glob.glob("/dev/video*"))
        if not devices:
            return {"fix": "no_camera"}
        return {"fix": "other_camera", "cameras": ", ".join(devices)}
    return {"fix": "default_camera"}


def _open_file(spec: str, cfg: SourceConfig) -> _FileReader:
    path = _check_file(spec)
    not_video = SourceError(
        f"{spec} is not a video that can be read",
        hint="check that it plays in a video player, or convert it: ffmpeg -i IN -c:v libx264 out.mp4",
    )
    with _quiet_opencv():
        try:
            cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            if not cap.isOpened():
                cap.release()
                cap = cv2.VideoCapture(str(path))
            if not cap.isOpened() or _is_text_art(cap):
                cap.release()
                raise not_video
            ok, first = cap.read()
            fps = _valid_fps(cap.get(cv2.CAP_PROP_FPS)) or FILE_FALLBACK_FPS
        except cv2.error:
            raise not_video from None
    if not ok or first is None or not first.size:
        cap.release()
        raise not_video
    w, h = first.shape[1], first.shape[0]
    label = f"{path.name} ({w}x{h} @ {fps:g} fps)"
    return _FileReader(cap, first, label, fps, str(path), cfg.loop)


def _open_sample(cfg: SourceConfig) -> _FileReader:
    from decart_cli.assets import sample_clip

    try:
        path = sample_clip()
    except FileNotFoundError as exc:
        raise SourceError(str(exc), fix="reinstall") from None
    reader = _open_file(str(path), cfg)
    reader.label = "sample clip " + reader.label
    return reader


# FFmpeg's tty demuxer "plays" .txt/.nfo/.ans files as ANSI-art video, and
# its bintext family does the same for text-mode art: a text file passed by
# mistake would otherwise stream as a picture of its own text.
_TEXT_ART_CODECS = (b"ansi", b"bint", b"xbin", b"idf")


def _is_text_art(cap: cv2.VideoCapture) -> bool:
    try:
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
    except (cv2.error, ValueError, OverflowError):
        return False
    tag = fourcc.to_bytes(4, "little").rstrip(b"\0 ").lower()
    return bool(tag) and any(tag.startswith(name) for name in _TEXT_ART_CODECS)


def _valid_fps(value: float) -> float | None:
    """A usable frame rate, or None: files and drivers report 0, NaN or nonsense."""
    if value and math.isfinite(value) and 0.5 <= value <= 1000:
        return float(value)
    return None
