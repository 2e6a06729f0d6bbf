"""What aiohttp's HTTP layer reports, as one line each: no tracebacks for bad requests, nothing of their bytes.

aiohttp's request handler logs a request it cannot parse (a line too long,
not HTTP at all) with ``logger.exception``: a traceback, and an exception
message that quotes the start of the offending line, where a query's key or
room token may be. :class:`HttpErrorLog` stands in for that logger (it is
given to ``web.AppRunner(logger=...)``): a malformed request becomes one
info line naming the client and what was wrong; a handler that fails (a bug)
one warning with the exception's class, its traceback only at debug level.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import http_exceptions

log = logging.getLogger("decart.server.http")

_WHAT = {
    http_exceptions.LineTooLong: "a request line or header is too long",
    http_exceptions.BadStatusLine: "it is not HTTP",  # BadHttpMethod (aiohttp 3.11+) is one
    http_exceptions.InvalidHeader: "a header is malformed",
    http_exceptions.InvalidURLError: "its URL is malformed",
}


def describe(exc: BaseException) -> str:
    """Why a request could not be read, without quoting any of it."""
    for kind, what in _WHAT.items():
        if isinstance(exc, kind):
            return what
    return "it is malformed"


class HttpErrorLog:
    """The logger aiohttp's request handler writes to (it calls ``debug``, ``exception`` and ``warning``)."""

    def debug(self, msg: str, *args: Any, exc_info: object = None, **_: Any) -> None:
        self._report(msg, args, exc_info, level=logging.DEBUG)

    def exception(self, msg: str, *args: Any, exc_info: object = None, **_: Any) -> None:
        self._report(msg, args, exc_info, level=logging.WARNING)

    def warning(self, msg: str, *args: Any, **_: Any) -> None:
        log.warning("%s", msg % args if args else msg)

    def _report(self, msg: str, args: tuple[Any, ...], exc_info: object, *, level: int) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        if isinstance(exc, http_exceptions.HttpProcessingError):
            remote = args[0] if args and msg.startswith("Error handling request from") else "a client"
            log.log(min(level, logging.INFO), "refused a request from %s (HTTP %s): %s", remote, exc.code or 400, describe(exc))
        elif exc is not None:
            log.log(level, "a request failed: %s", exc.__class__.__name__)
            log.debug("request failure detail", exc_info=exc)
        else:
            # aiohttp's own notes ("Ignored premature client disconnection",
            # "Missing return statement on request handler") name no request data.
            log.log(level, "%s", msg % args if args else msg)


__all__ = ["HttpErrorLog", "describe"]
