"""What a link promises (client/link.py) and the wanted edit it is given (client/wanted.py), against a real `decart serve`.

The link is the legacy one (WebRTCLink: signaling and one aiortc peer
connection), sending the real test pattern; the scripted proxy
(tests/scripted_server.py) makes the server misbehave where a test needs it.
"""

from __future__ import annotations

import asyncio
import io

import pytest

from rich.console import Console

from decart_cli import protocol as p
from decart_cli.client.link import Link
from decart_cli.client.wanted import WantedEdit
from decart_cli.client.webrtc import WebRTCLink
from decart_cli.config import SourceConfig
from decart_cli.errors import ServerError
from decart_cli.media.sources import open_source
from decart_cli.models import DEFAULT_MODEL, get_model
from decart_cli.ui.reporter import ConsoleReporter, SessionStats
from scripted_server import Link as ProxyLink
from scripted_server import Raw, kind, message, scripted_server


class Owner:
    """The session's side of the seam, as small as it gets: the wanted edit, and the messages kept."""

    def __init__(self, prompt: str | None) -> None:
        self.console = Console(file=io.StringIO(), width=200)
        self.stats = SessionStats(prompt="", model=DEFAULT_MODEL, output=None, transport="webrtc")
        self.wanted = WantedEdit(prompt=prompt, image=None, enhance=False, reporter=ConsoleReporter(self.console, live=False), stats=self.stats, reconnects=False)
        self.messages: list[p.Message] = []
        self.media_started = 0

    async def initial_state(self, link: Link) -> None:
        await self.wanted.apply(link, initial=True)

    def media_starting(self, link: Link) -> None:
        self.media_started += 1

    def on_message(self, message: p.Message) -> None:
        self.messages.append(message)


def url_of(base: str, model_name: str = DEFAULT_MODEL) -> str:
    model = get_model(model_name)
    return p.stream_url(base, api_key="test", model=model.name, path=model.path)


async def open_link(base: str, owner: Owner, model: str = DEFAULT_MODEL) -> tuple[WebRTCLink, object]:
    """A legacy link to ``base`` for ``model``, opened with the test pattern (link and source closed again if it fails)."""
    source = open_source(SourceConfig(spec="test", width=320, height=192, fps=25))
    link = WebRTCLink(url_of(base, model), owner, connect_timeout=15, ack_timeout=15)
    try:
        await link.open(source)
    except BaseException:
        await link.close()
        source.stop()
        raise
    return link, source


def test_open_sends_the_wanted_prompt_before_media_and_prompts_are_acknowledged(server) -> None:  # type: ignore[no-untyped-def]
    async def main() -> Owner:
        owner = Owner("invert the colors")
        link, source = await open_link(server.url, owner)
        try:
            assert link.remote is not None and link.remote.kind == "video"
            assert owner.media_started == 1
            assert owner.stats.prompt == "invert the colors"  # acknowledged before open returned
            assert not link.closed.done()
            await owner.wanted.set_prompt("make it grayscale", link)
            assert owner.stats.prompt == "make it grayscale"
            await asyncio.wait_for(link.remote.recv(), 15)  # an edited frame comes back
        finally:
            await link.close()
            await link.close()  # idempotent
            source.stop()  # type: ignore[attr-defined]
        return owner

    asyncio.run(main())


def test_begin_acknowledges_the_prompt_before_any_track_and_open_finishes(server) -> None:  # type: ignore[no-untyped-def]
    """begin() connects and has the prompt acknowledged with no track given; open() then only brings media up; a begun link closes cleanly."""

    async def main() -> None:
        owner = Owner("invert the colors")
        link = WebRTCLink(url_of(server.url), owner, connect_timeout=15, ack_timeout=15)
        link.begin()
        for _ in range(200):
            if "prompt acknowledged" in link.steps:
                break
            await asyncio.sleep(0.02)
        assert owner.stats.prompt == "invert the colors" and owner.media_started == 0
        source = open_source(SourceConfig(spec="test", width=320, height=192, fps=25))
        try:
            await link.open(source)
            assert owner.media_started == 1 and link.remote is not None
            await asyncio.wait_for(link.remote.recv(), 15)
        finally:
            await link.close()
            source.stop()
        unused = WebRTCLink(url_of(server.url), Owner(None), connect_timeout=15, ack_timeout=15)
        unused.begin()
        await asyncio.sleep(0)
        await unused.close()  # mid-connect: nothing raised, nothing left running
        assert unused._preparing is not None and unused._preparing.done()

    asyncio.run(main())


def test_an_error_before_the_first_frame_closes_the_link_with_it(server) -> None:  # type: ignore[no-untyped-def]
    async def refuse_after_answer(link: ProxyLink, raw: Raw) -> None:
        await link.to_client(raw)
        if kind(raw) == "answer":
            await link.to_client(message("error", error="the server is at capacity"))

    async def main(proxied: str) -> None:
        owner = Owner(None)
        source = open_source(SourceConfig(spec="test", width=320, height=192, fps=25))
        link = WebRTCLink(url_of(proxied), owner, connect_timeout=15, ack_timeout=15)
        try:
            with pytest.raises(ServerError, match="capacity") as raised:
                await link.open(source)
            assert link.closed.done() and link.closed.result() is raised.value
        finally:
            await link.close()
            source.stop()
        assert not any(isinstance(m, p.Error) for m in owner.messages)  # it failed the link, not passed up

    with scripted_server(server.url, from_server=refuse_after_answer) as proxied:
        asyncio.run(main(proxied))


def test_the_server_closing_the_socket_closes_the_link(server) -> None:  # type: ignore[no-untyped-def]
    closing = False

    async def close_after_answer(link: ProxyLink, raw: Raw) -> None:
        nonlocal closing
        await link.to_client(raw)
        if kind(raw) == "answer" and not closing:
            closing = True
            await asyncio.sleep(0.5)
            await link.client.close(1011, "going away")

    async def main(proxied: str) -> object:
        link, source = await open_link(proxied, Owner(None))
        try:
            return await asyncio.wait_for(asyncio.shield(link.closed), 10)
        finally:
            await link.close()
            source.stop()  # type: ignore[attr-defined]

    with scripted_server(server.url, from_server=close_after_answer) as proxied:
        assert asyncio.run(main(proxied)) is not None
