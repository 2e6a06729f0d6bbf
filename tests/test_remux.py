"""Remuxed recordings: the received H.264 written as it arrived, decoded back with PyAV."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import aiortc.codecs
import av
import numpy as np
import pytest
from aiortc.codecs import depayload
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from conftest import REPO, child_env, decode, run_decart, start_decart, stream, wait_for, with_server

from decart_cli import rtc
from decart_cli.media.recorder import Recorder
from decart_cli.media.remux import nal_types, parameter_sets
from decart_cli.client.signaling import Signaling
from decart_cli.client.media_connection import MediaConnection

H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)
FPS = 25


def colour(i: int) -> tuple[int, int, int]:
    """The distinctive BGR colour of frame ``i``."""
    return ((i * 9) % 256, 255 - (i * 9) % 256, 60 + (i * 37) % 140)


def encoded(count: int, width: int = 320, height: int = 176, first: int = 0) -> Iterator[bytes]:
    """``count`` frames of colour(first + i) as aiortc's H.264 encoder sends them (one keyframe, at the start)."""
    rtc.apply()
    encoder = aiortc.codecs.get_encoder(H264)
    for i in range(count):
        img = np.empty((height, width, 3), np.uint8)
        img[:] = colour(first + i)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3600, Fraction(1, 90000)
        payloads, _ = encoder.encode(frame)
        yield b"".join(depayload(H264, payload) for payload in payloads)


class Link:
    """A stand-in connection that counts the keyframes asked of it."""

    def __init__(self) -> None:
        self.asked = 0

    def request_keyframe(self) -> None:
        self.asked += 1


def test_nal_parsing_finds_the_keyframe_and_its_parameter_sets() -> None:
    """The first access unit carries SPS, PPS and an IDR slice; later ones are plain slices."""
    first, second = list(encoded(2))
    assert nal_types(first)[:2] == [7, 8] and 5 in nal_types(first)
    assert 5 not in nal_types(second) and not parameter_sets(second)
    sets = parameter_sets(first)
    assert sets.startswith(b"\0\0\0\1\x67") and sets.count(b"\0\0\0\1") == 2 and first.startswith(sets)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_encoded_recording_decodes_every_frame_in_real_time(tmp_path: Path, suffix: str) -> None:
    """Frames written as encoded go into the file unchanged: all decode, right colours, pts = arrival times."""
    frames = list(encoded(40))
    path = tmp_path / f"remux{suffix}"
    recorder = Recorder(path, fps=FPS)
    arrivals = []
    start = time.monotonic()
    for i, data in enumerate(frames):
        time.sleep(max(0.0, start + i / FPS + (0.6 if i == 30 else 0.0) - time.monotonic()))
        arrivals.append(time.monotonic())
        recorder.write_encoded(data, "h264")
    recorder.write(av.VideoFrame(320, 176, "yuv420p"))  # decoded frames are ignored once remuxing
    recorder.close()
    assert recorder.mode == "remux"
    assert (recorder.frames_written, recorder.frames_dropped) == (40, 0)

    video = decode(path)
    assert video.codec == "h264" and (video.width, video.height) == (320, 176)
    assert len(video.frames) == 40
    assert video.times[0] == pytest.approx(0.0, abs=1e-3)
    # Arrival times are taken inside write_encoded, a few µs after ours.
    assert np.allclose(np.diff(video.times), np.diff(arrivals), atol=0.003)
    assert np.diff(video.times)[29] >= 0.6  # the stall is a hole in the timestamps
    for i in (0, 17, 39):
        assert np.abs(video.frames[i].reshape(-1, 3).mean(axis=0) - colour(i)).max() < 6, i


def test_new_links_and_gaps_wait_for_a_keyframe_and_other_sizes_are_skipped(tmp_path: Path) -> None:
    """A link joined mid-stream, a dropped frame, or a new link of another size: skipped up to a keyframe that fits, keyframes asked for."""
    warnings: list[str] = []
    recorder = Recorder(tmp_path / "links.mp4", fps=FPS)
    recorder.on_warning = warnings.append
    first, second, third, fourth = Link(), Link(), Link(), Link()
    stream_a = list(encoded(10))
    for data in stream_a[3:]:  # joined late: no keyframe until a new encoder starts
        recorder.write_encoded(data, "h264", link=first)
    for data in encoded(10, first=10):  # a new link: starts with a keyframe
        recorder.write_encoded(data, "h264", link=second)
    for data in encoded(5, 160, 96):  # another size: not recorded
        recorder.write_encoded(data, "h264", link=third)
    for data in encoded(5, first=20):  # the size is back
        recorder.write_encoded(data, "h264", link=fourth)
    recorder.close()
    assert first.asked == 1 and second.asked == 0  # asked at most once a second
    assert recorder.frames_written == 15
    assert len(warnings) == 2 and "160x96" in warnings[0] and "resumed" in warnings[1], warnings
    video = decode(recorder.path)
    assert len(video.frames) == 15 and (video.width, video.height) == (320, 176)
    assert np.abs(video.frames[0].reshape(-1, 3).mean(axis=0) - colour(10)).max() < 6
    assert np.abs(video.frames[-1].reshape(-1, 3).mean(axis=0) - colour(24)).max() < 6


def test_vp8_falls_back_to_reencoding(tmp_path: Path) -> None:
    """A first encoded frame that is not H.264 makes the recorder re-encode the decoded frames instead."""
    recorder = Recorder(tmp_path / "vp8.mp4", fps=FPS)
    recorder.write_encoded(b"\x10\x02\x00\x9d\x01\x2a", "vp8")
    for i in range(5):
        img = np.empty((176, 320, 3), np.uint8)
        img[:] = colour(i)
        recorder.write(av.VideoFrame.from_ndarray(img, format="bgr24"))
    recorder.write_encoded(next(encoded(1)), "h264")  # ignored from now on
    recorder.close()
    assert recorder.mode == "encode" and recorder.frames_written == 5
    assert len(decode(recorder.path).frames) == 5


def test_the_input_is_chosen_before_any_frame_and_the_other_is_ignored(tmp_path: Path) -> None:
    """take_decoded() before frames: H.264 encoded frames are ignored; a tap before frames: decoded frames are ignored."""
    img = np.empty((176, 320, 3), np.uint8)
    decoded_first = Recorder(tmp_path / "decoded.mp4", fps=FPS)
    decoded_first.take_decoded()
    assert decoded_first.mode == "encode"
    assert decoded_first.tap(rtc.jitter_buffer_class()(capacity=128, is_video=True)) is None
    for i, data in enumerate(encoded(3)):
        decoded_first.write_encoded(data, "h264")  # ignored: the decoded input was chosen
        img[:] = colour(i)
        decoded_first.write(av.VideoFrame.from_ndarray(img, format="bgr24"))
    decoded_first.close()
    assert decoded_first.frames_written == 3 and len(decode(decoded_first.path).frames) == 3

    rtc.apply()
    buffer = rtc.jitter_buffer_class()(capacity=128, is_video=True)
    tapped_first = Recorder(tmp_path / "tapped.mp4", fps=FPS)
    tap = tapped_first.tap(buffer)
    assert tap is not None and tapped_first.mode == "remux"
    tapped_first.take_decoded()  # too late: the encoded input was chosen
    for i, data in enumerate(encoded(4)):
        img[:] = colour(i)
        tapped_first.write(av.VideoFrame.from_ndarray(img, format="bgr24"))  # ignored
        tapped_first.write_encoded(data, "h264", link=tap)
    tap.close()
    tapped_first.close()
    assert tapped_first.mode == "remux" and len(decode(tapped_first.path).frames) == 4


def test_tap_sees_every_frame_the_receiver_releases() -> None:
    """Over a real loopback session, the jitter buffer's tap gets exactly the frames that are then decoded, the first a keyframe."""
    rtc.apply()

    async def test(server) -> None:  # type: ignore[no-untyped-def]
        signaling = Signaling(stream(server))
        await signaling.connect()
        transport = MediaConnection(signaling, loopback=True)
        from test_rtc_tuning import Pattern

        remote = await transport.start(Pattern())
        (receiver,) = [t.receiver for t in transport.pc.getTransceivers() if t.kind == "video"]
        tapped: list[tuple[str, bytes]] = []
        rtc.jitter_buffer_of(receiver).add_tap(lambda codec, frame: tapped.append((codec, frame.data)))
        decoded = 0
        for _ in range(20):
            await asyncio.wait_for(remote.recv(), 10)
            decoded += 1
        await transport.close()
        while True:  # what was released before the close is still decoded
            try:
                await asyncio.wait_for(remote.recv(), 5)
            except MediaStreamError:
                break
            decoded += 1
        await signaling.close()
        assert len(tapped) == decoded
        assert {codec for codec, _ in tapped} == {"h264"}
        assert 5 in nal_types(tapped[0][1]) and parameter_sets(tapped[0][1])

    with_server(test)


KILLED_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, "tests")
    from test_remux import encoded
    from decart_cli.media.recorder import Recorder

    frames = list(encoded(100, 1280, 704))
    recorder = Recorder(sys.argv[1], fps=25)
    start = time.monotonic()
    for i, data in enumerate(frames):
        time.sleep(max(0.0, start + i / 25 - time.monotonic()))
        recorder.write_encoded(data, "h264")
        print(i + 1, flush=True)
    time.sleep(60)  # the parent kills us before this ends
    """
)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_killed_remuxed_recording_decodes_and_loses_at_most_a_second(tmp_path: Path, suffix: str) -> None:
    """SIGKILL while remuxing a stream with a single keyframe: the file decodes, minus at most 1 s."""
    path = tmp_path / f"killed{suffix}"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    sent = 0
    try:
        for line in proc.stdout:
            sent = int(line)
            if sent >= 80:  # 3.2 s: several fragments past the only keyframe
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL and sent >= 80
    video = decode(path)
    assert len(video.frames) >= sent - FPS, (len(video.frames), sent)
    assert video.times == sorted(video.times)
    assert np.abs(video.frames[60].reshape(-1, 3).mean(axis=0) - colour(60)).max() < 6


@pytest.mark.parametrize(
    ("suffix", "tuning", "mode"),
    [(".mp4", "", "the received H.264 as is"), (".mkv", "", "the received H.264 as is"), (".mp4", "off", "by re-encoding"), (".mp4", "codec=vp8", "by re-encoding")],
)
def test_edit_records_by_remuxing_or_falls_back(server, tmp_path: Path, suffix: str, tuning: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    """`decart edit -o` remuxes the H.264 it receives (.mp4, .mkv) and re-encodes with the tuning off or VP8 coming back; either way every frame is in the file."""
    out = tmp_path / f"out{suffix}"
    result = run_decart("edit", "-v", "-i", "test", "--no-show", "-o", str(out), "--duration", "3", "--url", server.url, env=child_env(DECART_RTC_TUNING=tuning))
    assert result.returncode == 0, result.stderr
    assert f"recording {mode}" in result.stderr
    video = decode(out)
    assert video.codec == "h264" and (video.width, video.height) == (1280, 704)
    received = int(re.search(r"received (\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    assert len(video.frames) == received and f"recorded {received} frames to {out}" in result.stderr
    assert 2.5 <= video.duration <= 3.6, video.duration


def test_killed_client_leaves_a_playable_remuxed_recording(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL of `decart edit -o out.mp4` mid-session: the remuxed file decodes and covers the session up to about the last second."""
    out = tmp_path / "killed.mp4"
    proc = start_decart("edit", "-i", "test", "--no-show", "-o", str(out), "--duration", "60", "--url", server.url)
    try:
        assert wait_for(out.exists, 30, interval=0.01)
        created = time.monotonic()
        time.sleep(4.0)
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
    finally:
        proc.kill()
        proc.wait(10)
    video = decode(out)
    # The first frame is written when the file is created; allow for polling and a loaded machine.
    assert video.duration >= killed - created - 1.5, (video.duration, killed - created)
    assert len(video.frames) >= 2 * FPS
