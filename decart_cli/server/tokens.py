"""Room access tokens: LiveKit's JWT format, signed with a secret the server makes at start.

The control channel hands a client ``livekit_room_info {livekit_url, token}``;
the client presents the token to the room endpoint as
``Authorization: Bearer <token>``. The tokens are the ones a LiveKit server
takes (``livekit-api``'s :class:`~livekit.api.AccessToken`: HS256, a
``video`` grant naming the room), so a client cannot tell ours from the
service's. ``livekit.api`` is imported on first use: it brings aiohttp,
which legacy-only sessions never need.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from ..errors import ProtocolError

TOKEN_TTL = timedelta(hours=6)


@dataclass(frozen=True)
class RoomGrant:
    """Who a valid token lets in, and where."""

    room: str
    identity: str


class RoomTokens:
    """Issues and checks room tokens for one server."""

    def __init__(self, api_key: str = "decart-serve") -> None:
        self._api_key = api_key
        self._secret = secrets.token_urlsafe(32)

    def issue(self, room: str, identity: str, *, publish: bool = True) -> str:
        """A token that lets ``identity`` join ``room`` and subscribe (and publish, unless ``publish`` is false: a viewer)."""
        from livekit.api import AccessToken, VideoGrants

        grants = VideoGrants(room_join=True, room=room, can_publish=publish, can_subscribe=True, can_publish_data=publish)
        return (
            AccessToken(self._api_key, self._secret)
            .with_identity(identity)
            .with_name(identity)
            .with_grants(grants)
            .with_ttl(TOKEN_TTL)
            .to_jwt()
        )

    def verify(self, token: str) -> RoomGrant:
        """The grant in ``token``; raises ProtocolError when it is not one of ours, expired or not a room join."""
        from livekit.api import TokenVerifier

        try:
            claims = TokenVerifier(self._api_key, self._secret).verify(token)
        except Exception:  # jwt raises a family of errors; all mean "not valid here"
            raise ProtocolError("invalid token") from None
        video = claims.video
        if video is None or not video.room_join or not video.room or not claims.identity:
            raise ProtocolError("the token does not grant joining a room")
        return RoomGrant(room=video.room, identity=claims.identity)
