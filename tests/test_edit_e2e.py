"""`decart edit` end to end: a real CLI child against a real `decart serve` child, over loopback."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import bar_means, child_env, decart_window, decode, halves_clip, mean_bgr, press_ctrl_c, run_decart, screenshot, start_decart, wait_for, write_clip
from decart_cli.media.sources import TestPattern

LEFT = (30, 30, 200)  # BGR: red-ish
RIGHT = (200, 60, 30)  # BGR: blue-ish
def test_recording_of_test_source_shows_the_edit(server, tmp_path: Path) -> None:
    """-i test -p 'invert the colors' --duration 3 records ~75 inverted 1280x704 H.264 frames in ~3 s."""
    out = tmp_path / "out.mp4"
    result = run_decart("edit", "-i", "test", "-p", "invert the colors", "--no-show", "-o", str(out), "--duration", "3", "--url", server.url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    video = decode(out)
    assert video.codec == "h264" and (video.width, video.height) == (1280, 704)
    assert 60 <= len(video.frames) <= 90, len(video.frames)
    assert 2.5 <= video.duration <= 3.6, video.duration
    source = bar_means(TestPattern(1280, 704).render(0))
    for frame in (video.frames[10], video.frames[-5]):
        edited = bar_means(frame)
        assert np.abs(edited - (255 - source)).max() < 40, (edited, source)
    assert "prompt: invert the colors" in result.stderr
    assert f"recorded {len(video.frames)} frames to {out}" in result.stderr


def test_a_face_edit_on_a_faceless_source_says_waiting_for_a_face(server, tmp_path: Path) -> None:
    """`-i test -p "add a sombrero"`: the terminal says the sombrero is drawn as a plain hat, then that it waits for a face."""
    out = tmp_path / "faceless.mp4"
    result = run_decart("edit", "-i", "test", "-p", "add a sombrero", "--no-show", "-o", str(out), "--duration", "3", "--url", server.url)
    assert result.returncode == 0, result.stderr
    assert "prompt: add a sombrero ('sombrero' is drawn as a plain hat)" in result.stderr
    assert "prompt: add a sombrero (waiting for a face; 'sombrero' is drawn as a plain hat)" in result.stderr


def test_black_and_white_removes_colour(server, tmp_path: Path) -> None:
    """'black and white' leaves every recorded pixel grey (B ~ G ~ R) while the source is colourful."""
    out = tmp_path / "bw.mkv"
    result = run_decart("edit", "-i", "test", "-p", "black and white", "--no-show", "-o", str(out), "--duration", "2", "--url", server.url)
    assert result.returncode == 0, result.stderr
    frame = decode(out).frames[-5].astype(int)
    spread = (frame.max(axis=2) - frame.min(axis=2)).mean()
    assert spread < 8, spread
    source = TestPattern(1280, 704).render(0).astype(int)
    assert (source.max(axis=2) - source.min(axis=2)).mean() > 80


def test_prompt_from_stdin_changes_the_edit_mid_session(server, tmp_path: Path) -> None:
    """A prompt piped on stdin during the session is acknowledged and changes the recorded pixels."""
    clip = halves_clip(tmp_path / "halves.mp4", frames=50, left=LEFT, right=RIGHT)
    out = tmp_path / "out.mp4"
    log = tmp_path / "stderr.txt"
    proc = start_decart("edit", "-i", str(clip), "--loop", "--no-show", "-o", str(out), "--duration", "5", "--url", server.url, stdin=subprocess.PIPE, stderr=log)
    assert proc.stdin is not None
    time.sleep(3.0)  # let unedited frames be recorded first
    proc.stdin.write("invert the colors\n")
    proc.stdin.close()  # end of stdin must not end the session
    proc.wait(timeout=60)
    stderr = log.read_text()
    assert proc.returncode == 0, stderr
    assert "prompt: invert the colors" in stderr
    video = decode(out)
    assert video.duration > 4.5, video.duration
    first, last = video.frames[5], video.frames[-5]
    half = first.shape[1] // 2
    assert np.abs(mean_bgr(first[:, :half]) - LEFT).max() < 25
    assert np.abs(mean_bgr(last[:, :half]) - (255 - np.array(LEFT))).max() < 25
    assert np.abs(mean_bgr(last[:, half:]) - (255 - np.array(RIGHT))).max() < 25


def _run_geometry(server, tmp_path: Path, *args: str) -> np.ndarray:
    clip = halves_clip(tmp_path / "vga.mp4", frames=25, size=(640, 480), left=LEFT, right=RIGHT)
    out = tmp_path / "geometry.mp4"
    result = run_decart("edit", "-i", str(clip), "--loop", "--no-show", "-o", str(out), "--duration", "1.5", "--url", server.url, *args)
    assert result.returncode == 0, result.stderr
    return decode(out).frames[-3]


def test_fit_pad_letterboxes_and_mirror_swaps_sides(server, tmp_path: Path) -> None:
    """--fit pad keeps 4:3 inside 1280x704 with black side bars; --mirror puts the right half on the left."""
    frame = _run_geometry(server, tmp_path, "--fit", "pad", "--mirror")
    assert frame.shape == (704, 1280, 3)
    inner = round(640 * 704 / 480)  # 939 px of picture, centred
    bar = (1280 - inner) // 2
    assert mean_bgr(frame[:, : bar - 10]).max() < 20 and mean_bgr(frame[:, -(bar - 10) :]).max() < 20
    assert np.abs(mean_bgr(frame[:, bar + 20 : 640 - 20]) - RIGHT).max() < 25  # mirrored
    assert np.abs(mean_bgr(frame[:, 640 + 20 : 1280 - bar - 20]) - LEFT).max() < 25


def test_fit_crop_fills_the_frame(server, tmp_path: Path) -> None:
    """--fit crop (the default) fills 1280x704 from a 4:3 input: no bars, halves meet in the middle."""
    frame = _run_geometry(server, tmp_path)
    assert np.abs(mean_bgr(frame[:, 20:600]) - LEFT).max() < 25
    assert np.abs(mean_bgr(frame[:, 680:1260]) - RIGHT).max() < 25


def test_fit_stretch_fills_the_frame(server, tmp_path: Path) -> None:
    """--fit stretch fills 1280x704 from a 4:3 input without bars."""
    frame = _run_geometry(server, tmp_path, "--fit", "stretch")
    assert np.abs(mean_bgr(frame[:, :20]) - LEFT).max() < 30
    assert np.abs(mean_bgr(frame[:, -20:]) - RIGHT).max() < 30


def test_end_of_file_ends_session_with_embedded_server(tmp_path: Path) -> None:
    """Without --url or a key the local server starts in-process; a 2 s file ends the session with ~50 frames."""
    clip = write_clip(tmp_path / "two.mp4", lambda i: np.full((352, 640, 3), (i * 5) % 255, np.uint8), frames=60, fps=30)
    out = tmp_path / "out.mp4"
    started = time.monotonic()
    result = run_decart("edit", "-i", str(clip), "--no-show", "-o", str(out), "-p", "tint it red")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "local server" in result.stderr
    assert elapsed < 20
    video = decode(out)
    assert 40 <= len(video.frames) <= 56, len(video.frames)
    b, g, r = mean_bgr(video.frames[len(video.frames) // 2])
    assert r > b + 20 and r > g + 20


SUMMARY = re.compile(r"received (\d+), .*recorded (\d+) frames to ")
PROGRESS = re.compile(r"recording: (\d+) frames received")


def _record(server, out: Path, *args: str) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    """`decart edit -i test --no-show -o OUT --duration 60 ARGS` against ``server``, stderr piped."""
    return start_decart("edit", "-i", "test", "--no-show", "-o", str(out), "--duration", "60", "--url", server.url, *args, stderr=subprocess.PIPE)


@pytest.mark.parametrize("signum, suffix", [(signal.SIGTERM, ".mp4"), (signal.SIGINT, ".mkv")], ids=["sigterm-mp4", "sigint-mkv"])
def test_sigterm_and_sigint_stop_gracefully(server, tmp_path: Path, signum: int, suffix: str) -> None:
    """SIGTERM or SIGINT mid-recording: exit 0, and the file decodes to exactly the frames the summary says were received and recorded."""
    out = tmp_path / f"sig{suffix}"
    proc = _record(server, out)
    try:
        assert wait_for(lambda: out.exists() and out.stat().st_size > 50_000, 30)
        time.sleep(1.0)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    summary = SUMMARY.search(stderr)
    assert summary is not None, stderr
    received, recorded = int(summary.group(1)), int(summary.group(2))
    assert len(decode(out).frames) == recorded == received >= 25, stderr


def test_ctrl_c_at_any_moment(tmp_path: Path) -> None:
    """Ctrl-C once or twice (the second also after the session ended), from loading to mid-recording: never a traceback; exit 130 before media, else 0 and a summary whose file decodes."""
    outcomes = []
    # From 0.25 s: before that, Python itself is still starting (its own site import), none of our code has run.
    # (when, presses, seconds between them): 0.3 s apart, the second lands while the program is leaving.
    for delay, presses, gap in ((0.25, 1, 0), (0.5, 1, 0), (0.9, 1, 0), (1.3, 1, 0), (2.0, 1, 0), (3.5, 1, 0), (0.4, 2, 0.05), (2.0, 2, 0.05), (3.5, 2, 0.3)):
        out = tmp_path / f"cc-{delay}-{presses}.mp4"
        proc = start_decart(
            "edit", "-i", "sample", "-p", "add sunglasses", "-o", str(out), "--no-show", "--duration", "30",
            stderr=subprocess.PIPE, console_script=True,  # the console script, as users start it
        )
        time.sleep(delay)
        stderr = press_ctrl_c(proc, presses, gap)
        where = f"Ctrl-C x{presses} at {delay} s: exit {proc.returncode}\n{stderr}"
        assert "Traceback" not in stderr and "Task was destroyed" not in stderr, where
        summary = SUMMARY.search(stderr)
        if summary is None:
            assert proc.returncode == 130 and not out.exists(), where
        else:
            assert proc.returncode == 0 and str(out) in stderr, where
            assert len(decode(out).frames) == int(summary.group(2)) > 0, where
        assert "recorded 0 frames" not in stderr, where
        outcomes.append(summary is not None)
    assert not outcomes[0] and outcomes[5], outcomes  # both kinds of moment were met


SIGINT_AT_IMPORT = """\
import atexit, importlib.abc, os, signal, sys

def press():
    os.kill(os.getpid(), signal.SIGINT)

class SigintAt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == os.environ["SIGINT_AT"]:
            sys.meta_path.remove(self)
            print(f"SIGINT at import of {name}", file=sys.stderr, flush=True)
            atexit.register(press)  # a second press as the program leaves
            press()
        return None

sys.meta_path.insert(0, SigintAt())
"""


@pytest.mark.parametrize(
    ("module", "said"),
    [
        ("decart_cli.cli.edit", ""),  # loading: the commands' modules
        ("decart_cli.cli.help", ""),  # between loading and the command: building the command for click
        ("decart_cli.media.window", "error: interrupted"),  # the command has started, before any media
    ],
)
def test_ctrl_c_at_each_step_of_starting(tmp_path: Path, module: str, said: str) -> None:
    """A Ctrl-C delivered exactly as a given module is imported (loading, building the command, the command begun), and another as the program leaves: exit 130 and no traceback."""
    (tmp_path / "sitecustomize.py").write_text(SIGINT_AT_IMPORT)
    proc = start_decart(
        "edit", "-i", "test", "-p", "add sunglasses", "-o", str(tmp_path / "out.mp4"), "--no-show", "--duration", "2",
        stderr=subprocess.PIPE, console_script=True, env=child_env(PYTHONPATH=str(tmp_path), SIGINT_AT=module),
    )
    _, stderr = proc.communicate(timeout=60)
    assert stderr.startswith(f"SIGINT at import of {module}\n"), stderr  # the signal was sent where the test means
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert stderr.split("\n", 1)[1].strip() == said, stderr
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_sigkill_mid_recording_loses_at_most_a_second(server, tmp_path: Path, suffix: str) -> None:
    """SIGKILL mid-recording: the file decodes and holds what the recorder had received, give or take 25 frames (1 s)."""
    out = tmp_path / f"killed{suffix}"
    proc = _record(server, out, "-v")
    received = 0
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # -v logs the recorder's count once a second
            progress = PROGRESS.search(line)
            if progress and int(progress.group(1)) >= 50:
                proc.kill()  # at once: the count is at most a few frames old
                received = int(progress.group(1))
                break
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL and received >= 50
    decoded = len(decode(out, cut_tail=True).frames)  # the kill may cut the last fragment short
    assert abs(decoded - received) <= 25, (decoded, received)


def test_window_shows_the_edited_stream_and_q_ends_the_session(server, xvfb: str, tmp_path: Path) -> None:
    """Under Xvfb, --show opens a window with the edited (inverted) frames; `q` in it ends the session cleanly."""
    out = tmp_path / "shown.mp4"
    shot = tmp_path / "screen.png"
    log = tmp_path / "stderr.txt"
    display_env = child_env(DISPLAY=xvfb)
    proc = start_decart("edit", "-i", "test", "-p", "invert the colors", "--show", "-o", str(out), "--duration", "60", "--url", server.url, stderr=log, env=display_env)
    try:
        assert wait_for(lambda: bool(decart_window(display_env)), 30), log.read_text()
        source = bar_means(TestPattern(1280, 704).render(0))

        def showing_the_edit() -> bool:
            # The window sits at the top-left of the bare X screen, at the frame's size.
            shown = screenshot(xvfb, shot)[:704, :1280]
            return bool(np.abs(bar_means(shown) - (255 - source)).max() < 40)

        # Edited frames reach a new window within a second or two; a loaded machine may take longer.
        assert wait_for(showing_the_edit, 15, interval=0.5), log.read_text()
        time.sleep(1.5)  # some seconds of recording before `q`
        subprocess.run(["xdotool", "key", "--window", decart_window(display_env), "q"], env=display_env, check=True, timeout=10)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = log.read_text()
    assert proc.returncode == 0, stderr
    assert len(decode(out).frames) > 25


def test_server_dying_mid_session_keeps_the_recording(tmp_path: Path) -> None:
    """With --reconnect 0, a server going away mid-session ends it with one error line, exit 1, and a playable recording."""
    from conftest import serve

    out = tmp_path / "cut.mp4"
    with serve() as dying:
        log = tmp_path / "stderr.txt"
        proc = start_decart("edit", "-i", "test", "--no-show", "-o", str(out), "--duration", "60", "--url", dying.url, "--reconnect", "0", stderr=log)
        assert wait_for(lambda: out.exists() and out.stat().st_size > 50_000, 30), log.read_text()
        dying.proc.kill()
        proc.wait(timeout=30)
    stderr = log.read_text()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if line.startswith("error:")]) == 1, stderr
    frames = len(decode(out).frames)
    assert frames >= 10
    assert "stopped early: " in stderr and f"recorded {frames} frames to {out}" in stderr
