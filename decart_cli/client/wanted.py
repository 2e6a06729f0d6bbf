"""The edit the user wants: a prompt and a reference image, applied through whichever link is up.

:class:`WantedEdit` outlives links. Every new link gets it before media
(:meth:`WantedEdit.apply`, from :meth:`LinkOwner.initial_state`), and each
prompt or ``/image`` the user types changes it (:meth:`WantedEdit.set_prompt`,
:meth:`WantedEdit.set_image`): sent at once when
a link is up, kept for the next one while reconnecting. What the server last
accepted is ``stats.prompt``; a refused prompt or image leaves it in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from .. import protocol as p
from ..errors import AuthError, DecartError, PromptRejected, ProtocolError
from ..ui.reporter import ConsoleReporter, SessionStats
from .link import Link

def prompt_line(prompt: str, note: str | None) -> str:
    """How an accepted prompt is shown: "prompt: add a hat", with the server's note in brackets ("(waiting for a face)")."""
    return f"prompt: {prompt} ({note})" if note else f"prompt: {prompt}"


class WantedEdit:
    """The latest prompt and image the user asked for (see the module docstring)."""

    def __init__(
        self,
        *,
        prompt: str | None,
        image: str | None,
        enhance: bool,
        reporter: ConsoleReporter,
        stats: SessionStats,
        reconnects: bool,
        on_sent: Callable[[str], None] | None = None,
        on_answer: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self.prompt = p.check_prompt(prompt) if prompt else None
        self.image = image
        """Base64 image data, or None."""
        self.enhance = enhance
        self.reporter = reporter
        self.stats = stats
        self.reconnects = reconnects
        """Whether a dropped link comes back (then what is typed meanwhile is kept for it)."""
        self.on_sent: Callable[[str], None] = on_sent or (lambda text: None)
        """Called as a prompt goes to the server (the session record's journal)."""
        self.on_answer: Callable[[str, str | None], None] = on_answer or (lambda text, refusal: None)
        """Called with the server's answer to a prompt: None when it accepted it, else why not."""

    async def _request(self, link: Link, text: str) -> str | None:
        """``link.request_prompt``, telling :attr:`on_sent` and :attr:`on_answer`; the server's note on how it took the prompt."""
        self.on_sent(text)
        try:
            note = await link.request_prompt(text, enhance=self.enhance)
        except PromptRejected as exc:
            self.on_answer(text, exc.message)
            raise
        self.on_answer(text, None)
        return note

    async def apply(self, link: Link, *, initial: bool) -> None:
        """Send the prompt (and image) to a new link, acknowledged, before media starts.

        The first time a refused prompt or image is fatal. On a reconnect it
        is a warning: a refused image is dropped and the prompt sent alone; a
        refused prompt gives way to the last one the server accepted.
        """
        wanted = self.prompt
        if self.image is not None:
            # One set_image carries the image and the prompt, as the service expects.
            if wanted:
                self.on_sent(wanted)
            try:
                await link.request_image(self.image, prompt=wanted, enhance=self.enhance)
            except PromptRejected as exc:
                if wanted:
                    self.on_answer(wanted, exc.message)
                if initial:
                    raise
                self.reporter.warning(f"{self.reporter.describe(exc)} (going on without the image)")
                self.image = None
            else:
                if wanted:
                    self.on_answer(wanted, None)
                self._applied(wanted, initial)
                return
        if not wanted:
            return
        try:
            note = await self._request(link, wanted)
        except PromptRejected as exc:
            applied = self.stats.prompt
            if initial or not applied or applied == wanted:
                raise
            self.reporter.warning(f"{self.reporter.describe(exc)} (keeping: {applied})")
            self.prompt = applied
            await self._request(link, applied)
            return
        self._applied(wanted, initial, note)

    def _applied(self, prompt: str | None, initial: bool, note: str | None = None) -> None:
        """Show a prompt the server accepted, with its note ("'sombrero' is drawn as a plain hat; waiting for a face")."""
        if prompt and (initial or prompt != self.stats.prompt):
            self.stats.prompt = prompt
            self.reporter.event(prompt_line(prompt, note), "yellow" if note and note.startswith("waiting") else "green")

    async def set_prompt(self, line: str, link: Link | None) -> None:
        """A new prompt the user typed; ``link`` is None while none is up (it is then kept for the next)."""
        try:
            text = p.check_prompt(line)
        except ProtocolError as exc:
            self.reporter.warning(f"{self.reporter.describe(exc)} (the previous edit stays)")
            return
        self.prompt = text
        if link is None:
            self.reporter.event(f"prompt kept until reconnected: {text}", "yellow")
            return
        try:
            note = await self._request(link, text)
        except PromptRejected as exc:
            self.prompt = self.stats.prompt or None
            self.reporter.warning(f"{self.reporter.describe(exc)} (the previous edit stays)")
            return
        except DecartError as exc:
            if self._kept_for_next_link(link, exc):
                self.reporter.event(f"prompt kept until reconnected: {text}", "yellow")
            else:
                self.reporter.warning(exc.message)
            return
        self._applied(text, initial=True, note=note)

    def _kept_for_next_link(self, link: Link, error: DecartError) -> bool:
        """Whether ``error`` came from ``link`` dropping while the session reconnects (what was sent is then kept for the next link)."""
        return link.closed.done() and self.reconnects and not isinstance(error, AuthError)

    async def set_image(self, argument: str, link: Link | None) -> None:
        """``/image FILE`` (or ``none``): load, then send or keep for the next link, as :meth:`set_prompt`."""
        from ..media.image import load_image

        try:
            image = None if argument.lower() == "none" else await asyncio.to_thread(load_image, Path(argument).expanduser())
        except DecartError as exc:
            self.reporter.warning(f"{self.reporter.describe(exc)} (the previous image stays)")
            return
        previous, self.image = self.image, image
        if link is None:
            self.reporter.event(f"image kept until reconnected: {argument}", "yellow")
            return
        try:
            await link.request_image(image)
        except PromptRejected as exc:
            self.image = previous
            self.reporter.warning(f"{exc.message} (the previous image stays)")
            return
        except DecartError as exc:
            if self._kept_for_next_link(link, exc):
                self.reporter.event(f"image kept until reconnected: {argument}", "yellow")
            else:
                self.reporter.warning(exc.message)
            return
        self.reporter.event(f"image: {argument}", "green")
