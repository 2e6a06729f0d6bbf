"""The server's frame path: received track → engine (in a thread) → edited track.

:class:`Editor` runs one session's engine on one worker thread, so prompts
and frames reach it in order and never run at once. :class:`EditedTrack`
is the track sent back to the client: it keeps only the newest received
frame, so when editing is slower than the input the server drops frames
instead of building latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..engine import Engine

log = logging.getLogger(__name__)


class Editor:
    """One session's engine, driven from asyncio on a single worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decart-engine")
        self.frames_edited = 0

    async def set_prompt(self, prompt: str) -> None:
        """Change the edit; raises UnsupportedPrompt (the previous edit stays)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.engine.set_prompt, prompt)

    def _edit(self, frame: av.VideoFrame) -> av.VideoFrame:
        fmt = self.engine.pixel_format
        image = self.engine.process(frame.to_ndarray(format=fmt))
        out = av.VideoFrame.from_ndarray(image, format=fmt)
        out.pts = frame.pts
        out.time_base = frame.time_base
        self.frames_edited += 1
        return out

    async def edit(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The edited copy of ``frame``, with its ``pts`` and ``time_base``."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._edit, frame)

    def close(self) -> None:
        """Let the worker thread finish; pending edits are abandoned."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class EditedTrack(MediaStreamTrack):
    """The edited version of a received video track; newest frame wins."""

    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack,
        editor: Editor,
        *,
        on_first_frame: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._source = source
        self._editor = editor
        self._on_first_frame = on_first_frame
        self._latest: av.VideoFrame | None = None
        self._arrived = asyncio.Event()
        self._source_ended = False
        self._pump_task = asyncio.create_task(self._pump(), name="decart-edited-pump")
        self.frames_in = 0
        self.frames_out = 0
        self.frames_skipped = 0

    async def _pump(self) -> None:
        # Draining the source as fast as frames arrive keeps aiortc's
        # unbounded receive queue empty; only the newest frame is kept.
        try:
            while True:
                frame = await self._source.recv()
                self.frames_in += 1
                if self._latest is not None:
                    self.frames_skipped += 1
                self._latest = frame
                self._arrived.set()
        except MediaStreamError:
            pass
        finally:
            self._source_ended = True
            self._arrived.set()

    async def recv(self) -> av.VideoFrame:
        """The next edited frame; raises MediaStreamError when the input has ended."""
        while self._latest is None:
            if self._source_ended or self.readyState != "live":
                self.stop()
                raise MediaStreamError
            self._arrived.clear()
            await self._arrived.wait()
        frame, self._latest = self._latest, None
        edited = await self._editor.edit(frame)
        self.frames_out += 1
        if self.frames_out == 1 and self._on_first_frame is not None:
            self._on_first_frame()
        return edited

    def stop(self) -> None:
        """Stop pumping the source and end this track."""
        if not self._pump_task.done():
            self._pump_task.cancel()
        super().stop()
