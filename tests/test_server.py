"""`decart serve`'s protocol behaviour, with a real server on port 0 and real clients."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from conftest import recv_json, recv_until, stream, with_server
import websockets
from aiortc import VideoStreamTrack
from av import VideoFrame

from decart_cli import protocol as p
from decart_cli.errors import AuthError, PromptRejected
from decart_cli.server import Server
from decart_cli.client.signaling import Signaling
from decart_cli.client.media_connection import MediaConnection

pytestmark = pytest.mark.usefixtures("no_tracebacks")  # bad input is answered, never a traceback in the server's log






def test_wrong_key_gets_error_then_close() -> None:
    """With --api-key, a wrong key gets an `error` saying so and the socket closes (1008)."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, key="wrong")) as ws:
            message = await recv_json(ws)
            assert message == {"type": "error", "error": "invalid api key"}
            with pytest.raises(websockets.ConnectionClosed):
                await recv_json(ws)
            assert ws.close_code == 1008

    with_server(test, api_key="right")


def test_right_key_is_accepted() -> None:
    """With --api-key, the right key gets a session_id naming the server's address."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, key="right")) as ws:
            message = await recv_json(ws)
            assert message["type"] == "session_id"
            assert message["server_ip"] == "127.0.0.1" and message["server_port"] == server.port

    with_server(test, api_key="right")


def test_our_client_maps_wrong_key_to_auth_error() -> None:
    """Our signaling client turns the server's key refusal into AuthError (permanent)."""

    async def test(server: Server) -> None:
        signaling = Signaling(stream(server, key="wrong"))
        await signaling.connect()
        with pytest.raises(AuthError):
            await signaling.request_prompt("invert the colors", timeout=5)
        await signaling.close()

    with_server(test, api_key="right")


def test_unknown_model_is_refused_naming_known_ones() -> None:
    """An unknown model gets an `error` listing the known models, then a close."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model="nope")) as ws:
            message = await recv_json(ws)
            assert message["type"] == "error"
            assert "nope" in message["error"] and "lucy_v2v_720p_rt" in message["error"] and "mirage_v2" in message["error"]
            with pytest.raises(websockets.ConnectionClosed):
                await recv_json(ws)

    with_server(test)


def test_wrong_path_is_404() -> None:
    """Paths other than /v1/stream are refused at the HTTP level."""

    async def test(server: Server) -> None:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(server.url + "/v2/other?api_key=k&model=mirage"):
                pass
        assert info.value.response.status_code == 404

    with_server(test)


def test_garbage_is_answered_with_errors_and_the_session_survives() -> None:
    """Garbage JSON, binary frames, wrong types and server-only messages get `error`s; prompts still work after."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            for bad in ["{not json", "[]", '{"type": 3}', '{"type":"prompt"}', '{"type":"answer","sdp":"x"}', b"\x00\x01"]:
                await ws.send(bad)
                message = await recv_json(ws)
                assert message["type"] == "error", (bad, message)
            await ws.send('{"type":"viewer_count","count":1}')  # unknown: ignored, no reply
            await ws.send(json.dumps({"type": "prompt", "prompt": "Invert the colors!"}))
            assert await recv_json(ws) == {"type": "prompt_ack", "prompt": "Invert the colors!", "success": True, "error": None}

    with_server(test)


def test_an_ack_says_how_a_prompt_was_taken_only_when_not_literally() -> None:
    """prompt_ack carries a `note` for a stand-in or a respelled word, and no `note` key at all for a prompt taken as written."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            await ws.send(json.dumps({"type": "prompt", "prompt": "put a sombrero on her"}))
            assert await recv_json(ws) == {"type": "prompt_ack", "prompt": "put a sombrero on her", "success": True, "error": None, "note": "'sombrero' is drawn as a plain hat"}
            await ws.send(json.dumps({"type": "prompt", "prompt": "add sunglases"}))
            assert (await recv_json(ws))["note"] == "read 'sunglases' as 'sunglasses'"
            await ws.send(json.dumps({"type": "prompt", "prompt": "sepia"}))
            assert await recv_json(ws) == {"type": "prompt_ack", "prompt": "sepia", "success": True, "error": None}

    with_server(test)


def test_prompt_acks_match_text_and_refusals_explain() -> None:
    """prompt_ack echoes the exact text; an unsupported prompt is refused naming the nearest edits the engine can do."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            await ws.send(json.dumps({"type": "prompt", "prompt": "remove the tree", "enhance_prompt": True}))
            ack = await recv_json(ws)
            assert ack["type"] == "prompt_ack" and ack["prompt"] == "remove the tree" and ack["success"] is False
            assert "cannot do 'remove the tree'" in ack["error"] and "nearest: " in ack["error"] and len(ack["error"]) < 200
            await ws.send(json.dumps({"type": "prompt", "prompt": "y" * 1001}))
            ack = await recv_json(ws)
            assert ack["success"] is False and "1000" in ack["error"]
            await ws.send(json.dumps({"type": "set_image", "image_data": "aGVsbG8="}))
            ack = await recv_json(ws)
            assert ack["type"] == "set_image_ack" and ack["success"] is False
            await ws.send(json.dumps({"type": "set_image", "image_data": None}))
            assert (await recv_json(ws))["success"] is True

    with_server(test)


def test_invalid_offer_is_an_error_not_a_crash() -> None:
    """An offer whose SDP is nonsense gets an `error`; the session still answers prompts."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            await ws.send(json.dumps({"type": "offer", "sdp": "this is not sdp"}))
            assert (await recv_json(ws))["type"] == "error"
            await ws.send(json.dumps({"type": "prompt", "prompt": ""}))
            assert (await recv_json(ws))["success"] is True

    with_server(test)


class Solid(VideoStreamTrack):
    """A 640x352 track of one BGR colour."""

    def __init__(self, bgr: tuple[int, int, int]) -> None:
        super().__init__()
        self.image = np.full((352, 640, 3), bgr, np.uint8)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def test_media_round_trip_with_trickle_and_status_messages() -> None:
    """Our client gets edited frames back; early candidates are queued; session_id, ready and generation_started arrive."""

    async def test(server: Server) -> None:
        seen: list[str] = []
        transport: MediaConnection | None = None

        def on_message(message: p.Message) -> None:
            seen.append(message.type or getattr(message, "kind", ""))
            if isinstance(message, p.IceCandidate) and transport is not None:
                asyncio.ensure_future(transport.add_candidate(message.candidate))

        signaling = Signaling(stream(server), on_message=on_message)
        await signaling.connect()
        # A candidate before the offer must be queued by the server, not break it.
        await signaling.send(p.IceCandidate(p.Candidate("candidate:9 1 udp 1 127.0.0.1 9 typ host", "0", 0)))
        await signaling.request_prompt("invert the colors")
        with pytest.raises(PromptRejected):
            await signaling.request_prompt("remove the tree")
        transport = MediaConnection(signaling, loopback=True)
        remote = await transport.start(Solid((40, 40, 200)))
        frame = None
        for _ in range(10):
            frame = (await asyncio.wait_for(remote.recv(), 10)).to_ndarray(format="bgr24")
        assert frame is not None and frame.shape == (352, 640, 3)
        assert np.abs(frame.reshape(-1, 3).mean(axis=0) - (215, 215, 55)).max() < 25  # inverted
        await asyncio.sleep(0.2)
        assert {"session_id", "ready", "generation_started"} <= set(seen)
        assert seen.index("session_id") < seen.index("ready")
        await transport.close()
        await signaling.close()

    with_server(test)


def test_duplicate_offer_is_refused() -> None:
    """A second offer on the same socket gets an `error`; the first connection keeps working."""

    async def test(server: Server) -> None:
        signaling = Signaling(stream(server))
        errors: list[str] = []
        signaling.on_message = lambda m: errors.append(m.error) if isinstance(m, p.Error) else None
        await signaling.connect()
        transport = MediaConnection(signaling, loopback=True)
        remote = await transport.start(Solid((0, 0, 0)))
        await asyncio.wait_for(remote.recv(), 10)
        await signaling.send(p.Offer(sdp="v=0\r\n"))
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.05)
        assert errors and "already has a peer connection" in errors[0]
        await asyncio.wait_for(remote.recv(), 10)
        await transport.close()
        await signaling.close()

    with_server(test)


def test_editor_keeps_pts_and_time_base() -> None:
    """The server's edited frames carry the input frame's pts and time_base."""
    from fractions import Fraction

    from decart_cli.engine import BuiltinEngine
    from decart_cli.server.editor import Editor

    async def main() -> None:
        editor = Editor(lambda: BuiltinEngine())
        await editor.set_prompt("invert the colors")
        frame = VideoFrame.from_ndarray(np.full((352, 640, 3), 10, np.uint8), format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = 123456, Fraction(1, 90000)
        edited = await editor.edit(frame)
        editor.close()
        assert edited.pts == 123456 and edited.time_base == Fraction(1, 90000)
        assert edited.to_ndarray(format="bgr24").mean() > 200

    asyncio.run(main())


@pytest.mark.parametrize(("first", "answered"), [("vp8", "VP8"), ("h264", "H264")])
def test_the_answer_keeps_the_offerers_codec_order(first: str, answered: str) -> None:
    """The legacy answer's video codecs follow the offer's order: a stock aiortc client (VP8 first) gets VP8, ours (H.264 first) gets H.264."""
    from aiortc import RTCPeerConnection, RTCRtpSender

    from decart_cli.rtc import rtc_configuration

    async def test(server: Server) -> None:
        pc = RTCPeerConnection(rtc_configuration(loopback=True, ice_servers=()))
        transceiver = pc.addTransceiver(Solid((0, 0, 200)), direction="sendrecv")
        codecs = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences(sorted(codecs, key=lambda c: c.mimeType.lower() != f"video/{first}"))
        await pc.setLocalDescription(await pc.createOffer())
        async with websockets.connect(stream(server)) as ws:
            await recv_until(ws, "session_id")
            await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
            sdp = (await recv_until(ws, "answer"))["sdp"]
        video = sdp[sdp.index("m=video"):]
        rtpmaps = [line.split()[1].split("/")[0] for line in video.splitlines() if line.startswith("a=rtpmap:")]
        assert rtpmaps[0] == answered, rtpmaps
        await pc.close()

    with_server(test)
