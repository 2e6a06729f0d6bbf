"""What every edit of the built-in engine works on, and the shape of an edit.

The built-in engine edits I420 frames in place (an ``(H*3//2, W)`` uint8
array, as ``av.VideoFrame.to_ndarray(format="yuv420p")`` gives): the luma
plane ``y`` (H x W) and the chroma planes ``u``, ``v`` (H/2 x W/2) are views
into that array, so an edit that changes ``ctx.u`` changes the frame. Work
on the planes avoids a BGR round trip (a hue change costs ~0.5 ms there,
~5 ms through BGR).

An instruction ("black and white with sunglasses") becomes a list of
:class:`EditSpec` (:mod:`.instructions`), each spec becomes an :class:`Edit`
(the registry in :mod:`.builtin`), and each frame runs the edits in
:data:`STAGES` order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

# Order in which edits run, whatever order the prompt named them in: regions
# are recoloured before global styles see them; objects are drawn on top of
# the styled picture; privacy (face blur/pixelate) runs last so nothing
# drawn afterwards can reveal a face.
STAGE_REGION = 10
STAGE_STYLE = 20
STAGE_OBJECT = 30
STAGE_SCENE = 40
STAGE_PRIVACY = 50
STAGES = (STAGE_REGION, STAGE_STYLE, STAGE_OBJECT, STAGE_SCENE, STAGE_PRIVACY)


@dataclass(frozen=True)
class Color:
    """A named colour: BGR for drawing, and its BT.601 limited-range Y, U, V."""

    name: str
    bgr: tuple[int, int, int]
    y: int
    u: int
    v: int


@dataclass(frozen=True)
class EditSpec:
    """One understood instruction: what to do, to what, with which colour.

    ``kind`` names the edit (``"black_and_white"``, ``"recolor_region"``,
    ``"sunglasses"``, ...); ``target`` the thing it applies to where that
    matters (``"shirt"``, ``"hair"``, ``"background"``, ``"face"``, or a free
    noun for "change the <thing> to X"); ``amount`` a strength for edits
    that have one (1.0 = normal).
    """

    kind: str
    color: Color | None = None
    target: str | None = None
    amount: float = 1.0
    text: str = ""
    """The words of the prompt this spec came from (for messages and logs)."""


@dataclass(frozen=True)
class Face:
    """A tracked face in full-frame pixel coordinates (smoothed between detections)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class FrameContext:
    """One frame being edited, with what the engine knows about it."""

    image: np.ndarray
    """The whole I420 buffer, ``(H*3//2, W)`` uint8; edits change it in place."""
    width: int
    height: int
    index: int = 0
    """Frames processed since the engine started."""
    t: float = 0.0
    """Seconds since the engine started (frame-based, for animation)."""
    face: Face | None = None
    """The main face, or None when none is tracked."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-frame scratch shared by edits (e.g. a downscaled copy), dropped after the frame."""

    @classmethod
    def wrap(cls, image: np.ndarray, **kwargs: Any) -> "FrameContext":
        """A context for a contiguous I420 buffer; raises ValueError if it is not one."""
        if image.ndim != 2 or image.dtype != np.uint8 or image.shape[0] % 3 or image.shape[1] % 2 or not image.flags.c_contiguous:
            raise ValueError(f"expected an (H*3/2, W) uint8 I420 image, got {image.shape} {image.dtype}")
        height = image.shape[0] * 2 // 3
        return cls(image=image, width=image.shape[1], height=height, **kwargs)

    @property
    def y(self) -> np.ndarray:
        """Luma plane, H x W (a view)."""
        return self.image[: self.height]

    def _chroma(self, index: int) -> np.ndarray:
        # The chroma planes follow luma back to back; when H/2 is odd a plane
        # does not start on a row of the (H*3/2, W) array, so slice it flat.
        size = (self.height // 2) * (self.width // 2)
        flat = self.image.reshape(-1)[self.height * self.width :]
        return flat[index * size : (index + 1) * size].reshape(self.height // 2, self.width // 2)

    @property
    def u(self) -> np.ndarray:
        """Cb plane, H/2 x W/2 (a view)."""
        return self._chroma(0)

    @property
    def v(self) -> np.ndarray:
        """Cr plane, H/2 x W/2 (a view)."""
        return self._chroma(1)


class Edit(Protocol):
    """One edit of the built-in engine. Instances may keep state across frames."""

    stage: int
    """When it runs (one of :data:`STAGES`)."""
    needs_face: bool
    """True if it anchors to the face; the engine then runs face tracking."""

    def apply(self, ctx: FrameContext) -> None:
        """Change ``ctx.image`` in place. Must not raise for a missing face: do nothing then."""
        ...
