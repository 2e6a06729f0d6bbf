"""The low-latency video jitter buffer: frames released at their marker packet, with taps.

aiortc's buffer releases a video frame only when the first packet of the
next frame arrives (one frame interval late on every receiving hop). The
class made here (a subclass of the installed aiortc's ``JitterBuffer``,
self-tested before it replaces ``aiortc.rtcrtpreceiver.JitterBuffer``)
releases each frame once it is complete; see :mod:`decart_cli.rtc`. A
receiver hook tells each buffer which codec each payload type is, so that
a frame missing its start is recognised. :func:`jitter_buffer_of` is the one
place that reaches into an ``RTCRtpReceiver`` for its buffer.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from .state import STATE

log = logging.getLogger("decart.rtc")

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


def make_jitter_buffer_class(base: type) -> type:
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
            self.give_up_after = STATE.tuning.jitter_give_up
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


def self_test_jitter_buffer(cls: type) -> None:
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


def patch_jitter_buffer() -> str:
    """Replace ``aiortc.rtcrtpreceiver.JitterBuffer`` with the low-latency class, if it passes its self-test."""
    import aiortc.rtcrtpreceiver as receiver_module

    current = getattr(receiver_module, "JitterBuffer", None)
    if not isinstance(current, type):
        return "skipped: aiortc.rtcrtpreceiver has no JitterBuffer class"
    if "jitter" in STATE.installed:
        return "applied"
    for name in ("add", "_remove_frame", "remove", "smart_remove"):
        if not callable(getattr(current, name, None)):
            return f"skipped: JitterBuffer has no {name}()"
    cls = make_jitter_buffer_class(current)
    try:
        self_test_jitter_buffer(cls)
    except Exception as exc:  # any change of shape in aiortc: stay stock
        return f"skipped: self-test failed ({exc.__class__.__name__}: {exc})"
    STATE.replace("jitter", receiver_module, "JitterBuffer", cls)
    STATE.classes["jitter"] = cls
    return "applied"


def patch_receiver_codecs() -> str:
    """Tell each receiver's jitter buffer which codec each payload type is.

    Optional: without it the jitter buffer still releases frames at their
    marker, it just cannot recognise (and drop) a frame missing its start.
    """
    import functools

    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    if "receiver_codecs" in STATE.installed:
        return "applied"
    original = getattr(RTCRtpReceiver, "receive", None)
    if original is None:
        return "skipped: RTCRtpReceiver has no receive()"

    @functools.wraps(original)
    async def receive(self: Any, parameters: Any) -> None:
        await original(self, parameters)
        buffer = jitter_buffer_of(self)
        if buffer is not None and hasattr(buffer, "codecs"):
            for codec in getattr(parameters, "codecs", ()):
                name = getattr(codec, "name", "").lower()
                if name in _START_CHECKS:
                    buffer.codecs[codec.payloadType] = name

    STATE.replace("receiver_codecs", RTCRtpReceiver, "receive", receive)
    return "applied"


def jitter_buffer_class() -> type:
    """The low-latency jitter buffer class (the installed one, else one over aiortc's)."""
    from aiortc.jitterbuffer import JitterBuffer

    return STATE.classes.get("jitter") or make_jitter_buffer_class(JitterBuffer)


def jitter_buffer_of(receiver: Any) -> Any:
    """The jitter buffer of an ``RTCRtpReceiver`` (None where this aiortc hides it elsewhere).

    The one place that reads aiortc's private (name-mangled) attribute.
    """
    return getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)


def tappable_jitter_buffer(receiver: Any) -> Any:
    """The receiver's jitter buffer if it is the low-latency one (it has taps); None otherwise.

    None when the tuning is off or its jitter part was skipped (the
    receiver was made with aiortc's own buffer), or this aiortc keeps its
    buffer elsewhere.
    """
    buffer = jitter_buffer_of(receiver)
    return buffer if callable(getattr(buffer, "add_tap", None)) else None
