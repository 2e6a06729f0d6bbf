"""Face tracking on the bundled sample clip, and the face anchor helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av
import cv2
import numpy as np
import pytest

from decart_cli.assets import sample_clip
from decart_cli.engine import face as F
from decart_cli.engine.frame import Face, FrameContext
from decart_cli.media.sources import TestPattern


def sample_frames() -> Iterator[np.ndarray]:
    """The sample clip's frames as I420 buffers, decoded with PyAV."""
    with av.open(str(sample_clip())) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="yuv420p")


def faceless_frames(n: int) -> Iterator[np.ndarray]:
    """Frames of the built-in test pattern (colourful, moving, no face) as I420."""
    pattern = TestPattern(1280, 704, 25)
    for i in range(n):
        yield cv2.cvtColor(pattern.render(i), cv2.COLOR_BGR2YUV_I420)


def centre(face: Face | None) -> tuple[float, float, float]:
    return (face.cx, face.cy, face.w) if face else (np.nan, np.nan, np.nan)


@dataclass
class Run:
    tracked: np.ndarray  # (frames, 3): cx, cy, size per frame, NaN without a face
    raw: np.ndarray  # the same from a fresh full-frame detection on every frame
    tracker: F.FaceTracker
    first_frame: np.ndarray


@pytest.fixture(scope="module")
def run() -> Run:
    """The tracker over the whole clip, next to a raw detection on every frame."""
    tracker = F.FaceTracker()
    tracked, raw = [], []
    first = None
    for i, image in enumerate(sample_frames()):
        if first is None:
            first = image.copy()
        tracked.append(centre(tracker.update(FrameContext.wrap(image, index=i, t=i / 25))))
        boxes = F.detect_faces(image[:704])
        raw.append((boxes[0][0] + boxes[0][2] / 2, boxes[0][1] + boxes[0][3] / 2, boxes[0][2]) if boxes else (np.nan,) * 3)
    assert first is not None
    return Run(np.array(tracked), np.array(raw), tracker, first)


def test_the_tracker_finds_the_face_in_almost_every_frame_and_follows_it(run):
    """A face is reported in >= 95% of the clip's frames, travels hundreds of pixels, and stays on the detected face."""
    found = ~np.isnan(run.tracked[:, 0])
    assert found.mean() >= 0.95
    assert found[2:].all()  # confirmed on the second frame, never lost after
    xs = run.tracked[found, 0]
    assert xs.max() - xs.min() > 400  # the person crosses the frame
    both = found & ~np.isnan(run.raw[:, 0])
    assert both.sum() > 150
    error = np.hypot(*(run.tracked[both, :2] - run.raw[both, :2]).T) / run.raw[both, 2]
    assert np.median(error) < 0.12  # on the face: well within a tenth of its width, typically
    assert np.percentile(error, 95) < 0.3
    size_ratio = run.tracked[both, 2] / run.raw[both, 2]
    assert 0.8 < np.median(size_ratio) < 1.2


def test_the_tracked_box_jitters_far_less_than_raw_detections(run):
    """Frame-to-frame, the tracked box accelerates much less than per-frame detections jump around."""

    def jitter(series: np.ndarray) -> float:
        second = series[2:] - 2 * series[1:-1] + series[:-2]  # ~0 for smooth motion, large for noise
        second = second[~np.isnan(second).any(axis=1)]
        return float(np.sqrt((second**2).mean()))

    raw_noise = jitter(run.raw[:, :2])
    tracked_noise = jitter(run.tracked[2:, :2])
    assert raw_noise > 3  # the detector is noisy at 1/4 size (this is what tracking has to hide)
    assert tracked_noise < raw_noise / 3
    assert tracked_noise < 2.0
    size_noise = jitter(run.tracked[2:, 2:])
    assert size_noise < jitter(run.raw[:, 2:]) / 3


def test_detection_is_amortised(run):
    """Scans run on about one frame in three, and full-frame scans only to acquire the face."""
    stats = run.tracker.stats
    assert stats.frames == 200
    assert stats.detections <= stats.frames / 2.5
    assert stats.full_scans <= 3
    assert stats.hits >= 0.9 * stats.detections


def test_no_face_means_none_after_the_timeout():
    """When the face disappears, the last box coasts briefly, then update returns None (after ~1 s) and stays None."""
    tracker = F.FaceTracker(fps=25, forget_after=1.0)
    results = []
    for i, image in enumerate(sample_frames()):
        results.append(tracker.update(FrameContext.wrap(image, index=i)))
        if i == 30:
            break
    assert results[-1] is not None
    after = [tracker.update(FrameContext.wrap(image)) for image in faceless_frames(40)]
    assert after[0] is not None  # a missed frame or two does not drop the face
    assert all(face is None for face in after[27:])


def test_a_faceless_stream_never_reports_a_face():
    """Colourful moving shapes without a face produce no face at all."""
    tracker = F.FaceTracker()
    assert all(tracker.update(FrameContext.wrap(image)) is None for image in faceless_frames(30))
    assert tracker.stats.full_scans >= 5  # it did look


def test_confirm_1_reports_on_the_first_frame_and_detect_faces_is_one_shot(run):
    """With confirm=1 the first frame already has the face, at the place detect_faces finds it."""
    tracker = F.FaceTracker(confirm=1)
    face = tracker.update(FrameContext.wrap(run.first_frame.copy()))
    assert face is not None
    (x, y, w, h), *_ = F.detect_faces(run.first_frame[:704])
    assert abs(face.cx - (x + w / 2)) < 2 and abs(face.w - w) < 2
    assert F.detect_faces(next(faceless_frames(1))[:704]) == []


def test_anchors_are_ordered_and_land_on_features(run):
    """Head top < forehead < eyes < nose < mouth < chin, and the eyes are darker than the skin between and below them."""
    image = run.first_frame
    face = F.FaceTracker(confirm=1).update(FrameContext.wrap(image.copy()))
    assert face is not None
    order = [F.head_top_y(face), F.forehead_y(face), F.eye_line_y(face), F.nose_tip(face)[1], F.mouth_center(face)[1], F.chin_y(face)]
    assert order == sorted(order)
    (lx, ly), (rx, ry) = F.eye_centers(face)
    assert ly == ry == F.eye_line_y(face) and rx - lx == pytest.approx(F.eye_distance(face))
    luma = image[:704].astype(float)
    r = face.w * 0.06

    def patch(x: float, y: float) -> float:
        return float(luma[round(y - r) : round(y + r), round(x - r) : round(x + r)].mean())

    eyes = (patch(lx, ly) + patch(rx, ry)) / 2
    between = patch((lx + rx) / 2, ly)
    cheeks = (patch(lx, ly + 0.2 * face.h) + patch(rx, ry + 0.2 * face.h)) / 2
    assert eyes < between - 15 and eyes < cheeks - 15
    # The head box holds the hair: its top rows are warm brown hair, unlike the cool wall above it.
    u = image[704:880].reshape(352, 640).astype(float)
    v = image[880:].reshape(352, 640).astype(float)

    def warmth(x: float, y: float) -> float:
        x, y, rc = round(x / 2), round(y / 2), max(1, round(r / 2))
        return float((v[y - rc : y + rc, x - rc : x + rc] - u[y - rc : y + rc, x - rc : x + rc]).mean())

    hx, hy, hw, hh = F.head_box(face)
    assert warmth(face.cx, hy + 0.1 * hh) > 20
    assert warmth(face.cx, hy - 0.2 * face.h) < 5
    (ex, ey), (ax, ay) = F.face_ellipse(face)
    assert ey - ay < ly and ey + ay == pytest.approx(F.chin_y(face)) and ax < face.w / 2
