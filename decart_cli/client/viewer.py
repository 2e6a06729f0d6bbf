"""A viewer's link: a running session's edited video, receive-only.

:func:`open_viewer` reads a subscribe token (:mod:`.watch_token`) and opens
the link its generation needs:

* legacy (``{"sid", "ip", "port"}``): a :class:`~.webrtc.WebRTCLink` on
  ``/subscribe/<sid>?IP=&port=&api_key=``, whose offer only receives video;
* today's (``{"room_name"}``): ``POST /watch-stream/<room>`` with the key in
  ``x-api-key`` answers with room credentials (as ``livekit_room_info``
  carries them), and a :class:`~.livekit.LiveKitLink` joins that room
  without publishing.

Either way :attr:`~.link.Link.remote` is then the session's edited video.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from .. import protocol as p
from ..errors import ConnectError, DecartError, ServerError
from .link import Link, LinkOwner
from ..protocol.server_errors import error_from_server
from ..protocol.watch_token import RoomToken, SessionToken


class Viewing:
    """What a viewer's link asks of its owner: nothing is sent before media, and every message is only logged."""

    async def initial_state(self, link: Link) -> None:
        """A viewer sends no prompt."""

    def media_starting(self, link: Link) -> None:
        """Nothing to hook in."""

    def on_message(self, message: p.Message) -> None:
        """Messages to a viewer change nothing it shows."""


async def open_viewer(token: SessionToken | RoomToken, base_url: str, *, api_key: str, owner: LinkOwner, connect_timeout: float, ice_servers: tuple[str, ...] | None = None) -> Link:
    """Open a receive-only link to the session ``token`` names; raises DecartError (the link is closed then)."""
    link: Link
    if isinstance(token, SessionToken):
        from .webrtc import WebRTCLink

        url = p.subscribe_url(base_url, session_id=token.sid, ip=token.ip, port=token.port, api_key=api_key)
        link = WebRTCLink(url, owner, connect_timeout=connect_timeout, ack_timeout=connect_timeout, ice_servers=ice_servers)
    else:
        from .livekit import LiveKitLink

        info = await watch_stream(p.watch_stream_url(base_url, token.room_name), api_key=api_key, timeout=connect_timeout)
        link = LiveKitLink(base_url, owner, connect_timeout=connect_timeout, ack_timeout=connect_timeout, size=(0, 0), fps=0, room_info=info)
    try:
        await link.open(None)
    except BaseException:
        await link.close()
        raise
    return link


async def watch_stream(url: str, *, api_key: str, timeout: float) -> p.LiveKitRoomInfo:
    """``POST url`` (a ``/watch-stream/<room>``) with ``x-api-key``: the room's viewer credentials."""
    status, body = await asyncio.to_thread(_post, url, api_key, timeout)
    try:
        data: Any = json.loads(body) if body else {}
    except ValueError:
        data = {}
    text = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), str) else body[:200].strip()
    if status in (401, 403):
        raise error_from_server(text or "unauthorized")
    if status == 404:
        raise ServerError(f"the server knows no such session ({text or 'not found'})", "the watched session may have ended; ask for a new token")
    if status >= 400:
        raise ServerError(f"the server refused to let this viewer in ({status}: {text or 'no reason given'})")
    try:
        return p.LiveKitRoomInfo(livekit_url=data["livekit_url"], token=data["token"], room_name=data["room_name"], session_id=str(data.get("session_id", data["room_name"])))
    except (KeyError, TypeError):
        raise ServerError("the server's watch-stream answer lacks the room's URL or token") from None


def _post(url: str, api_key: str, timeout: float) -> tuple[int, str]:
    """An empty POST; (status, body). Raises ConnectError when the server cannot be reached."""
    request = urllib.request.Request(url, data=b"", method="POST", headers={"x-api-key": api_key, "Accept": "application/json"})
    # A local server is reached directly, whatever proxy the environment names.
    handlers = [urllib.request.ProxyHandler({})] if p.is_loopback_host(p.url_host(url)) else []
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(65536).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536).decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectError(f"cannot reach the server at {p.display_url(url)} ({reason})", "check the server URL") from None


__all__ = ["DecartError", "Viewing", "open_viewer", "watch_stream"]
