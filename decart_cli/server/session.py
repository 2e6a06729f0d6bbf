"""What every server session does, whatever carries its media.

:class:`ServerSession` owns one client's control WebSocket and its
:class:`~.editor.Editor`: it reads messages (a malformed one is answered with
``error`` and the session goes on), applies prompts and reference images
with rate and length limits, acknowledges them, and tells the client when
edited frames start. Its subclasses carry the media:
:class:`~.webrtc.WebRTCSession` (legacy: offer / answer on this socket) and
:class:`~.livekit_session.LiveKitSession` (today's: a LiveKit room).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import warnings

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import protocol as p
from ..aio import cancelled
from ..config import ServeConfig
from ..engine import Engine
from ..errors import ProtocolError, Refused, UnsupportedPrompt
from ..models import Model
from .editor import Editor, PromptChecker
from .sockets import Socket
from .viewers import Viewers

log = logging.getLogger("decart.server")

MAX_ERROR_TEXT = 300
"""Longest ``error`` text sent back (client-supplied names are cut)."""
MAX_IMAGE_SIDE = 4096
"""Largest width or height of a reference image, in pixels."""


def cut(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"



async def discard(track: Any) -> int:
    """Read ``track`` until it ends, keeping nothing (aiortc queues a track nobody reads without bound); the frames read."""
    from aiortc.mediastreams import MediaStreamError

    count = 0
    try:
        while True:
            await track.recv()
            count += 1
    except MediaStreamError:
        return count

async def send_message(ws: Socket, message: p.Message) -> None:
    """Send ``message`` on ``ws``; a closed socket is not an error (its reader sees the close)."""
    await ws.send_quietly(p.serialize(message))


def check_media_sections(sdp: str, limit: int) -> None:
    """Raise ProtocolError when an offer has more than ``limit`` ``m=`` sections (each costs a transport)."""
    sections = sum(1 for line in sdp.splitlines() if line.startswith("m="))
    if sections > limit:
        raise ProtocolError(f"the offer has {sections} media sections; at most {limit} are accepted")


class TokenBucket:
    """A rate limit: ``rate`` tokens a second, at most ``burst`` saved; ``rate <= 0`` never limits."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        if self.rate <= 0:
            return True
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def decode_image(data: str) -> np.ndarray:
    """A reference image (base64 PNG, JPEG, WebP...; a ``data:`` URL too) as a BGR array.

    Raises ProtocolError saying what is wrong with it.
    """
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("image_data is not valid base64") from None
    return decode_image_bytes(raw, "image_data")


# The size is checked here (MAX_IMAGE_SIDE) before anything is decoded; Pillow's
# own warning about big images would only repeat that on stderr.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _not_an_image(what: str) -> ProtocolError:
    return ProtocolError(f"{what} is not an image this server can read (PNG, JPEG, WebP, BMP)")


def image_size(raw: bytes, what: str) -> tuple[int, int]:
    """An encoded image's (width, height) from its header, no pixel decoded; ProtocolError when it is no image or far too big."""
    if not raw:
        raise _not_an_image(what)
    try:
        with Image.open(io.BytesIO(raw)) as image:
            return image.size
    except Image.DecompressionBombError:  # Pillow's own limit, ~179 million pixels: over MAX_IMAGE_SIDE too
        raise ProtocolError(f"the image has over 179 million pixels; at most {MAX_IMAGE_SIDE} pixels a side are accepted") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise _not_an_image(what) from None


def decode_image_bytes(raw: bytes, what: str) -> np.ndarray:
    """An encoded image (PNG, JPEG, WebP...) as a BGR array; ProtocolError naming ``what`` when it is none.

    The size is read from the header first: an image over
    :data:`MAX_IMAGE_SIDE` a side is refused before any pixel is decoded (a
    560 KB PNG may hold 12000x12000 pixels, 430 MB decoded). Blocking: call
    it off the event loop.
    """
    width, height = image_size(raw, what)
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ProtocolError(f"the image is {width}x{height}; at most {MAX_IMAGE_SIDE} pixels a side are accepted")
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise _not_an_image(what)
    return image


class ServerSession:
    """One client's control socket and engine; subclasses carry the media."""

    def __init__(
        self,
        ws: Socket,
        model: Model,
        engine: Callable[[], Engine],
        *,
        checker: PromptChecker | None = None,
        loopback: bool,
        find_file: Callable[[str], bytes] | None = None,
        max_prompt_length: int = 1000,
        idle_timeout: float = 0.0,
        prompt_rate: float = 0.0,
        prompt_burst: int = 20,
        max_message_bytes: int = ServeConfig.max_message_bytes,
    ) -> None:
        self.ws = ws
        self.max_message_bytes = max_message_bytes
        """The socket's message limit (for the log line when a client goes over it)."""
        self.model = model
        self.id = uuid.uuid4().hex[:12]
        self.editor = Editor(engine, checker=checker)
        """The session's engine: built by ``editor.start()`` when it starts editing (see :class:`~.editor.Editor`)."""
        self.editor.on_notice = self._notice_changed
        self.prompt: str | None = None
        """The prompt the engine last accepted."""
        self.notice = ""
        """The engine's notice about it, as last told to the client."""
        self.viewers = Viewers()
        """Who watches this session receive-only (``/subscribe/<id>``, or the room's viewers)."""
        self.loopback = loopback
        self.max_prompt_length = max_prompt_length
        self.idle_timeout = idle_timeout
        self.prompts = TokenBucket(prompt_rate, prompt_burst)
        self.find_file = find_file
        """The content of an uploaded file by id (``image_ref``); raises Refused when there is none."""
        self.generating_since: float | None = None
        """Monotonic time of the first edited frame sent, None before."""
        self._tasks: set[asyncio.Task[Any]] = set()

    async def send(self, message: p.Message) -> None:
        """Send a message; a closed socket is not an error here."""
        await send_message(self.ws, message)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of this session (cancelled when it closes)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        """Called once before messages are read (subclasses greet the client here)."""

    async def run(self) -> None:
        """Serve messages until the client goes away (or stays idle too long)."""
        try:
            await self.start()
            async for raw in self.ws:
                try:
                    message = p.parse(raw)
                except ProtocolError as exc:
                    await self.send(p.Error(error=cut(f"invalid message: {exc}")))
                    continue
                except Exception as exc:  # pragma: no cover - parse raises only ProtocolError (fuzzed)
                    log.debug("session %s: parse failed", self.id, exc_info=True)
                    await self.send(p.Error(error=f"invalid message ({exc.__class__.__name__})"))
                    continue
                try:
                    await self.handle(message)
                except ProtocolError as exc:
                    await self.send(p.Error(error=cut(str(exc))))
                except Exception as exc:  # one bad message must not end the session or the server
                    log.warning("session %s: %s failed: %s", self.id, message.type or "message", exc.__class__.__name__)
                    log.debug("session %s: failure detail", self.id, exc_info=True)
                    await self.send(p.Error(error=f"the server could not handle this {message.type or 'message'} ({exc.__class__.__name__})"))
        finally:
            if self.ws.too_big:
                log.info("session %s: closed: a message was larger than %s bytes", self.id, self.max_message_bytes)
            await self.close()

    async def handle(self, message: p.Message) -> None:
        """Act on one client message (prompts and images here; media in subclasses)."""
        if isinstance(message, p.Prompt):
            await self.on_prompt(message.prompt)
        elif isinstance(message, p.SetImage):
            await self.on_set_image(message)
        elif isinstance(message, p.Unknown):
            log.debug("session %s: ignoring message of unknown type %r", self.id, message.kind[:60])
        else:
            await self.handle_media(message)

    async def handle_media(self, message: p.Message) -> None:
        """A message about media; the subclass knows which it takes."""
        raise ProtocolError(f"{message.type!r} is not a message this session takes")

    async def on_prompt(self, text: str) -> None:
        """Apply a prompt and acknowledge it by its exact text."""
        if not self.prompts.take():
            await self.send(p.PromptAck(prompt=text, success=False, error=self._too_many()))
            return
        error = await self._apply_prompt(text)
        if error is None:
            log.info("session %s: prompt %r%s", self.id, text[:80], f" ({self.notice})" if self.notice else "")
        await self.send(p.PromptAck(prompt=text, success=error is None, error=error, note=self.notice or None if error is None else None))

    async def _apply_prompt(self, text: str) -> str | None:
        """Set the engine's prompt; the refusal's text, or None when applied (then :attr:`prompt` and :attr:`notice` are its)."""
        if len(text) > self.max_prompt_length:
            return f"prompt is {len(text)} characters; the limit is {self.max_prompt_length}"
        try:
            notice = await self.editor.set_prompt(text)
        except UnsupportedPrompt as exc:
            log.info("session %s: refused prompt %r", self.id, text[:80])
            return str(exc)
        self.prompt, self.notice = text, notice
        return None

    def _notice_changed(self, notice: str) -> None:
        """The engine's notice about the current prompt changed ("waiting for a face"): its ack again, with the new note."""
        if self.prompt is None:
            return
        log.info("session %s: %s", self.id, notice or "notice cleared")
        self.spawn(self.send(p.PromptAck(prompt=self.prompt, success=True, error=None, note=notice)))

    async def on_set_image(self, message: p.SetImage) -> None:
        """A reference image (or ``null`` to clear it), with an optional prompt; one ack for both.

        The image is refused when the model takes none, or the engine has no
        ``set_image``; a clear (``null``) always succeeds. A refused image
        or prompt leaves both as they were.
        """
        if not self.prompts.take():
            await self.send(p.SetImageAck(success=False, error=self._too_many()))
            return
        try:
            # Base64 and image decoding take up to ~100 ms for a big image: off the loop.
            image = await asyncio.to_thread(self._image_for, message.image_data, message.image_ref)
        except (ProtocolError, Refused) as exc:
            await self.send(p.SetImageAck(success=False, error=cut(str(exc))))
            return
        if message.prompt is not None:
            error = await self._apply_prompt(message.prompt)
            if error is not None:
                await self.send(p.SetImageAck(success=False, error=error))
                return
        if self.editor.accepts_image:
            await self.editor.set_image(image)
        log.info("session %s: reference image %s", self.id, "cleared" if image is None else f"{image.shape[1]}x{image.shape[0]}")
        await self.send(p.SetImageAck(success=True, error=None))

    def _image_for(self, data: str | None, ref: str | None) -> np.ndarray | None:
        """The image of a ``set_image`` (``image_data``, or the uploaded file ``image_ref``); None clears it."""
        if data is None and ref is None:
            return None
        if not self.model.accepts_image:
            raise ProtocolError(f"model {self.model.name} takes no reference image; send image_data null, or use a model that takes one (see `decart models`)")
        if not self.editor.accepts_image:
            raise ProtocolError("this server's engine takes no reference images")
        if ref is None:
            return decode_image(data or "")
        if self.find_file is None:
            raise ProtocolError("this server keeps no uploaded files; send image_data")
        return decode_image_bytes(self.find_file(ref), f"file {ref[:40]!r}")

    def _too_many(self) -> str:
        bucket = self.prompts
        return f"too many prompts: the limit is {bucket.rate:g} a second (bursts of {bucket.burst}); send it again later"

    def generation_started(self) -> None:
        """The first edited frame is on its way: say so (once)."""
        if self.generating_since is not None:
            return
        self.generating_since = time.monotonic()
        log.info("session %s: generation started", self.id)
        self.spawn(self.send(p.GenerationStarted()))

    async def close(self) -> None:
        """End the viewers' tracks, release the engine thread and this session's tasks (subclasses release media first)."""
        self.viewers.close()
        self.editor.close()
        await cancelled(*self._tasks)
