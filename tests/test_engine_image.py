"""The reference image: picture-in-picture, "use the image as the background", and engines that take images."""

from __future__ import annotations

import threading

import av
import cv2
import numpy as np
import pytest

from decart_cli.assets import sample_clip
from decart_cli.engine import BuiltinEngine, Engine, instructions, load_engine, parse
from decart_cli.engine.base import accepts_image
from decart_cli.engine.builtin import REGISTRY
from decart_cli.engine.face import FaceTracker
from decart_cli.engine.frame import Face, FrameContext
from decart_cli.engine.reference import EXAMPLE, KIND, Reference, pip_box

H, W = 704, 1280  # the sample clip
FIRST, LAST = 100, 130  # frames decoded: the person on the left, the wall on the right and at the top
RED, GREEN, BLUE, YELLOW, MAGENTA = (0, 0, 255), (0, 200, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255)


def yuv_of(bgr: tuple[int, int, int]) -> np.ndarray:
    """The (Y, U, V) a solid BGR colour converts to (BT.601 limited range, as the frames)."""
    i420 = cv2.cvtColor(np.full((2, 2, 3), bgr, np.uint8), cv2.COLOR_BGR2YUV_I420)
    return np.array([i420[0, 0], i420[2, 0], i420[2, 1]], float)


def quadrants(h: int = 300, w: int = 400) -> np.ndarray:
    """A BGR picture in four solid quarters: red, green above; blue, yellow below."""
    image = np.empty((h, w, 3), np.uint8)
    image[: h // 2, : w // 2], image[: h // 2, w // 2 :] = RED, GREEN
    image[h // 2 :, : w // 2], image[h // 2 :, w // 2 :] = BLUE, YELLOW
    return image


def halves(left: tuple[int, int, int], right: tuple[int, int, int]) -> np.ndarray:
    """A BGR picture with the frame's aspect ratio: ``left`` colour on the left half, ``right`` on the right."""
    image = np.empty((H // 2, W // 2, 3), np.uint8)
    image[:, : W // 4], image[:, W // 4 :] = left, right
    return image


def planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V of an I420 buffer of any size, as float arrays (U, V upsampled to full size)."""
    h, w = image.shape[0] * 2 // 3, image.shape[1]
    flat = image.reshape(-1)[h * w :]
    q = (h // 2) * (w // 2)
    up = lambda p: cv2.resize(p.reshape(h // 2, w // 2), (w, h), interpolation=cv2.INTER_NEAREST).astype(float)  # noqa: E731
    return image[:h].astype(float), up(flat[:q]), up(flat[q:])


def box_mean(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Mean (Y, U, V) inside ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (round(c) for c in box)
    assert x1 - x0 >= 4 and y1 - y0 >= 4, box
    return np.array([p[y0:y1, x0:x1].mean() for p in planes(image)])


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the luma pixels that differ."""
    h = before.shape[0] * 2 // 3
    ys, xs = np.nonzero(before[:h] != after[:h])
    assert len(xs), "nothing changed"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def outside(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The I420 buffer with ``box`` (luma, and its chroma) zeroed, to compare the rest of two frames."""
    out = image.copy()
    h, w = image.shape[0] * 2 // 3, image.shape[1]
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = 0
    flat = out.reshape(-1)[h * w :]
    q = (h // 2) * (w // 2)
    for i in (0, 1):
        flat[i * q : (i + 1) * q].reshape(h // 2, w // 2)[y0 // 2 : (y1 + 1) // 2, x0 // 2 : (x1 + 1) // 2] = 0
    return out


def face_box(f: Face) -> tuple[float, float, float, float]:
    return f.cx - 0.3 * f.w, f.y + 0.15 * f.h, f.cx + 0.3 * f.w, f.y + 0.9 * f.h


def wall_box(f: Face) -> tuple[float, float, float, float]:
    """A patch of wall level with the face, ~3 face widths to its right (the frames keep the person on the left)."""
    assert f.cx + 3.3 * f.w < W
    return f.cx + 2.4 * f.w, f.y, f.cx + 3.2 * f.w, f.y + f.h


CORNER = (8, 8, 56, 56)
"""Wall in the top-left corner, far from the person in the frames used."""


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], Face]:
    """Frames FIRST..LAST of the sample clip (I420) and the face in the last one, tracked independently of the engine."""
    frames: list[np.ndarray] = []
    tracker = FaceTracker()
    face = None
    with av.open(str(sample_clip())) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= FIRST:
                image = frame.to_ndarray(format="yuv420p")
                frames.append(image)
                face = tracker.update(FrameContext.wrap(image, index=i))
            if i >= LAST:
                break
    assert face is not None and face.cx < W / 2
    return frames, face


def run(engine: BuiltinEngine, frames: list[np.ndarray]) -> list[np.ndarray]:
    return [engine.process(frame.copy()) for frame in frames]


# --- engines that take images ------------------------------------------------


class Minimal:
    pixel_format = "bgr24"

    def set_prompt(self, prompt: str) -> None:
        pass

    def process(self, image: np.ndarray) -> np.ndarray:
        return image

    def describe(self) -> str:
        return "passthrough"


def test_accepts_image_tells_engines_with_set_image_apart():
    """accepts_image() is true for the built-in engine and false for an engine without a callable set_image."""
    assert accepts_image(BuiltinEngine())
    assert accepts_image(load_engine(None))
    assert not accepts_image(Minimal())
    assert isinstance(Minimal(), Engine)  # set_image stays optional: still an engine

    class NotCallable(Minimal):
        set_image = None

    assert not accepts_image(NotCallable())


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 1), np.uint8),
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((10, 0, 3), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        [[[0, 0, 0]]],
    ],
    ids=["2d", "4ch", "1ch", "no-rows", "no-cols", "float", "list"],
)
def test_a_bad_image_raises_value_error_and_keeps_the_previous_one(bad):
    """set_image with anything but a non-empty (H, W, 3) uint8 array raises ValueError saying so; the old image stays."""
    engine = BuiltinEngine()
    frame = np.full((H * 3 // 2, W), 128, np.uint8)
    engine.set_image(quadrants())
    with_image = engine.process(frame.copy())
    with pytest.raises(ValueError, match=r"reference image must be an \(H, W, 3\) uint8 BGR array, got"):
        engine.set_image(bad)  # type: ignore[arg-type]
    assert np.array_equal(engine.process(frame.copy()), with_image)


# --- picture-in-picture --------------------------------------------------------


def test_picture_in_picture_shows_the_image_top_right_and_nothing_else_changes(clip):
    """An image and no prompt: a ~1/4-width copy of it (aspect kept, light border, ~2% margin) top right; the rest is untouched."""
    frame = clip[0][-1]
    engine = BuiltinEngine()
    engine.set_image(quadrants(300, 400))
    out = engine.process(frame.copy())
    x0, y0, x1, y1 = changed_box(frame, out)
    margin = 0.02 * W
    assert abs((W - x1) - margin) <= 3 and abs(y0 - margin) <= 3, (x0, y0, x1, y1)
    inner = (x0 + 2, y0 + 2, x1 - 2, y1 - 2)  # inside the 2-px border
    iw, ih = inner[2] - inner[0], inner[3] - inner[1]
    assert abs(iw - W / 4) <= 4 and abs(ih / iw - 0.75) < 0.02, (iw, ih)
    y, _, _ = planes(out)
    ring = np.concatenate([y[y0:y1, x0 : x0 + 2].ravel(), y[y0:y1, x1 - 2 : x1].ravel(), y[y0 : y0 + 2, x0:x1].ravel(), y[y1 - 2 : y1, x0:x1].ravel()])
    assert ring.min() >= 220  # a light border
    # each quarter of the picture, away from its edges, is that quarter's colour (not mirrored or flipped)
    qx, qy = iw / 2, ih / 2
    for (col, row), colour in {(0, 0): RED, (1, 0): GREEN, (0, 1): BLUE, (1, 1): YELLOW}.items():
        bx, by = inner[0] + col * qx, inner[1] + row * qy
        got = box_mean(out, (bx + 6, by + 6, bx + qx - 6, by + qy - 6))
        assert np.abs(got - yuv_of(colour)).max() <= 3, (colour, got)
    assert np.array_equal(outside(out, (x0, y0, x1, y1)), outside(frame, (x0, y0, x1, y1)))
    assert engine.describe() == "picture-in-picture"


def test_picture_in_picture_is_drawn_over_the_prompts_edits(clip):
    """'black and white' plus an image: the frame is grey except the picture-in-picture, which keeps its colours."""
    frame = clip[0][-1]
    engine = BuiltinEngine()
    engine.set_prompt("black and white")
    grey = engine.process(frame.copy())
    engine.set_image(np.full((90, 160, 3), MAGENTA, np.uint8))
    out = engine.process(frame.copy())
    box = changed_box(grey, out)
    assert np.array_equal(outside(out, box), outside(grey, box))
    x0, y0, x1, y1 = box
    assert np.abs(box_mean(out, (x0 + 4, y0 + 4, x1 - 4, y1 - 4)) - yuv_of(MAGENTA)).max() <= 2
    assert engine.describe() == "black and white + picture-in-picture"


@pytest.mark.parametrize("size", [(1, 1), (3, 1000), (1000, 3), (7, 5), (5000, 120)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_any_image_size_fits_in_the_top_right_corner(size):
    """Tiny, very wide, very tall, odd-sized and huge images all make a picture-in-picture inside the frame's top-right quarter."""
    h, w = size
    frame = np.full((H * 3 // 2, W), 60, np.uint8)
    engine = BuiltinEngine()
    engine.set_image(np.full((h, w, 3), 250, np.uint8))
    x0, y0, x1, y1 = changed_box(frame, engine.process(frame.copy()))
    assert x0 >= W * 0.7 and x1 <= W and y0 >= 0 and y1 <= H
    if w >= h:
        assert y1 <= H / 2
    box = pip_box(W, H, w, h)
    assert box is not None and all(c % 2 == 0 for c in box)
    reference = Reference(np.full((h, w, 3), 250, np.uint8))
    assert [p.shape for p in reference.cover(W, H)] == [(H, W), (H // 2, W // 2), (H // 2, W // 2)]


def test_small_frames_get_a_picture_or_none_without_error():
    """On frames too small for a picture-in-picture, process returns the frame unchanged; on small ones it draws inside."""
    engine = BuiltinEngine()
    engine.set_image(quadrants())
    tiny = np.full((6, 4), 90, np.uint8)  # 4x4
    assert np.array_equal(engine.process(tiny.copy()), tiny)
    small = np.full((96, 128), 90, np.uint8)  # 128x64
    x0, y0, x1, y1 = changed_box(small, engine.process(small.copy()))
    assert x0 >= 64 and x1 <= 128 and y0 >= 0 and y1 <= 64


def test_set_image_none_removes_the_picture_in_picture(clip):
    """set_image(None) brings back exactly the frames of an engine that never had an image."""
    frame = clip[0][-1]
    engine = BuiltinEngine()
    engine.set_prompt("invert the colors")
    plain = engine.process(frame.copy())
    engine.set_image(quadrants())
    assert not np.array_equal(engine.process(frame.copy()), plain)
    engine.set_image(None)
    assert np.array_equal(engine.process(frame.copy()), plain)
    assert engine.describe() == "invert the colors"


def test_images_swapped_from_another_thread_never_mix_in_a_frame():
    """set_image on another thread while frames are processed: each frame shows one whole image, or none."""
    h, w = 176, 320
    frame = np.full((h * 3 // 2, w), 16, np.uint8)
    red, blue = np.full((60, 80, 3), RED, np.uint8), np.full((60, 80, 3), BLUE, np.uint8)
    engine = BuiltinEngine()
    engine.set_image(red)
    box = pip_box(w, h, 80, 60)
    assert box is not None
    x, y, bw, bh = box
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            for image in (blue, None, red):
                engine.set_image(image)

    thread = threading.Thread(target=swap)
    thread.start()
    try:
        seen = set()
        for _ in range(300):
            luma = planes(engine.process(frame.copy()))[0][y : y + bh, x : x + bw]
            values = set(np.unique(luma).astype(int))
            assert len(values) == 1, values
            seen |= values
    finally:
        stop.set()
        thread.join()
    assert seen <= {16, int(yuv_of(RED)[0]), int(yuv_of(BLUE)[0])}


# --- the image as the background ------------------------------------------------------


BACKGROUND_PROMPTS = [
    "replace the background with the image",
    "Replace the background with the image.",
    "use the image as the background",
    "USE THE IMAGE AS THE BACKGROUND!!",
    "put me in front of the image",
    "Put me in front of the image, please",
    "replace my background with the reference image",
    "make the image the background",
]


@pytest.mark.parametrize("prompt", BACKGROUND_PROMPTS)
def test_background_prompts_parse(prompt):
    """The ways of saying 'use the image as the background' (any case or punctuation) make one image_background spec."""
    assert [(s.kind, s.target) for s in parse(prompt)] == [(KIND, "background")]


@pytest.mark.parametrize(
    "prompt, kinds",
    [
        ("black and white and use the image as the background", ["black_and_white", KIND]),
        ("black and white, put me in front of the image", ["black_and_white", KIND]),
        ("replace the background with the image and add sunglasses", [KIND, "sunglasses"]),
        ("put me in front of the image with sunglasses", [KIND, "sunglasses"]),
        ("black and white with the image as the background", ["black_and_white", KIND]),
    ],
)
def test_background_prompt_combines_with_other_edits(prompt, kinds):
    """'and', ',' and 'with' join the image background with other edits, as for any edit."""
    assert [s.kind for s in parse(prompt)] == kinds


def test_the_edit_list_names_the_image_background_and_the_engine_can_build_it():
    """The whole list of edits names 'use the image as the background', a refusal about a desert offers it, and the registry makes it."""
    from decart_cli.errors import UnsupportedPrompt

    with pytest.raises(UnsupportedPrompt) as info:
        parse("put me in the desert")
    assert EXAMPLE in str(info.value)
    assert EXAMPLE in " ".join(line.strip() for line in instructions.capability_lines())
    assert EXAMPLE in instructions.EXAMPLES and KIND in instructions.KINDS
    edit = REGISTRY[KIND](parse(EXAMPLE)[0])
    assert edit.needs_face and edit.uses_image


def test_image_background_replaces_the_wall_and_keeps_the_face(clip):
    """'replace the background with the image' on the sample clip: the wall takes the image (cover-fitted), the face stays, no picture-in-picture."""
    frames, face = clip
    engine = BuiltinEngine()
    engine.set_prompt("replace the background with the image")
    engine.set_image(halves(MAGENTA, GREEN))
    out = run(engine, frames)[-1]
    last = frames[-1]
    assert np.abs(box_mean(out, wall_box(face)) - yuv_of(GREEN)).max() <= 3  # the right half of the image
    assert np.abs(box_mean(out, CORNER) - yuv_of(MAGENTA)).max() <= 3  # the left half
    assert np.abs(box_mean(out, face_box(face)) - box_mean(last, face_box(face))).max() <= 3
    # where a picture-in-picture would be there is just the image's right half: no border, no magenta quarter
    box = pip_box(W, H, W // 2, H // 2)
    assert box is not None
    x, y, w, h = box
    assert np.abs(box_mean(out, (x - 2, y - 2, x + w + 2, y + h + 2)) - yuv_of(GREEN)).max() <= 3
    assert engine.describe() == "image background"


def test_image_background_under_black_and_white_is_grey_with_the_image_luma(clip):
    """'black and white and use the image as the background': the wall has the image's luma, and every pixel is grey."""
    frames, face = clip
    engine = BuiltinEngine()
    engine.set_prompt("black and white and use the image as the background")
    engine.set_image(halves(MAGENTA, GREEN))
    out = run(engine, frames)[-1]
    _, u, v = planes(out)
    assert (u == 128).all() and (v == 128).all()
    assert abs(box_mean(out, wall_box(face))[0] - yuv_of(GREEN)[0]) <= 3
    assert abs(box_mean(out, CORNER)[0] - yuv_of(MAGENTA)[0]) <= 3


def test_background_prompt_before_the_image_waits_for_it(clip):
    """The image-background prompt is accepted without an image and changes nothing until set_image; then the wall takes the image."""
    frames, face = clip
    engine = BuiltinEngine()
    engine.set_prompt("Put me in front of the image!")
    assert engine.describe().endswith("(no image yet)")
    half = len(frames) // 2
    for frame in frames[:half]:
        assert np.array_equal(engine.process(frame.copy()), frame)
    engine.set_image(halves(GREEN, GREEN))
    out = run(engine, frames[half:])[-1]
    assert np.abs(box_mean(out, wall_box(face)) - yuv_of(GREEN)).max() <= 3
    assert np.abs(box_mean(out, face_box(face)) - box_mean(frames[-1], face_box(face))).max() <= 3


def test_set_image_none_makes_the_background_prompt_inert_again(clip):
    """After set_image(None) the image-background prompt leaves frames exactly as they came."""
    frames, _ = clip
    engine = BuiltinEngine()
    engine.set_prompt("use the image as the background")
    engine.set_image(halves(GREEN, GREEN))
    replaced = run(engine, frames[:10])
    assert not np.array_equal(replaced[-1], frames[9])
    engine.set_image(None)
    for frame in frames[10:]:
        assert np.array_equal(engine.process(frame.copy()), frame)
