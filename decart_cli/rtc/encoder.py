"""The send side: a tuned H.264 encoder, the codecs' bitrates, the codec preference.

* :func:`patch_h264_encoder` replaces ``aiortc.codecs.H264Encoder`` with a
  subclass (self-tested first) that opens x264 with the active
  :class:`~decart_cli.rtc.settings.MediaTuning`'s preset, ``zerolatency``,
  a VBV cap and the colour description, and follows REMB only within
  [min, max], rebuilding only for large changes.
* :func:`patch_h264_bitrates` / :func:`patch_vp8_bitrates` set aiortc's
  codec modules' start/min/max bitrates.
* :func:`prefer_codecs` puts the configured codec first in a transceiver's
  preferences, the others after it as fallbacks.
"""

from __future__ import annotations

import fractions
import logging
from typing import Any

from .state import STATE
from .settings import MediaTuning

log = logging.getLogger("decart.rtc")

REBUILD_DOWN = 0.8
"""Rebuild the H.264 encoder when REMB asks for less than this share of its bitrate."""
REBUILD_UP = 1.3
"""... or for more than this multiple of it (each rebuild costs a keyframe)."""


# --------------------------------------------------------------------------
# The H.264 encoder
# --------------------------------------------------------------------------


def _clamp(bitrate: int, tuning: MediaTuning) -> int:
    return max(tuning.min_bitrate, min(int(bitrate), tuning.max_bitrate))


def make_h264_encoder_class(base: type) -> type:
    """A subclass of aiortc's H264Encoder that opens x264 with the active tuning."""
    import av
    from aiortc.mediastreams import VIDEO_TIME_BASE

    class TunedH264Encoder(base):  # type: ignore[misc, valid-type]
        """aiortc's H.264 encoder with a fast x264 preset, a VBV cap and a steady bitrate."""

        def __init__(self) -> None:
            super().__init__()
            self.tuning = STATE.tuning
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


def self_test_h264_encoder(cls: type) -> None:
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


def patch_h264_encoder() -> str:
    """Replace ``aiortc.codecs.H264Encoder`` with the tuned encoder, if it passes its self-test."""
    import av
    import aiortc.codecs as codecs_module
    import aiortc.codecs.h264 as h264_module

    if "h264_encoder" in STATE.installed:
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
        cls = make_h264_encoder_class(current)
        self_test_h264_encoder(cls)
    except Exception as exc:
        return f"skipped: self-test failed ({exc.__class__.__name__}: {exc})"
    STATE.replace("h264_encoder", codecs_module, "H264Encoder", cls)
    try:
        from aiortc.rtcrtpparameters import RTCRtpCodecParameters

        probe = codecs_module.get_encoder(RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=100))
        if not isinstance(probe, cls):
            raise AssertionError("get_encoder() does not use aiortc.codecs.H264Encoder")
    except Exception as exc:
        STATE.restore("h264_encoder")
        return f"skipped: {exc.__class__.__name__}: {exc}"
    STATE.classes["h264_encoder"] = cls
    return "applied"


# --------------------------------------------------------------------------
# Bitrates
# --------------------------------------------------------------------------

_BITRATE_NAMES = ("DEFAULT_BITRATE", "MIN_BITRATE", "MAX_BITRATE")


def _set_bitrates(module_name: str, part: str, start: int, low: int, high: int) -> str:
    """Set a codec module's DEFAULT/MIN/MAX_BITRATE (read by its encoder at use time)."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return f"skipped: no {module_name}"
    values = [getattr(module, name, None) for name in _BITRATE_NAMES]
    if not all(isinstance(v, int) for v in values):
        return f"skipped: {module_name} has no integer {'/'.join(_BITRATE_NAMES)}"
    for name, value in zip(_BITRATE_NAMES, (start, low, high)):
        STATE.replace(part, module, name, value)
    return "applied"


def patch_h264_bitrates() -> str:
    """aiortc's H.264 start/min/max bitrates from the active tuning."""
    tuning = STATE.tuning
    return _set_bitrates("aiortc.codecs.h264", "h264_bitrates", tuning.start_bitrate, tuning.min_bitrate, tuning.max_bitrate)


def patch_vp8_bitrates() -> str:
    """aiortc's VP8 start/min/max bitrates from the active tuning."""
    tuning = STATE.tuning
    return _set_bitrates("aiortc.codecs.vpx", "vp8_bitrates", tuning.vp8_start_bitrate, tuning.vp8_min_bitrate, tuning.vp8_max_bitrate)


# --------------------------------------------------------------------------
# Codec preference
# --------------------------------------------------------------------------


def codec_preferences(kind: str = "video", tuning: MediaTuning | None = None) -> list[Any]:
    """aiortc's codec capabilities for ``kind`` with the preferred video codec first.

    The other codecs (and RTX, for retransmissions) keep their order after
    it, so a peer that lacks the preferred codec still negotiates.
    """
    from aiortc import RTCRtpSender

    tuning = tuning or STATE.tuning
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


def check_codec_preferences() -> str:
    """Whether this aiortc lets a transceiver's codec order be set (nothing is patched)."""
    from aiortc import RTCRtpSender, RTCRtpTransceiver

    if not callable(getattr(RTCRtpTransceiver, "setCodecPreferences", None)):
        return "skipped: RTCRtpTransceiver has no setCodecPreferences()"
    if not callable(getattr(RTCRtpSender, "getCapabilities", None)):
        return "skipped: RTCRtpSender has no getCapabilities()"
    return "applied"


def prefer_codecs(transceiver: Any) -> bool:
    """Set ``transceiver``'s codec preferences from the active tuning; False if left as is."""
    status = STATE.status
    if status.get("enabled") != "yes" or status.get("codec_preferences") != "applied":
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
