"""Decart's official JS SDK in headless Chromium against `decart serve`: connect → first edited frame.

Needs `make js-harness` (the SDK bundled into tests/js) and Debian's
chromium; run as root (see `make bench-compare`)::

    .venv/bin/python tools/js_sdk_bench.py --runs 5 --json js.json

Like tools/sdk2_bench.py it first re-runs itself inside a private network
namespace (lo plus a veth pair: nothing can leave it). There it starts
`decart serve --web-root tests/js`, opens the harness page from it in
Chromium (driven over the DevTools pipe, tests/interop/cdp.py), and
connects `client.realtime.connect` (`@decartai/sdk` 0.1.20) ``--runs``
times, one after another, with model lucy-2.6 (a custom definition,
1280x720 at 30 fps), an initial prompt and a 1280x720 canvas camera. Each
run reports the seconds from calling ``connect`` until it resolved and
until the page presented its first edited frame (``requestVideoFrameCallback``).
The first run includes the browser's own warm-up (codecs, the page's JIT).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "tests" / "interop")]

import benchkit  # noqa: E402

MODEL = {"name": "lucy-2.6", "urlPath": "/v1/stream", "fps": 30, "width": 1280, "height": 720}


def run(args: argparse.Namespace) -> dict:
    from cdp import Chromium

    server, url, lines = benchkit.start_child(
        [args.server_python, "-m", "decart_cli", "serve", "--host", "127.0.0.1", "--port", "0", "--web-root", str(REPO / "tests" / "js")], "decart serve"
    )
    port = url.rsplit(":", 1)[1]
    runs: list[dict] = []
    try:
        with Chromium.launch() as browser:
            page = browser.new_page(f"http://127.0.0.1:{port}/harness.html")
            page.wait_for("window.harness && window.harness.ready", timeout=20)
            where = {"apiKey": "bench", "server": f"127.0.0.1:{port}", "source": "canvas", "model": MODEL, "prompt": "invert the colors"}
            for number in range(args.runs):
                name = f"run{number}"
                result = page.eval(f"harness.connect({json.dumps(name)}, {json.dumps(where)})", timeout=60)
                if not result["ok"]:
                    raise SystemExit(f"connect failed: {result['error']}")
                deadline = time.monotonic() + 30
                stats = page.eval(f"harness.stats({json.dumps(name)})")
                while stats["firstFrameAt"] is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                    stats = page.eval(f"harness.stats({json.dumps(name)})")
                time.sleep(args.hold)
                stats = page.eval(f"harness.stats({json.dumps(name)})")
                page.eval(f"harness.disconnect({json.dumps(name)})")
                runs.append({"connect_seconds": result["seconds"], "connect_to_first_frame": stats["firstFrameAt"], "frames": stats["frames"], "sizes": stats["sizes"]})
                time.sleep(0.5)
            version = browser.call("Browser.getVersion")["product"]
    finally:
        benchkit.stop_server(server, lines)
    firsts = [r["connect_to_first_frame"] for r in runs if r["connect_to_first_frame"] is not None]
    warm = firsts[1:] or firsts
    return {
        "client": f"@decartai/sdk 0.1.20 (official JS SDK, livekit-client inside) in {version}",
        "model": "lucy-2.6 1280x720@30 (custom model definition)",
        "runs": runs,
        "connect_to_first_frame": {
            "first_run": firsts[0] if firsts else None,
            "median_after_first": round(statistics.median(warm), 3) if warm else None,
            "min": min(firsts) if firsts else None,
            "max": max(firsts) if firsts else None,
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server-python", default=str(REPO / ".venv" / "bin" / "python"), help="python of the venv where decart_cli is installed")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hold", type=float, default=1.0, help="seconds each session runs after its first frame")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-netns", action="store_true", help="run here, not in a private network namespace")
    args = ap.parse_args()
    if not (REPO / "tests" / "js" / "dist" / "harness.js").exists():
        raise SystemExit("the JS SDK harness is not built: run `make js-harness`")
    if not args.no_netns and not os.environ.get("DECART_IN_NETNS"):
        return subprocess.call([str(REPO / "tools" / "in-netns"), sys.executable, *sys.argv])
    benchkit.report(run(args), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
