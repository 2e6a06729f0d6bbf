"""The servers' URLs: building them, hiding their secrets, checking hosts. No I/O.

:func:`stream_url` builds the endpoint URL from a base URL (``subscribe_url``
and ``watch_stream_url`` a viewer's, legacy and today's); :func:`redact_url`
hides the API key in any URL before it is shown or logged. A base URL that
cannot be used raises :class:`~decart_cli.errors.BadURLError`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import BadURLError

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
# Parameter names as clients may spell them, percent-encoded or not
# (api_key, api%5Fkey, api-key, apikey, key, token; LiveKit's access_token).
_SECRET_QUERY = re.compile(r"(?i)([?&](?:api(?:_|%5f|-|%2d)?key|key|token|access(?:_|%5f|-|%2d)?token)=)[^&#\s]*")


def _server_base(base: str) -> tuple[str, SplitResult]:
    """``base``'s WebSocket scheme and its parts; BadURLError when it is not a ws(s)/http(s) URL with a host."""
    # Shown without its query (where a key may be) in the messages below.
    shown = redact_url(re.split(r"[?#]", base.strip(), maxsplit=1)[0])
    try:
        parts = urlsplit(base.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise BadURLError(f"cannot use server URL {shown!r}", "give one like wss://host or ws://127.0.0.1:8765") from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise BadURLError(
            f"cannot use server URL {shown!r}",
            "give a ws://, wss://, http:// or https:// URL with a host, like ws://127.0.0.1:8765",
        )
    return scheme, parts


def stream_url(base: str, *, api_key: str, model: str, path: str = "/v1/stream", user_agent: str | None = None, livekit: bool = False, resolution: str | None = None) -> str:
    """The WebSocket URL of a model's stream on the server at ``base``.

    ``base`` is a scheme, host and port (``wss://api3.decart.ai``,
    ``http://127.0.0.1:8765``); ``http(s)`` maps to ``ws(s)``; a base that
    already ends in the model's path is accepted as is. ``livekit`` adds
    ``livekit_early_room_info=true`` (today's protocol, as the official SDKs ask),
    ``resolution`` a ``resolution=`` after it (where the SDKs put it).
    """
    scheme, parts = _server_base(base)
    base_path = parts.path.rstrip("/")
    if not base_path.endswith(path):
        base_path += path
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("api_key", "model", "user_agent", "livekit_early_room_info", "resolution")]
    query += [("api_key", api_key), ("model", model)]
    if livekit:
        query.append(("livekit_early_room_info", "true"))
    if resolution:
        query.append(("resolution", resolution))
    if user_agent:
        query.append(("user_agent", user_agent))
    return urlunsplit((scheme, parts.netloc, base_path, urlencode(query, quote_via=quote), ""))


def _origin(parts: SplitResult) -> str:
    """The part of a base URL's path before ``/v1/stream`` (a base given with the model's path is a kindness)."""
    path = parts.path.rstrip("/")
    return path[: path.index("/v1/")] if "/v1/" in path + "/" else path


def subscribe_url(base: str, *, session_id: str, ip: str, port: int, api_key: str) -> str:
    """A legacy viewer's WebSocket URL: ``/subscribe/<sid>?IP=&port=&api_key=`` on the server at ``base``."""
    scheme, parts = _server_base(base)
    query = urlencode([("IP", ip), ("port", str(port)), ("api_key", api_key)], quote_via=quote)
    return urlunsplit((scheme, parts.netloc, f"{_origin(parts)}/subscribe/{quote(session_id, safe='')}", query, ""))


def watch_stream_url(base: str, room_name: str) -> str:
    """Where a viewer of today's protocol asks for room credentials: ``POST http(s)://…/watch-stream/<room>``."""
    scheme, parts = _server_base(base)
    http = "https" if scheme == "wss" else "http"
    return urlunsplit((http, parts.netloc, f"{_origin(parts)}/watch-stream/{quote(room_name, safe='')}", "", ""))


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters replaced by ``***``."""
    return _SECRET_QUERY.sub(r"\1***", url)


def display_url(url: str) -> str:
    """``url`` without its query (which holds the key): scheme, host, port and path."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_url(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) or redact_url(url)


def url_host(url: str) -> str:
    """The host part of ``url`` (empty when there is none)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
