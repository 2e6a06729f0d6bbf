"""Reconnect: a dropped session comes back with its prompt, and one recording spans the gap."""

from __future__ import annotations

import asyncio
import io
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import ServeProcess, bar_means, child_env, decart_window, decode, screenshot, serve, start_decart, wait_for
from rich.console import Console

from decart_cli.config import EditConfig, ServeConfig, SourceConfig
from decart_cli.media.sources import TestPattern
from decart_cli.models import get_model
from decart_cli.server import Server
from decart_cli.client.session import EditSession
from decart_cli.ui.reporter import ConsoleReporter

SOURCE = bar_means(TestPattern(1280, 704).render(0))


@contextmanager
def editing(tmp_path: Path, url: str, *args: str, tuning: str = "") -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`decart edit -i test` recording to out.mp4 against ``url``, with stdin a pipe; yields it and its stderr file."""
    log = tmp_path / "stderr.txt"
    proc = start_decart(
        "edit", "-i", "test", "--no-show", "-o", str(tmp_path / "out.mp4"), "--url", url, "--reconnect-delay", "0.5", *args,
        stdin=subprocess.PIPE, stderr=log, env=child_env(DECART_RTC_TUNING=tuning),
    )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def recording_started(tmp_path: Path) -> bool:
    out = tmp_path / "out.mp4"
    return out.exists() and out.stat().st_size > 100_000


def kill_while_recording(tmp_path: Path, server: ServeProcess, log: Path, *, wait_reconnecting: bool = True) -> None:
    """Once the recording is under way, SIGKILL ``server``; then wait for the client to say it is reconnecting."""
    assert wait_for(lambda: recording_started(tmp_path), 30), log.read_text()
    server.proc.kill()
    server.proc.wait()
    if wait_reconnecting:
        assert wait_for(lambda: "reconnecting" in log.read_text(), 10), log.read_text()


def is_inverted(frame: np.ndarray) -> bool:
    return bool(np.abs(bar_means(frame) - (255 - SOURCE)).max() < 40)


def is_grey(frame: np.ndarray) -> bool:
    means = bar_means(frame)
    return bool(np.abs(means - means.mean(axis=-1, keepdims=True)).max() < 12)


@pytest.mark.parametrize("tuning", ["", "off"], ids=["remuxed", "re-encoded"])
def test_restarted_server_gets_the_prompt_again_and_one_file_spans_the_gap(tmp_path: Path, tuning: str) -> None:
    """Kill the server and restart it on the same port: the client reconnects, re-sends its prompt, and records on in real time."""
    with serve() as first:
        port = first.port
        with editing(tmp_path, first.url, "-p", "invert the colors", "--duration", "12", tuning=tuning) as (proc, log):
            kill_while_recording(tmp_path, first, log)
            with serve(port=port):
                proc.wait(timeout=60)
    stderr = log.read_text()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "error:" not in stderr
    assert "reconnected after" in stderr and "reconnected 1 time" in stderr
    video = decode(tmp_path / "out.mp4")
    times = np.array(video.times)
    gaps = np.diff(times)
    # One file, real time: 12 s of edited video, the outage included.
    assert 11.0 <= times[-1] - times[0] <= 13.5, times[-1] - times[0]
    assert len(video.frames) == int(stderr.split("recorded ")[1].split()[0])
    assert is_inverted(video.frames[5])
    # The new server never saw the prompt from the user: only the re-send can invert these.
    assert all(is_inverted(frame) for frame in video.frames[-10:])
    if tuning == "off":
        # Re-encoded: the relay's held frames fill the outage (> 1 s); 0.5 s leaves room for a loaded machine.
        assert gaps.max() < 0.5, gaps.max()
        held = int(stderr.split(" held while reconnecting")[0].rsplit("(", 1)[1])
        assert held >= 10
        return
    # Remuxed: the file has the received frames only, and the outage is one hole in the timestamps
    # (players hold the last frame over it) about as long as the outage the client reported.
    outage = float(stderr.split("reconnected after ")[1].split(" s")[0])
    hole = int(gaps.argmax())
    assert outage - 0.2 <= gaps[hole] <= outage + 1.5, (gaps[hole], outage)
    assert np.sort(gaps)[-2] < 0.5, np.sort(gaps)[-5:]
    assert "held while reconnecting" not in stderr
    reported = float(stderr.split(" s gap while reconnecting")[0].rsplit("(", 1)[1])
    assert abs(reported - gaps[hole]) < 0.15, (reported, gaps[hole])
    # The prompt is back from the new link's first frame on.
    assert all(is_inverted(frame) for frame in video.frames[hole + 1 : hole + 6])


def test_prompts_typed_while_reconnecting_are_kept_and_the_latest_applied(tmp_path: Path) -> None:
    """Prompts typed while the server is down are kept; after reconnecting the latest one is applied."""
    with serve() as first:
        port = first.port
        with editing(tmp_path, first.url, "-p", "invert the colors", "--duration", "10") as (proc, log):
            kill_while_recording(tmp_path, first, log)
            assert proc.stdin is not None
            proc.stdin.write("make it sepia\nblack and white\n")
            proc.stdin.flush()
            assert wait_for(lambda: log.read_text().count("prompt kept until reconnected") == 2, 10), log.read_text()
            with serve(port=port):
                proc.wait(timeout=60)
    stderr = log.read_text()
    assert proc.returncode == 0, stderr
    assert "prompt: black and white" in stderr and "prompt: make it sepia" not in stderr
    frames = decode(tmp_path / "out.mp4").frames
    assert is_inverted(frames[5])
    assert all(is_grey(frame) for frame in frames[-10:])


def test_a_refused_key_after_a_restart_stops_at_once(tmp_path: Path) -> None:
    """A server that comes back refusing the key ends the session at once with the key message, the recording intact."""
    with serve("--api-key", "first-key") as first:
        port = first.port
        with editing(tmp_path, first.url, "--api-key", "first-key", "--duration", "60") as (proc, log):
            kill_while_recording(tmp_path, first, log, wait_reconnecting=False)
            with serve("--api-key", "another-key", port=port):
                proc.wait(timeout=30)
    stderr = log.read_text()
    assert proc.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rejected the API key" in errors[0], stderr
    assert "first-key" not in stderr and "Traceback" not in stderr
    frames = len(decode(tmp_path / "out.mp4").frames)
    assert f"recorded {frames} frames" in stderr


def test_gives_up_after_the_configured_attempts(tmp_path: Path) -> None:
    """With no server coming back, the client tries --reconnect times, then fails in one line with the recording playable."""
    with serve() as gone:
        with editing(tmp_path, gone.url, "--reconnect", "2", "--duration", "60") as (proc, log):
            kill_while_recording(tmp_path, gone, log)
            proc.wait(timeout=30)
    stderr = log.read_text()
    assert proc.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not reconnect in 2 attempts" in errors[0], stderr
    assert "Traceback" not in stderr
    frames = len(decode(tmp_path / "out.mp4").frames)
    assert "stopped early: " in stderr and f"recorded {frames} frames" in stderr


def test_failed_media_connection_is_reconnected_too(tmp_path: Path) -> None:
    """A peer connection that the server closes while the socket stays open is re-established like a dropped socket."""
    out = tmp_path / "pc.mp4"
    console = Console(file=io.StringIO(), width=200)

    async def main() -> EditSession:
        server = Server(ServeConfig(host="127.0.0.1", port=0))
        await server.start()
        try:
            config = EditConfig(
                source=SourceConfig(spec="test", width=1280, height=704, fps=25), url=server.url, prompt="invert the colors",
                output=out, duration=6.0, read_stdin=False, reconnect_delay=0.2,
            )
            session = EditSession(config, get_model(config.model), ConsoleReporter(console, live=False))
            run = asyncio.ensure_future(session.run())
            while session.stats.frames_received < 25:
                assert not run.done(), console.file.getvalue()
                await asyncio.sleep(0.05)
            (first,) = server.sessions
            assert first.peer is not None
            await first.peer.close()  # media fails; the WebSocket is untouched
            await asyncio.wait_for(run, 60)
            return session
        finally:
            await server.stop()

    session = asyncio.run(main())
    shown = console.file.getvalue()
    assert session.stats.reconnects == 1, shown
    assert "media connection" in shown and "reconnected after" in shown
    frames = decode(out).frames
    assert is_inverted(frames[-5]), shown


def test_window_says_reconnecting_over_the_held_frame(xvfb: str, tmp_path: Path) -> None:
    """While reconnecting, the window keeps the last frame under a "reconnecting n/N" strip, gone once reconnected."""
    display_env = child_env(DISPLAY=xvfb)

    def top_strip() -> np.ndarray:
        image = screenshot(xvfb, tmp_path / "shot.png")
        return image[2:30, :1280].max(axis=2)  # the window sits at the top-left of the bare screen

    def dark(strip: np.ndarray) -> float:
        return float((strip[:, 700:] <= 70).mean())  # right of the pattern's frame counter: a bright hue sweep

    with serve() as first:
        port = first.port
        log = tmp_path / "stderr.txt"
        proc = start_decart("edit", "-i", "test", "--show", "--url", first.url, "--reconnect-delay", "2", "--duration", "30", stderr=log, env=display_env)
        try:
            assert wait_for(lambda: bool(decart_window(display_env)), 30), log.read_text()
            # Screenshots are polled: a loaded machine paints later than an idle one.
            assert wait_for(lambda: dark(top_strip()) < 0.1, 15, interval=0.5), "the window never showed the stream"
            first.proc.kill()
            first.proc.wait()
            assert wait_for(lambda: "reconnecting" in log.read_text(), 10), log.read_text()

            def reconnecting_strip() -> bool:
                strip = top_strip()
                return dark(strip) > 0.9 and bool((strip[:, :400] >= 200).mean() > 0.01)

            assert wait_for(reconnecting_strip, 5, interval=0.3), "no reconnecting strip"
            with serve(port=port):
                assert wait_for(lambda: "reconnected after" in log.read_text(), 30), log.read_text()
                assert wait_for(lambda: dark(top_strip()) < 0.1, 10, interval=0.5), "the strip stayed after reconnecting"
                subprocess.run(["xdotool", "key", "--window", decart_window(display_env), "q"], env=display_env, check=True, timeout=10)
                proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, log.read_text()
