"""What the wanted edit promises (client/wanted.py), over real links to a real `decart serve`.

Refusals come from the scripted proxy (tests/scripted_server.py): it answers
the prompts a test names with ``prompt_ack success=false`` in the server's
stead, passes everything else on, and keeps what the client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from decart_cli import protocol as p
from decart_cli.client.webrtc import WebRTCLink
from decart_cli.client.wanted import prompt_line
from decart_cli.config import SourceConfig
from decart_cli.errors import PromptRejected
from decart_cli.media.sources import open_source
from decart_cli.models import DEFAULT_MODEL
from scripted_server import Link as ProxyLink
from scripted_server import Raw, kind, message, scripted_server
from test_link import Owner, open_link, url_of


class Refusing:
    """The proxy's script: refuse the prompts in :attr:`refused` (text: why), and keep every prompt and message kind the client sent."""

    def __init__(self, refused: dict[str, str] | None = None, *, images_accepted: int | None = None) -> None:
        self.refused = refused or {}
        self.images_accepted = images_accepted
        """Refuse every image after this many (None: pass them all on)."""
        self.kinds: list[str] = []
        self.prompts: list[str] = []
        self.images = 0

    async def from_client(self, link: ProxyLink, raw: Raw) -> None:
        self.kinds.append(kind(raw))
        if kind(raw) == "set_image" and json.loads(raw).get("image_data"):
            self.images += 1
            if self.images_accepted is not None and self.images > self.images_accepted:
                await link.to_client(message("set_image_ack", success=False, error="image too large"))
                return
        if kind(raw) == "prompt":
            text = json.loads(raw)["prompt"]
            self.prompts.append(text)
            if text in self.refused:
                await link.to_client(message("prompt_ack", prompt=text, success=False, error=self.refused[text]))
                return
        await link.to_server(raw)


@contextlib.contextmanager
def refusing(server, script: Refusing) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with scripted_server(server.url, from_client=script.from_client) as url:
        yield url


class Reconnecting(Owner):
    """An owner whose links after the first are reconnects (``apply(initial=False)``), as the session's are."""

    def __init__(self, prompt: str | None) -> None:
        super().__init__(prompt)
        self.links = 0

    async def initial_state(self, link) -> None:  # type: ignore[no-untyped-def]
        self.links += 1
        await self.wanted.apply(link, initial=self.links == 1)


def printed(owner: Owner) -> str:
    return owner.console.file.getvalue()  # type: ignore[attr-defined]


async def closing(link: WebRTCLink, source: object) -> None:
    await link.close()
    source.stop()  # type: ignore[attr-defined]


async def reconnected(url: str, owner: Reconnecting, meanwhile: Awaitable[None] | None = None, model: str = DEFAULT_MODEL) -> Reconnecting:
    """Open a link, close it, await ``meanwhile`` (what is typed while reconnecting), open the next one (a reconnect): media starts on both."""
    link, source = await open_link(url, owner, model)
    await closing(link, source)
    if meanwhile is not None:
        await meanwhile
    link, source = await open_link(url, owner, model)  # the reconnect: whatever it refuses is not fatal
    try:
        assert owner.media_started == 2
    finally:
        await closing(link, source)
    return owner


def typed_on_a_link(server, script: Refusing, line: str) -> Owner:  # type: ignore[no-untyped-def]
    """The owner of a link (through the proxy) opened with "invert the colors", after ``line`` was typed on it; the link stays up."""

    async def main(url: str) -> Owner:
        owner = Owner("invert the colors")
        link, source = await open_link(url, owner)
        try:
            await owner.wanted.set_prompt(line, link)
            assert not link.closed.done()
        finally:
            await closing(link, source)
        return owner

    with refusing(server, script) as url:
        return asyncio.run(main(url))


def test_a_refused_prompt_on_the_first_link_is_fatal_and_no_media_starts(server) -> None:  # type: ignore[no-untyped-def]
    """apply(initial=True) sends the prompt before the offer; a refusal raises PromptRejected and the link never starts media."""
    script = Refusing({"paint it purple": "not today"})

    async def main(url: str) -> Owner:
        owner = Owner("paint it purple")
        source = open_source(SourceConfig(spec="test", width=320, height=192, fps=25))
        link = WebRTCLink(url_of(url), owner, connect_timeout=15, ack_timeout=15)
        try:
            with pytest.raises(PromptRejected, match="not today"):
                await link.open(source)
        finally:
            await closing(link, source)
        return owner

    with refusing(server, script) as url:
        owner = asyncio.run(main(url))
    assert script.prompts == ["paint it purple"]
    assert "offer" not in script.kinds  # the refusal came before any media was negotiated
    assert owner.media_started == 0
    assert owner.stats.prompt == ""


def test_a_refused_prompt_on_a_reconnect_keeps_the_last_accepted_one(server) -> None:  # type: ignore[no-untyped-def]
    """apply(initial=False): a refused wanted prompt warns "(keeping: <last accepted>)", re-sends that one, and it becomes the prompt."""
    script = Refusing({"paint it purple": "not today"})

    async def main(url: str) -> Reconnecting:
        owner = Reconnecting("invert the colors")
        return await reconnected(url, owner, owner.wanted.set_prompt("paint it purple", None))

    with refusing(server, script) as url:
        owner = asyncio.run(main(url))
    assert script.prompts == ["invert the colors", "paint it purple", "invert the colors"]
    assert "prompt refused: not today (keeping: invert the colors)" in printed(owner)
    assert owner.wanted.prompt == owner.stats.prompt == "invert the colors"


def test_an_image_refused_on_a_reconnect_is_dropped_and_the_prompt_goes_alone(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """apply(initial=False): an image the new link refuses warns "(going on without the image)", and the prompt is sent alone and accepted."""
    script = Refusing(images_accepted=1)
    picture = tmp_path / "face.png"
    cv2.imwrite(str(picture), np.full((32, 48, 3), 120, np.uint8))

    async def main(url: str) -> Reconnecting:
        owner = Reconnecting("invert the colors")
        await owner.wanted.set_image(str(picture), None)
        return await reconnected(url, owner, model="lucy_2_rt")  # a legacy model that takes a reference image

    with refusing(server, script) as url:
        owner = asyncio.run(main(url))
    assert script.images == 2 and script.prompts == ["invert the colors"]  # the second time, the prompt alone
    assert "image refused: image too large (going on without the image)" in printed(owner)
    assert owner.wanted.image is None and owner.stats.prompt == "invert the colors"


def test_an_image_sent_as_the_link_drops_is_kept_for_the_next_one(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """set_image on a link that has just closed says "image kept until reconnected: ..." (as a prompt does) when the session reconnects."""
    picture = tmp_path / "face.png"
    cv2.imwrite(str(picture), np.full((32, 48, 3), 120, np.uint8))

    async def main() -> Owner:
        owner = Owner(None)
        owner.wanted.reconnects = True
        link, source = await open_link(server.url, owner)
        await closing(link, source)
        assert link.closed.done()
        await owner.wanted.set_image(str(picture), link)
        assert owner.wanted.image is not None
        return owner

    shown = printed(asyncio.run(main()))
    assert f"image kept until reconnected: {picture}" in shown, shown


def test_a_prompt_typed_with_no_link_is_kept_for_the_next_one(server) -> None:  # type: ignore[no-untyped-def]
    """set_prompt(line, None) says "prompt kept until reconnected: ..." and the next link's apply sends it."""

    async def main() -> Owner:
        owner = Owner(None)
        await owner.wanted.set_prompt("  make it grayscale ", None)
        assert "prompt kept until reconnected: make it grayscale" in printed(owner)
        assert owner.stats.prompt == ""  # not sent yet: the server has accepted nothing
        link, source = await open_link(server.url, owner)
        await closing(link, source)
        return owner

    owner = asyncio.run(main())
    assert owner.stats.prompt == "make it grayscale"  # acknowledged by the server
    assert "prompt: make it grayscale" in printed(owner)


def test_a_refused_prompt_leaves_the_previous_edit(server) -> None:  # type: ignore[no-untyped-def]
    """set_prompt refused by the server warns "(the previous edit stays)"; stats.prompt and prompt stay the accepted one."""
    script = Refusing({"paint it purple": "not today"})
    owner = typed_on_a_link(server, script, "paint it purple")
    assert script.prompts == ["invert the colors", "paint it purple"]
    assert "prompt refused: not today (the previous edit stays)" in printed(owner)
    assert owner.wanted.prompt == owner.stats.prompt == "invert the colors"


def test_a_prompt_over_the_length_limit_is_a_warning_and_is_not_sent(server) -> None:  # type: ignore[no-untyped-def]
    """set_prompt with a prompt longer than MAX_PROMPT_LENGTH warns and sends nothing; the previous prompt stays."""
    script = Refusing()
    owner = typed_on_a_link(server, script, "x" * (p.MAX_PROMPT_LENGTH + 1))
    assert script.prompts == ["invert the colors"]
    assert f"prompt is {p.MAX_PROMPT_LENGTH + 1} characters; the limit is {p.MAX_PROMPT_LENGTH} (the previous edit stays)" in printed(owner)
    assert owner.wanted.prompt == owner.stats.prompt == "invert the colors"


def test_an_unreadable_image_leaves_the_previous_one_and_none_is_kept_with_no_link(tmp_path: Path) -> None:
    """set_image of a file that is no image warns "(the previous image stays)"; ``none`` with no link is "image kept until reconnected: none"."""
    picture = tmp_path / "face.png"
    cv2.imwrite(str(picture), np.full((32, 48, 3), 120, np.uint8))
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")

    async def main() -> Owner:
        owner = Owner(None)
        await owner.wanted.set_image(str(picture), None)
        kept = owner.wanted.image
        assert kept is not None
        await owner.wanted.set_image(str(broken), None)
        assert owner.wanted.image == kept
        await owner.wanted.set_image("none", None)
        assert owner.wanted.image is None
        return owner

    shown = printed(asyncio.run(main()))
    assert f"image kept until reconnected: {picture}" in shown
    assert f"{broken} is not an image that can be read" in shown and "(the previous image stays)" in shown
    assert "image kept until reconnected: none" in shown


def test_on_sent_and_on_answer_see_each_prompt_and_the_answer(server) -> None:  # type: ignore[no-untyped-def]
    """on_sent sees each prompt as it goes; on_answer gets None when the server accepted it, the refusal's text when not."""
    script = Refusing({"paint it purple": "not today"})
    sent: list[str] = []
    answers: list[tuple[str, str | None]] = []

    async def main(url: str) -> None:
        owner = Owner("invert the colors")
        owner.wanted.on_sent = sent.append
        owner.wanted.on_answer = lambda text, refusal: answers.append((text, refusal))
        link, source = await open_link(url, owner)
        try:
            await owner.wanted.set_prompt("paint it purple", link)
            await owner.wanted.set_prompt("make it grayscale", link)
        finally:
            await closing(link, source)

    with refusing(server, script) as url:
        asyncio.run(main(url))
    assert sent == ["invert the colors", "paint it purple", "make it grayscale"]
    assert answers == [("invert the colors", None), ("paint it purple", "prompt refused: not today"), ("make it grayscale", None)]


def test_prompt_line_shows_the_note_in_brackets_when_there_is_one() -> None:
    """prompt_line is "prompt: <text>", with the server's note in brackets only when there is one."""
    assert prompt_line("add a hat", None) == "prompt: add a hat"
    assert prompt_line("add a hat", "") == "prompt: add a hat"
    assert prompt_line("add a sombrero", "waiting for a face") == "prompt: add a sombrero (waiting for a face)"
