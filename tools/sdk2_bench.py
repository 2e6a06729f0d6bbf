"""The official SDK of today's protocol (control channel + LiveKit room), measured like `decart bench`.

Run with the SDK 0.2.4 venv's interpreter, as root (see `make bench-compare`)::

    .venv-sdk2/bin/python tools/sdk2_bench.py --server-python .venv/bin/python --duration 10 --json sdk2.json

LiveKit's client (libwebrtc) gathers no loopback candidates, so the script
first re-runs itself inside a private network namespace (lo plus a veth
pair, nothing else: no packet can leave it); `--no-netns` skips that where
the machine has a LAN address to use. It starts `decart serve` (our local
server, a child of --server-python) there, connects
`decart.RealtimeClient.connect` (decart[realtime]==0.2.4) with model
lucy-2.6 (1280x720 at 30 fps), publishes the moving, grainy test pattern
`decart bench` sends through a `livekit.rtc.VideoSource` with a frame-id
marker in every frame, and reads the marker back from the edited track:
glass-to-glass latency through today's path, client CPU, output fps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tools")]

import benchkit  # noqa: E402

MODEL, WIDTH, HEIGHT, FPS = "lucy-2.6", 1280, 720, 30


def in_netns(argv: list[str]) -> int:
    """Run this script again inside a fresh network namespace (``tools/in-netns``)."""
    return subprocess.call([str(REPO / "tools" / "in-netns"), *argv])


async def run(args: argparse.Namespace) -> dict:
    import cv2
    import numpy as np
    from livekit import rtc

    from decart import models
    from decart.realtime.client import RealtimeClient
    from decart.realtime.types import RealtimeConnectOptions
    from decart_cli.diagnose.bench import marker
    from decart_cli.media.pattern import TestPattern

    server, url, server_lines = benchkit.start_server(args.server_python)
    try:
        made = time.monotonic()  # `decart bench` counts from here: its session opens its own source
        pattern = TestPattern(WIDTH, HEIGHT, FPS)
        source = rtc.VideoSource(WIDTH, HEIGHT)
        track = rtc.LocalVideoTrack.create_video_track("camera", source)
        sent_at: dict[int, float] = {}
        latencies: list[float] = []
        received = 0
        unreadable = 0
        window: dict[str, float] = {}
        stop = asyncio.Event()

        async def publish() -> None:
            index = 0
            start = time.monotonic()
            while not stop.is_set():
                i420 = cv2.cvtColor(pattern.render(index), cv2.COLOR_BGR2YUV_I420)
                marker.stamp(i420[:HEIGHT], index)
                sent_at[index] = time.monotonic()
                source.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.I420, i420.tobytes()))
                index += 1
                await asyncio.sleep(max(0.0, start + index / FPS - time.monotonic()))

        async def read(remote) -> None:  # type: ignore[no-untyped-def]
            nonlocal received, unreadable
            async for event in rtc.VideoStream(remote, format=rtc.VideoBufferType.I420):
                now = time.monotonic()
                window.setdefault("first", now)
                if now < window["first"] + args.warmup or now > window["first"] + args.warmup + args.duration:
                    continue
                frame = event.frame
                y = np.frombuffer(frame.data, np.uint8)[: frame.width * frame.height].reshape(frame.height, frame.width)
                frame_id = marker.read(y)
                received += 1
                if frame_id is not None and frame_id in sent_at:
                    latencies.append((now - sent_at[frame_id]) * 1000)
                else:
                    unreadable += 1

        readers: list[asyncio.Task] = []
        feeder = asyncio.ensure_future(publish())
        options = RealtimeConnectOptions(model=models.realtime(MODEL), on_remote_stream=lambda remote: readers.append(asyncio.ensure_future(read(remote))))
        client, first_frame, cpu = await benchkit.measure(
            lambda: RealtimeClient.connect(base_url=url, api_key="bench", local_track=track, options=options), window, args.warmup + args.duration
        )
        await client.disconnect()
        stop.set()
        await feeder
        for task in readers:
            task.cancel()
    finally:
        benchkit.stop_server(server, server_lines)
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        value = benchkit.percentile(ordered, q)
        return None if value is None else round(value, 1)

    from importlib.metadata import version

    sizes = re.findall(r"frames received \(last (\d+x\d+)\)", "".join(server_lines))
    return {
        "client": f"decart[realtime]=={version('decart')} (official Python SDK, today's protocol, livekit {version('livekit')})",
        "model": f"{MODEL} {WIDTH}x{HEIGHT}@{FPS}",
        "connect_to_first_frame": round(first_frame, 3),
        "source_to_first_frame": round(window["first"] - made, 3) if "first" in window else None,
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "max": pct(1.0), "mean": round(statistics.fmean(ordered), 1) if ordered else None},
        "output_fps": round(received / args.duration, 2),
        "frames_received": received,
        "frames_unreadable": unreadable,
        "size_the_server_received": sizes[-1] if sizes else None,
        "cpu_percent_client": round(cpu, 1),
    }


def main() -> int:
    ap = benchkit.arguments(__doc__.splitlines()[0])
    ap.add_argument("--no-netns", action="store_true", help="run here, not in a private network namespace (needs a non-loopback address)")
    args = ap.parse_args()
    if not args.no_netns and not os.environ.get("DECART_IN_NETNS"):
        return in_netns([sys.executable, *sys.argv])
    benchkit.report(asyncio.run(run(args)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
