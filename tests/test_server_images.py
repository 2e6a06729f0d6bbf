"""Reference images on `decart serve`: refused by their header's size before decoding, decoded off the event loop.

A PNG of 12000x12000 grey pixels is ~150 KB on the wire and 430 MB decoded:
it must be refused from its header, and no client's images may stall
another session's frames.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import zlib

import numpy as np
import pytest
import websockets
from aiortc import VideoStreamTrack
from av import VideoFrame

from decart_cli import protocol as p
from decart_cli.errors import ProtocolError
from decart_cli.server import session as server_session
from decart_cli.client.signaling import Signaling
from decart_cli.client.media_connection import MediaConnection

from conftest import recv_until, serve

BOMB_SIDE = 12000


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A valid 8-bit greyscale PNG of BOMB_SIDE x BOMB_SIDE black pixels, made row by row (never whole in memory)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (BOMB_SIDE + 1)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(BOMB_SIDE)) + compressor.flush()
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # pytest resets the server module's filter
def test_an_oversized_image_is_refused_from_its_header(bomb: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 12000x12000 PNG is refused naming its size, and OpenCV is never asked to decode it; a small one still decodes."""
    decoded: list[int] = []
    original = server_session.cv2.imdecode

    def spy(buffer, flags):  # type: ignore[no-untyped-def]
        decoded.append(len(buffer))
        return original(buffer, flags)

    monkeypatch.setattr(server_session.cv2, "imdecode", spy)
    with pytest.raises(ProtocolError, match=f"{BOMB_SIDE}x{BOMB_SIDE}; at most 4096"):
        server_session.decode_image_bytes(bomb, "image_data")
    assert decoded == []
    ok, small = server_session.cv2.imencode(".png", np.full((48, 64, 3), 200, np.uint8))
    assert server_session.decode_image_bytes(small.tobytes(), "image_data").shape == (48, 64, 3)
    for junk in (b"", b"hello", bomb[:40]):
        with pytest.raises(ProtocolError, match="not an image"):
            server_session.decode_image_bytes(junk, "image_data")


class Moving(VideoStreamTrack):
    """A small track whose frames differ (so the encoder keeps sending)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.count += 1
        image = np.full((176, 320, 3), (40, 40, 200), np.uint8)
        image[:, (self.count * 4) % 320] = 255
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def test_oversized_images_do_not_stall_another_session(bomb: bytes) -> None:
    """While clients of both generations send 12000x12000 PNGs again and again, another session's frames keep coming (no gap over 100 ms)."""
    data = base64.b64encode(bomb).decode()

    async def attacker(url: str, today: bool, acks: list[float]) -> None:
        async with websockets.connect(url, max_size=None) as ws:
            if today:
                await ws.send(json.dumps({"type": "livekit_join"}))
                await recv_until(ws, "livekit_room_info")
            end = time.monotonic() + 2.0
            while time.monotonic() < end or len(acks) < 10:
                sent = time.monotonic()
                await ws.send(json.dumps({"type": "set_image", "image_data": data}))
                ack = await recv_until(ws, "set_image_ack", timeout=10)
                assert ack["success"] is False and f"{BOMB_SIDE}x{BOMB_SIDE}" in ack["error"], ack
                acks.append(time.monotonic() - sent)

    async def main(base: str) -> tuple[list[float], list[float], list[float]]:
        signaling = Signaling(p.stream_url(base, api_key="k", model="lucy_v2v_720p_rt"))
        await signaling.connect()
        transport = MediaConnection(signaling, loopback=True, timeout=10)
        remote = await transport.start(Moving())
        await asyncio.wait_for(remote.recv(), 10)
        arrivals: list[float] = []

        async def watch(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await asyncio.wait_for(remote.recv(), 5)
                arrivals.append(time.monotonic())

        for _ in range(10):  # past the start-up (the encoder's first frames)
            await asyncio.wait_for(remote.recv(), 5)
        baseline: list[float] = []
        await watch(1.0)
        baseline, arrivals[:] = arrivals[:], []
        acks: list[float] = []
        watcher = asyncio.ensure_future(watch(1e9))
        try:
            await asyncio.gather(
                attacker(p.stream_url(base, api_key="k", model="lucy_2_rt"), False, acks),
                attacker(p.stream_url(base, api_key="k", model="lucy-2.6"), True, acks),
            )
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await transport.close()
        await signaling.close()
        return baseline, arrivals, acks

    with serve("--prompt-rate", "0") as server:  # as fast as the clients can send
        baseline, arrivals, acks = asyncio.run(main(server.url))
    gaps = np.diff(arrivals) if len(arrivals) > 1 else np.array([99.0])
    context = f"baseline max gap {np.diff(baseline).max() * 1000:.0f} ms; during: {len(arrivals)} frames, max gap {gaps.max() * 1000:.0f} ms; {len(acks)} refusals, slowest {max(acks, default=0) * 1000:.0f} ms"
    assert len(acks) >= 10 and max(acks) < 1.0, context
    assert len(arrivals) >= 40 and gaps.max() < 0.1, context
