"""What the terminal shows: the status line, typed prompts at a real TTY (tmux), the summary."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np

from conftest import REPO, bar_means, decart_cmd, decode, require, wait_for
from decart_cli.media.sources import TestPattern
from decart_cli.ui import SessionStats, render_status, render_summary


def test_status_line_shows_state_rates_and_prompt() -> None:
    """The status line is a pure function of the stats: state, fps in/out, counters, prompt."""
    stats = SessionStats(state="generating", prompt="tint it red", frames_sent=10, frames_received=9, fps_in=25.0, fps_out=24.5)
    line = render_status(stats).plain
    for part in ("generating", "in 25.0 fps", "out 24.5 fps", "sent 10", "received 9", "prompt: tint it red"):
        assert part in line
    assert " rec " not in line
    assert "(no edit)" in render_status(SessionStats()).plain


def test_summary_names_the_recording() -> None:
    """The end-of-session summary counts frames and names the output file."""
    stats = SessionStats(frames_sent=250, frames_received=248, frames_recorded=248, output=Path("/tmp/x.mp4"))
    summary = render_summary(stats)
    assert summary.startswith("done: sent 250 frames, received 248")
    assert "recorded 248 frames to /tmp/x.mp4" in summary


def test_status_line_shows_the_reconnect_attempt() -> None:
    """While reconnecting, the status line says so with the attempt and the maximum."""
    line = render_status(SessionStats(state="reconnecting", reconnect_attempt=2, reconnect_attempts=5)).plain
    assert "reconnecting 2/5" in line


def test_summary_counts_held_frames_and_reconnects() -> None:
    """After a reconnect the summary says how many recorded frames were held and how many times it reconnected."""
    stats = SessionStats(frames_recorded=300, frames_held=40, reconnects=2, output=Path("/tmp/x.mp4"))
    summary = render_summary(stats)
    assert "recorded 300 frames (40 held while reconnecting) to /tmp/x.mp4" in summary
    assert summary.endswith("reconnected 2 times")


def test_status_and_summary_name_the_transport_queue_and_billing() -> None:
    """The status line names the transport, shows `queued 3/12` while waiting and the billed seconds; the summary gives both."""
    waiting = render_status(SessionStats(state="connecting", transport="livekit", queue=(3, 12))).plain
    assert "queued 3/12" in waiting and "livekit" in waiting
    running = render_status(SessionStats(state="generating", transport="livekit", billed_seconds=7)).plain
    assert "billed 7s" in running and "queued" not in running
    summary = render_summary(SessionStats(transport="livekit", billed_seconds=9))
    assert "over livekit (9 billed seconds)" in summary
    assert "over webrtc" in render_summary(SessionStats()) and "billed" not in render_summary(SessionStats())


def test_prompt_typed_at_a_tty(server, tmp_path: Path) -> None:
    """At a real terminal (tmux) the status line shows, a typed prompt is acknowledged, and the recording shows it."""
    require("tmux")
    out = tmp_path / "tty.mp4"
    done = tmp_path / "done"
    command = " ".join(shlex.quote(a) for a in decart_cmd("edit", "-i", "test", "--no-show", "-o", str(out), "--duration", "6", "--url", server.url))
    session = f"decart-test-{time.monotonic_ns()}"
    tmux = shutil.which("tmux")
    assert tmux
    subprocess.run(
        [tmux, "new-session", "-d", "-s", session, "-x", "220", "-y", "30", f"cd {shlex.quote(str(REPO))} && {command}; touch {shlex.quote(str(done))}; sleep 30"],
        check=True,
    )

    def screen() -> str:
        return subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    try:
        assert wait_for(lambda: "generating" in screen(), 30), screen()
        assert "fps" in screen()
        subprocess.run([tmux, "send-keys", "-t", session, "invert the colors", "Enter"], check=True)
        assert wait_for(lambda: "prompt: invert the colors" in screen(), 15), screen()
        assert wait_for(done.exists, 30), screen()
        final = screen()
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    assert "done: sent" in final and "Traceback" not in final
    source = bar_means(TestPattern(1280, 704).render(0))
    assert np.abs(bar_means(decode(out).frames[-5]) - (255 - source)).max() < 40


def test_status_line_shows_live_latency_and_bitrate() -> None:
    """With --stats figures, the status line shows latency p50/p95 and bitrate both ways."""
    stats = SessionStats(state="generating", latency_ms=(14.6, 21.2), bitrate_kbps=(4300.0, 4500.0))
    line = render_status(stats).plain
    assert "latency 15/21 ms" in line and "up 4.3 down 4.5 Mbit/s" in line


def test_stats_at_a_tty_shows_measured_latency(server, tmp_path: Path) -> None:
    """`decart edit --stats` at a terminal shows measured latency; its frames carry readable frame ids."""
    from decart_cli.bench import marker

    require("tmux")
    out = tmp_path / "stats.mp4"
    done = tmp_path / "done"
    command = " ".join(shlex.quote(a) for a in decart_cmd("edit", "-i", "test", "--stats", "--no-show", "-o", str(out), "--duration", "4", "--url", server.url))
    session = f"decart-stats-{time.monotonic_ns()}"
    tmux = shutil.which("tmux")
    assert tmux
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "220", "-y", "20", f"cd {shlex.quote(str(REPO))} && {command}; touch {shlex.quote(str(done))}; sleep 30"], check=True)

    def screen() -> str:
        return subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    try:
        assert wait_for(lambda: "latency" in screen() and "Mbit/s" in screen(), 30), screen()
        assert wait_for(done.exists, 30), screen()
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    ids = [marker.read(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)) for f in decode(out).frames[10:20]]
    assert all(i is not None for i in ids) and ids == sorted(ids)
