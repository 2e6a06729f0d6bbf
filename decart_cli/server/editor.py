"""The server's frame path: received track → engine (in a thread) → edited track.

:class:`Editor` runs one session's engine on one worker thread, so prompts
and frames reach it in order and never run at once; the engine is built
only when the session starts editing (a client waiting in the queue has
none). :class:`EditedTrack` is the track sent back to the client: it keeps
only the newest received frame, so when editing is slower than the input
the server drops frames instead of building latency.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..engine import Engine

log = logging.getLogger(__name__)


class PromptChecker:
    """One engine the server keeps to check prompts for sessions that have no engine yet (it edits nothing); thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Run the engine's optional ``warm()``: work it would otherwise do on the first prompt (blocking: call it off the event loop)."""
        warm = getattr(self.engine, "warm", None)
        if callable(warm):
            with self._lock:
                warm()

    def check(self, prompt: str) -> str:
        """Raise UnsupportedPrompt if an engine would refuse ``prompt``; else the engine's notice about it (see :func:`notice_of`)."""
        with self._lock:
            self.engine.set_prompt(prompt)
            return notice_of(self.engine)


def notice_of(engine: Engine) -> str:
    """The engine's optional ``notice()`` (what the user should know about the current edit), or "" without one."""
    notice = getattr(engine, "notice", None)
    return str(notice() or "") if callable(notice) else ""


class Editor:
    """One session's engine, driven from asyncio on a single worker thread.

    The engine is built by :meth:`start` (from ``factory``, on the worker
    thread). Before that, a prompt is checked by ``checker`` and kept, and
    an image is kept; :meth:`start` gives both to the new engine. Without a
    checker, the first prompt or image builds the engine.
    """

    def __init__(self, factory: Callable[[], Engine], *, checker: PromptChecker | None = None) -> None:
        self._factory = factory
        self._checker = checker
        self.engine: Engine | None = None
        self.on_notice: Callable[[str], None] = lambda notice: None
        """Called (on the event loop) when the engine's notice changes as frames are edited ("waiting for a face")."""
        self._notice = ""
        """The notice last told: in a prompt's answer, or through :attr:`on_notice`."""
        self._notice_now = ""
        self._prompt: str | None = None
        self._image: np.ndarray | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decart-engine")
        self.frames_edited = 0

    async def start(self) -> None:
        """Build the engine (once), with the prompt and image given so far."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._engine)

    def _engine(self) -> Engine:
        """The engine, built now if there is none yet (on the worker thread)."""
        if self.engine is None:
            engine = self._factory()
            if self._image is not None:
                engine.set_image(self._image)  # type: ignore[attr-defined]
            if self._prompt is not None:
                engine.set_prompt(self._prompt)
            self.engine = engine
        return self.engine

    async def set_prompt(self, prompt: str) -> str:
        """Change the edit; raises UnsupportedPrompt (the previous edit stays). Returns the engine's notice about it ("" if none)."""
        notice = await asyncio.get_running_loop().run_in_executor(self._executor, self._set_prompt, prompt)
        self._notice = self._notice_now = notice
        return notice

    def _set_prompt(self, prompt: str) -> str:
        if self.engine is None and self._checker is not None:
            notice = self._checker.check(prompt)
        else:
            engine = self._engine()
            engine.set_prompt(prompt)
            notice = notice_of(engine)
        self._prompt = prompt
        return notice

    @property
    def accepts_image(self) -> bool:
        """Whether the engine takes a reference image (has ``set_image``)."""
        engine = self.engine if self.engine is not None else self._checker.engine if self._checker is not None else None
        return engine is not None and callable(getattr(engine, "set_image", None))

    async def set_image(self, image: np.ndarray | None) -> None:
        """Give the engine a reference image (BGR array), or None to clear it."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._set_image, image)

    def _set_image(self, image: np.ndarray | None) -> None:
        if self.engine is None and self._checker is not None:
            self._image = image
        else:
            self._engine().set_image(image)  # type: ignore[attr-defined]

    def _edit(self, frame: av.VideoFrame, size: tuple[int, int] | None = None) -> av.VideoFrame:
        engine = self._engine()
        fmt = engine.pixel_format
        if size is not None and (frame.width, frame.height) != size:
            image = engine.process(frame.reformat(width=size[0], height=size[1], format=fmt).to_ndarray())
        else:
            image = engine.process(frame.to_ndarray(format=fmt))
        out = av.VideoFrame.from_ndarray(image, format=fmt)
        out.pts = frame.pts
        out.time_base = frame.time_base
        self.frames_edited += 1
        self._notice_now = notice_of(engine)
        return out

    async def edit(self, frame: av.VideoFrame, size: tuple[int, int] | None = None) -> av.VideoFrame:
        """The edited copy of ``frame`` (scaled to ``size`` first if given), with its ``pts`` and ``time_base``.

        Calls :attr:`on_notice` when the engine's notice changed with this frame.
        """
        edited = await asyncio.get_running_loop().run_in_executor(self._executor, self._edit, frame, size)
        if self._notice_now != self._notice:
            self._notice = self._notice_now
            self.on_notice(self._notice)
        return edited

    def close(self) -> None:
        """Let the worker thread finish; pending edits are abandoned."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class EditedTrack(MediaStreamTrack):
    """The edited version of a received video track; newest frame wins.

    Editing runs ahead of sending: an edit loop takes the newest received
    frame whenever the engine is free, and :meth:`recv` hands out the newest
    edited frame. So the engine works on the next frame while the sender
    encodes the previous one, and an engine slower than the frame interval
    still delivers as many frames per second as it can edit (at 40 ms per
    edit, ~24 fps measured instead of the ~21 that edit-then-encode allowed). Frames
    are dropped (counted in ``frames_skipped``), never queued.
    """

    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack | None,
        editor: Editor,
        *,
        size: tuple[int, int] | None = None,
        on_first_frame: Callable[[], None] | None = None,
        on_frame: Callable[[av.VideoFrame], None] | None = None,
    ) -> None:
        super().__init__()
        self._editor = editor
        self._on_frame = on_frame
        """Called with every edited frame :meth:`recv` hands out (the session's viewers take a copy)."""
        self._size = size
        """Frames are scaled to this ``(width, height)`` before editing (the model's size); None keeps theirs."""
        self._on_first_frame = on_first_frame
        self._latest: av.VideoFrame | None = None
        """Newest received frame not yet taken by the edit loop."""
        self._arrived = asyncio.Event()
        self._edited: av.VideoFrame | None = None
        """Newest edited frame not yet returned by recv()."""
        self._ready = asyncio.Event()
        self._source_ended = False
        self._edit_ended = False
        self._edit_error: BaseException | None = None
        self.frames_in = 0
        self.frames_out = 0
        self.frames_skipped = 0
        """Frames never sent: replaced by a newer one before being edited, or after."""
        self.received_size: tuple[int, int] | None = None
        """Size of the last frame received (before scaling to ``size``)."""
        self._pump_task: asyncio.Task[None] | None = None
        self._edit_task = asyncio.create_task(self._edit_loop(), name="decart-edit-loop")
        if source is not None:
            self.attach(source)

    @property
    def has_source(self) -> bool:
        """Whether a received track feeds this one yet."""
        return self._pump_task is not None

    def attach(self, source: MediaStreamTrack) -> None:
        """Start editing ``source``'s frames (once: a track has one source).

        Until then :meth:`recv` waits: a sender may start before the client
        has published what is to be edited.
        """
        if self._pump_task is not None:
            raise RuntimeError("this edited track already has a source")
        self._source = source
        self._pump_task = asyncio.create_task(self._pump(), name="decart-edited-pump")

    async def _pump(self) -> None:
        # Draining the source as fast as frames arrive keeps aiortc's
        # unbounded receive queue empty; only the newest frame is kept.
        try:
            while True:
                frame = await self._source.recv()
                self.frames_in += 1
                self.received_size = (frame.width, frame.height)
                if self._latest is not None:
                    self.frames_skipped += 1
                self._latest = frame
                self._arrived.set()
        except MediaStreamError:
            pass
        finally:
            self._source_ended = True
            self._arrived.set()

    async def _edit_loop(self) -> None:
        # Edits the newest received frame as soon as the engine is free,
        # independently of when the sender asks for one (overlap with encoding).
        try:
            while True:
                while self._latest is None:
                    if self._source_ended:
                        return
                    self._arrived.clear()
                    await self._arrived.wait()
                frame, self._latest = self._latest, None
                edited = await self._editor.edit(frame, self._size)
                if self._edited is not None:
                    self.frames_skipped += 1
                self._edited = edited
                self._ready.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # raised to the sender by recv(), as when recv() edited itself
            self._edit_error = exc
        finally:
            self._edit_ended = True
            self._ready.set()

    async def recv(self) -> av.VideoFrame:
        """The next edited frame; raises MediaStreamError when the input has ended."""
        while self._edited is None:
            if self._edit_error is not None:
                error, self._edit_error = self._edit_error, None
                self.stop()
                raise error
            if self._edit_ended or self.readyState != "live":
                self.stop()
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        edited, self._edited = self._edited, None
        self.frames_out += 1
        if self.frames_out == 1 and self._on_first_frame is not None:
            self._on_first_frame()
        if self._on_frame is not None:
            self._on_frame(edited)
        return edited

    def stop(self) -> None:
        """Stop pumping the source and editing, and end this track."""
        for task in (self._pump_task, self._edit_task):
            if task is not None and not task.done():
                task.cancel()
        super().stop()
