"""Guards on raw connections, from the moment TCP connects: so many per client address, and a deadline for the first request.

A client that opens hundreds of sockets (idle, half-open, or sending its
request a byte at a time) holds a file descriptor and a request handler for
each; enough of them and the server cannot accept anyone else. Sessions,
slots and timeouts act only once a request has arrived, so
:class:`ConnectionGuard` works where aiohttp learns of a connection:
:meth:`~ConnectionGuard.install` hooks the ``connection_made`` /
``connection_lost`` of the runner's low-level server (which every
connection reports to), and the application tells it when a connection's
first request reaches a handler (:meth:`~ConnectionGuard.request_started`).

- A connection over the per-address limit is answered ``429 Too Many
  Requests`` and closed before any of it is read.
- A connection whose first request has not reached a handler within
  ``first_request_seconds`` is closed, however slowly its bytes trickle in
  (aiohttp closes idle connections between requests itself, with its
  ``keepalive_timeout``, set to the same; before the first request only
  its newest versions do).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

log = logging.getLogger("decart.server")

_BODY = b"too many connections from this address; close some and try again\n"
REFUSAL = b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
"""The whole answer to a connection over the limit (429: clients, ours included, read it as "busy, try later")."""
_LOG_EVERY = 10.0
"""Seconds between log lines about refused connections (a flood must not flood the log)."""


def _peer_host(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


class ConnectionGuard:
    """At most ``limit`` open connections from one address (0: no limit), each with ``first_request_seconds`` to send a request (0: forever)."""

    def __init__(self, limit: int, first_request_seconds: float = 0.0) -> None:
        self.limit = limit
        self.first_request_seconds = first_request_seconds
        self.open: Counter[str] = Counter()
        """Open connections by client address."""
        self.refused = 0
        """Connections closed for being over the limit."""
        self.expired = 0
        """Connections closed for sending no request in time."""
        self._counted: dict[Any, str] = {}
        self._deadlines: dict[Any, asyncio.TimerHandle] = {}
        self._logged_at = 0.0
        self._refused_since_log = 0

    def install(self, server: Any) -> None:
        """Guard the connections ``server`` (an ``aiohttp.web_server.Server``, ``runner.server``) is told of."""
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            made(handler, transport)
            host = _peer_host(transport)
            if self.limit > 0 and self.open[host] >= self.limit:
                self._refuse(host, transport)
                return
            self.open[host] += 1
            self._counted[handler] = host
            if self.first_request_seconds > 0:
                self._deadlines[handler] = asyncio.get_running_loop().call_later(self.first_request_seconds, self._expire, handler, transport)

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self.request_started(handler)
            host = self._counted.pop(handler, None)
            if host is not None:
                self.open[host] -= 1
                if self.open[host] <= 0:
                    del self.open[host]
            lost(handler, exc)

        server.connection_made = connection_made
        server.connection_lost = connection_lost

    def request_started(self, handler: Any) -> None:
        """A request of the connection ``handler`` (``request.protocol``) reached the application: its deadline is met."""
        deadline = self._deadlines.pop(handler, None)
        if deadline is not None:
            deadline.cancel()

    def _expire(self, handler: Any, transport: asyncio.Transport) -> None:
        if self._deadlines.pop(handler, None) is not None:
            self.expired += 1
            log.debug("closed a connection from %s: no request within %g s", _peer_host(transport), self.first_request_seconds)
            transport.close()

    def _refuse(self, host: str, transport: asyncio.Transport) -> None:
        self.refused += 1
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY:
            log.warning("refused %d connection(s) from %s: it already has %d open (the limit)", self._refused_since_log, host, self.limit)
            self._logged_at, self._refused_since_log = now, 0
        transport.pause_reading()  # nothing of its request is read
        transport.write(REFUSAL)
        # Closed on the next turn of the loop: aiohttp starts the connection's handler right after
        # telling us of it, and a connection lost before that handler ran trips its assertions.
        asyncio.get_running_loop().call_soon(transport.close)
