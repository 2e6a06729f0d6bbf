"""Which protocol generation a server speaks, asked before a session picks its transport.

``decart edit --transport auto`` against a server that is neither the hosted
service (today's protocol) nor ``decart serve`` (both; the legacy path is
the faster one on loopback) opens one control socket for a today's model,
sends ``livekit_join`` and listens: a queue position or room credentials mean
today's protocol; an ``error`` (other than a refused key) or a silent socket
mean a legacy-only server. The socket is closed either way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .. import protocol as p
from ..errors import AuthError, ConnectError
from ..signaling import error_from_server, is_auth_failure

DECART_SERVE = "decart-serve/"
"""The ``Server`` header prefix of ``decart serve``."""


@dataclass(frozen=True)
class Answer:
    """What the probe found."""

    livekit: bool
    """The server speaks today's protocol."""
    decart_serve: bool = False
    reason: str = ""
    """Why not today's protocol, in the server's words where it gave some."""


async def probe(url: str, *, timeout: float) -> Answer:
    """Ask the server at ``url`` (a today's model's stream URL, with its key) which protocol it speaks.

    Raises AuthError when the server refuses the key and ConnectError when it cannot be reached at all.
    """
    where = p.display_url(url)
    try:
        ws = await asyncio.wait_for(websockets.connect(url, open_timeout=None, proxy=None, compression=None), timeout)
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise AuthError(f"the server at {where} rejected the API key (HTTP {status})", "check --api-key or DECART_API_KEY") from None
        return Answer(livekit=False, reason=f"HTTP {status} for a today's model")
    except (asyncio.TimeoutError, TimeoutError, OSError, InvalidHandshake) as exc:
        raise ConnectError(f"cannot connect to {where} ({exc.__class__.__name__})", "check --url and that the server is running") from None
    try:
        server = ws.response.headers.get("Server", "") if ws.response is not None else ""
        if server.startswith(DECART_SERVE):
            return Answer(livekit=False, decart_serve=True, reason="decart serve")
        await ws.send(p.serialize(p.LiveKitJoin()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            raw = await asyncio.wait_for(ws.recv(), max(0.0, deadline - loop.time()))
            try:
                message = p.parse(raw)
            except Exception:
                return Answer(livekit=False, reason="it answered livekit_join with something that is not a message")
            if isinstance(message, (p.QueuePosition, p.LiveKitRoomInfo)):
                return Answer(livekit=True)
            if isinstance(message, p.Error):
                if is_auth_failure(message.error):
                    raise error_from_server(message.error)
                return Answer(livekit=False, reason=message.error)
    except (asyncio.TimeoutError, TimeoutError):
        return Answer(livekit=False, reason=f"no answer to livekit_join within {timeout:g} s")
    except ConnectionClosed:
        return Answer(livekit=False, reason="it closed the socket on livekit_join")
    finally:
        await ws.close()
