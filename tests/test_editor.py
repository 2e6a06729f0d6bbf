"""The server's frame path (decart_cli/server/editor.py): editing overlaps sending."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from decart_cli.server.editor import EditedTrack, Editor

EDIT_S = 0.04
"""What the slow engine spends on each frame (sleeping: it must not hold the GIL)."""
ENCODE_S = 0.04
"""What the fake sender spends on each frame after recv() (like aiortc's encoder)."""
SOURCE_FRAMES = 100
SOURCE_INTERVAL = 0.01


class SlowEngine:
    pixel_format = "yuv420p"

    def __init__(self) -> None:
        self.processed = 0

    def set_prompt(self, prompt: str) -> None:
        pass

    def process(self, image: np.ndarray) -> np.ndarray:
        time.sleep(EDIT_S)
        self.processed += 1
        return image

    def describe(self) -> str:
        return "slow"


class FailingEngine(SlowEngine):
    def process(self, image: np.ndarray) -> np.ndarray:
        raise RuntimeError("engine broke")


class Source(MediaStreamTrack):
    """SOURCE_FRAMES small frames, one every SOURCE_INTERVAL, then the end."""

    kind = "video"

    def __init__(self, count: int = SOURCE_FRAMES) -> None:
        super().__init__()
        self.count = count
        self.sent = 0

    async def recv(self) -> VideoFrame:
        if self.sent >= self.count:
            raise MediaStreamError
        await asyncio.sleep(SOURCE_INTERVAL)
        frame = VideoFrame.from_ndarray(np.full((48, 64), 100, np.uint8), format="gray").reformat(format="yuv420p")
        frame.pts, frame.time_base = self.sent * 3600, Fraction(1, 90000)
        self.sent += 1
        return frame


async def _send_all(track: EditedTrack) -> list[VideoFrame]:
    """Pull frames like aiortc's sender: recv(), then encode (here: wait ENCODE_S) before the next."""
    frames = []
    while True:
        try:
            frames.append(await track.recv())
        except MediaStreamError:
            return frames
        await asyncio.sleep(ENCODE_S)


def test_slow_edit_overlaps_encoding() -> None:
    """An engine slower than the frame interval is not also waiting for the encoder.

    The source runs for SOURCE_FRAMES * SOURCE_INTERVAL = 1 s. Editing then
    encoding in turn allows at most one frame per EDIT_S + ENCODE_S (80 ms):
    ~13 frames in that second. With editing overlapping encoding it is one per
    max(EDIT_S, ENCODE_S) (40 ms): ~25.
    """
    engine = SlowEngine()

    async def main() -> tuple[list[VideoFrame], EditedTrack]:
        editor = Editor(lambda: engine)
        track = EditedTrack(Source(), editor)
        try:
            return await asyncio.wait_for(_send_all(track), 10), track
        finally:
            editor.close()

    frames, track = asyncio.run(main())
    serial_limit = SOURCE_FRAMES * SOURCE_INTERVAL / (EDIT_S + ENCODE_S) + 1  # 13.5
    assert len(frames) > serial_limit + 4, f"{len(frames)} frames: edit and encode ran one after the other"
    # Newest wins: what could not be edited or sent in time was dropped, not queued.
    assert track.frames_in == SOURCE_FRAMES
    assert track.frames_out == len(frames)
    assert track.frames_skipped == SOURCE_FRAMES - len(frames)
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert all(f.time_base == Fraction(1, 90000) and f.pts % 3600 == 0 for f in frames)


def test_fast_edit_sends_every_frame_in_order() -> None:
    """With an engine and a sender faster than the source nothing is dropped."""

    class Fast(SlowEngine):
        def process(self, image: np.ndarray) -> np.ndarray:
            return image

    async def main() -> list[VideoFrame]:
        editor = Editor(lambda: Fast())
        track = EditedTrack(Source(20), editor)
        frames = []
        while True:
            try:
                frames.append(await asyncio.wait_for(track.recv(), 5))
            except MediaStreamError:
                break
        editor.close()
        return frames

    frames = asyncio.run(main())
    assert [f.pts for f in frames] == [i * 3600 for i in range(20)]


def test_engine_error_reaches_the_sender() -> None:
    """An engine that raises ends the track with its error, as when recv() edited itself."""

    async def main() -> None:
        editor = Editor(lambda: FailingEngine())
        track = EditedTrack(Source(5), editor)
        try:
            await asyncio.wait_for(track.recv(), 5)
        except RuntimeError as exc:
            assert "engine broke" in str(exc)
        else:
            raise AssertionError("recv() returned a frame from a failing engine")
        assert track.readyState == "ended"
        editor.close()

    asyncio.run(main())


def test_the_editing_commands_shorten_the_gil_switch_interval_and_the_editor_does_not() -> None:
    """The command that owns the process sets the GIL switch interval (a GIL-holding engine must not make the loop wait 5 ms a hand-over); an Editor leaves process settings alone."""
    import sys

    from decart_cli.cli import SWITCH_INTERVAL, configure_editing_process

    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        editor = Editor(lambda: SlowEngine())
        editor.close()
        assert sys.getswitchinterval() == 0.005
        configure_editing_process()
        assert sys.getswitchinterval() == SWITCH_INTERVAL
    finally:
        sys.setswitchinterval(before)
