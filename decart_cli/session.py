"""One ``decart edit`` session, from opening the source to the last frame.

:class:`EditSession` starts the pieces in order (source, sinks, the local
server when its caller gave it one, the link to the server with the initial
prompt, media) and stops them in reverse, so a recording is finished
whatever ends the session: the end of a file, the duration, the window, a
signal, or an error.

The connection to the server is a :class:`~decart_cli.client.link.Link`
(legacy WebRTC or today's LiveKit), the one piece that may be replaced
mid-session. When an established session drops, a
:class:`~decart_cli.reconnect.Reconnector` brings it back (backoff, attempts,
permanent failures) and the new link gets the prompt and image the user
wants (:class:`~decart_cli.client.wanted.WantedEdit`) before media, while the
source, the window and the recording go on (the relay holds the last frame
through the gap). What ends a session normally is :class:`~decart_cli.ends.Ends`;
the status line is refreshed by :class:`~decart_cli.status.StatusTicker`.

A recording is made, where it can be, from the H.264 frames as received
(the link's jitter buffer is tapped, see :mod:`decart_cli.media.remux`),
not by re-encoding the decoded frames: the file then has a hole in its
timestamps where a reconnect was (players hold the last frame over it),
and the relay's held frames go to the window only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar

import av
from aiortc import MediaStreamTrack
from av import VideoFrame

from . import __version__
from . import protocol as p
from .client.link import Link
from .client.race import first_of
from .client.stdin import read_lines
from .client.wanted import WantedEdit, prompt_line
from .client.webrtc import WebRTCLink
from .controls import Controls, play_cues
from .ends import Ends
from .config import HOSTED_URL, EditConfig
from .errors import AudioError, ConnectError, DecartError, Interrupted
from .media.borrow import BorrowedTrack
from .media.recorder import Recorder
from .media.remux import EncodedTap
from .media.relay import Relay
from .media.sources import SourceTrack, open_source
from .models import Model
from .media.visible import FirstVisible
from .reconnect import Reconnector
from .session_record import PromptEntry, SessionRecord
from .status import StatusTicker, recording_counts
from .ui import ConsoleReporter, SessionStats

if TYPE_CHECKING:
    from .media.audio import AudioInput, AudioTrack, Microphone
    from .media.pairing import Pairing
    from .media.window import Window
    from .prompt_line import PromptLine

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"decart-cli/{__version__} lang/py"


class SessionProbe(Protocol):
    """Instrumentation for a session (used by ``decart bench``); every hook runs on the loop."""

    def wrap_source(self, track: MediaStreamTrack) -> MediaStreamTrack:
        """The track to send in place of the source (e.g. one that stamps frame ids)."""
        ...

    def on_connected(self, link: Link) -> None:
        """Media is up over ``link`` (its transport counts the bytes)."""
        ...

    def on_message(self, message: p.Message) -> None:
        """A signaling message arrived."""
        ...

    def on_frame(self, frame: VideoFrame) -> None:
        """An edited frame arrived."""
        ...


class LocalServer(Protocol):
    """A server the session starts for itself when it has no URL (``decart edit``'s embedded one)."""

    async def start(self) -> str:
        """Start; return the base URL to connect to."""
        ...

    async def stop(self) -> None: ...



def _from_thread(loop: asyncio.AbstractEventLoop, callback: Callable[[T], None]) -> Callable[[T], None]:
    """``callback`` for another thread to call: it runs on ``loop`` (and not at all once the loop has closed: the session is over)."""

    def call(value: T) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, value)

    return call

class EditSession:
    """Runs one editing session described by an :class:`EditConfig`."""

    def __init__(
        self,
        config: EditConfig,
        model: Model,
        reporter: ConsoleReporter,
        *,
        stdin: BinaryIO | None = None,
        probe: SessionProbe | None = None,
        local_server: LocalServer | None = None,
        prompt_line: PromptLine | None = None,
    ) -> None:
        self.config = config
        self.prompt_line = prompt_line
        """Reads what is typed at a terminal (in place of reading stdin line by line); the caller decides."""
        self.local_server = local_server
        """Started (after the source and sinks open) when ``config.url`` is None; the caller decides whether there is one."""
        if probe is None and config.stats:
            from .bench.probe import BenchProbe

            probe = BenchProbe(warmup=0.0, live=True)
        self.probe = probe
        self.model = model
        self.reporter = reporter
        self.stats = SessionStats(prompt=config.prompt or "", model=model.name, output=config.output, transport=config.transport)
        self._stdin = stdin if stdin is not None else (sys.stdin.buffer if config.read_stdin and sys.stdin else None)
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._hurry = False
        """A second stop request: stop without waiting for the frames in flight."""
        self._last_frame_at = 0.0
        self._link: Link | None = None
        self._initial = True
        """Whether the link being opened is the session's first (a refused prompt is then fatal)."""
        self._taps: dict[Link, EncodedTap | None] = {}
        """The recorder's tap on each link that feeds it the received frames (remux)."""
        self._relay: Relay | None = None
        self._window: Window | None = None
        self._recorder: Recorder | None = None
        self._online = asyncio.Event()
        """Set while a link is up and editing (prompts go straight out)."""
        self.wanted = WantedEdit(
            prompt=config.prompt, image=config.image, enhance=config.enhance, reporter=reporter, stats=self.stats, reconnects=config.reconnect_attempts > 0
        )
        """The prompt and image the user wants: applied to every link, changed by stdin."""
        self._billed_before = 0
        self._pairing: Pairing | None = None
        self._audio_out: AudioTrack | None = None
        self._sound = False
        self._record: SessionRecord | None = None
        """What was asked and when, written beside the recording (with ``output``)."""
        self._detector: FirstVisible[PromptEntry] = FirstVisible()
        """Whether the session has sound (recorded, and sent where the transport carries it)."""
        """The current link's sound track (None without sound or a link)."""
        self._watch_token: str | None = None
        """The token last printed for ``decart watch``."""
        self._watch_server = ""
        """The server's base URL when it is not the hosted service (a viewer must be told where the session runs)."""
        self.controls: Controls | None = None
        """What the user can change while the session runs (set once the sinks are up)."""
        self._tasks: list[asyncio.Task[None]] = []

    def request_stop(self, reason: str = "stopped", *, hurry: bool = False) -> None:
        """Ask the session to end gracefully (safe to call from a signal handler); ``hurry``: without waiting for the frames in flight."""
        self._hurry = self._hurry or hurry
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.append(task)
        return task

    async def run(self) -> SessionStats:
        """Run until the session ends; return its stats. Raises DecartError on failure."""
        cfg = self.config
        async with contextlib.AsyncExitStack() as stack:
            # Opening a camera can take seconds: keep the loop free meanwhile.
            source = await asyncio.to_thread(open_source, cfg.source)
            stack.callback(source.stop)
            audio_in = self._open_audio(source) if cfg.output is not None else None
            self._sound = audio_in is not None
            self._recorder = recorder = Recorder(cfg.output, fps=self.model.fps, audio=audio_in is not None, captions=True) if cfg.output is not None else None
            if cfg.output is not None:
                self._record = SessionRecord(cfg.output, model=self.model.name, transport=cfg.transport, server="")
                self.wanted.on_sent = self._prompt_sent
                self.wanted.on_answer = self._prompt_answered
            if recorder is not None:
                loop = asyncio.get_running_loop()
                recorder.on_warning = _from_thread(loop, self.reporter.warning)
                # The recording is what the session is for: when writing fails, it stops at once.
                recorder.on_failure = _from_thread(loop, lambda _error: self.request_stop("the recording failed", hurry=True))
            stack.callback(self._final_counts, source, recorder)  # runs after the sinks have stopped
            vcam = None
            if cfg.vcam is not None:
                from .media.vcam import VirtualCamera

                width, height = self.model.size
                vcam = VirtualCamera(width, height, self.model.fps, device=cfg.vcam or None, backend=cfg.vcam_backend)
                vcam.on_warning = _from_thread(asyncio.get_running_loop(), self.reporter.warning)
                await vcam.start()  # no driver: the session does not start
                stack.push_async_callback(vcam.stop)
                self.reporter.event(f"virtual camera: {vcam.opened_device} ({width}x{height} at {self.model.fps:g} fps)", "green")
            window = None
            if cfg.show:
                from .media.window import Window

                window = self._window = Window(f"decart - {self.model.name} - ? for keys", screen=cfg.screen)

            base_url = cfg.url
            if base_url is None:
                if self.local_server is None:
                    raise ValueError("EditConfig.url is None and no local server was given")
                base_url = await self.local_server.start()
                stack.push_async_callback(self.local_server.stop)
            self._watch_server = "" if base_url.rstrip("/") == HOSTED_URL else p.display_url(base_url)
            if self._record is not None:
                self._record.server = p.display_url(base_url) if cfg.url is not None else "the local server (embedded)"
            url = p.stream_url(base_url, api_key=cfg.api_key or "local", model=self.model.name, path=self.model.path, user_agent=cfg.user_agent or USER_AGENT, livekit=cfg.transport == "livekit", resolution=cfg.resolution)
            self.reporter.start(self.stats)
            stack.callback(self.reporter.stop)
            outbound = self.probe.wrap_source(source) if self.probe is not None else source
            pairing = None
            if (window is not None and cfg.view == "side-by-side") or audio_in is not None or self._record is not None:
                from .media.pairing import InputTap, Pairing

                # Which input an edit came from: for the side-by-side view, the lag the sound is
                # shifted by, and when a prompt first shows (the session record).
                pairing = self._pairing = Pairing()
                outbound = InputTap(outbound, pairing)
            # The relay outlives any one connection; while there is none it
            # repeats the last frame, so the window and the file go on in real time.
            self._relay = relay = Relay(on_frame=self._on_frame, persistent=True, hold=1.0 / self.model.fps)
            stack.push_async_callback(relay.stop)
            if recorder is not None:
                recorder.addTrack(relay.subscribe(maxsize=50, name="recorder"))
            if window is not None:
                shown = relay.subscribe(maxsize=1, name="window")
                if pairing is not None and cfg.view == "side-by-side":
                    from .media.pairing import PairedTrack

                    shown = PairedTrack(shown, pairing)
                window.addTrack(shown)
            if vcam is not None:
                vcam.addTrack(relay.subscribe(maxsize=1, name="vcam"))
            stack.push_async_callback(self._close_link)

            await self._connect(url, outbound, relay, initial=True)
            if recorder is not None:
                stack.push_async_callback(recorder.stop)
                await recorder.start()
            if audio_in is not None:
                audio_in.start(self._deliver_audio)
                stack.callback(audio_in.stop)
            if window is not None:
                stack.push_async_callback(window.stop)
                await self._until_closed(self._open_window(window))

            self.controls = Controls(
                wanted=self.wanted, source=source, relay=relay, reporter=self.reporter, stats=self.stats,
                link=lambda: self._link if self._online.is_set() else None, stop=self.request_stop, snapshot_dir=cfg.snapshot_dir,
            )
            if window is not None:
                window.on_key = self.controls.key
                window.overlay = self._overlay_lines
            prompts: asyncio.Queue[str] = asyncio.Queue()
            if self.prompt_line is not None:
                self._spawn(self.prompt_line.run(prompts.put_nowait, self.request_stop), "decart-prompt-line")
            elif self._stdin is not None:
                read_lines(self._stdin, asyncio.get_running_loop(), prompts)
            self._spawn(self._send_prompts(prompts, self.controls), "decart-prompts")
            if cfg.cues:
                fps = source.source_fps if source.file_path is not None else cfg.source.fps
                self._spawn(play_cues(list(cfg.cues), self.controls, lambda: _input_elapsed(source), fps), "decart-cues")
            ticker = StatusTicker(
                self.stats, self.reporter, source=source, relay=relay, recorder=recorder, link=lambda: self._link, probe=self.probe, measure=cfg.stats
            )
            self._spawn(ticker.run(), "decart-status")
            stack.push_async_callback(self._cancel_tasks)

            await self._wait_first_frame()
            self.stats.media_started = time.monotonic()
            ends = Ends(self._stop, source, window, duration=cfg.duration, started=self.stats.media_started)
            reconnector = Reconnector(cfg.reconnect_attempts, cfg.reconnect_wait, self.stats, self.reporter, banner=self._show_banner)
            try:
                while True:
                    dropped = await self._watch(ends)
                    if dropped is None:
                        break
                    relay.detach()
                    if self._record is not None:
                        self._record.lost()
                    if not await reconnector.run(dropped, ends, lambda: self._attempt(url, outbound, relay), self._close_link):
                        break
                    if self._record is not None:
                        self._record.back()
            finally:
                ends.cancel()
            # Stop the input first, then let what is in flight reach the
            # sinks, then finish the file: the counts below are final.
            source.stop()
            await self._settle()
            await relay.stop()
            self._prompts_unseen()
            if recorder is not None:
                await recorder.stop()
        return self.stats

    def _final_counts(self, source: SourceTrack, recorder: Recorder | None) -> None:
        """Settle the stats once everything has stopped, however the session ended; write the session record."""
        self.stats.frames_sent = source.frames_sent
        self.stats.frames_dropped_source = source.frames_dropped
        if self._relay is not None:
            recording_counts(self.stats, self._relay, recorder)
        self.stats.ended = time.monotonic()
        self.stats.state = "disconnected"
        self._prompts_unseen()
        self._write_record()

    def _write_record(self) -> None:
        """The session record beside the recording (when there is one); a failure to write it is a warning."""
        if self._record is None or self._recorder is None or not self._recorder.path.exists():
            return
        try:
            self._record.write(self.stats, self._recorder.t0)
        except OSError as exc:
            self.reporter.warning(f"session record not written: {exc.strerror or exc}")

    # -- the session record: prompts sent, answered, first seen

    def _prompt_sent(self, text: str) -> None:
        assert self._record is not None
        entry = self._record.sent(text)
        for earlier, _ in self._detector.expect(entry, entry.sent):
            log.info("not measured when %r first showed: the next prompt came first", earlier.text)
            self._prompt_seen(earlier, None)

    def _prompt_answered(self, text: str, refusal: str | None) -> None:
        assert self._record is not None
        entry = self._record.find(text)
        if entry is None:
            return
        if refusal is None:
            entry.acknowledged = time.monotonic()
        else:
            entry.refused = refusal
            self._detector.forget(entry)

    def _prompt_seen(self, entry: PromptEntry, at: float | None) -> None:
        """``entry`` first showed at ``at`` (None: not seen, see :meth:`PromptEntry.showed`): the record, and the caption from then on."""
        if entry.refused is not None:
            return
        lag = self._pairing.lag if self._pairing is not None else None
        entry.showed(at, lag)
        if self._recorder is not None and entry.first_visible is not None:
            self._recorder.set_caption(entry.first_visible, entry.text)
        self._write_record()

    def _prompts_unseen(self) -> None:
        """The session is ending: a prompt still waiting to show gets its acknowledgement's time (and its caption, while the recording is open)."""
        for entry, _ in self._detector.finish():
            self._prompt_seen(entry, None)


    # -- what a link asks of its owner (see decart_cli.client.link.LinkOwner)

    async def initial_state(self, link: Link) -> None:
        await self.wanted.apply(link, initial=self._initial)

    def media_starting(self, link: Link) -> None:
        """Have the recorder take this link's frames as received (remux), where it can."""
        recorder = self._recorder
        if recorder is None or recorder.mode == "encode":
            return
        source = link.encoded_source()
        if source is None:
            return
        link_tap = recorder.tap(source)
        self._taps[link] = link_tap
        if link_tap is None and recorder.mode == "remux":
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
            if self._record is not None:
                self._record.session_id = message.session_id

    def _bill(self, seconds: int) -> None:
        """Billed seconds, as the server counts them: over all links of the session."""
        self.stats.billed_seconds = self._billed_before + seconds
        limit = self.config.max_seconds
        if limit is not None and self.stats.billed_seconds >= limit and not self._stop.is_set():
            self.reporter.announce("max_seconds", billed=self.stats.billed_seconds, limit=limit)
            self.request_stop("reached the billed-seconds limit")

    # -- connecting

    async def _until_closed(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the current link closes or a stop is requested first."""
        assert self._link is not None
        closed = self._link.closed
        task = asyncio.ensure_future(awaitable)
        done = await first_of({task: "task", closed: "closed", self._stop.wait(): "stop"})
        if "task" in done:
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if "closed" in done:
            raise closed.result()
        raise Interrupted(f"{self._stop_reason} before the session started")

    def _new_link(self, url: str) -> Link:
        cfg = self.config
        if cfg.transport == "livekit":
            from .client.livekit import LiveKitLink

            return LiveKitLink(url, self, connect_timeout=cfg.connect_timeout, ack_timeout=cfg.ack_timeout, size=self.model.size, fps=self.model.fps, codec=cfg.codec)
        return WebRTCLink(url, self, connect_timeout=cfg.connect_timeout, ack_timeout=cfg.ack_timeout, ice_servers=cfg.ice_servers)

    async def _connect(self, url: str, outbound: MediaStreamTrack, relay: Relay, *, initial: bool) -> None:
        """Open a link (socket, the wanted prompt, media); then read its edited track."""
        self._initial = initial
        self._billed_before = self.stats.billed_seconds  # each link's ticks count from zero
        self._link = link = self._new_link(url)
        if self._sound:
            from .media.audio import AudioTrack

            self._audio_out = AudioTrack()
        await self._until_closed(link.open(BorrowedTrack(outbound), self._audio_out))
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
        self._online.set()

    async def _close_link(self) -> None:
        self._online.clear()
        sound, self._audio_out = self._audio_out, None
        if sound is not None:
            sound.stop()
        link, self._link = self._link, None
        if link is not None:
            link_tap = self._taps.pop(link, None)
            if link_tap is not None:
                link_tap.close()
            await link.close()

    async def _watch(self, ends: Ends) -> DecartError | None:
        """Wait while the session runs; return the error if the link drops, None if the session is over."""
        link = self._link
        assert link is not None
        reasons = await ends.race({link.closed: "closed"})
        if "source" in reasons:
            await self._drain(asyncio.get_running_loop())
            return None
        if self._stop.is_set() or "closed" not in reasons:
            return None
        return link.closed.result()

    def _open_audio(self, source: SourceTrack) -> AudioInput | Microphone | None:
        """The sound to record: a file's own track, or with ``audio`` the microphone; None (with a warning if asked for) otherwise."""
        from .media.audio import AudioInput, Microphone, file_has_audio

        cfg = self.config
        if cfg.audio is False:
            return None
        path = source.file_path
        if path is not None:
            if not file_has_audio(path):
                if cfg.audio:
                    self.reporter.warning(f"{source.label} has no sound: recording video only")
                return None
            self.reporter.notice(f"recording with sound from {source.label}")
            return AudioInput(lambda: av.open(path), label=source.label, clock=source.clock, start_at=lambda: source.started_at, loop=cfg.source.loop)
        if not cfg.audio:
            return None
        microphone = Microphone()
        try:
            microphone.open()
        except AudioError as exc:
            self.reporter.warning(self.reporter.describe(exc))
            return None
        self.reporter.notice(f"recording with sound from the {microphone.label}")
        return microphone

    def _deliver_audio(self, played: float, frame: av.AudioFrame) -> None:
        """From the audio thread: into the file (shifted by the video's lag) and to the link that carries sound."""
        lag = self._pairing.lag if self._pairing is not None else None
        if self._recorder is not None:
            self._recorder.write_audio(played + (lag or 0.0), frame)
        out = self._audio_out
        if out is not None:
            out.put(played, frame)

    def _overlay_lines(self) -> list[str]:
        """What the window's overlay shows (``h``): the prompt, the rates, the latency when measured."""
        stats = self.stats
        lines = [f"prompt: {stats.prompt or '(no edit)'}"[:70], f"{stats.fps_out:.1f} fps  {stats.state}{'  paused' if stats.paused else ''}"]
        if stats.latency_ms is not None:
            lines.append(f"latency {stats.latency_ms[0]:.0f}/{stats.latency_ms[1]:.0f} ms")
        return lines

    def _show_banner(self, text: str) -> None:
        if self._window is not None:
            self._window.banner = text

    async def _attempt(self, url: str, outbound: MediaStreamTrack, relay: Relay) -> None:
        await self._connect(url, outbound, relay, initial=False)
        await self._wait_first_frame()

    async def _open_window(self, window: Window) -> None:
        try:
            await asyncio.wait_for(window.start(), self.config.connect_timeout)
        except asyncio.TimeoutError:
            raise DecartError(f"the window did not open within {self.config.connect_timeout:g} s", fix="check_display") from None

    async def _wait_first_frame(self) -> None:
        link = self._link
        assert link is not None
        done = await first_of({link.first_frame.wait(): "first", self._stop.wait(): "stop", link.closed: "closed"}, self.config.connect_timeout)
        if "first" in done:
            return
        if "stop" in done:
            raise Interrupted(f"{self._stop_reason} before the first edited frame came back")
        if "closed" in done:
            error = link.closed.result()
            if error is link.media_failure:
                raise ConnectError("the media connection failed before any edited frame came back", "check that UDP can reach the server")
            raise error
        raise ConnectError(f"no edited frame came back within {self.config.connect_timeout:g} s", fix="connect_timeout")

    async def _settle(self, quiet: float = 0.15, limit: float = 1.0) -> None:
        """After the input stopped: wait (at most ``limit`` s) until no edited frame came for ``quiet`` s.

        The frames still on their way back are then both in the file (a
        remuxed recording takes them as they arrive, still encoded) and
        counted as received (once decoded), so the summary's counts agree.
        """
        if self._link is None or not self._online.is_set():
            return
        deadline = time.monotonic() + limit
        while not self._hurry and time.monotonic() < deadline and time.monotonic() - self._last_frame_at < quiet:
            await asyncio.sleep(0.02)

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """After the input ended: wait for the last edited frames to come back."""
        deadline = loop.time() + self.config.drain_timeout
        quiet = 0.5
        while loop.time() < deadline and not self._stop.is_set():
            if time.monotonic() - self._last_frame_at > quiet:
                return
            await asyncio.sleep(0.05)

    def _on_frame(self, frame: VideoFrame) -> None:
        if self.probe is not None:
            self.probe.on_frame(frame)
        self.stats.frames_received += 1
        self._last_frame_at = time.monotonic()
        if self._pairing is not None and (self._sound or self._record is not None):
            # The closest input (measuring the edit needs the very frame); also keeps the lag the sound is shifted by up to date.
            source = self._pairing.match(frame, closest=self._record is not None)
            if self._record is not None:
                for entry, at in self._detector.observe(frame, self._pairing.around(source), self._last_frame_at):
                    self._prompt_seen(entry, at)
        link = self._link
        if link is not None and not link.first_frame.is_set():
            link.first_frame.set()
            if self.stats.state == "connected":
                self.stats.state = "generating"

    async def _send_prompts(self, prompts: asyncio.Queue[str], controls: Controls) -> None:
        """Carry out each line typed, in order (a prompt typed while reconnecting is kept for the next link)."""
        while True:
            await controls.line(await prompts.get())

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def _input_elapsed(source: SourceTrack) -> float | None:
    """Seconds of input sent so far (the source's clock since its first frame); None before it."""
    started = source.started_at
    return None if started is None else source.clock() - started


__all__ = ["EditSession", "DecartError"]
