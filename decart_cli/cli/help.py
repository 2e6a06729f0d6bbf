"""How ``--help`` reads: a word that says what each value is, nothing beside a flag, and an example per command.

Typer labels an option without a metavar by its Python type (``<bool>``
beside a flag, ``<int>`` beside ``-v``, ``<float range>``): :func:`tidy`
walks the command tree once, before it runs, and names every value instead.
"""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, str] = {
    "edit": "decart edit -i sample -p 'add sunglasses' -o out.mp4",
    "watch": "decart watch TOKEN --url ws://127.0.0.1:8765",
    "serve": "decart serve --port 8765",
    "models": "decart models --edits",
    "bench": "decart bench --duration 10",
    "engine": "decart bench engine -p 'cartoon with a hat'",
    "doctor": "decart doctor -i 0",
}
"""One example line per command, shown under its options."""

_BY_TYPE = {"int": "N", "integer": "N", "float": "NUMBER", "path": "FILE", "text": "TEXT", "str": "TEXT"}


def metavar_for(param: Any) -> str:
    """A value's name in ``--help``: ``SECONDS`` for a duration, ``N`` for a count, ``FILE`` for a path, else by its type."""
    name = (param.name or "").lower()
    if any(word in name for word in ("seconds", "timeout", "duration", "warmup", "delay")):
        return "SECONDS"
    if name.endswith("_ms"):
        return "MS"
    descriptor = getattr(param, "type_descriptor", None)
    kind = "path" if descriptor is not None and descriptor.is_path else str(param.bare_type()).lower() if hasattr(param, "bare_type") else ""
    if kind.startswith("list["):
        kind = kind[5:-1]
    named = {"host": "ADDRESS", "engine": "MODULE:CLASS", "prompt": "PROMPT", "model": "NAME"}
    if name in named:
        return named[name]
    if name in ("url",):
        return "URL"
    if "key" in name and kind != "path":
        return "KEY"
    return _BY_TYPE.get(kind, name.upper() or "VALUE")


def tidy(command: Any, name: str | None = None) -> None:
    """Give every option of ``command`` and its subcommands a metavar (flags and counts: none) and an example epilog."""
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            param.metavar = param.metavar or (param.name or "value").upper()
            param.display_type_rich = lambda ctx: None  # its name says it; Typer would add "<str>"
            continue
        if getattr(param, "param_type_name", "") != "option":
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
            if getattr(param, "count", False):
                param.show_default = False  # "[default: 0]" beside -v says nothing
        elif param.metavar is None:
            param.metavar = metavar_for(param)
    if hasattr(command, "get_help_option"):
        command.get_help_option = _bare(command.get_help_option)
    example = EXAMPLES.get(name or "")
    if example and not getattr(command, "epilog", None):
        command.epilog = f"Example: {example}"
    for sub_name, sub in getattr(command, "commands", {}).items():
        tidy(sub, sub_name)


def _bare(get_help_option: Any) -> Any:
    """``get_help_option`` whose option (made when help is asked for, so not among ``params``) shows no metavar."""

    def wrapped(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    return wrapped
