"""Drive Decart's official Python SDK realtime client against a server.

Run with the interpreter of the SDK's own venv (``decart[realtime]==0.0.20``,
kept apart from ours because it pins its own opencv-python)::

    .venv-sdk/bin/python tests/interop/sdk_client.py \
        --url ws://127.0.0.1:PORT --prompt "invert the colors" --seconds 4 \
        --out result.json

It connects with ``decart.RealtimeClient`` exactly as an SDK user would
(initial prompt sent and acknowledged before the offer), sends a synthetic
1280x704 track (left half red, right half blue, with noise), collects the
edited frames coming back and writes a JSON report:

    frames_received, last_frame_size, left_bgr / right_bgr (mean BGR of the
    halves of the last received frame), sent_left_bgr / sent_right_bgr (the
    same for what we send), states, errors, messages_received /
    messages_sent (types, in order), sdk_log (its warnings and errors),
    timings; with --watch, what a second SDK client subscribed by the
    session's token received (viewer_frames, viewer_size, viewer_left_bgr /
    viewer_right_bgr of its last frame).

Exit status 0 when at least one edited frame came back, 1 otherwise; the
report is written in both cases. The SDK itself is never modified: the two
patches below touch aioice and the SDK's module namespace in this process
only.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import importlib.metadata
import json
import logging
import re
import sys
import time
import traceback

import numpy as np

# --- Loopback patches (this script only) ------------------------------------
#
# 1. aioice.ice.get_host_addresses() deliberately leaves 127.0.0.1 out of the
#    host candidates. On this machine (and CI) nothing is routable: the only
#    network a test may use is loopback. Without 127.0.0.1 the SDK's offer
#    would carry only the eth0/IPv6 addresses and the test's traffic would
#    leave 127.0.0.1. aioice calls the function through its module global,
#    so replacing the module attribute is enough.
import aioice.ice  # noqa: E402


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback_only

# 2. The SDK hard-codes RTCConfiguration(iceServers=[stun:stun.l.google.com:19302])
#    in webrtc_connection._setup_peer_connection. Here DNS fails at once, so it
#    costs ~0 s (measured: setLocalDescription 4 ms with it, 2 ms without), but
#    where DNS did resolve aioice would send STUN packets off the machine, and
#    where DNS hangs it would stall candidate gathering. So in this process the
#    name RTCConfiguration inside the SDK module builds a configuration without
#    ICE servers.
from aiortc import RTCConfiguration, VideoStreamTrack  # noqa: E402
from av import VideoFrame  # noqa: E402

import decart.realtime.webrtc_connection as sdk_conn  # noqa: E402
from decart import models  # noqa: E402
from decart.realtime.client import RealtimeClient  # noqa: E402
from decart.realtime.subscribe import SubscribeOptions  # noqa: E402
from decart.realtime.types import InitialPromptOptions, RealtimeConnectOptions  # noqa: E402


def _no_ice_servers(*args, **kwargs) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


sdk_conn.RTCConfiguration = _no_ice_servers

WIDTH, HEIGHT, FPS = 1280, 704, 25
# BGR colours of the two halves before noise.
LEFT_BGR = (40, 40, 210)  # red-ish
RIGHT_BGR = (210, 50, 40)  # blue-ish


def make_pattern_frames(count: int = 8, seed: int = 1234) -> list[np.ndarray]:
    """A few BGR frames of the pattern, each with its own noise."""
    rng = np.random.default_rng(seed)
    base = np.empty((HEIGHT, WIDTH, 3), np.int16)
    base[:, : WIDTH // 2] = LEFT_BGR
    base[:, WIDTH // 2 :] = RIGHT_BGR
    frames = []
    for _ in range(count):
        noise = rng.integers(-20, 21, size=(HEIGHT, WIDTH, 3), dtype=np.int16)
        frames.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return frames


def half_means(bgr: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean BGR of the left and right halves (a 10% margin around the seam is skipped)."""
    h, w = bgr.shape[:2]
    m = w // 10
    left = bgr[:, : w // 2 - m].reshape(-1, 3).mean(axis=0)
    right = bgr[:, w // 2 + m :].reshape(-1, 3).mean(axis=0)
    return [round(float(x), 1) for x in left], [round(float(x), 1) for x in right]


class PatternTrack(VideoStreamTrack):
    """Synthetic camera: the red/blue pattern at 1280x704, paced at 25 fps."""

    def __init__(self) -> None:
        super().__init__()
        self._frames = make_pattern_frames()
        self._index = 0
        self._start: float | None = None
        self.sent = 0

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index / FPS
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = VideoFrame.from_ndarray(self._frames[self._index % len(self._frames)], format="bgr24")
        frame.pts = self._index * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._index += 1
        self.sent += 1
        return frame


class Report:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.data: dict = {
            "sdk_version": importlib.metadata.version("decart"),  # decart.__version__ says 0.0.1
            "url": None,
            "frames_received": 0,
            "frames_sent": 0,
            "last_frame_size": None,
            "left_bgr": None,
            "right_bgr": None,
            "sent_left_bgr": None,
            "sent_right_bgr": None,
            "states": [],
            "errors": [],
            "messages_received": [],
            "messages_sent": [],
            "sdk_log": [],
            "timings": {},
            "ok": False,
        }

    def mark(self, name: str) -> None:
        self.data["timings"].setdefault(name, round(time.monotonic() - self.t0, 3))

    def error(self, text: str) -> None:
        self.data["errors"].append(redact(text))


def redact(text: str) -> str:
    return re.sub(r"(api_key=)[^&\s'\"]*", r"\1***", str(text))


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _LogCollector(logging.Handler):
    """Keeps the SDK's own warnings/errors (e.g. 'Error handling message: ...')."""

    def __init__(self, report: Report) -> None:
        super().__init__(level=logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        self.report.data["sdk_log"].append(f"{record.levelname} {record.name}: {redact(record.getMessage())}")


def _observe_sdk(report: Report) -> None:
    """Record what goes over the WebSocket by wrapping methods (observation only)."""
    conn_cls = sdk_conn.WebRTCConnection
    orig_handle = conn_cls._handle_message
    orig_send = conn_cls._send_message

    async def handle(self, data: dict) -> None:
        report.data["messages_received"].append(data.get("type"))
        report.mark(f"recv:{data.get('type')}")
        await orig_handle(self, data)

    async def send(self, message) -> None:
        report.data["messages_sent"].append(getattr(message, "type", "?"))
        report.mark(f"send:{getattr(message, 'type', '?')}")
        await orig_send(self, message)

    conn_cls._handle_message = handle
    conn_cls._send_message = send

    import aiohttp

    orig_ws_connect = aiohttp.ClientSession.ws_connect

    def ws_connect(self, url, *args, **kwargs):
        report.data["url"] = redact(str(url))
        return orig_ws_connect(self, url, *args, **kwargs)

    aiohttp.ClientSession.ws_connect = ws_connect


async def run(args: argparse.Namespace, report: Report) -> None:
    track = PatternTrack()
    sl, sr = half_means(track._frames[0])
    report.data["sent_left_bgr"], report.data["sent_right_bgr"] = sl, sr

    last: dict = {"frame": None}
    got_frame = asyncio.Event()
    readers: list[asyncio.Task] = []

    async def read_remote(remote) -> None:
        while True:
            try:
                frame = await remote.recv()
            except Exception:  # MediaStreamError when the track ends
                return
            report.data["frames_received"] += 1
            report.mark("first_frame")
            last["frame"] = frame
            got_frame.set()

    def on_remote_stream(remote) -> None:
        report.mark("remote_track")
        readers.append(asyncio.ensure_future(read_remote(remote)))

    async def read_viewer(remote) -> None:
        while True:
            try:
                frame = await remote.recv()
            except Exception:  # MediaStreamError when the track ends
                return
            report.data["viewer_frames"] = report.data.get("viewer_frames", 0) + 1
            bgr = frame.to_ndarray(format="bgr24")
            report.data["viewer_size"] = [bgr.shape[1], bgr.shape[0]]
            report.data["viewer_left_bgr"], report.data["viewer_right_bgr"] = half_means(bgr)

    def on_viewer_stream(remote) -> None:
        readers.append(asyncio.ensure_future(read_viewer(remote)))

    base_url = args.url.rstrip("/")
    if base_url.endswith("/v1/stream"):  # the SDK appends the model's path itself
        base_url = base_url[: -len("/v1/stream")]

    options = RealtimeConnectOptions(
        model=models.realtime(args.model),
        on_remote_stream=on_remote_stream,
        initial_prompt=InitialPromptOptions(text=args.prompt, enhance=True),
    )
    report.mark("connect_start")
    # asyncio.timeout (not wait_for, which runs connect() in another task): the
    # client replays the states/errors it buffered during connect on the next
    # loop tick, so the handlers must be registered right after it returns.
    async with asyncio.timeout(args.connect_timeout):
        client = await RealtimeClient.connect(
            base_url=base_url, api_key=args.api_key, local_track=track, options=options
        )
    client.on("connection_change", lambda s: report.data["states"].append(s))
    client.on("error", lambda e: report.error(f"error callback: {e}"))
    report.mark("connected")
    report.data["session_id"] = client.session_id
    subscription = None
    try:
        if args.mid_session_prompt:
            # Mid-session prompt: set_prompt waits for the prompt_ack matched by text.
            await client.set_prompt(args.prompt, enhance=True)
            report.mark("mid_session_prompt_ack")
        try:
            await asyncio.wait_for(got_frame.wait(), timeout=args.first_frame_timeout)
        except asyncio.TimeoutError:
            report.error(f"no edited frame within {args.first_frame_timeout}s of connecting")
        if args.watch:
            # A second client of the SDK watches this session receive-only, by
            # the token the first was given (/subscribe/<sid>).
            report.data["subscribe_token"] = client.subscribe_token
            subscription = await asyncio.wait_for(
                RealtimeClient.subscribe(base_url=base_url, api_key=args.api_key, options=SubscribeOptions(token=client.subscribe_token, on_remote_stream=on_viewer_stream)),
                args.connect_timeout,
            )
            report.mark("subscribed")
        await asyncio.sleep(args.seconds)
        report.data["session_id"] = client.session_id
        report.data["final_state"] = client.get_connection_state()
    finally:
        if subscription is not None:
            await subscription.disconnect()
        report.mark("disconnect_start")
        await client.disconnect()
        report.mark("disconnected")
        for task in readers:
            task.cancel()
        report.data["frames_sent"] = track.sent

    if last["frame"] is not None:
        bgr = last["frame"].to_ndarray(format="bgr24")
        report.data["last_frame_size"] = [bgr.shape[1], bgr.shape[0]]
        report.data["left_bgr"], report.data["right_bgr"] = half_means(bgr)
    report.data["ok"] = report.data["frames_received"] > 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. ws://127.0.0.1:8765")
    ap.add_argument("--prompt", default="invert the colors")
    ap.add_argument("--model", default="lucy_v2v_720p_rt")
    ap.add_argument("--api-key", default="test-key")
    ap.add_argument("--seconds", type=float, default=4.0, help="how long to collect after connecting")
    ap.add_argument("--connect-timeout", type=float, default=60.0,
                    help="the SDK's own is 5 min per attempt, 5 attempts")
    ap.add_argument("--first-frame-timeout", type=float, default=20.0)
    ap.add_argument("--mid-session-prompt", action="store_true",
                    help="also call set_prompt() once connected")
    ap.add_argument("--watch", action="store_true",
                    help="also watch the session with RealtimeClient.subscribe (report: viewer_frames, viewer_*_bgr)")
    ap.add_argument("--out", required=True)
    ap.add_argument("-v", "--verbose", action="store_true", help="SDK debug logging to stderr")
    args = ap.parse_args()

    report = Report()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # the SDK logs its full URL, key included
        handler.setFormatter(_RedactingFormatter(logging.BASIC_FORMAT))
    logging.getLogger("decart").addHandler(_LogCollector(report))
    _observe_sdk(report)
    try:
        asyncio.run(run(args, report))
    except BaseException as exc:  # noqa: BLE001 - everything goes into the report
        report.error(f"{type(exc).__name__}: {exc}")
        if args.verbose:
            traceback.print_exc()
    report.data["timings"]["total"] = round(time.monotonic() - report.t0, 3)
    with open(args.out, "w") as fh:
        json.dump(report.data, fh, indent=2)
    return 0 if report.data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
