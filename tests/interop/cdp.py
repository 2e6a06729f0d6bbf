"""A Chrome DevTools Protocol driver over ``--remote-debugging-pipe``, for headless Chromium in tests.

Chromium reads commands from its fd 3 and writes responses and events to its
fd 4: JSON messages, each ended by a NUL byte. Pipes, unlike a DevTools TCP
port, pass through ``nsenter`` (and any other prefix command that execs), so
Chromium can run inside a test's network namespace while pytest stays
outside::

    with Chromium.launch(prefix=netns.run()) as browser:
        page = browser.new_page("http://127.0.0.1:8765/harness.html")
        page.wait_for("window.harness && window.harness.ready")
        page.eval("harness.connect('a', {...})")   # awaits the promise, returns its value
        print(page.console_text())                  # console messages and exceptions so far

One :class:`Chromium` is one browser (its own fresh ``--user-data-dir``); each
:class:`Page` is a tab attached in flat mode (``Target.attachToTarget`` with
``flatten``: its commands carry a ``sessionId``). A reader thread takes every
message off the pipe; answers wake their caller, events are kept per tab.
Standard library only.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_run import chromium_flags  # noqa: E402

DEFAULT_CHROMIUM = os.environ.get("DECART_CHROMIUM", "/usr/bin/chromium")
MAX_LINE = 600  # console lines are cut to this (LiveKit logs whole signalling URLs)

# Tabs that are not in front keep their timers and rendering at full rate
# (a page that draws its own camera at 30 fps must not be throttled to 1 Hz).
EXTRA_FLAGS = (
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--no-startup-window",
)


class CDPError(RuntimeError):
    """A DevTools command failed, timed out, or the browser went away."""


def _high_fd(fd: int) -> int:
    """``fd`` moved to a number >= 10 (so the shell can place it at 3 or 4 without clobbering), the original closed."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium driven over its DevTools pipe."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int, profile: tempfile.TemporaryDirectory[str], stderr_path: Path) -> None:
        self.proc = proc
        self._out = to_browser
        self._in = from_browser
        self.profile = profile
        self.stderr_path = stderr_path
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._answers: dict[int, dict] = {}
        self._next_id = 0
        self._closed = False
        self.pages: dict[str, Page] = {}  # by DevTools session id
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()

    # -- launch and shutdown ----------------------------------------------------------

    @classmethod
    def launch(cls, *, prefix: Sequence[str] = (), binary: str = DEFAULT_CHROMIUM, extra_flags: Iterable[str] = (), timeout: float = 30.0) -> Chromium:
        """Start Chromium (``chromium_flags`` of tests/interop/browser_run.py, a fresh profile) under ``prefix``.

        ``prefix`` is a command that execs the rest, e.g. a network
        namespace's ``nsenter -t PID -n``. Chromium is the leader of a process
        group of its own, so :meth:`close` ends it with all of its helpers.
        """
        profile = tempfile.TemporaryDirectory(prefix="decart-cdp-chromium-")
        stderr_path = Path(profile.name) / "chromium-stderr.txt"
        cmd_read, cmd_write = os.pipe()  # we write commands, Chromium reads them on fd 3
        resp_read, resp_write = os.pipe()  # Chromium writes to fd 4, we read
        cmd_read, resp_write = _high_fd(cmd_read), _high_fd(resp_write)
        flags = [*chromium_flags(profile.name), "--remote-debugging-pipe", *EXTRA_FLAGS, *extra_flags]
        # bash (dash takes single-digit fds only) puts the pipe ends at 3 and 4, then becomes Chromium.
        script = f'exec "$@" 3<&{cmd_read} 4>&{resp_write} {cmd_read}<&- {resp_write}>&-'
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [*prefix, "/bin/bash", "-c", script, "bash", binary, *flags],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                pass_fds=(cmd_read, resp_write),
                start_new_session=True,
            )
        os.close(cmd_read)
        os.close(resp_write)
        browser = cls(proc, cmd_write, resp_read, profile, stderr_path)
        try:
            browser.call("Target.setDiscoverTargets", discover=True, timeout=timeout)
        except CDPError:
            browser.close()
            raise
        return browser

    def close(self) -> None:
        """Close the browser (Browser.close, then SIGTERM/SIGKILL to its process group) and remove its profile."""
        if not self._closed:
            try:
                self.call("Browser.close", timeout=5)
            except CDPError:
                pass
        self._closed = True
        proc = self.proc
        _wait(proc, 5)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            _wait(proc, 5)
        for fd in (self._out, self._in):
            try:
                os.close(fd)
            except OSError:
                pass
        self._reader.join(5)
        self.profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stderr_tail(self, lines: int = 30) -> str:
        """The last lines Chromium printed (its own logging, crashes)."""
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- the pipe ---------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                self._dispatch(message)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _dispatch(self, message: dict) -> None:
        if "id" in message:
            with self._cond:
                self._answers[message["id"]] = message
                self._cond.notify_all()
            return
        session = message.get("sessionId")
        page = self.pages.get(session) if session else None
        if page is not None:
            page._event(message["method"], message.get("params", {}))
        elif message.get("method") == "Target.detachedFromTarget":
            gone = self.pages.get(message.get("params", {}).get("sessionId", ""))
            if gone is not None:
                gone.detached = True

    def send(self, method: str, params: dict | None = None, *, session: str | None = None) -> int:
        """Send one command; its id (see :meth:`wait`)."""
        with self._cond:
            if self._closed:
                raise CDPError(f"{method}: the browser is gone\n{self.stderr_tail()}")
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        with self._write_lock:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._out, view) :]
            except OSError as exc:
                raise CDPError(f"{method}: cannot write to the browser ({exc})\n{self.stderr_tail()}") from exc
        return ident

    def wait(self, ident: int, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if self._closed:
                    raise CDPError(f"{method}: the browser went away\n{self.stderr_tail()}")
                if left <= 0:
                    raise CDPError(f"{method}: no answer in {timeout:g} s")
                self._cond.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def call(self, method: str, *, session: str | None = None, timeout: float = 30.0, **params: Any) -> dict:
        """Run one DevTools command (browser-wide, or in a tab's ``session``) and return its result."""
        return self.wait(self.send(method, params, session=session), method, timeout)

    # -- tabs -------------------------------------------------------------------------

    def new_page(self, url: str = "about:blank") -> Page:
        """A new tab, attached, with Runtime and Page events on, navigated to ``url``."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, target, session)
        self.pages[session] = page
        page.call("Runtime.enable")
        page.call("Page.enable")
        page.call("Log.enable")
        if url != "about:blank":
            page.goto(url)
        return page


class Page:
    """One tab: commands in its session, the page's console and exceptions collected as they come."""

    def __init__(self, browser: Chromium, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.console: list[str] = []
        self.detached = False
        self._loaded = threading.Event()

    def _event(self, method: str, params: dict) -> None:
        if method == "Page.loadEventFired":
            self._loaded.set()
        line = _console_line(method, params)
        if line is not None:
            self.console.append(line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…")

    def call(self, method: str, *, timeout: float = 30.0, **params: Any) -> dict:
        return self.browser.call(method, session=self.session, timeout=timeout, **params)

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Navigate and wait for the load event."""
        self._loaded.clear()
        answer = self.call("Page.navigate", url=url, timeout=timeout)
        if answer.get("errorText"):
            raise CDPError(f"cannot load {url}: {answer['errorText']}")
        if not self._loaded.wait(timeout):
            raise CDPError(f"{url} did not finish loading in {timeout:g} s\n{self.console_text()}")

    def eval(self, expression: str, *, timeout: float = 60.0) -> Any:
        """The value of ``expression`` in the page (a promise is awaited); raises with the page's console on an exception."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"{expression[:200]!r} threw: {text}\nconsole:\n{self.console_text()}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll ``expression`` until it is truthy (an exception counts as false); its value, or CDPError on timeout."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.eval(expression, timeout=max(1.0, deadline - time.monotonic()))
            except CDPError as exc:
                last = str(exc).splitlines()[0]
                if "went away" in last or "is gone" in last:
                    raise
            else:
                if last:
                    return last
            if time.monotonic() > deadline:
                raise CDPError(f"{expression[:200]!r} not true in {timeout:g} s (last: {last!r})\nconsole:\n{self.console_text()}")
            time.sleep(interval)

    def console_text(self, lines: int = 80) -> str:
        """The last ``lines`` console messages and exceptions, one a line."""
        return "\n".join(self.console[-lines:])

    def close(self) -> None:
        if self.detached or self.browser._closed:
            return
        try:
            self.browser.call("Target.closeTarget", targetId=self.target, timeout=10)
        except CDPError:
            pass
        self.browser.pages.pop(self.session, None)


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Wait up to ``seconds`` for ``proc`` to end (it may not)."""
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


def _console_line(method: str, params: dict) -> str | None:
    """A console message, uncaught exception or browser log entry as one line; None for other events."""
    if method == "Runtime.consoleAPICalled":
        return f"[{params.get('type')}] " + " ".join(_describe(arg) for arg in params.get("args", []))
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return "[exception] " + (details.get("exception", {}).get("description") or details.get("text", ""))
    if method == "Log.entryAdded":
        entry = params.get("entry", {})
        return f"[{entry.get('source')}:{entry.get('level')}] {entry.get('text')}"
    return None


def _describe(arg: dict) -> str:
    """A console argument as text: a primitive's value, an object's JSON preview or description."""
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    preview = arg.get("preview")
    if preview and preview.get("properties") is not None:
        props = ", ".join(f"{p['name']}: {p.get('value', p.get('type'))}" for p in preview["properties"])
        return "{" + props + ("…" if preview.get("overflow") else "") + "}"
    return arg.get("description") or arg.get("unserializableValue") or arg.get("type", "?")


def chromium_available(binary: str = DEFAULT_CHROMIUM) -> bool:
    return Path(binary).exists() or shutil.which(binary) is not None


__all__ = ["CDPError", "Chromium", "Page", "chromium_available", "DEFAULT_CHROMIUM"]

if __name__ == "__main__":  # a quick check: `python tests/interop/cdp.py` prints the browser's version
    with Chromium.launch() as b:
        print(json.dumps(b.call("Browser.getVersion"), indent=1))
