"""The session record beside a recording (`out.json`) and the prompts as a subtitle track, checked against the pixels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import child_env, decart_cmd, decode, halves_clip, mean_bgr

LEFT, RIGHT = (30, 30, 200), (200, 60, 30)  # BGR: red, blue


def captions(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each non-empty subtitle piece in the file."""
    pieces = []
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            data = bytes(packet)
            text = data[2:].decode() if stream.codec_context.name == "mov_text" else data.decode()
            if text:
                start = float(packet.pts * packet.time_base)
                pieces.append((start, start + float(packet.duration * packet.time_base), text))
    return pieces


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_the_record_and_the_subtitles_agree_with_the_pixels(server, tmp_path: Path, suffix: str) -> None:
    """A cue `1.0 invert the colors`: out.json's first_visible is within 2 frames of the first inverted frame, and the file's subtitles (SubRip pieces in Matroska, whole mov_text cues in MP4) switch to the prompt then."""
    clip = halves_clip(tmp_path / "halves.mp4", frames=75, left=LEFT, right=RIGHT)
    sheet = tmp_path / "cues.txt"
    sheet.write_text("1.0 invert the colors\n")
    out = tmp_path / f"out{suffix}"
    result = subprocess.run(
        decart_cmd("edit", "-i", str(clip), "-p", "tint it red", "--cues", str(sheet), "--no-show", "--no-stdin", "-o", str(out), "--url", server.url),
        capture_output=True, text=True, env=child_env(), timeout=90,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["recording"] == out.name and record["model"] == "lucy_v2v_720p_rt" and record["transport"] == "webrtc"
    assert record["session_id"] and record["server"].startswith("ws://127.0.0.1:")
    assert record["timeline"] == "seconds from the recording's first frame"
    first, invert = record["prompts"]
    assert first["text"] == "tint it red" and invert["text"] == "invert the colors"
    assert invert["sent"] <= invert["acknowledged"] <= invert["first_visible"]
    assert 0.8 <= invert["sent"] <= 1.2, invert  # the cue's second of input, on the file's clock
    decoded = decode(out)
    want = 255 - np.array(LEFT)
    seen = next(t for t, f in zip(decoded.times, decoded.frames) if np.abs(mean_bgr(f[200:500, 100:500]) - want).max() < 30)
    assert abs(seen - invert["first_visible"]) <= 2 / 25, (seen, invert)
    assert record["totals"]["frames_recorded"] == len(decoded.frames)
    pieces = captions(out)
    if suffix == ".mp4":
        # Added once the file was finished: whole cues, the switch where the prompt was first seen.
        assert [text for _, _, text in pieces] == ["tint it red", "invert the colors"], pieces
        assert pieces[0][0] < 0.05 and abs(pieces[0][1] - pieces[1][0]) < 0.01, pieces
        assert abs(pieces[1][0] - invert["first_visible"]) < 0.01 and abs(pieces[1][0] - seen) <= 1 / 25 + 0.01, (seen, pieces)
        assert pieces[-1][1] >= decoded.times[-1] - 0.05
        assert not list(out.parent.glob(".*.part")), "the temporary copy is gone"
        return
    assert {text for _, _, text in pieces} == {"tint it red", "invert the colors"}
    # One piece after another to the end of the video: none lost (a fragmented MP4 drops a late one).
    assert all(abs(after[0] - before[1]) < 0.01 for before, after in zip(pieces, pieces[1:])), pieces
    assert pieces[-1][1] >= decoded.times[-1] - 0.05
    # The subtitles switch with that frame, or (when the change came after a piece was written) with the next piece.
    switch = min(start for start, _, text in pieces if text == "invert the colors")
    assert seen - 1 / 25 <= switch <= seen + 0.1 + 1 / 25, (seen, pieces)
