"""Face-anchored edits of the built-in engine: sunglasses, hat, mustache, face pixelate/blur."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from decart_cli.assets import sample_clip
from decart_cli.engine.colors import COLORS
from decart_cli.engine.face import FaceTracker, detect_faces, eye_centers, forehead_y, mouth_center, nose_tip
from decart_cli.engine.frame import STAGE_OBJECT, STAGE_PRIVACY, EditSpec, Face, FrameContext
from decart_cli.engine.overlays import EDITS, PixelateFace, privacy_box

KINDS = ("sunglasses", "hat", "mustache", "pixelate_face", "blur_face")


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, Face]:
    """The first frame of the sample clip (I420) and its face, found by the tracker's Haar cascade."""
    with av.open(str(sample_clip())) as container:
        image = next(container.decode(video=0)).to_ndarray(format="yuv420p")
    height = image.shape[0] * 2 // 3
    found = detect_faces(image[:height])
    assert len(found) == 1, found
    return image, Face(*(float(v) for v in found[0]))


def edited(kind: str, image: np.ndarray, face: Face | None, **spec) -> np.ndarray:
    """A copy of ``image`` with the edit ``kind`` applied once."""
    out = image.copy()
    EDITS[kind](EditSpec(kind, **spec)).apply(FrameContext.wrap(out, face=face))
    return out


def luma(image: np.ndarray) -> np.ndarray:
    return image[: image.shape[0] * 2 // 3]


def chroma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ctx = FrameContext.wrap(image)
    return ctx.u, ctx.v


def box(face: Face, fx0: float, fy0: float, fx1: float, fy1: float) -> tuple[slice, slice]:
    """Rows and columns of a part of the face box, given as fractions of its width and height."""
    rows = slice(int(face.y + fy0 * face.h), int(face.y + fy1 * face.h))
    cols = slice(int(face.x + fx0 * face.w), int(face.x + fx1 * face.w))
    return rows, cols


def around(face: Face, x: float, y: float, half_w: float, half_h: float) -> tuple[slice, slice]:
    """Rows and columns of a box centred on frame point (x, y), half sizes in face widths and heights."""
    rows = slice(int(y - half_h * face.h), int(y + half_h * face.h))
    cols = slice(int(x - half_w * face.w), int(x + half_w * face.w))
    return rows, cols


def flat_frame(w: int = 640, h: int = 360, y: int = 150) -> np.ndarray:
    """A flat grey I420 frame."""
    image = np.full((h * 3 // 2, w), 128, np.uint8)
    image[:h] = y
    return image


@pytest.mark.parametrize("kind", KINDS)
def test_registry_gives_face_edits(kind):
    """Every face edit is registered, needs the face and runs at the object or privacy stage."""
    edit = EDITS[kind](EditSpec(kind))
    assert edit.needs_face is True
    assert edit.stage == (STAGE_PRIVACY if kind.endswith("_face") else STAGE_OBJECT)


def test_registry_has_exactly_the_face_kinds():
    """The module registers the five face edits and nothing else."""
    assert set(EDITS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_no_face_leaves_frame_unchanged(sample, kind):
    """With no face tracked every face edit leaves the frame exactly as it was."""
    image, _ = sample
    assert np.array_equal(edited(kind, image, None), image)


@pytest.mark.parametrize("kind", KINDS)
def test_face_partly_outside_frame_is_clipped(kind):
    """A face box hanging over any edge of the frame is drawn clipped, without error."""
    image = flat_frame()
    for face in (Face(-60, -40, 120, 120), Face(580, 300, 120, 120), Face(-200, 100, 150, 150)):
        out = edited(kind, image, face)
        assert out.shape == image.shape


def test_sunglasses_darken_the_eyes_not_the_mouth(sample):
    """Sunglasses make the eye region dark and leave the mouth region untouched."""
    image, face = sample
    out = edited("sunglasses", image, face)
    # each eye, as a small box around the pupil
    for x, y in eye_centers(face):
        eyes = around(face, x, y, 0.09, 0.05)
        before, after = luma(image)[eyes].mean(), luma(out)[eyes].mean()
        assert before > 90
        assert after < 60
        assert before - after > 60
    mx, my = mouth_center(face)
    mouth = around(face, mx, my, 0.25, 0.07)
    assert np.array_equal(luma(out)[mouth], luma(image)[mouth])


def test_sunglasses_follow_the_face_box():
    """The glasses are centred on the face between the eyes and as wide as the face."""
    image = flat_frame(y=170)
    for face in (Face(100, 80, 120, 120), Face(380, 150, 180, 180)):
        dark = luma(edited("sunglasses", image, face)) < 80
        rows, cols = np.nonzero(dark)
        assert len(rows) > 0.02 * face.w * face.h
        assert abs(cols.mean() - face.cx) < 0.03 * face.w
        assert abs(rows.mean() - eye_centers(face)[0][1]) < 0.06 * face.h
        assert 0.85 * face.w < cols.max() - cols.min() < 1.15 * face.w
        assert rows.max() < nose_tip(face)[1]


def test_hat_sits_above_the_face(sample):
    """A hat darkens the region above the face, has a brim wider than it, and leaves the face."""
    image, face = sample
    out = edited("hat", image, face)
    above = box(face, 0.15, -0.3, 0.85, 0.05)
    assert luma(image)[above].mean() - luma(out)[above].mean() > 40
    # the brim reaches past both cheeks
    brim_row = int(forehead_y(face))
    for col in (int(face.x - 0.15 * face.w), int(face.x + 1.15 * face.w)):
        assert abs(int(luma(out)[brim_row, col]) - int(luma(image)[brim_row, col])) > 20
    rest = box(face, 0.0, 0.32, 1.0, 1.0)
    assert np.array_equal(luma(out)[rest], luma(image)[rest])


def test_hat_takes_the_named_colour(sample):
    """A red hat makes the region above the face red (Cr up, Cb down) and not a dark default."""
    image, face = sample
    red = edited("hat", image, face, color=COLORS["red"])
    brown = edited("hat", image, face)
    rows, cols = box(face, 0.2, -0.3, 0.8, 0.0)
    crows, ccols = slice(rows.start // 2, rows.stop // 2), slice(cols.start // 2, cols.stop // 2)
    u, v = chroma(red)
    u0, v0 = chroma(image)
    assert v[crows, ccols].mean() > v0[crows, ccols].mean() + 40
    assert v[crows, ccols].mean() > 180
    assert u[crows, ccols].mean() < 110
    assert luma(red)[rows, cols].mean() > luma(brown)[rows, cols].mean() + 20


def test_mustache_darkens_between_nose_and_mouth(sample):
    """A mustache darkens the band between the nose and the upper lip, not the eyes."""
    image, face = sample
    out = edited("mustache", image, face)
    # a band halfway between the tip of the nose and the middle of the mouth
    middle = (nose_tip(face)[1] + mouth_center(face)[1]) / 2
    lip = around(face, face.cx, middle, 0.12, 0.025)
    assert luma(image)[lip].mean() - luma(out)[lip].mean() > 60
    assert luma(out)[lip].mean() < 60
    eyes = box(face, 0.1, 0.2, 0.9, 0.45)
    assert np.array_equal(luma(out)[eyes], luma(image)[eyes])


def outside_unchanged(image: np.ndarray, out: np.ndarray, face: Face) -> None:
    """Assert nothing but the enlarged face box changed, in luma or chroma."""
    h, w = luma(image).shape
    x0, y0, x1, y1 = privacy_box(face, w, h)
    keep = np.ones((h, w), bool)
    keep[y0:y1, x0:x1] = False
    assert np.array_equal(luma(out)[keep], luma(image)[keep])
    for before, after in zip(chroma(image), chroma(out)):
        ckeep = keep[::2, ::2]
        assert np.array_equal(after[ckeep], before[ckeep])


def test_pixelate_face_makes_constant_blocks(sample):
    """Pixelating makes the enlarged face box constant blocks (~1/10 face wide) and nothing else changes."""
    image, face = sample
    out = edited("pixelate_face", image, face)
    h, w = luma(image).shape
    x0, y0, x1, y1 = privacy_box(face, w, h)
    assert x1 - x0 >= 1.15 * face.w and y1 - y0 >= 1.15 * face.h
    b = PixelateFace().block_size(face)
    assert face.w / 14 <= b <= face.w / 7
    region, original = luma(out)[y0:y1, x0:x1], luma(image)[y0:y1, x0:x1]
    cells = 0
    for r in range(0, region.shape[0] - b + 1, b):
        for c in range(0, region.shape[1] - b + 1, b):
            assert region[r : r + b, c : c + b].std() == 0
            cells += 1
    assert cells >= 64
    assert original.std() > 20 and not np.array_equal(region, original)
    outside_unchanged(image, out, face)


def test_blur_face_removes_detail(sample):
    """Blurring the face cuts its Laplacian variance sharply and leaves the rest of the frame."""
    image, face = sample
    out = edited("blur_face", image, face)
    rows, cols = box(face, 0.0, 0.0, 1.0, 1.0)
    before = cv2.Laplacian(luma(image)[rows, cols], cv2.CV_64F).var()
    after = cv2.Laplacian(luma(out)[rows, cols], cv2.CV_64F).var()
    assert before > 20
    assert after < 0.1 * before
    # still roughly the same brightness: blurred, not blanked
    assert abs(luma(out)[rows, cols].mean() - luma(image)[rows, cols].mean()) < 10
    outside_unchanged(image, out, face)


def test_overlay_is_stable_across_frames(sample):
    """The same face gives the same drawing on every frame (cached sprites, no drift)."""
    image, face = sample
    edit = EDITS["sunglasses"](EditSpec("sunglasses"))
    outs = []
    for index in range(3):
        out = image.copy()
        edit.apply(FrameContext.wrap(out, face=face, index=index, t=index / 25))
        outs.append(out)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[1], outs[2])
    assert not np.array_equal(outs[0], image)


def test_sunglasses_stay_on_the_eyes_of_the_moving_sample():
    """Tracked through the moving sample clip, the glasses keep covering both eyes."""
    tracker = FaceTracker()
    edit = EDITS["sunglasses"](EditSpec("sunglasses"))
    checked = 0
    with av.open(str(sample_clip())) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index > 60:
                break
            image = frame.to_ndarray(format="yuv420p")
            ctx = FrameContext.wrap(image.copy(), index=index, t=index / 25)
            ctx.face = tracker.update(ctx)
            edit.apply(ctx)
            if index % 20 or index == 0:
                continue
            found = detect_faces(luma(image))
            assert ctx.face is not None and len(found) == 1
            truth = Face(*(float(v) for v in found[0]))
            for x, y in eye_centers(truth):
                eyes = around(truth, x, y, 0.06, 0.04)
                before, after = luma(image)[eyes].mean(), luma(ctx.image)[eyes].mean()
                assert before > 90
                assert after < 0.6 * before and before - after > 40, (index, before, after)
            checked += 1
    assert checked == 3
