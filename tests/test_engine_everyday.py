"""Everyday requests the local engine must understand: the everyday list (written before the vocabulary was extended) and phrasings written after it."""

from __future__ import annotations

from pathlib import Path

from decart_cli.engine.builtin import BuiltinEngine
from decart_cli.errors import UnsupportedPrompt

PROMPTS = Path(__file__).parent / "data" / "everyday_prompts.txt"
UNSEEN = Path(__file__).parent / "data" / "unseen_phrasings.txt"
ACCEPTED_WHEN_WRITTEN = 22
"""Of the 55 prompts, the engine took 22 when the list was written (several as stand-ins: a crown drew a hat)."""
ACCEPTED_NOW = 55
"""All 55 since the edits of issue 20."""


def everyday_prompts() -> list[str]:
    return [line.strip() for line in PROMPTS.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


def test_the_engine_takes_no_fewer_everyday_requests_than_when_the_list_was_written() -> None:
    """The acceptance rate on the everyday list only goes up (22 of 55 when it was written)."""
    prompts = everyday_prompts()
    accepted = []
    for prompt in prompts:
        engine = BuiltinEngine()
        try:
            engine.set_prompt(prompt)
        except UnsupportedPrompt:
            continue
        accepted.append(prompt)
    assert len(prompts) == 55
    assert len(accepted) >= ACCEPTED_NOW > ACCEPTED_WHEN_WRITTEN, f"{len(accepted)} of {len(prompts)} taken; refused: {sorted(set(prompts) - set(accepted))}"


def test_phrasings_nobody_wrote_into_the_table_are_read_as_meant() -> None:
    """Each line of tests/data/unseen_phrasings.txt (written after the table, without reading it) becomes the edits it names."""
    from decart_cli.engine.instructions import read

    cases = [line.split(" => ") for line in UNSEEN.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    assert len(cases) >= 38
    wrong = {}
    for phrasing, kinds in cases:
        try:
            got = " + ".join(s.kind for s in read(phrasing).specs)
        except UnsupportedPrompt as exc:
            got = f"refused: {exc}"
        if got != kinds:
            wrong[phrasing] = got
    assert not wrong, wrong
