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

An MP4 gets its subtitles once it is finished instead: :class:`Cues`
collects the changes while recording, and :func:`add_mov_text` copies the
finished file (packets as they are, no re-encoding) with a ``mov_text``
track of whole cues into a plain MP4 that replaces it. A recording cut
short by a kill keeps its fragments, without subtitles (the session record
has the prompts either way).
"""

from __future__ import annotations

import fractions
import os
from pathlib import Path
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
            self.container.mux(_packet(self._text.encode(), self._start, end, self.stream))
            self.pieces += 1
        self._start = end


class Cues:
    """The prompt changes of a recording (seconds into the file), made into whole cues at the end."""

    def __init__(self) -> None:
        self._changes: list[tuple[float, str]] = []

    def __bool__(self) -> bool:
        return any(text for _, text in self._changes)

    def change(self, t: float, text: str) -> None:
        """From ``t`` seconds into the file, ``text`` is the prompt in force (changes come in time order)."""
        if self._changes and t < self._changes[-1][0]:
            t = self._changes[-1][0]
        self._changes.append((t, text))

    def cues(self, end: float) -> list[tuple[float, float, str]]:
        """``(start, end, text)`` of every non-empty stretch up to ``end`` seconds."""
        out = []
        for index, (start, text) in enumerate(self._changes):
            stop = self._changes[index + 1][0] if index + 1 < len(self._changes) else end
            if text and stop > start:
                out.append((start, stop, text))
        return out


def add_mov_text(path: Path, cues: list[tuple[float, float, str]]) -> None:
    """Rewrite the MP4 at ``path`` with ``cues`` as a ``mov_text`` subtitle track (the other streams copied as they are).

    Written beside it and renamed over it, so ``path`` is whole whatever
    happens; raises what PyAV raises when it cannot (``path`` then unchanged).
    """
    part = path.with_name(f".{path.name}.subtitles.part")
    try:
        with av.open(str(path)) as source, av.open(str(part), "w", format="mp4") as target:
            copies = {stream.index: target.add_stream_from_template(stream) for stream in source.streams if stream.type in ("video", "audio")}
            text = target.add_stream("mov_text")
            text.time_base = TIME_BASE
            text.codec_context.subtitle_header = _ASS_HEADER
            text.metadata["language"] = "eng"
            text.metadata["title"] = "prompts"
            pending = list(cues)
            for packet in source.demux(*(s for s in source.streams if s.index in copies)):
                if packet.dts is None:
                    continue
                at = float(packet.dts * packet.time_base)
                while pending and pending[0][0] <= at:
                    _mux_cue(target, text, *pending.pop(0))
                packet.stream = copies[packet.stream_index]
                target.mux(packet)
            for cue in pending:
                _mux_cue(target, text, *cue)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def _mux_cue(container: Any, stream: Any, start: float, end: float, text: str) -> None:
    data = text.encode()
    container.mux(_packet(len(data).to_bytes(2, "big") + data, start, end, stream))  # mov_text: a 16-bit length, then UTF-8


def _packet(payload: bytes, start: float, end: float, stream: Any) -> Any:
    """A subtitle packet of ``stream`` shown from ``start`` to ``end`` seconds (at least a millisecond)."""
    packet = av.Packet(payload)
    packet.pts = packet.dts = round(start / TIME_BASE)
    packet.duration = max(1, round((end - start) / TIME_BASE))
    packet.time_base = TIME_BASE
    packet.stream = stream
    return packet
