"""`/` commands during a session: parsed the same everywhere, carried out from a pipe, each one visible in the output."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import Editing, decode, halves_clip, mean_bgr

from decart_cli.client.commands import Command, Prompt, help_lines, parse_line, switch
from decart_cli.errors import CommandError

LEFT, RIGHT = (30, 30, 200), (200, 60, 30)  # BGR: red, blue


def test_lines_are_prompts_or_commands() -> None:
    """Plain text is a prompt, `//` escapes a leading slash, `/name arg` is a command with its argument."""
    assert parse_line("make it sepia") == Prompt("make it sepia")
    assert parse_line("  //3 doors  ") == Prompt("/3 doors")
    assert parse_line("/mirror on") == Command("mirror", "on")
    assert parse_line("/MIRROR") == Command("mirror", "")
    assert parse_line("/snapshot  my shot.png ") == Command("snapshot", "my shot.png")
    assert parse_line("/image none") == Command("image", "none")
    assert parse_line("/help edits") == Command("help", "edits")
    assert parse_line("   ") is None
    assert switch("", True) is False and switch("on", False) is True and switch("OFF", True) is False


@pytest.mark.parametrize("line, problem", [
    ("/bogus", "unknown command"), ("/mirror maybe", "takes on or off"), ("/image", "needs a file"), ("/pause now", "takes no argument"),
    ("/help me", "takes nothing or edits"),
])  # fmt: skip
def test_bad_commands_say_what_is_wrong_and_point_to_help(line: str, problem: str) -> None:
    """A malformed command is a CommandError naming it and the problem, with /help as the fix."""
    with pytest.raises(CommandError) as caught:
        parse_line(line)
    assert caught.value.user_message().startswith(f"/{line[1:].split()[0]}: {problem}") and caught.value.user_message().endswith("/help lists the commands")


def test_help_lists_every_command() -> None:
    """/help shows a line for each command with its argument syntax."""
    text = "\n".join(help_lines())
    for name in ("mirror on|off", "enhance on|off", "image FILE|none", "snapshot [FILE]", "pause", "resume", "quit", "help"):
        assert f"/{name}" in text


def test_commands_in_a_pipe(tmp_path: Path, server) -> None:
    """Through stdin: /help (and /help edits), a refusal pointing to it, /mirror flips what is sent, /snapshot writes the edited frame, /pause stops the frames, /quit ends cleanly with the file."""
    clip = halves_clip(tmp_path / "halves.mp4", frames=50, left=LEFT, right=RIGHT)
    out = tmp_path / "out.mp4"
    edit = Editing("--url", server.url, "-i", str(clip), "--loop", "--no-show", "-o", str(out), "--duration", "60", "-p", "invert the colors", cwd=tmp_path)
    try:
        edit.wait_for("prompt: invert the colors")
        edit.say("/help")
        edit.wait_for("/snapshot [FILE]")
        edit.say("/help edits")
        edit.wait_for("use the image as the background")
        edit.say("remove the tree")
        edit.wait_for("/help edits (or decart models --edits) lists every edit")
        edit.say("/bogus")
        edit.wait_for("/bogus: unknown command: /help lists the commands")
        edit.say(f"/image {tmp_path / 'missing.png'}")
        edit.wait_for("missing.png")
        edit.say("//invert the colors")  # a prompt that starts with a slash, sent as such
        edit.wait_for("prompt: /invert the colors")
        edit.say("/snapshot before")  # no suffix: .png is added
        edit.wait_for("snapshot: ")
        edit.say("/mirror on")
        edit.wait_for("mirror on")
        time.sleep(0.5)  # the mirrored frames' way through the server
        edit.say("/enhance off")
        edit.wait_for("enhance off")
        edit.say("/pause")
        edit.wait_for("paused: no frames are sent")
        time.sleep(1.5)
        edit.say("/resume")
        edit.wait_for("resumed")
        time.sleep(0.5)
        edit.say(f"/snapshot {tmp_path / 'after.png'}")
        edit.wait_for(f"snapshot: {tmp_path / 'after.png'}")
        edit.say("/quit")
        code = edit.finish(timeout=60)
    finally:
        if edit.proc.poll() is None:
            edit.proc.kill()
    stderr = edit.stderr
    assert code == 0, stderr
    assert "Traceback" not in stderr and "done: " in stderr
    before = cv2.imread(str(tmp_path / "before.png"))
    after = cv2.imread(str(tmp_path / "after.png"))
    assert before.shape == after.shape == (704, 1280, 3)
    inverted_left, inverted_right = 255 - np.array(LEFT), 255 - np.array(RIGHT)
    h, w = before.shape[:2]

    def halves(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mean_bgr(img[h // 4 : 3 * h // 4, w // 8 : 3 * w // 8]), mean_bgr(img[h // 4 : 3 * h // 4, 5 * w // 8 : 7 * w // 8])

    # Inverted, and after /mirror the two halves trade places.
    assert np.abs(halves(before)[0] - inverted_left).max() < 30 and np.abs(halves(before)[1] - inverted_right).max() < 30
    assert np.abs(halves(after)[0] - inverted_right).max() < 30 and np.abs(halves(after)[1] - inverted_left).max() < 30
    recording = decode(out)
    assert np.abs(halves(recording.frames[-1])[0] - inverted_right).max() < 30
    # Paused 1.5 s: no frame was sent, so none came back. A file made of the frames as received has a
    # gap there (players hold the last frame); a re-encoded one (when decoded frames reached the
    # recorder first) holds the last frame itself.
    if "gap while paused" in stderr:
        assert max(np.diff(recording.times)) > 1.2, max(np.diff(recording.times))
    else:
        held = int(stderr.split(" held while paused")[0].rsplit("(", 1)[1])
        assert held >= 25, stderr
