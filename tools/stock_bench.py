"""A stock aiortc client against `decart serve` and against a stock aiortc echo server, back to back.

Run with the SDK venv's interpreter (plain aiortc, no tuning of ours)::

    .venv-sdk/bin/python tools/stock_bench.py --server-python .venv/bin/python --duration 10 --json stock.json

Four runs (``--runs`` picks some), each with a fresh server child and a fresh
peer connection:

    decart:default  `decart serve`, the client offers aiortc's default codec list
    decart:vp8      `decart serve`, the client offers VP8 only
    stock:default   the stock aiortc echo server below, aiortc's default list
    stock:vp8       the stock aiortc echo server below, VP8 only

The client (its jitter buffer releasing a frame on its marker bit, see
:class:`MarkerJitterBuffer`) speaks the legacy protocol (prompt, prompt_ack, offer, answer on
the WebSocket; one peer connection for the media). It sends `decart bench`'s
moving, grainy test pattern at 1280x704, 25 fps, with the frame-id marker of
``decart_cli.diagnose.bench.marker`` stamped into each frame as it is handed to the
encoder, and reads the marker back from the frames it receives. After a
warm-up (from the first frame received) it measures, over ``--duration``
seconds: glass-to-glass latency (receive time minus send time, first arrival
of each frame id) p50 / p95, frames received per second, and the CPU of this
process (user + system, percent of one core) and of the server child. The
codec is the first one of the answer's video section.

The stock server (``--serve-stock``) is what a plain aiortc server would do:
it answers the offer with aiortc's defaults, drains the received track in a
task keeping only the newest frame, and sends it back on the same
connection, colours inverted (every yuv420p sample x becomes 255 - x, the
edit `decart serve` makes for "invert the colors") when a prompt was given.

Only 127.0.0.1 is used: aioice leaves loopback out of its host candidates,
so this script makes it offer 127.0.0.1 only, and no STUN server is set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tools")]

import aioice.ice  # noqa: E402
import benchkit  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import websockets  # noqa: E402
import aiortc.rtcrtpreceiver  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription  # noqa: E402
from aiortc.jitterbuffer import JitterBuffer, JitterFrame  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from aiortc.sdp import SessionDescription  # noqa: E402
from av import VideoFrame  # noqa: E402

from decart_cli.diagnose.bench import marker  # noqa: E402
from decart_cli.media.sources import TestPattern, plane_pixels  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 704, 25
MODEL = "lucy_v2v_720p_rt"
FIRST_FRAME_TIMEOUT = 30.0
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


# aioice reads its host addresses through this module global (see tests/interop/sdk_client.py).
aioice.ice.get_host_addresses = _loopback_only


class MarkerJitterBuffer(JitterBuffer):
    """Stock aiortc's jitter buffer, except that a video frame leaves as soon as its last packet (marker bit) is in.

    Stock aiortc releases a frame only when the next frame's first packet
    arrives: one frame interval (40 ms at 25 fps) added to every frame. The
    client of the figures in the README releases on the marker bit (as
    libwebrtc does), so what is left of the latency is the server's and
    the codecs'. ``--client-release stock`` measures with the stock buffer.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        frame = super()._remove_frame(sequence_number)
        if frame is not None or not self._is_video or self._origin is None:
            return frame
        packets: list[Any] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None or (packets and packet.timestamp != packets[0].timestamp):
                return None
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(data=b"".join(p._data for p in packets), timestamp=packets[0].timestamp)
        return None


def new_peer_connection() -> RTCPeerConnection:
    """A stock peer connection that contacts no STUN server."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


# --- The stock aiortc echo server -------------------------------------------


class NewestFrameEcho(MediaStreamTrack):
    """The received video sent back (inverted while ``invert``), newest frame only."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, invert: bool) -> None:
        super().__init__()
        self.invert = invert
        self._newest: VideoFrame | None = None
        self._arrived = asyncio.Event()
        self._drain_task = asyncio.ensure_future(self._drain(source))

    async def _drain(self, source: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                self._newest = await source.recv()
                self._arrived.set()
        super().stop()
        self._arrived.set()

    async def recv(self) -> VideoFrame:
        while self._newest is None:
            if self.readyState != "live":
                raise MediaStreamError
            self._arrived.clear()
            await self._arrived.wait()
        frame, self._newest = self._newest, None
        return inverted(frame) if self.invert else frame

    def stop(self) -> None:
        self._drain_task.cancel()
        super().stop()


def inverted(frame: VideoFrame) -> VideoFrame:
    """A photo negative of a decoded frame, with its pts and time_base."""
    out = VideoFrame.from_ndarray(np.invert(frame.to_ndarray(format="yuv420p")), format="yuv420p")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


class StockSession:
    """One client of the stock server: legacy signaling on ``ws``, its video echoed on one peer connection."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pc: RTCPeerConnection | None = None
        self.echo: NewestFrameEcho | None = None
        self.invert = False

    async def run(self) -> None:
        try:
            async for text in self.ws:
                message = json.loads(text)
                if message.get("type") == "prompt":
                    await self.on_prompt(message.get("prompt") or "")
                elif message.get("type") == "offer":
                    await self.on_offer(message["sdp"])
        finally:
            if self.echo is not None:
                self.echo.stop()
            if self.pc is not None:
                await self.pc.close()

    async def on_prompt(self, prompt: str) -> None:
        self.invert = bool(prompt.strip())
        if self.echo is not None:
            self.echo.invert = self.invert
        await self.ws.send(json.dumps({"type": "prompt_ack", "prompt": prompt, "success": True, "error": None}))

    async def on_offer(self, sdp: str) -> None:
        self.pc = pc = new_peer_connection()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and self.echo is None:
                self.echo = NewestFrameEcho(track, self.invert)
                pc.addTrack(self.echo)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.ws.send(json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}))


async def handle_stock_client(ws: Any) -> None:
    if ws.request.path.split("?")[0] != "/v1/stream":
        await ws.close(1008, "only /v1/stream is served")
        return
    await StockSession(ws).run()


async def serve_stock(port: int) -> None:
    """Serve the legacy protocol on 127.0.0.1:``port`` (0: any free port, printed) until killed."""
    async with websockets.serve(handle_stock_client, "127.0.0.1", port) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"stock aiortc echo server: listening on ws://127.0.0.1:{bound}", flush=True)
        await asyncio.Future()


def start_stock_server() -> tuple[subprocess.Popen[str], str, list[str]]:
    """The stock server as a child on a free port; returns it, its base URL and the lines it printed."""
    return benchkit.start_child([sys.executable, __file__, "--serve-stock", "--port", "0"], "the stock server")


# --- The stock client -------------------------------------------------------


class MarkedPattern(MediaStreamTrack):
    """The bench's test pattern with a frame id stamped in each frame, paced at 25 fps; remembers when each id was sent."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.pattern = TestPattern(WIDTH, HEIGHT, FPS)
        self.sent_at: dict[int, float] = {}
        self.index = 0
        self._t0: float | None = None

    async def recv(self) -> VideoFrame:
        if self._t0 is None:
            self._t0 = time.monotonic()
        delay = self._t0 + self.index / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        i420 = cv2.cvtColor(self.pattern.render(self.index), cv2.COLOR_BGR2YUV_I420)
        marker.stamp(i420[:HEIGHT], self.index)
        u, v = i420[HEIGHT:].reshape(2, HEIGHT // 2, WIDTH // 2)
        marker.stamp_chroma(u, v)
        frame = VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.pts, frame.time_base = self.index * 90000 // FPS, fractions.Fraction(1, 90000)
        self.sent_at[self.index] = time.monotonic()
        self.index += 1
        return frame


class Receiver:
    """Reads the frames coming back: the first one's arrival, and frames and latencies inside the window."""

    def __init__(self, sent_at: dict[int, float]) -> None:
        self.sent_at = sent_at
        self.first = asyncio.Event()
        self.first_at = 0.0
        self.window = (float("inf"), float("inf"))
        self.frames = 0
        self.unmarked = 0
        self.latencies: list[float] = []
        self._seen: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if not self.first.is_set():
                    self.first_at = now
                    self.first.set()
                if self.window[0] <= now < self.window[1]:
                    self._count(frame, now)

    def _count(self, frame: VideoFrame, now: float) -> None:
        self.frames += 1
        frame_id = marker.read(plane_pixels(frame, 0))
        if frame_id is None or frame_id not in self.sent_at:
            self.unmarked += 1
        elif frame_id not in self._seen:
            self._seen.add(frame_id)
            self.latencies.append((now - self.sent_at[frame_id]) * 1000)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


class Signaling:
    """The client's end of the legacy control socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._drain_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, base_url: str) -> Signaling:
        return cls(await websockets.connect(f"{base_url}/v1/stream?api_key=bench&model={MODEL}"))

    async def request(self, message: dict, reply: str) -> dict:
        """Send ``message`` and return the first message of type ``reply`` (others are skipped; ``error`` raises)."""
        await self.ws.send(json.dumps(message))
        while True:
            received = json.loads(await self.ws.recv())
            if received.get("type") == reply:
                return received
            if received.get("type") == "error":
                raise RuntimeError(f"server error: {received.get('error')}")

    def drain(self) -> None:
        """Read (and ignore) what the server sends from now on, so the socket never backs up."""
        async def ignore_the_rest() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for _ in self.ws:
                    pass

        self._drain_task = asyncio.ensure_future(ignore_the_rest())

    async def close(self) -> None:
        await self.ws.close()
        if self._drain_task is not None:
            self._drain_task.cancel()


def vp8_only() -> list:
    """aiortc's video codec capabilities restricted to VP8 and its retransmission (rtx)."""
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/VP8", "video/rtx")]


def video_codecs(sdp: str) -> list[str]:
    """The codec names of an SDP's first video section, in its order (rtx left out)."""
    video = next(m for m in SessionDescription.parse(sdp).media if m.kind == "video")
    return [c.mimeType.split("/")[1] for c in video.rtp.codecs if c.mimeType != "video/rtx"]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """CPU and frames sent over the measured seconds."""

    client_cpu: float
    server_cpu: float
    frames_sent: int


async def measure_window(receiver: Receiver, track: MarkedPattern, server_pid: int, warmup: float, duration: float) -> Window:
    """Wait for the first frame back and the warm-up, then measure for ``duration`` seconds."""
    await asyncio.wait_for(receiver.first.wait(), FIRST_FRAME_TIMEOUT)
    await asyncio.sleep(warmup)
    start, client0, server0, sent0 = time.monotonic(), own_cpu_seconds(), process_cpu_seconds(server_pid), track.index
    receiver.window = (start, start + duration)
    await asyncio.sleep(duration)
    wall = time.monotonic() - start
    return Window(
        client_cpu=(own_cpu_seconds() - client0) / wall * 100,
        server_cpu=(process_cpu_seconds(server_pid) - server0) / wall * 100,
        frames_sent=track.index - sent0,
    )


async def run_client(base_url: str, offer: str, server_pid: int, args: argparse.Namespace) -> dict:
    """One session of the stock client against the server at ``base_url``; its figures."""
    track = MarkedPattern()
    receiver = Receiver(track.sent_at)
    pc = new_peer_connection()
    pc.on("track", receiver.on_track)
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    if offer == "vp8":
        transceiver.setCodecPreferences(vp8_only())
    started = time.monotonic()
    signaling = await Signaling.open(base_url)
    try:
        ack = await signaling.request({"type": "prompt", "prompt": args.prompt, "enhance_prompt": True}, "prompt_ack")
        if not ack.get("success"):
            raise RuntimeError(f"prompt refused: {ack.get('error')}")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await signaling.request({"type": "offer", "sdp": pc.localDescription.sdp}, "answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        signaling.drain()
        window = await measure_window(receiver, track, server_pid, args.warmup, args.duration)
    finally:
        receiver.stop()
        await pc.close()
        await signaling.close()
    return figures(receiver, window, args.duration, offered=video_codecs(pc.localDescription.sdp), answered=video_codecs(answer["sdp"]), first_frame=receiver.first_at - started)


def figures(receiver: Receiver, window: Window, duration: float, *, offered: list[str], answered: list[str], first_frame: float) -> dict:
    ordered = sorted(receiver.latencies)

    def ms(q: float) -> float | None:
        value = benchkit.percentile(ordered, q)
        return None if value is None else round(value, 1)

    return {
        "codecs_offered": offered,
        "codecs_answered": answered,
        "codec": answered[0],
        "connect_to_first_frame": round(first_frame, 3),
        "latency_ms": {"p50": ms(0.5), "p95": ms(0.95), "max": ms(1.0), "mean": round(statistics.fmean(ordered), 1) if ordered else None},
        "input_fps": round(window.frames_sent / duration, 2),
        "output_fps": round(receiver.frames / duration, 2),
        "frames_received": receiver.frames,
        "frames_without_marker": receiver.unmarked,
        "cpu_percent_client": round(window.client_cpu, 1),
        "cpu_percent_server": round(window.server_cpu, 1),
    }


# --- Runs and report --------------------------------------------------------

SERVERS = {"decart": "decart serve", "stock": "stock aiortc server"}
OFFERS = {"default": "aiortc's default list", "vp8": "VP8 only"}
RUNS = [f"{server}:{offer}" for server in SERVERS for offer in OFFERS]


async def run_one(name: str, args: argparse.Namespace) -> dict:
    """Start the run's server, measure one client session against it, stop the server."""
    server_kind, offer = name.split(":")
    server, url, lines = benchkit.start_server(args.server_python) if server_kind == "decart" else start_stock_server()
    try:
        result = await run_client(url, offer, server.pid, args)
    except BaseException:
        benchkit.stop_server(server, lines)
        print(f"{name} failed; the server printed:\n{''.join(lines)}", file=sys.stderr)
        raise
    benchkit.stop_server(server, lines)
    return {"run": name, "server": SERVERS[server_kind], "client_offers": OFFERS[offer], **result}


def _whole(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table(results: list[dict]) -> str:
    rows = [
        "| server | client offers | codec the server answered | client CPU | g2g p50 / p95 | frames back | server CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p50, p95 = (_whole(r["latency_ms"][q]) for q in ("p50", "p95"))
        rows.append(
            f"| {r['server']} | {r['client_offers']} | {r['codec']} | {r['cpu_percent_client']:.0f}% "
            f"| {p50} / {p95} ms | {r['output_fps']:.1f} fps | {r['cpu_percent_server']:.0f}% |"
        )
    return "\n".join(rows)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-python", default=str(REPO / ".venv" / "bin" / "python"), help="python of the venv where decart_cli is installed")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after the first frame back before measuring")
    parser.add_argument("--prompt", default="invert the colors")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=RUNS, metavar="RUN", help=f"any of {', '.join(RUNS)} (default: all, in that order)")
    parser.add_argument("--client-release", choices=("marker", "stock"), default="marker", help="when the client's jitter buffer lets a frame go: on its marker bit (default), or stock aiortc's (at the next frame)")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument("--serve-stock", action="store_true", help="be the stock aiortc echo server instead (internal)")
    parser.add_argument("--port", type=int, default=0, help="port of --serve-stock")
    return parser


async def run_all(args: argparse.Namespace) -> list[dict]:
    results = []
    for name in args.runs:
        print(f"{name}: measuring {args.duration:g} s after {args.warmup:g} s of warm-up...", file=sys.stderr, flush=True)
        results.append(await run_one(name, args))
    return results


def main() -> int:
    args = arguments().parse_args()
    if args.serve_stock:
        asyncio.run(serve_stock(args.port))
        return 0
    if args.client_release == "marker":
        aiortc.rtcrtpreceiver.JitterBuffer = MarkerJitterBuffer  # this process is the client only
    results = asyncio.run(run_all(args))
    settings = {k: vars(args)[k] for k in ("duration", "warmup", "prompt", "client_release")} | {"size": f"{WIDTH}x{HEIGHT}", "fps": FPS, "cpus": os.cpu_count()}
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": settings, "runs": results}, indent=2))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
