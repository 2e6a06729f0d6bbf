"""What a server's error text means: the service's error words, as our errors. No I/O.

:func:`error_from_server` maps an ``error`` message or a close reason (either
generation) to the :class:`~decart_cli.errors.DecartError` that says what
happened and what to do; :func:`is_auth_failure` tells a refused API key
(permanent) from the rest.
"""

from __future__ import annotations

from ..errors import AuthError, CreditsError, DecartError, ServerError

AUTH_MARKERS = ("invalid api key", "unauthorized", "401", "permission denied", "not allowed")


def is_auth_failure(text: str) -> bool:
    """True when a server's error text means the API key was refused (permanent)."""
    lowered = text.lower()
    return any(marker in lowered for marker in AUTH_MARKERS)


CREDIT_MARKERS = ("credit", "insufficient funds", "insufficient balance", "quota", "payment required", "402")
SESSION_LIMIT_MARKER = "concurrent session limit"
"""The service's close reason (1013) when a key already holds as many sessions as it may."""
CAPACITY_MARKERS = ("capacity", "server is full", "too many sessions", "no available", "overloaded", "busy")
MODEL_MARKERS = ("unknown model", "model not found", "not available", "not supported", "invalid model")


def error_from_server(text: str) -> DecartError:
    """The exception for a server's ``error`` message or close reason: what the server said, and what to do."""
    lowered = text.lower()
    if any(marker in lowered for marker in CREDIT_MARKERS):
        return CreditsError(f"the service says this API key has no credits left ({text})", "add credits to your Decart account, or use another key")
    if is_auth_failure(text):
        return AuthError(f"the server rejected the API key ({text})", fix="api_key")
    if SESSION_LIMIT_MARKER in lowered:
        return ServerError(f"this API key already holds as many sessions as it may ({text})", "end another session that uses this key (or its client tokens), or try again when one ends")
    if any(marker in lowered for marker in CAPACITY_MARKERS):
        return ServerError(f"the server is at capacity ({text})", "try again in a minute")
    if "resolution" in lowered:
        return ServerError(f"the server refused the resolution ({text})", fix="resolution")
    if "cannot receive" in lowered and "video" in lowered:
        return ServerError(f"the server refused the camera's codec ({text})", fix="codec")
    if "model" in lowered and any(marker in lowered for marker in MODEL_MARKERS):
        return ServerError(f"the server does not serve this model ({text})", fix="model")
    return ServerError(f"server error: {text}")
