"""Run tests/interop/browser.html in headless Chromium against a realtime server.

    .venv/bin/python tests/interop/browser_run.py --port WS_PORT --out result.json

Serves the page from a tiny HTTP server on 127.0.0.1 (an http://127.0.0.1
origin is a secure context, so getUserMedia works), opens it in headless
Chromium with a fake camera, and waits for the page to POST its
``window.result`` back to ``/result``. Writes that JSON (plus a ``runner``
section: timings, Chromium's version and the tail of its stderr) to --out.

Exit status 0 when the page reached state "done", 1 otherwise. Needs only the
standard library and Debian's ``chromium`` package.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = HERE / "browser.html"
DEFAULT_CHROMIUM = os.environ.get("DECART_CHROMIUM", "/usr/bin/chromium")


def chromium_flags(user_data_dir: str) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",  # we run as root
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-dev-shm-usage",
        f"--user-data-dir={user_data_dir}",
        # Nothing but loopback may be reached: make every other name fail to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
        # WebRTC on loopback: gather 127.0.0.1 candidates, and show real
        # addresses rather than mDNS .local names.
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        # A fake camera (Chromium's animated test pattern), permission granted.
        "--use-fake-device-for-media-stream=fps=25",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
    ]


class _Results:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.payload: dict | None = None
        self.requests: list[str] = []


def make_http_server(results: _Results) -> http.server.ThreadingHTTPServer:
    page = PAGE.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args) -> None:  # keep stderr quiet
            results.requests.append(fmt % args)

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path in ("/", "/browser.html"):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            if urllib.parse.urlsplit(self.path).path != "/result":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {"state": "failed", "errors": ["unparsable result: %r" % body[:200]]}
            self.send_response(204)
            self.end_headers()
            if results.payload is None:
                results.payload = payload
                results.event.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def chromium_version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def stop_process_group(proc: subprocess.Popen) -> int | None:
    """End Chromium (started in its own session) and all of its helper processes."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:  # helpers may outlive the main process
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    return proc.returncode


def run(args: argparse.Namespace) -> dict:
    t0 = time.monotonic()
    results = _Results()
    server = make_http_server(results)
    http_port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="page-server", daemon=True).start()

    query = urllib.parse.urlencode(
        {
            "port": args.port,
            "host": args.host,
            "prompt": args.prompt,
            "model": args.model,
            "seconds": args.seconds,
            "timeout": args.page_timeout,
            "loopback": "1" if args.loopback_only else "0",
        }
    )
    page_url = f"http://127.0.0.1:{http_port}/browser.html?{query}"
    profile = tempfile.mkdtemp(prefix="decart-interop-chromium-")
    stderr_path = Path(profile) / "chromium-stderr.txt"
    runner: dict = {"page_url": page_url, "chromium": args.chromium,
                    "chromium_version": chromium_version(args.chromium)}
    proc = None
    try:
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [args.chromium, *chromium_flags(profile), page_url],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
            )
            runner["launched_after"] = round(time.monotonic() - t0, 3)
            deadline = time.monotonic() + args.page_timeout + 20
            while time.monotonic() < deadline and not results.event.is_set():
                if proc.poll() is not None:
                    break
                results.event.wait(0.2)
        runner["chromium_exited_early"] = proc.poll() is not None and not results.event.is_set()
    finally:
        if proc is not None:
            runner["chromium_returncode"] = stop_process_group(proc)
        server.shutdown()
        server.server_close()
        try:
            runner["chromium_stderr_tail"] = stderr_path.read_text(errors="replace").splitlines()[-30:]
        except OSError:
            runner["chromium_stderr_tail"] = []
        if not args.keep_profile:
            shutil.rmtree(profile, ignore_errors=True)
        else:
            runner["profile"] = profile

    result = results.payload or {
        "state": "failed",
        "errors": ["the page reported nothing (see runner.chromium_stderr_tail)"],
    }
    runner["http_requests"] = results.requests
    runner["total_seconds"] = round(time.monotonic() - t0, 3)
    result["runner"] = runner
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="the realtime server's WebSocket port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--prompt", default="invert the colors")
    ap.add_argument("--model", default="lucy_v2v_720p_rt")
    ap.add_argument("--seconds", type=float, default=4.0, help="how long to watch the edited video")
    ap.add_argument("--page-timeout", type=float, default=45.0)
    ap.add_argument("--chromium", default=DEFAULT_CHROMIUM)
    ap.add_argument("--no-loopback-only", dest="loopback_only", action="store_false",
                    help="also trickle non-loopback candidates")
    ap.add_argument("--keep-profile", action="store_true", help="keep the Chromium profile dir")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    result = run(args)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    return 0 if result.get("state") == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
