"""Subscribe tokens: what lets a viewer find a running session (no I/O).

A token is base64 of a JSON object, as the official SDKs make it (the
Python SDK: urlsafe base64 of ``json.dumps``; the JS SDK: ``btoa`` of
``JSON.stringify``, standard base64 without spaces; both decode here):

* legacy protocol: ``{"sid": ..., "ip": ..., "port": ...}`` from the
  ``session_id`` message; a viewer opens ``/subscribe/<sid>?IP=&port=``;
* today's protocol: ``{"room_name": ...}`` from ``livekit_room_info``; a
  viewer asks ``POST /watch-stream/<room_name>`` for room credentials.

A token is not a secret (watching needs an API key too).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from ..errors import TokenError


@dataclass(frozen=True)
class SessionToken:
    """A legacy session: its id, and the address of the machine that runs it."""

    sid: str
    ip: str
    port: int

    def encode(self) -> str:
        return _encode({"sid": self.sid, "ip": self.ip, "port": self.port})


@dataclass(frozen=True)
class RoomToken:
    """A session of today's protocol: its LiveKit room."""

    room_name: str

    def encode(self) -> str:
        return _encode({"room_name": self.room_name})


def _encode(payload: dict[str, object]) -> str:
    # json.dumps' default separators: byte for byte what the SDKs make.
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode(token: str) -> SessionToken | RoomToken:
    """The session ``token`` names; raises TokenError saying what is wrong with it."""
    text = token.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise TokenError(token, "it is not base64 of a JSON object") from None
    if not isinstance(data, dict):
        raise TokenError(token, "it is not base64 of a JSON object")
    if isinstance(data.get("room_name"), str) and data["room_name"]:
        return RoomToken(room_name=data["room_name"])
    sid, ip, port = data.get("sid"), data.get("ip"), data.get("port")
    if isinstance(sid, str) and sid and isinstance(ip, str) and ip and isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        return SessionToken(sid=sid, ip=ip, port=port)
    raise TokenError(token, "it names neither a room (room_name) nor a session (sid, ip, port)")
