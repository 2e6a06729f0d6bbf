"""Low-latency media settings for aiortc, applied as guarded patches.

Stock aiortc, measured with ``decart bench`` (1280x704@25 over loopback),
spends ~100 ms of glass-to-glass latency on things a realtime editor does
not need:

* **The video jitter buffer holds each frame for one frame interval.** It
  releases a frame only when the first packet of the *next* frame arrives
  (+40 ms at 25 fps on every receiving hop: the server and the client).
  :class:`LowLatencyJitterBuffer` releases a frame as soon as it is complete:
  the RTP marker bit is set on a frame's last packet, so the frame at the head
  of the buffer is complete once every packet from its first one to the
  marker packet is present (contiguous sequence numbers, one timestamp). A
  frame whose head packet is known *not* to start a frame (an H.264 FU-A
  fragment without its start bit, or a slice that does not start at
  macroblock 0; a VP8 packet without S=1/PID=0) is dropped and a PLI is
  asked for, instead of feeding the decoder a broken frame. A gap holds the
  buffer while NACK retransmission may fill it, as before, but only for
  ``jitter_give_up`` seconds (aiortc waited until 512 packets piled up, 1 to
  7 s): then the broken frame is dropped and a PLI asked for. A frame that
  ended without a marker is still released when the next frame starts.
  Taps (:meth:`add_tap`) see each frame as it is released, still encoded:
  a recorder writes the received H.264 from there without re-encoding it
  (:mod:`decart_cli.media.remux`).
* **x264 runs at preset "medium".** :class:`TunedH264Encoder` uses
  ``preset=ultrafast`` (configurable) with ``tune=zerolatency``, one thread
  (x264's sliced threads save ~2 ms of latency but cost CPU), a VBV cap so
  no frame is a burst of more than ~0.2 s of bitrate, and a start bitrate
  that gives good quality from the first frame (aiortc starts at 1 Mbit/s,
  VP8 at 0.5 Mbit/s, and ramps for ~20 s). It also writes the colour
  description (BT.601 limited unless the frames say otherwise) into the
  stream: browsers read untagged H.264 with other colours than PyAV does.
* **Every REMB change of >10% rebuilds the encoder** (a new keyframe each
  time). The tuned encoder follows REMB only within [min, max] and rebuilds
  only for large changes (see :data:`REBUILD_DOWN` / :data:`REBUILD_UP`).
* **VP8 is aiortc's first codec.** :func:`prefer_codecs` puts the configured
  codec (H.264 by default: ~4 ms per 1280x704 frame with x264 ultrafast
  against ~25 ms for libvpx) first in a transceiver's preferences, keeping
  the others as fallbacks.

Every patch checks that what it patches exists and behaves as expected (the
jitter buffer and the encoder run a small self-test before they are
installed); otherwise it logs at debug level and leaves aiortc alone. The
decoders need nothing: PyAV opens them with slice threading, which adds no
frame of delay (a test guards this).

:func:`apply` is idempotent and is called by :class:`~decart_cli.peer.Peer`
before any peer connection exists, so the client (also against the hosted
service: the edited stream comes back through the same receiver) and the
local server both get it. ``DECART_RTC_TUNING=off`` leaves aiortc stock;
``DECART_RTC_TUNING=codec=vp8,preset=veryfast,jitter=off`` overrides fields
of :class:`MediaTuning` (for A/B measurements).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENV = "DECART_RTC_TUNING"

REBUILD_DOWN = 0.8
"""Rebuild the H.264 encoder when REMB asks for less than this share of its bitrate."""
REBUILD_UP = 1.3
"""... or for more than this multiple of it (each rebuild costs a keyframe)."""


@dataclass(frozen=True)
class MediaTuning:
    """How aiortc encodes, sends and receives video (defaults tuned for 1280x704@25)."""

    codec: str = "h264"
    """Preferred video codec, ``"h264"`` or ``"vp8"``; the other stays offered as a fallback."""
    preset: str = "ultrafast"
    """x264 preset (``ultrafast``: ~4 ms per 1280x704 frame here; ``veryfast``: ~9 ms)."""
    deblock: bool = False
    """x264's in-loop deblocking filter, which ``ultrafast`` turns off: +0.25 dB PSNR-Y on the
    bench's source for ~0.4 ms more encoding and ~0.6 ms more decoding a frame."""
    subme: int = -1
    """x264 sub-pixel motion refinement (-1: the preset's; ``ultrafast`` has 0, full pixels
    only): 1 gives +0.2 dB PSNR-Y on the bench's source for ~1 ms more encoding a frame."""
    threads: int = 1
    """x264 threads (0: x264's choice, a slice per thread: ~2 ms less latency per hop, but the
    slices' synchronisation cost ~0.4 ms of CPU a frame here, and CPU is what a client lacks)."""
    start_bitrate: int = 4_000_000
    """Bits per second the encoders start at (aiortc: 1 Mbit/s H.264, 0.5 Mbit/s VP8)."""
    min_bitrate: int = 1_500_000
    """Lowest bitrate a receiver's REMB may push the encoders to."""
    max_bitrate: int = 6_000_000
    """Highest bitrate a receiver's REMB may raise the encoders to."""
    vp8_start_bitrate: int = 2_000_000
    """The same for VP8 (libvpx costs ~2x the CPU of x264 ultrafast here, and more with
    bitrate, while PSNR on the bench's grainy source is no better at 4 than at 2 Mbit/s)."""
    vp8_min_bitrate: int = 1_000_000
    vp8_max_bitrate: int = 3_000_000
    fps: int = 25
    """Nominal frame rate given to x264 (its rate control also follows the timestamps)."""
    vbv_seconds: float = 0.2
    """x264 VBV buffer, in seconds at the current bitrate: the largest burst one frame may be."""
    jitter: bool = True
    """Release video frames as soon as they are complete (the marker-bit jitter buffer)."""
    jitter_give_up: float = 0.4
    """Seconds a lost video packet may hold back the frames behind it before its frame is dropped."""
    encoder: bool = True
    """Use the tuned H.264 encoder and the bitrates above (VP8: its bitrates only)."""

    def __post_init__(self) -> None:
        if self.codec not in ("h264", "vp8"):
            raise ValueError(f"codec must be 'h264' or 'vp8', not {self.codec!r}")
        if not 0 < self.min_bitrate <= self.start_bitrate <= self.max_bitrate:
            raise ValueError("bitrates must satisfy 0 < min <= start <= max")
        if not 0 < self.vp8_min_bitrate <= self.vp8_start_bitrate <= self.vp8_max_bitrate:
            raise ValueError("VP8 bitrates must satisfy 0 < min <= start <= max")
        if self.fps <= 0 or self.vbv_seconds <= 0 or self.jitter_give_up <= 0:
            raise ValueError("fps, vbv_seconds and jitter_give_up must be positive")
        if not -1 <= self.subme <= 11 or self.threads < 0:
            raise ValueError("subme must be -1..11 and threads 0 or more")

    @classmethod
    def parse(cls, value: str) -> MediaTuning | None:
        """The tuning a ``DECART_RTC_TUNING`` value asks for; None for ``off``/``0``/``stock``.

        The value is empty (defaults) or ``field=value`` pairs separated by
        commas, e.g. ``codec=vp8,start_bitrate=2000000,jitter=off``.
        """
        text = value.strip()
        if text.lower() in ("off", "0", "no", "false", "stock"):
            return None
        overrides: dict[str, Any] = {}
        types = {f.name: type(getattr(cls(), f.name)) for f in dataclasses.fields(cls)}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, raw = item.partition("=")
            name = name.strip()
            if name not in types:
                raise ValueError(f"{ENV}: unknown field {name!r} (known: {', '.join(types)})")
            kind = types[name]
            if kind is bool:
                overrides[name] = raw.strip().lower() not in ("0", "off", "no", "false")
            else:
                overrides[name] = kind(raw.strip())
        return cls(**overrides)


# --------------------------------------------------------------------------
# Frame boundaries in RTP payloads
# --------------------------------------------------------------------------

_NAL_FU_A = 28
_NAL_SLICE_TYPES = (1, 5)  # non-IDR and IDR coded slices


def h264_starts_frame(payload: bytes) -> bool | None:
    """Whether an H.264 RTP payload (RFC 6184) can start a frame.

    False for a payload that cannot: an FU-A fragment other than the first of
    its NAL unit, or a coded slice whose ``first_mb_in_slice`` is not 0 (a
    later slice of a picture). None when it may (a single NAL unit, a first
    FU-A fragment, a STAP-A): H.264 packets do not say whether an access unit
    starts with them, that is known from the previous packet's timestamp.
    """
    if len(payload) < 2:
        return None
    nal_type = payload[0] & 0x1F
    if nal_type == _NAL_FU_A:
        if not payload[1] & 0x80:
            return False
        inner_type = payload[1] & 0x1F
        slice_header = payload[2] if len(payload) > 2 else None
    elif 1 <= nal_type <= 23:
        inner_type = nal_type
        slice_header = payload[1]
    else:
        return None
    # first_mb_in_slice is ue(v): a leading 1 bit encodes 0.
    if inner_type in _NAL_SLICE_TYPES and slice_header is not None and not slice_header & 0x80:
        return False
    return None


def vp8_starts_frame(payload: bytes) -> bool | None:
    """Whether a VP8 RTP payload (RFC 7741) starts a frame: S=1 and partition 0."""
    if not payload:
        return None
    octet = payload[0]
    return bool(octet & 0x10) and (octet & 0x07) == 0


_START_CHECKS: dict[str, Callable[[bytes], bool | None]] = {
    "h264": h264_starts_frame,
    "vp8": vp8_starts_frame,
}


# --------------------------------------------------------------------------
# The jitter buffer
# --------------------------------------------------------------------------

_installed: dict[str, tuple[object, str, object]] = {}
"""part -> (object patched, attribute, original value), for unapply()."""
_status: dict[str, str] = {}
_active: MediaTuning = MediaTuning()
_classes: dict[str, type] = {}


def _make_jitter_buffer_class(base: type) -> type:
    """A subclass of aiortc's JitterBuffer that releases video frames at their marker packet."""
    from aiortc.jitterbuffer import JitterFrame

    class LowLatencyJitterBuffer(base):  # type: ignore[misc, valid-type]
        """aiortc's jitter buffer, releasing each video frame once it is complete."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.codecs: dict[int, str] = {}
            """Payload type -> codec name (``h264``, ``vp8``), filled in by the receiver."""
            self.frames_on_marker = 0
            self.frames_on_next_timestamp = 0
            self.frames_dropped_incomplete = 0
            self.frames_given_up = 0
            self.give_up_after = _active.jitter_give_up
            """Seconds a lost packet may hold the frames behind it (NACK's time to repair it)."""
            self.clock: Callable[[], float] = time.monotonic
            self.taps: list[Callable[[str, Any], None]] = []
            """Called on the loop with (codec name, frame) for each frame released (see :meth:`add_tap`)."""
            self._blocked_since: float | None = None
            self._pli_wanted = False

        def add_tap(self, tap: Callable[[str, Any], None]) -> None:
            """Call ``tap(codec, frame)`` with every frame released from now on.

            ``codec`` is ``"h264"``, ``"vp8"`` or ``""`` (unknown payload
            type); ``frame`` is aiortc's ``JitterFrame`` (``data``: the whole
            encoded frame as the depayloader wrote it, Annex B for H.264;
            ``timestamp``: RTP). The tap runs on the event loop, before the
            frame is queued for decoding, and must be quick and must not keep
            ``frame`` mutable (its ``timestamp`` is rewritten afterwards).
            """
            self.taps.append(tap)

        def remove_tap(self, tap: Callable[[str, Any], None]) -> None:
            """Stop calling ``tap`` (no error if it is not attached)."""
            with contextlib.suppress(ValueError):
                self.taps.remove(tap)

        def request_keyframe(self) -> None:
            """Ask the sender for a keyframe (a PLI goes out with the next packet); any thread."""
            self._pli_wanted = True

        def _give_up(self, gap: int, newest: int, timestamp: int | None) -> bool:
            """At a missing packet ``gap`` slots past the head: drop the head frame if it waited too long.

            Only a missing packet with later packets behind it counts (a
            frame whose last packets are still to come is not blocked). After
            ``give_up_after`` seconds the frame at the head (or, when the head
            packet itself is missing, the slots up to the next packet) is
            removed and a keyframe asked for: aiortc's own buffer waited
            until 512 packets had piled up behind it (1 to 7 s).
            """
            behind = (newest - (self._origin + gap)) % 65536
            if behind == 0 or behind >= 32768:
                self._blocked_since = None  # nothing missing, the frame's end is just still to come
                return False
            now = self.clock()
            if self._blocked_since is None:
                self._blocked_since = now
                return False
            if now - self._blocked_since < self.give_up_after:
                return False
            capacity = self._capacity
            count = gap
            while count < capacity:
                packet = self._packets[(self._origin + count) % capacity]
                if packet is not None and (timestamp is None or packet.timestamp != timestamp):
                    break
                count += 1
            self.remove(count)
            self.frames_given_up += 1
            self._pli_wanted = True
            # The timer keeps running: a frame behind that the same loss
            # blocks is given up at once, so the buffer catches up.
            return True

        def add(self, packet: Any) -> tuple[bool, Any]:
            pli_flag, frame = super().add(packet)
            if frame is not None and self.taps:
                # The packet that completed a frame has the frame's payload type.
                codec = self.codecs.get(packet.payload_type, "")
                for tap in tuple(self.taps):
                    try:
                        tap(codec, frame)
                    except Exception:  # a recorder bug must not stop the video
                        log.exception("rtc tuning: jitter buffer tap failed")
            if self._pli_wanted:
                self._pli_wanted = False
                pli_flag = True
            return pli_flag, frame

        def _remove_frame(self, sequence_number: int) -> Any:
            if not self._is_video or self._prefetch:
                return super()._remove_frame(sequence_number)
            capacity = self._capacity
            while True:
                head = self._packets[self._origin % capacity]
                if head is None:
                    if self._give_up(0, sequence_number, None):
                        continue
                    return None
                packets = []
                end = None
                on_marker = False
                for count in range(capacity):
                    packet = self._packets[(self._origin + count) % capacity]
                    if packet is None:
                        # Not complete yet: its next packet is to come, or
                        # was lost (then NACK asks for it again, for a while).
                        if self._give_up(count, sequence_number, head.timestamp):
                            break
                        return None
                    if packet.timestamp != head.timestamp:
                        end = count  # ended without a marker: the next frame has started
                        break
                    packets.append(packet)
                    if packet.marker:
                        end = count + 1
                        on_marker = True
                        break
                if end is None:
                    if self._packets[self._origin % capacity] is not head:
                        continue  # given up on: look at the new head
                    return None
                if not any(p._data for p in packets):
                    # Padding only (libwebrtc probes bandwidth with empty
                    # packets after a frame's marker): nothing to decode, and
                    # an empty packet would put the decoder into draining.
                    self.remove(end)
                    continue
                check = _START_CHECKS.get(self.codecs.get(head.payload_type, ""))
                if check is not None and check(head.payload) is False:
                    # Its first packets were lost for good (before the stream
                    # was joined, or dropped on overflow): a broken frame.
                    self.remove(end)
                    self.frames_dropped_incomplete += 1
                    self._pli_wanted = True
                    continue
                self.remove(end)
                self._blocked_since = None
                if on_marker:
                    self.frames_on_marker += 1
                else:
                    self.frames_on_next_timestamp += 1
                return JitterFrame(data=b"".join(p._data for p in packets), timestamp=head.timestamp)

    return LowLatencyJitterBuffer


def _self_test_jitter_buffer(cls: type) -> None:
    """Raise unless ``cls`` releases a two-packet frame at its marker and keeps audio stock."""
    from aiortc.rtp import RtpPacket

    def packet(seq: int, ts: int, marker: int, payload: bytes = b"\x90\x80\x01\x00") -> RtpPacket:
        p = RtpPacket(payload_type=96, marker=marker, sequence_number=seq, timestamp=ts, payload=payload)
        p._data = payload[1:]  # type: ignore[attr-defined]
        return p

    video = cls(capacity=128, is_video=True)
    if video.add(packet(65535, 1000, 0)) != (False, None):
        raise AssertionError("a frame was released before its marker packet")
    pli, frame = video.add(packet(0, 1000, 1))
    if frame is None or frame.timestamp != 1000 or pli:
        raise AssertionError("the frame was not released at its marker packet")
    if video.frames_on_marker != 1:
        raise AssertionError("the override was not used")
    tapped: list[tuple[str, int]] = []
    video.codecs[96] = "h264"
    video.add_tap(lambda codec, f: tapped.append((codec, f.timestamp)))
    video.add(packet(1, 2000, 1))
    if tapped != [("h264", 2000)]:
        raise AssertionError("the tap did not see the released frame")
    audio = cls(capacity=16, prefetch=4)
    if audio.add(packet(10, 0, 1)) != (False, None):
        raise AssertionError("audio changed behaviour")


def _patch_jitter_buffer() -> str:
    import aiortc.rtcrtpreceiver as receiver_module

    current = getattr(receiver_module, "JitterBuffer", None)
    if not isinstance(current, type):
        return "skipped: aiortc.rtcrtpreceiver has no JitterBuffer class"
    if "jitter" in _installed:
        return "applied"
    for name in ("add", "_remove_frame", "remove", "smart_remove"):
        if not callable(getattr(current, name, None)):
            return f"skipped: JitterBuffer has no {name}()"
    cls = _make_jitter_buffer_class(current)
    try:
        _self_test_jitter_buffer(cls)
    except Exception as exc:  # any change of shape in aiortc: stay stock
        return f"skipped: self-test failed ({exc.__class__.__name__}: {exc})"
    receiver_module.JitterBuffer = cls  # type: ignore[attr-defined]
    _installed["jitter"] = (receiver_module, "JitterBuffer", current)
    _classes["jitter"] = cls
    _patch_receiver_codecs()
    return "applied"


def _patch_receiver_codecs() -> None:
    """Tell each receiver's jitter buffer which codec each payload type is.

    Optional: without it the jitter buffer still releases frames at their
    marker, it just cannot recognise (and drop) a frame missing its start.
    """
    import functools

    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    if "receiver_codecs" in _installed:
        return
    original = getattr(RTCRtpReceiver, "receive", None)
    if original is None:
        _status["receiver_codecs"] = "skipped: RTCRtpReceiver has no receive()"
        log.debug("rtc tuning: receiver_codecs %s", _status["receiver_codecs"])
        return

    @functools.wraps(original)
    async def receive(self: Any, parameters: Any) -> None:
        await original(self, parameters)
        buffer = jitter_buffer_of(self)
        if buffer is not None and hasattr(buffer, "codecs"):
            for codec in getattr(parameters, "codecs", ()):
                name = getattr(codec, "name", "").lower()
                if name in _START_CHECKS:
                    buffer.codecs[codec.payloadType] = name

    RTCRtpReceiver.receive = receive  # type: ignore[method-assign]
    _installed["receiver_codecs"] = (RTCRtpReceiver, "receive", original)
    _status["receiver_codecs"] = "applied"


def jitter_buffer_class() -> type:
    """The low-latency jitter buffer class (the installed one, else one over aiortc's)."""
    from aiortc.jitterbuffer import JitterBuffer

    return _classes.get("jitter") or _make_jitter_buffer_class(JitterBuffer)


def jitter_buffer_of(receiver: Any) -> Any:
    """The jitter buffer of an ``RTCRtpReceiver`` (None where this aiortc hides it elsewhere)."""
    return getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)


# --------------------------------------------------------------------------
# The encoders
# --------------------------------------------------------------------------


def _clamp(bitrate: int, tuning: MediaTuning) -> int:
    return max(tuning.min_bitrate, min(int(bitrate), tuning.max_bitrate))


def _make_h264_encoder_class(base: type) -> type:
    import av
    from aiortc.mediastreams import VIDEO_TIME_BASE

    class TunedH264Encoder(base):  # type: ignore[misc, valid-type]
        """aiortc's H.264 encoder with a fast x264 preset, a VBV cap and a steady bitrate."""

        def __init__(self) -> None:
            super().__init__()
            self.tuning = _active
            self._target = self.tuning.start_bitrate
            self._codec_bitrate: int | None = None
            self.x264_options: dict[str, str] = {}
            """The options the current x264 encoder was opened with."""
            self.rebuilds = 0

        @property
        def target_bitrate(self) -> int:
            """Bits per second asked for (by the start setting, then by REMB), within [min, max]."""
            return self._target

        @target_bitrate.setter
        def target_bitrate(self, bitrate: int) -> None:
            self._target = _clamp(bitrate, self.tuning)

        def _wants_rebuild(self, frame: Any) -> bool:
            codec = self.codec
            if codec is None:
                return False
            if frame.width != codec.width or frame.height != codec.height:
                return True
            current = self._codec_bitrate or self._target
            return self._target < current * REBUILD_DOWN or self._target > current * REBUILD_UP

        def _encode_frame(self, frame: Any, force_keyframe: bool) -> Any:
            if self._wants_rebuild(frame):
                log.debug("rtc tuning: new x264 encoder for %dx%d at %d bit/s", frame.width, frame.height, self._target)
                self.buffer_data = b""
                self.buffer_pts = None
                self.codec = None
                self.rebuilds += 1
            frame.pict_type = av.video.frame.PictureType.I if force_keyframe else av.video.frame.PictureType.NONE
            if self.codec is None:
                tuning = self.tuning
                bitrate = self._target
                codec = av.CodecContext.create("libx264", "w")
                codec.width = frame.width
                codec.height = frame.height
                codec.bit_rate = bitrate
                codec.pix_fmt = "yuv420p"
                codec.framerate = fractions.Fraction(tuning.fps, 1)
                codec.time_base = VIDEO_TIME_BASE
                self.x264_options = {
                    "preset": tuning.preset,
                    "tune": "zerolatency",
                    "level": "31",
                    "maxrate": str(bitrate),
                    "bufsize": str(int(bitrate * tuning.vbv_seconds)),
                }
                if tuning.threads > 0:
                    self.x264_options["threads"] = str(tuning.threads)
                params = _x264_params(tuning)
                if params:
                    self.x264_options["x264-params"] = params
                codec.options = dict(self.x264_options)
                codec.profile = "Baseline"
                _tag_colours(codec, frame)
                self.codec = codec
                self._codec_bitrate = bitrate
            if frame.time_base is None:
                frame.time_base = VIDEO_TIME_BASE
            data = b"".join(bytes(packet) for packet in self.codec.encode(frame))
            if data:
                yield from self._split_bitstream(data)

    return TunedH264Encoder


def _x264_params(tuning: MediaTuning) -> str:
    """The ``x264-params`` for the settings a preset does not cover (empty when none)."""
    params = []
    if tuning.deblock:
        params.append("deblock=0,0")  # on, at x264's default strength
    if tuning.subme >= 0:
        params.append(f"subme={tuning.subme}")
    return ":".join(params)


_BT709, _BT470BG, _SMPTE170M = 1, 5, 6  # AVCOL_SPC/AVCOL_PRI values (and AVCOL_TRC for 1 and 6)
_RANGE_MPEG, _RANGE_JPEG = 1, 2


def _tag_colours(codec: Any, frame: Any) -> None:
    """Write the colour description into the stream (H.264 VUI).

    Untagged H.264 is not read the same way everywhere (Chromium shifted
    saturated colours by ~50 levels): say what the pixels are. A frame's own
    tags win; untagged frames are BT.601 limited range, which is what PyAV
    (swscale) produces from RGB and assumes when converting back.
    """
    space = getattr(frame, "colorspace", None)
    if space not in (_BT709, _BT470BG, _SMPTE170M):
        space = _SMPTE170M
    colour_range = getattr(frame, "color_range", None)
    try:
        codec.colorspace = space
        codec.color_primaries = space
        codec.color_trc = _BT709 if space == _BT709 else _SMPTE170M
        codec.color_range = _RANGE_JPEG if colour_range == _RANGE_JPEG else _RANGE_MPEG
    except (AttributeError, TypeError, ValueError) as exc:  # an older PyAV: leave the stream untagged
        log.debug("rtc tuning: cannot tag the H.264 colour description: %s", exc)


def _self_test_h264_encoder(cls: type) -> None:
    """Raise unless ``cls().encode`` goes through the tuned path and yields payloads."""
    import av

    encoder = cls()
    frame = av.VideoFrame(64, 64, "yuv420p")
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    payloads, _timestamp = encoder.encode(frame)
    if not payloads:
        raise AssertionError("no payloads for a frame")
    if encoder._codec_bitrate != encoder.tuning.start_bitrate:
        raise AssertionError("the tuned _encode_frame was not used")


def _patch_h264_encoder() -> str:
    import av
    import aiortc.codecs as codecs_module
    import aiortc.codecs.h264 as h264_module

    if "h264_encoder" in _installed:
        return "applied"
    if "libx264" not in av.codecs_available:
        return "skipped: this PyAV has no libx264"
    current = getattr(codecs_module, "H264Encoder", None)
    original = getattr(h264_module, "H264Encoder", None)
    if not isinstance(current, type) or current is not original:
        return "skipped: aiortc.codecs.H264Encoder is missing or already replaced"
    for name in ("encode", "_encode_frame", "_split_bitstream", "_packetize"):
        if not callable(getattr(current, name, None)):
            return f"skipped: H264Encoder has no {name}()"
    if not callable(getattr(codecs_module, "get_encoder", None)):
        return "skipped: aiortc.codecs has no get_encoder()"
    try:
        cls = _make_h264_encoder_class(current)
        _self_test_h264_encoder(cls)
    except Exception as exc:
        return f"skipped: self-test failed ({exc.__class__.__name__}: {exc})"
    codecs_module.H264Encoder = cls  # type: ignore[attr-defined]
    try:
        from aiortc.rtcrtpparameters import RTCRtpCodecParameters

        probe = codecs_module.get_encoder(RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=100))
        if not isinstance(probe, cls):
            raise AssertionError("get_encoder() does not use aiortc.codecs.H264Encoder")
    except Exception as exc:
        codecs_module.H264Encoder = current  # type: ignore[attr-defined]
        return f"skipped: {exc.__class__.__name__}: {exc}"
    _installed["h264_encoder"] = (codecs_module, "H264Encoder", current)
    _classes["h264_encoder"] = cls
    return "applied"


_BITRATE_NAMES = ("DEFAULT_BITRATE", "MIN_BITRATE", "MAX_BITRATE")


def _set_bitrates(module: Any, part: str, start: int, low: int, high: int) -> str:
    """Set a codec module's DEFAULT/MIN/MAX_BITRATE (read by its encoder at use time)."""
    values = [getattr(module, name, None) for name in _BITRATE_NAMES]
    if not all(isinstance(v, int) for v in values):
        return f"skipped: {module.__name__} has no integer {'/'.join(_BITRATE_NAMES)}"
    if part not in _installed:
        _installed[part] = (module, "*bitrates", tuple(values))
    module.DEFAULT_BITRATE, module.MIN_BITRATE, module.MAX_BITRATE = start, low, high
    return "applied"


# --------------------------------------------------------------------------
# Codec preference
# --------------------------------------------------------------------------


def codec_preferences(kind: str = "video", tuning: MediaTuning | None = None) -> list[Any]:
    """aiortc's codec capabilities for ``kind`` with the preferred video codec first.

    The other codecs (and RTX, for retransmissions) keep their order after
    it, so a peer that lacks the preferred codec still negotiates.
    """
    from aiortc import RTCRtpSender

    tuning = tuning or _active
    capabilities = list(RTCRtpSender.getCapabilities(kind).codecs)
    if kind != "video":
        return capabilities
    wanted = "video/" + tuning.codec
    if tuning.codec == "h264":
        import av

        if "libx264" not in av.codecs_available:
            return capabilities
    first = [c for c in capabilities if c.mimeType.lower() == wanted]
    return first + [c for c in capabilities if c not in first]


def prefer_codecs(transceiver: Any) -> bool:
    """Set ``transceiver``'s codec preferences from the active tuning; False if left as is."""
    if not _status or _status.get("enabled") != "yes":
        return False
    setter = getattr(transceiver, "setCodecPreferences", None)
    if setter is None:
        log.debug("rtc tuning: this aiortc has no setCodecPreferences(); codec order left as is")
        return False
    try:
        setter(codec_preferences(transceiver.kind))
    except (ValueError, AttributeError) as exc:
        log.debug("rtc tuning: codec preferences not set: %s", exc)
        return False
    return True


# --------------------------------------------------------------------------
# Apply / unapply
# --------------------------------------------------------------------------


def apply(tuning: MediaTuning | None = None) -> dict[str, str]:
    """Install the patches (once) and make ``tuning`` the active settings.

    Without ``tuning`` the active settings stay as they are (the defaults on
    the first call). Returns :func:`status`.
    Never raises for a mismatched aiortc: each part that cannot be applied
    is logged at debug level and skipped.
    """
    global _active
    if tuning is None:
        if _status:
            return status()  # already applied (or turned off): idempotent
        tuning = MediaTuning()
    _active = tuning
    _status["enabled"] = "yes"
    parts: list[tuple[str, bool, Callable[[], str]]] = [
        ("jitter", tuning.jitter, _patch_jitter_buffer),
        ("h264_encoder", tuning.encoder, _patch_h264_encoder),
        ("h264_bitrates", tuning.encoder, lambda: _bitrates(
            "aiortc.codecs.h264", "h264_bitrates", tuning.start_bitrate, tuning.min_bitrate, tuning.max_bitrate)),
        ("vp8_bitrates", tuning.encoder, lambda: _bitrates(
            "aiortc.codecs.vpx", "vp8_bitrates", tuning.vp8_start_bitrate, tuning.vp8_min_bitrate, tuning.vp8_max_bitrate)),
    ]
    for name, wanted, patch in parts:
        if not wanted:
            _restore(name)
            if name == "jitter":
                _restore("receiver_codecs")
                _status.pop("receiver_codecs", None)
            _status[name] = "off"
            continue
        try:
            result = patch()
        except Exception as exc:  # an unexpected aiortc: never break a session over a tuning
            result = f"skipped: {exc.__class__.__name__}: {exc}"
        _status[name] = result
        if result != "applied":
            log.debug("rtc tuning: %s %s", name, result)
    return status()


def _bitrates(module_name: str, part: str, start: int, low: int, high: int) -> str:
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return f"skipped: no {module_name}"
    return _set_bitrates(module, part, start, low, high)


def _restore(part: str) -> None:
    record = _installed.pop(part, None)
    _classes.pop(part, None)
    if record is None:
        return
    target, attribute, original = record
    if attribute == "*bitrates":
        for name, value in zip(_BITRATE_NAMES, original):  # type: ignore[call-overload]
            setattr(target, name, value)
    else:
        setattr(target, attribute, original)


def configure(value: str) -> dict[str, str]:
    """Apply what a ``DECART_RTC_TUNING`` value asks for (the CLI reads the variable).

    ``off`` leaves aiortc stock for this process; raises ValueError for a bad value.
    """
    tuning = MediaTuning.parse(value)
    if tuning is None:
        unapply()
        _status["enabled"] = "no"
        return status()
    return apply(tuning)


def unapply() -> None:
    """Restore everything :func:`apply` changed (for tests and A/B runs)."""
    global _active
    for part in reversed(list(_installed)):
        _restore(part)
    _classes.clear()
    _status.clear()
    _active = MediaTuning()


def status() -> dict[str, str]:
    """Each part of the tuning and whether it is ``applied``, ``off`` or ``skipped: why``."""
    return dict(_status)


def active() -> MediaTuning:
    """The settings new encoders and transceivers get."""
    return _active
