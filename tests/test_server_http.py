"""`decart serve`'s HTTP side, with a real HTTP client (aiohttp) against a real server on port 0.

The service's REST calls as the SDKs make them (client tokens, files,
quota), CORS for pages of loopback origins, LiveKit's /validate answers, the
room token in the query, the per-key session limit, and plain HTTP
behaviour (bodies, preflights, status codes, content types).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import time

import aiohttp
import cv2
import numpy as np
import pytest
import websockets
from livekit.protocol import rtc as lk

from decart_cli.errors import ServerError
from decart_cli.server import Server
from decart_cli.client.signaling import Signaling

from conftest import recv_json, recv_until, serve, stream, with_server

TODAY = "lucy-2.6"
DEV_ORIGIN = "http://localhost:5173"
OTHER_ORIGIN = "https://example.com"


def png(color: tuple[int, int, int] = (0, 200, 0), size: tuple[int, int] = (64, 48)) -> bytes:
    ok, data = cv2.imencode(".png", np.full((size[1], size[0], 3), color, np.uint8))
    assert ok
    return data.tobytes()


def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


async def join(ws) -> dict:  # type: ignore[no-untyped-def]
    """Send livekit_join; the room info."""
    await ws.send(json.dumps({"type": "livekit_join"}))
    return await recv_until(ws, "livekit_room_info")


async def refusal(url: str, **kwargs: object) -> tuple[str | None, int | None, str]:
    """Open ``url``; the error message sent before the close, the close code and reason."""
    async with websockets.connect(url, **kwargs) as ws:  # type: ignore[arg-type]
        error = None
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message.get("type") == "error":
                    error = message["error"]
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return error, closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


async def token_for(http: aiohttp.ClientSession, server: Server, key: str, **body: object) -> dict:
    async with http.post(base(server) + "/v1/client/tokens", json=body, headers={"x-api-key": key}) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        return await response.json()


def test_client_tokens_open_sessions_until_they_expire() -> None:
    """POST /v1/client/tokens: ek_ key and JWT both open /v1/stream; after expiresAt both are refused with "invalid api key"."""

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            token = await token_for(http, server, "secret", expiresIn=30)
        assert token["apiKey"].startswith("ek_") and token["token"].count(".") == 2
        expires = time.mktime(time.strptime(token["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert 25 <= expires - time.time() <= 31, token
        for key in (token["apiKey"], token["token"]):
            async with websockets.connect(stream(server, key=key, model=TODAY)) as ws:
                assert (await join(ws))["room_name"]
        server.keys.clock = lambda: time.time() + 31
        for key in (token["apiKey"], token["token"]):
            error, code, _ = await refusal(stream(server, key=key, model=TODAY))
            assert code == 1008 and error is not None and error.startswith("invalid api key") and "expired" in error, error
        error, code, _ = await refusal(stream(server, key="ek_made_up", model=TODAY))
        assert code == 1008 and error == "invalid api key"

    with_server(test, api_key="secret")


def test_client_token_limits_models_and_origins() -> None:
    """allowedModels refuses other models ("not allowed"); allowedOrigins refuses other pages with "Origin not allowed"."""

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            token = await token_for(http, server, "secret", allowedModels=[TODAY], allowedOrigins=[DEV_ORIGIN])
        assert token["permissions"] == {"models": [TODAY], "origins": [DEV_ORIGIN]}
        key = token["apiKey"]
        async with websockets.connect(stream(server, key=key, model=TODAY), origin=DEV_ORIGIN) as ws:  # type: ignore[arg-type]
            await join(ws)
        error, code, _ = await refusal(stream(server, key=key, model="lucy-restyle-2"), origin=DEV_ORIGIN)
        assert code == 1008 and "not allowed" in error and TODAY in error, error  # type: ignore[operator]
        error, code, _ = await refusal(stream(server, key=key, model=TODAY), origin="http://localhost:3000")
        assert code == 1008 and error == "Origin not allowed"
        error, _, _ = await refusal(stream(server, key=key, model=TODAY))  # no Origin at all (not a page)
        assert error == "Origin not allowed"

    with_server(test, api_key="secret")


def test_client_token_requests_that_are_refused() -> None:
    """Wrong key 401, client token minting 403, bad expiresIn or a non-JSON body 400: each a {"detail"} that says why."""

    async def test(server: Server) -> None:
        url = base(server) + "/v1/client/tokens"
        async with aiohttp.ClientSession() as http:
            token = await token_for(http, server, "secret")
            cases = [
                ({"x-api-key": "wrong"}, {"json": {}}, 401, "invalid api key"),
                ({}, {"json": {}}, 401, "invalid api key"),
                ({"x-api-key": token["apiKey"]}, {"json": {}}, 403, "API key"),
                ({"x-api-key": "secret"}, {"json": {"expiresIn": 0}}, 400, "expiresIn"),
                ({"x-api-key": "secret"}, {"json": {"expiresIn": 99999}}, 400, "expiresIn"),
                ({"x-api-key": "secret"}, {"json": {"allowedModels": "lucy-2.6"}}, 400, "allowedModels"),
                ({"x-api-key": "secret"}, {"data": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
            ]
            for headers, body, status, why in cases:
                extra = body.pop("headers", {})
                async with http.post(url, headers={**headers, **extra}, **body) as response:  # type: ignore[arg-type]
                    assert response.status == status, (headers, body, await response.text())
                    assert response.content_type == "application/json"
                    detail = (await response.json())["detail"]
                    assert why in detail and "secret" not in detail, detail

    with_server(test, api_key="secret")


def test_files_upload_describe_delete_and_image_ref() -> None:
    """POST /v1/files (multipart), GET and DELETE /v1/files/<id>; set_image's image_ref uses the file; other accounts cannot see it."""

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            form = aiohttp.FormData()
            form.add_field("file", png(), filename="green.png", content_type="image/png")
            form.add_field("ttl_seconds", "120")
            async with http.post(base(server) + "/v1/files", data=form, headers={"x-api-key": "alice"}) as response:
                assert response.status == 200, await response.text()
                stored = await response.json()
            assert stored["filename"] == "green.png" and stored["mime_type"] == "image/png" and stored["size_bytes"] == len(png())
            file_url = f"{base(server)}/v1/files/{stored['id']}"
            async with http.get(file_url, headers={"x-api-key": "alice"}) as response:
                assert response.status == 200 and (await response.json()) == stored
            async with http.get(file_url, headers={"x-api-key": "bob"}) as response:
                assert response.status == 404 and "detail" in await response.json()

            async with websockets.connect(stream(server, key="alice", model=TODAY)) as ws:
                await join(ws)
                await ws.send(json.dumps({"type": "set_image", "image_ref": stored["id"], "prompt": None}))
                ack = await recv_until(ws, "set_image_ack")
                assert ack["success"] is True, ack
                await ws.send(json.dumps({"type": "set_image", "image_ref": "file_missing", "prompt": None}))
                ack = await recv_until(ws, "set_image_ack")
                assert ack["success"] is False and "file_missing" in ack["error"], ack
            async with websockets.connect(stream(server, key="bob", model=TODAY)) as ws:
                await join(ws)
                await ws.send(json.dumps({"type": "set_image", "image_ref": stored["id"]}))
                assert (await recv_until(ws, "set_image_ack"))["success"] is False

            async with http.delete(file_url, headers={"x-api-key": "alice"}) as response:
                assert response.status == 204
            async with http.get(file_url, headers={"x-api-key": "alice"}) as response:
                assert response.status == 404

            for fields, status, why in [
                ({"ttl_seconds": "5"}, 400, "ttl_seconds"),
                ({}, 400, "file"),
            ]:
                form = aiohttp.FormData()
                if "ttl_seconds" in fields:
                    form.add_field("file", png(), filename="a.png", content_type="image/png")
                    form.add_field("ttl_seconds", fields["ttl_seconds"])
                else:
                    form.add_field("other", "x")
                async with http.post(base(server) + "/v1/files", data=form, headers={"x-api-key": "alice"}) as response:
                    assert response.status == status and why in (await response.json())["detail"]
            big = aiohttp.FormData()
            big.add_field("file", io.BytesIO(b"\0" * (11 * 1024 * 1024)), filename="big.bin", content_type="application/octet-stream")
            async with http.post(base(server) + "/v1/files", data=big, headers={"x-api-key": "alice"}) as response:
                assert response.status == 413

    with_server(test)


def test_per_key_session_limit_and_quota() -> None:
    """sessions_per_key=1: a second session of the same key closes 1013 "Concurrent session limit reached."; quota counts; other keys are apart."""

    async def quota(http: aiohttp.ClientSession, server: Server, key: str) -> dict:
        async with http.get(base(server) + "/v1/realtime/quota", headers={"x-api-key": key}) as response:
            assert response.status == 200 and response.content_type == "application/json"
            return await response.json()

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            assert await quota(http, server, "alice") == {"limit": 1, "active": 0, "remaining": 1}
            async with websockets.connect(stream(server, key="alice", model=TODAY)) as first:
                await join(first)
                assert await quota(http, server, "alice") == {"limit": 1, "active": 1, "remaining": 0}
                for model in (TODAY, "lucy_v2v_720p_rt"):
                    _, code, reason = await refusal(stream(server, key="alice", model=model))
                    assert (code, reason) == (1013, "Concurrent session limit reached."), model
                token = await token_for(http, server, "alice")  # a client token counts against its maker's key
                _, code, _ = await refusal(stream(server, key=token["apiKey"], model=TODAY))
                assert code == 1013
                async with websockets.connect(stream(server, key="bob", model=TODAY)) as other:
                    await join(other)
            await asyncio.sleep(0.2)
            assert await quota(http, server, "alice") == {"limit": 1, "active": 0, "remaining": 1}
            async with websockets.connect(stream(server, key="alice", model=TODAY)) as again:
                await join(again)

    with_server(test, sessions_per_key=1, max_sessions=4)


def test_our_client_names_the_session_limit() -> None:
    """Our signaling client reads the 1013 "Concurrent session limit reached." close as that, with what to do."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, key="alice", model=TODAY)) as first:
            await join(first)
            signaling = Signaling(stream(server, key="alice", model=TODAY))
            await signaling.connect()
            assert signaling.closed is not None
            error = await asyncio.wait_for(signaling.closed, 5)
            await signaling.close()
        assert isinstance(error, ServerError), error
        assert "already holds as many sessions" in error.message and "end another session" in str(error.hint)

    with_server(test, sessions_per_key=1)


def test_cors_for_loopback_origins_only() -> None:
    """Preflights from loopback origins get 204 with what was asked; their answers are readable; other origins are refused (403)."""

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            for origin in (DEV_ORIGIN, "http://127.0.0.1:8080", "http://[::1]:3000"):
                async with http.options(base(server) + "/v1/client/tokens", headers={
                    "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key",
                }) as response:
                    assert response.status == 204, origin
                    assert response.headers["Access-Control-Allow-Origin"] == origin
                    assert "POST" in response.headers["Access-Control-Allow-Methods"]
                    assert response.headers["Access-Control-Allow-Headers"] == "content-type,x-api-key"
            async with http.options(base(server) + "/v1/files", headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"}) as response:
                assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
            for path in ("/v1/realtime/quota", "/rtc/v1/validate", "/no/such/thing"):
                async with http.get(base(server) + path, headers={"Origin": DEV_ORIGIN, "x-api-key": "k"}) as response:
                    assert response.headers.get("Access-Control-Allow-Origin") == DEV_ORIGIN, path
                    assert "Origin" in response.headers.get("Vary", ""), path
                async with http.get(base(server) + path, headers={"Origin": OTHER_ORIGIN, "x-api-key": "k"}) as response:
                    assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers, path

    with_server(test)


def test_room_token_in_the_query_and_validate_as_livekit_answers(caplog: pytest.LogCaptureFixture) -> None:
    """/rtc/v1 takes the token from access_token too; /validate: 200 success, 401, 404 "requested room does not exist"; /rtc refused "not allowed"; each refusal logged without the token."""
    caplog.set_level(logging.INFO)

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            async def validate(path: str, token: str) -> tuple[int, str]:
                async with http.get(f"{base(server)}{path}?access_token={token}&join_request=AA") as response:
                    return response.status, await response.text()

            async with websockets.connect(stream(server, model=TODAY)) as ws:
                info = await join(ws)
                token = info["token"]
                assert await validate("/rtc/v1/validate", token) == (200, "success\n")
                status, text = await validate("/rtc/v1/validate", "not-a-token")
                assert status == 401 and "unauthorized" in text
                status, text = await validate("/rtc/validate", token)
                assert status == 403 and "not allowed" in text and "/rtc/v1" in text
                async with http.get(f"{base(server)}/rtc?access_token={token}") as response:
                    assert response.status == 501 and "not allowed" in await response.text()
                # The query's token opens the room: a join without an offer gets the join response first.
                empty = base64.urlsafe_b64encode(lk.WrappedJoinRequest(join_request=lk.JoinRequest().SerializeToString()).SerializeToString()).decode()
                async with websockets.connect(f"{server.url}/rtc/v1?access_token={token}&join_request={empty}") as room:
                    response = lk.SignalResponse()
                    response.ParseFromString(await asyncio.wait_for(room.recv(), 5))
                    assert response.WhichOneof("message") == "join", response
                    assert [p.identity for p in response.join.other_participants] == [f"inference-server-{info['session_id']}"]
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(f"{server.url}/rtc/v1?access_token=garbage&join_request={empty}"):
                        pass
                assert refused.value.response.status_code == 401
            await asyncio.sleep(0.2)
            status, text = await validate("/rtc/v1/validate", token)
            assert status == 404 and "requested room does not exist" in text
        log = "\n".join(r.getMessage() for r in caplog.records)
        assert log.count("room: refused a connection") >= 1 and "room: validate" in log
        assert token not in log and "garbage" not in log

    with_server(test)


def test_plain_http_bodies_methods_and_types() -> None:
    """A POST with a body is answered; unknown paths 404 and wrong methods 405 (with Allow) as text; the page is HTML; JSON is JSON."""

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(base(server) + "/watch-stream/no-such-room", json={"some": "body"}, headers={"x-api-key": "k"}) as response:
                assert response.status == 404 and response.content_type == "application/json"
                assert "no session" in (await response.json())["error"]
            async with http.get(base(server) + "/nothing-here") as response:
                assert response.status == 404 and response.content_type == "text/plain"
                assert "/v1/stream" in await response.text()
            for method, path, allowed in (("GET", "/v1/client/tokens", "POST"), ("PUT", "/v1/files/x", "DELETE, GET"), ("GET", "/watch-stream/r", "POST")):
                async with http.request(method, base(server) + path) as response:
                    assert response.status == 405 and response.headers["Allow"] == allowed, (method, path)
            async with http.get(base(server) + "/") as response:
                assert response.status == 200 and response.content_type == "text/html"
                assert response.headers["Server"].startswith("decart-serve/")
            async with http.get(base(server) + "/v1/stream") as response:
                assert response.status == 426 and response.headers["Upgrade"] == "websocket"

    with_server(test)


def test_web_root_serves_files_inside_it_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--web-root: its index.html at /, its files by path with their types, nothing outside it."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<title>my app</title>")
    (tmp_path / "site" / "app.js").write_text("export {}")
    (tmp_path / "secret.txt").write_text("outside")

    async def test(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(base(server) + "/") as response:
                assert "my app" in await response.text()
            async with http.get(base(server) + "/app.js") as response:
                assert response.status == 200 and "javascript" in response.content_type
            for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"):
                async with http.get(base(server) + path) as response:
                    assert response.status == 404 and "outside" not in await response.text(), path

    with_server(test, web_root=str(tmp_path / "site"))


def test_no_key_or_token_in_the_debug_log() -> None:
    """`decart serve -vv --api-key K`: REST calls, client tokens, room tokens in queries and a refused wrong key leave no secret in its output."""

    async def calls(port: int) -> list[str]:
        url = f"http://127.0.0.1:{port}"
        secrets = ["server-key-123", "wrong-key-456"]
        async with aiohttp.ClientSession() as http:
            async with http.post(url + "/v1/client/tokens", json={}, headers={"x-api-key": "server-key-123"}) as response:
                token = await response.json()
            secrets += [token["apiKey"], token["token"]]
            async with http.post(url + "/v1/client/tokens", json={}, headers={"x-api-key": "wrong-key-456"}) as response:
                assert response.status == 401
            async with websockets.connect(f"ws://127.0.0.1:{port}/v1/stream?api_key={token['apiKey']}&model={TODAY}") as ws:
                info = await join(ws)
                secrets.append(info["token"])
                async with http.get(f"{url}/rtc/v1/validate?access_token={info['token']}") as response:
                    assert response.status == 200
                with pytest.raises(websockets.InvalidStatus):
                    async with websockets.connect(f"ws://127.0.0.1:{port}/rtc/v1?access_token={info['token']}x&join_request=AA"):
                        pass
            async with websockets.connect(f"ws://127.0.0.1:{port}/v1/stream?api_key=wrong-key-456&model={TODAY}") as ws:
                assert (await recv_json(ws))["type"] == "error"
        return secrets

    with serve("-vv", "--api-key", "server-key-123") as server:
        secrets = asyncio.run(calls(server.port))
        time.sleep(0.5)
        server.proc.terminate()
        server.proc.wait(10)
        time.sleep(0.2)
        output = server.output()
    assert "GET /v1/stream" in output and "POST /v1/client/tokens" in output, output[-3000:]
    for secret in secrets:
        assert secret not in output, secret[:6]
    assert "Traceback" not in output, output[-3000:]


def test_malformed_requests_are_one_log_line_without_their_bytes(caplog: pytest.LogCaptureFixture) -> None:
    """A request that is not HTTP, or whose line is too long (a token in it), gets a 400 and one info line: no traceback, none of its bytes."""
    caplog.set_level(logging.DEBUG)

    async def raw(server: Server, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), 5)
        writer.close()
        return answer

    async def test(server: Server) -> None:
        assert (await raw(server, b"\x16\x03\x01 not http at all\r\n\r\n")).split(b" ")[1] == b"400"
        line = b"GET /rtc/v1?access_token=SECRET" + b"A" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert (await raw(server, line)).split(b" ")[1] == b"400"

    with_server(test)
    refused = [r for r in caplog.records if r.name == "decart.server.http" and "refused a request" in r.getMessage()]
    assert len(refused) == 2, [r.getMessage() for r in caplog.records]
    assert "too long" in refused[1].getMessage()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert "SECRET" not in caplog.text and "AAAA" not in caplog.text
