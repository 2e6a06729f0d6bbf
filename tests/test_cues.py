"""Cue sheets: the same prompts at the same frames on every run; a bad line stops before anything starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import child_env, decode, halves_clip, mean_bgr, run_decart

from decart_cli.client.cues import Cue, parse_cues
from decart_cli.errors import CueError

LEFT, RIGHT = (30, 30, 200), (200, 60, 30)  # BGR: red, blue


def test_times_commands_and_comments_parse() -> None:
    """SS, MM:SS.fff and #frame times; prompts, // escapes and / commands; comments and blank lines skipped."""
    cues = parse_cues("0 make it sepia\n\n# a comment\n01:02.5 invert the colors\n#120 /mirror on\n3 //x marks\n")
    assert cues == [
        Cue(1, "make it sepia", 0.0), Cue(4, "invert the colors", 62.5), Cue(5, "/mirror on", None, 120), Cue(6, "//x marks", 3.0),
    ]  # fmt: skip
    assert cues[2].due(30) == 4.0 and cues[1].due(30) == 62.5


@pytest.mark.parametrize("sheet, line, problem", [
    ("1:75 sepia", 1, "'1:75' is not a time"),
    ("0 sepia\nsoon sepia", 2, "'soon' is not a time"),
    ("0 sepia\n1 sepia\n2", 3, "'2' has nothing to do"),
    ("5 /bogus", 1, "/bogus: unknown command"),
    ("#x sepia", 1, "'#x' is not a time"),
])  # fmt: skip
def test_a_bad_line_is_named(sheet: str, line: int, problem: str) -> None:
    """A bad line raises CueError with the sheet's name, the line number and what is wrong."""
    with pytest.raises(CueError) as caught:
        parse_cues(sheet, "cues.txt")
    assert caught.value.line == line and caught.value.user_message().startswith(f"cues.txt line {line}: {problem}")


def test_a_bad_sheet_fails_before_starting(tmp_path: Path, server) -> None:
    """`decart edit --cues` with a bad line: one error naming the line, exit 2, no session, no file."""
    sheet = tmp_path / "cues.txt"
    sheet.write_text("0 make it sepia\n00:01 /mirror sideways\n")
    out = tmp_path / "out.mp4"
    result = run_decart("edit", "-i", "test", "--cues", str(sheet), "--no-show", "--no-stdin", "-o", str(out), "--url", server.url, env=child_env(), timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: cues.txt line 2: /mirror: takes on or off, not 'sideways': fix the line, or see /help for the commands"
    assert not out.exists()


def first_inverted(path: Path) -> int:
    frames = decode(path).frames
    want = 255 - np.array(LEFT)
    return next(i for i, f in enumerate(frames) if np.abs(mean_bgr(f[200:500, 100:500]) - want).max() < 30)


def test_the_same_cues_hit_the_same_frames_on_every_run(tmp_path: Path, server) -> None:
    """A file with `1.0 invert the colors` (and a frame-numbered /mirror): two runs invert at the same frame, within 2 frames."""
    clip = halves_clip(tmp_path / "halves.mp4", frames=75, left=LEFT, right=RIGHT)
    sheet = tmp_path / "cues.txt"
    sheet.write_text("1.0 invert the colors\n#50 /mirror on\n")
    firsts = []
    for run in range(2):
        out = tmp_path / f"run{run}.mp4"
        result = run_decart("edit", "-i", str(clip), "--cues", str(sheet), "--no-show", "--no-stdin", "-o", str(out), "--url", server.url, env=child_env(), timeout=90)
        assert result.returncode == 0, result.stderr
        assert "prompt: invert the colors" in result.stderr and "mirror on" in result.stderr
        firsts.append(first_inverted(out))
        frames = decode(out).frames
        # After frame 50 of the input (2 s) the halves are swapped: blue on the left.
        assert np.abs(mean_bgr(frames[-3][200:500, 100:500]) - (255 - np.array(RIGHT))).max() < 30
    assert abs(firsts[0] - firsts[1]) <= 2 and 20 <= firsts[0] <= 30, firsts
