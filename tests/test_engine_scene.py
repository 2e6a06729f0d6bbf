"""Scene edits of the built-in engine: snow, rain, a bird flying overhead."""

from __future__ import annotations

import math

import av
import cv2
import numpy as np
import pytest

from decart_cli.assets import sample_clip
from decart_cli.engine.frame import STAGE_SCENE, EditSpec, FrameContext
from decart_cli.engine.scene import BIRD_CROSS_SECONDS, EDITS, RAIN_SLANT

KINDS = ("snow", "rain", "bird")


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    """The first frame of the sample clip, I420."""
    with av.open(str(sample_clip())) as container:
        return next(container.decode(video=0)).to_ndarray(format="yuv420p")


def flat_frame(y: int, w: int = 1280, h: int = 704) -> np.ndarray:
    """A flat grey I420 frame of luma ``y``."""
    image = np.full((h * 3 // 2, w), 128, np.uint8)
    image[:h] = y
    return image


def luma(image: np.ndarray) -> np.ndarray:
    return image[: image.shape[0] * 2 // 3]


def render(edit, image: np.ndarray, t: float, index: int | None = None) -> np.ndarray:
    """A copy of ``image`` with ``edit`` applied at time ``t``."""
    out = image.copy()
    edit.apply(FrameContext.wrap(out, t=t, index=round(t * 25) if index is None else index))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_registry_gives_scene_edits(kind):
    """Every scene edit is registered, runs at the scene stage and needs no face."""
    edit = EDITS[kind](EditSpec(kind))
    assert edit.stage == STAGE_SCENE
    assert edit.needs_face is False


@pytest.mark.parametrize("kind", KINDS)
def test_animation_follows_time_not_calls(sample, kind):
    """The same moment looks the same however many frames came before; index stands in for a missing t."""
    edit = EDITS[kind](EditSpec(kind))
    first = render(edit, sample, 2.0)
    for t in (0.3, 1.1):
        render(edit, sample, t)
    assert np.array_equal(render(edit, sample, 2.0), first)
    assert np.array_equal(render(edit, sample, 0.0, index=50), first)
    assert not np.array_equal(render(edit, sample, 2.2), first)


@pytest.mark.parametrize("kind", KINDS)
def test_other_frame_sizes_work(kind):
    """Scene edits draw on any I420 frame size."""
    image = flat_frame(120, w=320, h=180)
    out = render(EDITS[kind](EditSpec(kind)), image, 1.0)
    assert out.shape == image.shape and not np.array_equal(out, image)


def test_snow_adds_many_small_moving_flakes(sample):
    """Snow adds hundreds of small bright spots that move between frames."""
    edit = EDITS["snow"](EditSpec("snow"))
    a, b = render(edit, sample, 1.0), render(edit, sample, 1.2)
    white_before = int((luma(sample) > 200).sum())
    added = (luma(a).astype(int) - luma(sample)) > 40
    assert int((luma(a) > 200).sum()) > white_before + 500
    count, _, stats, _ = cv2.connectedComponentsWithStats(added.astype(np.uint8))
    areas = stats[1:, cv2.CC_STAT_AREA]
    assert count - 1 > 200
    assert np.median(areas) <= 12 and areas.max() < 200
    moved = np.abs(luma(a).astype(int) - luma(b)) > 40
    assert moved.sum() > 1000
    # only brighter: snow never darkens the picture
    assert (luma(a).astype(int) >= luma(sample).astype(int) - 1).all()


def test_snow_falls_down():
    """Between two moments the flake pattern matches best shifted down (and a little sideways at most)."""
    edit = EDITS["snow"](EditSpec("snow"))
    black = flat_frame(16)
    a, b = (cv2.GaussianBlur(luma(render(edit, black, t)).astype(np.float32) - 16, (0, 0), 2) for t in (3.0, 3.1))
    # cross-correlation by FFT; the peak is the typical displacement from a to b
    corr = np.fft.fftshift(np.fft.irfft2(np.conj(np.fft.rfft2(a)) * np.fft.rfft2(b), s=a.shape))
    cy, cx = a.shape[0] // 2, a.shape[1] // 2
    window = corr[cy - 40 : cy + 41, cx - 40 : cx + 41]
    dy, dx = (int(i) - 40 for i in np.unravel_index(window.argmax(), window.shape))
    assert 3 <= dy <= 30
    assert abs(dx) <= 6
    assert window.max() > 5 * np.median(window)


def test_snow_is_white_not_coloured(sample):
    """The chroma under big flakes moves toward neutral (white has no colour)."""
    image = sample.copy()
    ctx = FrameContext.wrap(image)
    ctx.u[:] = 90  # a strongly coloured frame
    ctx.v[:] = 170
    out = render(EDITS["snow"](EditSpec("snow")), image, 1.0)
    octx = FrameContext.wrap(out)
    changed = (octx.u != 90) | (octx.v != 170)
    assert changed.sum() > 200
    assert (octx.u[changed] > 90).all() and (octx.v[changed] < 170).all()


def test_rain_adds_consistently_slanted_streaks():
    """Rain adds bright streaks, long and thin, all leaning the same way (down and to the right)."""
    image = flat_frame(110)
    out = luma(render(EDITS["rain"](EditSpec("rain")), image, 1.5))
    background = int(np.median(out))
    assert background < 105  # the scene is darker under rain
    streaks = (out.astype(int) > background + 12).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(streaks, connectivity=8)
    angles, elongations = [], []
    for i in range(1, count):
        if stats[i, cv2.CC_STAT_AREA] < 12:
            continue
        m = cv2.moments((labels == i).astype(np.uint8), binaryImage=True)
        mu20, mu02, mu11 = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
        spread = math.sqrt(4 * mu11**2 + (mu20 - mu02) ** 2)
        major, minor = (mu20 + mu02 + spread) / 2, (mu20 + mu02 - spread) / 2
        elongations.append(math.sqrt(major / max(minor, 1e-3)))
        # angle of the major axis from the vertical, positive when it leans right going down
        angles.append(math.degrees(0.5 * math.atan2(2 * mu11, mu02 - mu20)))
    assert len(angles) > 80
    angles = np.array(angles)
    assert np.median(elongations) > 5
    expected = math.degrees(math.atan(RAIN_SLANT))
    assert 5 < np.median(angles) < 30  # slanted, not vertical
    assert abs(np.median(angles) - expected) < 4
    assert np.mean(np.abs(angles - expected) < 8) > 0.9


def test_rain_moves(sample):
    """Rain streaks are in different places one frame later."""
    edit = EDITS["rain"](EditSpec("rain"))
    a, b = luma(render(edit, sample, 1.0)), luma(render(edit, sample, 1.04))
    assert (np.abs(a.astype(int) - b) > 10).sum() > 2000


def bird_blob(out: np.ndarray) -> tuple[float, float, int, int] | None:
    """(centre x, centre y, pixel count, bbox height) of the dark pixels on a bright sky, or None."""
    dark = luma(out) < 100
    rows, cols = np.nonzero(dark)
    if len(rows) < 20:
        return None
    return float(cols.mean()), float(rows.mean()), len(rows), int(rows.max() - rows.min())


def test_bird_flies_across_the_top_within_the_crossing_time():
    """A dark bird in the upper third moves steadily left to right and crosses the frame in time."""
    sky = flat_frame(190)
    h, w = luma(sky).shape
    edit = EDITS["bird"](EditSpec("bird"))
    xs = []
    for t in np.arange(0.0, BIRD_CROSS_SECONDS, 0.1):
        blob = bird_blob(render(edit, sky, float(t)))
        if blob is None:
            continue
        x, y, n, _ = blob
        assert y < h / 3
        if 0.1 * w < x < 0.9 * w:  # wholly in view: a bird, not a speck nor a cloud
            assert 150 < n < 0.02 * w * h
        xs.append(x)
    assert len(xs) > 0.8 * BIRD_CROSS_SECONDS / 0.1
    assert min(xs) < 0.1 * w and max(xs) > 0.9 * w
    steps = np.diff(xs)
    assert (steps > 0).all()
    # and it comes round again after the crossing
    assert bird_blob(render(edit, sky, BIRD_CROSS_SECONDS + 1.0))[0] < bird_blob(render(edit, sky, BIRD_CROSS_SECONDS - 1.0))[0]


def test_bird_flaps_and_bobs():
    """The bird's outline changes within a wing beat and its height varies over time."""
    sky = flat_frame(190)
    edit = EDITS["bird"](EditSpec("bird"))
    blobs = [bird_blob(render(edit, sky, 2.0 + k * 0.02)) for k in range(20)]
    heights = {b[3] for b in blobs}
    assert max(heights) - min(heights) > 8
    ys = [bird_blob(render(edit, sky, t))[1] for t in np.arange(0.5, 5.0, 0.25)]
    assert max(ys) - min(ys) > 10


def test_bird_over_the_sample_is_dark(sample):
    """On the sample clip the bird darkens a patch of the upper third and leaves the rest alone."""
    out = render(EDITS["bird"](EditSpec("bird")), sample, 3.0)
    diff = np.abs(luma(out).astype(int) - luma(sample))
    rows, _ = np.nonzero(diff > 30)
    assert len(rows) > 200
    h = luma(sample).shape[0]
    assert rows.max() < h / 3
    assert (luma(out)[diff > 30] < luma(sample)[diff > 30]).all()


def test_rain_dims_and_greys_the_scene(sample):
    """Under rain the picture is darker and its colours are weaker."""
    out = render(EDITS["rain"](EditSpec("rain")), sample, 2.0)
    height = luma(sample).shape[0]
    assert luma(out).mean() < luma(sample).mean() - 8
    before = np.abs(sample[height:].astype(int) - 128).mean()
    after = np.abs(out[height:].astype(int) - 128).mean()
    assert after < 0.9 * before
