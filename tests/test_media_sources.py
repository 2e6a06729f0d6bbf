"""Sources: the test pattern, video files, pacing, fit/mirror, and clear errors."""

from __future__ import annotations

import asyncio
import fractions
import statistics
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from decart_cli.config import SourceConfig
from decart_cli.errors import SourceError, UsageError
from decart_cli.cli.fixes import FIXES
from decart_cli.media.sources import SourceTrack, _CameraReader, open_source


def write_video(path: Path, fps: int, frames: int, width: int, height: int, paint) -> Path:
    """Write an H.264 file whose frame i is ``paint(i)`` (BGR)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(paint(i), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_bar(width: int, height: int):
    def paint(i: int) -> np.ndarray:
        img = np.full((height, width, 3), 60, dtype=np.uint8)
        x = (i * 7) % (width - 20)
        img[:, x : x + 20] = (0, 200, 255)
        return img

    return paint


def red_left_blue_right(width: int, height: int):
    def paint(i: int) -> np.ndarray:
        img = np.empty((height, width, 3), dtype=np.uint8)
        img[:, : width // 2] = (0, 0, 255)
        img[:, width // 2 :] = (255, 0, 0)
        return img

    return paint


async def read_all(track: SourceTrack, limit: int = 1000) -> list[av.VideoFrame]:
    frames = []
    try:
        while len(frames) < limit:
            frames.append(await track.recv())
    except MediaStreamError:
        pass
    return frames


async def read_n(track: SourceTrack, n: int) -> list[av.VideoFrame]:
    return [await track.recv() for _ in range(n)]


def bgr(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="bgr24")


@pytest.fixture
def opened():
    """Open sources through this and they are stopped after the test."""
    tracks: list[SourceTrack] = []

    def _open(**kwargs) -> SourceTrack:
        track = open_source(SourceConfig(**kwargs))
        tracks.append(track)
        return track

    yield _open
    for track in tracks:
        track.stop()


# -- test pattern -------------------------------------------------------------


def test_test_pattern_frames_have_size_format_and_25fps_pts(opened):
    """The test source yields yuv420p frames at the configured size with pts stepping 3600/90000 s at 25 fps, in real time."""
    track = opened(spec="test", width=320, height=192, fps=25)
    start = time.monotonic()
    frames = asyncio.run(read_n(track, 6))
    elapsed = time.monotonic() - start
    assert all(f.format.name == "yuv420p" for f in frames)
    assert all((f.width, f.height) == (320, 192) for f in frames)
    assert all(f.time_base == fractions.Fraction(1, 90000) for f in frames)
    assert [f.pts for f in frames] == [0, 3600, 7200, 10800, 14400, 18000]
    assert elapsed >= 5 * 0.04 - 0.01  # 5 intervals of 40 ms after the first frame
    assert track.source_fps == 25


def test_test_pattern_moves_and_only_repeats_are_identical(opened):
    """Consecutive test-pattern frames differ; any identical pair is a counted repeat."""
    track = opened(spec="test", width=320, height=192, fps=25)
    frames = [bgr(f) for f in asyncio.run(read_n(track, 10))]
    identical = sum(np.array_equal(a, b) for a, b in zip(frames, frames[1:]))
    assert identical == track.frames_repeated
    assert identical <= 2
    # Moving content, not just grain: the mean difference is well above noise.
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:]) if not np.array_equal(a, b)]
    assert statistics.median(diffs) > 3


def test_test_pattern_is_colourful_and_not_trivially_compressible(opened):
    """A full-size test frame has saturated colours, mid-tones, and does not compress to almost nothing."""
    track = opened(spec="test", width=1280, height=704, fps=25)
    img = bgr(asyncio.run(read_n(track, 1))[0])
    ok, png = cv2.imencode(".png", img)
    assert ok
    assert len(png) > 0.3 * img.nbytes  # grain: PNG cannot squeeze it much
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    assert (hsv[..., 1] > 180).mean() > 0.4  # saturated colours
    value = hsv[..., 2]
    assert ((value > 80) & (value < 200)).mean() > 0.15  # mid-tones
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert (grey < 60).mean() > 0.02 and (grey > 200).mean() > 0.02  # darks and lights too


# -- files ----------------------------------------------------------------------


def test_file_plays_in_real_time_then_ends(tmp_path, opened):
    """A 2 s 30 fps file plays for about 2 s, yields about 50 frames at 25 fps, then MediaStreamError ends the track."""
    path = write_video(tmp_path / "clip.mp4", 30, 60, 320, 240, moving_bar(320, 240))
    track = opened(spec=str(path), width=320, height=192, fps=25)
    ended = []
    track.on("ended", lambda: ended.append(True))
    assert track.source_fps == pytest.approx(30)
    assert track.source_size == (320, 240)

    start = time.monotonic()
    frames = asyncio.run(read_all(track, limit=80))
    elapsed = time.monotonic() - start

    assert 47 <= len(frames) <= 52
    # Paced: never faster than the file (a loaded machine may be slower; only a hang fails).
    assert 1.8 <= elapsed <= 10
    assert [f.pts for f in frames] == [3600 * k for k in range(len(frames))]
    assert track.readyState == "ended" and ended == [True]
    with pytest.raises(MediaStreamError):
        asyncio.run(track.recv())
    # Every captured frame was sent once, or dropped (30 fps into 25 fps).
    assert track.frames_captured == 60
    assert track.frames_captured == track.frames_sent - track.frames_repeated + track.frames_dropped
    assert track.frames_dropped >= 8


def test_pause_holds_the_file_where_it_was_and_resume_goes_on_from_there(tmp_path, opened):
    """While paused recv() waits and the file does not advance; after resume the next frames follow on, pts contiguous, nothing counted as dropped."""
    path = write_video(tmp_path / "clip.mp4", 25, 75, 320, 240, moving_bar(320, 240))
    track = opened(spec=str(path), width=320, height=240, fps=25)

    def bar_x(frame: av.VideoFrame) -> int:
        return int(np.argmax(bgr(frame)[120, :, 2] > 200))  # the bar's left edge: 7 px per file frame

    async def main() -> tuple[list[av.VideoFrame], list[av.VideoFrame], bool, int]:
        before = await read_n(track, 10)
        dropped = track.frames_dropped
        track.pause()
        assert track.paused
        waiting = asyncio.ensure_future(track.recv())
        await asyncio.sleep(1.0)
        blocked = not waiting.done()
        track.resume()
        after = [await waiting, *await read_n(track, 9)]
        return before, after, blocked, track.frames_dropped - dropped

    before, after, blocked, dropped = asyncio.run(main())
    assert blocked
    assert [f.pts for f in before + after] == [3600 * k for k in range(20)]
    # One second paused is not 25 file frames skipped: the bar moves on from where it stopped.
    assert 0 < bar_x(after[0]) - bar_x(before[-1]) <= 3 * 7
    assert dropped <= 1 and not track.paused


def test_mirror_can_change_while_the_track_runs(tmp_path, opened):
    """Setting `mirror` on a running track flips the frames captured from then on."""
    path = write_video(tmp_path / "halves.mp4", 25, 50, 320, 240, red_left_blue_right(320, 240))
    track = opened(spec=str(path), width=320, height=240, fps=25)

    async def main() -> tuple[np.ndarray, np.ndarray]:
        plain = bgr((await read_n(track, 3))[-1])
        track.mirror = True
        flipped = bgr((await read_n(track, 4))[-1])
        return plain, flipped

    plain, flipped = asyncio.run(main())
    assert plain[:, :100, 2].mean() > 200 and plain[:, -100:, 0].mean() > 200  # red left, blue right
    assert flipped[:, :100, 0].mean() > 200 and flipped[:, -100:, 2].mean() > 200  # and now the other way


def test_loop_keeps_playing_past_the_end(tmp_path, opened):
    """With loop, a 0.4 s file keeps delivering new frames past its end instead of ending."""
    path = write_video(tmp_path / "short.mp4", 30, 12, 320, 240, moving_bar(320, 240))
    track = opened(spec=str(path), width=320, height=192, fps=25, loop=True)
    frames = asyncio.run(read_n(track, 25))  # 1 s: two and a half times the file
    assert track.readyState == "live"
    assert track.frames_captured >= 24  # more than the file holds: it went round
    late = [bgr(f) for f in frames[-8:]]  # 0.7..1.0 s, after the first pass ended
    changes = sum(not np.array_equal(a, b) for a, b in zip(late, late[1:]))
    assert changes >= 5


def test_sample_input_plays_the_bundled_clip_and_loops(opened):
    """-i sample opens the shipped 1280x704 25 fps clip of a person, plays it like a file, and keeps going with loop."""
    from decart_cli.assets import sample_clip

    assert sample_clip().is_file() and sample_clip().stat().st_size < 3_000_000
    track = opened(spec="sample", width=320, height=176, fps=25, loop=True)
    assert track.source_size == (1280, 704)
    assert track.source_fps == pytest.approx(25)
    assert "sample" in track.label
    frames = [bgr(f) for f in asyncio.run(read_n(track, 6))]
    assert frames[0].shape == (176, 320, 3)
    # The orange suit is in the picture: a real frame of the clip, not the test pattern.
    hsv = cv2.cvtColor(frames[0], cv2.COLOR_BGR2HSV)
    orange = (hsv[..., 0] >= 3) & (hsv[..., 0] <= 20) & (hsv[..., 1] > 120)
    assert orange.mean() > 0.05
    assert track.readyState == "live"
    assert track._reader.loop  # type: ignore[attr-defined]


def test_fit_and_mirror_apply_through_the_track(tmp_path, opened):
    """The track fits file frames to the configured size, and mirror swaps left and right."""
    path = write_video(tmp_path / "rb.mp4", 30, 6, 320, 240, red_left_blue_right(320, 240))

    plain = bgr(asyncio.run(read_n(opened(spec=str(path), width=160, height=96), 1))[0])
    assert plain.shape == (96, 160, 3)
    assert plain[:, :60, 2].mean() > 180 and plain[:, :60, 0].mean() < 70  # left red
    assert plain[:, 100:, 0].mean() > 180 and plain[:, 100:, 2].mean() < 70  # right blue

    mirrored = bgr(asyncio.run(read_n(opened(spec=str(path), width=160, height=96, mirror=True), 1))[0])
    assert mirrored[:, :60, 0].mean() > 180 and mirrored[:, :60, 2].mean() < 70  # left blue
    assert mirrored[:, 100:, 2].mean() > 180 and mirrored[:, 100:, 0].mean() < 70  # right red

    padded = bgr(asyncio.run(read_n(opened(spec=str(path), width=256, height=96, fit="pad"), 1))[0])
    # 4:3 into 256x96 -> 128x96 picture centred, black pillars of 64 px.
    assert padded[:, :60].mean() < 20 and padded[:, 196:].mean() < 20
    assert padded[:, 70:120, 2].mean() > 180


def test_stop_is_idempotent_and_ends_capture(opened):
    """stop() ends the capture thread and the track, can be called twice, and recv() then raises."""
    track = opened(spec="test", width=160, height=96, fps=25)
    asyncio.run(read_n(track, 2))
    thread = track._thread
    assert thread is not None and thread.is_alive()
    track.stop()
    track.stop()
    assert not thread.is_alive()
    assert track.readyState == "ended"
    with pytest.raises(MediaStreamError):
        asyncio.run(track.recv())


def test_stop_before_any_recv_releases_the_file(tmp_path, opened):
    """A file source stopped before streaming releases its capture without starting a thread."""
    path = write_video(tmp_path / "c.mp4", 30, 6, 160, 96, moving_bar(160, 96))
    track = opened(spec=str(path), width=160, height=96)
    track.stop()
    assert track._thread is None
    assert track._reader.cap is None


class FakeCamera:
    """Duck-types the cv2.VideoCapture calls a camera reader makes: ``frames`` frames at 30 fps, then failures."""

    def __init__(self, frames: int, width: int = 640, height: int = 480) -> None:
        self.left = frames
        self.size = (height, width)
        self.reads = 0
        self.released = False

    def read(self):
        time.sleep(1 / 30)
        self.reads += 1
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.full((*self.size, 3), (self.reads * 10) % 256, dtype=np.uint8)

    def release(self) -> None:
        self.released = True


def test_camera_frames_are_fitted_and_a_dead_camera_ends_the_track():
    """Camera frames are fitted to size; when the camera stops delivering, the track ends with an error and releases it."""
    camera = FakeCamera(frames=8)
    first = np.zeros((480, 640, 3), np.uint8)
    cfg = SourceConfig(spec="0", width=160, height=96, fps=25)
    track = SourceTrack(cfg, _CameraReader(camera, first, "camera 0", 30.0))
    try:
        start = time.monotonic()
        frames = asyncio.run(read_all(track, limit=100))
        elapsed = time.monotonic() - start
    finally:
        track.stop()
    assert all((f.width, f.height) == (160, 96) for f in frames)
    assert 0.5 < elapsed < 10  # 8 frames, then about 0.5 s of failed reads (only a hang is too long)
    assert track.error == "camera 0 stopped delivering frames"
    assert track.readyState == "ended"
    assert camera.released
    assert track.frames_captured == 9  # the probe frame plus the 8 read


def test_a_stalled_consumer_skips_ticks_instead_of_bursting(opened):
    """After the consumer stalls for longer than MAX_LAG, pts jump to wall time rather than replaying missed ticks."""
    track = opened(spec="test", width=160, height=96, fps=25)

    async def main():
        first = await track.recv()
        time.sleep(0.8)  # the loop is blocked: 20 ticks go by
        second = await track.recv()
        third = await track.recv()
        return first, second, third, time.monotonic() - track._start

    first, second, third, third_at = asyncio.run(main())
    assert first.pts == 0
    assert second.pts >= 19 * 3600  # jumped to about 0.8 s
    assert third.pts == second.pts + 3600
    assert third_at >= third.pts / 90000 - 0.005  # paced again, not sent early


# -- errors -----------------------------------------------------------------------


def test_missing_file_is_a_source_error_with_a_hint(tmp_path):
    """A nonexistent path raises SourceError 'no such file' with a hint, exit code 2."""
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError) as err:
        open_source(SourceConfig(spec=str(missing)))
    assert isinstance(err.value, UsageError) and err.value.exit_code == 2
    assert err.value.message == f"no such file: {missing}"
    assert "check the path" in err.value.user_message(FIXES)


def test_text_file_is_a_source_error(tmp_path, capfd):
    """A file that is not video raises SourceError saying so, without OpenCV noise on stderr."""
    text = tmp_path / "notes.txt"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(SourceError) as err:
        open_source(SourceConfig(spec=str(text)))
    assert "not a video" in err.value.message
    assert err.value.hint  # no flag to name: the advice is its own
    assert capfd.readouterr().err == ""


def test_missing_camera_index_is_a_source_error(capfd):
    """Camera index 7 (absent) raises 'camera 7 not found' with a hint, and OpenCV's warnings stay silent."""
    with pytest.raises(SourceError) as err:
        open_source(SourceConfig(spec="7"))
    assert err.value.message == "camera 7 not found"
    assert "-i test" in err.value.user_message(FIXES)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_missing_camera_device_is_a_source_error():
    """A /dev path that does not exist is reported as a camera not found."""
    with pytest.raises(SourceError) as err:
        open_source(SourceConfig(spec="/dev/video77"))
    assert err.value.message == "camera /dev/video77 not found"
    assert "use a video file or -i test" in err.value.user_message(FIXES)


@pytest.mark.parametrize("size", [(1280, 704), (64, 48), (66, 50), (1282, 704)])
def test_i420_frame_matches_from_ndarray(size: tuple[int, int]) -> None:
    """The source's plane-by-plane frame building gives PyAV's own from_ndarray pixels."""
    from decart_cli.media.sources import i420_frame

    width, height = size
    i420 = np.random.default_rng(width).integers(0, 256, (height * 3 // 2, width), np.uint8)
    frame = i420_frame(i420)
    assert (frame.width, frame.height, frame.format.name) == (width, height, "yuv420p")
    assert np.array_equal(frame.to_ndarray(), av.VideoFrame.from_ndarray(i420, format="yuv420p").to_ndarray())
    i420[:] = 0  # a copy: the array can be reused
    assert frame.to_ndarray().any()
