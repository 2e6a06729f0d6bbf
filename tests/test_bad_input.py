"""The bad-input catalogue: hostile or broken input to `decart edit`, and servers that misbehave.

Every case asserts what the user sees (one `error:` line with the right
words, or a warning while the session goes on), the exit code, and that no
traceback is printed. Servers that misbehave are the real `decart serve`
behind a scripted proxy (tests/scripted_server.py), so sessions that go on
record real edited frames.

The rest of the catalogue lives next to the code it exercises:
tests/test_cli_errors.py (missing file, text file as video, unknown camera,
unknown model, refused host, bad URL scheme, wrong key, ...), and for the
server tests/test_server.py, tests/test_server_limits.py and
tests/test_fuzz.py (invalid SDP, wrong order, duplicate offers, garbage
JSON, binary and oversize frames, ...).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import assert_clean_failure, bar_means, child_env, decart_cmd, decode, run_decart
from decart_cli.media.sources import TestPattern
from scripted_server import Link, Raw, kind, message, scripted_server

SECRET = "sk-live-THIS-MUST-NOT-LEAK-42"
INVERT = "invert the colors"


def edit(tmp_path: Path, url: str, *args: str, duration: str = "2", input: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    """`decart edit -i test --no-show -o tmp/o.mp4 --duration D --url URL ARGS` with a key that must never show."""
    result = run_decart(
        "edit", "-i", "test", "--no-show", "-o", str(tmp_path / "o.mp4"), "--duration", duration, "--url", url, "--api-key", SECRET, *args,
        input=input,
    )
    assert SECRET not in result.stdout + result.stderr
    return result


def assert_session_went_on(result: subprocess.CompletedProcess[str], tmp_path: Path, seconds: float) -> None:
    """Exit 0, no traceback, no `error:` line, and a recording of about ``seconds`` of frames."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and not any(line.startswith("error:") for line in result.stderr.splitlines()), output
    frames = len(decode(tmp_path / "o.mp4").frames)
    assert frames >= 20 * seconds, (frames, output)
    assert f"recorded {frames} frames" in result.stderr


# The input.


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe nobody writes to."""
    path = tmp_path / "pipe.mp4"
    os.mkfifo(path)
    yield path


def test_named_pipe_as_input_is_refused_not_waited_on(fifo: Path, tmp_path: Path) -> None:
    """A named pipe given as the video file is a usage error at once (opening it would block forever)."""
    result = run_decart("edit", "-i", str(fifo), "--no-show", "-o", str(tmp_path / "o.mp4"), timeout=20)
    assert_clean_failure(result, 2, "pipe.mp4", "not a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; the named-pipe case covers an unreadable input as root")
def test_unreadable_file(tmp_path: Path) -> None:
    """A video file without read permission is a usage error saying permission is denied."""
    clip = tmp_path / "locked.mp4"
    clip.write_bytes(b"\0" * 1000)
    clip.chmod(0)
    result = run_decart("edit", "-i", str(clip), "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "locked.mp4", "permission denied")


def test_directory_as_input(tmp_path: Path) -> None:
    """A directory given as the video file is a usage error saying so."""
    result = run_decart("edit", "-i", str(tmp_path), "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "is a directory")


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000)], ids=["empty", "corrupt"])
def test_empty_or_corrupt_file_as_video(tmp_path: Path, content: bytes) -> None:
    """An empty .mp4, or one with a valid header and garbage after it, is a usage error (that one line only): not a video that can be read."""
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(content)
    result = run_decart("edit", "-i", str(clip), "--no-show", "-o", str(tmp_path / "o.mp4"))
    assert_clean_failure(result, 2, "broken.mp4", "not a video")
    assert result.stderr.strip().count("\n") == 0, result.stderr  # FFmpeg's own complaints stay quiet


@pytest.mark.parametrize("prompt", ["", "   \t "], ids=["empty", "whitespace"])
def test_empty_prompt_is_a_usage_error(tmp_path: Path, prompt: str) -> None:
    """-p "" (or only whitespace) is a usage error asking for an instruction, before anything starts."""
    result = run_decart("edit", "-i", "test", "-p", prompt, "--no-show", "-o", str(tmp_path / "o.mp4"), "--duration", "1", timeout=20)
    assert_clean_failure(result, 2, "prompt is empty", "-p")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("url", ["ws://", "ws://127.0.0.1:99999", "wss://[::1"], ids=["no-host", "bad-port", "unclosed-bracket"])
def test_malformed_url(tmp_path: Path, url: str) -> None:
    """A ws:// URL without a host, with a port out of range or broken brackets is a usage error quoting it (no query) with an example."""
    result = edit(tmp_path, url + f"?api_key={SECRET}")
    assert_clean_failure(result, 2, f"cannot use server URL {url!r}: ", "ws://127.0.0.1:8765")


# Hosts that are not a decart server.


def test_http_endpoint_that_is_not_the_stream(server, tmp_path: Path) -> None:
    """A URL whose path is not a stream endpoint (HTTP 404) is a runtime failure naming the status and --url."""
    result = edit(tmp_path, server.url + "/no/such/api")
    assert_clean_failure(result, 1, "HTTP 404", "--url")


def _tcp_server(reply: bytes | None) -> tuple[socket.socket, threading.Thread]:
    """A TCP listener that answers every connection with ``reply`` and closes it (None: says nothing, holds it open)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            if reply is None:
                held.append(conn)
                continue
            conn.sendall(reply)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize(
    "reply, needles",
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", ("cannot connect", "does not answer as a WebSocket server", "host and port")),
        (None, ("no answer", "within 1 s", "--connect-timeout")),
    ],
    ids=["not-http", "silent"],
)
def test_host_that_does_not_speak_websocket(tmp_path: Path, reply: bytes | None, needles: tuple[str, ...]) -> None:
    """A port that answers with another protocol, or accepts and says nothing, ends in one clear line (the latter at --connect-timeout)."""
    listener, _ = _tcp_server(reply)
    try:
        result = edit(tmp_path, f"ws://127.0.0.1:{listener.getsockname()[1]}", "--connect-timeout", "1")
    finally:
        listener.close()
    assert_clean_failure(result, 1, *needles)


# Prompts on stdin.


def test_blank_10kb_and_non_utf8_prompts_on_stdin(server, tmp_path: Path) -> None:
    """Blank stdin lines are skipped, a 10 kB one is refused naming the limit, a non-UTF-8 one is decoded leniently and applied."""
    lines = b"\n   \n" + b"x" * 10_000 + b"\n\xff\xfe " + INVERT.encode() + b"\n"
    result = edit(tmp_path, server.url, input=lines)
    assert "prompt is 10000 characters; the limit is 1000 (the previous edit stays)" in result.stderr
    assert f"prompt: \ufffd\ufffd {INVERT}" in result.stderr
    assert_session_went_on(result, tmp_path, 2)
    source = bar_means(TestPattern(1280, 704).render(0))
    assert np.abs(bar_means(decode(tmp_path / "o.mp4").frames[-5]) - (255 - source)).max() < 40


# Servers that misbehave.


async def chatty(link: Link, raw: Raw) -> None:
    """Before each real message, two of types this client does not know; after session_id, acks nobody asked for."""
    await link.to_client(message("generation_tick", seconds=1.5))
    await link.to_client(message("queue_position", position=2, detail={"eta": [1, None, {"x": "y"}]}))
    await link.to_client(raw)
    if kind(raw) == "session_id":
        await link.to_client(message("prompt_ack", prompt="never sent", success=False, error="out of order"))
        await link.to_client(message("set_image_ack", success=True, error=None))


def test_unknown_and_unsolicited_messages_are_ignored(server, tmp_path: Path) -> None:
    """Message types the client does not know, and acks for nothing it sent, are ignored; the session records normally."""
    with scripted_server(server.url, from_server=chatty) as url:
        result = edit(tmp_path, url)
    assert "WARNING" not in result.stderr
    assert_session_went_on(result, tmp_path, 2)


def _mangle_answer(mangle):  # type: ignore[no-untyped-def]
    async def hook(link: Link, raw: Raw) -> None:
        await link.to_client(mangle(raw) if kind(raw) == "answer" else raw)

    return hook


@pytest.mark.parametrize(
    "mangle, needle",
    [
        (lambda raw: raw[: len(raw) // 2], "not valid JSON"),
        (lambda raw: raw.encode(), "binary"),
        (lambda raw: "[" + raw + "]", "JSON object"),
    ],
    ids=["truncated-json", "binary-frame", "json-array"],
)
def test_server_sending_something_that_is_not_a_message(server, tmp_path: Path, mangle, needle: str) -> None:  # type: ignore[no-untyped-def]
    """A server whose answer arrives truncated, as a binary frame or not as an object: one error line naming the problem, exit 1."""
    with scripted_server(server.url, from_server=_mangle_answer(mangle)) as url:
        result = edit(tmp_path, url, "--connect-timeout", "20")
    assert_clean_failure(result, 1, "invalid message", needle)
    assert "no answer" not in result.stderr  # it failed on the bad message, not on a timeout


def _error_after_first_frame(text: str):  # type: ignore[no-untyped-def]
    async def hook(link: Link, raw: Raw) -> None:
        await link.to_client(raw)
        if kind(raw) == "generation_started":
            link.later(1.0, message("error", error=text))

    return hook


def test_error_message_mid_session_is_shown_and_the_session_goes_on(server, tmp_path: Path) -> None:
    """An `error` message mid-session (the server keeps streaming) is shown as a warning with its text; the recording goes on."""
    with scripted_server(server.url, from_server=_error_after_first_frame("prompt enhancement is unavailable")) as url:
        result = edit(tmp_path, url, duration="2.5")
    assert "server error: prompt enhancement is unavailable" in result.stderr
    assert_session_went_on(result, tmp_path, 2.5)


def test_auth_error_mid_session_stops_at_once(server, tmp_path: Path) -> None:
    """An `error` saying the key is invalid mid-session is permanent: one error line about the key, exit 1, the recording kept."""
    with scripted_server(server.url, from_server=_error_after_first_frame("invalid api key")) as url:
        result = edit(tmp_path, url, duration="30")
    assert_clean_failure(result, 1, "rejected the api key", "DECART_API_KEY")
    frames = len(decode(tmp_path / "o.mp4").frames)
    assert frames >= 10 and "stopped early: " in result.stderr and f"recorded {frames} frames" in result.stderr


async def error_and_close_on_offer(link: Link, raw: Raw) -> None:
    """Answer the offer with an `error`, then close the socket."""
    if kind(raw) != "offer":
        await link.to_server(raw)
        return
    await link.to_client(message("error", error="no GPU is free right now"))
    await link.client.close(1011, "capacity")


async def error_on_offer(link: Link, raw: Raw) -> None:
    """Answer the offer with an `error` only, and keep the socket open."""
    if kind(raw) != "offer":
        await link.to_server(raw)
        return
    await link.to_client(message("error", error="no GPU is free right now"))


async def close_on_offer(link: Link, raw: Raw) -> None:
    """Close the socket as soon as the offer arrives."""
    if kind(raw) == "offer":
        await link.client.close(1011, "backend crashed")
    else:
        await link.to_server(raw)


def _drop(kind_to_drop: str):  # type: ignore[no-untyped-def]
    async def hook(link: Link, raw: Raw) -> None:
        if kind(raw) != kind_to_drop:
            await link.to_server(raw)

    return hook


@pytest.mark.parametrize(
    "hook, args, needles",
    [
        (error_and_close_on_offer, (), ("server error", "no GPU is free right now")),
        (error_on_offer, ("--connect-timeout", "30"), ("server error", "no GPU is free right now")),
        (close_on_offer, (), ("closed the connection", "backend crashed")),
        (_drop("offer"), ("--connect-timeout", "1"), ("no answer to the offer", "within 1 s", "--connect-timeout")),
        (_drop("prompt"), ("-p", INVERT, "--connect-timeout", "1"), ("no prompt_ack", "within 1 s", "--connect-timeout")),
    ],
    ids=["error-then-close", "error-stays-open", "close-on-offer", "never-answers-offer", "never-acks-prompt"],
)
def test_server_failing_before_the_session_starts(server, tmp_path: Path, hook, args: tuple[str, ...], needles: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """A server that errors, closes or stays silent before the first edited frame: one error line saying which, exit 1, no file."""
    with scripted_server(server.url, from_client=hook) as url:
        result = edit(tmp_path, url, *args)
    assert_clean_failure(result, 1, *needles)
    assert not (tmp_path / "o.mp4").exists()
    # Said once, as the error: not also as a warning before it.
    assert (result.stdout + result.stderr).count(needles[-1]) == 1, result.stderr


def test_auto_falls_back_to_legacy_on_a_server_that_does_not_know_livekit_join(server, tmp_path: Path) -> None:
    """--transport auto (the default) against an unknown server that refuses livekit_join: says so once, then edits over the legacy protocol."""

    async def refuse_join(link: Link, raw: str | bytes) -> None:
        if kind(raw) == "livekit_join":
            await link.to_client(message("error", error="unknown message type 'livekit_join'"))
            return
        await link.to_server(raw)

    out = tmp_path / "out.mp4"
    with scripted_server(server.url, from_client=refuse_join, server_header=None) as url:
        result = run_decart("edit", "-i", "test", "--no-show", "-o", str(out), "--duration", "2", "--url", url, "-p", "invert the colors")
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "does not speak today's protocol" in line]
    assert len(notices) == 1 and "unknown message type 'livekit_join'" in notices[0] and "using the legacy one (webrtc)" in notices[0]
    assert "over webrtc" in result.stderr and decode(out).duration > 1.5


def test_an_output_that_cannot_be_created_fails_before_the_session() -> None:
    """-o /proc/x.mp4 (its directory looks writable to root): exit 2 at once naming the file, not "recorded 0 frames" after the session."""
    started = time.monotonic()
    result = run_decart("edit", "-i", "sample", "--loop", "-o", "/proc/x.mp4", "--no-show", "--duration", "15")
    assert_clean_failure(result, 2, "cannot record to /proc/x.mp4", "choose another path")
    assert time.monotonic() - started < 10, result.stderr
    assert "recorded" not in result.stderr and "stopped early" not in result.stderr


def test_a_disk_that_fills_mid_session_stops_it_within_a_second_keeping_what_was_written(tmp_path: Path) -> None:
    """The output's disk fills 1-2 s in (a 600 KB tmpfs): the session stops within a second, exit 1 saying so, and the file plays to its last whole fragment."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a small tmpfs in a private mount namespace")
    full = tmp_path / "full"
    full.mkdir()
    kept = tmp_path / "kept.mp4"
    edit = " ".join(shlex.quote(arg) for arg in decart_cmd("edit", "-i", "sample", "--loop", "-o", str(full / "x.mp4"), "--no-show", "--duration", "30", "-v"))
    script = f"mount -t tmpfs -o size=600k tmpfs {full} && {{ {edit}; code=$?; cp {full}/x.mp4 {kept}; exit $code; }}"
    proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env())
    failed_at = None
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if failed_at is None and "No space left on device" in line:
                failed_at = time.monotonic()
        proc.wait(30)
        stopped_after = time.monotonic() - failed_at if failed_at is not None else None
    finally:
        proc.kill()
    stderr = "".join(lines)
    assert proc.returncode == 1 and stopped_after is not None, stderr
    print(f"stopped {stopped_after:.2f} s after the disk filled")
    assert stopped_after < 3.0, (stopped_after, stderr)  # ~1 s here; the bound leaves room for a loaded CI machine
    assert "Traceback" not in stderr
    last = [line for line in stderr.splitlines() if line.startswith("error:")][-1]
    frames = int(re.search(r"the file keeps the (\d+) frames written before it", last).group(1))  # type: ignore[union-attr]
    assert "recording to" in last and "No space left on device" in last
    assert f"recorded {frames} frames to {full / 'x.mp4'}" in stderr
    assert len(decode(kept).frames) == frames > 10  # decodes to its end: no fragment cut short


def test_a_recording_cut_mid_fragment_is_trimmed_to_its_last_whole_one(tmp_path: Path) -> None:
    """An MP4 cut at any byte is trimmed back to whole fragments that decode to their end, and counted without decoding."""
    from decart_cli.media.recorder import Recorder
    from decart_cli.media.salvage import count_video_frames, trim_mp4
    from decart_cli.media.sources import TestPattern

    whole = tmp_path / "whole.mp4"
    recorder = Recorder(whole, fps=25)
    pattern = TestPattern(320, 240)
    for n in range(75):
        recorder.write(av.VideoFrame.from_ndarray(pattern.render(n), format="bgr24"))
        time.sleep(0.04)
    recorder.close()
    data = whole.read_bytes()
    kept = []
    for cut in (len(data) // 2, len(data) * 9 // 10, len(data) - 5):  # the last cut may fall in the closing index (mfra)
        part = tmp_path / f"cut-{cut}.mp4"
        part.write_bytes(data[:cut])
        removed = trim_mp4(part)
        assert 0 < removed < cut and part.stat().st_size == cut - removed
        kept.append(count_video_frames(part))
        assert len(decode(part).frames) == kept[-1]
    assert 0 < kept[0] <= kept[1] <= kept[2] <= 75 and kept[0] < kept[2], kept
