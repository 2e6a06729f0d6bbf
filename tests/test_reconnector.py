"""The reconnect rules (client/reconnect.py) on their own: what is final, how many attempts, the session ending meanwhile."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console

from decart_cli.client.ends import Ends, StopRequest
from decart_cli.client.reconnect import Reconnector
from decart_cli.config import SourceConfig
from decart_cli.errors import AuthError, ConnectError, SessionClosed
from decart_cli.media.sources import open_source
from decart_cli.ui.reporter import ConsoleReporter, SessionStats


def run(attempts: int, outcomes: list[Exception | None], *, stop_after: float | None = None, dropped: Exception | None = None):  # type: ignore[no-untyped-def]
    """Reconnect after ``dropped`` with attempts that fail or succeed in turn; (result or error, stats, calls, releases, banners, output)."""
    console = Console(file=io.StringIO(), width=200)
    stats = SessionStats(prompt="invert", model="m", output=None, transport="webrtc")
    calls: list[int] = []
    releases: list[int] = []
    banners: list[str] = []

    async def main():  # type: ignore[no-untyped-def]
        source = open_source(SourceConfig(spec="test", width=160, height=96, fps=25))
        stop = StopRequest()
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, stop.request, "stopped")
        ends = Ends(stop, source, None, duration=None, started=None)

        async def attempt() -> None:
            calls.append(1)
            outcome = outcomes[len(calls) - 1]
            if outcome is not None:
                raise outcome

        async def release() -> None:
            releases.append(1)

        reconnector = Reconnector(attempts, lambda n: 0.01, stats, ConsoleReporter(console, live=False), banner=banners.append)
        try:
            return await reconnector.run(dropped or ConnectError("the link dropped"), ends, attempt, release)
        except Exception as exc:  # noqa: BLE001 - returned for the test to look at
            return exc
        finally:
            ends.cancel()
            source.stop()

    result = asyncio.run(main())
    return result, stats, len(calls), len(releases), banners, console.file.getvalue()  # type: ignore[attr-defined]


def test_back_on_the_second_attempt() -> None:
    result, stats, calls, releases, banners, shown = run(3, [ConnectError("refused"), None])
    assert result is True and calls == 2
    assert releases == 2  # the dropped link, then the failed attempt
    assert stats.reconnects == 1 and stats.reconnect_attempt == 0
    assert banners == ["reconnecting 1/3", "reconnecting 2/3", ""]
    assert "reconnected after" in shown and "attempt 2/3" in shown and "prompt re-applied: invert" in shown


def test_every_attempt_failing_closes_the_session_with_the_last_reason() -> None:
    result, stats, calls, _, banners, _ = run(2, [ConnectError("refused"), ConnectError("still refused")])
    assert isinstance(result, SessionClosed) and calls == 2
    assert "in 2 attempts" in result.message and "still refused" in result.message
    assert banners[-1] == ""


@pytest.mark.parametrize("attempts", [0, 3])
def test_a_refused_key_or_no_attempts_is_final(attempts: int) -> None:
    dropped = AuthError("the server rejected the API key") if attempts else ConnectError("dropped")
    result, _, calls, releases, _, _ = run(attempts, [None], dropped=dropped)
    assert result is dropped and calls == 0 and releases == 0


def test_a_refused_key_on_an_attempt_is_final() -> None:
    result, _, calls, _, _, _ = run(3, [AuthError("the server rejected the API key"), None])
    assert isinstance(result, AuthError) and calls == 1


def test_the_session_ending_while_waiting_stops_reconnecting() -> None:
    result, _, calls, _, banners, _ = run(3, [ConnectError("refused")] * 3, stop_after=0.0)
    assert result is False and calls <= 1 and banners[-1] == ""
