"""Cross-origin access for web pages on this machine (CORS), as an aiohttp middleware.

A page a developer's dev server serves (``http://localhost:5173``) is of
another origin than ``decart serve``: its ``fetch`` of ``/rtc/v1/validate``,
``/watch-stream/...`` or the REST calls can read the answer only when the
answer says that origin may, and a request with a header such as
``x-api-key`` or a JSON body is preceded by a preflight ``OPTIONS``. Pages
of loopback origins (``localhost``, ``127.0.0.0/8``, ``[::1]``, any scheme
and port) may; pages of any other origin get answers without CORS headers,
so their browser keeps those answers from them.

WebSockets are not subject to CORS: their origin is checked where it
matters (a client token's ``allowedOrigins``, :mod:`.keys`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
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


@web.middleware
async def cors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Answer preflights for loopback origins, and let them read every answer."""
    origin = request.headers.get(hdrs.ORIGIN)
    allowed = is_loopback_origin(origin)
    if request.method == hdrs.METH_OPTIONS and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
        response = web.Response(status=204 if allowed else 403)
        if allowed and origin is not None:
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
        if allowed and origin is not None:
            _allow(exc, origin)
        raise
    if allowed and origin is not None and not isinstance(response, web.WebSocketResponse):
        _allow(response, origin)
    return response
