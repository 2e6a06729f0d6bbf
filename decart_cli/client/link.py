"""The seam between a session and an editing server: a :class:`Link`.

A link is one connection to a server, of one protocol generation:
:class:`~.webrtc.WebRTCLink` (legacy: WebSocket signaling and one aiortc
peer connection) or :class:`~.livekit.LiveKitLink` (today's: a control
channel and a LiveKit room). The session above it keeps what outlives a
connection (the source, the sinks, the prompt and image the user wants,
reconnects) and replaces the link when it drops.

What a link promises:

* :meth:`Link.open` connects, has its owner send the initial state
  (:meth:`LinkOwner.initial_state`, acknowledged before any media) and
  brings media up; afterwards :attr:`Link.remote` is the edited video track.
  :meth:`Link.begin` starts the steps that need no media (the control
  channel, the initial state, today's room and camera track) beforehand, in
  the background, so they overlap the opening of the source and the sinks;
  :meth:`Link.open` then finishes them.
* :attr:`Link.closed` resolves with the error that ended it: the server
  closed the socket, the media connection failed, or the server sent an
  ``error`` before the first edited frame (the link did not start).
* :meth:`Link.request_prompt` and :meth:`Link.request_image` return once
  the server acknowledged, and raise :class:`~decart_cli.errors.PromptRejected`
  when it refused.
* :attr:`Link.watch_token` is the subscribe token of the session, once the
  server has named it (see :mod:`.watch_token`).
* Opened with no outbound track, a link only receives: a viewer's
  (``decart watch``), made by :func:`decart_cli.client.viewer.open_viewer`.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Awaitable
from typing import Any, ClassVar, Protocol, TypeVar

from aiortc import MediaStreamTrack

from .. import protocol as p
from ..errors import DecartError
from ..protocol.server_errors import error_from_server
from .signaling import Signaling
from .race import Overtaken, unless
from ..aio import cancelled

T = TypeVar("T")


class LinkOwner(Protocol):
    """What a link asks of the session that owns it (all on the event loop)."""

    async def initial_state(self, link: Link) -> None:
        """Send the prompt (and image) the user wants, acknowledged, before media starts."""
        ...

    def media_starting(self, link: Link) -> None:
        """Media is about to flow (hook the recorder or a probe in now)."""
        ...

    def on_message(self, message: p.Message) -> None:
        """A control message the session may show (progress, ticks, errors after the first frame)."""
        ...


class Link(abc.ABC):
    """One connection to an editing server (see the module docstring)."""

    transport: ClassVar[str]
    """``"webrtc"`` or ``"livekit"``: what the status line and summary call it."""

    def __init__(self, url: str, owner: LinkOwner, *, connect_timeout: float, ack_timeout: float) -> None:
        self.url = url
        self.owner = owner
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.signaling = Signaling(url, connect_timeout=connect_timeout, on_message=self._on_message)
        self.closed: asyncio.Future[DecartError] = asyncio.get_running_loop().create_future()
        self.first_frame = asyncio.Event()
        """Set (by the session) when the first edited frame comes back over this link."""
        self.remote: MediaStreamTrack | None = None
        self.media_failure: DecartError | None = None
        """The error :attr:`closed` resolves with when the media connection (not the socket) failed."""
        self.watch_token: str | None = None
        """The session's subscribe token (for ``decart watch``), once the server has named the session."""
        self._watchers: list[asyncio.Future[Any]] = []
        self.state_sent = False
        """Whether a prompt or an image went to the server over this link (else a new link of today's protocol asks for passthrough)."""
        self.steps: dict[str, float] = {}
        """When (``time.monotonic()``) each step of :meth:`open` finished, by name: the breakdown ``decart bench`` reports."""
        self._preparing: asyncio.Task[None] | None = None

    def step(self, name: str) -> None:
        """Note that the step ``name`` of opening this link finished now (the first time only)."""
        self.steps.setdefault(name, time.monotonic())

    def begin(self, *, sending: bool = True) -> None:
        """Start the steps of :meth:`open` that need no media (:meth:`_prepare`) now, in the background; :meth:`open` waits for them (a second call changes nothing)."""
        if self._preparing is None:
            self._preparing = asyncio.ensure_future(self._prepare(sending=sending))

    async def open(self, outbound: MediaStreamTrack | None, audio: MediaStreamTrack | None = None) -> None:
        """Connect, send the initial state, bring media up (``outbound``'s video, and ``audio`` if given); raise DecartError when it cannot.

        Without ``outbound`` the link only receives (a viewer's).
        """
        self.begin(sending=outbound is not None)
        assert self._preparing is not None
        await self._preparing
        await self._start_media(outbound, audio)

    @abc.abstractmethod
    async def _prepare(self, *, sending: bool) -> None:
        """The steps that need no media: the control channel and the initial state (``sending``: the link will send video)."""

    @abc.abstractmethod
    async def _start_media(self, outbound: MediaStreamTrack | None, audio: MediaStreamTrack | None) -> None:
        """Bring media up once :meth:`_prepare` is done; :attr:`remote` is the edited track afterwards."""

    async def request_prompt(self, text: str, *, enhance: bool) -> str | None:
        """Apply a prompt; raises PromptRejected when the server refuses it. Returns the server's note on how it took it, if any."""
        self.state_sent = True
        ack = await self.until_closed(self.signaling.request_prompt(text, enhance=enhance, timeout=self.ack_timeout))
        return ack.note

    async def request_image(self, image: str | None, *, prompt: str | None = None, enhance: bool = True) -> None:
        """Set (base64) or clear (None) the reference image, with an optional prompt; PromptRejected when refused."""
        self.state_sent = True
        await self.until_closed(self.signaling.request_image(image, prompt=prompt, enhance=enhance, timeout=self.ack_timeout))

    async def transport_bytes(self) -> tuple[int, int] | None:
        """(bytes sent, bytes received) by the media transport so far, or None before media is up."""
        return None

    def encoded_source(self) -> Any:
        """Where the recorder can take the received frames still encoded (a jitter buffer), or None."""
        return None

    def watch(self, future: Awaitable[Any], error: DecartError) -> None:
        """Close this link with ``error`` when ``future`` completes (e.g. the media connection failing)."""
        watcher = asyncio.ensure_future(future)
        self._watchers.append(watcher)

        def done(task: asyncio.Future[Any]) -> None:
            if not task.cancelled() and not self.closed.done():
                self.closed.set_result(error)

        watcher.add_done_callback(done)

    async def until_closed(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless this link closes first (then raise why)."""
        try:
            return await unless(awaitable, {self.closed: "closed"})
        except Overtaken:
            raise self.closed.result() from None

    def _on_message(self, message: p.Message) -> None:
        if isinstance(message, p.Error) and not self.first_frame.is_set():
            # Before any edited frame an error means this link will not
            # start: fail it now (once), rather than warn and wait out a timeout.
            if not self.closed.done():
                self.closed.set_result(error_from_server(message.error))
            return
        self.owner.on_message(message)

    async def _connect_signaling(self) -> None:
        await self.signaling.connect()
        self.step("control channel open")
        assert self.signaling.closed is not None
        self.signaling.closed.add_done_callback(self._socket_closed)

    def _socket_closed(self, future: asyncio.Future[DecartError]) -> None:
        if not self.closed.done() and not future.cancelled():
            self.closed.set_result(future.result())

    async def close(self) -> None:
        """Release media, then the socket (the protocol's order); idempotent."""
        for watcher in self._watchers:
            watcher.cancel()
        if self._preparing is not None:
            await cancelled(self._preparing)  # begun and never opened (or still opening): its error is not this close's
        await self._close_media()
        await self.signaling.close()

    async def _close_media(self) -> None:
        """Release what carries the media (the subclass's); called once the watchers are off."""
