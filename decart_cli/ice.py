"""ICE settings for aiortc peers, including sessions on one machine.

Two things in aiortc/aioice stand in the way of a session over loopback:

* aioice never offers 127.0.0.1 as a host candidate, so two peers on one
  machine can only meet on a LAN address, which may not exist or route;
* aiortc adds a public STUN server when ``iceServers`` is unset, which costs
  a DNS lookup and a wait on machines without internet.

A *loopback session* (the other peer is known to be on this machine, e.g. the
signaling server is on 127.0.0.1 or the client connected from it) therefore
gathers only 127.0.0.1, uses no STUN server, and ignores remote candidates
that are not loopback, so its media never leaves the machine. Every other
session keeps aiortc's behaviour, so LAN and hosted sessions work as before.

The choice is made per task with a context variable (aiortc gathers in tasks
created from the caller's, which inherit it), so one process can hold a
loopback session and a LAN session at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from .protocol import candidate_address, is_loopback_host, keep_loopback_candidates

log = logging.getLogger(__name__)

_loopback: contextvars.ContextVar[bool] = contextvars.ContextVar("decart_loopback_ice", default=False)
_original_get_host_addresses = getattr(aioice.ice, "get_host_addresses", None)


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool, *args: Any, **kwargs: Any) -> list[str]:
    if _loopback.get():
        return ["127.0.0.1"] if use_ipv4 else ["::1"]
    assert _original_get_host_addresses is not None
    return _original_get_host_addresses(use_ipv4, use_ipv6, *args, **kwargs)


def loopback_supported() -> bool:
    """True when this aioice has the hook that loopback sessions rely on."""
    return _original_get_host_addresses is not None


if loopback_supported():
    # aioice looks the function up in its module at gather time, so wrapping
    # the module attribute is enough; the wrapper defers to the original
    # outside loopback sessions.
    aioice.ice.get_host_addresses = _get_host_addresses  # type: ignore[assignment]
else:  # pragma: no cover - depends on the installed aioice
    log.warning("this aioice has no get_host_addresses(); loopback sessions may not connect")


@contextlib.contextmanager
def loopback_session(enabled: bool = True) -> Iterator[None]:
    """Within this block (and tasks created in it), ICE gathers only 127.0.0.1."""
    token = _loopback.set(enabled)
    try:
        yield
    finally:
        _loopback.reset(token)


def rtc_configuration(*, loopback: bool, ice_servers: tuple[str, ...] | None = None) -> RTCConfiguration:
    """The peer connection configuration for a session.

    Loopback sessions use no STUN/TURN server. Otherwise ``ice_servers``
    (STUN/TURN URLs) is used, or aiortc's default when it is None.
    """
    if loopback:
        return RTCConfiguration(iceServers=[])
    if ice_servers is None:
        return RTCConfiguration()
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in ice_servers])


def filter_remote_sdp(sdp: str, *, loopback: bool) -> str:
    """The remote SDP to apply: in a loopback session, only its loopback candidates."""
    return keep_loopback_candidates(sdp) if loopback else sdp


def accept_remote_candidate(candidate_line: str, *, loopback: bool) -> bool:
    """Whether to add a trickled remote candidate to a session."""
    if not loopback:
        return True
    address = candidate_address(candidate_line)
    return address is not None and is_loopback_host(address)
