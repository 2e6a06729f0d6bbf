"""Record the received H.264 stream as it arrived: no decoding, no re-encoding.

The edited stream reaches the client as H.264 already; decoding it and
encoding it again with x264 only to write a file cost ~4.5 ms of CPU a
frame (1280x704) and a generation of quality. Remuxing costs ~0.07 ms::

    jitter buffer releases a frame ──▶ EncodedTap ──▶ Recorder.write_encoded()
        ──(the recorder's bounded queue)──▶ recorder thread: H264Remuxer.write()
            first keyframe: SPS/PPS → extradata, size; pts from arrival time → mux

- **Where frames come from.** :class:`EncodedTap` hangs on the
  low-latency jitter buffer of :mod:`decart_cli.rtc.jitter`, which calls it
  with each complete frame (Annex B access unit) as it is released to the
  decoder. One tap per connection; a new connection is a new tap, and the
  remuxer then skips to that connection's first keyframe.
- **Real time.** As for re-encoded recordings, a frame's pts is its arrival
  time relative to the first recorded frame. A reconnect is a hole in the
  timestamps as long as the outage: players hold the last frame over it.
- **Crash-safe without keyframes.** The sender puts a keyframe only at the
  start and when asked (PLI), so fragments cannot wait for keyframes: MP4
  fragments are cut every :data:`FRAGMENT_SECONDS` of media
  (``frag_duration``; a fragment need not start with a keyframe) and
  Matroska clusters likewise (``cluster_time_limit``). A killed process
  loses about that much.
- **Skips what it cannot decode.** Frames before a connection's first
  keyframe, and after a gap (frames dropped on overflow), are skipped until
  the next keyframe, which is asked for. A later connection whose frames
  are not H.264 of the recording's size is not recorded (with a warning);
  recording resumes if one that matches comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

__all__ = ["EncodedFrame", "EncodedTap", "H264Remuxer", "FRAGMENT_SECONDS", "nal_types", "open_fragmented", "parameter_sets"]

log = logging.getLogger(__name__)

FRAGMENT_SECONDS = 0.5
"""Longest media time in one MP4 fragment / Matroska cluster: about what a killed process loses."""


def open_fragmented(path: Path, format: str) -> Any:
    """Open ``path`` for writing as ``format`` (``"mp4"`` or ``"matroska"``) so that a killed process leaves a playable file.

    MP4 is fragmented (``empty_moov``): a fragment at each keyframe and, as
    keyframes may come once a session, at the latest every
    :data:`FRAGMENT_SECONDS` (``frag_duration``; a fragment need not start
    with one). A Matroska cluster reaches the file only when it closes:
    they are kept as short. Packets are flushed as they are written.
    """
    fragment_ms = round(FRAGMENT_SECONDS * 1000)
    # A stream with nothing to say for a while (no prompt yet for the subtitles, no
    # sound yet) must not hold the video back: the muxer waits for it at most 0.1 s.
    interleave = {"max_interleave_delta": "100000"}
    if format == "mp4":
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": str(fragment_ms * 1000), "flush_packets": "1", **interleave}
    else:
        options = {"cluster_time_limit": str(fragment_ms), "flush_packets": "1", **interleave}
    return av.open(str(path), "w", format=format, container_options=options)


_KEYFRAME_ASK_EVERY = 1.0
"""Seconds between keyframe requests while waiting for one."""

_NAL_SLICE, _NAL_IDR, _NAL_SPS, _NAL_PPS = 1, 5, 7, 8


def _nal_units(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each NAL unit of an Annex B access unit, start codes excluded."""
    starts = []
    i = data.find(b"\0\0\1")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\0\0\1", i + 3)
    units = []
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        if n + 1 < len(starts) and end > start and data[end - 1] == 0:
            end -= 1  # a 4-byte start code's leading zero belongs to the next unit
        units.append((start, end))
    return units


def nal_types(data: bytes) -> list[int]:
    """The types of the NAL units leading an Annex B access unit, up to its first slice.

    SPS, PPS and the slices' kind come first: stopping at the first slice
    keeps this cheap (a frame's slices are most of its bytes).
    """
    types = []
    i = data.find(b"\0\0\1")
    while 0 <= i < len(data) - 3:
        kind = data[i + 3] & 0x1F
        types.append(kind)
        if kind in (_NAL_SLICE, _NAL_IDR):
            break
        i = data.find(b"\0\0\1", i + 3)
    return types


def parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units of an access unit, in Annex B (empty if it has none)."""
    out = []
    for start, end in _nal_units(data):
        kind = data[start] & 0x1F
        if kind in (_NAL_SPS, _NAL_PPS):
            out.append(b"\0\0\0\1" + data[start:end])
        elif kind in (_NAL_SLICE, _NAL_IDR):
            break
    return b"".join(out)


def _decoded_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a keyframe, by decoding it (a few ms, once per connection)."""
    try:
        codec = av.CodecContext.create("h264", "r")
        frames = list(codec.decode(av.Packet(data))) + list(codec.decode(None))
    except av.FFmpegError:
        return None
    return (frames[0].width, frames[0].height) if frames else None


GAP = 0.5
"""Seconds without a frame on a running stream that count as a gap in the file (``/pause``)."""


@dataclass(frozen=True)
class EncodedFrame:
    """One encoded frame queued for the remuxer."""

    data: bytes
    codec: str
    link: Any
    """Which connection it came on (a new one means: wait for its keyframe); may offer ``request_keyframe()``."""
    seq: int
    """Consecutive per recorder: a jump means frames were dropped in between."""


class EncodedTap:
    """Feed the frames a jitter buffer releases to a recorder's encoded input, for one connection.

    ``buffer`` is a :meth:`~decart_cli.client.media_connection.MediaConnection.encoded_source` result
    with taps (see :meth:`supported`); ``write`` is called on the event
    loop with ``(data, codec, link=self)``. :meth:`close` detaches it.
    """

    def __init__(self, buffer: Any, write: Callable[..., None]) -> None:
        self._buffer = buffer
        self._write = write
        self.frames = 0
        """Frames seen."""
        buffer.add_tap(self)

    @staticmethod
    def supported(buffer: Any) -> bool:
        """Whether ``buffer`` (possibly None) can be tapped (the low-latency jitter buffer is installed)."""
        return buffer is not None and callable(getattr(buffer, "add_tap", None))

    def __call__(self, codec: str, frame: Any) -> None:
        self.frames += 1
        self._write(frame.data, codec, link=self)

    def request_keyframe(self) -> None:
        """Ask the sender for a keyframe (thread-safe: it only sets a flag the loop reads)."""
        self._buffer.request_keyframe()

    def close(self) -> None:
        """Stop tapping (idempotent)."""
        self._buffer.remove_tap(self)


class H264Remuxer:
    """Write H.264 access units to ``path`` unchanged, timed by arrival (runs on one thread).

    ``format`` is ``"mp4"`` or ``"matroska"``, ``time_base`` the stream's
    clock and ``fps`` its nominal rate. :meth:`write` returns whether the
    frame went into the file; the file is created at the first keyframe.
    ``warn`` is called (on this thread) with a message for the user when a
    connection's frames cannot go into the file.
    """

    def __init__(self, path: Path, format: str, time_base: Fraction, fps: float, warn: Callable[[str], None], on_open: Callable[[Any], None] | None = None) -> None:
        self._path = path
        self._on_open = on_open
        """Called with the container once its video stream is added (to add more streams)."""
        self._format = format
        self._time_base = time_base
        self._fps = fps
        self._warn = warn
        self.frames_skipped = 0
        """Frames not written: before a keyframe, or from an incompatible connection."""
        self.gap_seconds = 0.0
        """Total of the timestamp holes left where a connection was replaced."""
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None
        self._t0 = 0.0
        self._last_pts = -1
        self._last_arrival: float | None = None
        self._link: Any = None
        self._seq = -1
        self._synced = False
        """A keyframe of the current link has been written: its later frames can follow."""
        self._refused: Any = None
        """The link whose stream does not fit the file (skipped until it sends a fitting keyframe)."""
        self._asked_at = -1e9

    def write(self, arrival: float, frame: EncodedFrame) -> bool:
        """Mux ``frame`` (arrived at monotonic ``arrival``) if it can be decoded in the file."""
        if frame.link is not self._link:
            self._link, self._synced = frame.link, False
        elif frame.seq != self._seq + 1:
            self._synced = False  # frames were dropped: the next ones reference what is missing
        self._seq = frame.seq
        if frame.codec != "h264":
            if self._refused is not frame.link:
                self._refused = frame.link
                self._warn(f"recording paused: the new connection sends {frame.codec or 'an unknown codec'}, the file is H.264")
            self.frames_skipped += 1
            return False
        key = _NAL_IDR in nal_types(frame.data)
        if not self._synced:
            if not key or not self._accept(frame):
                self.frames_skipped += 1
                if not key:
                    self._ask_keyframe(frame.link)
                return False
            self._synced = True
            if self._last_arrival is not None:
                self.gap_seconds += max(0.0, arrival - self._last_arrival - 1.0 / self._fps)
        elif self._last_arrival is not None and arrival - self._last_arrival > GAP:
            # No frame for a while on the same stream (the source was paused).
            self.gap_seconds += arrival - self._last_arrival - 1.0 / self._fps
        if self._container is None:
            self._open(frame.data)
            self._t0 = arrival
        pts = max(round((arrival - self._t0) / self._time_base), self._last_pts + 1)
        self._last_pts, self._last_arrival = pts, arrival
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base
        packet.stream = self._stream
        packet.is_keyframe = key
        self._container.mux(packet)
        return True

    def _accept(self, frame: EncodedFrame) -> bool:
        """Whether a keyframe can start (or, on a new connection, continue) the file."""
        if not parameter_sets(frame.data):
            return False  # no SPS/PPS to decode it with: wait for one that has them
        size = _decoded_size(frame.data)
        if size is None:
            return False
        if self._size is None:
            self._size = size
            return True
        if size != self._size:
            if self._refused is not frame.link:
                self._refused = frame.link
                self._warn(
                    f"recording paused: the new connection sends {size[0]}x{size[1]}, the file is "
                    f"{self._size[0]}x{self._size[1]} (it resumes if the size comes back)"
                )
            return False
        if self._refused is not None:
            self._refused = None
            self._warn("recording resumed: the new connection's stream fits the file")
        return True

    def _ask_keyframe(self, link: Any) -> None:
        now = time.monotonic()
        ask = getattr(link, "request_keyframe", None)
        if ask is not None and now - self._asked_at >= _KEYFRAME_ASK_EVERY:
            self._asked_at = now
            ask()

    def _open(self, keyframe: bytes) -> None:
        assert self._size is not None
        container = open_fragmented(self._path, self._format)
        try:
            stream = container.add_stream("h264", rate=Fraction(self._fps).limit_denominator(1001))
            stream.width, stream.height = self._size
            stream.time_base = self._time_base
            # Annex B SPS/PPS: the muxers write them as avcC / CodecPrivate.
            stream.codec_context.extradata = parameter_sets(keyframe)
            if self._on_open is not None:
                self._on_open(container)
        except Exception:
            container.close()
            raise
        self._container, self._stream = container, stream

    @property
    def t0(self) -> float | None:
        """The arrival time (monotonic) the file's clock starts at; None before the file exists."""
        return self._t0 if self._stream is not None else None

    def close(self, before: Callable[[], None] | None = None) -> None:
        """Finish the file (if one was started); ``before`` runs first (to flush other streams)."""
        container, self._container = self._container, None
        if container is not None:
            try:
                if before is not None:
                    before()
            finally:
                container.close()
