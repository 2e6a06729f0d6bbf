"""The ``decart`` command's entry point: Ctrl-C while the program loads stops it quietly.

Loading takes a few tenths of a second (OpenCV and NumPy above all). Python's
own SIGINT handler would raise KeyboardInterrupt in the middle of an import
and print its traceback; while loading, an interrupt here ends the program
with exit code 130 and no output instead. Loading ends where the command
starts: building the command and parsing its arguments are loading too.
From there the CLI handles Ctrl-C itself (:func:`decart_cli.cli.user_errors`,
the session's signal handlers). This module lives outside the package because importing
``decart_cli`` is itself the first slow step (it loads OpenCV).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _stop_loading(signum: int, frame: FrameType | None) -> None:
    # Not SystemExit: raised inside an import, a library's bare `except:` can swallow it, and the
    # session then ran in full with Ctrl-C ignored. Nothing is open yet that needs closing.
    os._exit(130)


def main() -> None:
    """Load the CLI and run it (an interrupt before the command starts: exit 130, quietly)."""
    quiet = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not when SIGINT is ignored (a background job)
    if quiet:
        signal.signal(signal.SIGINT, _stop_loading)
    from decart_cli.cli import main as run

    sys.exit(run())  # the command, once it starts, takes Ctrl-C over (decart_cli.cli.user_errors)


if __name__ == "__main__":
    main()
