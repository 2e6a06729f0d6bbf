"""The audio stream of a recording: AAC at 48 kHz stereo, placed on the video's timeline (used on the recorder's thread)."""

from __future__ import annotations

import fractions
from typing import Any

import av

RATE = 48000
AAC_FRAME = 1024
"""Samples in one AAC frame: the encoder takes exactly this many."""
RESYNC = 0.02
"""Seconds by which the sound may drift from where its time says before it is placed anew (a pause, a stall, a new lag)."""


class AudioMux:
    """An AAC stream added to an open ``container``; :meth:`write` takes frames at times on the file's clock."""

    def __init__(self, container: Any) -> None:
        self.stream = container.add_stream("aac", rate=RATE)
        ctx = self.stream.codec_context
        ctx.layout = "stereo"
        ctx.format = "fltp"
        ctx.bit_rate = 128000
        ctx.time_base = fractions.Fraction(1, RATE)
        self.stream.time_base = fractions.Fraction(1, RATE)
        self.container = container
        self.frames_written = 0
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE, frame_size=AAC_FRAME)
        self._next = 0
        """The sample position the next resampled frame goes at."""
        self._started = False

    def write(self, t: float, frame: av.AudioFrame) -> None:
        """Encode ``frame`` to start ``t`` seconds into the file.

        The track is continuous from the file's start: silence fills the
        time before the first sound and any gap (a pause), because a player
        counts samples and would pull everything after a gap forward. Sound
        that comes more than :data:`RESYNC` too early for the time already
        filled (the lag estimate shrank) is dropped until it fits.
        """
        wanted = round(t * RATE)
        if wanted < self._next - RESYNC * RATE:
            return
        if wanted > self._next + RESYNC * RATE:
            self._silence(wanted - self._next)
        frame.pts = None  # the resampler keeps its own count; ours places the output
        for out in self._resampler.resample(frame):
            self._encode(out)

    def _silence(self, samples: int) -> None:
        while samples > 0:
            n = min(samples, RATE)
            quiet = av.AudioFrame(format="s16", layout="stereo", samples=n)
            quiet.sample_rate = RATE
            for plane in quiet.planes:
                plane.update(bytes(plane.buffer_size))
            for out in self._resampler.resample(quiet):
                self._encode(out)
            samples -= n

    def _encode(self, frame: av.AudioFrame | None) -> None:
        if frame is not None:
            self._started = True
            frame.pts, frame.time_base = self._next, fractions.Fraction(1, RATE)
            self._next += frame.samples
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
            self.frames_written += 1

    def close(self) -> None:
        """Flush what the encoder holds (before the container closes)."""
        if not self._started:
            return
        for out in self._resampler.resample(None):
            self._encode(out)
        self._encode(None)
