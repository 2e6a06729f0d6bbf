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
from decart_cli.ui.reporter import SessionStats, render_status, render_summary


def test_status_line_shows_state_rates_and_prompt() -> None:
    """The status line is a pure function of the stats: state, fps in/out, counters, prompt."""
    stats = SessionStats(state="generating", prompt="tint it red", frames_sent=10, frames_received=9, fps_in=25.0, fps_out=24.5)
    line = render_status(stats).plain
    for part in ("generating", "in 25.0 fps", "out 24.5 fps", "sent 10", "received 9", "prompt: tint it red"):
        assert part in line
    assert " rec " not in line
    assert "(no edit)" in render_status(SessionStats()).plain


def test_status_line_fits_the_terminal_dropping_the_least_useful_figures_first() -> None:
    """At 80 columns (and 60, 120) the line fits; counts, bitrate and transport go first; state, output fps, latency and the prompt's start stay."""
    stats = SessionStats(state="generating", transport="livekit", prompt="make the shirt red and white striped with a crown and snow",
                         latency_ms=(27, 41), bitrate_kbps=(3500, 4200), output=Path("out.mp4"), frames_recorded=1234,
                         billed_seconds=42, frames_sent=5000, frames_received=4990, fps_in=30.0, fps_out=29.8)
    assert len(render_status(stats).plain) > 160  # what the line needs in full
    for width in (60, 80, 120):
        line = render_status(stats, width).plain
        assert len(line) <= width, (width, line)
        assert line.startswith("● generating") and "prompt: make the shirt" in line and "out 29.8 fps" in line, line
        assert "sent 5000" not in line and "Mbit/s" not in line, line
    assert "latency 27/41 ms" in render_status(stats, 80).plain
    assert "rec 1234" in render_status(stats, 120).plain and "billed 42s" in render_status(stats, 120).plain
    short = render_status(SessionStats(state="generating", prompt="cartoon", fps_out=25.0, latency_ms=(20, 30)), 80).plain
    assert short.endswith("prompt: cartoon") and "latency 20/30 ms" in short


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
    from decart_cli.diagnose.bench import marker

    require("tmux")
    out = tmp_path / "stats.mp4"
    done = tmp_path / "done"
    command = " ".join(shlex.quote(a) for a in decart_cmd("edit", "-i", "test", "--stats", "--no-show", "-o", str(out), "--duration", "8", "--url", server.url))
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


class TmuxSession:
    """A command running in a real terminal (a detached tmux session): keys in, screen out."""

    def __init__(self, command: list[str], *, env: dict[str, str], done: Path, width: int = 120, height: int = 30) -> None:
        require("tmux")
        self.tmux = shutil.which("tmux") or "tmux"
        self.name = f"decart-tty-{time.monotonic_ns()}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        line = " ".join(shlex.quote(a) for a in command)
        script = f"cd {shlex.quote(str(REPO))} && env {exports} {line}; echo exit=$? > {shlex.quote(str(done))}; sleep 60"
        subprocess.run([self.tmux, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), script], check=True)
        self.done = done

    def screen(self) -> str:
        return subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen().splitlines()]

    def keys(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str, pause: float = 0.0) -> None:
        """Type ``text`` literally, a character at a time when ``pause`` is set."""
        for piece in text if pause else [text]:
            subprocess.run([self.tmux, "send-keys", "-l", "-t", self.name, piece], check=True)
            time.sleep(pause)

    def wait(self, text: str, timeout: float = 30) -> None:
        assert wait_for(lambda: text in self.screen(), timeout), f"never showed {text!r}:\n{self.screen()}"

    def close(self) -> None:
        subprocess.run([self.tmux, "kill-session", "-t", self.name], capture_output=True)


def edit_at_a_tty(tmp_path: Path, server, name: str, *args: str) -> TmuxSession:  # type: ignore[no-untyped-def]
    command = decart_cmd("edit", "-i", "test", "--no-show", "-o", str(tmp_path / f"{name}.mp4"), "--duration", "60", "--url", server.url, *args)
    return TmuxSession(command, env={"XDG_DATA_HOME": str(tmp_path / "data")}, done=tmp_path / f"{name}.done")


def prompt_row(rows: list[str]) -> str:
    (row,) = [r for r in rows if r.startswith("edit>")]
    return row


def test_typing_while_the_status_updates_leaves_the_text_intact(server, tmp_path: Path) -> None:
    """At the prompt line, text typed slowly over several status refreshes stays whole on its own row; the status is a separate bottom row."""
    tty = edit_at_a_tty(tmp_path, server, "typing")
    try:
        tty.wait("generating")
        first = tty.rows()[-1]
        tty.type("make the hair blonde", pause=0.1)  # 2 s: four status refreshes
        rows = tty.rows()
        assert prompt_row(rows) == "edit> make the hair blonde", tty.screen()
        assert rows[-1].startswith("● generating") and rows[-1] != first  # it kept refreshing meanwhile
        assert sum("make the hair" in row for row in rows) == 1, tty.screen()
        tty.keys("Enter")
        tty.wait("prompt: make the hair blonde")
        assert prompt_row(tty.rows()) == "edit>"
        tty.keys("C-d")  # Ctrl-D ends the session like /quit
        assert wait_for(tty.done.exists, 30), tty.screen()
        final = tty.screen()
    finally:
        tty.close()
    assert (tmp_path / "typing.done").read_text().strip() == "exit=0", final
    assert "done: sent" in final and "Traceback" not in final


def test_up_arrow_recalls_prompts_also_from_an_earlier_session(server, tmp_path: Path) -> None:
    """Up recalls the previous line; the history file in the data dir carries it into the next session."""
    tty = edit_at_a_tty(tmp_path, server, "one")
    try:
        tty.wait("generating")
        tty.type("tint it red")
        tty.keys("Enter")
        tty.wait("prompt: tint it red")
        tty.type("/mirror on")
        tty.keys("Enter")
        tty.wait("mirror on")
        tty.keys("Up")
        assert wait_for(lambda: prompt_row(tty.rows()) == "edit> /mirror on", 5), tty.screen()
        tty.keys("Up")
        assert wait_for(lambda: prompt_row(tty.rows()) == "edit> tint it red", 5), tty.screen()
        tty.keys("C-u")
        tty.type("/quit")
        tty.keys("Enter")
        assert wait_for(tty.done.exists, 30), tty.screen()
    finally:
        tty.close()
    history = (tmp_path / "data" / "decart" / "history").read_text()
    assert "+tint it red" in history and "+/mirror on" in history
    again = edit_at_a_tty(tmp_path, server, "two")
    try:
        again.wait("generating")
        for line in ("/quit", "/mirror on"):  # newest first
            again.keys("Up")
            assert wait_for(lambda: prompt_row(again.rows()) == f"edit> {line}", 5), again.screen()
        again.keys("Up")
        assert wait_for(lambda: prompt_row(again.rows()) == "edit> tint it red", 5), again.screen()
        again.keys("Enter")
        again.wait("prompt: tint it red")
        again.keys("C-c")  # Ctrl-C at the prompt line ends the session gracefully
        assert wait_for(again.done.exists, 30), again.screen()
        final = again.screen()
    finally:
        again.close()
    assert "done: sent" in final and "Traceback" not in final


def test_commands_at_the_prompt_line(server, tmp_path: Path) -> None:
    """The / commands work at the prompt line as in a pipe: /help, /enhance, /mirror, /image, // escapes, /snapshot, /pause and /resume (the status says paused), /quit."""
    tty = edit_at_a_tty(tmp_path, server, "commands")
    snap = tmp_path / "shot.png"
    try:
        tty.wait("generating")
        steps = (
            ("/help", "/snapshot [FILE]"), ("/enhance off", "enhance off (from the next prompt)"), ("/mirror", "mirror on"),
            (f"/image {tmp_path / 'none.png'}", "none.png"), ("//make it sepia", "prompt: /make it sepia"),
            (f"/snapshot {snap}", f"snapshot: {snap}"), ("/pause", "paused: no frames are sent"),
        )  # fmt: skip
        for line, shown in steps:
            tty.type(line)
            tty.keys("Enter")
            tty.wait(shown)
        assert wait_for(lambda: tty.rows()[-1].startswith("● paused"), 5), tty.screen()
        time.sleep(1.0)  # the counts refresh twice a second: let them catch up with the pause
        sent = tty.rows()[-1].split("sent ")[1].split()[0]
        time.sleep(1.0)
        assert tty.rows()[-1].split("sent ")[1].split()[0] == sent  # nothing sent while paused
        tty.type("/resume")
        tty.keys("Enter")
        assert wait_for(lambda: tty.rows()[-1].startswith("● generating"), 5), tty.screen()
        time.sleep(1.0)  # frames after the pause reach the file: the pause is then inside the recording
        tty.type("/quit")
        tty.keys("Enter")
        assert wait_for(tty.done.exists, 30), tty.screen()
        final = tty.screen()
    finally:
        tty.close()
    assert cv2.imread(str(snap)).shape == (704, 1280, 3)
    assert "done: sent" in final and "while paused" in final  # a gap in a remuxed file, held frames in a re-encoded one
