"""Native libraries' lines on file descriptor 2: kept off the terminal when they are noise, passed through otherwise."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import logging, os, sys
from decart_cli.cli import setup_logging
setup_logging(int(sys.argv[1]))
logging.getLogger("decart.native").addHandler(logging.FileHandler(sys.argv[2]))
logging.getLogger("decart.native").setLevel(logging.DEBUG)
logging.getLogger("decart.native").propagate = False  # only the file sees what -vv would show
os.write(2, b"[OpenH264] this = 0x0x7f, Warning:Actual input framerate 0.000000 is different\n")
os.write(2, b"a native line that matters\n")
print("our own line", file=sys.stderr)
os.write(2, b"[OpenH264] again, without a newline at the end")
"""


def run_child(verbose: int, log: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, str(verbose), log], capture_output=True, text=True, timeout=60)


def test_openh264_lines_go_to_the_log_and_other_native_lines_to_the_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without -v, fd 2's "[OpenH264] ..." lines become decart.native log records; other native lines and ours reach stderr, none lost at exit."""
    log = tmp_path / "native.log"
    result = run_child(0, str(log))
    assert result.returncode == 0, result.stderr
    assert "OpenH264" not in result.stderr, result.stderr
    assert "a native line that matters" in result.stderr and "our own line" in result.stderr
    logged = log.read_text()
    assert "[OpenH264] this = 0x0x7f" in logged and "again, without a newline" in logged


def test_with_verbose_native_lines_pass_as_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With -v nothing is filtered: the library's own line is on stderr as it wrote it."""
    result = run_child(1, str(tmp_path / "native.log"))
    assert result.returncode == 0 and "[OpenH264] this = 0x0x7f" in result.stderr, result.stderr
