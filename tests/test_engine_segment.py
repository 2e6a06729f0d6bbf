"""The person segmentation network (MediaPipe's, through OpenCV) on the sample clip: who is the person, steadily, and the fallback without it."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from decart_cli.assets import sample_clip
from decart_cli.engine import regions as R
from decart_cli.engine import segment
from decart_cli.engine.face import FaceTracker, chin_y
from decart_cli.engine.frame import FrameContext
from decart_cli.engine.segment import PersonSegmenter

H, W = 704, 1280
SCALE = R.SCALE


@pytest.fixture(scope="module")
def clip() -> list[tuple[np.ndarray, object]]:
    """The first 60 frames of the sample clip (I420, decoded with PyAV) with their tracked faces."""
    tracker = FaceTracker()
    frames = []
    with av.open(str(sample_clip())) as container:
        for i, frame in enumerate(container.decode(video=0)):
            image = frame.to_ndarray(format="yuv420p")
            frames.append((image, tracker.update(FrameContext.wrap(image, index=i))))
            if len(frames) == 60:
                break
    return frames


def small_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V at mask resolution, as the region edits see them."""
    small = R._Small(FrameContext.wrap(image.copy()))  # noqa: SLF001 - the same downscale the edits use
    return small.y, small.u, small.v


def test_the_network_loads_here_and_finds_the_person(clip) -> None:  # type: ignore[no-untyped-def]
    """Face and orange suit are person (≥ 95% of their pixels), the wall beside and above her is not (≥ 98%)."""
    segmenter = PersonSegmenter.load()
    assert segmenter is not None, "this OpenCV cannot run the bundled model"
    for index in (5, 25, 45):
        image, face = clip[index]
        assert face is not None
        y, u, v = small_planes(image)
        mask = segmenter.mask(y, u, v)
        assert mask.shape == y.shape and mask.dtype == np.uint8
        fx, fy, fw, fh = (c / SCALE for c in (face.x, face.y, face.w, face.h))
        core = mask[round(fy + 0.25 * fh) : round(fy + 0.75 * fh), round(fx + 0.25 * fw) : round(fx + 0.75 * fw)]
        assert (core >= 200).mean() >= 0.95, index
        orange = (v.astype(int) > 165) & (u.astype(int) < 110)  # the launch suit: strongly red-orange chroma
        assert orange.sum() > 500 and (mask[orange] >= 128).mean() >= 0.95, (index, (mask[orange] >= 128).mean())
        rows = slice(0, round(chin_y(face) / SCALE))
        far = np.abs(np.arange(y.shape[1]) - (fx + fw / 2)) > 2.5 * fw
        wall = mask[rows][:, far]
        assert (wall <= 30).mean() >= 0.98, (index, (wall <= 30).mean())


def paint_wall_like_the_suit(image: np.ndarray, face) -> tuple[np.ndarray, int]:  # type: ignore[no-untyped-def]
    """``image`` with the wall left of the person (beyond 2.5 face widths) painted in the suit's own colour; that edge's x."""
    image = image.copy()
    y, u, v = small_planes(image)
    orange = (v.astype(int) > 165) & (u.astype(int) < 110)
    left = int(max(0, face.x + face.w / 2 - 2.5 * face.w)) // 4 * 4
    image[:H, :left] = int(np.median(y[orange]))
    image[H : H + H // 4].reshape(H // 2, W // 2)[:, : left // 2] = int(np.median(u[orange]))
    image[H + H // 4 :].reshape(H // 2, W // 2)[:, : left // 2] = int(np.median(v[orange]))
    return image, left


def test_a_wall_the_colour_of_the_suit_does_not_take_the_suit_with_it(clip) -> None:  # type: ignore[no-untyped-def]
    """With the wall beside her painted the suit's orange, the network still calls ≥ 98% of the suit person and the painted wall background (colour alone: ~89%)."""
    model = R.PersonModel()
    assert model.segmenter is not None
    for image, face in clip[20:60]:
        painted, left = paint_wall_like_the_suit(image, face)
        mask = model.mask(FrameContext.wrap(painted, face=face))
        assert mask is not None
        y, u, v = small_planes(image)
        suit = (v.astype(int) > 165) & (u.astype(int) < 110)
        suit[:, : left // SCALE + 2] = False
        assert (mask[suit] >= 128).mean() >= 0.98, (mask[suit] >= 128).mean()
        assert (mask[:, : max(1, left // SCALE - 2)] <= 30).mean() >= 0.98


def test_the_mask_is_steady_from_frame_to_frame(clip) -> None:  # type: ignore[no-untyped-def]
    """Over 60 frames of a moving person, a frame's mask differs from the last by under 4 levels on average, and the edge band stays thin."""
    segmenter = PersonSegmenter.load()
    assert segmenter is not None
    previous = None
    changes, soft = [], []
    for image, _ in clip:
        mask = segmenter.mask(*small_planes(image))
        if previous is not None:
            changes.append(float(cv2.absdiff(mask, previous).mean()))
        soft.append(float(((mask > 25) & (mask < 230)).mean()))
        previous = mask
    assert np.mean(changes) < 4.0, np.mean(changes)
    assert np.mean(soft) < 0.05, np.mean(soft)  # feathered, not a blur over the whole person


def test_without_the_network_the_colour_model_tells_the_background(clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    """A model OpenCV cannot read: load() gives None, logged once as a warning, and PersonModel falls back to colour (still a mask)."""
    junk = tmp_path / "model.tflite"
    junk.write_bytes(b"not a model")
    monkeypatch.setattr(segment, "segmentation_model", lambda: junk)
    monkeypatch.setattr(segment, "_unavailable_logged", type(segment._unavailable_logged)())  # noqa: SLF001 - a fresh "logged once"
    caplog.set_level(logging.WARNING)
    assert PersonSegmenter.load() is None and PersonSegmenter.load() is None
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1 and "segmentation unavailable" in caplog.records[0].getMessage()
    model = R.PersonModel()
    assert model.segmenter is None
    image, face = clip[25]
    mask = model.mask(FrameContext.wrap(image.copy(), face=face))
    assert mask is not None and mask.max() == 255 and mask.min() == 0


def test_a_recoloured_shirt_keeps_less_of_its_old_colour_at_the_edge(clip) -> None:  # type: ignore[no-untyped-def]
    """'change the shirt to blue': of the reddish pixels along the person's edge, under 70% stay reddish (the fringe; 78% before edges were taken, 60% now)."""
    from decart_cli.engine.builtin import BuiltinEngine

    engine = BuiltinEngine()
    engine.set_prompt("change the shirt to blue")
    segmenter = PersonSegmenter.load()
    assert segmenter is not None
    shares = []
    for index, (image, _) in enumerate(clip):
        edited = engine.process(image.copy())
        person = cv2.resize(segmenter.mask(*small_planes(image)), (W // 2, H // 2)) >= 128
        if index < 20 or index % 10:
            continue
        ring = cv2.morphologyEx(person.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((7, 7), np.uint8)) > 0
        before = image[H + H // 4 :].reshape(H // 2, W // 2).astype(int) - 128
        after = edited[H + H // 4 :].reshape(H // 2, W // 2).astype(int) - 128
        reddish = ring & (before > 12)
        shares.append(float((reddish & (after > 12)).sum() / max(1, reddish.sum())))
    assert np.mean(shares) < 0.7, shares


def test_recoloured_hair_takes_the_darker_locks_and_not_the_cheeks(clip) -> None:  # type: ignore[no-untyped-def]
    """'make the hair red': ≥ 85% of the dark hair beside and above the face turns red (76% by colour alone), and ≤ 1.5% of the face below the eyes does."""
    from decart_cli.engine.builtin import BuiltinEngine
    from decart_cli.engine.face import eye_line_y, face_ellipse

    engine = BuiltinEngine()
    engine.set_prompt("make the hair red")
    hair_shares, face_shares = [], []
    rows, cols = np.mgrid[0 : H // 2, 0 : W // 2]
    for index, (image, face) in enumerate(clip):
        edited = engine.process(image.copy())
        if index < 20 or index % 10 or face is None:
            continue
        luma = cv2.resize(image[:H], (W // 2, H // 2)).astype(int)
        u = image[H : H + H // 4].reshape(H // 2, W // 2).astype(int)
        v = image[H + H // 4 :].reshape(H // 2, W // 2).astype(int)
        red = edited[H + H // 4 :].reshape(H // 2, W // 2).astype(int) - v > 25
        (ex, ey), (ax, ay) = face_ellipse(face)
        inside = ((cols - ex / 2) / (ax / 2)) ** 2 + ((rows - ey / 2) / (ay / 2)) ** 2 < 1
        eyes = eye_line_y(face) / 2
        hair = (rows < eyes) & (rows > (face.y - 0.6 * face.h) / 2) & (np.abs(cols - (face.x + face.w / 2) / 2) < 0.375 * face.w) & ~inside
        hair &= (luma < 120) & (v > 128) & (u < 128)  # dark and brown: the hair, not the wall
        below_eyes = inside & (rows > eyes)
        hair_shares.append((hair & red).sum() / max(1, hair.sum()))
        face_shares.append((below_eyes & red).sum() / max(1, below_eyes.sum()))
    assert np.mean(hair_shares) >= 0.85, hair_shares
    assert np.mean(face_shares) <= 0.015, face_shares
