"""`decart edit --transport livekit`: today's protocol end to end against `decart serve`, recordings decoded back.

Both run in the test's own network namespace (`netns` fixture): LiveKit's
client (libwebrtc) gathers no loopback candidates. The clip is 1280x720 at
30 fps with a red left half and a blue right half; lucy-2.6 takes 1280x720
at 30 fps, so what comes back is the clip, edited.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import Editing, NetNamespace, ServeProcess, child_env, decode, halves_clip, mean_bgr, run_decart, serve

LEFT, RIGHT = (30, 30, 200), (200, 60, 30)  # BGR: red, blue
GREEN, MAGENTA = (0, 200, 0), (200, 0, 200)


def png(path: Path, bgr: tuple[int, int, int]) -> Path:
    cv2.imwrite(str(path), np.full((90, 160, 3), bgr, np.uint8))
    return path


def left_half(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return mean_bgr(frame[h // 4 : h // 2, : w // 4])


def corner(frame: np.ndarray) -> np.ndarray:
    """Where the engine draws the reference image (picture-in-picture, top right)."""
    h, w = frame.shape[:2]
    return mean_bgr(frame[h // 20 : h // 6, w - w // 6 : w - w // 20])


def close_to(got: np.ndarray, want: tuple[int, int, int], tolerance: float = 30) -> bool:
    return bool(np.abs(np.asarray(got) - np.asarray(want)).max() < tolerance)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return halves_clip(tmp_path / "halves.mp4", frames=60, size=(1280, 720), left=LEFT, right=RIGHT, fps=30)


def session(netns: NetNamespace, server: ServeProcess, clip: Path, out: Path, *args: str) -> Editing:
    return Editing("--transport", "livekit", "--url", server.url, "-i", str(clip), "--loop", "--no-show", "-o", str(out), *args, prefix=tuple(netns.run()))


def test_livekit_session_records_the_edit_and_follows_stdin(netns, clip, tmp_path):
    """-p and --image apply from the first frame; a stdin prompt and `/image FILE` change the recorded pixels; 1280x720 at ~30 fps; no library's own line on the terminal."""
    out = tmp_path / "out.mp4"
    with serve(prefix=tuple(netns.run())) as server:
        edit = session(netns, server, clip, out, "-m", "lucy-2.6", "-p", "invert the colors", "--image", str(png(tmp_path / "g.png", GREEN)), "--duration", "9")
        edit.wait_for("prompt: invert the colors")
        time.sleep(2.5)
        edit.say("black and white")
        edit.wait_for("prompt: black and white")
        time.sleep(2.0)
        edit.say(f"/image {png(tmp_path / 'm.png', MAGENTA)}")
        edit.wait_for("image: ")
        code = edit.finish()
    stderr = edit.stderr
    assert code == 0, stderr
    assert "over livekit" in stderr and "billed seconds" in stderr and "Traceback" not in stderr
    assert "[OpenH264]" not in stderr and "livekit::" not in stderr, stderr  # the libraries' own lines stay off the terminal
    video = decode(out)
    assert video.frames[0].shape[:2] == (720, 1280)
    assert 8.0 < video.duration < 10.5 and len(video.frames) >= 0.85 * 30 * video.duration, (len(video.frames), video.duration)
    first, middle, last = video.frames[10], video.frames[len(video.frames) // 2], video.frames[-5]
    assert close_to(left_half(first), tuple(255 - v for v in LEFT)), left_half(first)  # inverted red
    assert close_to(corner(first), GREEN), corner(first)
    grey = left_half(middle)
    assert grey.max() - grey.min() < 8, grey  # black and white
    assert close_to(corner(last), MAGENTA), corner(last)
    assert (left_half(last).max() - left_half(last).min()) < 8


def test_a_busy_server_queues_the_second_session(netns, clip, tmp_path):
    """--max-sessions 1: a second `decart edit` says it is queued and starts when the first ends."""
    with serve("--max-sessions", "1", prefix=tuple(netns.run())) as server:
        first = session(netns, server, clip, tmp_path / "1.mp4", "-p", "invert the colors", "--duration", "5", "--no-stdin")
        first.wait_for("prompt: invert the colors")
        second = session(netns, server, clip, tmp_path / "2.mp4", "-p", "invert the colors", "--duration", "2", "--no-stdin")
        second.wait_for("queued 1/1")
        assert "done:" not in first.stderr
        assert first.finish() == 0, first.stderr
        assert second.finish() == 0, second.stderr
    assert second.stderr.index("queued 1/1") < second.stderr.index("prompt: invert the colors")
    video = decode(tmp_path / "2.mp4")
    assert video.duration > 1.5 and close_to(left_half(video.frames[5]), tuple(255 - v for v in LEFT))


def test_max_seconds_ends_the_session_cleanly(netns, clip, tmp_path):
    """--max-seconds 3: the session ends after 3 billed seconds, exit 0, with a complete recording of about that length."""
    out = tmp_path / "out.mp4"
    with serve(prefix=tuple(netns.run())) as server:
        edit = session(netns, server, clip, out, "-p", "invert the colors", "--max-seconds", "3", "--no-stdin")
        code = edit.finish()
    assert code == 0, edit.stderr
    assert "3 billed seconds: reached --max-seconds 3" in edit.stderr and "(3 billed seconds)" in edit.stderr
    video = decode(out)
    assert 2.0 < video.duration < 4.5, video.duration


def test_a_restarted_server_gets_the_latest_prompt_and_image_back(netns, clip, tmp_path):
    """The server dies mid-session and comes back: the client reconnects, re-applies the latest prompt and image, one recording throughout."""
    out = tmp_path / "out.mp4"
    with serve(prefix=tuple(netns.run())) as first:
        port = first.port
        edit = session(netns, first, clip, out, "-p", "invert the colors", "--image", str(png(tmp_path / "g.png", GREEN)), "--duration", "12", "--reconnect-delay", "0.5")
        edit.wait_for("prompt: invert the colors")
        time.sleep(1.5)
        edit.say("black and white")
        edit.wait_for("prompt: black and white")
        time.sleep(1.0)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    edit.wait_for("reconnecting")
    with serve(port=port, prefix=tuple(netns.run())):
        edit.wait_for("reconnected after")
        code = edit.finish()
    stderr = edit.stderr
    assert code == 0, stderr
    assert "prompt re-applied: black and white" in stderr and "reconnected 1 time" in stderr
    video = decode(out)
    assert video.duration > 10.5, video.duration
    last = video.frames[-5]
    assert left_half(last).max() - left_half(last).min() < 8 and close_to(corner(last), GREEN), (left_half(last), corner(last))


def test_a_refused_key_is_one_line_exit_1_and_never_shown(netns, clip, tmp_path):
    """A key the server refuses over today's protocol: one `error:` line about the key, exit 1, no traceback, the key nowhere."""
    key = "sk-livekit-secret-0123"
    with serve("--api-key", "the-right-one", prefix=tuple(netns.run())) as server:
        edit = session(netns, server, clip, tmp_path / "o.mp4", "--api-key", key, "-p", "invert the colors", "--no-stdin")
        code = edit.finish()
        log = server.output()
    stderr = edit.stderr
    assert code == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rejected the API key" in errors[0] and "--api-key" in errors[0], stderr
    assert key not in stderr and key not in log and "Traceback" not in stderr


def test_frames_are_packed_as_the_i420_layout_livekit_reads() -> None:
    """pack_i420 writes Y, U, V back to back at the model's size, whether the frame is yuv420p, padded, or another format."""
    import av

    from decart_cli.client.livekit import pack_i420
    from decart_cli.media.sources import i420_frame

    width, height = 64, 48
    i420 = (np.arange(height * 3 // 2 * width) % 251).astype(np.uint8).reshape(height * 3 // 2, width)
    buffer = bytearray(width * height * 3 // 2)
    pack_i420(i420_frame(i420), buffer, width, height)
    assert np.array_equal(np.frombuffer(buffer, np.uint8).reshape(i420.shape), i420)
    padded = av.VideoFrame(width, height, "yuv420p")  # PyAV aligns rows: 64 is not always the line size
    for plane, value in zip(padded.planes, (16, 100, 200)):
        plane.update(bytes([value]) * plane.buffer_size)
    pack_i420(padded, buffer, width, height)
    packed = np.frombuffer(buffer, np.uint8)
    assert (packed[: width * height] == 16).all() and (packed[width * height : width * height * 5 // 4] == 100).all() and (packed[width * height * 5 // 4 :] == 200).all()
    bgr = np.random.default_rng(1).integers(0, 256, (96, 128, 3), np.uint8)
    pack_i420(av.VideoFrame.from_ndarray(bgr, format="bgr24"), buffer, width, height)
    expected = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(width=width, height=height, format="yuv420p").to_ndarray()
    assert np.array_equal(np.frombuffer(buffer, np.uint8).reshape(expected.shape), expected)


def test_bench_measures_the_livekit_path(netns, tmp_path):
    """`decart bench --transport livekit` runs a session over today's protocol and reports its measured figures, bitrates included."""
    import json

    out = tmp_path / "bench.json"
    result = run_decart("bench", "--transport", "livekit", "--duration", "2", "--warmup", "0.5", "--json", str(out), env=child_env(), timeout=120, prefix=netns.run())
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["transport"] == "livekit" and report["model"] == "lucy-latest"
    assert report["output_fps"] > 24, report
    assert 0 < report["latency_ms"]["p50"] < 200 and report["frames_received"] > 40, report
    # The bitrate comes from LiveKit's own transport stats: both ways, at a 720p rate.
    assert report["bitrate_kbps"]["up"] > 300 and report["bitrate_kbps"]["down"] > 300, report


def test_a_refused_initial_prompt_over_livekit_ends_cleanly(netns, clip, tmp_path):
    """The prompt goes right behind livekit_join and its answer comes while the room is joined: a refusal still ends the session with one error line, exit 1, no file."""
    out = tmp_path / "never.mp4"
    with serve(prefix=tuple(netns.run())) as server:
        edit = session(netns, server, clip, out, "-m", "lucy-2.6", "-p", "turn me into a dragon", "--duration", "5")
        code = edit.finish()
    assert code == 1, edit.stderr
    errors = [line for line in edit.lines if line.startswith("error:")]
    assert len(errors) == 1 and "cannot do 'turn me into a dragon'" in errors[0], edit.stderr
    assert "Traceback" not in edit.stderr and not out.exists()
