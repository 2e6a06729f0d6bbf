"""Relay: one reader, bounded per-subscriber buffers, end-of-stream propagation."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from decart_cli.media.relay import Relay


class Frame:
    """A stand-in for av.VideoFrame: the relay never looks inside frames."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Frame({self.n})"


class CountingTrack(MediaStreamTrack):
    """Yields Frame(0..count-1), ``interval`` seconds apart, then MediaStreamError (count=None: forever)."""

    kind = "video"

    def __init__(self, count: int | None, interval: float = 0.0) -> None:
        super().__init__()
        self.count = count
        self.interval = interval
        self.sent = 0
        self.cancelled = False

    async def recv(self) -> Frame:
        if self.count is not None and self.sent >= self.count:
            raise MediaStreamError
        try:
            await asyncio.sleep(self.interval)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        frame = Frame(self.sent)
        self.sent += 1
        return frame


async def drain(track: MediaStreamTrack, timeout: float = 5.0) -> list[int]:
    """Read until MediaStreamError; fail (TimeoutError) rather than hang."""
    seen = []
    with pytest.raises(MediaStreamError):
        while True:
            frame = await asyncio.wait_for(track.recv(), timeout)
            seen.append(frame.n)
    return seen


async def until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def test_two_subscribers_newest_and_bounded():
    """A maxsize=1 and a maxsize=50 subscriber see the same stream: the newest frame vs every frame, in order."""

    async def main():
        relay = Relay(CountingTrack(10))
        live = relay.subscribe(maxsize=1, name="window")
        recorder = relay.subscribe(maxsize=50, name="recorder")
        await relay.start()
        await until(lambda: relay.ended)
        assert relay.frames == 10
        assert await drain(recorder) == list(range(10))
        assert await drain(live) == [9]
        assert (recorder.dropped, live.dropped) == (0, 9)
        assert live.readyState == "ended" and recorder.readyState == "ended"

    asyncio.run(main())


def test_slow_subscriber_with_maxsize_1_sees_only_the_newest():
    """A subscriber slower than the source skips frames but every frame it gets is the newest one at that moment."""

    async def main():
        source = CountingTrack(30, interval=0.01)
        relay = Relay(source)
        slow = relay.subscribe(maxsize=1)
        await relay.start()
        seen = []
        with pytest.raises(MediaStreamError):
            while True:
                frame = await asyncio.wait_for(slow.recv(), 5)
                assert frame.n == source.sent - 1  # nothing newer had arrived
                seen.append(frame.n)
                await asyncio.sleep(0.05)
        assert seen == sorted(seen) and len(set(seen)) == len(seen)
        assert 3 <= len(seen) <= 15
        assert seen[-1] == 29
        assert slow.dropped == 30 - len(seen)

    asyncio.run(main())


def test_bounded_subscriber_drops_the_oldest_and_counts():
    """A full maxsize=5 buffer drops its oldest frames, counts them, and keeps the 5 newest."""

    async def main():
        relay = Relay(CountingTrack(12))
        rec = relay.subscribe(maxsize=5)
        await relay.start()
        await until(lambda: relay.ended)
        assert rec.pending == 5
        assert (rec.received, rec.dropped) == (12, 7)
        assert await drain(rec) == [7, 8, 9, 10, 11]

    asyncio.run(main())


def test_end_of_source_wakes_a_waiting_subscriber():
    """A subscriber blocked in recv() gets MediaStreamError when the source ends, instead of hanging."""

    async def main():
        relay = Relay(CountingTrack(3, interval=0.02))
        sub = relay.subscribe(maxsize=50)
        await relay.start()
        assert await drain(sub, timeout=2) == [0, 1, 2]
        # A subscriber added after the end ends at once.
        late = relay.subscribe()
        assert await drain(late, timeout=1) == []

    asyncio.run(main())


def test_reader_drains_the_source_even_when_nobody_reads():
    """Once started, the relay empties the source as fast as it produces, whatever the subscribers do."""

    async def main():
        relay = Relay(CountingTrack(200))
        idle = relay.subscribe(maxsize=1)
        await relay.start()
        await until(lambda: relay.ended, timeout=2)
        assert relay.frames == 200
        assert idle.pending == 1 and idle.dropped == 199

    asyncio.run(main())


def test_first_recv_starts_the_relay_lazily():
    """Without start(), a subscriber's first recv() starts the reader."""

    async def main():
        relay = Relay(CountingTrack(2))
        sub = relay.subscribe(maxsize=10)
        await asyncio.sleep(0.02)
        assert relay.frames == 0  # nothing read before anyone asked
        assert await drain(sub) == [0, 1]

    asyncio.run(main())


def test_on_frame_sees_every_frame():
    """on_frame is called once per frame read, in order, and a failing callback does not stop the relay."""

    async def main():
        calls = []

        def on_frame(frame):
            calls.append(frame.n)
            if frame.n == 1:
                raise RuntimeError("stats bug")

        relay = Relay(CountingTrack(5), on_frame=on_frame)
        sub = relay.subscribe(maxsize=10)
        await relay.start()
        assert await drain(sub) == [0, 1, 2, 3, 4]
        assert calls == [0, 1, 2, 3, 4]

    asyncio.run(main())


def test_stop_cancels_the_reader_and_ends_subscribers():
    """stop() cancels the reader task (cancelling the pending source recv) and subscribers then end."""

    async def main():
        source = CountingTrack(None, interval=0.01)
        relay = Relay(source)
        sub = relay.subscribe(maxsize=1)
        await relay.start()
        await until(lambda: relay.frames >= 3)
        await relay.stop()
        assert relay._task is not None and relay._task.done()
        assert source.cancelled
        await drain(sub, timeout=1)
        assert relay.ended
        await relay.stop()  # again: harmless

    asyncio.run(main())


def test_stopped_subscriber_is_detached():
    """A subscriber that stops is no longer fed; the others carry on."""

    async def main():
        relay = Relay(CountingTrack(6, interval=0.005))
        a = relay.subscribe(maxsize=10)
        b = relay.subscribe(maxsize=10)
        b.stop()
        assert relay.subscribers == (a,)
        await relay.start()
        assert await drain(a) == list(range(6))
        assert b.received == 0
        with pytest.raises(MediaStreamError):
            await b.recv()

    asyncio.run(main())


def test_attach_switches_to_the_next_track_and_subscribers_go_on():
    """A persistent relay outlives a track that ends; attach() feeds the same subscribers from the next track."""

    async def main():
        relay = Relay(CountingTrack(3), persistent=True)
        sub = relay.subscribe(maxsize=10)
        await relay.start()
        await until(lambda: relay.frames == 3)
        await asyncio.sleep(0.05)
        assert not relay.ended and sub.readyState == "live"
        relay.attach(CountingTrack(2))
        await until(lambda: relay.frames == 5)
        await relay.stop()
        assert await drain(sub) == [0, 1, 2, 0, 1]

    asyncio.run(main())


def test_attach_stops_reading_the_previous_track():
    """After attach(), the previous track's pending recv is cancelled and it is read no more."""

    async def main():
        old = CountingTrack(None, interval=0.01)
        relay = Relay(old, persistent=True)
        relay.subscribe(maxsize=1)
        await relay.start()
        await until(lambda: relay.frames >= 2)
        relay.attach(CountingTrack(None, interval=0.01))
        await asyncio.sleep(0.05)
        assert old.cancelled
        read = old.sent
        await asyncio.sleep(0.05)
        assert old.sent == read
        await relay.stop()

    asyncio.run(main())


def test_detached_relay_holds_the_last_frame_in_real_time_until_the_next_track():
    """Between detach() and the next track's first frame the last frame repeats at the hold rate, unseen by on_frame."""

    async def main():
        seen = []
        relay = Relay(CountingTrack(None, interval=0.01), on_frame=lambda f: seen.append(f.n), persistent=True, hold=0.02)
        sub = relay.subscribe(maxsize=1000)
        await relay.start()
        await until(lambda: relay.frames >= 3)
        relay.detach()
        before = relay.frames
        await asyncio.sleep(0.21)
        assert 8 <= relay.held <= 12, relay.held  # 0.21 s at one per 0.02 s
        relay.attach(CountingTrack(None, interval=0.05))
        await until(lambda: relay.frames == before + 1)
        held = relay.held
        await until(lambda: relay.frames == before + 3)
        assert relay.held == held  # holding ended with the new track's first frame
        await relay.stop()
        assert seen == list(range(before)) + [0, 1, 2]
        assert await drain(sub) == list(range(before)) + [before - 1] * held + [0, 1, 2]

    asyncio.run(main())
