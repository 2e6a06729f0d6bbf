"""Face tracking for face-anchored edits, and where things are on a face.

:class:`FaceTracker` finds the main face with OpenCV's bundled Haar cascade
and follows it from frame to frame::

    tracker = FaceTracker()
    for ctx in frames:                # FrameContext over an I420 buffer
        ctx.face = tracker.update(ctx)

Detection is the expensive part (a full 1280x704 frame scanned at 1/4 size
costs ~10 ms), so it runs only every ``detect_every``-th frame, and while a
face is tracked it scans just a small window around where the face is
predicted to be, rescaled so the face is ~40 px wide (~1 ms). A full-frame
scan happens only when no face is tracked or the window missed it. Between
detections an alpha-beta (constant-velocity) filter predicts the box, and the
returned box follows that prediction through an exponential smoother, so
overlays move steadily instead of jumping every few frames. A new face must
be seen by ``confirm`` consecutive detections before it is reported (a stray
hit on the wallpaper does not get sunglasses), and a face not seen for
``forget_after`` seconds of frames is dropped.

The module-level functions map a :class:`~.frame.Face` (a Haar box: square,
roughly from the hairline to the chin, cheekbone to cheekbone) to
anchor points for drawing, from average face proportions: :func:`eye_centers`,
:func:`eye_line_y`, :func:`eye_distance`, :func:`nose_tip`,
:func:`mouth_center`, :func:`chin_y`, :func:`forehead_y`, :func:`head_top_y`,
:func:`head_box` and :func:`face_ellipse`. All take and return full-frame
pixel coordinates (floats).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from .frame import Face, FrameContext

__all__ = [
    "FaceTracker",
    "detect_faces",
    "eye_centers",
    "eye_distance",
    "eye_line_y",
    "nose_tip",
    "mouth_center",
    "chin_y",
    "forehead_y",
    "head_top_y",
    "head_box",
    "face_ellipse",
]

CASCADE = "haarcascade_frontalface_alt2.xml"
"""The bundled cascade used: as accurate as ``_default`` on frontal faces, fewer
false alarms, and about twice as fast on small search windows."""

_cascades: dict[str, cv2.CascadeClassifier] = {}
_cascade_lock = threading.Lock()


def _cascade(name: str = CASCADE) -> cv2.CascadeClassifier:
    """The named bundled cascade, loaded once per process (loading costs ~50 ms)."""
    with _cascade_lock:
        cascade = _cascades.get(name)
        if cascade is None:
            cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
            if cascade.empty():
                raise RuntimeError(f"cannot load OpenCV's {name} from {cv2.data.haarcascades}")
            _cascades[name] = cascade
        return cascade


def detect_faces(luma: np.ndarray, *, max_width: int = 320, cascade: str = CASCADE) -> list[tuple[float, float, float, float]]:
    """All faces in a luma (grey) plane as ``(x, y, w, h)`` in its pixel coordinates, largest first.

    The plane is downscaled to at most ``max_width`` pixels wide and
    histogram-equalised before the scan; faces smaller than ~24 px at that
    scale (~96 px in a 1280-wide frame) are not found. One-shot and
    stateless; :class:`FaceTracker` is the cheap way to follow a face.
    """
    h, w = luma.shape[:2]
    scale = min(1.0, max_width / w)
    small = luma if scale == 1.0 else cv2.resize(luma, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    small = cv2.equalizeHist(small)
    found = _cascade(cascade).detectMultiScale(small, scaleFactor=1.15, minNeighbors=4, minSize=(24, 24))
    boxes = [(x / scale, y / scale, bw / scale, bh / scale) for x, y, bw, bh in (found if len(found) else [])]
    return sorted(boxes, key=lambda b: -b[2])


@dataclass
class TrackerStats:
    """What tracking has cost so far (for the benchmark and the log)."""

    frames: int = 0
    """Frames seen by :meth:`FaceTracker.update`."""
    detections: int = 0
    """Cascade scans run (window and full-frame)."""
    full_scans: int = 0
    """Of those, full-frame scans."""
    hits: int = 0
    """Scans that found the tracked face."""
    detect_seconds: float = 0.0
    """Time spent scanning."""
    total_seconds: float = 0.0
    """Time spent in :meth:`FaceTracker.update` altogether."""

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.total_seconds / self.frames if self.frames else 0.0

    @property
    def ms_per_detection(self) -> float:
        return 1000 * self.detect_seconds / self.detections if self.detections else 0.0


class FaceTracker:
    """Follows the main face across frames; :meth:`update` once per frame.

    ``detect_every``: frames between (cheap, windowed) cascade scans while a
    face is tracked; ``search_every``: frames between (costly) full-frame
    scans while none is. ``forget_after``: seconds without
    a detection after which the face is dropped, counted in frames at
    ``fps``. ``confirm``: consecutive detections a new face needs before it
    is reported (1 = at once). ``smoothing``: 0..1, how fast the reported
    box catches up with the filter (lower = steadier, laggier).
    ``detect_width``: width the full frame is downscaled to for a
    full-frame scan. Not thread-safe: one tracker per stream.
    """

    WINDOW_FACE_PX = 32
    """Face width the search window is rescaled to (the cascade's window is 20-24 px)."""
    WINDOW_MARGIN = 0.6
    """Search window reach beyond the predicted face, in face widths (covers motion between scans)."""
    WINDOW_SCALE_STEP = 1.1
    """Cascade scale step inside the window (smaller: finer sizes, slower)."""
    ALPHA = np.array([0.4, 0.4, 0.3])
    """Alpha-beta filter (cx, cy, size): share of a detection's residual taken into the position at once."""
    BETA = np.array([0.6, 0.6, 0.3])
    """Alpha-beta filter (cx, cy, size): share of the residual (per frame since the last hit) taken into the velocity."""
    SIZE_SMOOTHING = 0.5
    """The reported size eases in this much slower than the position (detected sizes are the noisiest)."""

    def __init__(
        self,
        *,
        detect_every: int = 3,
        search_every: int = 5,
        forget_after: float = 1.0,
        fps: float = 25.0,
        confirm: int = 2,
        smoothing: float = 0.3,
        detect_width: int = 320,
        cascade: str = CASCADE,
    ) -> None:
        if detect_every < 1 or search_every < 1 or confirm < 1 or not 0 < smoothing <= 1:
            raise ValueError("detect_every, search_every and confirm must be >= 1, smoothing in (0, 1]")
        self.detect_every = detect_every
        self.search_every = search_every
        self.forget_frames = max(1, round(forget_after * fps))
        self.confirm = confirm
        self.smoothing = smoothing
        self.detect_width = detect_width
        self._cascade = _cascade(cascade)
        self.stats = TrackerStats()
        self.reset()

    def reset(self) -> None:
        """Forget the face (e.g. when the source changes)."""
        self._pos: np.ndarray | None = None  # filter state: cx, cy, size
        self._vel = np.zeros(3)
        self._out = np.zeros(3)  # reported (smoothed) cx, cy, size
        self._hits = 0  # consecutive detections of this face
        self._since_hit = 0  # frames since the last detection of it
        self._since_scan = 1 << 30  # frames since the last scan (the first frame is scanned)
        self._missed = False  # the last scan missed: next one is full-frame

    @property
    def face(self) -> Face | None:
        """The face as last reported by :meth:`update`."""
        if self._pos is None or self._hits < self.confirm:
            return None
        cx, cy, size = self._out
        return Face(float(cx - size / 2), float(cy - size / 2), float(size), float(size))

    def update(self, ctx: FrameContext) -> Face | None:
        """Track the face into this frame (reads ``ctx.y`` only) and return it, or None."""
        start = time.perf_counter()
        self.stats.frames += 1
        self._since_scan += 1
        if self._pos is not None:
            self._since_hit += 1
            self._pos = self._pos + self._vel
            if self._since_hit > 2 * self.detect_every:
                self._vel *= 0.8  # coasting on a stale velocity: slow down
            if self._since_hit > self.forget_frames:
                self.reset()

        tentative = self._pos is not None and self._hits < self.confirm
        interval = self.search_every if self._pos is None or self._missed else self.detect_every
        if tentative or self._since_scan >= interval:
            self._since_scan = 0
            self._scan(ctx)

        if self._pos is not None:
            k = np.array([self.smoothing, self.smoothing, self.smoothing * self.SIZE_SMOOTHING])
            self._out = self._out + self._vel + k * (self._pos - self._out)
            self._clamp(ctx)
        self.stats.total_seconds += time.perf_counter() - start
        return self.face

    # -- internals ---------------------------------------------------------

    def _scan(self, ctx: FrameContext) -> None:
        t0 = time.perf_counter()
        self.stats.detections += 1
        box = None
        if self._pos is not None and not self._missed:
            box = self._scan_window(ctx.y)
        else:
            self.stats.full_scans += 1
            boxes = self._scan_full(ctx.y)
            box = self._pick(boxes)
        self.stats.detect_seconds += time.perf_counter() - t0

        if box is None:
            self._missed = True
            if self._pos is not None and self._hits < self.confirm:
                self.reset()  # an unconfirmed face that vanished was a false alarm
                self._since_scan = 0
            return
        self._missed = False
        self.stats.hits += 1
        x, y, w, h = box
        z = np.array([x + w / 2, y + h / 2, (w + h) / 2])
        if self._pos is None:
            self._pos, self._vel, self._out = z, np.zeros(3), z.copy()
            self._hits, self._since_hit = 1, 0
            return
        dt = max(1, self._since_hit)
        residual = z - self._pos
        self._pos = self._pos + self.ALPHA * residual
        self._vel = self._vel + self.BETA * residual / dt
        if self._hits < self.confirm:
            self._out = self._pos.copy()  # not yet shown: no need to ease in
        self._hits += 1
        self._since_hit = 0

    def _scan_full(self, luma: np.ndarray) -> list[tuple[float, float, float, float]]:
        h, w = luma.shape
        scale = min(1.0, self.detect_width / w)
        small = luma if scale == 1.0 else cv2.resize(luma, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        small = cv2.equalizeHist(small)
        found = self._cascade.detectMultiScale(small, scaleFactor=1.15, minNeighbors=4, minSize=(24, 24))
        return [(x / scale, y / scale, bw / scale, bh / scale) for x, y, bw, bh in (found if len(found) else [])]

    def _scan_window(self, luma: np.ndarray) -> tuple[float, float, float, float] | None:
        """Look for the tracked face only around its predicted place, at a scale where it is ~40 px."""
        assert self._pos is not None
        cx, cy, size = self._pos
        h, w = luma.shape
        half = size * (0.5 + self.WINDOW_MARGIN)
        x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
        y0, y1 = int(max(0, cy - half)), int(min(h, cy + half))
        if x1 - x0 < 20 or y1 - y0 < 20:
            return None
        scale = min(1.0, self.WINDOW_FACE_PX / max(size, 1.0))
        roi = luma[y0:y1, x0:x1]
        if scale < 1.0:
            roi = cv2.resize(roi, (max(20, round((x1 - x0) * scale)), max(20, round((y1 - y0) * scale))), interpolation=cv2.INTER_AREA)
        sx, sy = roi.shape[1] / (x1 - x0), roi.shape[0] / (y1 - y0)
        roi = cv2.equalizeHist(roi)
        expected = size * sx
        found = self._cascade.detectMultiScale(
            roi,
            scaleFactor=self.WINDOW_SCALE_STEP,
            minNeighbors=3,
            minSize=(max(20, int(expected * 0.65)),) * 2,
            maxSize=(max(25, int(expected * 1.5)),) * 2,
        )
        boxes = [(x0 + x / sx, y0 + y / sy, bw / sx, bh / sy) for x, y, bw, bh in (found if len(found) else [])]
        return self._pick(boxes)

    def _pick(self, boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float] | None:
        """The tracked face among ``boxes`` (nearest its prediction), else the largest when none is tracked."""
        if not boxes:
            return None
        if self._pos is None:
            return max(boxes, key=lambda b: b[2] * b[3])
        cx, cy, size = self._pos

        def distance(b: tuple[float, float, float, float]) -> float:
            return float(np.hypot(b[0] + b[2] / 2 - cx, b[1] + b[3] / 2 - cy)) / size + abs(np.log(b[2] / size))

        best = min(boxes, key=distance)
        return best if distance(best) < 1.0 else None

    def _clamp(self, ctx: FrameContext) -> None:
        """Keep the reported box sane: positive size, centre inside the frame."""
        self._out[2] = max(self._out[2], 8.0)
        self._out[0] = min(max(self._out[0], 0.0), float(ctx.width))
        self._out[1] = min(max(self._out[1], 0.0), float(ctx.height))


# -- anchors: where things are on a face -------------------------------------
#
# Proportions of an average adult face relative to the alt2 Haar box
# (x, y, w, h), measured on the sample clip: the box top is at the hairline
# (mid-forehead on a high forehead), its bottom at the chin, its sides at
# the cheekbones; the eyes sit ~0.35 of the way down.


def eye_line_y(face: Face) -> float:
    """Height of the eye centres (pupils)."""
    return face.y + 0.35 * face.h


def eye_distance(face: Face) -> float:
    """Distance between the eye centres (pupil to pupil)."""
    return 0.40 * face.w


def eye_centers(face: Face) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres of the eye in the left half of the image and the one in the right half, as (x, y)."""
    y = eye_line_y(face)
    half = eye_distance(face) / 2
    return (face.cx - half, y), (face.cx + half, y)


def nose_tip(face: Face) -> tuple[float, float]:
    """Tip of the nose (x, y)."""
    return face.cx, face.y + 0.60 * face.h


def mouth_center(face: Face) -> tuple[float, float]:
    """Centre of the mouth (x, y); a mustache goes ~0.09 face heights above it (under the nose)."""
    return face.cx, face.y + 0.75 * face.h


def chin_y(face: Face) -> float:
    """Bottom of the chin."""
    return face.y + 1.0 * face.h


def forehead_y(face: Face) -> float:
    """Middle of the forehead (above the eyebrows, below the hairline)."""
    return face.y + 0.14 * face.h


def head_top_y(face: Face) -> float:
    """Top of the head (of the skull; volumous hair may reach ~0.15 face heights higher)."""
    return face.y - 0.40 * face.h


def head_box(face: Face) -> tuple[float, float, float, float]:
    """The whole head with hair as ``(x, y, w, h)``: top of the head to the chin, ear to ear."""
    w = 1.3 * face.w
    top = head_top_y(face)
    return face.cx - w / 2, top, w, chin_y(face) - top


def face_ellipse(face: Face) -> tuple[tuple[float, float], tuple[float, float]]:
    """The face's skin (forehead to chin) as an ellipse: ``((cx, cy), (semi-axis x, semi-axis y))``.

    For cv2.ellipse, round these and pass the semi-axes as ``axes``.
    """
    top = face.y - 0.04 * face.h
    bottom = chin_y(face)
    return (face.cx, (top + bottom) / 2), (0.46 * face.w, (bottom - top) / 2)
