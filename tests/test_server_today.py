"""`decart serve`, today's protocol at the message level: control channel, queue, images, the room endpoint's doors.

Real servers on port 0, real WebSockets; the media path (a LiveKit client in
the room) is pinned by tests/test_interop_today.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
import websockets
from livekit.protocol import rtc as lk

from conftest import recv_json, recv_until, stream, with_server
from decart_cli.server import Server

pytestmark = pytest.mark.usefixtures("no_tracebacks")  # bad input is answered, never a traceback in the server's log

TODAY = "lucy-2.6"


def png(color: tuple[int, int, int] = (0, 200, 0)) -> str:
    ok, data = cv2.imencode(".png", np.full((40, 60, 3), color, np.uint8))
    assert ok
    return base64.b64encode(data.tobytes()).decode()


async def join(ws) -> dict:  # type: ignore[no-untyped-def]
    await ws.send(json.dumps({"type": "livekit_join"}))
    return await recv_until(ws, "livekit_room_info")


def test_livekit_join_gets_room_info_pointing_at_this_server() -> None:
    """livekit_join is answered with livekit_room_info: this server's URL, a token the room endpoint takes, room name and session id."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            info = await join(ws)
            assert info["livekit_url"] == server.url
            assert info["room_name"] == f"decart-{info['session_id']}"
            grant = server.rooms.tokens.verify(info["token"])
            assert grant.room == info["room_name"]
            # The room endpoint's validate door takes that token, and only it.
            host = urlsplit(server.url).netloc
            reader, writer = await asyncio.open_connection(*host.split(":"))
            writer.write(f"GET /rtc/v1/validate HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {info['token']}\r\n\r\n".encode())
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            writer.close()

    with_server(test)


def test_room_endpoint_refuses_bad_tokens_and_the_old_signaling_path() -> None:
    """/rtc/v1 without a valid token is refused with 401 before upgrading (the client then gives up); /rtc (two peer connections) says it is not served."""

    async def test(server: Server) -> None:
        base = server.url
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
            with pytest.raises(websockets.InvalidStatus) as info:
                async with websockets.connect(base + "/rtc/v1?join_request=AA", additional_headers=headers):
                    pass
            assert info.value.response.status_code == 401
            assert b"token" in info.value.response.body
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(base + "/rtc?access_token=x"):
                pass
        assert info.value.response.status_code == 501

    with_server(test)


def test_a_room_token_of_an_ended_session_is_refused() -> None:
    """Once its control socket closes, the session's room is gone: its token gets LiveKit's 404 "requested room does not exist"."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            info = await join(ws)
        await asyncio.sleep(0.2)
        assert not server.rooms.rooms
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.url + "/rtc/v1?join_request=AA", additional_headers={"Authorization": f"Bearer {info['token']}"}):
                pass
        assert refused.value.response.status_code == 404 and b"requested room does not exist" in refused.value.response.body

    with_server(test)


def test_a_garbage_join_request_closes_only_that_connection() -> None:
    """A valid token with a join_request that is not LiveKit's protobuf: that socket is closed (policy), the session goes on."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            info = await join(ws)
            headers = {"Authorization": f"Bearer {info['token']}"}
            for value in ("AA", base64.urlsafe_b64encode(b"\x08\x01\x12\x05xxxxx").decode()):
                async with websockets.connect(server.url + "/rtc/v1?join_request=" + value, additional_headers=headers) as room:
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await asyncio.wait_for(room.recv(), 5)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            # Over the request line limit: refused before any handler (400, or the connection closed while sending).
            with pytest.raises((websockets.InvalidStatus, websockets.InvalidMessage)) as huge:
                async with websockets.connect(server.url + "/rtc/v1?join_request=" + "A" * 20000, additional_headers=headers):
                    pass
            assert not isinstance(huge.value, websockets.InvalidStatus) or huge.value.response.status_code == 400
            # A resume (LiveKit's reconnect=1) is not supported: asked to leave, not to come back.
            resume = lk.WrappedJoinRequest(join_request=lk.JoinRequest(reconnect=True).SerializeToString()).SerializeToString()
            async with websockets.connect(server.url + "/rtc/v1?join_request=" + base64.urlsafe_b64encode(resume).decode(), additional_headers=headers) as room:
                response = lk.SignalResponse()
                response.ParseFromString(await asyncio.wait_for(room.recv(), 5))
                assert response.WhichOneof("message") == "leave" and not response.leave.can_reconnect
            await ws.send(json.dumps({"type": "prompt", "prompt": "invert the colors"}))
            assert (await recv_until(ws, "prompt_ack"))["success"] is True

    with_server(test)


def test_prompts_and_images_on_the_control_channel() -> None:
    """prompt_ack by text; set_image: a PNG succeeds (with its prompt), null succeeds, bad base64 and non-images are refused with why."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            await join(ws)
            await ws.send(json.dumps({"type": "prompt", "prompt": "invert the colors", "enhance_prompt": False}))
            assert await recv_json(ws) == {"type": "prompt_ack", "prompt": "invert the colors", "success": True, "error": None}
            cases = [
                ({"image_data": png(), "prompt": "use the image as the background"}, True, None),
                ({"image_data": None, "prompt": None}, True, None),
                ({"image_data": "###"}, False, "base64"),
                ({"image_data": base64.b64encode(b"hello").decode()}, False, "not an image"),
                ({"image_data": png(), "prompt": "remove the tree"}, False, "nearest: "),
            ]
            for fields, success, why in cases:
                await ws.send(json.dumps({"type": "set_image", **fields}))
                ack = await recv_until(ws, "set_image_ack")
                assert ack["success"] is success, (fields.keys(), ack)
                if why is not None:
                    assert why in ack["error"], ack

    with_server(test)


def test_a_model_without_images_refuses_one_but_takes_the_passthrough() -> None:
    """lucy-restyle-2 takes no reference image: an image is refused naming the model; the SDK's null passthrough succeeds."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model="lucy-restyle-2")) as ws:
            await join(ws)
            await ws.send(json.dumps({"type": "set_image", "image_data": png()}))
            ack = await recv_until(ws, "set_image_ack")
            assert ack["success"] is False and "lucy-restyle-2 takes no reference image" in ack["error"]
            await ws.send(json.dumps({"type": "set_image", "image_data": None, "prompt": None}))
            assert (await recv_until(ws, "set_image_ack"))["success"] is True

    with_server(test)


def test_each_generation_refuses_the_other_ones_media_messages() -> None:
    """An offer on a today's model and livekit_join on a legacy model get an error saying which protocol the model speaks."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            await ws.send(json.dumps({"type": "offer", "sdp": "v=0\r\n"}))
            error = await recv_until(ws, "error")
            assert "today's protocol" in error["error"] and "livekit_join" in error["error"]
        async with websockets.connect(stream(server, model="lucy_v2v_720p_rt")) as ws:
            await recv_until(ws, "session_id")
            await ws.send(json.dumps({"type": "livekit_join"}))
            error = await recv_until(ws, "error")
            assert "legacy protocol" in error["error"]

    with_server(test)


def test_speed_and_resolution_parameters() -> None:
    """speed=fast is accepted (ignored where the model has no fast tier); an unknown speed or resolution is refused with the values that work."""

    async def test(server: Server) -> None:
        for model, query in ((TODAY, "&speed=fast&resolution=720p"), ("lucy-2.1", "&speed=fast")):
            async with websockets.connect(stream(server, model=model) + query) as ws:
                assert (await join(ws))["session_id"]
        for query, hint in (("&speed=turbo", "'fast'"), ("&resolution=4k", "720p or 1080p")):
            async with websockets.connect(stream(server, model=TODAY) + query) as ws:
                error = await recv_json(ws)
                assert error["type"] == "error" and hint in error["error"]

    with_server(test)


def test_unknown_model_lists_both_generations() -> None:
    """An unknown model is refused listing legacy and today's models."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model="lucy-9")) as ws:
            error = await recv_json(ws)
            assert error["type"] == "error" and "lucy_v2v_720p_rt" in error["error"] and "lucy-restyle-2" in error["error"]

    with_server(test)


def test_a_full_server_queues_todays_clients_with_live_positions() -> None:
    """max_sessions=1: later clients get queue_position updates as the queue moves, in order; a legacy client is told the server is full."""

    async def test(server: Server) -> None:
        first = await websockets.connect(stream(server, model=TODAY))
        await join(first)
        second = await websockets.connect(stream(server, model=TODAY))
        await second.send(json.dumps({"type": "livekit_join"}))
        assert await recv_json(second) == {"type": "queue_position", "position": 1, "queue_size": 1}
        third = await websockets.connect(stream(server, model=TODAY))
        await third.send(json.dumps({"type": "livekit_join"}))
        assert await recv_json(third) == {"type": "queue_position", "position": 2, "queue_size": 2}
        assert await recv_json(second) == {"type": "queue_position", "position": 1, "queue_size": 2}
        async with websockets.connect(stream(server, model="lucy_v2v_720p_rt")) as legacy:
            error = await recv_until(legacy, "error")
            assert "server is full" in error["error"]
        await first.close()
        assert (await recv_json(second))["type"] == "livekit_room_info"
        assert await recv_json(third) == {"type": "queue_position", "position": 1, "queue_size": 1}
        await third.close()  # leaving the queue frees nothing and breaks nothing
        await second.close()
        await asyncio.sleep(0.2)
        assert server.slots.in_use == 0 and server.slots.waiting == 0 and not server.sessions

    with_server(test, max_sessions=1)


def test_a_client_that_never_joins_is_closed_after_the_idle_timeout() -> None:
    """No livekit_join, or no room join after room info, within idle_timeout: an error saying which, then the socket closes."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            error = await recv_json(ws, timeout=5)
            assert error["type"] == "error" and "no livekit_join" in error["error"]
            with pytest.raises(websockets.ConnectionClosed):
                await recv_json(ws, timeout=5)
        async with websockets.connect(stream(server, model=TODAY)) as ws:
            await join(ws)
            error = await recv_json(ws, timeout=5)
            assert error["type"] == "error" and "did not join its room" in error["error"]
            with pytest.raises(websockets.ConnectionClosed):
                await recv_json(ws, timeout=5)
        await asyncio.sleep(0.2)
        assert not server.rooms.rooms and server.slots.in_use == 0

    with_server(test, idle_timeout=0.5)


def test_wrong_key_error_is_one_the_sdk_treats_as_permanent() -> None:
    """A today's client with a wrong key gets `error: invalid api key` and close 1008, before any room is opened."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, key="wrong", model=TODAY)) as ws:
            assert await recv_json(ws) == {"type": "error", "error": "invalid api key"}
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv_json(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert not server.rooms.rooms

    with_server(test, api_key="right")


def test_signal_protobufs_round_trip() -> None:
    """Sanity of the stubs this endpoint is built on: a SignalRequest with a ping survives serialisation."""
    request = lk.SignalRequest(ping_req=lk.Ping(timestamp=5))
    again = lk.SignalRequest()
    again.ParseFromString(request.SerializeToString())
    assert again.WhichOneof("message") == "ping_req" and again.ping_req.timestamp == 5
