"""The client's WebSocket: connect, send and receive protocol messages, acks.

:class:`Signaling` owns one WebSocket to the server. A reader task parses
every message (unknown types are logged and ignored), resolves waiters for
``answer`` and ``prompt_ack``, and hands everything else to ``on_message``.
A frame that is not a JSON object at all (truncated, binary) ends the
session with a ProtocolError; a known type with unexpected fields is
logged and skipped.
Failures are raised as the errors of :mod:`decart_cli.errors` (what a
server's error text means is :mod:`decart_cli.protocol.server_errors`);
nothing here prints, and no URL leaves this module unredacted.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .. import protocol as p
from ..engine.instructions import REFUSAL_PREFIX
from ..errors import AuthError, ConnectError, CreditsError, DecartError, HandshakeRefused, PromptRejected, ProtocolError, ServerError, SessionClosed
from ..protocol.server_errors import SESSION_LIMIT_MARKER, error_from_server, is_auth_failure

log = logging.getLogger(__name__)


class Signaling:
    """One WebSocket session with a realtime server."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 15.0,
        on_message: Callable[[p.Message], None] | None = None,
        max_size: int = 2**22,
    ) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._max_size = max_size
        self.on_message = on_message
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answer: asyncio.Future[p.Answer] | None = None
        self._acks: dict[str, list[asyncio.Future[p.PromptAck]]] = {}
        self._replies: dict[type[p.Message], list[asyncio.Future[p.Message]]] = {}
        """Waiters for replies matched by type only, first come first served (set_image_ack, livekit_room_info)."""
        self._last_error: str | None = None
        self.closed: asyncio.Future[DecartError] | None = None
        """Resolves with the error that ended the socket (SessionClosed after a clean close)."""

    @property
    def server_software(self) -> str:
        """The server's ``Server`` response header ("" before connecting or when it sent none)."""
        response = self._ws.response if self._ws is not None else None
        return response.headers.get("Server", "") if response is not None else ""

    @property
    def redacted_url(self) -> str:
        """The URL without its query (the API key), fit for messages and logs."""
        return p.display_url(self._url)

    async def connect(self) -> None:
        """Open the WebSocket; raise ConnectError, AuthError or BadURLError on failure."""
        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        where = self.redacted_url
        try:
            self._ws = await asyncio.wait_for(
                websockets.connect(self._url, open_timeout=None, max_size=self._max_size, proxy=None, compression=None),
                self._connect_timeout,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 402:
                raise CreditsError(f"the server at {where} says this API key has no credits left (HTTP 402)", "add credits to your Decart account, or use another key") from None
            if status in (429, 503):
                raise ConnectError(f"the server at {where} is at capacity (HTTP {status})", "try again in a minute") from None
            if status in (401, 403):
                raise AuthError(f"the server at {where} rejected the API key (HTTP {status})", fix="api_key") from None
            raise HandshakeRefused(f"the server at {where} refused the connection (HTTP {status})", status, fix="url_and_model") from None
        except InvalidURI:
            raise ConnectError(f"cannot connect to {where}: not a WebSocket URL", "use ws:// or wss://") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise ConnectError(f"no answer from {where} within {self._connect_timeout:g} s", fix="url_or_timeout") from None
        except InvalidHandshake:
            raise ConnectError(f"cannot connect to {where}: it does not answer as a WebSocket server", fix="url_host_port") from None
        except ssl.SSLCertVerificationError as exc:
            raise ConnectError(f"cannot connect to {where}: its TLS certificate is not trusted ({exc.verify_message})", fix="tls_trust") from None
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise ConnectError(f"cannot connect to {where} ({reason})", fix="url_running") from None
        self._reader = asyncio.create_task(self._read(), name="signaling-reader")

    async def send(self, message: p.Message) -> None:
        """Send one message; raise SessionClosed if the socket is gone."""
        if self._ws is None:
            raise SessionClosed("not connected")
        try:
            await self._ws.send(p.serialize(message))
        except ConnectionClosed:
            raise self._closed_error() from None

    async def request_prompt(self, text: str, *, enhance: bool = True, timeout: float = 15.0) -> p.PromptAck:
        """Send a prompt and wait for its ``prompt_ack`` (matched by text).

        Raises PromptRejected when the server refuses it, ServerError on timeout.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[p.PromptAck] = loop.create_future()
        self._acks.setdefault(text, []).append(waiter)
        try:
            await self.send(p.Prompt(prompt=text, enhance_prompt=enhance))
            ack = await self._wait(waiter, timeout, f"no prompt_ack within {timeout:g} s")
        finally:
            waiters = self._acks.get(text, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._acks.pop(text, None)
        if not ack.success:
            reason = ack.error or "no reason given"
            raise PromptRejected(f"prompt refused: {reason}", fix="local_edits" if reason.startswith(REFUSAL_PREFIX) else None)
        return ack

    async def request_image(self, image: str | None, *, prompt: str | None = None, enhance: bool = True, timeout: float = 15.0) -> p.SetImageAck:
        """Send ``set_image`` (base64 image, or None to clear it) and wait for its ``set_image_ack``.

        Raises PromptRejected when the server refuses it, ServerError on timeout.
        """
        message = p.SetImage(image_data=image, prompt=prompt, enhance_prompt=enhance if prompt is not None else None)
        ack = await self.request(message, p.SetImageAck, timeout, "no set_image_ack")
        assert isinstance(ack, p.SetImageAck)
        if not ack.success:
            raise PromptRejected(f"image refused: {ack.error or 'no reason given'}")
        return ack

    async def request(self, message: p.Message, reply: type[p.Message], timeout: float | None, what: str) -> p.Message:
        """Send ``message`` and wait for the next message of type ``reply``.

        ``timeout`` counts from the send; None waits as long as the socket stays open.
        """
        waiter: asyncio.Future[p.Message] = asyncio.get_running_loop().create_future()
        waiters = self._replies.setdefault(reply, [])
        waiters.append(waiter)
        try:
            await self.send(message)
            return await self._wait(waiter, timeout, what if timeout is None else f"{what} within {timeout:g} s")
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    async def wait_answer(self, timeout: float) -> p.Answer:
        """Wait for the server's ``answer`` to our offer."""
        if self._answer is None or self._answer.done():
            self._answer = asyncio.get_running_loop().create_future()
        return await self._wait(self._answer, timeout, f"no answer to the offer within {timeout:g} s")

    def expect_answer(self) -> None:
        """Start listening for an answer (call before sending the offer)."""
        self._answer = asyncio.get_running_loop().create_future()

    async def _wait(self, future: asyncio.Future, timeout: float | None, what: str):  # type: ignore[no-untyped-def]
        assert self.closed is not None
        done, _ = await asyncio.wait({future, self.closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            return future.result()
        if self.closed in done:
            raise self.closed.result()
        raise ServerError(f"{what} from {self.redacted_url}", fix="connect_timeout")

    async def _read(self) -> None:
        assert self._ws is not None and self.closed is not None
        error: DecartError | None = None
        try:
            async for raw in self._ws:
                try:
                    data = p.decode(raw)
                except ProtocolError as exc:
                    # Not a message at all (cut short, binary, not an object):
                    # the stream cannot be trusted, and waiting on would only
                    # end in a timeout that hides the cause.
                    error = ProtocolError(f"the server at {self.redacted_url} sent an invalid message: {exc}", fix="url_is_server")
                    break
                try:
                    message = p.from_dict(data)
                except ProtocolError as exc:
                    # A known type with fields we do not expect: the service
                    # may have changed a detail; one message is not worth the session.
                    log.warning("ignoring a malformed message from the server: %s", exc)
                    continue
                error = self._dispatch(message)
                if error is not None:
                    break
        except ConnectionClosed:
            pass
        except Exception as exc:  # pragma: no cover - defensive: the reader must settle `closed`
            log.debug("signaling reader failed", exc_info=True)
            error = SessionClosed(f"connection to {self.redacted_url} failed ({exc.__class__.__name__})")
        if error is None:
            error = self._closed_error()
        if not self.closed.done():
            self.closed.set_result(error)

    def _dispatch(self, message: p.Message) -> DecartError | None:
        if isinstance(message, p.Answer):
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(message)
            return None
        if isinstance(message, p.PromptAck):
            for waiter in self._acks.get(message.prompt, []):
                if not waiter.done():
                    waiter.set_result(message)
                    return None
            if message.note is not None and self.on_message is not None:
                self.on_message(message)  # the local server's news about the current prompt ("waiting for a face")
            else:
                log.debug("prompt_ack for a prompt nobody waits for")
            return None
        waiters = [w for w in self._replies.get(type(message), ()) if not w.done()]
        if waiters:
            waiters[0].set_result(message)
            if self.on_message is not None and not isinstance(message, p.SetImageAck):
                self.on_message(message)
            return None
        if isinstance(message, p.Error):
            self._last_error = message.error
            error = error_from_server(message.error)
            if isinstance(error, AuthError):
                return error
            if self.on_message is not None:
                self.on_message(message)
            return None
        if isinstance(message, p.Unknown):
            log.debug("ignoring message of unknown type %r", message.kind)
        if self.on_message is not None:
            self.on_message(message)
        return None

    def _closed_error(self) -> DecartError:
        ws = self._ws
        reason = ""
        if ws is not None and ws.close_reason:
            reason = ws.close_reason
        if reason and (is_auth_failure(reason) or SESSION_LIMIT_MARKER in reason.lower()):
            return error_from_server(reason)
        if self._last_error:
            return error_from_server(self._last_error)
        detail = f": {reason}" if reason else ""
        return SessionClosed(f"the server closed the connection{detail}")

    async def close(self) -> None:
        """Close the socket and stop the reader (idempotent)."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
