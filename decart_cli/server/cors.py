"""Which web pages may use this server, and cross-origin access for them (CORS), as an aiohttp middleware.

A page a developer's dev server serves (``http://localhost:5173``) is of
another origin than ``decart serve``: its ``fetch`` of ``/rtc/v1/validate``,
``/watch-stream/...`` or the REST calls can read the answer only when the
answer says that origin may, and a request with a header such as
``x-api-key`` or a JSON body is preceded by a preflight ``OPTIONS``.

:class:`Origins` says which pages may: those of loopback origins
(``localhost``, ``127.0.0.0/8``, ``[::1]``, any scheme and port), the
server's own page (the origin of the ``Host`` it was reached at), and those
allowed by name (``decart serve --allow-origin``; ``*`` for any). A request
from any other page (it carries an ``Origin`` header) is refused with 403
"Origin not allowed", WebSocket upgrades included (they are not subject to
CORS, so the browser would not stop them). A request without ``Origin`` is
not from a page and passes (native clients, the SDKs in Python). A client
token's ``allowedOrigins`` narrows this further (:mod:`.keys`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
MAX_AGE = "600"


def is_loopback_origin(origin: str | None) -> bool:
    """Whether ``origin`` (an ``Origin`` header) is a page on this machine."""
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allow(response: web.StreamResponse, origin: str) -> None:
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
    response.headers.add(hdrs.VARY, "Origin")


class Origins:
    """The pages that may use the server (see the module docstring)."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed = frozenset(origin.strip().rstrip("/").lower() for origin in allowed if origin.strip())

    def permits(self, origin: str | None, *, host: str | None, secure: bool) -> bool:
        """Whether a request with this ``Origin`` (None: not from a page), reaching the server as ``host``, may be served."""
        if origin is None or is_loopback_origin(origin) or "*" in self.allowed:
            return True
        origin = origin.rstrip("/").lower()
        own = host is not None and origin == f"{'https' if secure else 'http'}://{host.lower()}"
        return own or origin in self.allowed


def cors(origins: Origins, *, secure: bool) -> Callable[[web.Request, Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[web.StreamResponse]]:
    """The middleware: refuse pages ``origins`` does not permit; answer the others' preflights and let them read every answer."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if not origins.permits(origin, host=request.headers.get(hdrs.HOST), secure=secure):
            return web.Response(status=403, text="Origin not allowed\n")
        if origin is None:
            return await handler(request)
        if request.method == hdrs.METH_OPTIONS and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
            response = web.Response(status=204)
            _allow(response, origin)
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = ALLOWED_METHODS
            wanted = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
            if wanted:
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = wanted
            if request.headers.get("Access-Control-Request-Private-Network") == "true":
                response.headers["Access-Control-Allow-Private-Network"] = "true"
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = MAX_AGE
            return response
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _allow(exc, origin)
            raise
        if not isinstance(response, web.WebSocketResponse):
            _allow(response, origin)
        return response

    return middleware
