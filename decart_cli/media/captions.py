"""The prompt in force, as a subtitle track of the recording (used on the recorder's thread).

A player then shows which edit was active at each moment. The track is
written as the video is, in pieces of at most :data:`PIECE` seconds that
end where the prompt changes, so no subtitle waits for the next prompt:
the muxer would hold the video back for it (a killed process would lose
it), and a fragmented MP4 closes a fragment's subtitle with an empty one,
dropping a piece that comes after. SubRip, in Matroska only: in a
fragmented MP4, FFmpeg's muxer aborted the process now and then on the last
``mov_text`` piece of a re-encoded recording.
A change measured on a frame reaches the recorder a little after that
frame: when a piece has already been written past it, the change starts
with the next piece (at most :data:`PIECE` late).
"""

from __future__ import annotations

import fractions
from typing import Any

import av

PIECE = 0.1
"""Longest subtitle piece, in seconds (within the muxer's 0.1 s interleaving wait, see :func:`~decart_cli.media.remux.open_fragmented`)."""
TIME_BASE = fractions.Fraction(1, 1000)
_ASS_HEADER = (
    "[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n"
    "[V4+ Styles]\r\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\r\n"
    "Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n"
    "[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n"
).encode()


class CaptionTrack:
    """A SubRip stream added to an open Matroska ``container``, fed with :meth:`change` and :meth:`advance`."""

    def __init__(self, container: Any) -> None:
        self.stream = container.add_stream("subrip")
        self.stream.time_base = TIME_BASE
        self.stream.codec_context.subtitle_header = _ASS_HEADER
        self.container = container
        self.pieces = 0
        self._text = ""
        self._start = 0.0
        """Where the piece being built starts (seconds into the file)."""

    def change(self, t: float, text: str) -> None:
        """From ``t`` seconds into the file, ``text`` is the prompt in force."""
        t = max(t, self._start)
        self._flush(t)
        self._text = text

    def advance(self, t: float) -> None:
        """The file has reached ``t`` seconds: write the pieces that ended."""
        while t - self._start >= PIECE:
            self._flush(self._start + PIECE)

    def close(self, t: float) -> None:
        """Write what is left, up to ``t``."""
        while t - self._start >= PIECE:
            self._flush(self._start + PIECE)
        self._flush(max(t, self._start))

    def _flush(self, end: float) -> None:
        if end <= self._start:
            return
        if self._text:
            data = self._text.encode()
            packet = av.Packet(data)
            packet.pts = packet.dts = round(self._start / TIME_BASE)
            packet.duration = max(1, round((end - self._start) / TIME_BASE))
            packet.time_base = TIME_BASE
            packet.stream = self.stream
            self.container.mux(packet)
            self.pieces += 1
        self._start = end
