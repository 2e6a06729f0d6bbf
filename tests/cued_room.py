"""Our client in a LiveKit room that changes on cue; run in a network namespace by tests/test_livekit_follow.py.

    python tests/cued_room.py republish|late|comeback REPORT.json

Starts an in-process `decart serve` (:class:`~decart_cli.server.Server`) and
an in-process `decart edit --transport livekit` session
(:class:`~decart_cli.client.session.EditSession`, the test pattern as input) against
it, then, on cue, through the server's room (:class:`~decart_cli.server.room.Room`):

* ``republish``: once edited frames flow, the inference participant
  publishes a new edited track in place of the first;
* ``late``: rooms open without the inference participant
  (``RoomHub.inference_at_open``); once the client is in the room and has
  waited a while, the participant joins and publishes;
* ``comeback``: once edited frames flow, the inference participant leaves
  the room; a while later it joins again and publishes.

The cue is the moment of that (last) publish. Writes a JSON report: when
each edited frame arrived (seconds after the cue) and which room track the
client was reading then, the room's tracks, the links and reconnects, and
the tasks left once the session ended. The server and client log to stderr.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from decart_cli.config import EditConfig, ServeConfig, SourceConfig  # noqa: E402
from decart_cli.models import get_model  # noqa: E402
from decart_cli.server import Server  # noqa: E402
from decart_cli.client.session import EditSession  # noqa: E402
from decart_cli.ui.reporter import ConsoleReporter  # noqa: E402

MODEL = "lucy-2.6"
AWAY = 1.5
"""Seconds the client is in the room without the inference participant (``late``, ``comeback``)."""
AFTER_CUE = 4.0
"""Seconds the session runs after the cue."""


class Probe:
    """Notes every edited frame: when it arrived and which room track the client was reading."""

    def __init__(self) -> None:
        self.links: list[Any] = []
        self.frames: list[tuple[float, str | None]] = []

    def wrap_source(self, track: Any) -> Any:
        return track

    def on_connected(self, link: Any) -> None:
        self.links.append(link)

    def on_message(self, message: Any) -> None:
        pass

    def on_frame(self, frame: Any) -> None:
        self.frames.append((time.monotonic(), self.links[-1].remote.track_sid if self.links else None))


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def main(scenario: str) -> dict[str, Any]:
    server = Server(ServeConfig(host="127.0.0.1", port=0))
    await server.start()
    if scenario == "late":
        server.rooms.inference_at_open = False
    console = Console(file=io.StringIO(), width=200)
    model = get_model(MODEL)
    config = EditConfig(
        source=SourceConfig(spec="test", width=model.width, height=model.height, fps=model.fps),
        model=MODEL, url=server.url, prompt="invert the colors", transport="livekit", read_stdin=False, connect_timeout=30.0,
    )
    probe = Probe()
    session = EditSession(config, model, ConsoleReporter(console, live=False), probe=probe)
    run = asyncio.ensure_future(session.run())
    report: dict[str, Any] = {"scenario": scenario}
    try:
        await until(lambda: len(server.rooms.rooms) == 1 or run.done(), 30, "no room opened")
        (room,) = server.rooms.rooms.values()
        report["first_track"] = room.publisher.track_sid if room.publisher is not None else None
        if scenario == "late":
            await until(lambda: room.joined.is_set() or run.done(), 30, "the client never joined the room")
            await asyncio.sleep(AWAY)
        else:
            await until(lambda: len(probe.frames) >= 30 or run.done(), 30, "no edited frames before the cue")
        if scenario == "comeback":
            await room.unpublish()
            await asyncio.sleep(AWAY)
        report["frames_before_cue"] = len(probe.frames)
        cue = time.monotonic()
        await room.publish()
        report["track"] = room.publisher.track_sid
        await until(lambda: time.monotonic() - cue > AFTER_CUE or run.done(), AFTER_CUE + 5, "")
        session.request_stop("the test is over")
        await asyncio.wait_for(run, 30)
    finally:
        if not run.done():
            run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await server.stop()
    report["error"] = repr(run.exception()) if run.exception() else None
    report["frames"] = [(round(at - cue, 4), sid) for at, sid in probe.frames]
    report["links"] = len(probe.links)
    report["followed"] = probe.links[-1].remote.followed if probe.links else 0
    report["reconnects"] = session.stats.reconnects
    report["tasks_left"] = sorted(task.get_name() for task in asyncio.all_tasks() if task is not asyncio.current_task())
    report["client_log"] = console.file.getvalue()[-3000:]
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)6.0f %(name)s: %(message)s")
    logging.getLogger("decart_cli.client").setLevel(logging.DEBUG)
    scenario, out = sys.argv[1], Path(sys.argv[2])
    out.write_text(json.dumps(asyncio.run(main(scenario))))
