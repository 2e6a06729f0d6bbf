"""The window's check that Qt really painted it (decart_cli.media.window, decart_cli.media.xserver), on a real Xvfb."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from conftest import child_env, decart_window, require, start_decart, wait_for

from decart_cli.media import xserver

REMAPPED = "the window stayed black"


def test_the_x_server_reads_back_what_a_window_shows(xvfb: str, tmp_path: Path) -> None:
    """xserver finds a window by its title (ImageMagick's, showing a known colour) and reads its centre pixels as BGR."""
    require("display", "convert")
    image = tmp_path / "colour.png"
    subprocess.run(["convert", "-size", "320x176", "xc:rgb(50,100,200)", str(image)], check=True, timeout=30)
    shown = subprocess.Popen(["display", "-geometry", "+0+0", "-title", "probe", str(image)], env=child_env(DISPLAY=xvfb), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert xserver.reachable(xvfb)
        assert wait_for(lambda: xserver.window_named(xvfb, "probe") is not None, 30)
        window = xserver.window_named(xvfb, "probe")
        assert window is not None

        def the_colour() -> bool:
            # ImageMagick maps its window grey, then draws the image into it.
            pixels = xserver.window_centre(xvfb, window)
            if pixels is None:  # not mapped yet: the X server will not read an unmapped window
                return False
            assert pixels.shape == (8, 8, 3)
            return bool(np.abs(pixels.reshape(-1, 3).mean(axis=0) - (200, 100, 50)).max() < 3)

        assert wait_for(the_colour, 10), xserver.window_centre(xvfb, window)
        assert xserver.window_named(xvfb, "no such window") is None
    finally:
        shown.kill()
        shown.wait(10)


def test_a_window_the_x_server_holds_black_is_mapped_again_three_times_at_most(server, xvfb: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A window the X server holds black where the frames are bright (here: under a black window) is mapped again, at most three times, and the session goes on to a clean end."""
    require("display", "convert")
    black = tmp_path / "black.png"
    subprocess.run(["convert", "-size", "1600x1000", "xc:black", str(black)], check=True, timeout=30)
    env = child_env(DISPLAY=xvfb)
    cover = subprocess.Popen(["display", "-geometry", "+0+0", "-title", "cover", str(black)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines: list[str] = []
    proc = start_decart("edit", "-v", "-i", "test", "-p", "invert the colors", "--show", "--duration", "60", "--url", server.url, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    try:
        covers = lambda: subprocess.run(["xdotool", "search", "--name", "^cover$"], capture_output=True, text=True, env=env).stdout.split()  # noqa: E731
        assert wait_for(lambda: bool(covers()), 30)
        # As soon as the decart window exists (before its first frame), the black window goes over it.
        assert wait_for(lambda: bool(decart_window(env)), 30, interval=0.02), "".join(lines)
        subprocess.run(["xdotool", "windowraise", covers()[0]], env=env, check=True, timeout=10)
        assert wait_for(lambda: "".join(lines).count(REMAPPED) == 3, 20), "".join(lines)
        time.sleep(2.0)  # frames go on after the remaps, and no more come
        subprocess.run(["xdotool", "key", "--window", decart_window(env), "q"], env=env, check=True, timeout=10)
        proc.wait(30)
    finally:
        proc.kill()
        cover.kill()
        cover.wait(10)
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr
    assert stderr.count(REMAPPED) == 3, stderr
