"""Today's protocol: our client follows the newest edited track of the room, whenever the inference participant publishes it.

Each test runs tests/cued_room.py in the test's network namespace (`netns`
fixture; LiveKit's client gathers no loopback candidates): an in-process
`decart serve` and an in-process `decart edit --transport livekit` session,
with the server's room publishing on cue. Times are seconds after the cue
(the inference participant's last publish).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, NetNamespace, child_env
from cued_room import AWAY

SCRIPT = REPO / "tests" / "cued_room.py"


def cued(netns: NetNamespace, scenario: str, tmp_path: Path) -> tuple[dict, list[tuple[float, str | None]], str]:
    """Run ``scenario``: the report, the edited frames (arrival, track read), and context for assertion messages."""
    out = tmp_path / f"{scenario}.json"
    proc = subprocess.run(netns.run(sys.executable, str(SCRIPT), scenario, str(out)), cwd=REPO, env=child_env(), capture_output=True, text=True, errors="replace", timeout=120)
    if not out.exists():
        pytest.fail(f"{scenario}: no report (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    report = json.loads(out.read_text())
    frames = [(at, sid) for at, sid in report.pop("frames")]
    context = f"report: {json.dumps(report)[:3000]}\nlog:\n{proc.stderr[-4000:]}"
    assert report["error"] is None and report["links"] == 1 and report["reconnects"] == 0, context
    assert not [name for name in report["tasks_left"] if name.startswith("decart-")], context
    return report, frames, context


def longest_gap(times: list[float]) -> float:
    return max(b - a for a, b in zip(times, times[1:]))


def test_a_republished_edited_track_is_followed_without_a_reconnect(netns, tmp_path):
    """The inference participant publishes a new edited track mid-session: frames keep coming, from the new track, gap under 2 s, same link."""
    report, frames, context = cued(netns, "republish", tmp_path)
    new = report["track"]
    assert new != report["first_track"] and report["followed"] == 2, context
    switch = next(i for i, (_, sid) in enumerate(frames) if sid == new)
    gap = frames[switch][0] - frames[switch - 1][0]
    assert gap < 2.0, (gap, context)
    after = frames[switch:]
    assert all(sid == new for _, sid in after) and len(after) >= 30, context
    assert longest_gap([at for at, _ in frames[switch - 1 :]]) < 2.0, context
    print(f"gap at the switch: {gap:.3f} s; {len(after)} frames from the new track")


def test_an_inference_participant_joining_after_the_client_is_followed(netns, tmp_path):
    """The room opens without the inference participant; it joins after the client: the first edited frame still arrives, on the same link."""
    report, frames, context = cued(netns, "late", tmp_path)
    assert report["first_track"] is None and report["frames_before_cue"] == 0 and report["followed"] == 1, context
    assert frames and frames[0][0] < 5.0 and all(sid == report["track"] for _, sid in frames), context
    assert len(frames) >= 30, context
    print(f"first edited frame {frames[0][0]:.3f} s after the participant published")


def test_an_inference_participant_that_leaves_and_comes_back_is_waited_for(netns, tmp_path):
    """The inference participant leaves (its track unpublished) and later publishes again: the client waits, then follows the new track; no reconnect."""
    report, frames, context = cued(netns, "comeback", tmp_path)
    assert report["followed"] == 2, context
    assert frames[0][0] < -AWAY and not [at for at, _ in frames if -0.5 < at < 0], context  # frames before it left, none at the end of its absence
    back = [(at, sid) for at, sid in frames if at > 0]
    assert back and back[0][0] < 5.0 and all(sid == report["track"] for _, sid in back) and len(back) >= 30, context
