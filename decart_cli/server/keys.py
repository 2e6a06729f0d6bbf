"""Who may use the server: its API key, the client tokens it issues, and the sessions each account holds.

The hosted service lets a backend trade its API key for a short-lived
*client token* (``POST /v1/client/tokens``) that a web page may hold: an
opaque ``ek_...`` key and a signed JWT twin, both accepted as ``api_key``
until they expire, optionally limited to some models (``allowedModels``) and
to pages of some origins (``allowedOrigins``, matched verbatim against the
WebSocket's ``Origin`` header). :class:`Keys` does the same for this server.

Every use belongs to an *account*: with ``--api-key`` there is one (the
key's); without one any key is accepted and each distinct key is its own
account. A client token belongs to the account of the key that made it.
Accounts are named by a digest, never by the key. Sessions are counted per
account (``sessions_per_key``): one more is refused with the service's 1013
``Concurrent session limit reached.``.

Refusals are :class:`~decart_cli.errors.Refused`, worded as the service
words them where the SDKs match on the words (``invalid api key`` and
``not allowed`` make them give up at once instead of retrying).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt

from ..errors import Refused

TOKEN_PREFIX = "ek_"
DEFAULT_TOKEN_SECONDS = 60
MAX_TOKEN_SECONDS = 3600
MAX_LISTED = 20
"""Most models or origins one client token may name (the service's limit)."""
MAX_TOKENS = 10_000
"""Client tokens kept at once; the oldest expired ones go first, then the oldest."""
JWT_ISSUER = "decart-serve"
CONCURRENT_LIMIT = "Concurrent session limit reached."
"""The service's close reason (code 1013) when a key holds as many sessions as it may."""


def iso(timestamp: float) -> str:
    """``timestamp`` as the service writes times: ISO 8601, UTC, ``Z``."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def account_of(key: str) -> str:
    """The account a plain key stands for: a digest, safe to log."""
    return "acct_" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ClientToken:
    """One client token: both its forms, whose it is, and what it allows."""

    key: str
    """The opaque form, ``ek_...``."""
    jwt: str
    """The signed form (HS256, claims as the service's: ``sub``, ``models``, ``origins``, ``constraints``, ``exp``)."""
    account: str
    expires_at: float
    models: tuple[str, ...] | None = None
    origins: tuple[str, ...] | None = None
    constraints: dict[str, Any] | None = None

    def answer(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/client/tokens``."""
        body: dict[str, Any] = {"apiKey": self.key, "token": self.jwt, "expiresAt": iso(self.expires_at)}
        permissions = {name: list(value) for name, value in (("models", self.models), ("origins", self.origins)) if value is not None}
        if permissions:
            body["permissions"] = permissions
        if self.constraints is not None:
            body["constraints"] = self.constraints
        return body


@dataclass(frozen=True)
class Access:
    """What a presented key opened: the account it counts against, and the client token if it was one."""

    account: str
    token: ClientToken | None = None


@dataclass
class Keys:
    """The server's key (or none: any key works), its client tokens, and the sessions of each account."""

    api_key: str | None = None
    sessions_per_key: int = 0
    """Sessions one account may hold at once; 0: no limit but the server's own."""
    clock: Callable[[], float] = time.time
    _tokens: dict[str, ClientToken] = field(default_factory=dict)
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _sessions: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ keys

    def admit(self, key: str | None) -> Access:
        """The account ``key`` opens; raises Refused (401, ``invalid api key``) when it opens none."""
        key = key or ""
        token = self._token_of(key)
        if token is not None:
            if token.expires_at <= self.clock():
                raise Refused(f"invalid api key: this client token expired at {iso(token.expires_at)}; ask your backend for a new one")
            return Access(token.account, token)
        if self.api_key is None:
            return Access(account_of(key))
        if hmac.compare_digest(key.encode(), self.api_key.encode()):
            return Access(account_of(key))
        raise Refused("invalid api key")

    def admit_stream(self, key: str | None, *, model: str, origin: str | None) -> Access:
        """:meth:`admit`, plus a client token's limits on the model and the page's origin."""
        access = self.admit(key)
        token = access.token
        if token is not None:
            if token.models is not None and model not in token.models:
                raise Refused(f"model {model[:60]!r} is not allowed for this client token (allowed: {', '.join(token.models) or 'none'})", status=403)
            if token.origins is not None and origin not in token.origins:
                raise Refused("Origin not allowed", status=403)
        return access

    def _token_of(self, key: str) -> ClientToken | None:
        if key.startswith(TOKEN_PREFIX):
            return self._tokens.get(key)
        if key.count(".") == 2:
            try:
                claims = jwt.decode(key, self._secret, algorithms=["HS256"], options={"verify_exp": False}, issuer=JWT_ISSUER)
            except jwt.PyJWTError:
                return None
            return self._tokens.get(str(claims.get("jti", "")))
        return None

    # ---------------------------------------------------------------- tokens

    def issue(self, access: Access, body: object) -> ClientToken:
        """A new client token for ``access``'s account from the JSON ``body`` of ``POST /v1/client/tokens``.

        Raises Refused: 403 when ``access`` is itself a client token, 400
        when the body is not what the service takes.
        """
        if access.token is not None:
            raise Refused("a client token cannot make client tokens; use your API key (on your backend)", status=403)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise Refused("the body must be a JSON object", status=400)
        seconds = body.get("expiresIn", DEFAULT_TOKEN_SECONDS)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_TOKEN_SECONDS:
            raise Refused(f"expiresIn must be a whole number of seconds from 1 to {MAX_TOKEN_SECONDS}", status=400)
        models = _names(body.get("allowedModels"), "allowedModels")
        origins = _names(body.get("allowedOrigins"), "allowedOrigins")
        constraints = body.get("constraints")
        if constraints is not None and not isinstance(constraints, dict):
            raise Refused("constraints must be an object", status=400)
        now = self.clock()
        key = TOKEN_PREFIX + secrets.token_urlsafe(24)
        claims: dict[str, Any] = {
            "iss": JWT_ISSUER,
            "sub": access.account,
            "jti": key,
            "iat": int(now),
            "exp": int(now + seconds),
        }
        for name, value in (("models", models), ("origins", origins), ("constraints", constraints)):
            if value is not None:
                claims[name] = list(value) if isinstance(value, tuple) else value
        token = ClientToken(
            key=key,
            jwt=jwt.encode(claims, self._secret, algorithm="HS256"),
            account=access.account,
            expires_at=now + seconds,
            models=models,
            origins=origins,
            constraints=constraints,
        )
        self._forget_old(now)
        self._tokens[key] = token
        return token

    def _forget_old(self, now: float) -> None:
        for key in [key for key, token in self._tokens.items() if token.expires_at <= now]:
            del self._tokens[key]
        while len(self._tokens) >= MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]

    # -------------------------------------------------------------- sessions

    def open_session(self, access: Access) -> None:
        """Count a session against ``access``'s account; raises Refused (1013) over :attr:`sessions_per_key`."""
        held = self._sessions.get(access.account, 0)
        if self.sessions_per_key > 0 and held >= self.sessions_per_key:
            raise Refused(CONCURRENT_LIMIT, status=429, close_code=1013)
        self._sessions[access.account] = held + 1

    def close_session(self, access: Access) -> None:
        held = self._sessions.get(access.account, 0) - 1
        if held > 0:
            self._sessions[access.account] = held
        else:
            self._sessions.pop(access.account, None)

    def active(self, access: Access) -> int:
        """Sessions ``access``'s account holds now."""
        return self._sessions.get(access.account, 0)


def _names(value: object, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_LISTED or not all(isinstance(item, str) and 0 < len(item) <= 200 for item in value):
        raise Refused(f"{name} must be a list of at most {MAX_LISTED} names", status=400)
    return tuple(value)
