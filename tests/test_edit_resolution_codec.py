"""`decart edit --resolution` and `--codec` (today's protocol), and how `decart serve` honours or refuses them.

End-to-end tests run `decart serve` and `decart edit` as child processes in
the test's network namespace (LiveKit's client gathers no loopback
candidates); the server's refusals are also pinned at the message level
with raw WebSockets against an in-process server.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import websockets

from conftest import Editing, NetNamespace, assert_clean_failure, child_env, decode, halves_clip, mean_bgr, recv_json, recv_until, run_decart, serve, stream, wait_for, with_server
from decart_cli import protocol as p
from decart_cli.models import MODELS, get_model
from decart_cli.server import Server
from decart_cli.protocol import room_signal as rs
from scripted_server import Link, Raw, kind, message, scripted_server
from test_interop_today import run_client, sdk2_python, start_client  # noqa: F401 - sdk2_python is a fixture

LEFT, RIGHT = (30, 30, 200), (200, 60, 30)  # BGR: red, blue
INVERTED_LEFT = tuple(255 - v for v in LEFT)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return halves_clip(tmp_path / "halves.mp4", frames=60, size=(1280, 720), left=LEFT, right=RIGHT, fps=30)


def left_half(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return mean_bgr(frame[h // 4 : h // 2, : w // 4])


def close_to(got: np.ndarray, want: tuple[int, ...], tolerance: float = 30) -> bool:
    return bool(np.abs(np.asarray(got) - np.asarray(want)).max() < tolerance)


def edited(netns: NetNamespace, clip: Path, out: Path, *args: str) -> tuple[int, str, str]:
    """Run `decart edit -m lucy-2.6 -p "invert the colors" ARGS` against a fresh `decart serve`; its exit code, its stderr and the server's log."""
    with serve(prefix=tuple(netns.run())) as server:
        edit = Editing("--url", server.url, "-i", str(clip), "--loop", "--no-show", "--no-stdin", "-o", str(out), "-m", "lucy-2.6", "-p", "invert the colors", *args, prefix=tuple(netns.run()))
        code = edit.finish()
        return code, edit.stderr, server.output()


def assert_inverted(out: Path, size: tuple[int, int], frames: int) -> None:
    """The recording at ``out`` decodes at ``size`` (height, width), with at least ``frames`` frames, edited (the red half inverted)."""
    video = decode(out)
    middle = video.frames[len(video.frames) // 2]
    assert video.frames[0].shape[:2] == size and len(video.frames) >= frames, (video.frames[0].shape, len(video.frames))
    assert close_to(left_half(middle), INVERTED_LEFT), left_half(middle)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ---------------------------------------------------------------- end to end


def test_1080p_is_asked_for_edited_and_recorded_at_1920x1080(netns, clip, tmp_path):
    """--resolution 1080p: the query carries it, the server edits at 1920x1080 and the recording decodes back at 1920x1080, edited."""
    out = tmp_path / "out.mp4"
    code, stderr, log = edited(netns, clip, out, "--resolution", "1080p", "--duration", "4")
    assert code == 0 and "Traceback" not in stderr, stderr
    assert "model lucy-2.6 at 1080p" in log and "last 1920x1080" in log, log
    assert_inverted(out, (1080, 1920), 20)  # 1080p both ways on 2 cores: not every frame makes it


def test_vp8_camera_reaches_the_server_as_vp8_and_comes_back_edited(netns, clip, tmp_path):
    """--codec vp8: the camera is published as VP8 (the server's log says so), and edited frames come back into the recording."""
    out = tmp_path / "out.mp4"
    code, stderr, log = edited(netns, clip, out, "--codec", "vp8", "--duration", "3")
    assert code == 0, stderr
    assert "the client publishes VP8 video" in log and "H.264 video" not in log, log
    assert_inverted(out, (720, 1280), 45)


def test_vp9_is_refused_in_one_line_with_exit_1(netns, clip, tmp_path):
    """--codec vp9 against decart serve (aiortc cannot decode VP9): one `error:` line with the server's words and the fix, exit 1, no traceback, no recording."""
    out = tmp_path / "never.mp4"
    code, stderr, log = edited(netns, clip, out, "--codec", "vp9", "--duration", "3")
    assert code == 1, stderr
    assert "Traceback" not in stderr and "Traceback" not in log
    errors = error_lines(stderr)
    assert len(errors) == 1, stderr
    assert "cannot receive VP9 video: publish H.264 or VP8" in errors[0] and "--codec h264" in errors[0], errors
    assert "could not connect" not in errors[0] and "UDP" not in errors[0]
    assert "refused client-" in log and "cannot receive VP9" in log, log
    assert not out.exists()


def test_the_official_sdk_gets_1080p_and_a_clear_vp9_refusal(netns, sdk2_python, tmp_path):
    """The Python SDK 0.2.4: resolution="1080p" gets 1920x1080 edited frames; preferred_video_codec="vp9" is told the server's words on the control channel and gets no edited frame."""
    with serve("-v", prefix=tuple(netns.run())) as server:
        report, context = run_client(netns, sdk2_python, server, tmp_path / "hd.json", "--resolution", "1080p", "--prompt", "invert the colors", "--seconds", "2")
        assert report["connected"] and report["frames"] > 0 and report["sizes"] == [[1920, 1080]], context
        # Its connect does not return after the refusal (LiveKit's publish_track keeps waiting on
        # the refused negotiation), so the SDK's own log line is what there is to read.
        proc = start_client(netns, sdk2_python, server, tmp_path / "vp9.json", "--codec", "vp9", "--prompt", "invert the colors", "--first-frame-timeout", "5")
        refused = wait_for(lambda: "0 frames received" in server.output(), 30)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
        stderr = proc.communicate()[1]
        log = server.output()
    assert refused and "Received error from server: this server cannot receive VP9 video: publish H.264 or VP8" in stderr, f"{stderr[-2000:]}\n{log[-3000:]}"
    assert "publishes VP9" not in log and "generation started" not in log.split("model lucy-2.6\n")[-1], log


# ---------------------------------------------------------------- the server, message level


def test_server_honours_1080p_and_refuses_what_a_model_does_not_offer(no_tracebacks) -> None:
    """resolution=1080p opens a 1920x1080 room for lucy-2.6; a model that does not offer it (or the legacy protocol) gets an `error` naming what it offers, then a close, and no room."""

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server, model="lucy-2.6") + "&resolution=1080p") as ws:
            await ws.send(json.dumps({"type": "livekit_join"}))
            info = await recv_until(ws, "livekit_room_info")
            assert server.rooms.rooms[info["room_name"]].size == (1920, 1080)
        async with websockets.connect(stream(server, model="lucy-restyle-2") + "&resolution=720p") as ws:
            await ws.send(json.dumps({"type": "livekit_join"}))
            info = await recv_until(ws, "livekit_room_info")
            assert server.rooms.rooms[info["room_name"]].size == (1280, 704)  # its own size
        for model, words in (("lucy-restyle-2", "it offers 720p only"), ("lucy-vton-3.6", "it offers 720p only"), ("mirage", "takes no resolution")):
            rooms = len(server.rooms.rooms)
            async with websockets.connect(stream(server, model=model) + "&resolution=1080p") as ws:
                error = await recv_json(ws)
                assert error["type"] == "error" and model in error["error"] and words in error["error"], error
                with pytest.raises(websockets.ConnectionClosed):
                    await recv_json(ws)
                assert ws.close_code == 1008
            assert len(server.rooms.rooms) == rooms

    with_server(test)


def test_server_refuses_vp9_before_answering_it() -> None:
    """A publisher offer (or a browser's add_track) in VP9 is refused with the words the client is sent; H.264 and VP8 pass, whatever else is offered after them."""

    def offer(*codecs: str) -> str:
        rtpmaps = [f"a=rtpmap:{96 + i} {codec}/90000" for i, codec in enumerate(codecs)]
        return "\r\n".join(["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 100", "a=recvonly", "a=rtpmap:100 VP9/90000",
                            "m=video 9 UDP/TLS/RTP/SAVPF 96 97", "a=sendonly", *rtpmaps]) + "\r\n"  # fmt: skip

    assert rs.published_codec(offer("VP9", "rtx")) == "VP9"
    assert rs.published_codec(offer("rtx", "VP8", "H264")) == "VP8"
    assert rs.published_codec("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\na=rtpmap:96 VP9/90000\r\n") is None
    assert rs.codec_refusal("VP9") == rs.codec_refusal("video/vp9") == "this server cannot receive VP9 video: publish H.264 or VP8"
    assert rs.codec_refusal("AV1") is not None and rs.codec_refusal("H264") is None and rs.codec_refusal("vp8") is None and rs.codec_refusal("") is None


# ---------------------------------------------------------------- the client, without media


def test_resolution_a_model_does_not_offer_is_a_usage_error(tmp_path: Path) -> None:
    """--resolution 1080p with lucy-restyle-2, or any resolution on the legacy protocol, is a usage error (exit 2) saying what the model offers; so is --codec on the legacy protocol."""
    out = str(tmp_path / "o.mp4")
    result = run_decart("edit", "-i", "test", "--no-show", "-o", out, "-m", "lucy-restyle-2", "--resolution", "1080p")
    assert_clean_failure(result, 2, "lucy-restyle-2 does not offer 1080p", "offers 720p only", "lucy-2.6")
    result = run_decart("edit", "-i", "test", "--no-show", "-o", out, "--transport", "webrtc", "--resolution", "720p")
    assert_clean_failure(result, 2, "--resolution is for today's protocol", "1280x704 only")
    result = run_decart("edit", "-i", "test", "--no-show", "-o", out, "-m", "mirage", "--codec", "vp8")
    assert_clean_failure(result, 2, "--codec vp8 is for today's protocol")
    for bad in (["--resolution", "4k"], ["--codec", "av1"]):
        result = run_decart("edit", "-i", "test", "--no-show", "-o", out, *bad)
        assert result.returncode == 2 and "Traceback" not in result.stderr and "use one of" in result.stderr, result.stderr


def test_a_server_refusing_the_resolution_is_one_line_exit_1(server, tmp_path: Path) -> None:
    """A server that does not offer the resolution asked for (its `error`, then a close): one `error:` line with its words and the fix, exit 1, not "could not connect"."""
    words = "model lucy-2.6 does not offer resolution 1080p: it offers 720p only"

    async def refuse(link: Link, raw: Raw) -> None:
        if kind(raw) == "livekit_join":
            await link.to_client(message("error", error=words))
            await link.client.close(1008, "bad query")
            return
        await link.to_server(raw)

    with scripted_server(server.url, from_client=refuse) as url:
        result = run_decart("edit", "-i", "test", "--no-show", "--no-stdin", "-o", str(tmp_path / "o.mp4"), "--url", url, "-m", "lucy-2.6", "--resolution", "1080p", timeout=60)
    assert_clean_failure(result, 1, words, "--resolution")
    assert "could not connect" not in result.stderr


def test_the_query_the_registry_and_the_listing_say_what_each_model_offers() -> None:
    """resolution= goes after livekit_early_room_info as the SDKs send it; lucy-2.x offer 720p and 1080p (1920x1080), the others their one size; `decart models` lists them."""
    url = p.stream_url("ws://h:1", api_key="k", model="lucy-2.6", livekit=True, resolution="1080p", user_agent="ua")
    assert url.endswith("?api_key=k&model=lucy-2.6&livekit_early_room_info=true&resolution=1080p&user_agent=ua"), url
    assert "resolution" not in p.stream_url("ws://h:1/v1/stream?resolution=4k", api_key="k", model="m")
    for name in ("lucy-2.1", "lucy-2.5", "lucy-2.6", "lucy-latest"):
        assert MODELS[name].resolutions == ("720p", "1080p") and MODELS[name].at("1080p").size == (1920, 1080)
    assert get_model("lucy-restyle-2").at("720p").size == (1280, 704) and get_model("lucy-2.6").at(None).size == (1280, 720)
    assert get_model("lucy-vton-3.6").resolutions == ("720p",) and get_model("mirage").resolutions == ()
    listing = run_decart("models", env=child_env(COLUMNS="200")).stdout
    row = next(line for line in listing.splitlines() if " lucy-2.6 " in line)
    assert "resolution=720p|1080p (1920x1080)" in row, row
    row = next(line for line in listing.splitlines() if " lucy-restyle-2 " in line)
    assert "resolution=720p" in row and "1080p" not in row, row


def test_edit_help_describes_resolution_and_codec() -> None:
    """`decart edit --help` names --resolution (720p, 1080p, the model's own size by default) and --codec (h264, vp8, vp9; h264 by default)."""
    result = run_decart("edit", "--help", env=child_env(COLUMNS="80", TERM="dumb"))
    assert result.returncode == 0, result.stderr
    text = " ".join(" ".join(result.stdout.splitlines()).replace("│", " ").split())
    assert "--resolution RES Output resolution, 720p or 1080p (1920x1080)" in text and "[default: the model's own size]" in text, text
    assert "--codec CODEC Codec the camera is published with on today's protocol: h264, vp8 or vp9. [default: h264]" in text, text
