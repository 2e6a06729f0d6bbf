"""`--transport auto`'s question to an unknown server: does it speak today's protocol? Real servers, real sockets."""

from __future__ import annotations

import asyncio

import pytest

from decart_cli.client.probe import probe
from decart_cli.errors import AuthError
from decart_cli.protocol import stream_url
from scripted_server import Link, Raw, kind, message, scripted_server


def ask(base: str, key: str = "k") -> object:
    return asyncio.run(probe(stream_url(base, api_key=key, model="lucy-latest", livekit=True), timeout=5))


def test_decart_serve_is_known_by_its_server_header(server) -> None:
    """decart serve says who it is: no livekit_join is sent (auto then takes the faster legacy path)."""
    answer = ask(server.url)
    assert answer.decart_serve and not answer.livekit


def test_an_unknown_server_that_answers_livekit_join_speaks_todays_protocol(server) -> None:
    """A server without decart serve's header that answers livekit_join with room credentials: today's protocol."""
    with scripted_server(server.url, server_header=None) as url:
        answer = ask(url)
    assert answer.livekit and not answer.decart_serve


def test_refusal_silence_and_a_bad_key(server) -> None:
    """An error for livekit_join or no answer: legacy, with the reason; a refused key: AuthError, not a fallback."""

    async def refuse(link: Link, raw: Raw) -> None:
        if kind(raw) == "livekit_join":
            await link.to_client(message("error", error="unknown message type"))
        else:
            await link.to_server(raw)

    async def ignore(link: Link, raw: Raw) -> None:
        if kind(raw) != "livekit_join":
            await link.to_server(raw)

    with scripted_server(server.url, from_client=refuse, server_header=None) as url:
        answer = ask(url)
    assert not answer.livekit and answer.reason == "unknown message type"
    with scripted_server(server.url, from_client=ignore, server_header=None) as url:
        answer = asyncio.run(probe(stream_url(url, api_key="k", model="lucy-latest", livekit=True), timeout=1))
    assert not answer.livekit and "no answer to livekit_join" in answer.reason

    async def bad_key(link: Link, raw: Raw) -> None:
        await link.to_client(message("error", error="invalid api key"))

    with scripted_server(server.url, from_client=bad_key, server_header=None) as url, pytest.raises(AuthError):
        ask(url)
