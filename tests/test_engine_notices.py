"""Honest answers of the local engine: typos it respelled, things it draws as something close, and "waiting for a face"."""

from __future__ import annotations

import numpy as np
import pytest

from sample_frames import sample_shots

from decart_cli.engine.builtin import NO_FACE_GRACE, BuiltinEngine
from decart_cli.engine.instructions import STAND_INS, NotUnderstood, read, respell, vocabulary

FLAT = np.full((704 * 3 // 2, 1280), 128, np.uint8)
"""A frame with no face in it (grey)."""


@pytest.mark.parametrize(
    ("prompt", "kinds", "note"),
    [
        ("add sunglases", ["sunglasses"], "read 'sunglases' as 'sunglasses'"),
        ("make it look like a cartoonn", ["cartoon"], "read 'cartoonn' as 'cartoon'"),
        ("make it blak and white with snoww", ["black_and_white", "snow"], "read 'blak' as 'black'"),
        ("blur the backgroud", ["blur_background"], "read 'backgroud' as 'background'"),
        ("pixelat my face", ["pixelate_face"], "read 'pixelat' as 'pixelate'"),
    ],
)
def test_typos_are_read_as_the_nearest_known_word_and_said(prompt: str, kinds: list[str], note: str) -> None:
    """A misspelt word is read as the closest word the table knows, and the reading says so."""
    reading = read(prompt)
    assert [s.kind for s in reading.specs] == kinds
    assert note in reading.notes


def test_a_prompt_read_as_written_has_no_notes_and_free_nouns_are_not_respelled() -> None:
    """Respelling happens only when a part cannot be read as written: "change the lamp to red" keeps its lamp."""
    assert read("add sunglasses and make it sepia").notes == []
    reading = read("change the lamp to red")
    assert reading.specs[0].target == "lamp" and not any(note.startswith("read ") for note in reading.notes)


def test_unknown_words_too_far_from_any_known_one_are_still_refused_as_written() -> None:
    """A word nothing is close to is not guessed at: the refusal names the user's own words."""
    with pytest.raises(NotUnderstood) as info:
        read("add a dragon")
    assert "'add a dragon'" in str(info.value)
    assert respell("add a dragon") == ("add a dragon", [])


def test_the_vocabulary_comes_from_the_table() -> None:
    """Respelling's vocabulary is every word of the parser's rows (a row's word is known without being listed twice)."""
    words = vocabulary()
    assert {"sunglasses", "mustache", "background", "sepia", "snowflakes", "red"} <= words


@pytest.mark.parametrize(("prompt", "kind"), [("gimme sunglasses", "sunglasses"), ("pls make it sepia thx", "sepia"), ("i wanna see it in black and white", "black_and_white")])
def test_slang_is_read_as_what_it_stands_for(prompt: str, kind: str) -> None:
    """"gimme", "pls", "wanna" and friends are read as the words they stand for."""
    assert [s.kind for s in read(prompt).specs] == [kind]


@pytest.mark.parametrize(("prompt", "note"), [("put a sombrero on him", "'sombrero' is drawn as a plain hat"), ("anime style", "'anime' is drawn as the cartoon style"), ("add an eagle", "'eagle' is drawn as a plain bird")])
def test_a_stand_in_is_said_in_the_reading(prompt: str, note: str) -> None:
    """Words the engine draws as something close (STAND_INS) say what is drawn."""
    assert read(prompt).notes == [note]


def test_a_colour_for_a_thing_the_engine_cannot_find_says_what_it_recolours() -> None:
    """"make my eyes blue" is taken, and its reading says the most saturated colour is recoloured, not the eyes."""
    reading = read("make my eyes blue")
    assert reading.specs[0].target == "eyes"
    assert reading.notes == ["'eyes' is not something the engine finds: it recolours the picture's most saturated colour"]


def test_every_stand_in_word_is_taken_by_the_parser() -> None:
    """Each word of STAND_INS is one the parser accepts (a stand-in that is refused would be a dead row)."""
    for word in STAND_INS:
        assert read(f"add a {word}").specs or read(f"{word} style").specs, word


def test_a_face_edit_set_while_no_face_is_in_view_says_waiting_at_once() -> None:
    """With a faceless last frame, the engine's notice for "add sunglasses" is "waiting for a face" as the prompt is set."""
    engine = BuiltinEngine()
    engine.set_prompt("cartoon")
    engine.process(FLAT.copy())
    engine.set_prompt("add sunglasses")
    assert engine.notice() == "waiting for a face"
    engine.set_prompt("sepia")
    assert engine.notice() == ""


def test_a_face_edit_set_with_a_face_in_view_has_nothing_to_say() -> None:
    """With the sample's face in the last frame (passthrough before), "add a hat" has no notice."""
    engine = BuiltinEngine()
    engine.process(sample_shots(1)[0].image.copy())
    engine.set_prompt("add a hat")
    assert engine.notice() == ""


def test_waiting_for_a_face_comes_after_a_second_without_one_then_face_found() -> None:
    """Set before any frame, a face edit says nothing; after NO_FACE_GRACE faceless frames "waiting for a face"; then "face found"."""
    engine = BuiltinEngine()
    engine.set_prompt("add a sombrero")
    assert engine.notice() == "'sombrero' is drawn as a plain hat"
    for _ in range(NO_FACE_GRACE - 1):
        engine.process(FLAT.copy())
    assert "waiting" not in engine.notice()
    engine.process(FLAT.copy())
    assert engine.notice() == "waiting for a face; 'sombrero' is drawn as a plain hat"
    for shot in sample_shots(5):
        engine.process(shot.image.copy())
    assert engine.notice() == "face found; 'sombrero' is drawn as a plain hat"


def test_a_word_is_only_respelled_to_one_with_the_same_first_letter() -> None:
    """"vampire" is not read as "campfire" (as close by spelling, but another word): it is refused."""
    with pytest.raises(NotUnderstood):
        read("turn him into a vampire")
    assert respell("turn him into a vampire")[1] == []
