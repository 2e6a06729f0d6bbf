"""One client's WebSocket, as every server part uses it: send, read, close.

:class:`Socket` wraps aiohttp's server-side :class:`~aiohttp.web.WebSocketResponse`
with the few operations the sessions, the room and the viewers need, so that
none of them depends on the HTTP library:

* :meth:`Socket.send` takes text or bytes and raises :class:`SocketClosed`
  once the socket is closed (callers that do not care use :meth:`send_quietly`);
* ``async for message in socket`` yields each text (``str``) or binary
  (``bytes``) message and ends when either side closes;
* :meth:`Socket.close` closes with a code and a reason.

:attr:`Socket.too_big` says whether the socket ended because the client sent
a message over the size limit (closed with 1009).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

log = logging.getLogger("decart.server")

MESSAGE_TOO_BIG = 1009
CLOSE_TIMEOUT = 2.0
"""Seconds :meth:`Socket.close` waits for the client's closing frame."""


def local_address(request: web.Request) -> tuple[str, int]:
    """The address and port of this server that ``request`` reached."""
    transport = request.transport
    name = transport.get_extra_info("sockname") if transport is not None else None
    return (str(name[0]), int(name[1])) if name else ("127.0.0.1", 0)


class SocketClosed(Exception):
    """The socket is closed: nothing more can be sent on it."""


class Socket:
    """A WebSocket a client opened on this server (see the module docstring)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self._ws = ws
        self.request = request
        self.too_big = False
        """True when the client sent a message over the size limit (the socket was closed with 1009)."""

    @property
    def path(self) -> str:
        """The request's path, without its query."""
        return self.request.path

    @property
    def query(self) -> Any:
        """The request's query parameters (a multidict: ``query.get("api_key")``)."""
        return self.request.query

    @property
    def headers(self) -> Any:
        return self.request.headers

    @property
    def remote(self) -> str:
        """The client's address (empty when unknown)."""
        return self.request.remote or ""

    @property
    def local_address(self) -> tuple[str, int]:
        """The address and port of this server the client reached."""
        return local_address(self.request)

    @property
    def closed(self) -> bool:
        return self._ws.closed

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    async def send(self, data: str | bytes) -> None:
        """Send one message; raises SocketClosed when the socket is closed."""
        if self._ws.closed:
            raise SocketClosed()
        try:
            if isinstance(data, str):
                await self._ws.send_str(data)
            else:
                await self._ws.send_bytes(data)
        except (ConnectionError, RuntimeError) as exc:  # aiohttp: "Cannot write to closing transport"
            raise SocketClosed() from exc

    async def send_quietly(self, data: str | bytes) -> None:
        """Send one message; a closed socket is not an error (its reader sees the close)."""
        try:
            await self.send(data)
        except SocketClosed:
            pass

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while True:
            message = await self._ws.receive()
            if message.type == WSMsgType.TEXT:
                yield message.data
            elif message.type == WSMsgType.BINARY:
                yield message.data
            elif message.type == WSMsgType.ERROR:
                if self._ws.close_code == MESSAGE_TOO_BIG:
                    self.too_big = True
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` (cut to the 123 bytes a close frame holds)."""
        if self._ws.closed:
            return
        try:
            await self._ws.close(code=code, message=reason.encode()[:123])
        except (ConnectionError, RuntimeError):
            pass
