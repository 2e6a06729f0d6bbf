"""fit_frame: crop, pad and stretch geometry, mirroring, output shape."""

from __future__ import annotations

import numpy as np
import pytest

from decart_cli.media.fit import fit_frame

RED = (0, 0, 255)
GREEN = (0, 255, 0)
BLUE = (255, 0, 0)
WHITE = (255, 255, 255)


def bands(width: int, height: int, colours: list[tuple[int, int, int]], axis: str = "x") -> np.ndarray:
    """An image split into equal bands of the given BGR colours, left→right or top→bottom."""
    img = np.zeros((height, width, 3), dtype=np.uint8)
    n = len(colours)
    for k, colour in enumerate(colours):
        if axis == "x":
            img[:, k * width // n : (k + 1) * width // n] = colour
        else:
            img[k * height // n : (k + 1) * height // n, :] = colour
    return img


def mean_colour(img: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in img.reshape(-1, 3).mean(axis=0))


def assert_colour(img: np.ndarray, colour: tuple[int, int, int], tol: float = 3.0) -> None:
    assert np.abs(np.array(mean_colour(img)) - np.array(colour)).max() <= tol, mean_colour(img)


def test_crop_keeps_the_centre_of_a_wide_image():
    """crop on a wider source cuts the left and right edges and keeps the middle band."""
    img = bands(400, 100, [RED, GREEN, GREEN, BLUE])  # 100 px red | 200 px green | 100 px blue
    out = fit_frame(img, 100, 50, "crop")
    assert out.shape == (50, 100, 3)
    assert_colour(out, GREEN)


def test_crop_keeps_the_centre_of_a_tall_image():
    """crop on a taller source cuts the top and bottom and keeps the middle band."""
    img = bands(100, 400, [RED, GREEN, GREEN, BLUE], axis="y")
    out = fit_frame(img, 100, 100, "crop")
    assert out.shape == (100, 100, 3)
    assert_colour(out, GREEN)


def test_crop_does_not_distort():
    """crop scales both axes equally: a centred square stays a square."""
    img = np.zeros((200, 400, 3), dtype=np.uint8)
    img[50:150, 150:250] = WHITE  # 100x100 square in the middle
    out = fit_frame(img, 200, 50, "crop")  # scale 0.5, rows 50..150 of the source kept
    ys, xs = np.nonzero(out[..., 0] > 128)
    assert ys.max() - ys.min() + 1 == 50  # 100 source rows -> 50
    assert abs((xs.max() - xs.min() + 1) - 50) <= 1


def test_pad_letterboxes_a_wide_image_on_black():
    """pad on a wider source fits the width and adds black bars above and below."""
    img = np.full((100, 200, 3), 200, dtype=np.uint8)
    out = fit_frame(img, 200, 200, "pad")
    assert out.shape == (200, 200, 3)
    assert not out[:50].any() and not out[150:].any()
    assert_colour(out[50:150], (200, 200, 200))


def test_pad_pillarboxes_a_tall_image_on_black():
    """pad on a taller source fits the height and adds black bars left and right."""
    img = bands(100, 200, [RED, BLUE])
    out = fit_frame(img, 400, 100, "pad")  # inner 50x100, centred: x 175..225
    assert out.shape == (100, 400, 3)
    assert not out[:, :175].any() and not out[:, 225:].any()
    assert_colour(out[:, 176:199], RED)
    assert_colour(out[:, 201:224], BLUE)


def test_stretch_keeps_everything_and_adds_no_black():
    """stretch resizes each axis independently: every band survives, nothing is black."""
    img = bands(400, 100, [RED, GREEN, BLUE, WHITE])
    out = fit_frame(img, 100, 100, "stretch")
    assert out.shape == (100, 100, 3)
    assert_colour(out[:, 2:23], RED)
    assert_colour(out[:, 27:48], GREEN)
    assert_colour(out[:, 52:73], BLUE)
    assert_colour(out[:, 77:98], WHITE)


def test_mirror_flips_left_and_right():
    """mirror=True swaps the left and right halves."""
    img = bands(200, 100, [RED, BLUE])
    plain = fit_frame(img, 100, 50, "stretch")
    mirrored = fit_frame(img, 100, 50, "stretch", mirror=True)
    assert_colour(plain[:, :45], RED)
    assert_colour(mirrored[:, :45], BLUE)
    assert_colour(mirrored[:, 55:], RED)
    assert np.array_equal(mirrored, plain[:, ::-1])


def test_same_size_is_returned_unchanged_and_contiguous():
    """A frame already at the target size is not resampled, and a strided view comes back contiguous."""
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, (100, 300, 3), dtype=np.uint8)
    view = big[:, 50:250]  # non-contiguous 200x100 view
    for mode in ("crop", "pad", "stretch"):
        out = fit_frame(view, 200, 100, mode)
        assert out.flags.c_contiguous
        assert np.array_equal(out, view)


@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
@pytest.mark.parametrize(("src_w", "src_h"), [(1920, 1080), (1917, 1083), (640, 480), (64, 36), (480, 640)])
def test_output_is_exact_size_contiguous_bgr(mode, src_w, src_h):
    """Every mode returns exactly width x height, uint8 BGR, contiguous, shrinking or growing."""
    img = np.full((src_h, src_w, 3), 128, dtype=np.uint8)
    out = fit_frame(img, 1280, 704, mode, mirror=True)
    assert out.shape == (704, 1280, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous


def test_unknown_mode_is_rejected():
    """An unknown fit mode raises ValueError rather than guessing."""
    with pytest.raises(ValueError):
        fit_frame(np.zeros((10, 10, 3), np.uint8), 20, 20, "zoom")  # type: ignore[arg-type]
