"""One ``decart edit`` session, from opening the source to the last frame.

:class:`EditSession` starts the parts in order and stops them in reverse
(an :class:`~contextlib.AsyncExitStack`), so a recording is finished
whatever ends the session: the end of a file, the duration, the window, a
signal, or an error::

    source ─▶ (probe) ─▶ (pairing tap) ─▶ Connection ─▶ server
                                              │
    window / recorder / vcam ◀── Relay ◀──────┘   (sinks.py)

1. the virtual camera; then, while the source opens in a thread (a camera
   can take a second), the local server when its caller gave one and the
   first link's steps that need no media (:meth:`~.connection.Connection.begin`:
   the socket, the wanted prompt acknowledged, today's room and camera
   track); then the sound to record and the other sinks (:mod:`.sinks`);
2. the :class:`~.connection.Connection`: that link's media, its edited
   track into the relay, reconnects, what ends the session;
3. the recorder, the sound, the window; then what the user changes while it
   runs (:class:`~.controls.Controls`: typed lines, cue sheets, window keys)
   and the status line (:class:`~decart_cli.ui.status.StatusTicker`).

Besides, the session keeps the session record (:mod:`.record`: when each
prompt was sent, answered and first seen) and the window's overlay text.

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
from collections.abc import Awaitable
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar

import av
from aiortc import MediaStreamTrack
from av import VideoFrame

from .. import protocol as p
from ..config import EditConfig
from ..errors import AudioError, DecartError
from ..media.audio import AudioInput, Microphone, file_has_audio
from ..media.pairing import InputTap, PairedTrack, Pairing
from ..media.recorder import Recorder
from ..media.relay import Relay
from ..media.sources import SourceTrack, check_source, open_source
from ..media.visible import FirstVisible
from ..models import Model
from ..ui.reporter import ConsoleReporter, SessionStats
from ..ui.status import StatusTicker, recording_counts
from .connection import Connection
from .controls import Controls, play_cues
from .ends import Ends, StopRequest
from .link import Link
from ..aio import cancelled
from .race import Overtaken, unless
from .record import PromptEntry, SessionRecord
from .sinks import from_thread, new_vcam, new_window, wire
from .stdin import read_lines
from .wanted import WantedEdit

if TYPE_CHECKING:
    from ..media.window import Window
    from ..ui.prompt_line import PromptLine

log = logging.getLogger(__name__)
T = TypeVar("T")


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

    def announce(self) -> None:
        """Tell the user the session edits with it (called once the source is open, so a bad input's error comes alone)."""
        ...

    async def stop(self) -> None: ...


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
        self.probe = probe
        """What measures the session (``--stats``, ``decart bench``): given by the caller, which decides."""
        self.model = model
        self.reporter = reporter
        self.stats = SessionStats(prompt=config.prompt or "", model=model.name, output=config.output, transport=config.transport)
        self._stdin = stdin if stdin is not None else (sys.stdin.buffer if config.read_stdin and sys.stdin else None)
        self.stop = StopRequest()
        self._window: Window | None = None
        self._relay: Relay | None = None
        self._recorder: Recorder | None = None
        self._pairing: Pairing | None = None
        self._sound = False
        """Whether the session has sound (recorded, and sent where the transport carries it)."""
        self._record: SessionRecord | None = (
            SessionRecord(config.output, model=model.name, transport=config.transport, server="") if config.output is not None else None
        )
        """What was asked and when, written beside the recording (with ``output``)."""
        self._detector: FirstVisible[PromptEntry] = FirstVisible()
        recorded = self._record is not None
        self.wanted = WantedEdit(
            prompt=config.prompt, image=config.image, enhance=config.enhance, reporter=reporter, stats=self.stats, reconnects=config.reconnect_attempts > 0,
            on_sent=self._prompt_sent if recorded else None, on_answer=self._prompt_answered if recorded else None,
        )
        """The prompt and image the user wants: applied to every link, changed by stdin."""
        self.connection: Connection | None = None
        self.controls: Controls | None = None
        """What the user can change while the session runs (set once the sinks are up)."""
        self._tasks: list[asyncio.Task[None]] = []

    def request_stop(self, reason: str = "stopped", *, hurry: bool = False) -> None:
        """Ask the session to end gracefully (safe to call from a signal handler); ``hurry``: without waiting for the frames in flight."""
        self.stop.request(reason, hurry=hurry)

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.append(task)
        return task

    async def run(self) -> SessionStats:
        """Run until the session ends; return its stats. Raises DecartError on failure."""
        cfg = self.config
        async with contextlib.AsyncExitStack() as stack:
            check_source(cfg.source)  # a mistyped path fails here, before anything starts
            loop = asyncio.get_running_loop()
            vcam = None
            if cfg.vcam is not None:
                width, height = self.model.size
                vcam = new_vcam(width, height, self.model.fps, device=cfg.vcam or None, backend=cfg.vcam_backend)
                vcam.on_warning = from_thread(loop, self.reporter.warning)
                await vcam.start()  # no driver: the session does not start
                stack.push_async_callback(vcam.stop)
                self.reporter.event(f"virtual camera: {vcam.opened_device} ({width}x{height} at {self.model.fps:g} fps)", "green")
            # Opening a camera can take seconds: in a thread, while the server
            # starts and the first link connects (Connection.begin).
            opening = loop.run_in_executor(None, open_source, cfg.source)
            stack.callback(_stop_when_open, opening)
            base_url = cfg.url
            if base_url is None:
                if self.local_server is None:
                    raise ValueError("EditConfig.url is None and no local server was given")
                stack.push_async_callback(self.local_server.stop)
                base_url = await _unless_source_fails(self.local_server.start(), opening)
            if self._record is not None:
                self._record.server = p.display_url(base_url) if cfg.url is not None else "the local server (embedded)"
            connection = self.connection = Connection(
                cfg, self.model, stop=self.stop, wanted=self.wanted, stats=self.stats, reporter=self.reporter,
                record=self._record, probe=self.probe, banner=self._show_banner,
            )
            connection.aim(base_url)
            stack.push_async_callback(connection.close)  # a source or sink that fails to open ends the link begun
            connection.begin()
            source = await opening
            if cfg.url is None and self.local_server is not None:
                self.local_server.announce()

            audio_in = self._open_audio(source) if cfg.output is not None else None
            self._sound = audio_in is not None
            self._recorder = recorder = Recorder(cfg.output, fps=self.model.fps, audio=audio_in is not None, captions=True) if cfg.output is not None else None
            if recorder is not None:
                recorder.on_warning = from_thread(loop, self.reporter.warning)
                # The recording is what the session is for: when writing fails, it stops at once.
                recorder.on_failure = from_thread(loop, lambda _error: self.request_stop("the recording failed", hurry=True))
            stack.callback(self._final_counts, source, recorder)  # runs after the sinks have stopped
            if recorder is not None:
                stack.push_async_callback(self._keep_only_if_edited, recorder)
            window = None
            if cfg.show:
                window = self._window = new_window(f"decart - {self.model.name} - ? for keys", cfg.screen)

            self.reporter.start(self.stats)
            stack.callback(self.reporter.stop)
            outbound = self.probe.wrap_source(source) if self.probe is not None else source
            pairing = None
            side_by_side = window is not None and cfg.view == "side-by-side"
            if side_by_side or audio_in is not None or self._record is not None:
                # Which input an edit came from: for the side-by-side view, the lag the sound is
                # shifted by, and when a prompt first shows (the session record).
                pairing = self._pairing = Pairing()
                outbound = InputTap(outbound, pairing)
            # The relay outlives any one connection; while there is none it
            # repeats the last frame, so the window and the file go on in real time.
            relay = self._relay = Relay(on_frame=self._on_frame, persistent=True, hold=1.0 / self.model.fps)
            stack.push_async_callback(relay.stop)
            shown = None
            if pairing is not None and side_by_side:
                shown = lambda track: PairedTrack(track, pairing)  # noqa: E731
            wire(relay, recorder=recorder, window=window, vcam=vcam, shown=shown)
            stack.push_async_callback(connection.close)

            await connection.connect(outbound, relay, recorder=recorder, sound=self._sound)
            if recorder is not None:
                stack.push_async_callback(recorder.stop)
                await recorder.start()
            if audio_in is not None:
                audio_in.start(self._deliver_audio)
                stack.callback(audio_in.stop)
            if window is not None:
                stack.push_async_callback(window.stop)
                await connection.until_closed(self._open_window(window))

            self.controls = Controls(
                wanted=self.wanted, source=source, relay=relay, reporter=self.reporter, stats=self.stats,
                link=lambda: connection.link if connection.online.is_set() else None, stop=self.request_stop, snapshot_dir=cfg.snapshot_dir,
            )
            if window is not None:
                window.on_key = self.controls.key
                window.overlay = self._overlay_lines
            prompts: asyncio.Queue[str] = asyncio.Queue()
            if self.prompt_line is not None:
                self._spawn(self.prompt_line.run(prompts.put_nowait, self.request_stop), "decart-prompt-line")
            elif self._stdin is not None:
                read_lines(self._stdin, loop, prompts)
            self._spawn(self._send_prompts(prompts, self.controls), "decart-prompts")
            if cfg.cues:
                fps = source.source_fps if source.file_path is not None else cfg.source.fps
                self._spawn(play_cues(list(cfg.cues), self.controls, lambda: _input_elapsed(source), fps), "decart-cues")
            ticker = StatusTicker(
                self.stats, self.reporter, source=source, relay=relay, recorder=recorder, link=lambda: connection.link, probe=self.probe, measure=cfg.stats
            )
            self._spawn(ticker.run(), "decart-status")
            stack.push_async_callback(self._cancel_tasks)

            await connection.first_frame()
            self.stats.media_started = time.monotonic()
            ends = Ends(self.stop, source, window, duration=cfg.duration, started=self.stats.media_started)
            try:
                await connection.hold(ends)
            finally:
                ends.cancel()
            # Stop the input first, then let what is in flight reach the
            # sinks, then finish the file: the counts below are final.
            source.stop()
            await connection.settle()
            await relay.stop()
            self._prompts_unseen()
            if recorder is not None:
                await recorder.stop()
        return self.stats

    async def _keep_only_if_edited(self, recorder: Recorder) -> None:
        """A session that ended before its first edited frame keeps no recording (no summary names one).

        Frames can still reach the file then: the recorder takes a link's
        frames as received, before the session counts the first one decoded,
        so a stop or failure in between leaves it a frame or two.
        """
        if self.stats.media_started is None:
            await recorder.abandon()

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

    # -- sound, the window

    def _open_audio(self, source: SourceTrack) -> AudioInput | Microphone | None:
        """The sound to record: a file's own track, or with ``audio`` the microphone; None (with a warning if asked for) otherwise."""
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
        out = self.connection.audio if self.connection is not None else None
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

    async def _open_window(self, window: Window) -> None:
        try:
            await asyncio.wait_for(window.start(), self.config.connect_timeout)
        except asyncio.TimeoutError:
            raise DecartError(f"the window did not open within {self.config.connect_timeout:g} s", fix="check_display") from None

    def _on_frame(self, frame: VideoFrame) -> None:
        if self.probe is not None:
            self.probe.on_frame(frame)
        self.stats.frames_received += 1
        assert self.connection is not None
        self.connection.frame_arrived()
        if self._pairing is not None and (self._sound or self._record is not None):
            # The closest input (measuring the edit needs the very frame); also keeps the lag the sound is shifted by up to date.
            source = self._pairing.match(frame, closest=self._record is not None)
            if self._record is not None:
                for entry, at in self._detector.observe(frame, self._pairing.around(source), self.connection.last_frame_at):
                    self._prompt_seen(entry, at)

    async def _send_prompts(self, prompts: asyncio.Queue[str], controls: Controls) -> None:
        """Carry out each line typed, in order (a prompt typed while reconnecting is kept for the next link)."""
        while True:
            await controls.line(await prompts.get())

    async def _cancel_tasks(self) -> None:
        await cancelled(*self._tasks)
        self._tasks.clear()


async def _unless_source_fails(awaitable: Awaitable[T], opening: asyncio.Future[SourceTrack]) -> T:
    """Await ``awaitable`` unless opening the source fails first: then raise the source's error (a bad input is said at once)."""

    async def failed() -> None:
        await asyncio.wait({opening})  # not cancelled with this: the source is stopped once open (_stop_when_open)
        if opening.exception() is None:
            await asyncio.get_running_loop().create_future()  # it opened: never

    try:
        return await unless(awaitable, {failed(): "source"})
    except Overtaken:
        opening.result()
        raise


def _stop_when_open(opening: asyncio.Future[SourceTrack]) -> None:
    """Stop the source being opened in a thread: now if it is open, else once it is (its error, if any, is the session's)."""

    def stop(future: asyncio.Future[SourceTrack]) -> None:
        if not future.cancelled() and future.exception() is None:
            future.result().stop()

    if opening.done():
        stop(opening)
    else:
        opening.add_done_callback(stop)


def _input_elapsed(source: SourceTrack) -> float | None:
    """Seconds of input sent so far (the source's clock since its first frame); None before it."""
    started = source.started_at
    return None if started is None else source.clock() - started


__all__ = ["EditSession", "DecartError"]
