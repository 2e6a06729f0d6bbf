"""A scripted WebSocket proxy in front of a real `decart serve`: a server that misbehaves on cue.

Each client socket is relayed to the real server at the same path and query
(model, key). Hooks see every message in one direction and decide what the
other side gets: forward it, change it, add to it, drop it, or close the
socket. Media (WebRTC) goes straight between the client and the real server,
so a session through the proxy records real edited frames.

    with scripted_server(server.url, from_server=hook) as url:
        run_decart("edit", ..., "--url", url)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from decart_cli.server.app import SERVER_HEADER

Raw = str | bytes


@dataclass
class Link:
    """One client's connection through the proxy."""

    client: ServerConnection
    upstream: ClientConnection

    async def to_client(self, raw: Raw) -> None:
        """Send ``raw`` to the client (a closed socket is ignored)."""
        with contextlib.suppress(ConnectionClosed):
            await self.client.send(raw)

    async def to_server(self, raw: Raw) -> None:
        """Send ``raw`` to the real server (a closed socket is ignored)."""
        with contextlib.suppress(ConnectionClosed):
            await self.upstream.send(raw)

    def later(self, delay: float, raw: Raw) -> None:
        """Send ``raw`` to the client ``delay`` seconds from now."""
        loop = asyncio.get_running_loop()
        loop.call_later(delay, lambda: loop.create_task(self.to_client(raw)))


Hook = Callable[[Link, Raw], Awaitable[None]]


def kind(raw: Raw) -> str:
    """The ``type`` of a JSON message ("" for anything else)."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return ""
    return data.get("type", "") if isinstance(data, dict) else ""


def message(kind: str, **fields: object) -> str:
    """The JSON text of a message of type ``kind``."""
    return json.dumps({"type": kind, **fields})


async def _pump(source, hook: Hook, link: Link) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ConnectionClosed):
        async for raw in source:
            await hook(link, raw)


@contextlib.contextmanager
def scripted_server(
    upstream: str,
    *,
    from_server: Hook | None = None,
    from_client: Hook | None = None,
    server_header: str | None = SERVER_HEADER,
    handshake: Callable[[str], int | None] | None = None,
) -> Iterator[str]:
    """Run the proxy to the server at ``upstream`` (``ws://host:port``) on a free port; yield its base URL.

    Its responses carry ``server_header`` (by default decart serve's, as a
    faithful proxy would pass on; None: websockets' own, an unknown server).
    ``handshake`` sees each request's path and may refuse it with an HTTP
    status (None: pass it on), as a server that checks the model before it
    upgrades does.
    """
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def handle(client: ServerConnection) -> None:
        async with websockets.connect(upstream + client.request.path, proxy=None, compression=None, max_size=None) as up:
            link = Link(client, up)
            tasks = [
                asyncio.create_task(_pump(up, from_server or Link.to_client, link)),
                asyncio.create_task(_pump(client, from_client or Link.to_server, link)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if up.close_code is not None:
                await client.close(up.close_code, up.close_reason or "")

    def check(connection: ServerConnection, request: Request) -> Response | None:
        status = handshake(request.path) if handshake is not None else None
        return None if status is None else connection.respond(status, "refused\n")

    async def main() -> None:
        options: dict[str, object] = {"process_request": check}
        if server_header is not None:
            options["server_header"] = server_header
        async with websockets.serve(handle, "127.0.0.1", 0, compression=None, max_size=None, **options) as server:
            holder["port"] = server.sockets[0].getsockname()[1]
            stop = asyncio.Event()
            holder["stop"] = stop
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), name="scripted-server", daemon=True)
    thread.start()
    assert ready.wait(10), "the scripted server did not start"
    try:
        yield f"ws://127.0.0.1:{holder['port']}"
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(10)
        loop.close()
