"""`decart serve` under load and hostile clients: a bounded queue, engines only for sessions that edit, a cap per client address.

A real media session (our client, over loopback from 127.0.0.1) is watched
while another address (127.0.0.2, also loopback) opens hundreds of idle and
half-open sockets, trickles request headers a byte at a time and sends junk
after a valid room join: its frame rate holds, memory stays bounded, the
log holds no traceback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time

import pytest
import websockets
from livekit.protocol import rtc as lk

from conftest import recv_until, stream, with_server
from decart_cli.engine.builtin import BuiltinEngine
from decart_cli.server import Server
from test_server_limits import media_session

pytestmark = pytest.mark.usefixtures("no_tracebacks")

TODAY = "lucy-2.6"
ATTACKER = "127.0.0.2"


class CountedEngine(BuiltinEngine):
    """The built-in engine, counting how many were built."""

    built = 0

    def __init__(self) -> None:
        super().__init__()
        CountedEngine.built += 1


def test_a_full_queue_is_at_capacity_and_queued_clients_have_no_engine() -> None:
    """max_sessions 1, max_queue 2: two clients queue (their prompts checked and acked), a fourth is told "at capacity" (1013); engines are built only as slots are granted, with the kept prompt."""
    CountedEngine.built = 0

    async def test(server: Server) -> None:
        built_at_start = CountedEngine.built  # the server's prompt checker
        first = await websockets.connect(stream(server, model=TODAY))
        await first.send(json.dumps({"type": "livekit_join"}))
        await recv_until(first, "livekit_room_info")
        assert CountedEngine.built == built_at_start + 1
        queued = []
        for position in (1, 2):
            ws = await websockets.connect(stream(server, model=TODAY))
            await ws.send(json.dumps({"type": "prompt", "prompt": "invert the colors"}))
            assert (await recv_until(ws, "prompt_ack"))["success"] is True
            await ws.send(json.dumps({"type": "prompt", "prompt": "remove the tree"}))
            assert (await recv_until(ws, "prompt_ack"))["success"] is False  # checked, though it has no engine
            await ws.send(json.dumps({"type": "livekit_join"}))
            assert (await recv_until(ws, "queue_position"))["position"] == position
            queued.append(ws)
        assert CountedEngine.built == built_at_start + 1, "a queued client got an engine"
        async with websockets.connect(stream(server, model=TODAY)) as fourth:
            await fourth.send(json.dumps({"type": "livekit_join"}))
            error = await recv_until(fourth, "error")
            assert "at capacity" in error["error"].lower()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(fourth.recv(), 5)
            assert fourth.close_code == 1013
        await first.close()
        await recv_until(queued[0], "livekit_room_info")
        assert CountedEngine.built == built_at_start + 2
        engines = [s.editor.engine for s in server.sessions if s.editor.engine is not None]
        assert any(isinstance(e, BuiltinEngine) and "invert" in e.describe() for e in engines), [e.describe() for e in engines if isinstance(e, BuiltinEngine)]
        for ws in queued:
            await ws.close()

    with_server(test, max_sessions=1, max_queue=2, engine="test_server_load:CountedEngine")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


async def _frames_in(remote, seconds: float) -> int:  # type: ignore[no-untyped-def]
    count, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.wait_for(remote.recv(), 5)
        count += 1
    return count


async def _open_from(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))


def test_hostile_sockets_on_every_endpoint_leave_a_session_its_frame_rate() -> None:
    """300 idle, half-open and trickling sockets plus junk after a valid room join, from one address: capped at its limit (429 beyond), a real session keeps ≥ 80% of its frame rate, RSS grows < 60 MB, idle ones are closed."""

    async def test(server: Server) -> None:
        signaling, transport, remote, _ = await media_session(server)
        try:
            await _frames_in(remote, 1.0)  # warmed up
            baseline = await _frames_in(remote, 2.0)
            rss_before = _rss_mb()
            port = server.port
            sockets = []
            answers: list[bytes] = []
            request = f"GET /v1/stream?api_key=k&model={TODAY} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".encode()
            for n in range(300):
                reader, writer = await _open_from(ATTACKER, port)
                if n % 3 == 1:
                    writer.write(request)  # half-open: a request that never ends
                sockets.append((reader, writer))

            async def trickle(writer: asyncio.StreamWriter) -> None:
                for byte in b"POST /v1/client/tokens HTTP/1.1\r\nHost: x\r\n":
                    writer.write(bytes([byte]))
                    await asyncio.sleep(0.05)

            trickles = [asyncio.ensure_future(trickle(w)) for _, w in sockets[:20]]
            async with websockets.connect(stream(server, model=TODAY)) as control:
                await control.send(json.dumps({"type": "livekit_join"}))
                info = await recv_until(control, "livekit_room_info")
                join = base64.urlsafe_b64encode(lk.WrappedJoinRequest(join_request=lk.JoinRequest().SerializeToString()).SerializeToString()).decode()
                async with websockets.connect(server.url + "/rtc/v1?join_request=" + join, additional_headers={"Authorization": f"Bearer {info['token']}"}) as room:
                    await asyncio.wait_for(room.recv(), 5)  # the join response
                    for junk in (b"\x00" * 10, b"\xff" * 5000, "not protobuf", b"\x0a\x03abc"):
                        with contextlib.suppress(websockets.ConnectionClosed):
                            await room.send(junk)
                    during = await _frames_in(remote, 2.0)
            print(f"frames in 2 s: {baseline} before, {during} during; RSS +{_rss_mb() - rss_before:.1f} MB; {server.connections.refused} refused")
            assert during >= 0.8 * baseline, (during, baseline)
            assert server.connections.open.get(ATTACKER, 0) <= server.config.max_connections_per_address
            assert server.connections.refused >= 300 - server.config.max_connections_per_address
            for n in (299, 297, 296, 294, 293):  # refused before they sent anything (one that had is reset: its bytes were never read)
                answers.append(await asyncio.wait_for(sockets[n][0].read(200), 5))
            assert all(answer.startswith(b"HTTP/1.1 429") for answer in answers), answers
            assert _rss_mb() - rss_before < 60, (rss_before, _rss_mb())
            # The ones let in (idle, half-open, trickling) are closed once they are idle too long.
            assert await _until_closed(sockets[0][0], 10) and await _until_closed(sockets[1][0], 10)
            for task in trickles:
                task.cancel()
            for _, writer in sockets:
                writer.close()
            # What is left of the attacker's budget serves a plain request again.
            reader, writer = await _open_from(ATTACKER, port)
            writer.write(f"GET /v1/realtime/quota HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-api-key: k\r\nConnection: close\r\n\r\n".encode())
            assert (await asyncio.wait_for(reader.read(100), 5)).startswith(b"HTTP/1.1 200")
            writer.close()
        finally:
            await transport.close()
            await signaling.close()

    with_server(test, idle_connection_seconds=2.0)


async def _until_closed(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closed this connection within ``timeout`` (whatever it sent first)."""

    async def drained() -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass

    try:
        await asyncio.wait_for(drained(), timeout)
    except asyncio.TimeoutError:
        return False
    return True
