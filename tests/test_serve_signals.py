"""`decart serve` and Ctrl-C: pressed once, or twice as people do, it stops cleanly with exit 0."""

from __future__ import annotations

import subprocess

from conftest import press_ctrl_c, start_decart


def test_ctrl_c_once_or_twice_stops_serve_cleanly() -> None:
    """One SIGINT, or two up to 0.4 s apart (the second may land while the server is leaving): exit 0, no traceback, never death by the signal."""
    for presses, gap in ((1, 0.0), (2, 0.02), (2, 0.2), (2, 0.4)):
        proc = start_decart("serve", "--port", "0", stderr=subprocess.PIPE, console_script=True)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if "listening on" not in line:
            proc.kill()
            raise AssertionError(f"decart serve did not start: {line}")
        stderr = press_ctrl_c(proc, presses, gap)
        where = f"Ctrl-C x{presses}, {gap} s apart: exit {proc.returncode}\n{line}{stderr}"
        assert proc.returncode == 0 and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, where
