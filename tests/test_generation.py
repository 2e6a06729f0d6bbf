"""`--transport auto`'s question to an unknown server: does it speak today's protocol? Real servers, real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import assert_clean_failure, decode, run_decart
from decart_cli.client.generation import ask_generation
from decart_cli.errors import AuthError
from decart_cli.models import LEGACY, names_of
from decart_cli.protocol import stream_url
from scripted_server import Link, Raw, kind, message, scripted_server


def ask(base: str, key: str = "k") -> object:
    return asyncio.run(ask_generation(stream_url(base, api_key=key, model="lucy-latest", livekit=True), timeout=5))


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
        answer = asyncio.run(ask_generation(stream_url(url, api_key="k", model="lucy-latest", livekit=True), timeout=1))
    assert not answer.livekit and "no answer to livekit_join" in answer.reason

    async def bad_key(link: Link, raw: Raw) -> None:
        await link.to_client(message("error", error="invalid api key"))

    with scripted_server(server.url, from_client=bad_key, server_header=None) as url, pytest.raises(AuthError):
        ask(url)


def today_refused_at_the_handshake(path: str) -> int | None:
    """A legacy-only server that checks the model before it upgrades: 400 for any model it does not know."""
    legacy = names_of(LEGACY).split(", ")
    return None if any(f"model={name}" in path for name in legacy) else 400


def test_a_handshake_refused_for_a_todays_model_means_legacy_only(server) -> None:
    """HTTP 400 at the handshake for a today's model reads as a legacy-only server, with the status as the reason."""
    with scripted_server(server.url, server_header=None, handshake=today_refused_at_the_handshake) as url:
        answer = ask(url)
    assert not answer.livekit and "HTTP 400" in answer.reason


def test_auto_goes_on_with_the_legacy_model_when_the_handshake_refuses_todays(server, tmp_path: Path) -> None:
    """edit --url --api-key without -m against a legacy-only server that answers 400: the legacy default, said once."""
    out = tmp_path / "out.mp4"
    with scripted_server(server.url, server_header=None, handshake=today_refused_at_the_handshake) as url:
        result = run_decart("edit", "--url", url, "--api-key", "KEY", "-i", "test", "-p", "invert the colors", "--no-show", "-o", str(out), "--duration", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("does not speak today's protocol") == 1, result.stderr
    assert "HTTP 400" in result.stderr and "Traceback" not in result.stderr
    assert len(decode(out).frames) > 20


def test_an_explicit_todays_model_refused_at_the_handshake_names_the_fix(server, tmp_path: Path) -> None:
    """-m with a today's model against that server: exit 1, the status and what to check, no fallback."""
    with scripted_server(server.url, server_header=None, handshake=today_refused_at_the_handshake) as url:
        result = run_decart("edit", "--url", url, "--api-key", "KEY", "-m", "lucy-latest", "-i", "test", "-p", "x", "--no-show", "-o", str(tmp_path / "o.mp4"), "--duration", "2")
    assert_clean_failure(result, 1, "refused the connection (HTTP 400)")
