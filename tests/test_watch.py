"""`decart watch TOKEN`: a running session, receive-only, by either generation of the protocol.

The tokens are the official SDKs' (urlsafe base64 of JSON); `decart serve`
takes legacy viewers on ``/subscribe/<sid>`` and gives today's viewers room
credentials at ``POST /watch-stream/<room>``. End to end, a `decart edit`
prints its token, `decart watch` records the session, and every frame the
viewer recorded is one the editor recorded, pixel for pixel within coding
noise. The official SDKs' own viewers are pinned in tests/test_interop*.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import websockets
from aiortc.mediastreams import MediaStreamError

from conftest import Editing, assert_clean_failure, child_env, decode, recv_json, run_decart, serve, stream, with_server, write_clip
from decart_cli.protocol.watch_token import RoomToken, SessionToken, decode as decode_token
from decart_cli.errors import TokenError
from decart_cli.protocol import subscribe_url, watch_stream_url
from decart_cli.server import Server
from decart_cli.server.viewers import TooManyViewers, Viewers

pytestmark = pytest.mark.usefixtures("no_tracebacks")  # bad input is answered, never a traceback in the server's log

LEFT, RIGHT = (30, 30, 200), (200, 60, 30)
BITS = 10


# -- tokens and URLs


def test_tokens_are_the_official_sdks_format() -> None:
    """Tokens encode byte for byte as the SDKs make them (json.dumps, urlsafe base64) and decode back, padding or not."""
    legacy = SessionToken("abc", "127.0.0.1", 8765)
    assert legacy.encode() == base64.urlsafe_b64encode(b'{"sid": "abc", "ip": "127.0.0.1", "port": 8765}').decode()
    room = RoomToken("decart-1234")
    assert room.encode() == "eyJyb29tX25hbWUiOiAiZGVjYXJ0LTEyMzQifQ=="
    assert decode_token(legacy.encode()) == legacy
    assert decode_token(room.encode().rstrip("=")) == room
    assert decode_token(f"  {room.encode()}\n") == room


def test_tokens_of_the_js_sdk_decode_too() -> None:
    """The JS SDK's subscribeToken (btoa: standard base64 with + and /, JSON without spaces) names the same room."""
    js = base64.b64encode(b'{"room_name":"decart-0??>>~~"}').decode()
    assert "+" in js or "/" in js
    assert decode_token(js) == RoomToken("decart-0??>>~~")
    assert decode_token(js.rstrip("=")) == RoomToken("decart-0??>>~~")


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("hello world!", "not base64 of a JSON object"),
        (base64.urlsafe_b64encode(b"[1, 2]").decode(), "not base64 of a JSON object"),
        (base64.urlsafe_b64encode(b'{"sid": "x", "ip": "1.2.3.4"}').decode(), "neither a room"),
        (base64.urlsafe_b64encode(b'{"sid": "x", "ip": "1.2.3.4", "port": true}').decode(), "neither a room"),
        (base64.urlsafe_b64encode(b'{"room_name": ""}').decode(), "neither a room"),
    ],
)
def test_a_bad_token_says_what_is_wrong(token: str, problem: str) -> None:
    """A token that is not one raises TokenError (a usage error, exit 2) naming the problem and where tokens come from."""
    with pytest.raises(TokenError) as caught:
        decode_token(token)
    assert problem in caught.value.user_message() and "decart edit" in caught.value.user_message()
    assert caught.value.exit_code == 2


def test_viewer_urls_follow_the_sdks() -> None:
    """Legacy viewers open /subscribe/<sid>?IP=&port=&api_key= (ws); today's POST to http(s)://…/watch-stream/<room>; a base with the model's path is accepted."""
    assert subscribe_url("http://h:1", session_id="s/1", ip="10.0.0.1", port=99, api_key="k") == "ws://h:1/subscribe/s%2F1?IP=10.0.0.1&port=99&api_key=k"
    assert watch_stream_url("wss://api3.decart.ai/v1/stream", "decart-x") == "https://api3.decart.ai/watch-stream/decart-x"
    assert watch_stream_url("ws://127.0.0.1:8765", "a b") == "http://127.0.0.1:8765/watch-stream/a%20b"


# -- the server's side


def test_viewers_get_their_own_copy_of_the_newest_frame() -> None:
    """A viewer's track returns the newest published frame as a copy (same pixels, pts and time base); a fifth viewer is refused; closing ends them."""

    async def main() -> None:
        viewers = Viewers(limit=4)
        tracks = [viewers.track() for _ in range(4)]
        with pytest.raises(TooManyViewers):
            viewers.track()
        frames = []
        for value in (10, 20, 30):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), value, np.uint8), format="bgr24")
            frame.pts, frame.time_base = value, av.time_base
            frames.append(frame)
            viewers.publish(frame)
        got = await tracks[0].recv()
        assert got is not frames[-1] and got.pts == 30 and got.time_base == frames[-1].time_base
        assert np.array_equal(got.to_ndarray(), frames[-1].to_ndarray())
        tracks[1].stop()
        assert len(viewers) == 3
        viewers.track()  # a place was freed
        viewers.close()
        with pytest.raises(MediaStreamError):
            await tracks[2].recv()

    asyncio.run(main())


def subscribe(server: Server, sid: str, key: str = "k") -> str:
    return subscribe_url(server.url, session_id=sid, ip="127.0.0.1", port=server.port, api_key=key)


def test_subscribe_refuses_a_bad_key_and_an_unknown_session() -> None:
    """/subscribe with a wrong key gets "invalid api key"; with an id no session has, an error naming it; both close."""

    async def test(server: Server) -> None:
        async with websockets.connect(subscribe(server, "nope", key="wrong")) as ws:
            assert (await recv_json(ws))["error"] == "invalid api key"
            await ws.wait_closed()
        async with websockets.connect(subscribe(server, "nope12", key="secret")) as ws:
            message = await recv_json(ws)
            assert message["type"] == "error" and "no session 'nope12'" in message["error"]
            await ws.wait_closed()
            assert ws.close_code == 1008

    with_server(test, api_key="secret")


def test_a_legacy_viewer_cannot_prompt_and_a_session_takes_four() -> None:
    """A viewer's prompt is answered with an error (the session's edit stays); a fifth viewer is told the session has enough; the session's end closes its viewers."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as client:
            sid = (await recv_json(client))["session_id"]
            viewers = [await websockets.connect(subscribe(server, sid)) for _ in range(4)]
            await viewers[0].send(json.dumps({"type": "prompt", "prompt": "invert the colors"}))
            refusal = await recv_json(viewers[0])
            assert refusal["type"] == "error" and "cannot change its edit" in refusal["error"]
            async with websockets.connect(subscribe(server, sid)) as fifth:
                assert "already has 4 viewers" in (await recv_json(fifth))["error"]
                await fifth.wait_closed()
                assert fifth.close_code == 1013
        for viewer in viewers:  # the client left: its session, and so its viewers, end
            await asyncio.wait_for(viewer.wait_closed(), 5)
            assert viewer.close_code == 1000 and viewer.close_reason == "the session has ended"

    with_server(test)


async def http(server: Server, method: str, path: str, **headers: str) -> tuple[int, dict]:
    """One plain HTTP request to the server; (status, JSON body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Content-Length: 0", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    writer.close()
    return status, json.loads(body) if body.startswith(b"{") else {}


def test_watch_stream_gives_a_viewer_its_room_credentials() -> None:
    """POST /watch-stream/<room> with x-api-key answers {livekit_url, token, room_name, session_id}; the token is a viewer's (subscribe only) that the room admits; wrong method, key or room are refused."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, key="secret", model="lucy-2.6")) as client:
            await client.send(json.dumps({"type": "livekit_join"}))
            info = await recv_json(client)
            while info["type"] != "livekit_room_info":
                info = await recv_json(client)
            room = info["room_name"]
            status, body = await http(server, "POST", f"/watch-stream/{room}", x_api_key="secret")
            assert status == 200, body
            assert body["livekit_url"] == server.url and body["room_name"] == room and body["session_id"] == info["session_id"]
            grant = server.rooms.tokens.verify(body["token"])
            assert grant.room == room and grant.identity.startswith("viewer-")
            admitted, _ = server.rooms.admit(body["token"])
            assert admitted.name == room
            assert (await http(server, "POST", f"/watch-stream/{room}", x_api_key="wrong"))[0] == 401
            assert (await http(server, "GET", f"/watch-stream/{room}", x_api_key="secret"))[0] == 405
            status, body = await http(server, "POST", "/watch-stream/decart-gone", x_api_key="secret")
            assert status == 404 and "decart-gone" in body["error"]

    with_server(test, api_key="secret")


# -- end to end: `decart edit` prints the token, `decart watch` records the session


def coded_clip(path: Path, frames: int, size: tuple[int, int], fps: int) -> Path:
    """Halves of two colours, and each frame's index as a row of black/white blocks."""
    width, height = size
    base = np.zeros((height, width, 3), np.uint8)
    base[:, : width // 2] = LEFT
    base[:, width // 2 :] = RIGHT

    def frame_at(i: int) -> np.ndarray:
        image = base.copy()
        for bit in range(BITS):
            x = 40 + bit * 110
            image[40:120, x : x + 80] = 255 if i >> bit & 1 else 0
        return image

    return write_clip(path, frame_at, frames=frames, fps=fps)


def code_of(image: np.ndarray) -> int:
    """The block code of a frame (read the same way in both recordings, so an inverted edit reads consistently)."""
    bits = [image[60:100, 60 + bit * 110 : 100 + bit * 110].mean() > 128 for bit in range(BITS)]
    return sum(1 << bit for bit, on in enumerate(bits) if on)


def watch_while_editing(tmp_path: Path, prefix: tuple[str, ...], *args: str, size: tuple[int, int], fps: int) -> tuple[Editing, subprocess.CompletedProcess[str]]:
    clip = coded_clip(tmp_path / "coded.mp4", 10 * fps, size, fps)
    with serve(prefix=prefix) as server:
        edit = Editing("--url", server.url, "-i", str(clip), "--no-show", "-o", str(tmp_path / "edit.mp4"), "-p", "invert the colors", "--duration", "8", "--no-stdin", *args, prefix=prefix)
        command = edit.watch_command()
        assert command[:2] == ["decart", "watch"] and command[3:] == ["--url", server.url], command
        watch = run_decart("watch", command[2], "--url", server.url, "--no-show", "-o", str(tmp_path / "watch.mp4"), "--duration", "3", timeout=60, prefix=prefix)
        assert edit.finish() == 0, edit.stderr
    return edit, watch


def assert_viewer_saw_the_editors_frames(tmp_path: Path) -> None:
    edited, watched = decode(tmp_path / "edit.mp4"), decode(tmp_path / "watch.mp4")
    by_code = {code_of(frame): frame for frame in edited.frames}
    assert 2.0 < watched.duration < 4.0 and len(watched.frames) > 40, (watched.duration, len(watched.frames))
    matched = 0
    for frame in watched.frames[2:]:
        twin = by_code.get(code_of(frame))
        if twin is not None and np.abs(twin.astype(np.int16) - frame.astype(np.int16)).mean() < 6:
            matched += 1
    assert matched >= 0.9 * (len(watched.frames) - 2), (matched, len(watched.frames))
    h, w = watched.frames[-1].shape[:2]
    left = watched.frames[-1][h // 2 :, : w // 4].reshape(-1, 3).mean(axis=0)
    assert np.abs(left - (255 - np.array(LEFT))).max() < 25, left  # the edit, not the input


def test_watch_records_a_legacy_session_frame_for_frame(tmp_path: Path) -> None:
    """Legacy: `decart edit` prints "decart watch TOKEN --url URL" on stdout; `decart watch` records frames the editor also recorded (same index, same pixels)."""
    edit, watch = watch_while_editing(tmp_path, (), size=(1280, 704), fps=25)
    assert watch.returncode == 0, watch.stderr + edit.stderr
    assert "over webrtc" in watch.stderr and "duration reached" in watch.stderr and "Traceback" not in watch.stderr, watch.stderr
    assert_viewer_saw_the_editors_frames(tmp_path)


def test_watch_records_a_livekit_session_frame_for_frame(netns, tmp_path: Path) -> None:
    """Today's protocol: the room token from `decart edit --transport livekit`; `decart watch` gets room credentials from /watch-stream and records the editor's frames."""
    edit, watch = watch_while_editing(tmp_path, tuple(netns.run()), "--transport", "livekit", "-m", "lucy-2.6", size=(1280, 720), fps=30)
    assert watch.returncode == 0, watch.stderr + edit.stderr
    assert "over livekit" in watch.stderr and "Traceback" not in watch.stderr, watch.stderr
    assert_viewer_saw_the_editors_frames(tmp_path)


def test_watch_ends_cleanly_when_the_session_does(server, tmp_path: Path) -> None:
    """The watched session ends first: `decart watch` says so, finishes its recording, and exits 0."""
    clip = coded_clip(tmp_path / "coded.mp4", 150, (1280, 704), 25)  # 6 s: time for the watcher to start on a busy machine
    edit = Editing("--url", server.url, "-i", str(clip), "--no-show", "-o", str(tmp_path / "edit.mp4"), "--no-stdin")
    token = edit.watch_command()[2]
    watch = run_decart("watch", token, "--url", server.url, "--no-show", "-o", str(tmp_path / "watch.mp4"), timeout=60)
    assert edit.finish() == 0, edit.stderr
    assert watch.returncode == 0, watch.stderr
    assert "the watched session ended" in watch.stderr and "Traceback" not in watch.stderr, watch.stderr
    assert len(decode(tmp_path / "watch.mp4").frames) > 5


def test_watch_usage_errors_are_one_line(server, tmp_path: Path) -> None:
    """A bad token or no server is a usage error (exit 2); a session the server does not have is one line, exit 1; nothing is recorded."""
    out = tmp_path / "w.mp4"
    assert_clean_failure(run_decart("watch", "not-a-token", "--url", server.url, "--no-show", "-o", str(out)), 2, "not a watch token")
    env = child_env()
    env.pop("DECART_API_KEY", None)
    token = SessionToken("gone123", "127.0.0.1", server.port).encode()
    assert_clean_failure(run_decart("watch", token, "--no-show", "-o", str(out), env=env), 2, "no server to watch on", "--url")
    assert_clean_failure(run_decart("watch", token, "--url", server.url, "--no-show", "-o", str(out)), 1, "no session 'gone123'")
    room = RoomToken("decart-gone").encode()
    assert_clean_failure(run_decart("watch", room, "--url", server.url, "--no-show", "-o", str(out)), 1, "no such session", "decart-gone")
    assert not out.exists()
