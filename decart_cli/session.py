"""One ``decart edit`` session, from opening the source to the last frame.

:class:`EditSession` starts the pieces in order (source, sinks, local
server, signaling, initial prompt, media) and stops them in reverse, so a
recording is finished whatever ends the session: the end of a file, the
duration, the window, a signal, or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar

from aiortc import MediaStreamTrack, RTCPeerConnection
from av import VideoFrame

from . import __version__
from . import protocol as p
from .config import EditConfig, ServeConfig
from .errors import ConnectError, DecartError, Interrupted, PromptRejected, ProtocolError, ServerError, SessionClosed
from .media.recorder import Recorder
from .media.relay import Relay
from .media.sources import SourceTrack, open_source
from .models import Model
from .server import Server
from .signaling import Signaling
from .transport import Transport
from .ui import ConsoleReporter, SessionStats

if TYPE_CHECKING:
    from .media.window import Window

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"decart-cli/{__version__} lang/py"


def read_lines(stream: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> threading.Thread:
    """Feed each line of ``stream`` (decoded leniently) to ``queue`` from a daemon thread.

    End of input simply ends the thread: it does not end the session.
    """

    def pump() -> None:
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                except RuntimeError:  # the loop has closed: the session is over
                    return
        except (OSError, ValueError):
            return

    thread = threading.Thread(target=pump, name="decart-stdin", daemon=True)
    thread.start()
    return thread


class SessionProbe(Protocol):
    """Instrumentation for a session (used by ``decart bench``); every hook runs on the loop."""

    def wrap_source(self, track: MediaStreamTrack) -> MediaStreamTrack:
        """The track to send in place of the source (e.g. one that stamps frame ids)."""
        ...

    def on_connected(self, pc: RTCPeerConnection) -> None:
        """Media is connected over ``pc``."""
        ...

    def on_message(self, message: p.Message) -> None:
        """A signaling message arrived."""
        ...

    def on_frame(self, frame: VideoFrame) -> None:
        """An edited frame arrived."""
        ...


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
    ) -> None:
        self.config = config
        if probe is None and config.stats:
            from .bench.probe import BenchProbe

            probe = BenchProbe(warmup=0.0, live=True)
        self.probe = probe
        self.model = model
        self.reporter = reporter
        self.stats = SessionStats(prompt=config.prompt or "", model=model.name, output=config.output)
        self._stdin = stdin if stdin is not None else (sys.stdin.buffer if config.read_stdin and sys.stdin else None)
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._first_frame = asyncio.Event()
        self._last_frame_at = 0.0
        self._signaling: Signaling | None = None
        self._transport: Transport | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the session to end gracefully (safe to call from a signal handler)."""
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
            recorder = Recorder(cfg.output, fps=self.model.fps) if cfg.output is not None else None
            stack.callback(self._final_counts, source, recorder)  # runs after the sinks have stopped
            window = None
            if cfg.show:
                from .media.window import Window

                window = Window(f"decart - {self.model.name}")

            base_url = cfg.url
            if base_url is None:
                server = Server(ServeConfig(host="127.0.0.1", port=0))
                await server.start()
                stack.push_async_callback(server.stop)
                base_url = server.url
                self.reporter.notice(f"no API key: editing with the local server at {base_url} (set DECART_API_KEY for the hosted service)")

            url = p.stream_url(base_url, api_key=cfg.api_key or "local", model=self.model.name, path=self.model.path, user_agent=cfg.user_agent or USER_AGENT)
            loopback = p.is_loopback_host(p.url_host(url))
            self._signaling = signaling = Signaling(url, connect_timeout=cfg.connect_timeout, on_message=self._on_message)
            self.reporter.start(self.stats)
            stack.callback(self.reporter.stop)
            await signaling.connect()
            stack.push_async_callback(signaling.close)

            if cfg.prompt:
                await signaling.request_prompt(p.check_prompt(cfg.prompt), enhance=cfg.enhance, timeout=cfg.ack_timeout)
                self.reporter.event(f"prompt: {cfg.prompt}", "green")

            self._transport = transport = Transport(signaling, loopback=loopback, ice_servers=cfg.ice_servers, timeout=cfg.connect_timeout)
            stack.push_async_callback(transport.close)
            outbound = self.probe.wrap_source(source) if self.probe is not None else source
            remote = await self._until_closed(transport.start(outbound))
            await self._until_closed(transport.wait_connected(cfg.connect_timeout))
            self.stats.state = "connected"
            if self.probe is not None:
                self.probe.on_connected(transport.pc)

            # Drain the remote track from now on (aiortc's receive queue is
            # unbounded); each sink has its own bounded buffer in the relay.
            relay = Relay(remote, on_frame=self._on_frame)
            stack.push_async_callback(relay.stop)
            if recorder is not None:
                recorder.addTrack(relay.subscribe(maxsize=50, name="recorder"))
            if window is not None:
                window.addTrack(relay.subscribe(maxsize=1, name="window"))
            await relay.start()
            if recorder is not None:
                stack.push_async_callback(recorder.stop)
                await recorder.start()
            if window is not None:
                stack.push_async_callback(window.stop)
                await self._until_closed(self._open_window(window))

            prompts: asyncio.Queue[str] = asyncio.Queue()
            if self._stdin is not None:
                read_lines(self._stdin, asyncio.get_running_loop(), prompts)
            self._spawn(self._send_prompts(prompts), "decart-prompts")
            self._spawn(self._refresh_status(source, recorder), "decart-status")
            stack.push_async_callback(self._cancel_tasks)

            await self._wait_first_frame(signaling, transport)
            self.stats.media_started = time.monotonic()
            await self._wait_end(source, signaling, transport, window)
            # Stop the input first, then let what is in flight reach the
            # sinks, then finish the file: the counts below are final.
            source.stop()
            await relay.stop()
            if recorder is not None:
                await recorder.stop()
        return self.stats

    def _final_counts(self, source: SourceTrack, recorder: Recorder | None) -> None:
        """Settle the stats once everything has stopped, however the session ended."""
        self.stats.frames_sent = source.frames_sent
        self.stats.frames_dropped_source = source.frames_dropped
        if recorder is not None:
            self.stats.frames_recorded = recorder.frames_written
        self.stats.ended = time.monotonic()
        self.stats.state = "disconnected"

    async def _until_closed(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the signaling socket closes or a stop is requested first."""
        assert self._signaling is not None and self._signaling.closed is not None
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({task, self._signaling.closed, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task in done:
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self._signaling.closed in done:
            raise self._signaling.closed.result()
        raise Interrupted(f"{self._stop_reason} before the session started")

    async def _open_window(self, window: Window) -> None:
        try:
            await asyncio.wait_for(window.start(), self.config.connect_timeout)
        except asyncio.TimeoutError:
            raise DecartError(f"the window did not open within {self.config.connect_timeout:g} s", "use --no-show, or check DISPLAY") from None

    async def _wait_first_frame(self, signaling: Signaling, transport: Transport) -> None:
        first = asyncio.ensure_future(self._first_frame.wait())
        failed = asyncio.ensure_future(transport.failed.wait())
        stop = asyncio.ensure_future(self._stop.wait())
        assert signaling.closed is not None
        try:
            done, _ = await asyncio.wait(
                {first, failed, stop, signaling.closed},
                timeout=self.config.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for f in (first, failed, stop):
                f.cancel()
        if first in done or stop in done:
            return
        if signaling.closed in done:
            raise signaling.closed.result()
        if failed in done:
            raise ConnectError("the media connection failed before any edited frame came back", "check that UDP can reach the server")
        raise ConnectError(f"no edited frame came back within {self.config.connect_timeout:g} s", "check the server, or raise --connect-timeout")

    async def _wait_end(self, source: SourceTrack, signaling: Signaling, transport: Transport, window: Window | None) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        waiters: dict[asyncio.Future, str] = {
            asyncio.ensure_future(self._stop.wait()): "stop",
            asyncio.ensure_future(transport.failed.wait()): "failed",
            signaling.closed: "closed",  # type: ignore[dict-item]
            asyncio.ensure_future(self._source_ended(source)): "source",
        }
        if window is not None:
            waiters[asyncio.ensure_future(window.wait_closed())] = "window"
        timeout = None
        if cfg.duration is not None:
            assert self.stats.media_started is not None
            timeout = max(0.0, self.stats.media_started + cfg.duration - time.monotonic())
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f, name in waiters.items():
                if name != "closed":
                    f.cancel()
        reasons = {waiters[f] for f in done}
        if "source" in reasons:
            await self._drain(loop)
        elif "closed" in reasons and not self._stop.is_set():
            raise signaling.closed.result()  # type: ignore[union-attr]
        elif "failed" in reasons and not self._stop.is_set():
            raise SessionClosed("the media connection to the server failed")

    async def _source_ended(self, source: SourceTrack) -> None:
        ended = asyncio.Event()
        source.on("ended", ended.set)
        if source.readyState == "ended":
            return
        await ended.wait()

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
        if not self._first_frame.is_set():
            self._first_frame.set()
            if self.stats.state == "connected":
                self.stats.state = "generating"

    def _on_message(self, message: p.Message) -> None:
        if self.probe is not None:
            self.probe.on_message(message)
        if isinstance(message, p.IceCandidate):
            if self._transport is not None:
                self._spawn(self._transport.add_candidate(message.candidate), "decart-candidate")
        elif isinstance(message, p.GenerationStarted):
            self.stats.state = "generating"
        elif isinstance(message, p.Error):
            self.reporter.warning(f"server error: {message.error}")
        elif isinstance(message, p.SessionId):
            log.info("session id %s", message.session_id)

    async def _send_prompts(self, prompts: asyncio.Queue[str]) -> None:
        assert self._signaling is not None
        while True:
            line = await prompts.get()
            if not line.strip():
                continue
            try:
                text = p.check_prompt(line)
                await self._signaling.request_prompt(text, enhance=self.config.enhance, timeout=self.config.ack_timeout)
            except (PromptRejected, ProtocolError) as exc:
                self.reporter.warning(f"{exc.message} (the previous edit stays)")
                continue
            except (ServerError, SessionClosed) as exc:
                self.reporter.warning(exc.message)
                continue
            self.stats.prompt = text
            self.reporter.event(f"prompt: {text}", "green")

    async def _refresh_status(self, source: SourceTrack, recorder: Recorder | None) -> None:
        last_sent, last_received, last_t = 0, 0, time.monotonic()
        last_bytes: tuple[int, int] | None = None
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            dt = max(now - last_t, 1e-6)
            if self.config.stats and self._transport is not None:
                from .bench.probe import BenchProbe, transport_bytes

                if isinstance(self.probe, BenchProbe):
                    self.stats.latency_ms = self.probe.recent_latency()
                sent_received = await transport_bytes(self._transport.pc)
                if last_bytes is not None:
                    self.stats.bitrate_kbps = (
                        (sent_received[0] - last_bytes[0]) * 8 / dt / 1000,
                        (sent_received[1] - last_bytes[1]) * 8 / dt / 1000,
                    )
                last_bytes = sent_received
            self.stats.frames_sent = source.frames_sent
            if recorder is not None:
                self.stats.frames_recorded = recorder.frames_written
            self.stats.fps_in = (self.stats.frames_sent - last_sent) / dt
            self.stats.fps_out = (self.stats.frames_received - last_received) / dt
            last_sent, last_received, last_t = self.stats.frames_sent, self.stats.frames_received, now
            self.reporter.update(self.stats)

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


__all__ = ["EditSession", "DecartError", "read_lines"]
