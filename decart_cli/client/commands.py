"""What a line typed during a session means: a prompt, or a ``/`` command (no I/O here).

A line that does not start with ``/`` is a prompt; ``//`` escapes a prompt
that starts with a slash (``//3 doors`` is the prompt ``/3 doors``). The
commands are the same on the interactive prompt line and in a pipe:
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CommandError

COMMANDS: dict[str, tuple[str, str]] = {
    "mirror": ("on|off", "flip the input horizontally (no argument: toggle)"),
    "enhance": ("on|off", "let the server enhance the prompts that follow (no argument: toggle)"),
    "image": ("FILE|none", "set or clear the reference image (models that take one)"),
    "snapshot": ("[FILE]", "save the current edited frame as a PNG"),
    "pause": ("", "stop sending frames (the session stays open)"),
    "resume": ("", "send frames again"),
    "quit": ("", "end the session (the recording is kept)"),
    "help": ("[edits]", "list these commands (edits: what the local engine can do)"),
}
"""Each command's argument syntax and what it does, in the order /help lists them."""


@dataclass(frozen=True)
class Prompt:
    """A new instruction for the server."""

    text: str


@dataclass(frozen=True)
class Command:
    """A ``/`` command; ``argument`` is the rest of the line, stripped ("" when none)."""

    name: str
    argument: str = ""


def help_lines() -> list[str]:
    """What ``/help`` shows: one line a command."""
    width = max(len(f"/{name} {syntax}".rstrip()) for name, (syntax, _) in COMMANDS.items())
    lines = [f"  {f'/{name} {syntax}'.rstrip():<{width}}  {what}" for name, (syntax, what) in COMMANDS.items()]
    return ["commands (any other line is a prompt; // starts a prompt with /):", *lines]


def parse_line(line: str) -> Prompt | Command | None:
    """What ``line`` asks for; None for a blank line. Raises :class:`CommandError` for a bad command."""
    text = line.strip()
    if not text:
        return None
    if text.startswith("//"):
        return Prompt(text[1:])
    if not text.startswith("/"):
        return Prompt(text)
    name, _, argument = text[1:].partition(" ")
    name, argument = name.lower(), argument.strip()
    if name not in COMMANDS:
        raise CommandError(name, "unknown command")
    if name in ("mirror", "enhance") and argument.lower() not in ("", "on", "off"):
        raise CommandError(name, f"takes on or off, not {argument!r}")
    if name == "image" and not argument:
        raise CommandError(name, "needs a file (or none to clear the image)")
    if name in ("pause", "resume", "quit") and argument:
        raise CommandError(name, "takes no argument")
    if name == "help" and argument.lower() not in ("", "edits"):
        raise CommandError(name, f"takes nothing or edits, not {argument!r}")
    return Command(name, argument)


def switch(argument: str, current: bool) -> bool:
    """The new state of an on/off command: ``on``, ``off``, or (no argument) the opposite of ``current``."""
    if not argument:
        return not current
    return argument.lower() == "on"
