"""ICE settings for aiortc peers, including sessions on one machine.

Two things in aiortc/aioice stand in the way of a session over loopback:

* aioice never offers 127.0.0.1 as a host candidate, so two peers on one
  machine can only meet on a LAN address, which may not exist or route;
* aiortc adds a public STUN server when ``iceServers`` is unset, which costs
  a DNS lookup and a wait on machines without internet.

A *loopback session* (the other peer is known to be on this machine, e.g. the
signaling server is on 127.0.0.1 or the client connected from it) therefore
uses no STUN server and, while the loopback hook is installed (a part of the
tuning, :func:`patch_loopback`, wrapping ``aioice.ice.get_host_addresses``),
gathers only 127.0.0.1 and ignores remote candidates that are not on this
machine, so its media never leaves it. A remote candidate is on this
machine when it is a loopback address or one of the addresses aioice
itself would gather here: a peer without the hook (stock aiortc, or ours
with ``DECART_RTC_TUNING=off``) offers those, and 127.0.0.1 reaches them.
Without the hook (``DECART_RTC_TUNING=off``, or an aioice without that
function) a loopback session gathers what aioice gathers and keeps every
remote candidate, as stock aiortc does. Every other session keeps aiortc's
behaviour, so LAN and hosted sessions work as before.

The choice is made per task with a context variable (aiortc gathers in tasks
created from the caller's, which inherit it), so one process can hold a
loopback session and a LAN session at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from ..protocol import candidate_address, is_loopback_host, keep_candidates
from .state import STATE

PART = "ice_loopback"
"""The hook's name among the tuning's parts."""

_loopback: contextvars.ContextVar[bool] = contextvars.ContextVar("decart_loopback_ice", default=False)


def patch_loopback() -> str:
    """Wrap ``aioice.ice.get_host_addresses`` so that loopback sessions gather only 127.0.0.1.

    aioice looks the function up in its module at gather time, so wrapping
    the module attribute is enough; the wrapper defers to the original
    outside loopback sessions.
    """
    import aioice.ice

    if PART in STATE.installed:
        return "applied"
    original = getattr(aioice.ice, "get_host_addresses", None)
    if not callable(original):
        return "skipped: aioice.ice has no get_host_addresses()"
    try:
        parameters = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        parameters = []
    if parameters[:2] != ["use_ipv4", "use_ipv6"]:
        return "skipped: aioice.ice.get_host_addresses() does not take (use_ipv4, use_ipv6)"

    @functools.wraps(original)
    def get_host_addresses(use_ipv4: bool, use_ipv6: bool, *args: Any, **kwargs: Any) -> list[str]:
        if _loopback.get():
            return ["127.0.0.1"] if use_ipv4 else ["::1"]
        return original(use_ipv4, use_ipv6, *args, **kwargs)

    STATE.replace(PART, aioice.ice, "get_host_addresses", get_host_addresses)
    return "applied"


def loopback_supported() -> bool:
    """True while the loopback hook is installed: loopback sessions then gather only 127.0.0.1 and accept only candidates on this machine."""
    return _stock_host_addresses() is not None


def _stock_host_addresses() -> Callable[..., list[str]] | None:
    """aioice's own ``get_host_addresses`` while the hook replaces it; None when the hook is not installed."""
    for _target, attribute, original in STATE.installed.get(PART, ()):
        if attribute == "get_host_addresses":
            return original  # type: ignore[return-value]
    return None


def _on_this_machine() -> Callable[[str], bool]:
    """A test of a candidate address: loopback, or one of this machine's addresses (as aioice gathers them)."""
    stock = _stock_host_addresses()
    own: set[Any] = set()
    if stock is not None:
        try:
            own = {ipaddress.ip_address(a.split("%", 1)[0]) for a in stock(True, True)}
        except (OSError, ValueError):
            own = set()

    def test(address: str) -> bool:
        if is_loopback_host(address):
            return True
        try:
            return ipaddress.ip_address(address.split("%", 1)[0]) in own
        except ValueError:  # a hostname (mDNS): not known to be here
            return False

    return test


@contextlib.contextmanager
def loopback_session(enabled: bool = True) -> Iterator[None]:
    """Within this block (and tasks created in it), ICE gathers only 127.0.0.1 (while the hook is installed)."""
    token = _loopback.set(enabled)
    try:
        yield
    finally:
        _loopback.reset(token)


def rtc_configuration(*, loopback: bool, ice_servers: tuple[str, ...] | None = None, max_bundle: bool = False) -> RTCConfiguration:
    """The peer connection configuration for a session.

    Loopback sessions use no STUN/TURN server. Otherwise ``ice_servers``
    (STUN/TURN URLs) is used, or aiortc's default when it is None.

    ``max_bundle`` puts every media section on the first one's transport,
    for a peer that bundles everything (LiveKit's clients). Under aiortc's
    default policy ("balanced") a later section of a kind is given the
    first one's transport before bundling replaces that, so media placed
    on it in a later negotiation never leaves.
    """
    servers = [] if loopback else None if ice_servers is None else [RTCIceServer(urls=url) for url in ice_servers]
    policy = RTCBundlePolicy.MAX_BUNDLE if max_bundle else RTCBundlePolicy.BALANCED
    return RTCConfiguration(iceServers=servers, bundlePolicy=policy)


def filter_remote_sdp(sdp: str, *, loopback: bool) -> str:
    """The remote SDP to apply: in a loopback session with the hook installed, only its candidates on this machine."""
    if not loopback or not loopback_supported():
        return sdp
    return keep_candidates(sdp, _on_this_machine())


def accept_remote_candidate(candidate_line: str, *, loopback: bool) -> bool:
    """Whether to add a trickled remote candidate to a session (all of them, unless the hook is installed and the session is a loopback one)."""
    if not loopback or not loopback_supported():
        return True
    address = candidate_address(candidate_line)
    return address is not None and _on_this_machine()(address)
