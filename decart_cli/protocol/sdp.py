"""SDP text helpers: the candidate lines of a session description. No I/O."""

from __future__ import annotations

import re
from collections.abc import Callable

from .urls import is_loopback_host

_CANDIDATE_ADDRESS = re.compile(r"^(?:a=)?candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ ", re.IGNORECASE)


def candidate_address(line: str) -> str | None:
    """The connection address of an SDP candidate line, or None if it is not one."""
    match = _CANDIDATE_ADDRESS.match(line.strip())
    return match.group(1) if match else None


def keep_candidates(sdp: str, keep: Callable[[str], bool] = is_loopback_host) -> str:
    """``sdp`` without the candidate lines whose address ``keep`` refuses (by default: not a loopback address).

    A session between two peers on one machine keeps its media there.
    """
    kept = []
    for line in sdp.splitlines(keepends=True):
        address = candidate_address(line)
        if address is not None and not keep(address):
            continue
        kept.append(line)
    return "".join(kept)
