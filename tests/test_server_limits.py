"""`decart serve`'s limits and hostile input: each limit, and bad clients never hurting other sessions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
import websockets
from aiortc import VideoStreamTrack
from av import VideoFrame

from decart_cli import protocol as p
from decart_cli.config import ServeConfig
from decart_cli.protocol import redact_url
from decart_cli.server import Server
from decart_cli.server import keys as server_keys
from decart_cli.server import session as server_session
from decart_cli.server import webrtc as server_webrtc
from decart_cli.client.signaling import Signaling
from decart_cli.client.media_connection import MediaConnection

from conftest import recv_json, recv_until, stream, with_server, serve

pytestmark = pytest.mark.usefixtures("no_tracebacks")  # bad input is answered, never a traceback in the server's log

SUPPORTED = "invert the colors"






async def prompt_ack(ws, text: str = SUPPORTED) -> dict:  # type: ignore[no-untyped-def]
    """Send a prompt and return its ack (other messages skipped)."""
    await ws.send(json.dumps({"type": "prompt", "prompt": text}))
    while True:
        message = await recv_until(ws, "prompt_ack")
        if message["prompt"] == text:
            return message


async def closed(ws, timeout: float = 10) -> int | None:  # type: ignore[no-untyped-def]
    """Wait for the server to close ``ws``; its close code."""
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


async def until(predicate: Callable[[], bool], timeout: float = 10) -> bool:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


class Solid(VideoStreamTrack):
    """A small track of one colour."""

    def __init__(self) -> None:
        super().__init__()
        self.image = np.full((176, 320, 3), (40, 40, 200), np.uint8)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def media_session(server: Server, before: Callable[[Signaling], Awaitable[None]] | None = None):  # type: ignore[no-untyped-def]
    """Our client offering a track (after ``before``); returns (signaling, transport, remote track, errors seen)."""
    errors: list[str] = []
    signaling = Signaling(stream(server), on_message=lambda m: errors.append(m.error) if isinstance(m, p.Error) else None)
    await signaling.connect()
    if before is not None:
        await before(signaling)
    transport = MediaConnection(signaling, loopback=True, timeout=10)
    remote = await transport.start(Solid())
    await asyncio.wait_for(remote.recv(), 10)
    return signaling, transport, remote, errors


# Limits.


def test_full_server_refuses_then_serves_again_after_a_close() -> None:
    """Beyond --max-sessions a client gets "server is full" and a 1013 close; once one leaves, a new one is served."""

    async def test(server: Server) -> None:
        first = await websockets.connect(stream(server))
        second = await websockets.connect(stream(server))
        await recv_until(first, "session_id")
        await recv_until(second, "session_id")
        async with websockets.connect(stream(server)) as third:
            message = await recv_json(third)
            assert message == {"type": "error", "error": "server is full (2 sessions); try again later"}
            assert await closed(third) == 1013
        assert server.refused_full == 1
        assert (await prompt_ack(second))["success"] is True  # the admitted sessions are unaffected
        await first.close()
        assert await until(lambda: len(server.sessions) < 2)
        async with websockets.connect(stream(server)) as fourth:
            assert (await recv_json(fourth))["type"] == "session_id"
            assert (await prompt_ack(fourth))["success"] is True
        await second.close()

    with_server(test, max_sessions=2)


def test_idle_socket_without_offer_is_closed() -> None:
    """A socket that never offers gets an `error` naming the timeout, then a 1008 close, and its session is released."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            assert (await prompt_ack(ws))["success"] is True  # prompts do not count as an offer
            message = await recv_until(ws, "error")
            assert message["error"] == "no offer within 0.5 s; closing the session"
            assert await closed(ws) == 1008
        assert await until(lambda: not server.sessions)

    with_server(test, idle_timeout=0.5)


def test_idle_timeout_spares_a_session_that_offered() -> None:
    """A session with a peer connection outlives the idle timeout and keeps receiving edited frames."""

    async def test(server: Server) -> None:
        signaling, transport, remote, errors = await media_session(server)
        await asyncio.sleep(1.0)
        for _ in range(5):
            await asyncio.wait_for(remote.recv(), 10)
        assert errors == [] and len(server.sessions) == 1
        await transport.close()
        await signaling.close()

    with_server(test, idle_timeout=0.3)


def test_prompt_rate_limit_refuses_excess_prompts_in_their_ack() -> None:
    """Past the burst, prompts are acked by text with success=false and "too many prompts"; later ones succeed again."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            texts = [f"{SUPPORTED}{'!' * i}" for i in range(6)]
            for text in texts:
                await ws.send(json.dumps({"type": "prompt", "prompt": text}))
            acks = [await recv_until(ws, "prompt_ack") for _ in texts]
            assert [a["prompt"] for a in acks] == texts
            assert [a["success"] for a in acks] == [True, True, True, False, False, False]
            assert acks[3]["error"].startswith("too many prompts: the limit is 1 a second (bursts of 3)")
            await ws.send(json.dumps({"type": "set_image", "image_data": None}))
            assert (await recv_until(ws, "set_image_ack"))["success"] is False
            await asyncio.sleep(1.5)
            assert (await prompt_ack(ws))["success"] is True

    with_server(test, prompt_rate=1, prompt_burst=3)


def test_prompt_rate_zero_means_no_limit() -> None:
    """With --prompt-rate 0, a burst of 40 prompts is all accepted."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            for i in range(40):
                await ws.send(json.dumps({"type": "prompt", "prompt": SUPPORTED + "!" * i}))
            acks = [await recv_until(ws, "prompt_ack") for _ in range(40)]
            assert all(a["success"] for a in acks), [a for a in acks if not a["success"]][:1]

    with_server(test, prompt_rate=0, prompt_burst=1)


def test_max_prompt_length_is_configurable() -> None:
    """--max-prompt-length 20: a 17-character prompt is applied, a 21-character one refused naming the limit."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            assert (await prompt_ack(ws, SUPPORTED))["success"] is True
            ack = await prompt_ack(ws, SUPPORTED + "!!!!")
            assert ack["success"] is False and ack["error"] == "prompt is 21 characters; the limit is 20"

    with_server(test, max_prompt_length=20)


def test_oversize_frame_closes_only_that_session() -> None:
    """A message over --max-message-bytes closes that socket with 1009; another session keeps getting prompt_acks."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as good, websockets.connect(stream(server), max_size=None) as bad:
            await recv_until(good, "session_id")
            await recv_until(bad, "session_id")
            await bad.send(json.dumps({"type": "prompt", "prompt": "x" * 10_000}))
            assert await closed(bad) == 1009
            assert await until(lambda: len(server.sessions) == 1)
            for i in range(3):
                assert (await prompt_ack(good, SUPPORTED + "!" * i))["success"] is True
            await bad.close()

    with_server(test, max_message_bytes=4096)


def test_token_bucket_refills_at_its_rate() -> None:
    """The prompt limiter allows `burst` at once, then one per 1/rate seconds (fake clock)."""
    now = [0.0]
    bucket = server_session.TokenBucket(2.0, 3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.4
    assert bucket.take() is False
    now[0] += 0.1
    assert bucket.take() is True and bucket.take() is False
    now[0] += 100
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


# Hostile input.


def test_invalid_sdp_then_a_valid_offer_is_answered() -> None:
    """After offers with broken SDP (an `error` each), the same socket can still offer properly and get video back."""

    async def test(server: Server) -> None:
        async def bad_offer(signaling: Signaling) -> None:
            no_ice = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n"
            await signaling.send(p.Offer(sdp=no_ice))
            await signaling.send(p.Offer(sdp="v=0\r\nm=video x\r\n"))  # trips an assertion inside aiortc
            await asyncio.sleep(0.3)

        signaling, transport, remote, errors = await media_session(server, bad_offer)
        assert len(errors) == 2 and "invalid offer SDP" in errors[0] and "offer" in errors[1], errors
        await transport.close()
        await signaling.close()

    with_server(test)


def test_garbage_candidate_before_the_offer_does_not_sink_it() -> None:
    """Unparseable ice-candidates before (and after) the offer are dropped; the offer is answered and media flows."""

    async def test(server: Server) -> None:
        async def garbage(signaling: Signaling) -> None:
            await signaling.send(p.IceCandidate(p.Candidate("candidate:garbage!!", "0", 0)))
            await signaling.send(p.IceCandidate(p.Candidate("", None, None)))

        signaling, transport, remote, errors = await media_session(server, garbage)
        assert errors == []
        await signaling.send(p.IceCandidate(p.Candidate("candidate:more garbage", "0", 0)))  # after the offer too
        await signaling.send(p.IceCandidate(p.Candidate("candidate:1 1 udp 1 127.0.0.1 notaport typ host", "0", 0)))
        for _ in range(5):
            await asyncio.wait_for(remote.recv(), 10)
        assert len(server.sessions) == 1
        await transport.close()
        await signaling.close()

    with_server(test)


def test_too_many_candidates_are_refused() -> None:
    """Past the per-session candidate limit each further candidate gets an `error`; prompts still work."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
            for _ in range(server_webrtc.MAX_CANDIDATES + 2):
                await ws.send(json.dumps({"type": "ice-candidate", "candidate": candidate}))
            errors = [await recv_until(ws, "error") for _ in range(2)]
            assert all("too many ice candidates" in e["error"] for e in errors)
            assert (await prompt_ack(ws))["success"] is True

    with_server(test)


def test_offers_without_video_or_with_too_many_sections_are_errors() -> None:
    """An audio-only offer and one with dozens of m= sections get `error`s; a later proper offer still works."""

    async def test(server: Server) -> None:
        async def bad_offers(signaling: Signaling) -> None:
            many = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 50
            await signaling.send(p.Offer(sdp=many))
            from aiortc import RTCPeerConnection

            pc = RTCPeerConnection()
            pc.addTransceiver("audio", direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            await signaling.send(p.Offer(sdp=pc.localDescription.sdp))
            await pc.close()
            await asyncio.sleep(0.5)

        signaling, transport, remote, errors = await media_session(server, bad_offers)
        assert len(errors) == 2, errors
        assert "50 media sections" in errors[0] and "no video track" in errors[1]
        await transport.close()
        await signaling.close()

    with_server(test)


def test_hostile_frames_get_errors_and_the_session_survives() -> None:
    """Deep JSON, huge numbers, binary frames, nulls and server-only types get `error`s; deep unknown types are ignored."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            hostile: list[str | bytes] = [
                "[" * 200_000,
                '{"type":"prompt","prompt":' + "[" * 5000 + "]" * 5000 + "}",
                "1" * 10_000,
                '{"type":"prompt","prompt":"x","enhance_prompt":1e999}',
                "null",
                "",
                "\x00",
                b"\xff" * 1000,
                '{"type":"ready"}',
                '{"type":"ice-candidate","candidate":{"candidate":5}}',
                '{"type":"offer","sdp":null}',
                '{"type":"' + "t" * 100_000 + '"}',  # unknown type with a huge name: ignored
                '{"type":"x","data":' + "[" * 900 + "]" * 900 + "}",  # unknown type, deep but valid: ignored
            ]
            for frame in hostile:
                await ws.send(frame)
            await ws.send(json.dumps({"type": "prompt", "prompt": SUPPORTED}))
            replies = []
            while not replies or replies[-1]["type"] != "prompt_ack":
                replies.append(await recv_json(ws))
            assert [r["type"] for r in replies] == ["error"] * (len(hostile) - 2) + ["prompt_ack"]
            assert replies[-1]["success"] is True

    with_server(test)


def test_hostile_frames_get_one_short_error_each() -> None:
    """Each malformed frame is answered by exactly one `error` of bounded length, even when it echoes client text."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            frames = ["[" * 200_000, "1" * 10_000, b"\x00", '{"type":"answer"}', '{"type":"prompt","prompt":' + '"' + "x" * 50 + '"' + ',"enhance_prompt":"' + "y" * 50_000 + '"}']
            for frame in frames:
                await ws.send(frame)
            errors = [await recv_json(ws) for _ in frames]
            assert [e["type"] for e in errors] == ["error"] * len(frames)
            assert all(len(e["error"]) <= server_session.MAX_ERROR_TEXT for e in errors)
            assert (await prompt_ack(ws))["success"] is True

    with_server(test)


def test_client_vanishing_mid_offer_releases_the_session() -> None:
    """A client that offers and drops the TCP connection at once leaves no session behind; others are served."""

    async def test(server: Server) -> None:
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        pc.addTransceiver(Solid(), direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        for _ in range(3):
            assert await until(lambda: len(server.sessions) < 2)  # the previous one's slot comes back
            ws = await websockets.connect(stream(server))
            await recv_until(ws, "session_id")
            await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
            ws.transport.abort()
        await pc.close()
        assert await until(lambda: not server.sessions)
        async with websockets.connect(stream(server)) as ws:
            assert (await prompt_ack(ws))["success"] is True

    with_server(test, max_sessions=2)


def test_binds_loopback_by_default() -> None:
    """ServeConfig and `decart serve` default to 127.0.0.1; the server binds only there."""
    import inspect

    from decart_cli.cli import serve as serve_cli

    assert ServeConfig().host == "127.0.0.1"
    assert inspect.signature(serve_cli.serve).parameters["host"].default.default == "127.0.0.1"

    async def main() -> None:
        server = Server(ServeConfig(port=0))
        await server.start()
        try:
            assert {host for host, _ in server.addresses} == {"127.0.0.1"}
        finally:
            await server.stop()

    asyncio.run(main())


def test_api_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The presented key goes through hmac.compare_digest (no early-exit string comparison)."""
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(server_keys.hmac, "compare_digest", spy)

    async def test(server: Server) -> None:
        for key in ("wrong", "right"):
            async with websockets.connect(stream(server, key=key)) as ws:
                await recv_json(ws)

    try:
        with_server(test, api_key="right")
    finally:
        monkeypatch.undo()
    assert calls == [(b"wrong", b"right"), (b"right", b"right")]


def test_redact_url_hides_encoded_key_names() -> None:
    """Key and token parameters are hidden however the client spells them (LiveKit's access_token too); other parameters stay."""
    url = "/v1/stream?api%5Fkey=S1&API-Key=S2&token=S3&model=mirage&access_token=S4&Access%5FToken=S5&keyframe=1"
    assert redact_url(url) == "/v1/stream?api%5Fkey=***&API-Key=***&token=***&model=mirage&access_token=***&Access%5FToken=***&keyframe=1"


def test_serve_options_and_no_key_in_debug_logs() -> None:
    """`decart serve -vv --api-key K --max-sessions 1 --idle-timeout 1`: limits apply and K never appears in the output."""
    secret = "sekrit-KEY-4242"

    async def clients(port: int) -> None:
        base = f"ws://127.0.0.1:{port}/v1/stream?model=mirage_v2&"
        async with websockets.connect(base + f"api_key={secret}") as first:
            assert (await recv_json(first))["type"] == "session_id"
            async with websockets.connect(base + f"api_key={secret}") as second:
                assert (await recv_json(second))["error"] == "server is full (1 sessions); try again later"
            assert (await recv_until(first, "error"))["error"] == "no offer within 1 s; closing the session"
        for query in (f"api%5Fkey={secret}", f"API_KEY={secret}", f"api_key={secret}x"):
            async with websockets.connect(base + query) as ws:
                await recv_json(ws)

    with serve("-vv", "--api-key", secret, "--max-sessions", "1", "--idle-timeout", "1") as running:
        asyncio.run(asyncio.wait_for(clients(running.port), 30))
        running.proc.terminate()
        running.proc.wait(10)
    output = running.output()
    assert "GET /v1/stream" in output  # websockets' debug request lines are there...
    assert secret not in output  # ...with the key hidden
