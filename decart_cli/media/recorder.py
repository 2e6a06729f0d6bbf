"""Record the edited stream to an H.264 file (.mp4 or .mkv), in real time.

The sink has aiortc's shape (``addTrack``, ``start``, ``stop``), and a
plain thread-safe :meth:`Recorder.write` for feeding it without a track::

    track.recv() ──▶ write(frame) ──(bounded queue, drop oldest)──▶
        encoder thread: copy → pts from arrival time → libx264 → mux → file

- **Real time.** A frame's pts is the moment it *arrived* (monotonic clock)
  relative to the first frame, so a 2 s stall in the stream shows as the
  held frame lasting 2 s, and the file lasts as long as the session did.
  The stream's nominal rate is ``fps``; the timestamps are variable.
- **Crash-safe.** ``.mp4`` is written fragmented (``frag_keyframe +
  empty_moov + default_base_moof``, fragments of at most 0.5 s) and
  ``.mkv`` in clusters of at most 0.5 s, with a keyframe at least every
  second and the file flushed after every packet: a killed process loses
  less than the last second, and what is on disk decodes.
- **Never blocks the loop.** Encoding runs in one dedicated thread fed by a
  queue of ``2 * fps`` frames; under overload the oldest queued frame is
  dropped and counted in ``frames_dropped``.
- **Nothing recorded, no file.** The file is created at the first frame; if
  no frame ever arrived, :meth:`stop` leaves no file (and leaves alone any
  file already at ``path``). An existing file is overwritten once a frame
  arrives.

Frames are never modified: the recorder encodes its own copy (frames may be
shared with other sinks, see :mod:`decart_cli.media.relay`).

**Encoded input.** A recorder can instead take the H.264 frames as they
were received (:meth:`Recorder.write_encoded`, or a :meth:`Recorder.tap` on
a connection's jitter buffer) and write them without re-encoding (see
:mod:`decart_cli.media.remux`): ~0.07 ms a frame instead of ~4.5 ms. Which
input the file is made from (``mode``) is chosen once, before frames come,
by whoever feeds it: :meth:`Recorder.tap` chooses the encoded frames
(``"remux"``), :meth:`Recorder.take_decoded` the decoded ones
(``"encode"``); the other input is then ignored. An edit session chooses
when its first connection starts (``Connection.media_starting``). A
recorder nobody chose for takes the first input that arrives: an H.264
encoded frame makes it ``"remux"``; a decoded frame, or an encoded frame of
another codec, ``"encode"``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.frame import PictureType

from decart_cli.errors import DecartError, UsageError

from .audio_mux import AudioMux
from .captions import CaptionTrack, Cues, add_mov_text
from .remux import EncodedFrame, EncodedTap, H264Remuxer, open_fragmented
from .salvage import count_video_frames, trim_mp4
from .sources import copy_frame

__all__ = ["Recorder", "CONTAINERS"]

log = logging.getLogger(__name__)

CONTAINERS = {".mp4": "mp4", ".mkv": "matroska"}
"""Supported file suffixes and the FFmpeg muxer each one uses."""

_KEYFRAME_INTERVAL = 1.0
"""Longest media time between keyframes (s): what a killed process may lose."""
_QUEUE_SECONDS = 2.0
"""How much the encoder may fall behind (in frames at ``fps``) before dropping."""
_AUDIO_QUEUE = 500
"""Audio frames queued at most (~10 s of 20 ms chunks: sound waits for the file's first video frame)."""
_PROGRESS_INTERVAL = 1.0
"""Seconds between the progress lines logged at info level (``-v``)."""


def _check_creatable(path: Path) -> None:
    """Create ``path`` for writing (and remove it again if it was not there): UsageError if that fails.

    Permission bits do not tell (root may "write" to /proc, a full or
    read-only filesystem refuses anyway): only creating the file does, and
    it must fail before the session starts, not after it.
    """
    existed = path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot record to {path}: {exc.strerror or exc.__class__.__name__}", hint="choose another path") from None
    os.close(fd)
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()


class Recorder:
    """Write the frames of one video track (or of :meth:`write`) to ``path``.

    ``path`` must end in ``.mp4`` or ``.mkv`` and its directory must exist
    and be writable; otherwise the constructor raises
    :class:`~decart_cli.errors.UsageError`. ``fps`` is the nominal rate
    (it also sets the keyframe interval, ``gop = fps``); ``codec``,
    ``preset`` and ``crf`` choose the encoder (``preset`` and ``crf`` apply
    to libx264/libx265 only). The default ``crf`` 23 (x264's own) keeps a
    received 1280x704 stream at ~47 dB PSNR of what arrived, which was itself
    compressed once or twice on the way (~33 dB of the source on the bench);
    crf 20 gave ~49 dB for ~0.5 ms more CPU a frame and ~25% more bits.

    Counters: ``frames_received`` (accepted by :meth:`write` or
    :meth:`write_encoded`), ``frames_written`` (muxed into the file; lags
    the input by the encoder's delay until :meth:`stop`) and
    ``frames_dropped`` (discarded because the writer fell behind); at most
    once a second they are logged at info level. If
    encoding or writing fails, ``error`` holds a
    :class:`~decart_cli.errors.DecartError`, later frames are ignored, and
    :meth:`stop` raises it once.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        fps: float = 25,
        codec: str = "libx264",
        preset: str = "ultrafast",
        crf: int = 23,
        audio: bool = False,
        captions: bool = False,
    ) -> None:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in CONTAINERS:
            shown = suffix or f"{path.name!r} (no suffix)"
            raise UsageError(f"cannot record to {shown}", hint="use .mp4 or .mkv")
        if path.is_dir():
            raise UsageError(f"cannot record to {path}: it is a directory", hint="give a file name ending in .mp4 or .mkv")
        parent = path.parent
        if not parent.is_dir():
            raise UsageError(f"cannot record to {path}: directory {parent} does not exist", hint="create it first")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"cannot record to {path}: directory {parent} is not writable", hint="choose another path")
        if path.exists() and not os.access(path, os.W_OK):
            raise UsageError(f"cannot record to {path}: the file is not writable", hint="choose another path")
        if not fps or fps <= 0:
            raise UsageError(f"cannot record at {fps} fps", hint="give a positive frame rate")
        _check_creatable(path)
        try:
            av.codec.Codec(codec, "w")
        except Exception:  # noqa: BLE001 - PyAV raises several kinds for an unknown codec
            raise UsageError(f"cannot record: no video encoder named {codec!r}", hint="use libx264") from None

        self._path = path
        self._format = CONTAINERS[suffix]
        self._fps = float(fps)
        self._codec = codec
        self._preset = preset
        self._crf = crf
        self._gop = max(1, round(self._fps))
        # Matroska stores milliseconds; MP4 gets the finer 90 kHz clock.
        self._time_base = Fraction(1, 1000) if self._format == "matroska" else Fraction(1, 90000)

        self.frames_received = 0
        self.frames_written = 0
        self.frames_dropped = 0
        self._progress_at = 0.0
        self.error: DecartError | None = None
        self.mode: str | None = None
        """``"remux"`` (encoded input), ``"encode"`` (decoded input), or None before it is chosen (see the module docstring)."""
        self.on_warning: Callable[[str], None] | None = None
        """Called on the recorder's thread with a message for the user (e.g. a connection that cannot be remuxed)."""
        self.on_failure: Callable[[DecartError], None] | None = None
        """Called once, on the recorder's thread, when writing fails (the disk filled, the device went): the recording has ended."""
        self.frames_kept: int | None = None
        """After a failure, once finished: the frames the file still holds (cut back to its last whole fragment)."""

        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[float, Any]] = collections.deque()
        self._maxlen = max(2, round(_QUEUE_SECONDS * self._fps))
        self._closing = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._error_raised = False

        self._track: Any = None
        self._task: asyncio.Task[None] | None = None

        # Encoder-thread state.
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None
        self._t0: float | None = None
        self._last_pts = -1
        self._encoded = 0
        self._last_key_t = 0.0
        self._since_key = 0
        self._remuxer: H264Remuxer | None = None
        self._encoded_seq = 0
        self.audio = audio
        """Whether the file gets an audio track (:meth:`write_audio`); decided before the first frame."""
        self._audio_queue: collections.deque[tuple[float, Any]] = collections.deque(maxlen=_AUDIO_QUEUE)
        self._audio: AudioMux | None = None
        self.captions = captions
        """Whether the file gets a subtitle track naming the prompt in force (:meth:`set_caption`): Matroska as it is written, MP4 once finished."""
        self._caption_queue: collections.deque[tuple[float, str]] = collections.deque(maxlen=1000)
        self._captions: CaptionTrack | None = None
        self._cues = Cues()
        """An MP4's prompt changes, written as subtitles once the file is finished (see :func:`~.captions.add_mov_text`)."""
        self._last_t = 0.0

    @property
    def path(self) -> Path:
        """The file being written."""
        return self._path

    @property
    def gap_seconds(self) -> float:
        """In ``remux`` mode: seconds of timestamp holes where a connection was replaced."""
        return self._remuxer.gap_seconds if self._remuxer is not None else 0.0

    # ------------------------------------------------------------------ aiortc sink shape

    def addTrack(self, track: Any) -> None:  # noqa: N802 - aiortc's name
        """Record ``track`` (video) once :meth:`start` runs; audio tracks are ignored."""
        if getattr(track, "kind", "video") != "video":
            return
        if self._track is not None:
            raise RuntimeError("Recorder records one video track")
        self._track = track

    async def start(self) -> None:
        """Start reading the added track (if any) into the file."""
        if self._track is not None and self._task is None and not self._closed:
            self._task = asyncio.ensure_future(self._pump(self._track))

    async def stop(self) -> None:
        """Stop reading, encode what is queued, finish the file. Idempotent.

        Raises the recording's :class:`~decart_cli.errors.DecartError` (once)
        if encoding or writing failed.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def abandon(self) -> None:
        """Stop and keep nothing: what is queued is dropped, and a file this recorder began is removed.

        For a session that ended before its first edited frame: the file
        could hold only a frame or two that came as it ended, and no summary
        names it.
        """
        with self._cond:
            self._closing = True  # later frames are refused (see _put)
            self._queue.clear()
            self._audio_queue.clear()
            self._caption_queue.clear()
        with contextlib.suppress(DecartError):  # a failure to write what is being removed anyway
            await self.stop()
        if self.t0 is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()

    # ------------------------------------------------------------------ plain API

    def write(self, frame: Any) -> None:
        """Queue one ``av.VideoFrame`` (any thread; never blocks); its arrival time is now.

        When the queue is full the oldest queued frame is dropped. Frames
        written after :meth:`stop`/:meth:`close`, or after a failure, are
        ignored.
        """
        now = time.monotonic()
        with self._cond:
            if self.mode is None:
                self._choose("encode")
            elif self.mode != "encode":
                return
            self._put(now, frame)

    def write_encoded(self, data: bytes, codec: str, *, link: Any = None) -> None:
        """Queue one received encoded frame (an Annex B access unit for ``codec`` ``"h264"``); never blocks.

        Its arrival time is now. ``link`` identifies the connection it came
        on: frames of a new one are skipped until its first keyframe (a
        ``link`` with ``request_keyframe()`` is asked for one). When the
        queue is full the oldest frame is dropped, and frames up to the next
        keyframe are skipped.
        """
        now = time.monotonic()
        with self._cond:
            if self.mode is None:
                self._choose("remux" if codec == "h264" else "encode", f" ({codec or 'unknown'} received)")
            if self.mode != "remux":
                return
            self._encoded_seq += 1
            self._put(now, EncodedFrame(data, codec, link, self._encoded_seq))

    def write_audio(self, at: float, frame: Any) -> None:
        """Queue one ``av.AudioFrame`` to sound at monotonic time ``at`` on the video's arrival clock (any thread).

        Ignored unless the recorder was made with ``audio``. Sound for before
        the file's first video frame is dropped; the oldest queued is
        dropped when the writer falls behind.
        """
        if not self.audio:
            return
        with self._cond:
            if self._closing or self.error is not None:
                return
            self._audio_queue.append((at, frame))
            self._wake_writer()

    def set_caption(self, at: float, text: str) -> None:
        """From monotonic time ``at`` (on the video's arrival clock) the prompt in force is ``text`` (any thread)."""
        if not self.captions:
            return
        with self._cond:
            if self._closing or self.error is not None:
                return
            self._caption_queue.append((at, text))
            self._cond.notify()

    @property
    def t0(self) -> float | None:
        """The monotonic arrival time the file's clock starts at (its first frame); None before the file exists."""
        return self._remuxer.t0 if self._remuxer is not None else self._t0

    @property
    def audio_frames_written(self) -> int:
        """AAC frames muxed into the file."""
        return self._audio.frames_written if self._audio is not None else 0

    def tap(self, buffer: Any) -> EncodedTap | None:
        """Record the frames ``buffer`` (a connection's jitter buffer) releases; None where it cannot.

        The first tap chooses the encoded input (``mode`` ``"remux"``), so
        the decoded frames are ignored from then on. None when the buffer has
        no taps (the tuning is off) or the decoded input was chosen: feed it
        decoded frames. The caller closes the tap when the connection goes.
        """
        if self.mode == "encode" or not EncodedTap.supported(buffer):
            return None
        with self._cond:
            if self.mode is None:
                self._choose("remux")
        return EncodedTap(buffer, self.write_encoded)

    def take_decoded(self) -> None:
        """Choose the decoded input (``mode`` ``"encode"``): encoded frames and taps are refused from now on. No-op once chosen."""
        with self._cond:
            if self.mode is None:
                self._choose("encode")

    def _choose(self, mode: str, why: str = "") -> None:
        """Set ``mode`` once (hold ``_cond``)."""
        self.mode = mode
        log.info("recording %s", "the received H.264 as is" if mode == "remux" else f"by re-encoding the decoded frames{why}")

    def _put(self, now: float, item: Any) -> None:
        """Queue ``item`` for the recorder thread, dropping the oldest when full (hold ``_cond``)."""
        if self._closing or self.error is not None:
            return
        if len(self._queue) >= self._maxlen:
            self._queue.popleft()
            self.frames_dropped += 1
        self._queue.append((now, item))
        self.frames_received += 1
        self._wake_writer()
        if now - self._progress_at >= _PROGRESS_INTERVAL:
            self._progress_at = now
            log.info("recording: %d frames received, %d written, %d dropped", self.frames_received, self.frames_written, self.frames_dropped)

    def _wake_writer(self) -> None:
        """Start the writer thread on first use, and tell it there is work (hold ``_cond``)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="decart-recorder", daemon=True)
            self._thread.start()
        self._cond.notify()

    def close(self) -> None:
        """Blocking :meth:`stop` for callers without an event loop (the track is not touched)."""
        with self._close_lock:
            with self._cond:
                self._closing = True
                self._cond.notify()
            if self._thread is not None:
                self._thread.join()
            self._closed = True
            if self.error is not None and not self._error_raised:
                self._error_raised = True
                raise self.error

    # ------------------------------------------------------------------ internals

    async def _pump(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.mode == "remux":
                track.stop()  # the file is made from the encoded frames: stop holding decoded ones
                return
            if isinstance(frame, av.VideoFrame):
                self.write(frame)

    def _run(self) -> None:
        """The encoder thread: write queued frames until closing and the queues are empty (sound once the file exists)."""
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._side_ready() and not self._closing:
                        self._cond.wait(0.1)
                    if not self._queue and not self._side_ready():
                        if self._closing:
                            break
                        continue
                    caption = self._caption_queue.popleft() if self._caption_queue and self.t0 is not None else None
                    item = self._queue.popleft() if self._queue and caption is None else None
                    sound = self._audio_queue.popleft() if item is None and caption is None and self._audio_queue else None
                if caption is not None:
                    self._write_caption(*caption)
                elif item is not None:
                    arrival, frame = item
                    if isinstance(frame, EncodedFrame):
                        self._remux(arrival, frame)
                    else:
                        self._encode(arrival, frame)
                    self._advance_captions(arrival)
                elif sound is not None:
                    self._write_audio(*sound)
        except Exception as exc:  # noqa: BLE001 - reported through .error / stop()
            self._fail(exc)
        finally:
            self._finish()

    def _side_ready(self) -> bool:
        """Sound or captions are queued and the file exists to take them (hold ``_cond``)."""
        return bool(self._audio_queue or self._caption_queue) and self.t0 is not None

    def _add_side_streams(self, container: Any) -> None:
        """Add the streams beside the video when the file is created."""
        if self.audio:
            self._audio = AudioMux(container)
        if self.captions and self._format == "matroska":
            # An MP4 gets its subtitles once finished: FFmpeg's fragmented-MP4 muxer aborted the
            # process now and then when the last mov_text piece was written at the end of a
            # re-encoded recording.
            self._captions = CaptionTrack(container)

    def _write_caption(self, at: float, text: str) -> None:
        t0 = self.t0
        if t0 is None:
            return
        if self._captions is not None:
            self._captions.change(at - t0, text)
        elif self.captions and self._format == "mp4":
            self._cues.change(max(0.0, at - t0), text)

    def _advance_captions(self, arrival: float) -> None:
        t0 = self.t0
        if t0 is not None:
            self._last_t = max(self._last_t, arrival - t0)
            if self._captions is not None:
                self._captions.advance(self._last_t)

    def _write_audio(self, at: float, frame: Any) -> None:
        t0 = self.t0
        if self._audio is not None and t0 is not None:
            self._audio.write(at - t0, frame)

    def _fail(self, exc: BaseException) -> None:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        with self._cond:
            first = self.error is None
            self.error = DecartError(f"recording to {self._path} failed: {reason}")
            self._queue.clear()
        if first:
            log.info("%s", self.error.message)
            if self.on_failure is not None:
                self.on_failure(self.error)

    def _open(self, width: int, height: int) -> None:
        # Fragments of at most 0.5 s even between keyframes: a keyframe's
        # fragment alone could hold a second plus the encoder's delay, more
        # than a kill may lose.
        container = open_fragmented(self._path, self._format)
        try:
            stream = container.add_stream(self._codec, rate=Fraction(self._fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            ctx = stream.codec_context
            ctx.time_base = self._time_base
            ctx.gop_size = self._gop
            # No B-frames: with them MP4 shifts every pts by the reorder delay
            # (no edit list in a fragmented file), and the encoder holds more
            # frames back (more to lose in a crash).
            ctx.max_b_frames = 0
            if self._codec in ("libx264", "libx265"):
                # One encoder thread: the recorder already has its own thread,
                # and on a small machine x264's frame threads only add
                # synchronisation (and frames held back) next to the session.
                stream.options = {"preset": self._preset, "crf": str(self._crf), "forced-idr": "1", "threads": "1"}
            self._add_side_streams(container)
        except Exception:
            container.close()
            raise
        self._container, self._stream, self._size = container, stream, (width, height)

    def _encode(self, arrival: float, frame: Any) -> None:
        if self._container is None:
            # x264 needs even dimensions for 4:2:0.
            self._open(frame.width - frame.width % 2, frame.height - frame.height % 2)
            self._t0 = arrival
        assert self._size is not None and self._t0 is not None
        width, height = self._size
        own = frame
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (width, height):
            own = frame.reformat(width=width, height=height, format="yuv420p")
        if own is frame:
            # Our own copy: the caller's frame may be shared with other sinks.
            own = copy_frame(frame)

        t = arrival - self._t0
        pts = max(round(t / self._time_base), self._last_pts + 1)
        self._last_pts = pts
        own.pts = pts
        own.time_base = self._time_base
        own.pict_type = self._pict_type(float(pts * self._time_base))

        self._encoded += 1
        for packet in self._stream.encode(own):
            self._container.mux(packet)
            self.frames_written += 1

    def _remux(self, arrival: float, frame: EncodedFrame) -> None:
        if self._remuxer is None:
            self._remuxer = H264Remuxer(self._path, self._format, self._time_base, self._fps, self._warn, on_open=self._add_side_streams)
        if self._remuxer.write(arrival, frame):
            self.frames_written += 1

    def _warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)
        else:
            log.warning("%s", message)

    def _pict_type(self, t: float) -> PictureType:
        """Force a keyframe when the encoder would not place one within ``_KEYFRAME_INTERVAL``.

        The encoder puts a keyframe every ``gop`` frames by itself; at a
        lower frame rate that is more than a second apart, so a keyframe is
        forced by media time (keeping fragments, and a crash's loss, ~1 s).
        """
        if self._encoded == 0:
            self._last_key_t, self._since_key = t, 0
            return PictureType.NONE  # the first frame is always a keyframe
        self._since_key += 1
        if self._since_key >= self._gop:  # the encoder places one here itself
            self._last_key_t, self._since_key = t, 0
            return PictureType.NONE
        if t - self._last_key_t >= _KEYFRAME_INTERVAL:
            self._last_key_t, self._since_key = t, 0
            return PictureType.I
        return PictureType.NONE

    def _finish(self) -> None:
        """Finish the file (on the writer thread): flush, close, then an MP4's subtitles."""
        self._close_file()
        if self.error is not None:
            self._salvage()
        self._add_subtitles()

    def _salvage(self) -> None:
        """After a failure: cut the file back to its last whole fragment, and count what it keeps."""
        if not self._path.exists():
            self.frames_kept = 0
            return
        try:
            if self._format == "mp4":
                trim_mp4(self._path)
        except OSError as exc:
            log.warning("could not cut %s back to its last whole fragment: %s", self._path, exc)
        self.frames_kept = count_video_frames(self._path)
        self.frames_written = self.frames_kept
        self.error = DecartError(f"{self.error.message}; the file keeps the {self.frames_kept} frames written before it")

    def _close_file(self) -> None:
        """Flush the encoder and close the container."""
        if self._remuxer is not None:
            try:
                self._remuxer.close(before=self._close_side_streams)
            except Exception as exc:  # noqa: BLE001
                if self.error is None:
                    self._fail(exc)
        container, self._container = self._container, None
        if container is None:
            return
        try:
            if self.error is None:
                for packet in self._stream.encode(None):
                    container.mux(packet)
                    self.frames_written += 1
                self._close_side_streams()
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
        finally:
            try:
                container.close()
            except Exception as exc:  # noqa: BLE001
                if self.error is None:
                    self._fail(exc)

    def _add_subtitles(self) -> None:
        """A finished MP4: the prompts as a subtitle track (the file is copied once); a failure is a warning."""
        if not self._cues or self.error is not None or not self._path.exists():
            return
        try:
            add_mov_text(self._path, self._cues.cues(self._last_t + 1.0 / self._fps))
        except Exception as exc:  # noqa: BLE001 - the recording itself is whole: say so and go on
            log.debug("subtitles not added", exc_info=True)
            self._warn(f"the prompts were not added to {self._path.name} as subtitles ({exc.__class__.__name__}); the session record has them")

    def _close_side_streams(self) -> None:
        """Write the sound and captions still queued for the file's time, then flush the AAC encoder."""
        while self._caption_queue:
            self._write_caption(*self._caption_queue.popleft())
        if self._captions is not None:
            self._captions.close(self._last_t + 1.0 / self._fps)
        if self._audio is None:
            return
        while self._audio_queue:
            self._write_audio(*self._audio_queue.popleft())
        self._audio.close()

