"""What ends a session (client/ends.py) and the client's races (client/race.py), with a real test-pattern source."""

from __future__ import annotations

import asyncio
import time

import pytest

from decart_cli.client.ends import Ended, Ends, StopRequest
from decart_cli.client.race import Overtaken, first_of, unless
from decart_cli.config import SourceConfig
from decart_cli.media.sources import open_source


async def slow(cancelled: asyncio.Event) -> None:
    """Ten seconds, unless cancelled (then ``cancelled`` is set)."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        cancelled.set()
        raise


def pattern():  # type: ignore[no-untyped-def]
    return open_source(SourceConfig(spec="test", width=160, height=96, fps=25))


def test_a_stop_request_keeps_its_first_reason_and_any_hurry() -> None:
    async def main() -> None:
        stop = StopRequest()
        assert not stop.is_set()
        stop.request("window closed")
        stop.request("interrupted", hurry=True)
        assert stop.is_set() and stop.reason == "window closed" and stop.hurry
        await asyncio.wait_for(stop.wait(), 1)

    asyncio.run(main())


@pytest.mark.parametrize("end", ["stop", "source", "duration"])
def test_each_end_is_named(end: str) -> None:
    async def main() -> set[str]:
        source = pattern()
        stop = StopRequest()
        ends = Ends(stop, source, None, duration=0.2 if end == "duration" else None, started=time.monotonic())
        if end == "stop":
            asyncio.get_running_loop().call_later(0.05, stop.request, "stopped")
        elif end == "source":
            asyncio.get_running_loop().call_later(0.05, source.stop)
        try:
            return await asyncio.wait_for(ends.race({}), 5)
        finally:
            ends.cancel()
            source.stop()

    assert end in asyncio.run(main())


def test_until_returns_the_result_or_raises_ended_and_cancels() -> None:
    async def main() -> None:
        source = pattern()
        stop = StopRequest()
        ends = Ends(stop, source, None, duration=None, started=None)
        assert await ends.until(asyncio.sleep(0.01, result="done")) == "done"
        cancelled = asyncio.Event()

        asyncio.get_running_loop().call_later(0.05, stop.request, "stopped")
        with pytest.raises(Ended):
            await ends.until(slow(cancelled))
        assert cancelled.is_set()
        ends.cancel()
        source.stop()

    asyncio.run(main())


def test_until_ends_at_the_duration() -> None:
    async def main() -> float:
        source = pattern()
        ends = Ends(StopRequest(), source, None, duration=0.2, started=time.monotonic())
        began = time.monotonic()
        with pytest.raises(Ended):
            await ends.until(asyncio.sleep(10))
        ends.cancel()
        source.stop()
        return time.monotonic() - began

    assert 0.1 < asyncio.run(main()) < 2


def test_unless_names_what_came_first_and_hands_back_a_late_result() -> None:
    async def main() -> None:
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        closed.set_result("gone")
        with pytest.raises(Overtaken) as overtaken:
            await unless(asyncio.sleep(10), {closed: "closed"})
        assert overtaken.value.names == {"closed"}
        with pytest.raises(Overtaken) as timed_out:
            await unless(asyncio.sleep(10), {}, timeout=0.01)
        assert timed_out.value.names == set()

        async def finishes_when_cancelled() -> str:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return "opened anyway"
            return "never"

        with pytest.raises(Overtaken) as late:
            await unless(finishes_when_cancelled(), {closed: "closed"})
        assert late.value.late == "opened anyway"
        assert await first_of({asyncio.sleep(0): "now", asyncio.sleep(10): "later"}) == {"now"}

    asyncio.run(main())


def test_unless_cancels_what_it_awaited_when_its_caller_is_cancelled() -> None:
    async def main() -> None:
        cancelled = asyncio.Event()

        waiter = asyncio.ensure_future(unless(slow(cancelled), {asyncio.sleep(10): "never"}))
        await asyncio.sleep(0.05)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert cancelled.is_set()

    asyncio.run(main())
