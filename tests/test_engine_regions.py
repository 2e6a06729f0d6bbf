"""Region edits (shirt, hair, background, dominant colour, background blur) on the sample clip."""

from __future__ import annotations

import math
from dataclasses import dataclass

import av
import cv2
import numpy as np
import pytest

from decart_cli.assets import sample_clip
from decart_cli.engine import regions as R
from decart_cli.engine.colors import COLORS
from decart_cli.engine.face import FaceTracker, chin_y
from decart_cli.engine.frame import STAGE_REGION, EditSpec, Face, FrameContext

H, W = 704, 1280
PICKED = (20, 70, 120, 170)  # spread over the clip: the person at different places and sizes


@dataclass
class Shot:
    image: np.ndarray  # I420, untouched
    face: Face

    def ctx(self, face: bool = True) -> FrameContext:
        return FrameContext.wrap(self.image.copy(), face=self.face if face else None)


@pytest.fixture(scope="module")
def shots() -> list[Shot]:
    """A few frames of the sample clip (decoded with PyAV) with their tracked faces."""
    tracker = FaceTracker()
    picked = []
    with av.open(str(sample_clip())) as container:
        for i, frame in enumerate(container.decode(video=0)):
            image = frame.to_ndarray(format="yuv420p")
            face = tracker.update(FrameContext.wrap(image, index=i))
            if i in PICKED:
                assert face is not None
                picked.append(Shot(image, face))
            if i >= max(PICKED):
                break
    return picked


def planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V of an I420 buffer as float arrays (U, V upsampled to full size)."""
    y = image[:H].astype(float)
    u = image[H : H + H // 4].reshape(H // 2, W // 2)
    v = image[H + H // 4 :].reshape(H // 2, W // 2)
    up = lambda p: cv2.resize(p, (W, H), interpolation=cv2.INTER_NEAREST).astype(float)  # noqa: E731
    return y, up(u), up(v)


def box_mean(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Mean (Y, U, V) inside ``box`` = (x0, y0, x1, y1), clipped to the frame."""
    x0, y0, x1, y1 = (round(c) for c in box)
    x0, x1, y0, y1 = max(0, x0), min(W, x1), max(0, y0), min(H, y1)
    assert x1 - x0 >= 8 and y1 - y0 >= 8, box
    return np.array([p[y0:y1, x0:x1].mean() for p in planes(image)])


def hue(yuv: np.ndarray) -> float:
    """Hue angle (degrees) of a mean colour's chroma."""
    return math.degrees(math.atan2(yuv[2] - 128, yuv[1] - 128))


def bgr_hue(image: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, np.ndarray]:
    """OpenCV hue (0..180) of the mean BGR colour inside ``box``, and that colour."""
    x0, y0, x1, y1 = (round(c) for c in box)
    bgr = cv2.cvtColor(image, cv2.COLOR_YUV2BGR_I420)[max(0, y0) : y1, max(0, x0) : x1]
    mean = bgr.reshape(-1, 3).mean(axis=0)
    h = cv2.cvtColor(np.uint8([[mean.round()]]), cv2.COLOR_BGR2HSV)[0, 0, 0]
    return float(h), mean


def hue_gap(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


# Measurement boxes, from the face (independent of the edits' own masks).
def face_box(f: Face) -> tuple[float, float, float, float]:
    return f.cx - 0.3 * f.w, f.y + 0.15 * f.h, f.cx + 0.3 * f.w, f.y + 0.9 * f.h


def torso_box(f: Face) -> tuple[float, float, float, float]:
    c = chin_y(f)
    return f.cx - 1.45 * f.w, c + 0.9 * f.h, f.cx - 0.55 * f.w, c + 1.6 * f.h


def hair_box(f: Face) -> tuple[float, float, float, float]:
    return f.cx - 0.3 * f.w, f.y - 0.35 * f.h, f.cx + 0.3 * f.w, f.y - 0.08 * f.h


def background_box(f: Face) -> tuple[float, float, float, float]:
    """A patch of wall level with the face, ~3 face widths to whichever side has room."""
    if f.cx + 3.3 * f.w < W:
        return f.cx + 2.4 * f.w, f.y, f.cx + 3.2 * f.w, f.y + f.h
    return f.cx - 3.2 * f.w, f.y, f.cx - 2.4 * f.w, f.y + f.h


def recolor(target: str, color: str) -> EditSpec:
    return EditSpec(kind="recolor_region", target=target, color=COLORS[color], text=f"change the {target} to {color}")


def apply(spec: EditSpec, ctx: FrameContext) -> np.ndarray:
    R.EDITS[spec.kind](spec).apply(ctx)
    return ctx.image


def assert_unchanged(before: np.ndarray, after: np.ndarray, box, tol: float = 2.0) -> None:
    diff = np.abs(box_mean(after, box) - box_mean(before, box))
    assert (diff < tol).all(), diff


def test_registry_and_flags():
    """EDITS builds region-stage edits; shirt/hair/background need the face, other nouns do not."""
    assert set(R.EDITS) == {"recolor_region", "blur_background"}
    for target, needs in (("shirt", True), ("jacket", True), ("hair", True), ("background", True), ("car", False), ("balloon", False)):
        edit = R.EDITS["recolor_region"](recolor(target, "red"))
        assert edit.stage == STAGE_REGION and edit.needs_face is needs, target
    blur = R.EDITS["blur_background"](EditSpec(kind="blur_background"))
    assert blur.stage == STAGE_REGION and blur.needs_face
    with pytest.raises(ValueError):
        R.EDITS["recolor_region"](EditSpec(kind="recolor_region", target="shirt"))


def test_shirt_to_red_moves_the_torso_hue_to_red_and_keeps_the_face(shots):
    """'change the shirt to red': the torso's mean hue lands near red's; face and background stay as they were."""
    for shot in shots:
        after = apply(recolor("shirt", "red"), shot.ctx())
        before_hue, before_bgr = bgr_hue(shot.image, torso_box(shot.face))
        after_hue, after_bgr = bgr_hue(after, torso_box(shot.face))
        assert 6 <= before_hue <= 20 and before_bgr[1] > 0.4 * before_bgr[2], before_bgr  # orange (OpenCV hue 0..180)
        assert after_hue <= 4 or after_hue >= 176  # red
        b, g, r = after_bgr
        assert r > 150 and g < 0.25 * r and b < 0.25 * r, after_bgr
        assert_unchanged(shot.image, after, face_box(shot.face))
        assert_unchanged(shot.image, after, background_box(shot.face))


def test_shirt_to_black_darkens_and_desaturates(shots):
    """'change the shirt to black': the torso gets much darker and loses its colour."""
    shot = shots[1]
    after = apply(recolor("shirt", "black"), shot.ctx())
    before, now = box_mean(shot.image, torso_box(shot.face)), box_mean(after, torso_box(shot.face))
    assert now[0] < before[0] - 50
    assert abs(now[1] - 128) + abs(now[2] - 128) < 15 < abs(before[1] - 128) + abs(before[2] - 128)
    assert_unchanged(shot.image, after, face_box(shot.face))


def test_hair_blonde_makes_the_hair_lighter_and_yellower_and_keeps_the_face(shots):
    """'make the hair blonde': above the face gets lighter and yellower (less Cb); the face does not change."""
    for shot in shots:
        after = apply(recolor("hair", "blonde"), shot.ctx())
        before, now = box_mean(shot.image, hair_box(shot.face)), box_mean(after, hair_box(shot.face))
        assert now[0] > before[0] + 8  # lighter
        assert now[1] < before[1] - 8  # yellower: lower U (Cb)
        assert_unchanged(shot.image, after, face_box(shot.face))
        assert_unchanged(shot.image, after, background_box(shot.face))
        assert_unchanged(shot.image, after, torso_box(shot.face))


def test_background_blue_recolours_the_wall_not_the_person(shots):
    """'make the background blue': the wall's chroma moves to blue; face and torso keep theirs."""
    for shot in shots:
        after = apply(recolor("background", "blue"), shot.ctx())
        before, now = box_mean(shot.image, background_box(shot.face)), box_mean(after, background_box(shot.face))
        assert now[1] > before[1] + 50  # much more Cb: blue
        assert hue_gap(hue(now), hue(np.array([0, COLORS["blue"].u, COLORS["blue"].v], float))) < 15
        top = box_mean(after, (0, 0, W, 24))  # the wall along the top edge, above everyone
        assert top[1] > 200
        assert_unchanged(shot.image, after, face_box(shot.face), tol=3)
        assert_unchanged(shot.image, after, torso_box(shot.face), tol=3)


def test_dominant_colour_object_is_recoloured():
    """'change the balloon to blue' on a grey scene with one red object: the object turns blue, the rest stays."""
    bgr = np.full((H, W, 3), 120, np.uint8)
    rng = np.random.default_rng(3)
    bgr = np.clip(bgr + rng.normal(0, 6, bgr.shape), 0, 255).astype(np.uint8)
    cv2.ellipse(bgr, (800, 350), (180, 140), 0, 0, 360, (40, 40, 200), -1)  # the red "balloon"
    cv2.ellipse(bgr, (800, 350), (60, 40), 0, 0, 360, (30, 30, 150), -1)  # a shaded part of it
    cv2.rectangle(bgr, (100, 500), (160, 560), (40, 180, 40), -1)  # a small green thing
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    after = apply(recolor("balloon", "blue"), FrameContext.wrap(image.copy()))
    out = cv2.cvtColor(after, cv2.COLOR_YUV2BGR_I420).astype(int)
    for x, y in ((800, 350), (700, 300), (900, 420)):
        b, g, r = out[y - 5 : y + 5, x - 5 : x + 5].reshape(-1, 3).mean(axis=0)
        assert b > r + 60 and b > g + 40, (x, y, b, g, r)
    assert_unchanged(image, after, (110, 510, 150, 550))  # the small green thing
    assert_unchanged(image, after, (100, 100, 400, 300))  # the grey


def test_dominant_colour_on_the_sample_is_the_suit_and_spares_the_skin(shots):
    """'change the spacesuit to green' (not a region word, no face given): the suit turns green, the face and wall do not."""
    green = hue(np.array([0, COLORS["lime"].u, COLORS["lime"].v], float))
    shot = shots[2]
    after = apply(recolor("spacesuit", "lime"), shot.ctx(face=False))
    assert hue_gap(hue(box_mean(after, torso_box(shot.face))), green) < 15
    assert_unchanged(shot.image, after, face_box(shot.face), tol=3)
    assert_unchanged(shot.image, after, background_box(shot.face))


def test_blur_background_removes_wall_detail_and_keeps_the_face_sharp(shots):
    """'blur the background': high-frequency energy of the wall drops a lot; the face keeps its detail."""

    def detail(image: np.ndarray, box) -> float:
        x0, y0, x1, y1 = (round(c) for c in box)
        return float(cv2.Laplacian(image[:H][max(0, y0) : y1, max(0, x0) : x1], cv2.CV_32F).var())

    for shot in shots:
        after = apply(EditSpec(kind="blur_background"), shot.ctx())
        wall = (0, 0, W, 60)
        assert detail(after, wall) < 0.3 * detail(shot.image, wall)
        assert detail(after, background_box(shot.face)) < 0.3 * detail(shot.image, background_box(shot.face))
        assert detail(after, face_box(shot.face)) > 0.85 * detail(shot.image, face_box(shot.face))
        assert_unchanged(shot.image, after, face_box(shot.face))


def test_two_region_edits_in_one_frame_both_apply(shots):
    """Shirt red and background blue on the same frame (shared per-frame analysis): both happen, the face stays."""
    shot = shots[0]
    ctx = shot.ctx()
    apply(recolor("shirt", "red"), ctx)
    after = apply(recolor("background", "blue"), ctx)
    assert box_mean(after, background_box(shot.face))[1] > 180
    assert box_mean(after, torso_box(shot.face))[2] > box_mean(shot.image, torso_box(shot.face))[2] + 10
    assert_unchanged(shot.image, after, face_box(shot.face))


@pytest.mark.parametrize(
    "spec",
    [recolor("shirt", "red"), recolor("hair", "blonde"), recolor("background", "blue"), EditSpec(kind="blur_background")],
    ids=["shirt", "hair", "background", "blur"],
)
def test_without_a_face_face_anchored_edits_change_nothing(shots, spec):
    """With no face in the context, shirt/hair/background/blur leave the frame bit-identical."""
    edit = R.EDITS[spec.kind](spec)
    for shot in shots[:2]:
        ctx = shot.ctx(face=False)
        edit.apply(ctx)
        assert np.array_equal(ctx.image, shot.image)


def test_odd_frame_sizes_work(shots):
    """The edits cope with frames whose size is not a multiple of 8 (masks are resampled, not assumed aligned)."""
    bgr = cv2.resize(cv2.cvtColor(shots[1].image, cv2.COLOR_YUV2BGR_I420), (642, 358))
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    f = shots[1].face
    face = Face(f.x * 642 / W, f.y * 358 / H, f.w * 642 / W, f.h * 358 / H)
    for spec in (recolor("shirt", "red"), recolor("hair", "blonde"), recolor("background", "blue"), recolor("thing", "green"), EditSpec(kind="blur_background")):
        ctx = FrameContext.wrap(image.copy(), face=face)
        R.EDITS[spec.kind](spec).apply(ctx)
        assert not np.array_equal(ctx.image, image), spec
