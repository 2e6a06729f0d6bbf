"""Checks of option values shared by the commands."""

from __future__ import annotations

import typer


def at_least(low: float, *, strictly: bool = False, at_most: float | None = None):  # type: ignore[no-untyped-def]
    """A callback refusing values under ``low`` (or over ``at_most``); click's ``min=`` would print its range beside every option in ``--help``."""

    def check(value: float | None) -> float | None:
        if value is not None and (value < low or (strictly and value == low)):
            raise typer.BadParameter(f"must be {'more than' if strictly else 'at least'} {low:g}")
        if value is not None and at_most is not None and value > at_most:
            raise typer.BadParameter(f"must be at most {at_most:g}")
        return value

    return check
