"""Recorder: real-time H.264 files that decode back to what was sent, and survive a kill."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from decart_cli.errors import DecartError, UsageError
from decart_cli.media.recorder import Recorder

REPO = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT, FPS = 1280, 704, 25


def colour(i: int) -> tuple[int, int, int]:
    """The distinctive BGR colour of frame ``i``."""
    return ((i * 5) % 256, 255 - (i * 5) % 256, 60 + (i * 37) % 140)


def make_frame(i: int) -> av.VideoFrame:
    """A yuv420p 1280x704 frame of colour(i), as a remote track delivers it."""
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[:] = colour(i)
    return av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")


class SyntheticTrack(MediaStreamTrack):
    """``count`` frames paced at ``fps`` (with an optional stall before frame ``stall_at``), then MediaStreamError."""

    kind = "video"

    def __init__(self, count: int, *, stall_at: int | None = None, stall: float = 0.0) -> None:
        super().__init__()
        self.count, self.stall_at, self.stall = count, stall_at, stall
        self.frames = [make_frame(i) for i in range(count)]
        self.sent = 0
        self.arrivals: list[float] = []
        self.finished = asyncio.Event()
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.sent >= self.count:
            self.finished.set()
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.sent / FPS
        if self.stall_at is not None and self.sent >= self.stall_at:
            due += self.stall
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = self.frames[self.sent]
        self.sent += 1
        self.arrivals.append(time.monotonic())
        return frame


def record(path: Path, track: SyntheticTrack) -> Recorder:
    """Run ``track`` to its end through a Recorder at ``path``; return the stopped recorder."""

    async def main() -> Recorder:
        recorder = Recorder(path, fps=FPS)
        recorder.addTrack(track)
        await recorder.start()
        await asyncio.wait_for(track.finished.wait(), 30)
        await recorder.stop()
        await recorder.stop()  # idempotent
        return recorder

    return asyncio.run(main())


def decode(path: Path) -> tuple[list[np.ndarray], list[float], av.video.stream.VideoStream]:
    """Frames (BGR) and presentation times (s) of ``path``, and its video stream."""
    frames, times = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="bgr24"))
            times.append(float(frame.pts * frame.time_base))
        return frames, times, stream


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_recording_decodes_to_what_was_sent_in_real_time(tmp_path: Path, suffix: str) -> None:
    """Every frame of a 25 fps track lands in the file: h264, 1280x704, right colours, duration = wall time."""
    track = SyntheticTrack(50)
    path = tmp_path / f"out{suffix}"
    recorder = record(path, track)
    assert recorder.path == path
    assert (recorder.frames_written, recorder.frames_dropped) == (50, 0)

    frames, times, stream = decode(path)
    assert len(frames) == 50
    assert stream.codec_context.name == "h264"
    assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == pytest.approx(0.0, abs=1e-3)
    wall = track.arrivals[-1] - track.arrivals[0]
    assert times[-1] - times[0] == pytest.approx(wall, abs=0.005)
    for i in (0, 17, 49):
        mean = frames[i].reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - colour(i)).max() < 4, (i, mean, colour(i))


def test_stall_shows_as_a_gap_in_timestamps(tmp_path: Path) -> None:
    """A 1 s stall in the stream is a 1 s pts gap: the held frame lasts as long as the stall."""
    track = SyntheticTrack(20, stall_at=10, stall=1.0)
    path = tmp_path / "stall.mp4"
    record(path, track)
    _, times, _ = decode(path)
    assert len(times) == 20
    gaps, arrival_gaps = np.diff(times), np.diff(track.arrivals)
    assert arrival_gaps[9] >= 1.0
    assert gaps[9] == pytest.approx(arrival_gaps[9], abs=0.005)
    assert np.allclose(gaps, arrival_gaps, atol=0.005)


def test_overload_drops_the_oldest_and_never_blocks(tmp_path: Path) -> None:
    """Writing far faster than the encoder drops old frames (counted), never blocks, and keeps the newest."""
    frames = [make_frame(i) for i in range(200)]
    recorder = Recorder(tmp_path / "burst.mkv", fps=FPS)
    slowest = 0.0
    for frame in frames:
        started = time.perf_counter()
        recorder.write(frame)
        slowest = max(slowest, time.perf_counter() - started)
    recorder.close()
    assert slowest < 0.02
    assert recorder.frames_dropped > 0
    assert recorder.frames_written + recorder.frames_dropped == 200
    decoded, _, _ = decode(recorder.path)
    assert len(decoded) == recorder.frames_written
    # What survives is the newest run of frames: the queue's worth (2 s at fps) up to the last.
    for back in (1, 10, 2 * FPS):
        mean = decoded[-back].reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - colour(200 - back)).max() < 4, back
    recorder.write(frames[0])  # after close: ignored
    assert recorder.frames_written + recorder.frames_dropped == 200


def test_other_sizes_and_formats_are_converted(tmp_path: Path) -> None:
    """Frames of another size or pixel format are scaled/converted to the first frame's size, yuv420p."""
    recorder = Recorder(tmp_path / "mixed.mkv")
    recorder.write(make_frame(0))
    small = np.empty((360, 640, 3), np.uint8)
    small[:] = colour(7)
    recorder.write(av.VideoFrame.from_ndarray(small, format="bgr24"))
    recorder.close()
    frames, _, stream = decode(recorder.path)
    assert len(frames) == 2 and frames[1].shape == (HEIGHT, WIDTH, 3)
    assert stream.codec_context.pix_fmt == "yuv420p"
    assert np.abs(frames[1].reshape(-1, 3).mean(axis=0) - colour(7)).max() < 4


def test_write_failure_surfaces_from_stop(tmp_path: Path) -> None:
    """When the file cannot be written, stop() raises one DecartError naming it, once, and later frames are ignored."""
    path = tmp_path / "taken.mp4"
    recorder = Recorder(path)
    path.mkdir()  # the file cannot be created any more

    async def main() -> None:
        recorder.write(make_frame(0))
        with pytest.raises(DecartError) as info:
            await recorder.stop()
        assert f"recording to {path} failed" in info.value.user_message()
        await recorder.stop()  # reported once
        recorder.write(make_frame(1))

    asyncio.run(main())
    assert recorder.error is not None and recorder.frames_written == 0


def test_no_frames_leaves_no_file(tmp_path: Path) -> None:
    """A recorder that never got a frame stops cleanly and leaves no (corrupt) file behind."""

    async def main() -> None:
        recorder = Recorder(tmp_path / "empty.mp4")
        recorder.addTrack(SyntheticTrack(0))
        await recorder.start()
        await asyncio.sleep(0.05)
        await recorder.stop()
        await recorder.stop()

    asyncio.run(main())
    assert not (tmp_path / "empty.mp4").exists()


def test_abandon_removes_the_file_it_began_and_not_one_it_never_touched(tmp_path: Path) -> None:
    """abandon() drops what is queued and removes a file the recorder began; a file it never opened is left as it was."""
    begun, untouched = tmp_path / "begun.mp4", tmp_path / "untouched.mp4"
    untouched.write_bytes(b"the user's own")

    async def main() -> None:
        recorder = Recorder(begun)
        for i in range(5):
            recorder.write(make_frame(i))
        for _ in range(100):
            if recorder.t0 is not None:
                break
            await asyncio.sleep(0.02)
        assert begun.exists()
        await recorder.abandon()
        recorder.write(make_frame(5))  # after: refused
        await recorder.stop()  # idempotent
        idle = Recorder(untouched)
        await idle.abandon()

    asyncio.run(main())
    assert not begun.exists()
    assert untouched.read_bytes() == b"the user's own"


def test_bad_suffix_is_a_usage_error(tmp_path: Path) -> None:
    """Recording to .avi fails in the constructor with a one-line message and a hint."""
    with pytest.raises(UsageError) as info:
        Recorder(tmp_path / "out.avi")
    assert info.value.user_message() == "cannot record to .avi: use .mp4 or .mkv"
    assert info.value.exit_code == 2


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    """Recording into a directory that does not exist fails in the constructor, naming the directory."""
    missing = tmp_path / "nope"
    with pytest.raises(UsageError) as info:
        Recorder(missing / "out.mp4")
    message = info.value.user_message()
    assert str(missing) in message and "does not exist" in message and "\n" not in message


KILLED_CHILD = textwrap.dedent(
    """
    import sys, time
    import av, numpy as np
    from decart_cli.media.recorder import Recorder

    recorder = Recorder(sys.argv[1], fps=25)
    frames = []
    for i in range(75):
        img = np.empty((704, 1280, 3), np.uint8)
        img[:] = ((i * 5) % 256, 255 - (i * 5) % 256, 60 + (i * 37) % 140)
        frames.append(av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p"))
    start = time.monotonic()
    for i, frame in enumerate(frames):
        time.sleep(max(0.0, start + i / 25 - time.monotonic()))
        recorder.write(frame)
        print(i + 1, flush=True)
    time.sleep(60)  # the parent kills us before this ends
    """
)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_killed_recording_still_decodes(tmp_path: Path, suffix: str) -> None:
    """A recording whose process is SIGKILLed mid-way decodes (fragmented MP4 / Matroska), minus at most ~1.5 s."""
    path = tmp_path / f"killed{suffix}"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    sent = 0
    try:
        for line in proc.stdout:
            sent = int(line)
            if sent >= 60:  # 2.4 s of frames
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert sent >= 60

    frames, times, stream = decode(path)
    assert stream.codec_context.name == "h264"
    assert len(frames) >= sent - 1.5 * FPS, (len(frames), sent)
    assert times == sorted(times)
    mean = frames[20].reshape(-1, 3).mean(axis=0)
    assert np.abs(mean - colour(20)).max() < 4


def test_own_copy_has_the_pixels_and_leaves_the_frame_alone() -> None:
    """The recorder encodes a copy (plane by plane): same pixels, the caller's frame untouched."""
    from fractions import Fraction

    from decart_cli.media.sources import copy_frame

    for width, height in ((1280, 704), (64, 48), (66, 50)):
        rng = np.random.default_rng(width)
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (height * 3 // 2, width), np.uint8), format="yuv420p")
        frame.pts, frame.time_base = 7, Fraction(1, 90000)
        before = frame.to_ndarray().copy()
        own = copy_frame(frame)
        assert own is not frame
        assert np.array_equal(own.to_ndarray(), before)
        own.pts = 99
        own.planes[0].update(bytes(own.planes[0].buffer_size))
        assert frame.pts == 7 and np.array_equal(frame.to_ndarray(), before)
