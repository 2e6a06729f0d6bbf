"""The official Python SDK's realtime client, measured like `decart bench` measures ours.

Run with the SDK venv's interpreter (see `make bench-compare`)::

    .venv-sdk/bin/python tools/sdk_bench.py --server-python .venv/bin/python --duration 10 --json sdk.json

It starts `decart serve` (our local server, as a child of --server-python),
connects `decart.RealtimeClient` (decart[realtime]==0.0.20) to it with the
same moving, grainy test pattern `decart bench` sends, stamps the same frame-id
marker into every frame, and reads it back from the edited frames: the
glass-to-glass latency of the same server through the SDK's client.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "interop"), str(REPO), str(REPO / "tools")]

import benchkit  # noqa: E402
import sdk_client  # noqa: E402  (its import applies the loopback-only patches to aioice and the SDK)
import cv2  # noqa: E402
from aiortc import VideoStreamTrack  # noqa: E402
from av import VideoFrame  # noqa: E402

from decart_cli.diagnose.bench import marker  # noqa: E402
from decart_cli.media.sources import TestPattern  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 704, 25


class MarkedPattern(VideoStreamTrack):
    """The bench's test pattern with a frame id in each frame, paced at 25 fps."""

    def __init__(self) -> None:
        super().__init__()
        self.pattern = TestPattern(WIDTH, HEIGHT, FPS)
        self.sent_at: dict[int, float] = {}
        self.index = 0

    async def recv(self) -> VideoFrame:
        # aiortc's VideoStreamTrack paces at 30 fps; the model takes 25.
        if self.index == 0:
            self.t0 = time.monotonic()
        delay = self.t0 + self.index / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        pts, time_base = self.index * 90000 // FPS, fractions.Fraction(1, 90000)
        i420 = cv2.cvtColor(self.pattern.render(self.index), cv2.COLOR_BGR2YUV_I420)
        marker.stamp(i420[:HEIGHT], self.index)
        frame = VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.sent_at[self.index] = time.monotonic()
        self.index += 1
        return frame


async def run(args: argparse.Namespace) -> dict:
    server, url, lines = benchkit.start_server(args.server_python)
    try:
        track = MarkedPattern()
        latencies: list[float] = []
        received = 0
        window: dict[str, float] = {}

        async def read(remote) -> None:  # type: ignore[no-untyped-def]
            nonlocal received
            while True:
                try:
                    frame = await remote.recv()
                except Exception:
                    return
                now = time.monotonic()
                window.setdefault("first", now)
                if now < window["first"] + args.warmup or now > window["first"] + args.warmup + args.duration:
                    continue
                y = frame.to_ndarray(format="yuv420p")[:HEIGHT]
                frame_id = marker.read(y)
                if frame_id is not None and frame_id in track.sent_at:
                    latencies.append((now - track.sent_at[frame_id]) * 1000)
                    received += 1

        readers: list[asyncio.Task] = []
        options = sdk_client.RealtimeConnectOptions(
            model=sdk_client.models.realtime("lucy_v2v_720p_rt"),
            on_remote_stream=lambda remote: readers.append(asyncio.ensure_future(read(remote))),
        )
        client, first_frame, cpu = await benchkit.measure(
            lambda: sdk_client.RealtimeClient.connect(base_url=url, api_key="bench", local_track=track, options=options), window, args.warmup + args.duration
        )
        await client.disconnect()
        for task in readers:
            task.cancel()
    finally:
        benchkit.stop_server(server, lines)
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        return benchkit.percentile(ordered, q)

    return {
        "client": f"decart[realtime]=={sdk_client.importlib.metadata.version('decart')} (official Python SDK)",
        "connect_to_first_frame": round(first_frame, 3),
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "max": ordered[-1] if ordered else None, "mean": statistics.fmean(ordered) if ordered else None},
        "output_fps": round(received / args.duration, 2),
        "frames_received": received,
        "cpu_percent_client": round(cpu, 1),
    }


def main() -> int:
    args = benchkit.arguments(__doc__.splitlines()[0]).parse_args()
    benchkit.report(asyncio.run(run(args)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
