"""Audio beside the edited video: a file's own track, or a microphone.

The server edits video only; audio is carried around it::

    file ──▶ AudioInput thread (decode, 48 kHz s16 stereo, paced by the video source's clock)
    microphone ──▶ Microphone (PortAudio's callback thread)
        ├─▶ Recorder.write_audio (the file's audio track, shifted by the measured video lag)
        └─▶ AudioTrack ──▶ the link, where the transport carries audio

A file's audio is paced by the video :class:`~decart_cli.media.sources.SourceTrack`'s
clock, so it pauses with ``/pause`` and keeps step with the frames sent. A
microphone (:class:`Microphone`) is captured as it comes, through PortAudio
(``sounddevice``).

Each chunk is handed on with the monotonic time it was "played" (sent);
the recorder places it at that time plus the lag the video needs to come
back edited (:class:`~decart_cli.media.pairing.Pairing`), so sound and
picture line up in the file.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..errors import AudioError

log = logging.getLogger(__name__)

RATE = 48000
"""Sample rate of everything past the input (Opus's and AAC's usual)."""
LAYOUT = "stereo"
TIME_BASE = fractions.Fraction(1, RATE)

Deliver = Callable[[float, av.AudioFrame], None]
"""Receives (monotonic time played, 48 kHz s16 stereo frame)."""


def file_has_audio(path: str) -> bool:
    """Whether the media file at ``path`` has an audio stream PyAV can decode."""
    try:
        with av.open(path) as container:
            return any(stream.codec_context is not None for stream in container.streams.audio)
    except (av.FFmpegError, OSError):
        return False


_alsa_quiet: Any = None
"""The no-op ALSA error handler, kept alive while installed."""


def _quiet_alsa() -> None:
    """Stop the system's ALSA library printing its own errors on stderr (PortAudio probes every device)."""
    global _alsa_quiet
    if _alsa_quiet is not None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("asound")
    if name is None:
        return
    try:
        asound = ctypes.CDLL(name)
    except OSError:
        return
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _alsa_quiet = handler_type(lambda *args: None)
    asound.snd_lib_error_set_handler(_alsa_quiet)


class Microphone:
    """The default (or a named) microphone through PortAudio (``sounddevice``), handing on 48 kHz s16 stereo frames as captured."""

    label = "microphone"

    def __init__(self, device: str | None = None) -> None:
        self.device = device
        self.frames = 0
        self._stream: Any = None
        self._deliver: Deliver = lambda played, frame: None

    def open(self) -> None:
        """Open the device; :class:`AudioError` when there is none (or no PortAudio)."""
        name = self.device or "default"
        _quiet_alsa()
        try:
            import sounddevice
        except OSError:
            raise AudioError(name, "PortAudio is not installed: apt install libportaudio2") from None
        try:
            info = sounddevice.query_devices(self.device, kind="input")
            channels = min(2, int(info["max_input_channels"]))
            if channels < 1:
                raise ValueError("it records nothing")
            self._stream = sounddevice.InputStream(device=self.device, channels=channels, samplerate=RATE, dtype="int16", blocksize=RATE // 50, callback=self._captured)
        except (sounddevice.PortAudioError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if reason.startswith("Error querying device"):
                reason = "no input device"
            raise AudioError(name, reason) from None
        self.label = f"microphone {info['name']}"

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._stream.start()

    def _captured(self, data: Any, samples: int, when: Any, status: Any) -> None:
        """PortAudio's callback (its own thread): one block of samples, with when it was captured."""
        stereo = data if data.shape[1] == 2 else data.repeat(2, axis=1)
        frame = av.AudioFrame.from_ndarray(stereo.reshape(1, -1), format="s16", layout=LAYOUT)
        frame.sample_rate = RATE
        self.frames += 1
        self._deliver(time.monotonic() - max(0.0, when.currentTime - when.inputBufferAdcTime), frame)

    def stop(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
            self._stream = None


class AudioInput:
    """Decodes audio on a thread of its own and hands 48 kHz s16 stereo frames to ``deliver``.

    ``clock`` is the video source's clock and ``start_at`` its start on that
    clock: each frame is handed on when the clock reaches its time in the
    file (looping with the video when ``loop``), with the time it was due.
    """

    def __init__(self, open_container: Callable[[], Any], *, label: str, clock: Callable[[], float] | None = None, start_at: Callable[[], float | None] | None = None, loop: bool = False) -> None:
        self.open_container = open_container
        self.label = label
        self.clock = clock
        self.start_at = start_at
        self.loop = loop
        self.frames = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, deliver: Deliver) -> None:
        self._thread = threading.Thread(target=self._run, args=(deliver,), name="decart-audio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def _run(self, deliver: Deliver) -> None:
        try:
            self._play(deliver)
        except Exception as exc:  # a broken audio track must not end the session
            log.warning("audio from %s stopped: %s", self.label, exc)
            self.error = str(exc)

    def _play(self, deliver: Deliver) -> None:
        resampler = av.AudioResampler(format="s16", layout=LAYOUT, rate=RATE)
        offset = 0.0  # seconds of file played in earlier loops
        while not self._stop.is_set():
            container = self.open_container()
            try:
                stream = container.streams.audio[0]
                first: float | None = None
                last_end = 0.0
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    t = float(frame.pts * frame.time_base) if frame.pts is not None else last_end
                    if first is None:
                        first = t
                    t -= first
                    last_end = t + frame.samples / frame.sample_rate
                    played = time.monotonic()
                    if self.clock is not None:
                        due = self._wait(offset + t)
                        if due is None:
                            return
                        played = due
                    for out in resampler.resample(frame):
                        self.frames += 1
                        deliver(played, out)
                        played += out.samples / RATE
            finally:
                container.close()
            if self.clock is None or not self.loop:
                return
            offset += last_end

    def _wait(self, t: float) -> float | None:
        """Sleep until the video clock reaches ``t`` s after the video started.

        Returns the monotonic time that moment was (in the past when this
        thread is behind: the sound is placed where it belongs, not where
        it was late to), or None when stopping.
        """
        assert self.clock is not None and self.start_at is not None
        while True:
            start = self.start_at()
            if start is not None:
                delay = start + t - self.clock()
                if delay <= 0:
                    return time.monotonic() + delay
            else:
                delay = 0.02  # the video has not started: neither does its sound
            if self._stop.wait(min(delay, 0.05)):
                return None


class AudioTrack(MediaStreamTrack):
    """The audio handed to it, as an aiortc track (s16 stereo 48 kHz, pts in samples); the oldest is dropped past 0.5 s."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: collections.deque[av.AudioFrame] = collections.deque()
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._pts = 0
        self._samples = 0

    def put(self, at: float, frame: av.AudioFrame) -> None:
        """Queue ``frame`` (any thread)."""
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self._loop.call_soon_threadsafe(self._put, frame)

    def _put(self, frame: av.AudioFrame) -> None:
        self._queue.append(frame)
        self._samples += frame.samples
        while self._samples > RATE // 2 and len(self._queue) > 1:
            self._samples -= self._queue.popleft().samples
        self._ready.set()

    async def recv(self) -> av.AudioFrame:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        frame = self._queue.popleft()
        self._samples -= frame.samples
        frame.pts, frame.time_base = self._pts, TIME_BASE
        self._pts += frame.samples
        return frame

    def stop(self) -> None:
        super().stop()
        self._ready.set()
