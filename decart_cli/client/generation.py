"""Which protocol generation a server speaks, asked before a session picks its transport.

``decart edit --transport auto`` against a server that is neither the hosted
service (today's protocol) nor ``decart serve`` (both; the legacy path is
the faster one on loopback, and it says who it is in its ``Server`` header)
opens one control socket for a today's model, sends ``livekit_join`` and
listens: a queue position or room credentials mean today's protocol; an
``error`` (other than a refused key), a close or silence mean a legacy-only
server. So does a handshake refused with HTTP 400 or 404: a legacy-only
server that checks the model before it upgrades (the seed's server does)
refuses a today's model there. The socket is closed either way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .. import protocol as p
from ..errors import AuthError, HandshakeRefused
from .signaling import Signaling

DECART_SERVE = "decart-serve/"
"""The ``Server`` header prefix of ``decart serve``."""


@dataclass(frozen=True)
class Answer:
    """What the server answered."""

    livekit: bool
    """The server speaks today's protocol."""
    decart_serve: bool = False
    reason: str = ""
    """Why not today's protocol, in the server's words where it gave some."""


async def ask_generation(url: str, *, timeout: float) -> Answer:
    """Ask the server at ``url`` (a today's model's stream URL, with its key) which protocol it speaks.

    Raises what connecting raises (ConnectError, AuthError: the same
    messages as a session's) and AuthError when the server refuses the key.
    """
    found: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

    def seen(message: p.Message) -> None:
        if found.done():
            return
        if isinstance(message, (p.QueuePosition, p.LiveKitRoomInfo)):
            found.set_result(Answer(livekit=True))
        elif isinstance(message, p.Error):
            found.set_result(Answer(livekit=False, reason=message.error))

    signaling = Signaling(url, connect_timeout=timeout, on_message=seen)
    try:
        await signaling.connect()
    except HandshakeRefused as exc:
        if exc.status not in (400, 404):
            raise
        return Answer(livekit=False, reason=f"it refused a today's model at the handshake, HTTP {exc.status}")
    try:
        if signaling.server_software.startswith(DECART_SERVE):
            return Answer(livekit=False, decart_serve=True, reason="decart serve")
        assert signaling.closed is not None
        await signaling.send(p.LiveKitJoin())
        done, _ = await asyncio.wait({found, signaling.closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if found in done:
            return found.result()
        if signaling.closed in done:
            error = signaling.closed.result()
            if isinstance(error, AuthError):
                raise error
            return Answer(livekit=False, reason=f"it closed the socket on livekit_join: {error.message}")
        return Answer(livekit=False, reason=f"no answer to livekit_join within {timeout:g} s")
    finally:
        found.cancel()
        await signaling.close()
