"""Low-latency media settings for aiortc, applied as guarded patches, under one switch.

Stock aiortc, measured with ``decart bench`` (1280x704@25 over loopback),
spends ~100 ms of glass-to-glass latency on things a realtime editor does
not need:

* **The video jitter buffer holds each frame for one frame interval.** It
  releases a frame only when the first packet of the *next* frame arrives
  (+40 ms at 25 fps on every receiving hop: the server and the client).
  The low-latency jitter buffer (:mod:`.jitter`) releases a frame as soon
  as it is complete: the RTP marker bit is set on a frame's last packet, so
  the frame at the head of the buffer is complete once every packet from
  its first one to the marker packet is present (contiguous sequence
  numbers, one timestamp). A frame whose head packet is known *not* to
  start a frame (an H.264 FU-A fragment without its start bit, or a slice
  that does not start at macroblock 0; a VP8 packet without S=1/PID=0) is
  dropped and a PLI is asked for, instead of feeding the decoder a broken
  frame. A gap holds the buffer while NACK retransmission may fill it, as
  before, but only for ``jitter_give_up`` seconds (aiortc waited until 512
  packets piled up, 1 to 7 s): then the broken frame is dropped and a PLI
  asked for. A frame that ended without a marker is still released when the
  next frame starts. Taps (``add_tap``) see each frame as it is released,
  still encoded: a recorder writes the received H.264 from there without
  re-encoding it (:mod:`decart_cli.media.remux`, through
  :meth:`decart_cli.client.media_connection.MediaConnection.encoded_source`).
* **x264 runs at preset "medium".** The tuned H.264 encoder (:mod:`.encoder`)
  uses ``preset=ultrafast`` (configurable) with ``tune=zerolatency``, one
  thread (x264's sliced threads save ~2 ms of latency but cost CPU), a VBV
  cap so no frame is a burst of more than ~0.2 s of bitrate, and a start
  bitrate that gives good quality from the first frame (aiortc starts at
  1 Mbit/s, VP8 at 0.5 Mbit/s, and ramps for ~20 s). It also writes the
  colour description (BT.601 limited unless the frames say otherwise) into
  the stream: browsers read untagged H.264 with other colours than PyAV does.
* **Every REMB change of >10% rebuilds the encoder** (a new keyframe each
  time). The tuned encoder follows REMB only within [min, max] and rebuilds
  only for large changes (see :data:`.encoder.REBUILD_DOWN` /
  :data:`.encoder.REBUILD_UP`).
* **VP8 is aiortc's first codec.** :func:`prefer_codecs` puts the configured
  codec (H.264 by default: ~4 ms per 1280x704 frame with x264 ultrafast
  against ~25 ms for libvpx) first in a transceiver's preferences, keeping
  the others as fallbacks.
* **aioice never gathers 127.0.0.1.** The loopback hook (:mod:`.ice`) makes
  a loopback session gather only 127.0.0.1 and accept only loopback remote
  candidates, so two peers on one machine meet without a LAN address.

Layout: :mod:`.settings` (:class:`MediaTuning`, no aiortc), :mod:`.jitter`,
:mod:`.encoder`, :mod:`.ice` (the parts and the helpers around them) and
:mod:`.state` (the one state object), :mod:`.registry` (the list of parts, :func:`apply`,
:func:`configure`, :func:`unapply`, :func:`status`, :func:`active`).

Every part checks that what it patches exists and behaves as expected (the
jitter buffer and the encoder run a small self-test before they are
installed); otherwise it is skipped, aiortc is left alone there, and a
warning says once per process on the ``decart.rtc`` logger which part,
what is missing and what it costs; :func:`status` says ``skipped: why``
and ``decart bench`` reports it. The decoders need nothing: PyAV opens
them with slice threading, which adds no frame of delay (a test guards
this).

:func:`apply` is idempotent and is called by :class:`~decart_cli.rtc.peer.Peer`
before any peer connection exists, so the client (also against the hosted
service: the edited stream comes back through the same receiver) and the
local server both get it. ``DECART_RTC_TUNING=off`` leaves aiortc and aioice
stock, the loopback hook included (a loopback session then gathers what
aioice gathers and keeps every remote candidate, still without a STUN
server); ``DECART_RTC_TUNING=codec=vp8,preset=veryfast,jitter=off``
overrides fields of :class:`MediaTuning` (for A/B measurements).
"""

from __future__ import annotations

from .encoder import REBUILD_DOWN, REBUILD_UP, codec_preferences, prefer_codecs
from .ice import accept_remote_candidate, filter_remote_sdp, loopback_session, loopback_supported, rtc_configuration
from .jitter import (
    h264_starts_frame,
    jitter_buffer_class,
    jitter_buffer_of,
    tappable_jitter_buffer,
    vp8_starts_frame,
)
from .registry import STATE, active, apply, configure, skipped_line, status, unapply
from .settings import ENV, MediaTuning

__all__ = [
    "ENV",
    "REBUILD_DOWN",
    "REBUILD_UP",
    "STATE",
    "MediaTuning",
    "accept_remote_candidate",
    "active",
    "apply",
    "codec_preferences",
    "configure",
    "filter_remote_sdp",
    "h264_starts_frame",
    "jitter_buffer_class",
    "jitter_buffer_of",
    "loopback_session",
    "loopback_supported",
    "prefer_codecs",
    "rtc_configuration",
    "skipped_line",
    "status",
    "tappable_jitter_buffer",
    "unapply",
    "vp8_starts_frame",
]
