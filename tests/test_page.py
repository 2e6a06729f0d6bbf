"""The browser page `decart serve` shows at `/`, in Debian's headless Chromium with a fake camera, driven over the DevTools protocol."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import child_env, decart_cmd, serve, wait_for

sys.path.insert(0, str(Path(__file__).parent / "interop"))
from browser_run import chromium_flags  # noqa: E402
from test_interop import CHROMIUM, _missing  # noqa: E402


class Page:
    """One Chromium tab, driven through the DevTools protocol (Runtime.evaluate, Page.captureScreenshot)."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.profile = tempfile.TemporaryDirectory()
        self.proc = subprocess.Popen(
            [str(CHROMIUM), *chromium_flags(self.profile.name), "--remote-debugging-port=0", "--window-size=1400,900", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        active = Path(self.profile.name) / "DevToolsActivePort"
        assert wait_for(active.exists, 30), "Chromium did not start its DevTools endpoint"
        port = active.read_text().split()[0]
        targets: list[dict] = []

        def page_target() -> bool:
            nonlocal targets
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                targets = [t for t in json.load(answer) if t.get("type") == "page"]
            return bool(targets)

        assert wait_for(page_target, 30)
        self._connection = connect(targets[0]["webSocketDebuggerUrl"], max_size=None, proxy=None)
        self.ws = self._connection.__enter__()
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    def eval(self, expression: str, *, strict: bool = True) -> object:
        """The value of ``expression`` in the page; None for one that throws unless ``strict`` (the page may still be loading)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            assert not strict, result
            return None
        return result["result"].get("value")

    def frames(self) -> int:
        return int(self.eval("window.decart ? window.decart.framesReceived : 0", strict=False) or 0)

    def screenshot(self) -> np.ndarray:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.profile.cleanup()


MEAN = """(() => { const v = document.getElementById("%s"); const c = document.createElement("canvas"); c.width = 64; c.height = 35;
  const x = c.getContext("2d"); x.drawImage(v, 0, 0, 64, 35); const d = x.getImageData(0, 0, 64, 35).data; const m = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; } return m.map((s) => s / (d.length / 4)); })()"""


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        _missing(f"Chromium is missing: {CHROMIUM} (Debian package `chromium`)")
    return CHROMIUM


def test_the_page_edits_the_camera_and_its_prompt_box_changes_the_edit(chromium: Path, server, tmp_path: Path) -> None:
    """Served at /: the page sends the fake camera, shows edited frames, a prompt typed in its box inverts them (screenshot too), mirror flips the view."""
    page = Page(f"http://127.0.0.1:{server.port}/?autostart=1")
    try:
        assert wait_for(lambda: page.frames() > 25, 45), page.eval("JSON.stringify(window.decart)", strict=False)
        assert page.eval("window.decart.errors") == []
        plain = np.array(page.eval(MEAN % "edited"))
        camera = np.array(page.eval(MEAN % "camera"))
        assert np.abs(plain - camera).max() < 40, (plain, camera)  # no prompt yet: what was sent comes back
        page.eval("document.getElementById('prompt').value = 'invert the colors'; document.getElementById('apply').click()")
        assert wait_for(lambda: page.eval("window.decart.prompt") == "invert the colors", 15), page.eval("JSON.stringify(window.decart)", strict=False)

        def inverted() -> bool:
            return bool(np.abs(np.array(page.eval(MEAN % "edited")) - (255 - np.array(page.eval(MEAN % "camera")))).max() < 40)

        assert wait_for(inverted, 10, interval=0.3), (page.eval(MEAN % "edited"), page.eval(MEAN % "camera"))
        shot = page.screenshot()
        boxes = page.eval("['camera', 'edited'].map((id) => { const r = document.getElementById(id).getBoundingClientRect(); return [r.left, r.top, r.width, r.height].map(Math.round); })")
        (cx, cy, cw, ch), (ex, ey, ew, eh) = boxes
        seen_camera = shot[cy + ch // 4 : cy + 3 * ch // 4, cx + cw // 4 : cx + 3 * cw // 4].reshape(-1, 3).mean(axis=0)
        seen_edit = shot[ey + eh // 4 : ey + 3 * eh // 4, ex + ew // 4 : ex + 3 * ew // 4].reshape(-1, 3).mean(axis=0)
        assert np.abs(seen_edit - (255 - seen_camera)).max() < 50, (seen_camera, seen_edit)
        cv2.imwrite(str(tmp_path / "page.png"), shot)
        # The mirror toggle flips both videos as shown (a selfie view), and back.
        flip = "getComputedStyle(document.getElementById('edited')).transform"
        assert page.eval(flip) == "matrix(-1, 0, 0, 1, 0, 0)"
        page.eval("document.getElementById('mirror').click()")
        assert page.eval(flip) == "none"
    finally:
        page.close()


def test_a_refused_prompt_and_a_face_edit_without_a_face_are_shown_on_the_page(chromium: Path, server) -> None:
    """A prompt the engine cannot do shows the server's reason in the error box; "add sunglasses" before the fake camera (no face) says "waiting for a face"."""
    page = Page(f"http://127.0.0.1:{server.port}/?autostart=1")
    try:
        assert wait_for(lambda: page.frames() > 5, 45)
        page.eval("document.getElementById('prompt').value = 'turn me into a dragon'; document.getElementById('apply').click()")
        assert wait_for(lambda: "cannot do" in page.eval("document.getElementById('error').textContent"), 15)
        assert page.eval("getComputedStyle(document.getElementById('error')).display") == "block"
        page.eval("document.getElementById('prompt').value = 'add sunglasses'; document.getElementById('apply').click()")
        caption = "document.getElementById('edited-caption').textContent"
        assert wait_for(lambda: page.eval(caption) == "edited: add sunglasses (waiting for a face)", 15), page.eval(caption)
    finally:
        page.close()


def test_serve_open_opens_the_page_in_the_users_browser(tmp_path: Path) -> None:
    """`decart serve --open` hands the page's URL to the system's browser (here a $BROWSER script that notes it); the URL serves the page."""
    noted = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {noted}\n")
    browser.chmod(0o755)
    with serve("--open", env_extra={"BROWSER": str(browser)}) as server:
        assert wait_for(noted.exists, 15)
        url = noted.read_text().strip()
        assert url == f"http://127.0.0.1:{server.port}/"
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("text/html") and b"decart serve" in answer.read()
