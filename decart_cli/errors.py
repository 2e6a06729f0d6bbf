"""The one exception tree of decart.

Every failure a user can meet is a :class:`DecartError`; each knows the
one-line message to show and the exit code to leave with. They become
output only at the CLI edge (``decart_cli.cli``); below it they are raised
and caught like any exception.

::

    DecartError                      exit 1: a runtime failure
    ├── UsageError                   exit 2: the command line asks for something impossible
    │   ├── UnknownModelError        --model names no realtime model
    │   ├── SourceError              --input is missing, unreadable or not video
    │   ├── ImageError               --image (or /image) is missing, not an image, or too big
    │   ├── VirtualCameraError       no virtual camera driver or device for --vcam
    │   ├── CueError                 a line of a cue sheet is not a time and a prompt or command
    │   ├── TokenError               `decart watch` was given something that is not a subscribe token
    │   └── BadURLError              --url is not a ws(s)/http(s) URL
    ├── ProtocolError                a message that does not follow the protocol
    ├── Refused                      decart serve refuses a client's request (key, token, origin, limit)
    ├── ConnectError                 the server cannot be reached or does not answer
    │   └── HandshakeRefused         it answered the WebSocket handshake with an HTTP error status
    ├── AuthError                    the server rejected the API key (permanent)
    │   └── CreditsError             the key has no credits left (permanent)
    ├── ServerError                  the server sent an ``error`` message
    ├── PromptRejected               the server refused a prompt (``prompt_ack success=false``)
    ├── CommandError                 a ``/`` command typed during a session is unknown or malformed
    ├── AudioError                   no audio input (microphone) could be opened: the session goes on without sound
    ├── SessionClosed                the server ended an established session
    ├── EngineError                  the editing engine failed
    │   └── UnsupportedPrompt        the engine cannot do what the prompt asks
    └── Interrupted                  exit 130: stopped by the user before the session started

Messages never contain the API key: URLs are redacted before they are
put in a message (see :func:`decart_cli.protocol.redact_url`).

What to do about a failure is said in the user's terms (flag names,
environment variables) only at the edge: a lower layer names the setting
to change as ``fix`` (a key of :data:`decart_cli.cli.fixes.FIXES`, with
``details`` for its blanks) and the CLI words it. ``hint`` is for advice
that names no flag.
"""

from __future__ import annotations

from collections.abc import Mapping


class DecartError(Exception):
    """Base of every decart failure; ``str(err)`` is the user's message."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, *, fix: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fix = fix
        """What to change, by name (worded by the CLI); None when ``hint`` says it all."""
        self.details = details
        """What the wording of ``fix`` fills in (e.g. the cameras found)."""

    def user_message(self, fixes: Mapping[str, str] | None = None) -> str:
        """The one line shown to the user: what went wrong and how to fix it (``fixes`` words :attr:`fix`)."""
        hint = self.hint
        if self.fix is not None and fixes is not None and self.fix in fixes:
            hint = fixes[self.fix].format(**self.details)
        if hint:
            return f"{self.message}: {hint}"
        return self.message


class UsageError(DecartError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


class UnknownModelError(UsageError):
    """The model name is not in the registry."""


class SourceError(UsageError):
    """The input source cannot be opened or read as video."""


class ImageError(UsageError):
    """A reference image cannot be read or is too large to send."""


class VirtualCameraError(UsageError):
    """No virtual camera could be opened (no driver, or not the device asked for)."""

    def __init__(self, device: str | None, reason: str, driver: str) -> None:
        self.device = device
        self.reason = reason
        what = f"cannot open the virtual camera {device}" if device else "no virtual camera found"
        super().__init__(f"{what} ({reason})", driver, fix="vcam_driver", driver=driver)


class CueError(UsageError):
    """A cue sheet has a bad line (found before the session starts)."""

    def __init__(self, sheet: str, line: int, problem: str, hint: str) -> None:
        self.sheet = sheet
        self.line = line
        self.problem = problem
        super().__init__(f"{sheet} line {line}: {problem}", hint)


class TokenError(UsageError):
    """A subscribe token that cannot be read (``decart watch TOKEN``)."""

    def __init__(self, token: str, problem: str) -> None:
        self.token = token
        self.problem = problem
        shown = token if len(token) <= 24 else token[:20] + "…"
        super().__init__(f"{shown!r} is not a watch token ({problem})", "copy the `decart watch` command `decart edit` prints")


class BadURLError(UsageError):
    """The server URL cannot be used."""


class ProtocolError(DecartError):
    """A message that is not valid for the protocol."""


class Refused(DecartError):
    """``decart serve`` refuses what a client asks (a key, a client token, an origin, a limit, a body).

    ``str(err)`` is the text the client is sent (the hosted service's words
    where the SDKs match on them, such as ``invalid api key`` or ``Origin not
    allowed``); ``status`` is the HTTP status to answer with and
    ``close_code`` the WebSocket close code. Never holds a key or token.
    """

    def __init__(self, message: str, *, status: int = 401, close_code: int = 1008) -> None:
        super().__init__(message)
        self.status = status
        self.close_code = close_code


class ConnectError(DecartError):
    """The server could not be reached, or did not answer in time."""


class HandshakeRefused(ConnectError):
    """The server answered the WebSocket handshake with an HTTP error ``status`` (not a key or capacity refusal)."""

    def __init__(self, message: str, status: int, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.status = status


class AuthError(DecartError):
    """The server rejected the API key. Permanent: never retried."""


class CreditsError(AuthError):
    """The API key is valid but has no credits (or quota) left: as permanent as a refused key."""


class ServerError(DecartError):
    """The server reported an error."""


class PromptRejected(DecartError):
    """The server refused a prompt."""


class CommandError(DecartError):
    """A ``/`` command typed during a session is unknown or malformed (a warning: the session goes on)."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"/{name}: {problem}", "/help lists the commands")


class AudioError(DecartError):
    """No audio input could be opened (a warning: the session goes on without sound)."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"no microphone at {device} ({reason})", "going on without sound")


class SessionClosed(DecartError):
    """The server closed an established session."""


class EngineError(DecartError):
    """The editing engine failed."""


class UnsupportedPrompt(EngineError):
    """The engine cannot carry out this instruction; the message says what it can do."""


class Interrupted(DecartError):
    """The user stopped the session (Ctrl-C, SIGTERM) before it had started."""

    exit_code = 130
