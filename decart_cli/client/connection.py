"""A session's connection to the server: the link, its first frame, reconnects, and what ends it.

:class:`Connection` is the one part of an edit session that may be replaced
while the rest runs::

    session ──▶ Connection ──▶ Link (webrtc | livekit) ──▶ server
                   │  opens a link, waits for its first edited frame
                   │  holds it until an end (Ends) or until it drops
                   └─ on a drop: Reconnector (backoff, attempts, what is final)

It is the links' owner (:class:`~.link.LinkOwner`): a new link gets the
prompt and image the user wants (:class:`~.wanted.WantedEdit`) before media;
the messages a link passes up become the status line's figures (queue,
generating, billed seconds against ``max_seconds``) and the session
record's id. Between two links the relay holds the last frame, so the
window and the recording go on.

Its promises to the session:

* :meth:`begin` starts the first link's steps that need no media (the
  control channel, the prompt, today's room) while the session opens its
  source and sinks; :meth:`connect` finishes them.
* :meth:`connect` returns once a link is up and its edited track feeds the
  relay; it raises :class:`~decart_cli.errors.Interrupted` when a stop comes
  first and the link's error when the link closes first.
* :meth:`first_frame` returns once an edited frame came back over the
  current link (:meth:`frame_arrived` is told of every frame), within
  ``connect_timeout``.
* :meth:`hold` returns when the session ends normally (a stop, the end of
  the input, the window, the duration), after reconnecting as often as the
  config allows; it raises when a drop is final.
* :meth:`close` releases the current link (idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from aiortc import MediaStreamTrack

from .. import __version__
from .. import protocol as p
from ..config import HOSTED_URL, EditConfig
from ..errors import ConnectError, DecartError, Interrupted
from ..media.borrow import BorrowedTrack
from ..media.recorder import Recorder
from ..media.relay import Relay
from ..media.remux import EncodedTap
from ..models import Model
from ..ui.reporter import ConsoleReporter, SessionStats
from .ends import Ends, StopRequest
from .link import Link
from .livekit import LiveKitLink
from .race import Overtaken, first_of, unless
from .reconnect import Reconnector
from .record import SessionRecord
from .wanted import WantedEdit, prompt_line
from .webrtc import WebRTCLink

if TYPE_CHECKING:
    from ..media.audio import AudioTrack

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"decart-cli/{__version__} lang/py"


class Connection:
    """The current link of one edit session, and the links that replace it (see the module docstring)."""

    def __init__(
        self,
        config: EditConfig,
        model: Model,
        *,
        stop: StopRequest,
        wanted: WantedEdit,
        stats: SessionStats,
        reporter: ConsoleReporter,
        record: SessionRecord | None = None,
        probe: Any = None,
        banner: Any = None,
    ) -> None:
        self.config = config
        self.model = model
        self.stop = stop
        self.wanted = wanted
        self.stats = stats
        self.reporter = reporter
        self.recorder: Recorder | None = None
        """Takes each link's frames as received (remux) where it can (given to :meth:`connect`)."""
        self.record = record
        self.probe = probe
        """The session's probe (``--stats``, ``decart bench``): told of each link and message."""
        self.sound = False
        """Whether each link gets a sound track (:attr:`audio`; given to :meth:`connect`)."""
        self.banner = banner if banner is not None else (lambda text: None)
        self.link: Link | None = None
        self.audio: AudioTrack | None = None
        """The current link's sound track (None without sound or a link)."""
        self.online = asyncio.Event()
        """Set while a link is up and editing (prompts go straight out)."""
        self.last_frame_at = 0.0
        self._initial = True
        """Whether the link being opened is the session's first (a refused prompt is then fatal)."""
        self._taps: dict[Link, EncodedTap | None] = {}
        self._billed_before = 0
        self._watch_token: str | None = None
        self._watch_server = ""
        self._url = ""
        self._outbound: MediaStreamTrack | None = None
        self._relay: Relay | None = None
        self._begun: Link | None = None
        """The first link, started by :meth:`begin` and not yet given its media by :meth:`connect`."""

    def aim(self, base_url: str) -> None:
        """Where the links go: the stream URL for ``base_url`` (the hosted service, ``--url`` or the local server's)."""
        cfg = self.config
        self._watch_server = "" if base_url.rstrip("/") == HOSTED_URL else p.display_url(base_url)
        self._url = p.stream_url(
            base_url,
            api_key=cfg.api_key or "local",
            model=self.model.name,
            path=self.model.path,
            user_agent=cfg.user_agent or USER_AGENT,
            livekit=cfg.transport == "livekit",
            resolution=cfg.resolution,
        )

    # -- what a link asks of its owner (see decart_cli.client.link.LinkOwner)

    async def initial_state(self, link: Link) -> None:
        await self.wanted.apply(link, initial=self._initial)

    def media_starting(self, link: Link) -> None:
        """Choose, at the first link's start and before any frame, what the recorder takes: this link's frames as received (remux) where it can, else the decoded ones.

        Later links are tapped too while the file is made of received frames
        (a link that cannot be tapped pauses the recording until one can).
        """
        recorder = self.recorder
        if recorder is None or recorder.mode == "encode":
            return
        link_tap = recorder.tap(link.encoded_source())
        if recorder.mode is None:  # the first link cannot be tapped: the file is made of decoded frames
            recorder.take_decoded()
            return
        self._taps[link] = link_tap
        if link_tap is None:
            self.reporter.warning("recording paused: this connection's frames cannot be taken as received")

    def on_message(self, message: p.Message) -> None:
        if self.probe is not None:
            self.probe.on_message(message)
        if isinstance(message, p.GenerationStarted):
            self.stats.state = "generating"
            self.stats.queue = None
        elif isinstance(message, p.QueuePosition):
            self.stats.queue = (message.position, message.queue_size)
            self.reporter.event(f"queued {message.position}/{message.queue_size}: the server is busy, waiting for a slot", "yellow")
        elif isinstance(message, p.LiveKitRoomInfo):
            self.stats.queue = None
        elif isinstance(message, p.GenerationTick):
            self._bill(message.seconds)
        elif isinstance(message, p.GenerationEnded):
            log.info("generation ended after %d billed seconds (%s)", message.seconds, message.reason)
            self._bill(message.seconds)
        elif isinstance(message, p.Error):
            self.reporter.warning(f"server error: {message.error}")
        elif isinstance(message, p.PromptAck) and message.note is not None and message.prompt == self.stats.prompt:
            self.reporter.event(prompt_line(message.prompt, message.note), "yellow" if message.note.startswith("waiting") else "green")
        elif isinstance(message, p.SessionId):
            log.info("session id %s", message.session_id)
            if self.record is not None:
                self.record.session_id = message.session_id

    def _bill(self, seconds: int) -> None:
        """Billed seconds, as the server counts them: over all links of the session."""
        self.stats.billed_seconds = self._billed_before + seconds
        limit = self.config.max_seconds
        if limit is not None and self.stats.billed_seconds >= limit and not self.stop.is_set():
            self.reporter.announce("max_seconds", billed=self.stats.billed_seconds, limit=limit)
            self.stop.request("reached the billed-seconds limit")

    # -- connecting

    async def until_closed(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the current link closes or a stop is requested first."""
        assert self.link is not None
        closed = self.link.closed
        try:
            return await unless(awaitable, {closed: "closed", self.stop.wait(): "stop"})
        except Overtaken as overtaken:
            if "closed" in overtaken.names:
                raise closed.result() from None
            raise Interrupted(f"{self.stop.reason} before the session started") from None

    def _new_link(self) -> Link:
        cfg = self.config
        if cfg.transport == "livekit":
            return LiveKitLink(self._url, self, connect_timeout=cfg.connect_timeout, ack_timeout=cfg.ack_timeout, size=self.model.size, fps=self.model.fps, codec=cfg.codec)
        return WebRTCLink(self._url, self, connect_timeout=cfg.connect_timeout, ack_timeout=cfg.ack_timeout, ice_servers=cfg.ice_servers)

    def begin(self) -> None:
        """Start the first link now: the steps that need no media run while the session opens its source and sinks (:meth:`connect` finishes them)."""
        self.link = self._begun = self._new_link()
        self.link.begin()

    async def connect(self, outbound: MediaStreamTrack, relay: Relay, *, recorder: Recorder | None = None, sound: bool = False) -> None:
        """Bring the first link up (the one :meth:`begin` started, if it did) sending ``outbound``, then feed its edited track to ``relay``.

        ``recorder`` and ``sound`` hold for every link of the session.
        """
        self._outbound, self._relay = outbound, relay
        self.recorder, self.sound = recorder, sound
        await self._bring_up(initial=True)

    async def _bring_up(self, *, initial: bool) -> None:
        """Open a link (socket, the wanted prompt, media) sending the outbound track; then feed its edited track to the relay."""
        outbound, relay = self._outbound, self._relay
        assert outbound is not None and relay is not None
        self._initial = initial
        if self._begun is not None:
            link, self._begun = self._begun, None
        else:
            self.link = link = self._new_link()
        self._billed_before = self.stats.billed_seconds  # each link's ticks count from zero
        if self.sound:
            from ..media.audio import AudioTrack  # sound is rare: PortAudio's import is not paid without it

            self.audio = AudioTrack()
        await self.until_closed(link.open(BorrowedTrack(outbound), self.audio))
        self.stats.state = "connected"
        if link.watch_token is not None and link.watch_token != self._watch_token:
            # Each link is a new session on the server: a new token to watch it by.
            self._watch_token = link.watch_token
            self.reporter.announce("watch_token", "", token=link.watch_token, server=self._watch_server)
        if self.probe is not None:
            self.probe.on_connected(link)
        # Drain the remote track from now on (aiortc's receive queue is
        # unbounded); each sink has its own bounded buffer in the relay.
        assert link.remote is not None
        relay.attach(link.remote)
        self.online.set()

    async def close(self) -> None:
        """Release the current link, its sound track and the recorder's tap on it (idempotent)."""
        self.online.clear()
        sound, self.audio = self.audio, None
        if sound is not None:
            sound.stop()
        link, self.link, self._begun = self.link, None, None
        if link is not None:
            link_tap = self._taps.pop(link, None)
            if link_tap is not None:
                link_tap.close()
            await link.close()

    def frame_arrived(self) -> None:
        """An edited frame came back (from the relay): the first one marks the link as editing."""
        self.last_frame_at = time.monotonic()
        link = self.link
        if link is not None and not link.first_frame.is_set():
            link.first_frame.set()
            if self.stats.state == "connected":
                self.stats.state = "generating"

    async def first_frame(self) -> None:
        """Return once the current link's first edited frame came back; raise why not (a stop, the link, ``connect_timeout``)."""
        link = self.link
        assert link is not None
        done = await first_of({link.first_frame.wait(): "first", self.stop.wait(): "stop", link.closed: "closed"}, self.config.connect_timeout)
        if "first" in done:
            return
        if "stop" in done:
            raise Interrupted(f"{self.stop.reason} before the first edited frame came back")
        if "closed" in done:
            error = link.closed.result()
            if error is link.media_failure:
                raise ConnectError("the media connection failed before any edited frame came back", "check that UDP can reach the server")
            raise error
        raise ConnectError(f"no edited frame came back within {self.config.connect_timeout:g} s", fix="connect_timeout")

    # -- holding the connection

    async def hold(self, ends: Ends) -> None:
        """Keep a link up until the session ends normally, reconnecting after a drop; raise when a drop is final."""
        relay = self._relay
        assert relay is not None
        reconnector = Reconnector(self.config.reconnect_attempts, self.config.reconnect_wait, self.stats, self.reporter, banner=self.banner)
        while True:
            dropped = await self._watch(ends)
            if dropped is None:
                return
            relay.detach()
            if self.record is not None:
                self.record.lost()
            if not await reconnector.run(dropped, ends, self._attempt, self.close):
                return
            if self.record is not None:
                self.record.back()

    async def _attempt(self) -> None:
        await self._bring_up(initial=False)
        await self.first_frame()

    async def _watch(self, ends: Ends) -> DecartError | None:
        """Wait while the session runs; return the error if the link drops, None if the session is over."""
        link = self.link
        assert link is not None
        reasons = await ends.race({link.closed: "closed"})
        if "source" in reasons:
            await self._drain(asyncio.get_running_loop())
            return None
        if self.stop.is_set() or "closed" not in reasons:
            return None
        return link.closed.result()

    async def settle(self, quiet: float = 0.15, limit: float = 1.0) -> None:
        """After the input stopped: wait (at most ``limit`` s) until no edited frame came for ``quiet`` s.

        The frames still on their way back are then both in the file (a
        remuxed recording takes them as they arrive, still encoded) and
        counted as received (once decoded), so the summary's counts agree.
        """
        if self.link is None or not self.online.is_set():
            return
        deadline = time.monotonic() + limit
        while not self.stop.hurry and time.monotonic() < deadline and time.monotonic() - self.last_frame_at < quiet:
            await asyncio.sleep(0.02)

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """After the input ended: wait for the last edited frames to come back."""
        deadline = loop.time() + self.config.drain_timeout
        quiet = 0.5
        while loop.time() < deadline and not self.stop.is_set():
            if time.monotonic() - self.last_frame_at > quiet:
                return
            await asyncio.sleep(0.05)


__all__ = ["Connection", "USER_AGENT"]
