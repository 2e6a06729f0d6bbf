"""English instructions -> EditSpec lists (decart_cli.engine.instructions), and refusals."""

from __future__ import annotations

import pytest

from decart_cli.engine import instructions
from decart_cli.engine.colors import color_names
from decart_cli.engine.instructions import EXAMPLES, KINDS, NotUnderstood, capability_lines, describe, normalize, parse
from decart_cli.errors import UnsupportedPrompt


def triples(prompt: str) -> list[tuple[str, str | None, str | None]]:
    """(kind, target, colour name) of each spec ``prompt`` parses to."""
    return [(s.kind, s.target, s.color.name if s.color else None) for s in parse(prompt)]


BW = ("black_and_white", None, None)

# prompt -> the one spec it means
SINGLE = {
    # styles
    "black and white": BW,
    "make it black and white": BW,
    "Black & White": BW,
    "black-and-white": BW,
    "b&w": BW,
    "Grayscale.": BW,
    "greyscale": BW,
    "monochrome": BW,
    "desaturate the image": BW,
    "i want it to be black and white": BW,
    "sepia": ("sepia", None, None),
    "vintage": ("sepia", None, None),
    "make it look like an old film": ("sepia", None, None),
    "Could you make it look vintage?": ("sepia", None, None),
    "apply a sepia filter": ("sepia", None, None),
    "old movie style": ("sepia", None, None),
    "cartoon": ("cartoon", None, None),
    "cartoon style": ("cartoon", None, None),
    "anime": ("cartoon", None, None),
    "comic book": ("cartoon", None, None),
    "turn me into an anime character": ("cartoon", None, None),
    "in the style of a comic book": ("cartoon", None, None),
    "turn it into a pencil sketch": ("sketch", None, None),
    "pencil sketch": ("sketch", None, None),
    "make it a drawing": ("sketch", None, None),
    "heat map": ("thermal", None, None),
    "thermal camera": ("thermal", None, None),
    "make it look like a thermal camera": ("thermal", None, None),
    "night vision": ("night_vision", None, None),
    "turn on night vision": ("night_vision", None, None),
    "cyberpunk neon": ("neon", None, None),
    "neon": ("neon", None, None),
    "go cyberpunk": ("neon", None, None),
    "8-bit": ("pixelate", None, None),
    "8 bit style": ("pixelate", None, None),
    "pixelate the image": ("pixelate", None, None),
    "make it pixelated": ("pixelate", None, None),
    "blur it": ("blur", None, None),
    "blur": ("blur", None, None),
    "make the video blurry": ("blur", None, None),
    "invert the colors": ("invert", None, None),
    "Invert the colours!": ("invert", None, None),
    "invert": ("invert", None, None),
    "negative": ("invert", None, None),
    "make it brighter": ("brightness", None, None),
    "brighten it up": ("brightness", None, None),
    "make it darker": ("brightness", None, None),
    "warmer colours": ("warmth", None, None),
    "make the colors warmer": ("warmth", None, None),
    "cooler colors": ("warmth", None, None),
    "cool it down": ("warmth", None, None),
    # global tints
    "tint it red": ("tint", None, "red"),
    "TINT IT BLUE.": ("tint", None, "blue"),
    "tint red": ("tint", None, "red"),
    "make it blue": ("tint", None, "blue"),
    "make everything green": ("tint", None, "green"),
    "turn the image purple": ("tint", None, "purple"),
    "add a pink tint": ("tint", None, "pink"),
    "orange": ("tint", None, "orange"),
    "tint it magenta": ("tint", None, "fuchsia"),
    "Make it grey!": ("tint", None, "gray"),
    "make it dark blue": ("tint", None, "navy"),
    # regions
    "make the shirt blue": ("recolor_region", "shirt", "blue"),
    "change the shirt to red": ("recolor_region", "shirt", "red"),
    "change his jacket to green": ("recolor_region", "shirt", "green"),
    "turn the top purple": ("recolor_region", "shirt", "purple"),
    "make her t-shirt yellow": ("recolor_region", "shirt", "yellow"),
    "change the sweater to pink": ("recolor_region", "shirt", "pink"),
    "make his hoodie gold": ("recolor_region", "shirt", "gold"),
    "turn the suit navy": ("recolor_region", "shirt", "navy"),
    "change the shirt to a red one": ("recolor_region", "shirt", "red"),
    "change his jacket to dark blue": ("recolor_region", "shirt", "navy"),
    "give her a red shirt": ("recolor_region", "shirt", "red"),
    "make the hair blonde": ("recolor_region", "hair", "blonde"),
    "make the person's hair blonde": ("recolor_region", "hair", "blonde"),
    "dye my hair pink": ("recolor_region", "hair", "pink"),
    "give him blonde hair": ("recolor_region", "hair", "blonde"),
    "make her blonde": ("recolor_region", "hair", "blonde"),
    "make the background green": ("recolor_region", "background", "green"),
    "change the background to blue": ("recolor_region", "background", "blue"),
    "replace the background with white": ("recolor_region", "background", "white"),
    "blue background": ("recolor_region", "background", "blue"),
    "blur the background": ("blur_background", "background", None),
    "make the background blurry": ("blur_background", "background", None),
    "change the car to blue": ("recolor_region", "car", "blue"),
    "paint the car red": ("recolor_region", "car", "red"),
    "change the colour of the sofa to brown": ("recolor_region", "sofa", "brown"),
    "change the red car to blue": ("recolor_region", "red car", "blue"),
    # objects and privacy
    "add sunglasses": ("sunglasses", None, None),
    "put sunglasses on him": ("sunglasses", None, None),
    "give her sunglasses": ("sunglasses", None, None),
    "make him wear shades": ("sunglasses", None, None),
    "sunglasses": ("sunglasses", None, None),
    "add a hat": ("hat", None, None),
    "add a red hat": ("hat", None, "red"),
    "put a hat in blue on his head": ("hat", None, "blue"),
    "add a mustache": ("mustache", None, None),
    "add a moustache": ("mustache", None, None),
    "draw a moustache on his face": ("mustache", None, None),
    "pixelate my face": ("pixelate_face", "face", None),
    "censor his face": ("pixelate_face", "face", None),
    "add a mosaic over her face": ("pixelate_face", "face", None),
    "blur my face": ("blur_face", "face", None),
    "blur the face": ("blur_face", "face", None),
    "hide my face": ("blur_face", "face", None),
    # scene
    "add snow": ("snow", None, None),
    "make it snow": ("snow", None, None),
    "snowing": ("snow", None, None),
    "it's snowing": ("snow", None, None),
    "add rain": ("rain", None, None),
    "make it rain": ("rain", None, None),
    "add a bird flying overhead": ("bird", None, None),
    "add a bird": ("bird", None, None),
    "birds flying across the sky": ("bird", None, None),
}


@pytest.mark.parametrize("prompt, expected", SINGLE.items(), ids=list(SINGLE))
def test_phrasing_variants_give_the_expected_spec(prompt, expected):
    """Each everyday phrasing parses to exactly the one (kind, target, colour) it means."""
    assert triples(prompt) == [expected]


MULTI = {
    "black and white with sunglasses": [BW, ("sunglasses", None, None)],
    "Make it black & white, with sunglasses!": [BW, ("sunglasses", None, None)],
    "black and white and invert the colors": [BW, ("invert", None, None)],
    "black and white with sunglasses and snow": [BW, ("sunglasses", None, None), ("snow", None, None)],
    "change the shirt to red, add a hat and make it warmer": [
        ("recolor_region", "shirt", "red"), ("hat", None, None), ("warmth", None, None)],
    "cartoon with sunglasses and a bird flying overhead": [
        ("cartoon", None, None), ("sunglasses", None, None), ("bird", None, None)],
    "blur the background, add a mustache and rain": [
        ("blur_background", "background", None), ("mustache", None, None), ("rain", None, None)],
    "make the shirt red and the hair blonde": [("recolor_region", "shirt", "red"), ("recolor_region", "hair", "blonde")],
    "change the shirt to red and the hair to blonde": [("recolor_region", "shirt", "red"), ("recolor_region", "hair", "blonde")],
    "add sunglasses and a red hat": [("sunglasses", None, None), ("hat", None, "red")],
    "sepia then add snow plus a mustache": [("sepia", None, None), ("snow", None, None), ("mustache", None, None)],
    "make it sepia and also add snow": [("sepia", None, None), ("snow", None, None)],
    "blur the background as well as my face": [("blur_background", "background", None), ("blur_face", "face", None)],
    "tint it red and tint it blue": [("tint", None, "blue")],
    "reset, then add rain": [("rain", None, None)],
}


@pytest.mark.parametrize("prompt, expected", MULTI.items(), ids=list(MULTI))
def test_several_edits_in_one_prompt(prompt, expected):
    """Edits joined by and/with/commas/plus/then/also all parse, in order; a repeated kind keeps the last."""
    assert triples(prompt) == expected


@pytest.mark.parametrize("prompt", ["", "   ", "reset", "None", "original", "clear", "back to normal", "remove all effects", "please"])
def test_no_edit_prompts_parse_to_nothing(prompt):
    """An empty prompt and the words for 'no edit' give an empty list (passthrough)."""
    assert parse(prompt) == []


@pytest.mark.parametrize(
    "prompt, amount",
    [
        ("make it brighter", 1.3),
        ("make it a bit brighter", 1.15),
        ("much brighter", 1.45),
        ("make it darker", 0.7),
        ("slightly darker", 0.85),
        ("warmer", 1.0),
        ("a little warmer", 0.5),
        ("cooler", -1.0),
        ("very cold colors", -1.5),
        ("very blurry", 1.5),
        ("blur it a bit", 0.5),
        ("sepia", 1.0),
    ],
)
def test_strength_words_set_the_amount(prompt, amount):
    """'a bit' halves and 'very/much' raises a step; brightness is a factor around 1, warmth is signed."""
    (spec,) = parse(prompt)
    assert spec.amount == pytest.approx(amount)


def test_spec_text_holds_the_words_it_came_from():
    """Each spec's text is its own part of the prompt, normalised, so messages and logs can quote it."""
    specs = parse("Black & White, with SUNGLASSES please")
    assert [s.text for s in specs] == ["black and white", "sunglasses"]


def test_normalize_reads_punctuation_case_and_spelling_the_same():
    """Case, punctuation, '&', hyphens, possessives and British spellings normalise to one form."""
    assert normalize("Make the PERSON'S t-shirt Colour: Grey!") == "make the person t shirt color , gray ,"
    assert normalize("B&W") == "blackandwhite"


def test_module_docstring_examples_hold():
    """The examples in the instructions module's docstring are true (run as doctests)."""
    import doctest

    result = doctest.testmod(instructions)
    assert result.attempted >= 3 and result.failed == 0


def test_describe_names_the_plan():
    """describe() gives a few words per spec, joined by '+', or 'passthrough'."""
    assert describe(parse("black and white with sunglasses")) == "black and white + sunglasses"
    assert describe(parse("tint it red")) == "tint red"
    assert describe(parse("change his jacket to green")) == "shirt to green"
    assert describe([]) == "passthrough"


# --- refusals --------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, part",
    [
        ("remove the tree", "remove the tree"),
        ("make him dance", "make him dance"),
        ("replace the sky with mars", "replace the sky with mars"),
        ("tint it chartreuse", "tint it chartreuse"),
        ("add a dog", "add a dog"),
        ("black and white and remove the tree", "remove the tree"),
        ("add sunglasses, make him dance, add snow", "make him dance"),
    ],
)
def test_refusal_names_the_part_it_cannot_do(prompt, part):
    """A prompt with any part not understood is refused whole, naming that part (and only it)."""
    with pytest.raises(NotUnderstood) as info:
        parse(prompt)
    assert info.value.part == part
    assert isinstance(info.value, UnsupportedPrompt)
    message = str(info.value)
    assert f"cannot do '{part}'" in message
    if part != prompt:
        assert "none of the prompt applied" in message


def test_a_refusal_is_one_short_line_naming_the_nearest_edits():
    """One line under 200 characters: what failed and the two or three nearest edits (the client points to the whole list)."""
    cases = {
        "turn him into a vampire": "make me look like a zombie",
        "turn the background into a desert": "put me on a beach",
        "turn it into stained glass": "mosaic",
        "remove the tree and " + "x" * 400: "",
    }
    for prompt, expected in cases.items():
        with pytest.raises(UnsupportedPrompt) as info:
            parse(prompt)
        message = str(info.value)
        assert "\n" not in message and len(message) < 200, (len(message), message)
        named = message.split("nearest: ", 1)[1].split(", ")
        assert 2 <= len(named) <= 3 and all(name in EXAMPLES for name in named), message
        assert not expected or expected in named, message


def test_the_whole_list_names_every_edit_and_colour():
    """capability_lines (/help edits, decart models --edits): every example instruction and colour, in lines of at most 76 characters."""
    lines = capability_lines()
    text = " ".join(line.strip() for line in lines)
    for example in EXAMPLES:
        assert example in text
    for name in color_names():
        assert name in text
    assert max(len(line) for line in lines) <= 78


def test_every_example_in_the_refusal_parses():
    """The examples the refusal offers are themselves understood (with <color>/<thing> filled in)."""
    for example in EXAMPLES:
        filled = example.replace("<color>", "red").replace("<thing>", "car")
        assert parse(filled), example


def test_every_kind_the_parser_makes_has_a_factory():
    """Each kind parse() can produce is registered in the built-in engine, so none is refused late."""
    from decart_cli.engine.builtin import REGISTRY

    assert KINDS <= set(REGISTRY), KINDS - set(REGISTRY)


def test_refused_prompt_keeps_the_previous_plan_in_the_engine():
    """When the engine refuses a prompt (even one with understood parts) the previous edits stay."""
    from decart_cli.engine import BuiltinEngine

    engine = BuiltinEngine()
    engine.set_prompt("black and white with sunglasses")
    before = engine.specs
    with pytest.raises(UnsupportedPrompt, match="cannot do 'remove the tree'"):
        engine.set_prompt("add snow and remove the tree")
    assert engine.specs == before
    assert engine.describe() == "black and white + sunglasses"


def test_a_new_rule_is_one_line(monkeypatch):
    """Adding a style is one style() call: its noun and verb phrasings then parse."""
    monkeypatch.setattr(instructions, "RULES", list(instructions.RULES))
    monkeypatch.setattr(instructions, "KINDS", set(instructions.KINDS))
    instructions.style("watercolor", "watercolor|watercolor painting", "watercolorize")
    assert triples("make it look like a watercolor painting") == [("watercolor", None, None)]
    assert triples("watercolorize it and add a hat") == [("watercolor", None, None), ("hat", None, None)]
    assert "watercolor" in instructions.KINDS


def test_the_table_is_compiled_when_used_not_when_imported():
    """Loading the CLI compiles no row of the parser (~0.4 s saved on every start); warm() compiles them all."""
    import subprocess
    import sys

    code = (
        "import decart_cli.cli, decart_cli.engine.instructions as i;"
        "print(sum(p._compiled is not None for p, _ in i.RULES), len(i.RULES));"
        "from decart_cli.engine.builtin import BuiltinEngine; BuiltinEngine().warm();"
        "print(sum(p._compiled is not None for p, _ in i.RULES))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out[0] == "0" and int(out[1]) > 80 and out[2] == out[1], out
