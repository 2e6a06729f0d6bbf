"""Interop: third-party clients against `decart serve` on loopback.

Two clients that we did not write talk to our server and must get back video
with the edit visible ("invert the colors": each channel ~ 255 - original):

* Decart's official Python SDK (`decart[realtime]==0.0.20`, its legacy
  WebSocket + aiortc realtime client), driven by tests/interop/sdk_client.py.
* A browser page written the way Decart's docs show one
  (tests/interop/browser.html), in headless Debian Chromium with a fake
  camera, driven by tests/interop/browser_run.py.

Setup, once per machine: `make interop-deps`, which
  - creates .venv-sdk beside .venv (`python3 -m venv .venv-sdk` then
    `.venv-sdk/bin/pip install 'decart[realtime]==0.0.20'`): the SDK lives in
    its own venv because it pins its own opencv-python;
  - installs Debian's browser (`apt-get update && apt-get install -y chromium`),
    never a downloaded browser build.

Without them these tests skip, except under CI (env CI set), where a missing
tool is a failure. Overrides: DECART_SDK_PYTHON (the SDK venv's python),
DECART_CHROMIUM (the browser). The server is the session's `decart serve`
child from conftest.

All traffic stays on 127.0.0.1: the SDK script makes aioice offer 127.0.0.1
and drops the SDK's public STUN server; the page trickles only loopback
candidates and Chromium resolves no other name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ServeProcess

REPO = Path(__file__).resolve().parent.parent
INTEROP = REPO / "tests" / "interop"
SDK_PYTHON = Path(os.environ.get("DECART_SDK_PYTHON", REPO / ".venv-sdk" / "bin" / "python"))
CHROMIUM = Path(os.environ.get("DECART_CHROMIUM", "/usr/bin/chromium"))
PROMPT = "invert the colors"


def _missing(reason: str) -> None:
    """Skip locally; under CI a missing interop tool is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure; run `make interop-deps`)")
    pytest.skip(f"{reason}; run `make interop-deps`")


def _run_client(cmd: list[str], out: Path, timeout: float, server: ServeProcess) -> dict:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, errors="replace", timeout=timeout)
    elapsed = time.monotonic() - started
    if not out.exists():
        pytest.fail(
            f"{Path(cmd[1]).name} wrote no result (exit {proc.returncode}, {elapsed:.1f}s).\n"
            f"stderr:\n{proc.stderr[-3000:]}\nserver output:\n{server.output()}"
        )
    result = json.loads(out.read_text())
    result["_client_seconds"] = round(elapsed, 1)
    result["_client_stderr_tail"] = proc.stderr[-2000:]
    return result


def _describe(result: dict, server: ServeProcess) -> str:
    shown = {k: v for k, v in result.items() if k not in ("local_grid", "remote_grid", "runner")}
    return f"client result:\n{json.dumps(shown, indent=1)[:6000]}\nserver output:\n{server.output()}"


def _assert_inverted(got, original, tolerance: float, what: str, context: str) -> None:
    expected = [255 - v for v in original]
    worst = max(abs(g - e) for g, e in zip(got, expected))
    assert worst <= tolerance, (
        f"{what}: got {got}, expected about {[round(e, 1) for e in expected]} "
        f"(255 - the original {original}); off by {worst:.1f} > {tolerance}\n{context}"
    )


@pytest.fixture
def sdk_python() -> Path:
    """The SDK venv's python (checked before the server starts, so a missing tool skips)."""
    if not SDK_PYTHON.exists():
        _missing(f"the official SDK's venv python is missing: {SDK_PYTHON}")
    probe = subprocess.run([str(SDK_PYTHON), "-c", "import decart.realtime, aiortc"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        _missing(f"{SDK_PYTHON} cannot import decart.realtime: {probe.stderr.strip()[-300:]}")
    return SDK_PYTHON


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        _missing(f"Chromium is missing: {CHROMIUM} (Debian package `chromium`)")
    return CHROMIUM


def test_official_sdk_client_gets_edited_frames(sdk_python, server, tmp_path):
    """Decart's official Python SDK realtime client gets back inverted frames from `decart serve`; its subscribe() viewer, by the session's token, gets them too."""
    out = tmp_path / "sdk_result.json"
    result = _run_client(
        [str(sdk_python), str(INTEROP / "sdk_client.py"), "--url", f"ws://127.0.0.1:{server.port}",
         "--prompt", PROMPT, "--seconds", "4", "--watch", "--out", str(out)],
        out, timeout=150, server=server,
    )
    context = _describe(result, server)

    assert result["errors"] == [], context
    assert result["sdk_log"] == [], context  # e.g. no ERROR per trickled candidate it cannot parse
    assert result["messages_sent"][:2] == ["prompt", "offer"], context
    assert "prompt_ack" in result["messages_received"], context
    assert "answer" in result["messages_received"], context
    assert result["frames_received"] >= 10, context
    _assert_inverted(result["left_bgr"], result["sent_left_bgr"], 40, "left half (sent red), BGR", context)
    _assert_inverted(result["right_bgr"], result["sent_right_bgr"], 40, "right half (sent blue), BGR", context)
    # The SDK's own viewer (RealtimeClient.subscribe on /subscribe/<sid>).
    assert result["viewer_frames"] >= 10 and result["viewer_size"] == [1280, 704], context
    _assert_inverted(result["viewer_left_bgr"], result["sent_left_bgr"], 40, "the viewer's left half, BGR", context)


def test_browser_page_gets_edited_frames(chromium, server, tmp_path):
    """A docs-style browser page in headless Chromium gets back the camera inverted from `decart serve`."""

    out = tmp_path / "browser_result.json"
    result = _run_client(
        [sys.executable, str(INTEROP / "browser_run.py"), "--port", str(server.port),
         "--prompt", PROMPT, "--seconds", "4", "--chromium", str(chromium), "--out", str(out)],
        out, timeout=150, server=server,
    )
    context = _describe(result, server)
    if result.get("state") != "done":
        context += "\nchromium stderr:\n" + "\n".join(result.get("runner", {}).get("chromium_stderr_tail", []))

    assert result.get("state") == "done", context
    assert result["errors"] == [], context
    assert "prompt_ack" in result["messages_received"], context
    assert "answer" in result["messages_received"], context
    assert max(result["remote_frames"], result["frames_decoded"] or 0) >= 10, context

    local, remote = result["local_mean"], result["remote_mean"]
    # The fake camera is mostly green on black, far from mid-grey, so an
    # unedited echo cannot pass for an inverted one.
    assert max(abs(v - 127.5) for v in local) > 60, f"fake camera too grey to tell: {local}\n{context}"
    _assert_inverted(remote, local, 30, "whole frame mean, RGB", context)

    cells = list(zip(result["local_grid"], result["remote_grid"]))
    inverted_error = sum(abs(r - (255 - l)) for lc, rc in cells for l, r in zip(lc, rc)) / (3 * len(cells))
    identity_error = sum(abs(r - l) for lc, rc in cells for l, r in zip(lc, rc)) / (3 * len(cells))
    assert inverted_error <= 20 and identity_error > 3 * inverted_error, (
        f"per-cell mean |remote - (255 - local)| = {inverted_error:.1f}, "
        f"|remote - local| = {identity_error:.1f}\n{context}"
    )
