"""`decart serve` beyond loopback: the key it must have (from a variable or a file), the address it really bound, the pages it lets in, TLS.

Servers bound beyond loopback run in the test's own network namespace
(clients reach them over its veth address), so nothing listens or sends
outside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp
import pytest

from conftest import REPO, assert_clean_failure, child_env, decode, make_tls_files, run_decart, serve, with_server
from decart_cli.server import Server

KEY = "serve-key-0123456789abcdef"
OTHER_ORIGIN = "https://app.example.com"

# A client of the control channel, run inside the namespace: a wrong key, then the right one; prints what each got.
ASK = """
import asyncio, json, ssl, sys
import websockets

async def main(base, key, ca):
    context = ssl.create_default_context(cafile=ca) if ca else None
    for attempt in ("wrong-key", key):
        try:
            async with websockets.connect(f"{base}/v1/stream?api_key={attempt}&model=lucy-latest", proxy=None, ssl=context) as ws:
                await ws.send(json.dumps({"type": "livekit_join"}))
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message["type"] == "error":
                        print("refused")
                        break
                    if message["type"] == "livekit_room_info":
                        print("admitted", message["livekit_url"].split(":")[0])
                        break
        except (websockets.ConnectionClosed, websockets.InvalidStatus):
            print("refused")

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
"""


def ask(netns, base: str, *extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    import subprocess

    result = subprocess.run(netns.run(sys.executable, "-c", ASK, base, KEY, *extra), capture_output=True, text=True, timeout=60, env=child_env(PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_beyond_loopback_without_a_key_it_refuses_to_start() -> None:
    """--host 0.0.0.0 or a LAN address without a key: exit 2 before binding, saying how to give one."""
    for host in ("0.0.0.0", "192.0.2.10"):
        result = run_decart("serve", "--host", host, "--port", "0")
        assert_clean_failure(result, 2, f"--host {host} serves beyond this machine", "DECART_SERVE_API_KEY", "--api-key-file")


def test_bad_key_and_certificate_options_are_usage_errors(tmp_path: Path) -> None:
    """Both --api-key and --api-key-file, an empty key file, one of --tls-cert/--tls-key, a key that does not match: exit 2 with the fix."""
    tls = make_tls_files(tmp_path)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert_clean_failure(run_decart("serve", "--port", "0", "--api-key", "a", "--api-key-file", str(empty)), 2, "keep one of them")
    assert_clean_failure(run_decart("serve", "--port", "0", "--api-key-file", str(empty)), 2, "is empty")
    assert_clean_failure(run_decart("serve", "--port", "0", "--tls-cert", str(tls.cert)), 2, "go together")
    assert_clean_failure(run_decart("serve", "--port", "0", "--tls-cert", str(tls.cert), "--tls-key", str(tls.ca)), 2, "cannot use --tls-cert and --tls-key")


def test_a_key_from_the_variable_or_a_file_and_the_address_really_bound(netns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--host 0.0.0.0 with DECART_SERVE_API_KEY, then with --api-key-file: the line shows ws://0.0.0.0:PORT; a wrong key is refused, the right one admitted; the key is never printed."""
    key_file = tmp_path / "serve.key"
    key_file.write_text(KEY + "\n")
    for args, env in ((("--host", "0.0.0.0"), {"DECART_SERVE_API_KEY": KEY}), (("--host", "0.0.0.0", "--api-key-file", str(key_file)), {})):
        with serve(*args, prefix=tuple(netns.run()), env_extra=env) as server:
            assert server.url.startswith("ws://0.0.0.0:"), server.output()
            assert "clients must present the API key" in server.output()
            assert ask(netns, f"ws://10.77.0.1:{server.port}") == ["refused", "admitted ws"]
        assert KEY not in server.output()


def test_pages_of_other_origins_are_refused_unless_allowed() -> None:
    """Another origin's page is refused (403 "Origin not allowed") on HTTP and WebSocket alike; loopback pages, the server's own page and --allow-origin ones are served."""

    async def refused(server: Server) -> None:
        base = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/v1/realtime/quota", headers={"Origin": OTHER_ORIGIN, "x-api-key": "k"}) as response:
                assert response.status == 403 and "Origin not allowed" in await response.text()
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await http.ws_connect(base + "/v1/stream?api_key=k&model=lucy-latest", headers={"Origin": OTHER_ORIGIN})
            assert caught.value.status == 403
            own = {"Host": "192.0.2.10:8765", "Origin": "http://192.0.2.10:8765"}  # the page as a phone on the LAN loads it
            async with http.get(base + "/v1/realtime/quota", headers={**own, "x-api-key": "k"}) as response:
                assert response.status == 200
            async with http.ws_connect(base + "/v1/stream?api_key=k&model=lucy-latest", headers=own) as ws:
                await ws.send_json({"type": "livekit_join"})
                assert (await ws.receive_json(timeout=10))["type"] in ("livekit_room_info", "queue_position")
            async with http.get(base + "/v1/realtime/quota", headers={"Origin": "http://localhost:5173", "x-api-key": "k"}) as response:
                assert response.status == 200

    async def allowed(server: Server) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{server.port}/v1/realtime/quota", headers={"Origin": OTHER_ORIGIN, "x-api-key": "k"}) as response:
                assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == OTHER_ORIGIN

    with_server(refused)
    with_server(allowed, allowed_origins=(OTHER_ORIGIN,))


def test_tls_serves_https_wss_and_a_wss_room(netns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With --tls-cert/--tls-key: wss:// in the listening line and the room info, a session of each generation over it (clients trusting the CA); a client that does not trust it is told how to."""
    tls = make_tls_files(tmp_path)
    with serve("--tls-cert", str(tls.cert), "--tls-key", str(tls.key), prefix=tuple(netns.run())) as server:
        assert server.url.startswith("wss://127.0.0.1:") and f"https://127.0.0.1:{server.port}/" in server.output()
        assert ask(netns, server.url, str(tls.ca)) == ["admitted wss", "admitted wss"]  # any key: none was set
        for transport in ("webrtc", "livekit"):
            out = tmp_path / f"{transport}.mp4"
            edit = ("edit", "--url", server.url, "--transport", transport, "-i", "test", "-p", "invert the colors", "--no-show", "-o", str(out), "--duration", "3")
            result = run_decart(*edit, env=child_env(SSL_CERT_FILE=str(tls.ca)), prefix=netns.run())
            assert result.returncode == 0, result.stderr
            assert len(decode(out).frames) > 30, result.stderr
        untrusted = run_decart("edit", "--url", server.url, "-i", "test", "--no-show", "-o", str(tmp_path / "u.mp4"), "--duration", "2", prefix=netns.run())
        assert_clean_failure(untrusted, 1, "TLS certificate is not trusted", "SSL_CERT_FILE")
