"""The built-in engine: everyday edit instructions carried out on I420 frames, on the CPU.

A prompt becomes a *plan* in :meth:`BuiltinEngine.set_prompt`:

1. :func:`.instructions.parse` turns the English into :class:`~.frame.EditSpec`
   values ("black and white with sunglasses" -> ``black_and_white``,
   ``sunglasses``);
2. each spec's ``kind`` is looked up in :data:`REGISTRY` (the ``EDITS`` of
   :mod:`.styles`, :mod:`.regions`, :mod:`.overlays` and :mod:`.scene`,
   merged) and its factory makes the :class:`~.frame.Edit`;
3. the edits are sorted by :attr:`~.frame.Edit.stage` (regions, styles,
   objects, scene, privacy; ties keep the prompt's order).

:meth:`BuiltinEngine.process` wraps each frame in a
:class:`~.frame.FrameContext`, runs the :class:`~.face.FaceTracker` when
some edit of the plan ``needs_face``, and applies the edits in order, in
place. Anything the engine cannot do is refused with
:class:`~decart_cli.errors.UnsupportedPrompt` listing what it can do, and the
previous plan stays.

A reference image (:meth:`BuiltinEngine.set_image`, see :mod:`.reference`)
is drawn picture-in-picture in the top-right corner after the plan's edits,
unless an edit of the plan uses it (``uses_image``: "use the image as the
background").

Time: ``ctx.t`` is frame-based, ``index / FPS`` with :data:`FPS` = 25 (the
realtime models' rate), not wall-clock: animations (snow, rain, the bird)
advance the same amount per edited frame whatever the machine's speed, and
tests are deterministic. When the server drops frames under load,
animations slow down rather than jump.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from decart_cli.errors import EngineError, UnsupportedPrompt

from . import atmosphere, backdrops, looks, overlays, paintings, reference, regions, scene, styles, wardrobe
from .face import FaceTracker, detect_faces
from .frame import Edit, EditSpec, Face, FrameContext
from .instructions import compile_all, describe, read, refusal
from .reference import Reference

log = logging.getLogger("decart.engine")

FPS = 25.0
"""Frames per second assumed for ``ctx.t`` (frame-based time, see the module docstring)."""

NO_FACE_GRACE = 25
"""Frames without a face (1 s at :data:`FPS`) before "no face found" is logged: the tracker
needs a couple of frames to confirm a face, which is not worth a log line."""

Factory = Callable[[EditSpec], Edit]


def merge_registries(*tables: Mapping[str, Factory]) -> dict[str, Factory]:
    """One ``kind -> factory`` table from several; a kind defined twice is a bug (ValueError)."""
    merged: dict[str, Factory] = {}
    for table in tables:
        for kind, factory in table.items():
            if kind in merged:
                raise ValueError(f"edit kind {kind!r} is registered twice")
            merged[kind] = factory
    return merged


REGISTRY: dict[str, Factory] = merge_registries(
    styles.EDITS, regions.EDITS, overlays.EDITS, scene.EDITS,
    paintings.EDITS, atmosphere.EDITS, looks.EDITS, wardrobe.EDITS, backdrops.EDITS,
)
"""Every edit the built-in engine can make, by :attr:`EditSpec.kind`."""


@dataclass(frozen=True, eq=False)
class Plan:
    """What one prompt asks for, ready to run: specs and their edits in running order."""

    specs: tuple[EditSpec, ...]
    edits: tuple[Edit, ...]
    description: str
    notes: tuple[str, ...] = ()
    """How the prompt was read where that is not literal (:attr:`.instructions.Reading.notes`)."""

    @property
    def needs_face(self) -> bool:
        return any(edit.needs_face for edit in self.edits)

    @property
    def uses_image(self) -> bool:
        """True if an edit places the reference image itself (then there is no picture-in-picture)."""
        return any(getattr(edit, "uses_image", False) for edit in self.edits)


PASSTHROUGH = Plan((), (), "passthrough")
"""The plan of an empty prompt: frames pass unchanged."""


class BuiltinEngine:
    """Instruction-driven edits on ``yuv420p`` frames (see the module docstring).

    ``registry`` replaces :data:`REGISTRY` (for tests and experiments).
    :meth:`set_prompt` builds the whole new plan first and then swaps it in
    one assignment, so a frame being edited on another thread sees either
    the old plan or the new one; :meth:`set_image` does the same with the
    reference image. Face tracking and frame counting belong to
    :meth:`process`, which must be called from one thread at a time (the
    server uses one worker thread per session for both calls).
    """

    pixel_format = "yuv420p"

    def __init__(self, registry: Mapping[str, Factory] | None = None) -> None:
        self.registry: Mapping[str, Factory] = REGISTRY if registry is None else registry
        self._plan = PASSTHROUGH
        self._reference: Reference | None = None
        self._index = 0
        self._tracker: FaceTracker | None = None
        self._tracked_last_frame = False
        self._face_plan: Plan | None = None  # the plan the face log notes below are about
        self._faceless = 0
        self._face_note = ""  # "" | "missing" (logged) | "found" (logged after missing)
        self._failed: set[int] = set()  # id() of edits whose failure was logged
        self._glance: np.ndarray | None = None  # the last frame's luma while nothing tracks faces (see _face_in_view)

    # -- prompts ---------------------------------------------------------------

    def plan(self, prompt: str) -> Plan:
        """The plan for ``prompt`` without switching to it; raises UnsupportedPrompt."""
        reading = read(prompt)
        specs = reading.specs
        built: list[tuple[EditSpec, Edit]] = []
        for spec in specs:
            factory = self.registry.get(spec.kind)
            if factory is None:
                raise refusal(spec.text or spec.kind, prompt)
            try:
                edit = factory(spec)
            except UnsupportedPrompt:
                raise
            except Exception as exc:
                log.exception("cannot make the %s edit for %r", spec.kind, spec.text)
                raise UnsupportedPrompt(f"the local engine failed to set up '{spec.text or spec.kind}' ({type(exc).__name__}: {exc})") from exc
            built.append((spec, edit))
        built.sort(key=lambda pair: pair[1].stage)  # stable: ties keep the prompt's order
        ordered = tuple(spec for spec, _ in built)
        return Plan(ordered, tuple(edit for _, edit in built), describe(list(ordered)), tuple(reading.notes))

    def warm(self) -> None:
        """Compile the parser's table now (~0.4 s), so the first prompt does not wait for it (see :class:`.instructions.LazyPattern`)."""
        compile_all()

    def set_prompt(self, prompt: str) -> None:
        """Switch to the edits ``prompt`` asks for ("" = none).

        Raises :class:`UnsupportedPrompt` naming the part it cannot do and
        listing what it can; the previous edits stay in effect. A plan that
        needs a face learns at once whether one is in view (from the last
        frame), so :meth:`notice` can say "waiting for a face" in the
        prompt's acknowledgement.
        """
        plan = self.plan(prompt)
        if plan.needs_face:
            present = self._face_in_view()
            self._face_plan, self._face_note = plan, "missing" if present is False else ""
            self._faceless = NO_FACE_GRACE if present is False else 0
        self._plan = plan

    def _face_in_view(self) -> bool | None:
        """Whether the last frame showed a face (None: no frame yet)."""
        if self._tracked_last_frame and self._tracker is not None:
            return self._tracker.face is not None
        if self._glance is None:
            return None
        return bool(detect_faces(self._glance))

    def notice(self) -> str:
        """What the user should know about the current edit beyond "applied" ("" if nothing).

        How the prompt was read where that is not literal ("'sombrero' is
        drawn as a plain hat", "read 'sunglases' as 'sunglasses'"), after
        "waiting for a face" while a face-anchored edit has none in view, then
        "face found". It changes as frames show or lose the face; the
        server passes each change on to the client.
        """
        plan = self._plan
        notes = list(plan.notes)
        if plan.needs_face and plan is self._face_plan and self._face_note:
            notes.insert(0, "waiting for a face" if self._face_note == "missing" else "face found")
        return "; ".join(notes)

    def describe(self) -> str:
        """The current plan in a few words, e.g. ``"black and white + sunglasses"`` or ``"passthrough"``.

        With a reference image and no edit using it, ``"+ picture-in-picture"``
        is added (alone: ``"picture-in-picture"``); a plan that uses the image
        before one is set says ``"(no image yet)"``.
        """
        plan, ref = self._plan, self._reference
        if plan.uses_image:
            return plan.description if ref is not None else f"{plan.description} (no image yet)"
        if ref is None:
            return plan.description
        return f"{plan.description} + picture-in-picture" if plan.edits else "picture-in-picture"

    @property
    def specs(self) -> tuple[EditSpec, ...]:
        """The current plan's specs, in running order."""
        return self._plan.specs

    # -- the reference image ------------------------------------------------------

    def set_image(self, image: np.ndarray | None) -> None:
        """Use ``image`` (an ``(H, W, 3)`` uint8 BGR array, any size) as the reference image; None clears it.

        The image is copied; its I420 versions are made on the first frame
        that needs them and kept. Raises ValueError for any other array (the
        previous image stays).
        """
        self._reference = None if image is None else Reference(image)

    @property
    def has_image(self) -> bool:
        """True while a reference image is set."""
        return self._reference is not None

    # -- frames ----------------------------------------------------------------

    def process(self, image: np.ndarray) -> np.ndarray:
        """Apply the current plan to an I420 ``(H*3//2, W)`` uint8 frame, in place.

        With a reference image set and no edit of the plan using it, the
        picture-in-picture is drawn last, over the edits. Returns the same
        array (or an edited contiguous copy when ``image`` was not contiguous
        or writeable). Raises :class:`EngineError` for an array that is not
        I420.
        """
        plan = self._plan  # read once: set_prompt may swap it meanwhile
        ref = self._reference  # likewise for set_image
        index = self._index
        self._index += 1
        if image.dtype != np.uint8 or image.ndim != 2 or image.shape[0] % 3 or image.shape[1] % 2 or image.shape[0] < 3:
            raise EngineError(
                "the built-in engine needs an I420 (yuv420p) uint8 frame of shape (H*3/2, W), "
                f"got {image.dtype} {image.shape}"
            )
        if not plan.edits and ref is None:
            self._tracked_last_frame = False
            self._glance = image[: image.shape[0] * 2 // 3]  # returned unchanged: no copy needed
            return image
        if not image.flags.c_contiguous or not image.flags.writeable:
            image = np.array(image, order="C")
        ctx = FrameContext.wrap(image, index=index, t=index / FPS)
        if ref is not None:
            ctx.cache[reference.CACHE_KEY] = ref
        if plan.needs_face:
            ctx.face = self._track(ctx, plan)
            self._glance = None
        else:
            self._tracked_last_frame = False
            self._glance = cv2.resize(ctx.y, (ctx.width // 4, ctx.height // 4), interpolation=cv2.INTER_AREA)  # ~0.1 ms
        for edit in plan.edits:
            try:
                edit.apply(ctx)
            except Exception:  # one broken edit must not end the stream
                if id(edit) not in self._failed:
                    self._failed.add(id(edit))
                    log.exception("edit %r failed; it is skipped on frames where it fails", edit)
        if ref is not None and not plan.uses_image:
            try:
                ref.draw_pip(ctx)
            except Exception:
                if id(ref) not in self._failed:
                    self._failed.add(id(ref))
                    log.exception("the picture-in-picture of %r failed; it is skipped on frames where it fails", ref)
        return image

    def _track(self, ctx: FrameContext, plan: Plan) -> Face | None:
        """The tracked face for this frame, logging once when none is found (and once when one is)."""
        if self._tracker is None:
            self._tracker = FaceTracker(fps=FPS)
        elif not self._tracked_last_frame:
            self._tracker.reset()  # frames went by untracked: the old box is stale
        self._tracked_last_frame = True
        if plan is not self._face_plan:
            self._face_plan, self._faceless, self._face_note = plan, 0, ""
        face = self._tracker.update(ctx)
        if face is None:
            self._faceless += 1
            if self._faceless >= NO_FACE_GRACE and not self._face_note:
                self._face_note = "missing"
                log.info("no face found: face-anchored edits wait for one")
        else:
            self._faceless = 0
            if self._face_note == "missing":
                self._face_note = "found"
                log.info("face found: face-anchored edits follow it")
        return face
