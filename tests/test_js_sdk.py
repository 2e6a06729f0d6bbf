"""Decart's official JavaScript SDK (`@decartai/sdk` 0.1.20, LiveKit's `livekit-client` inside) in headless Chromium against `decart serve`.

The page is tests/js/harness.html with the bundle `make js-harness` builds
(`npm ci` from the lock file, esbuild); it uses the SDK's public API only and
reports what it saw as JSON (tests/js/harness.js). Chromium is driven over
its DevTools pipe (tests/interop/cdp.py) and, with the server, runs inside
the test's own network namespace (`netns`): the browser's WebRTC gathers
loopback candidates there, and nothing leaves it.

The page comes either from `decart serve --web-root tests/js` itself
(same-origin) or from another port, as a web developer's dev server serves
it (cross-origin: every REST call and the room's /validate need CORS).

Its camera is a canvas: left half red (200, 0, 0), right half blue (0, 0, 200).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import NetNamespace, ServeProcess, child_env, serve

sys.path.insert(0, str(Path(__file__).resolve().parent / "interop"))
from cdp import Chromium, Page, chromium_available  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "tests" / "js"
BUNDLE = JS / "dist" / "harness.js"
KEY = "js-sdk-test-key"
INVERTED_RED = (55, 255, 255)
INVERTED_BLUE = (255, 255, 55)
LUCY_26 = {"name": "lucy-2.6", "urlPath": "/v1/stream", "fps": 30, "width": 1280, "height": 720}
"""A custom model definition, as the SDK's docs show for a model it does not list yet (0.1.20 lists no 2.6)."""
LEGACY = {"name": "lucy_v2v_720p_rt", "urlPath": "/v1/stream", "fps": 25, "width": 1280, "height": 704}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure; run `make js-harness`)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The built harness (checked first: a missing bundle or browser skips; under CI it fails)."""
    if not BUNDLE.exists():
        _unavailable(f"the JS SDK harness is not built: {BUNDLE} is missing")
    if not chromium_available():
        _unavailable("Debian's chromium is not installed")
    return BUNDLE


@pytest.fixture(scope="module")
def server(bundle: Path, netns: NetNamespace) -> Iterator[ServeProcess]:
    """`decart serve` in the namespace: a key, one session at a time (so a second client queues), the harness as its web root."""
    with serve("-v", "--api-key", KEY, "--max-sessions", "1", "--web-root", str(JS), prefix=tuple(netns.run())) as server:
        yield server
    log = server.output()
    assert "Traceback" not in log and " ERROR " not in log and KEY not in log, log[-4000:]


@pytest.fixture(scope="module")
def dev_server(bundle: Path, netns: NetNamespace) -> Iterator[str]:
    """The harness from another port (Python's http.server), as a web developer's dev server: its origin."""
    proc = subprocess.Popen(
        netns.run(sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(JS)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=child_env(),
    )
    try:
        assert proc.stdout is not None
        match = re.search(r"port (\d+)", proc.stdout.readline())
        assert match, "http.server did not start"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def browser(bundle: Path, netns: NetNamespace) -> Iterator[Chromium]:
    with Chromium.launch(prefix=netns.run()) as chromium:
        yield chromium


def open_page(browser: Chromium, origin: str) -> Page:
    page = browser.new_page(f"{origin}/harness.html")
    page.wait_for("window.harness && window.harness.ready", timeout=20)
    return page


@pytest.fixture(params=["same-origin", "cross-origin"])
def page(request: pytest.FixtureRequest, browser: Chromium, server: ServeProcess, dev_server: str) -> Iterator[Page]:
    """The harness page, served by decart serve itself or by the dev server on another port."""
    tab = open_page(browser, f"http://127.0.0.1:{server.port}" if request.param == "same-origin" else dev_server)
    yield tab
    tab.close()


@pytest.fixture
def dev_page(browser: Chromium, dev_server: str) -> Iterator[Page]:
    """The harness page from the dev server (cross-origin: the harder case)."""
    tab = open_page(browser, dev_server)
    yield tab
    tab.close()


def close_to(got: list[float] | None, want: tuple[float, float, float], tolerance: float = 30) -> bool:
    return got is not None and max(abs(g - w) for g, w in zip(got, want)) <= tolerance


def grey(rgb: list[float] | None) -> bool:
    return rgb is not None and max(rgb) - min(rgb) < 10


class Harness:
    """Calls into window.harness, with the server's output in every failure message."""

    def __init__(self, page: Page, server: ServeProcess) -> None:
        self.page = page
        self.server = server
        self.where = {"apiKey": KEY, "server": f"127.0.0.1:{server.port}"}

    def call(self, method: str, *args: object, timeout: float = 60) -> object:
        return self.page.eval(f"harness.{method}({', '.join(json.dumps(a) for a in args)})", timeout=timeout)

    def start(self, method: str, *args: object) -> None:
        """Call without waiting for the promise (the call goes on in the page)."""
        self.page.eval(f"(harness.{method}({', '.join(json.dumps(a) for a in args)}), true)")

    def connect(self, name: str, **opts: object) -> dict:
        return self.call("connect", name, {**self.where, "source": "canvas", **opts})  # type: ignore[return-value]

    def stats(self, name: str) -> dict:
        return self.call("stats", name)  # type: ignore[return-value]

    def until(self, name: str, what: str, check, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def]
        """Poll ``stats(name)`` until ``check(stats)``; fail saying ``what`` and showing all there is to see."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats(name)
            if check(stats):
                return stats
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not seen in {timeout:g} s\n{self.context(stats)}")
            time.sleep(0.2)

    def frames_after(self, name: str, what: str, check, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def]
        """Like :meth:`until`, on samples newer than now (edits already applied to older frames do not count)."""
        start = self.stats(name)["frames"]
        return self.until(name, what, lambda s: s["last"] is not None and s["last"]["frame"] > start + 2 and check(s["last"]), timeout)

    def context(self, stats: object = None) -> str:
        return (f"stats: {json.dumps(stats)[:3000]}\nconsole:\n{self.page.console_text(40)}\n"
                f"server:\n{self.server.output()[-4000:]}")


def test_js_sdk_session_end_to_end(page: Page, server: ServeProcess) -> None:
    """connect with a prompt, edited frames at the model's size, setPrompt, set({prompt, image}), setImage(null), states, ticks, subscribe, disconnect."""
    h = Harness(page, server)
    assert h.call("makeImage", "green", 320, 180, [0, 200, 0]) > 0
    t0 = time.monotonic()
    session = h.connect("a", model=LUCY_26, prompt="invert the colors")
    assert session["ok"] and session["error"] is None, h.context(session)
    assert session["state"] in ("connected", "generating"), h.context(session)
    # The initial prompt is in the first frames; the edited video comes at the model's size.
    stats = h.until("a", "edited frames", lambda s: s["frames"] >= 20 and s["last"] is not None)
    first_frame_s = stats["firstFrameAt"]
    assert stats["sizes"] == [[1280, 720]], h.context(stats)
    assert close_to(stats["first"][0]["left"], INVERTED_RED) and close_to(stats["first"][0]["right"], INVERTED_BLUE), h.context(stats)
    assert close_to(stats["last"]["left"], INVERTED_RED) and close_to(stats["last"]["right"], INVERTED_BLUE), h.context(stats)
    print(f"JS SDK ({page.call('Runtime.evaluate', expression='location.origin', returnByValue=True)['result']['value']}): "
          f"connect {session['seconds']:.2f} s, first edited frame {first_frame_s:.2f} s after connect() began")

    assert h.call("setPrompt", "a", "black and white") == "ok"
    h.frames_after("a", "grey frames after setPrompt", lambda last: grey(last["left"]) and grey(last["right"]))

    # set({prompt, image}): both at once; the image shows picture-in-picture in the top-right corner.
    assert h.call("set", "a", {"prompt": "invert the colors", "image": {"blob": "green"}}) == "ok"
    h.frames_after("a", "inverted frames with the image in the corner",
                   lambda last: close_to(last["left"], INVERTED_RED) and close_to(last["corner"], (0, 200, 0), 40))
    assert h.call("setImage", "a", None) == "ok"
    h.frames_after("a", "the corner without the image", lambda last: close_to(last["corner"], INVERTED_BLUE, 40))

    # The SDK's own viewer: subscribeToken -> realtime.subscribe (POST /watch-stream, then the room, receive-only).
    token = h.stats("a")["subscribeToken"]
    assert token, h.context()
    viewer = h.call("subscribe", "v", {**h.where, "token": token})
    assert viewer["ok"], h.context(viewer)
    watched = h.until("v", "the viewer's frames", lambda s: s["frames"] >= 10 and s["last"] is not None)
    assert watched["sizes"] == [[1280, 720]] and close_to(watched["last"]["left"], INVERTED_RED), h.context(watched)
    h.call("unsubscribe", "v")

    stats = h.stats("a")
    assert stats["states"][:1] == ["connecting"] and "generating" in stats["states"] + stats["events"], h.context(stats)
    ticks = h.until("a", "generationTick every second", lambda s: len(s["ticks"]) >= 2)["ticks"]
    assert ticks == sorted(ticks) and ticks[0] >= 1, h.context(ticks)
    assert time.monotonic() - t0 < 60

    assert h.call("disconnect", "a") == "disconnected"
    session_id = stats["sessionId"]
    deadline = time.monotonic() + 5
    while f"session {session_id}: closed" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"session {session_id}: closed" in server.output(), h.context()
    # The slot is free at once: the next session starts without queueing.
    again = h.connect("b", model=LUCY_26, prompt="invert the colors")
    assert again["ok"] and not h.stats("b")["queue"], h.context(again)
    h.call("disconnect", "b")


def test_js_sdk_initial_image(dev_page: Page, server: ServeProcess) -> None:
    """connect with an initial image (no prompt), a custom model definition: the first frames show it, at 1280x720."""
    h = Harness(dev_page, server)
    h.call("makeImage", "green", 320, 180, [0, 200, 0])
    session = h.connect("img", model=LUCY_26, image={"blob": "green"})
    try:
        assert session["ok"], h.context(session)
        stats = h.until("img", "frames with the image", lambda s: s["frames"] >= 10 and s["last"] is not None)
        assert stats["sizes"] == [[1280, 720]], h.context(stats)
        assert close_to(stats["first"][0]["corner"], (0, 200, 0), 40), h.context(stats)
        assert close_to(stats["last"]["left"], (200, 0, 0)), h.context(stats)  # no prompt: the camera as it is
    finally:
        h.call("disconnect", "img")


def test_js_sdk_model_sizes_where_the_sdks_disagree(dev_page: Page, server: ServeProcess) -> None:
    """lucy-latest: the JS SDK sends its camera at 1088x624 (the Python SDK at 1280x720); the edit comes back at the server's 1280x720."""
    h = Harness(dev_page, server)
    session = h.connect("latest", model="lucy-latest", prompt="invert the colors")
    try:
        assert session["ok"], h.context(session)
        stats = h.until("latest", "edited frames", lambda s: s["frames"] >= 10 and s["last"] is not None)
        assert stats["sizes"] == [[1280, 720]] and close_to(stats["last"]["left"], INVERTED_RED), h.context(stats)
    finally:
        h.call("disconnect", "latest")
    assert "(last 1088x624)" in server.output() or "1088x624" in server.output(), server.output()[-3000:]


def test_js_sdk_without_compression_joins_then_offers(dev_page: Page, server: ServeProcess) -> None:
    """A browser without CompressionStream (as Firefox): livekit-client joins with no offer and sends it next; the session works."""
    h = Harness(dev_page, server)
    dev_page.eval("delete window.CompressionStream; typeof CompressionStream")
    session = h.connect("plain", model=LUCY_26, prompt="invert the colors")
    try:
        assert session["ok"], h.context(session)
        stats = h.until("plain", "edited frames", lambda s: s["frames"] >= 10 and s["last"] is not None)
        assert close_to(stats["last"]["left"], INVERTED_RED), h.context(stats)
    finally:
        h.call("disconnect", "plain")
    assert "joins without an offer" in server.output(), server.output()[-3000:]


def test_js_sdk_queues_while_the_server_is_full(dev_page: Page, server: ServeProcess) -> None:
    """With the one slot taken, a second connect reports queuePosition and starts when the first disconnects."""
    h = Harness(dev_page, server)
    first = h.connect("q1", model="lucy-restyle-2", prompt="invert the colors")
    assert first["ok"], h.context(first)
    h.start("connect", "q2", {**h.where, "source": "canvas", "model": "lucy-restyle-2", "prompt": "black and white"})
    waiting = h.until("q2", "a queue position", lambda s: s["queue"])
    assert waiting["queue"][0]["position"] >= 1 and not waiting["ok"], h.context(waiting)
    h.call("disconnect", "q1")
    started = h.until("q2", "the queued session starting", lambda s: s["ok"] and s["frames"] >= 5 and s["last"] is not None, timeout=20)
    assert grey(started["last"]["left"]), h.context(started)
    h.call("disconnect", "q2")


def test_js_sdk_gives_up_at_once_on_a_wrong_key(dev_page: Page, server: ServeProcess) -> None:
    """A wrong key: the SDK stops after one attempt (its permanent-error words) with a message a developer understands."""
    h = Harness(dev_page, server)
    before = h.call("sockets")
    started = time.monotonic()
    result = h.call("connect", "bad", {**h.where, "apiKey": "not-the-key", "source": "canvas", "model": "lucy-restyle-2", "prompt": "x"})
    assert not result["ok"] and "invalid api key" in result["error"].lower(), h.context(result)
    assert time.monotonic() - started < 5 and h.call("sockets") == before + 1, h.context(result)
    assert "not-the-key" not in server.output()


def test_js_sdk_legacy_model_is_a_permanent_error(dev_page: Page, server: ServeProcess) -> None:
    """A legacy model name through this SDK: refused once ("not allowed"), naming today's models."""
    h = Harness(dev_page, server)
    before = h.call("sockets")
    result = h.call("connect", "legacy", {**h.where, "source": "canvas", "model": LEGACY})
    assert not result["ok"], h.context(result)
    assert "not allowed" in result["error"] and "lucy-2.6" in result["error"], h.context(result)
    assert h.call("sockets") == before + 1, h.context(result)


def test_js_sdk_client_token_and_files(dev_page: Page, server: ServeProcess) -> None:
    """tokens.create gives a short-lived key that connects (its allowedModels enforced); files.upload stores a file (REST, cross-origin)."""
    h = Harness(dev_page, server)
    made = h.call("createToken", h.where, {"expiresIn": 120, "allowedModels": ["lucy-restyle-2"]})
    assert made["ok"], h.context(made)
    token = made["token"]
    assert token["apiKey"].startswith("ek_") and token["expiresAt"], h.context(made)
    as_page = {**h.where, "apiKey": token["apiKey"]}
    session = h.call("connect", "tok", {**as_page, "source": "canvas", "model": "lucy-restyle-2", "prompt": "invert the colors"})
    assert session["ok"], h.context(session)
    h.until("tok", "frames with a client token", lambda s: s["frames"] >= 5)
    h.call("disconnect", "tok")
    other = h.call("connect", "tok2", {**as_page, "source": "canvas", "model": LUCY_26})
    assert not other["ok"] and "not allowed" in other["error"], h.context(other)
    refused = h.call("createToken", as_page, {})
    assert not refused["ok"] and "403" in refused["error"], h.context(refused)
    assert token["apiKey"] not in server.output()

    h.call("makeImage", "upload", 64, 64, [0, 0, 255])
    uploaded = h.call("upload", h.where, "upload")
    assert uploaded["ok"], h.context(uploaded)
    assert uploaded["file"]["id"] and uploaded["file"]["size_bytes"] > 0, h.context(uploaded)
