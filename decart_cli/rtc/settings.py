"""The settings of the aiortc tuning (:class:`MediaTuning`) and the variable that sets them.

No aiortc here: the CLI parses ``DECART_RTC_TUNING`` with this alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ENV = "DECART_RTC_TUNING"
"""The environment variable the CLI reads (see :meth:`MediaTuning.parse`)."""


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
    vp8_start_bitrate: int = 1_500_000
    """The same for VP8: aiortc's own ceiling, from the first frame. libvpx costs ~2x the CPU
    of x264 ultrafast here, and more with bitrate, on both ends, while PSNR on the bench's
    grainy source is 33.1 dB at 1.5 Mbit/s and 33.2 at 2.3: above it a client would spend
    more decoding what we send than a stock aiortc server makes it spend."""
    vp8_min_bitrate: int = 1_000_000
    vp8_max_bitrate: int = 1_500_000
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
