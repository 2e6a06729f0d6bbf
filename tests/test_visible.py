"""When a prompt first shows on the frames (media.visible): every kind of the built-in engine's edits, on the shipped sample clip through H.264."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from av import VideoFrame

from decart_cli.assets import SAMPLE_FPS, sample_clip
from decart_cli.engine.builtin import BuiltinEngine
from decart_cli.media.visible import GIVE_UP, FirstVisible

SENT = 30
"""The frame the new prompt is sent at (after a baseline of the old one)."""
SWITCH = 40
"""The first frame the engine makes with the new prompt (as if the server took 10 frames to apply it)."""
FRAMES = 50


@pytest.fixture(scope="module")
def inputs() -> list[np.ndarray]:
    """The sample clip's first FRAMES frames, as I420 arrays."""
    with av.open(str(sample_clip())) as container:
        frames = [frame.to_ndarray(format="yuv420p") for _, frame in zip(range(FRAMES), container.decode(video=0))]
    assert len(frames) == FRAMES
    return frames


def through_h264(images: list[np.ndarray]) -> list[VideoFrame]:
    """``images`` (I420) as a receiver gets them: encoded with x264 at a modest quality and decoded again."""
    height, width = images[0].shape[0] * 2 // 3, images[0].shape[1]
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, SAMPLE_FPS)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "30"}
    decoder = av.CodecContext.create("h264", "r")
    out: list[VideoFrame] = []
    for index, image in enumerate(images):
        frame = VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts = index
        for packet in encoder.encode(frame):
            out.extend(decoder.decode(packet))
    for packet in encoder.encode(None):
        out.extend(decoder.decode(packet))
    out.extend(decoder.decode(None))
    assert len(out) == len(images)
    return out


def edited(inputs: list[np.ndarray], before: str, after: str) -> list[VideoFrame]:
    """The clip through the engine, ``before`` up to frame SWITCH and ``after`` from then on, through H.264."""
    engine = BuiltinEngine()
    engine.set_prompt(before)
    images = []
    for index, image in enumerate(inputs):
        if index == SWITCH:
            engine.set_prompt(after)
        images.append(engine.process(image.copy()))
    return through_h264(images)


def watch(inputs: list[np.ndarray], frames: list[VideoFrame], paired: dict[int, list[int]] | None = None) -> tuple[list[tuple[str, float | None]], FirstVisible[str]]:
    """Feed every frame to a detector expecting a prompt sent at SENT, with its own input (or, for a frame in ``paired``, those inputs).

    Returns what it reported (times in frames) and the detector.
    """
    detector: FirstVisible[str] = FirstVisible()
    reported: list[tuple[str, float | None]] = []
    for index, frame in enumerate(frames):
        if index == SENT:
            assert detector.expect("new", SENT / SAMPLE_FPS) == []
        sources = [VideoFrame.from_ndarray(inputs[i], format="yuv420p") for i in (paired or {}).get(index, [index])]
        for key, at in detector.observe(frame, sources, index / SAMPLE_FPS):
            reported.append((key, None if at is None else round(at * SAMPLE_FPS)))
    return reported, detector


@pytest.mark.parametrize(
    ("kind", "before", "after"),
    [
        ("style", "", "cartoon"),
        ("colour", "", "tint it blue"),
        ("region", "cartoon", "make the shirt blue"),
        ("overlay", "add snow", "add a hat"),
        ("scene", "make the shirt blue", "add snow"),
        ("scene", "", "add a bird"),
    ],
)
def test_every_kind_of_edit_is_seen_on_the_first_frame_that_shows_it(inputs, kind: str, before: str, after: str) -> None:
    """A style, colour, region, overlay or scene edit replacing another is reported on the first frame made with it (none before)."""
    reported, _ = watch(inputs, edited(inputs, before, after))
    assert reported == [("new", SWITCH)], (kind, reported)


@pytest.mark.parametrize("prompt", ["cartoon", "add a hat", "add a bird", "add snow"])
def test_a_prompt_that_looks_like_the_last_is_not_seen_though_the_picture_moves(inputs, prompt: str) -> None:
    """The same edit sent again (the head turning under the hat, the bird flying on, the snow falling) is not taken for a change; it is still waited for."""
    reported, detector = watch(inputs, edited(inputs, prompt, prompt))
    assert reported == []
    assert detector.finish() == [("new", None)]


def test_one_frame_paired_with_the_wrong_input_is_not_the_prompt(inputs) -> None:
    """A frame measured against the wrong input alone (3 frames off) leaves the baseline alone; the prompt is seen where it shows."""
    reported, _ = watch(inputs, edited(inputs, "cartoon", "make the shirt blue"), {SENT + 4: [SENT + 7]})
    assert reported == [("new", SWITCH)]


def test_frames_matched_two_inputs_off_are_measured_against_the_inputs_next_to_it(inputs) -> None:
    """Four frames in a row matched two inputs late (a burst) are not taken for the prompt when the inputs next to the match come too; alone they would be."""
    frames = edited(inputs, "cartoon", "cartoon")
    off = {index: [index + 2] for index in range(SENT + 2, SENT + 6)}
    assert watch(inputs, frames, off)[0] == [("new", SENT + 2)]
    reported, _ = watch(inputs, frames, {index: [index + 2, index + 1, index + 3, index, index + 4] for index in off})
    assert reported == []


def test_a_prompt_never_seen_is_given_up_after_a_while(inputs) -> None:
    """A prompt that changes nothing is reported as not seen once GIVE_UP seconds have passed since it was sent, with or without an input to measure against."""
    frames = edited(inputs, "", "")
    detector: FirstVisible[str] = FirstVisible()
    sources = [VideoFrame.from_ndarray(inputs[0], format="yuv420p")]
    for index in range(5):
        assert detector.observe(frames[0], sources, index / SAMPLE_FPS) == []
    detector.expect("new", 0.2)
    assert detector.observe(frames[0], sources, 0.2 + GIVE_UP / 2) == []
    assert detector.observe(frames[0], [], 0.3 + GIVE_UP) == [("new", None)]
