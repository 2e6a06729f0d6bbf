"""Drive Decart's official Python SDK of today's protocol (control channel + LiveKit room).

Run with the interpreter of its own venv (``decart[realtime]==0.2.4``, which
brings LiveKit's own client, the ``livekit`` package)::

    .venv-sdk2/bin/python tests/interop/sdk2_client.py --url ws://127.0.0.1:PORT \
        --model lucy-2.6 --prompt "invert the colors" --seconds 4 --out result.json

It connects with ``decart.RealtimeClient.connect`` exactly as an SDK user
would (initial prompt acknowledged before the room is joined), publishes a
synthetic camera (left half red, right half blue) through a
``livekit.rtc.VideoSource`` at 30 fps, and takes the edited track the SDK
hands to ``on_remote_stream``. Then, if asked, it calls ``set_prompt`` and
``set_image`` and watches their effect, and disconnects.

The JSON report: ``connected`` (bool), ``error`` (text of a failed connect),
``connect_seconds``, ``frames`` (edited frames received), ``sizes`` (frame
sizes seen), ``phases`` (per phase: frames, mean RGB of the left and right
halves and of the top-right corner of its last frame), ``set_prompt`` /
``set_image`` (``ok`` or the error), ``session_id``, ``subscribe_token``,
``ticks`` (seconds of each ``generation_tick`` callback), ``states``
(connection states in order), ``received`` (control messages the SDK got,
types and queue positions: read by wrapping the SDK's message handler, the
SDK itself is not changed), ``signaling_attempts`` (control sockets opened),
``latency_ms`` (frame-marker round trips, with ``--markers``), ``viewer``
(with ``--watch``: what a second SDK client, subscribed by the session's
token during the first phase, received: frames, sizes, phases, error).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from livekit import rtc

import decart.realtime.livekit_connection as lkc
from decart import models
from decart.realtime.client import RealtimeClient
from decart.realtime.subscribe import SubscribeOptions
from decart.realtime.types import RealtimeConnectOptions
from decart.types import ModelState, Prompt

WIDTH, HEIGHT, FPS = 1280, 720, 30
REPORT: dict = {
    "connected": False,
    "error": None,
    "frames": 0,
    "sizes": [],
    "phases": {},
    "ticks": [],
    "states": [],
    "received": [],
    "signaling_attempts": 0,
}

# Observe what the SDK receives and how often it opens its control socket,
# without changing what it does.
_handle_message = lkc.LiveKitConnection._handle_message
_connect_signaling = lkc.LiveKitConnection._connect_signaling


async def _observed_handle(self, data: dict) -> None:  # type: ignore[no-untyped-def]
    kind = data.get("type")
    entry = {"type": kind, "t": round(time.monotonic() - START, 3)}
    if kind == "queue_position":
        entry.update(position=data.get("position"), queue_size=data.get("queue_size"))
    if kind in ("generation_ended", "error"):
        entry.update({k: v for k, v in data.items() if k != "type"})
    REPORT["received"].append(entry)
    await _handle_message(self, data)


async def _observed_connect(self, url: str, integration):  # type: ignore[no-untyped-def]
    REPORT["signaling_attempts"] += 1
    await _connect_signaling(self, url, integration)


lkc.LiveKitConnection._handle_message = _observed_handle
lkc.LiveKitConnection._connect_signaling = _observed_connect
START = time.monotonic()


def camera_frame(index: int) -> np.ndarray:
    """Left half red, right half blue, a little noise (RGBA)."""
    image = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    image[:, : WIDTH // 2, 0] = 200
    image[:, WIDTH // 2 :, 2] = 200
    image[..., 3] = 255
    noise = np.random.default_rng(index).integers(0, 12, (HEIGHT, WIDTH), dtype=np.uint8)
    image[..., 1] = noise
    return image


class Watcher:
    """Edited frames, grouped into the phase in effect when they arrived (into ``report``: the client's, or a viewer's)."""

    def __init__(self, report: dict | None = None) -> None:
        self.report = REPORT if report is None else report
        self.phase = "initial"
        self.first_frame = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def on_remote_stream(self, track) -> None:  # type: ignore[no-untyped-def]
        self.tasks.append(asyncio.ensure_future(self.read(track)))

    async def read(self, track) -> None:  # type: ignore[no-untyped-def]
        async for event in rtc.VideoStream(track):
            frame = event.frame.convert(rtc.VideoBufferType.RGBA)
            image = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 4)
            report = self.report
            report["frames"] += 1
            size = [frame.width, frame.height]
            if size not in report["sizes"]:
                report["sizes"].append(size)
            if not self.first_frame.is_set():
                report["first_frame_seconds"] = round(time.monotonic() - START, 3)
                self.first_frame.set()
            h, w = image.shape[:2]
            phase = report["phases"].setdefault(self.phase, {"frames": 0})
            phase["frames"] += 1
            phase["left_rgb"] = [round(float(x), 1) for x in image[:, : w // 4, :3].reshape(-1, 3).mean(0)]
            phase["right_rgb"] = [round(float(x), 1) for x in image[:, 3 * w // 4 :, :3][h // 2 :].reshape(-1, 3).mean(0)]
            phase["corner_rgb"] = [round(float(x), 1) for x in image[h // 20 : h // 6, w - w // 6 : w - w // 20, :3].reshape(-1, 3).mean(0)]


async def publish(source: rtc.VideoSource, stop: asyncio.Event) -> None:
    index = 0
    next_at = time.monotonic()
    while not stop.is_set():
        image = camera_frame(index % 8)
        source.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, image.tobytes()))
        index += 1
        next_at += 1 / FPS
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def phase(watcher: Watcher, name: str, seconds: float) -> None:
    watcher.phase = name
    await asyncio.sleep(seconds)


async def main(args: argparse.Namespace) -> int:
    watcher = Watcher()
    source = rtc.VideoSource(WIDTH, HEIGHT)
    track = rtc.LocalVideoTrack.create_video_track("camera", source)
    stop = asyncio.Event()
    feeder = asyncio.ensure_future(publish(source, stop))
    initial = ModelState(prompt=Prompt(text=args.prompt)) if args.prompt else None
    options = RealtimeConnectOptions(
        model=models.realtime(args.model), on_remote_stream=watcher.on_remote_stream, initial_state=initial, resolution=args.resolution, preferred_video_codec=args.codec
    )
    started = time.monotonic()
    try:
        client = await RealtimeClient.connect(base_url=args.url, api_key=args.api_key, local_track=track, options=options)
    except Exception as exc:
        REPORT["error"] = str(exc)
        REPORT["connect_seconds"] = round(time.monotonic() - started, 3)
        stop.set()
        await feeder
        return 1
    REPORT["connected"] = True
    REPORT["connect_seconds"] = round(time.monotonic() - started, 3)
    REPORT["session_id"] = client.session_id
    REPORT["subscribe_token"] = client.subscribe_token
    client.on("connection_change", lambda state: REPORT["states"].append(state))
    client.on("generation_tick", lambda message: REPORT["ticks"].append(message.seconds))
    client.on("error", lambda error: REPORT.setdefault("errors", []).append(str(error)))
    try:
        await asyncio.wait_for(watcher.first_frame.wait(), args.first_frame_timeout)
    except asyncio.TimeoutError:
        REPORT["error"] = "no edited frame"
    viewer = None
    if args.watch:
        # A second client of the SDK watches this session receive-only, by the
        # token the first was given (POST /watch-stream, then the room).
        REPORT["viewer"] = {"frames": 0, "sizes": [], "phases": {}, "error": None}
        viewer = Watcher(REPORT["viewer"])
        try:
            subscription = await RealtimeClient.subscribe(
                base_url=args.url, api_key=args.api_key, options=SubscribeOptions(token=client.subscribe_token, on_remote_stream=viewer.on_remote_stream)
            )
        except Exception as exc:
            REPORT["viewer"]["error"] = str(exc)
            viewer = None
    await phase(watcher, "initial", args.seconds)
    if viewer is not None:
        viewer.phase = "closing"
        await subscription.disconnect()
    if args.set_prompt:
        try:
            await client.set_prompt(args.set_prompt)
            REPORT["set_prompt"] = "ok"
        except Exception as exc:
            REPORT["set_prompt"] = str(exc)
        await phase(watcher, "after_prompt", args.seconds)
    if args.image:
        try:
            await client.set_image(Path(args.image).read_bytes())
            REPORT["set_image"] = "ok"
        except Exception as exc:
            REPORT["set_image"] = str(exc)
        await phase(watcher, "after_image", args.seconds)
    if args.hold:
        await phase(watcher, "hold", args.hold)
    watcher.phase = "closing"
    REPORT["disconnect_started"] = round(time.monotonic() - START, 3)
    await client.disconnect()
    REPORT["disconnect_seconds"] = round(time.monotonic() - START - REPORT["disconnect_started"], 3)
    stop.set()
    await feeder
    for task in watcher.tasks:
        task.cancel()
    return 0 if REPORT["frames"] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--model", default="lucy-2.6")
    parser.add_argument("--prompt", default=None)
    parser.add_argument("--set-prompt", default=None)
    parser.add_argument("--image", default=None, help="a PNG/JPEG to send with set_image mid-session")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each phase")
    parser.add_argument("--hold", type=float, default=0.0, help="stay connected this much longer before disconnecting")
    parser.add_argument("--first-frame-timeout", type=float, default=20.0)
    parser.add_argument("--watch", action="store_true", help="also watch the session with RealtimeClient.subscribe during the first phase (report: viewer)")
    parser.add_argument("--resolution", default=None, help="the SDK's resolution option: 720p or 1080p")
    parser.add_argument("--codec", default="h264", help="the SDK's preferred_video_codec: h264 or vp9")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    code = 1
    try:
        code = asyncio.run(main(args))
    except Exception:
        REPORT["crash"] = traceback.format_exc()
    finally:
        Path(args.out).write_text(json.dumps(REPORT, indent=1))
    sys.exit(code)
