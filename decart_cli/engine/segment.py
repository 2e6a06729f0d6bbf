"""The person, told from the background by a neural network: MediaPipe's selfie segmentation, run by OpenCV.

The model (``selfie_segmentation_landscape.tflite``, Apache-2.0, shipped in
:mod:`decart_cli.assets`; see ``ASSETS.md`` for its source) takes the frame
at 256x144 RGB and gives each pixel a person probability. OpenCV's own
TFLite importer runs it (``cv2.dnn.readNetFromTFLite``, in opencv-python
since 4.8): no other runtime, nothing downloaded. It costs ~4 ms a frame on
2 cores (measured on the sample clip: p50 4.0 ms, p95 4.3 ms for the
network; the upscale and feathering add ~0.2 ms).

::

    I420 frame ──(mask resolution, 320x176 for 1280x704)──▶ RGB 256x144 ──▶ network
        ──▶ probability 256x144 ──(averaged with the last frame's)──▶ upscaled,
            sharpened around 0.5, feathered ──▶ uint8 mask (255 = person)

Frame to frame the probability is averaged (the new frame weighs
:data:`FOLLOW`), which keeps edges from flickering while the mask still
follows a moving person within a frame or two.

:meth:`PersonSegmenter.load` gives None where this OpenCV cannot import the
model (too old, or built without the DNN module); callers then fall back to
colour heuristics (:class:`~.regions.PersonModel` does).
"""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np

from ..assets import segmentation_model

log = logging.getLogger(__name__)

INPUT = (256, 144)
"""The network's input (width, height)."""
FOLLOW = 0.6
"""Weight of the new frame's probability in the running average (the rest is the previous frame's)."""
EDGE = (0.35, 0.65)
"""Probabilities mapped to 0 and 255 around the edge (sharper than the raw ramp, still soft)."""

_unavailable_logged = threading.Event()


class PersonSegmenter:
    """One network (not shared between threads: each engine loads its own), with its running average."""

    def __init__(self, net: cv2.dnn.Net) -> None:
        self._net = net
        self._average: np.ndarray | None = None

    @classmethod
    def load(cls) -> PersonSegmenter | None:
        """The segmenter, or None (logged once) where the model cannot be loaded here."""
        try:
            net = cv2.dnn.readNetFromTFLite(str(segmentation_model()))
        except (AttributeError, cv2.error, FileNotFoundError) as exc:
            if not _unavailable_logged.is_set():
                _unavailable_logged.set()
                log.warning("person segmentation unavailable (%s): the background is told by colour instead", str(exc).splitlines()[0][:120] or type(exc).__name__)
            return None
        return cls(net)

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """The person probability (float32, 144x256) of an RGB image (any size), averaged with the previous frames'."""
        blob = cv2.dnn.blobFromImage(rgb, 1 / 255.0, INPUT, swapRB=False)
        self._net.setInput(blob)
        current = self._net.forward()[0, 0]
        if self._average is None or self._average.shape != current.shape:
            self._average = current.copy()
        else:
            cv2.addWeighted(current, FOLLOW, self._average, 1 - FOLLOW, 0, dst=self._average)
        return self._average

    def mask(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The person as a feathered uint8 mask (255 = person) at the size of ``y``, from Y, U and V planes of that size."""
        height, width = y.shape
        rgb = cv2.cvtColor(cv2.merge([y, u, v]), cv2.COLOR_YUV2RGB)
        probability = cv2.resize(self.probability(rgb), (width, height), interpolation=cv2.INTER_LINEAR)
        low, high = EDGE
        sharp = np.clip((probability - low) * (1 / (high - low)), 0.0, 1.0)
        mask = (sharp * 255.0 + 0.5).astype(np.uint8)
        return cv2.GaussianBlur(mask, (0, 0), 0.8)
