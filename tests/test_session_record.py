"""The session record beside a recording (`out.json`) and the prompts as a subtitle track, checked against the pixels."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import decode, halves_clip, mean_bgr, run_decart

from decart_cli.assets import sample_clip
from decart_cli.client.record import PromptEntry, SessionRecord
from decart_cli.ui.reporter import SessionStats

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
    result = run_decart("edit", "-i", str(clip), "-p", "tint it red", "--cues", str(sheet), "--no-show", "--no-stdin", "-o", str(out), "--url", server.url)
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


ISSUE_CUES = ("cartoon", "make the shirt blue", "add snow", "add a hat")
"""The issue's cues (a style, a region's colour, a scene edit) and an overlay, one a second from 1.0 s."""
FEW = 3 / 25
"""A few frames: how far a recorded time may be from the frame it names."""


def i420_frames(path: Path, count: int | None = None) -> list[tuple[float, np.ndarray]]:
    """(seconds, I420 array) of the first ``count`` (all) frames of ``path``."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append((float(frame.pts * frame.time_base), frame.to_ndarray(format="yuv420p")))
            if len(out) == count:
                break
    return out


def states(recording: Path) -> list[tuple[float, str | None]]:
    """Which of ISSUE_CUES (or "" for none) each recorded frame shows, None between two; told by what the frame changed in its input.

    Each recorded frame is paired with the sample frame it was made from (the
    closest at 160x88), and classified by its difference from it: a cartoon
    moves every pixel (mean |dY| > 10), the blue shirt moves the colour
    (mean |dU, dV| > 5), snow lightens a few pixels far (> 1 per mille by
    more than 40 levels), a hat darkens some far (> 5 per mille).
    """
    inputs = [image for _, image in i420_frames(sample_clip(), 200)]
    height = inputs[0].shape[0] * 2 // 3

    def thumb(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image[:height], (160, 88), interpolation=cv2.INTER_AREA).astype(np.float32)

    thumbs = [thumb(image) for image in inputs]
    out: list[tuple[float, str | None]] = []
    for t, image in i420_frames(recording):
        small = thumb(image)
        source = inputs[int(np.argmin([np.abs(small - other).mean() for other in thumbs]))]
        diff = image.astype(np.int16) - source.astype(np.int16)
        luma, chroma = np.abs(diff[:height]).mean(), np.abs(diff[height:]).mean()
        lighter, darker = (diff[:height] > 40).mean() * 1000, (diff[:height] < -40).mean() * 1000
        if luma > 10:
            state: str | None = "cartoon"
        elif chroma > 5:
            state = "make the shirt blue"
        elif lighter > 1 and chroma < 3:
            state = "add snow"
        elif darker > 5 and lighter < 0.5 and chroma < 3:
            state = "add a hat"
        elif luma < 3 and chroma < 1 and lighter < 0.5 and darker < 0.5:
            state = ""
        else:
            state = None
        out.append((t, state))
    return out


def test_every_kind_of_edit_is_seen_and_captioned_as_it_shows(server, tmp_path: Path) -> None:
    """The issue's cues and a hat on the sample: each prompt's first_visible is seen within a few frames of the first recorded frame that shows it, and the MP4's subtitle names every edit on screen from a few frames after it shows."""
    sheet = tmp_path / "cues.txt"
    sheet.write_text("".join(f"{second}.0 {text}\n" for second, text in enumerate(ISSUE_CUES, start=1)))
    out = tmp_path / "out.mp4"
    result = run_decart("edit", "-i", "sample", "--cues", str(sheet), "--duration", "5", "--no-show", "--no-stdin", "-o", str(out), "--url", server.url)
    assert result.returncode == 0, result.stderr
    prompts = json.loads(out.with_suffix(".json").read_text())["prompts"]
    assert [p["text"] for p in prompts] == list(ISSUE_CUES)
    shown = states(out)
    times = [t for t, _ in shown]
    previous = ""
    for prompt in prompts:
        text = prompt["text"]
        first = next(i for i, (_, state) in enumerate(shown) if state == text)
        change = max(i for i, (_, state) in enumerate(shown[:first]) if state == previous) + 1  # the first frame no longer showing the last prompt
        assert first - change <= 2, (text, shown[change - 1 : first + 1])
        assert prompt["first_visible"] is not None and abs(prompt["first_visible"] - times[change]) <= FEW, (prompt, times[change])
        assert prompt["first_visible_by"] == "seen", prompt
        previous = text
    cues = captions(out)
    assert [text for _, _, text in cues] == list(ISSUE_CUES), cues
    for (start, _, _), prompt in zip(cues, prompts):
        assert abs(start - prompt["first_visible"]) < 0.01, (cues, prompt)

    def caption_at(t: float) -> str:
        return next((text for start, end, text in cues if start <= t < end), "")

    since = 0.0
    for index, (t, state) in enumerate(shown):
        if index and state != shown[index - 1][1]:
            since = t  # the edit on screen changed here
        if state and t >= since + FEW:
            assert caption_at(t) == state, (t, state, cues)


def test_a_prompt_that_looks_like_the_last_is_recorded_as_acknowledged(server, tmp_path: Path) -> None:
    """`cartoon` sent again changes nothing on screen: out.json gives it the acknowledgement plus the frames' lag, marked "acknowledged", and the subtitles switch there."""
    sheet = tmp_path / "cues.txt"
    sheet.write_text("0.5 cartoon\n1.5 cartoon\n")
    out = tmp_path / "out.mp4"
    result = run_decart("edit", "-i", "sample", "--cues", str(sheet), "--duration", "3", "--no-show", "--no-stdin", "-o", str(out), "--url", server.url)
    assert result.returncode == 0, result.stderr
    first, again = json.loads(out.with_suffix(".json").read_text())["prompts"]
    assert first["first_visible_by"] == "seen" and again["first_visible_by"] == "acknowledged", (first, again)
    assert again["acknowledged"] <= again["first_visible"] <= again["acknowledged"] + 1.0, again
    cues = captions(out)
    assert [text for _, _, text in cues] == ["cartoon", "cartoon"], cues
    assert abs(cues[0][0] - first["first_visible"]) < 0.01 and abs(cues[1][0] - again["first_visible"]) < 0.01, (cues, first, again)


def test_first_visible_falls_back_to_the_acknowledgement_only_when_not_seen() -> None:
    """A prompt seen on the frames keeps that time; not seen, it gets its acknowledgement plus the lag ("acknowledged"); never acknowledged, nothing."""
    seen, unseen, unanswered = PromptEntry("a", sent=10.0, acknowledged=10.1), PromptEntry("b", sent=20.0, acknowledged=20.1), PromptEntry("c", sent=30.0)
    seen.showed(10.5, lag=0.2)
    unseen.showed(None, lag=0.2)
    unanswered.showed(None, lag=0.2)
    assert (seen.first_visible, seen.first_visible_by) == (10.5, "seen")
    assert (unseen.first_visible, unseen.first_visible_by) == (pytest.approx(20.3), "acknowledged")
    assert (unanswered.first_visible, unanswered.first_visible_by) == (None, None)
    record = SessionRecord(Path("out.mp4"), model="m", transport="webrtc", server="s", prompts=[seen, unseen, unanswered])
    listed = record.to_dict(SessionStats(), t0=10.0)["prompts"]
    assert [(p["first_visible"], p["first_visible_by"]) for p in listed] == [(0.5, "seen"), (10.3, "acknowledged"), (None, None)]
