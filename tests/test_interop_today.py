"""Interop, today's protocol: Decart's official SDK 0.2.4 (control channel + LiveKit room) against `decart serve`.

The SDK (`decart[realtime]==0.2.4`, in its own venv `.venv-sdk2`, made by
`make interop-deps`) connects as its users do: `livekit_join`, the initial
prompt acknowledged, then LiveKit's own client (the `livekit` package,
libwebrtc inside) joins the room our server hosts at `/rtc/v1`, publishes a
camera and takes the edited track of `inference-server-...`.

libwebrtc gathers no loopback candidates, so both peers run in a network
namespace of the test's own (`netns` fixture: lo plus a veth pair): nothing
leaves it. The server listens on 127.0.0.1 inside it, as a user's would.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import NetNamespace, ServeProcess, serve

REPO = Path(__file__).resolve().parent.parent
CLIENT = REPO / "tests" / "interop" / "sdk2_client.py"
SDK2_PYTHON = Path(os.environ.get("DECART_SDK2_PYTHON", REPO / ".venv-sdk2" / "bin" / "python"))


@pytest.fixture(scope="module")
def sdk2_python() -> Path:
    """The SDK 0.2.4 venv's python (checked first, so a missing venv skips; under CI it fails)."""
    reason = None
    if not SDK2_PYTHON.exists():
        reason = f"the official SDK 0.2.4's venv python is missing: {SDK2_PYTHON}"
    else:
        probe = subprocess.run([str(SDK2_PYTHON), "-c", "import decart.realtime, livekit.rtc"], capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            reason = f"{SDK2_PYTHON} cannot import decart.realtime: {probe.stderr.strip()[-300:]}"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure; run `make interop-deps`)")
        pytest.skip(f"{reason}; run `make interop-deps`")
    return SDK2_PYTHON


def start_client(netns: NetNamespace, python: Path, server: ServeProcess, out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        netns.run(str(python), str(CLIENT), "--url", f"ws://127.0.0.1:{server.port}", "--out", str(out), *args),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )


def finish(proc: subprocess.Popen[str], out: Path, server: ServeProcess, timeout: float = 120) -> tuple[dict, str]:
    """The client's report and a context string for assertion messages."""
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    if not out.exists():
        pytest.fail(f"the SDK client wrote no report (exit {proc.returncode}):\n{stderr[-3000:]}\nserver:\n{server.output()[-4000:]}")
    report = json.loads(out.read_text())
    context = f"report:\n{json.dumps(report, indent=1)[:5000]}\nclient stderr:\n{stderr[-2000:]}\nserver:\n{server.output()[-5000:]}"
    return report, context


def run_client(netns: NetNamespace, python: Path, server: ServeProcess, out: Path, *args: str) -> tuple[dict, str]:
    return finish(start_client(netns, python, server, out, *args), out, server)


def close_to(got: list[float], want: tuple[float, float, float], tolerance: float) -> bool:
    return max(abs(g - w) for g, w in zip(got, want)) <= tolerance


def wait_for(server: ServeProcess, text: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.output():
            return True
        time.sleep(0.1)
    return False


def test_official_sdk_today_session_end_to_end(netns, sdk2_python, tmp_path):
    """SDK 0.2.4: initial prompt shows in the first frames at the model's size; its subscribe() viewer gets them too; set_prompt and set_image take effect; ticks, ids, clean disconnect."""
    image = tmp_path / "green.png"
    cv2.imwrite(str(image), np.full((90, 160, 3), (0, 200, 0), np.uint8))  # BGR: pure green
    out = tmp_path / "r.json"
    with serve("-v", prefix=tuple(netns.run())) as server:
        report, context = run_client(
            netns, sdk2_python, server, out,
            "--model", "lucy-2.6", "--prompt", "invert the colors", "--set-prompt", "black and white",
            "--image", str(image), "--seconds", "3", "--watch",
        )
        assert wait_for(server, "closed"), context
        log = server.output()

    assert report["connected"] and report["error"] is None, context
    assert report["sizes"] == [[1280, 720]], context
    phases = report["phases"]
    # Sent: left half red (200, ~6, 0), right half blue (0, ~6, 200); inverted back.
    assert phases["initial"]["frames"] >= 30, context
    assert close_to(phases["initial"]["left_rgb"], (55, 249, 255), 25), context
    assert close_to(phases["initial"]["right_rgb"], (255, 249, 55), 25), context
    viewer = report["viewer"]  # RealtimeClient.subscribe: POST /watch-stream, then the room, receive-only
    assert viewer["error"] is None and viewer["frames"] >= 30 and viewer["sizes"] == [[1280, 720]], context
    assert close_to(viewer["phases"]["initial"]["left_rgb"], (55, 249, 255), 25), context
    assert report["set_prompt"] == "ok", context
    left, right = phases["after_prompt"]["left_rgb"], phases["after_prompt"]["right_rgb"]
    assert max(left) - min(left) < 8 and max(right) - min(right) < 8, context  # grey: R = G = B
    assert report["set_image"] == "ok", context
    assert close_to(phases["after_image"]["corner_rgb"], (0, 200, 0), 30), context  # the picture-in-picture
    assert report["session_id"], context
    token = json.loads(base64.urlsafe_b64decode(report["subscribe_token"]))
    assert token == {"room_name": f"decart-{report['session_id']}"}, context
    ticks = report["ticks"]
    assert len(ticks) >= 6 and ticks == list(range(1, len(ticks) + 1)), context
    assert "generating" in report["states"], context
    assert report["disconnect_seconds"] < 3, context
    assert f"session {report['session_id']}: closed" in log, context
    assert "(last 1280x720)" in log, context  # the camera arrived at full size (the answer's bitrate floor)
    assert "Traceback" not in log and "ERROR" not in log, context


def test_full_server_queues_a_second_sdk_client(netns, sdk2_python, tmp_path):
    """With --max-sessions 1 busy, a second SDK client sees queue_position updates and starts when the first leaves."""
    first_out, second_out = tmp_path / "first.json", tmp_path / "second.json"
    with serve("-v", "--max-sessions", "1", prefix=tuple(netns.run())) as server:
        first = start_client(netns, sdk2_python, server, first_out, "--prompt", "invert the colors", "--seconds", "1", "--hold", "5")
        assert wait_for(server, "generation started", 30), server.output()
        second = start_client(netns, sdk2_python, server, second_out, "--prompt", "invert the colors", "--seconds", "2")
        first_report, first_context = finish(first, first_out, server)
        second_report, context = finish(second, second_out, server)

    assert first_report["connected"] and first_report["frames"] > 0, first_context
    queue = [m for m in second_report["received"] if m["type"] == "queue_position"]
    assert queue and queue[0]["position"] == 1 and queue[0]["queue_size"] == 1, context
    room_info = next(m for m in second_report["received"] if m["type"] == "livekit_room_info")
    assert room_info["t"] >= queue[0]["t"] + 2, context  # it waited for the first to leave
    assert second_report["connected"] and second_report["frames"] >= 20, context
    assert close_to(second_report["phases"]["initial"]["left_rgb"], (55, 249, 255), 25), context


def test_wrong_key_makes_the_sdk_give_up_at_once(netns, sdk2_python, tmp_path):
    """A key the server refuses: the SDK stops after one attempt (no retries) with the key error."""
    out = tmp_path / "r.json"
    with serve("-v", "--api-key", "the-right-key", prefix=tuple(netns.run())) as server:
        report, context = run_client(netns, sdk2_python, server, out, "--api-key", "a-wrong-key", "--prompt", "invert the colors")
        log = server.output()

    assert not report["connected"], context
    assert "invalid api key" in report["error"].lower(), context
    assert report["signaling_attempts"] == 1 and report["connect_seconds"] < 5, context
    assert "a-wrong-key" not in log and "the-right-key" not in log, context


def test_stopping_the_server_ends_generation_with_a_reason(netns, sdk2_python, tmp_path):
    """SIGTERM to `decart serve` mid-session: the SDK is sent generation_ended (server_stopped, billed seconds) before its socket closes."""
    import signal

    out = tmp_path / "r.json"
    with serve("-v", prefix=tuple(netns.run())) as server:
        client = start_client(netns, sdk2_python, server, out, "--prompt", "invert the colors", "--seconds", "1", "--hold", "5")
        assert wait_for(server, "generation started", 30), server.output()
        time.sleep(2.5)
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(15)
        report, context = finish(client, out, server)

    ended = [m for m in report["received"] if m["type"] == "generation_ended"]
    assert len(ended) == 1 and ended[0]["reason"] == "server_stopped" and ended[0]["seconds"] >= 2, context
    assert report["ticks"] and ended[0]["seconds"] == report["ticks"][-1], context
    assert "Traceback" not in server.output(), context
