"""Everyday English edit instructions -> a list of :class:`EditSpec`. Pure: no numpy, no I/O.

:func:`parse` reads a prompt the way a person writes it::

    >>> [s.kind for s in parse("Make it black & white, with sunglasses!")]
    ['black_and_white', 'sunglasses']
    >>> s = parse("change his jacket to dark blue")[0]
    >>> (s.kind, s.target, s.color.name)
    ('recolor_region', 'shirt', 'navy')

How a prompt is read:

1. **Normalise**: lower case; ``&`` and ``+`` read as "and"/"plus";
   possessives dropped ("the person's hair" -> "the person hair"); "colour"
   -> "color", "moustache" -> "mustache"; hyphens, slashes and other
   punctuation become spaces, while ``, ; . ! ?`` separate instructions.
   Phrases that contain a joining word are protected first
   (:data:`PROTECTED`: "black and white", "b&w", "pen and ink").
2. **Split** on the joining words of :data:`JOINERS` ("and", "with",
   "plus", "then", "also", "as well as", commas, ...).
3. **Read each part** against :data:`RULES`, a table of
   ``(pattern, builder)`` rows tried in order; the first pattern that
   matches the whole part builds the spec. Polite filler ("please", "can
   you", "for me", "to the video") is ignored. A part that matches nothing
   is retried (a) joined with the next part, for "replace the background
   with blue", and (b) with the previous part's verb, for "make the shirt
   red and the hair blonde".
4. Parts that mean "no edit" ("reset", "none", "original", "") add nothing;
   a later spec of the same ``(kind, target)`` replaces an earlier one.

If any part is not understood the whole prompt is refused with
:class:`NotUnderstood` (an :class:`~decart_cli.errors.UnsupportedPrompt`)
naming that part and the nearest things the engine can do (:func:`nearest`;
the whole list is :data:`CAPABILITIES`).

Adding an edit is one row in :data:`RULES`, usually through :func:`style`
(a filter with its nouns and verbs: "make it X", "turn it into an X",
"X style", "apply an X filter", "X it") or :func:`thing` (an object added to
the picture: "add X", "put X on him", "give her X", "with X"); its factory
goes in the ``EDITS`` of the module that implements it.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from decart_cli.errors import UnsupportedPrompt

from .colors import ALIASES, COLORS, color_names, lookup_color
from .frame import EditSpec

__all__ = [
    "CAPABILITIES",
    "EXAMPLES",
    "KINDS",
    "NotUnderstood",
    "RULES",
    "compile_all",
    "describe",
    "describe_spec",
    "normalize",
    "parse",
    "refusal",
    "nearest",
    "capability_lines",
]


class NotUnderstood(UnsupportedPrompt):
    """A prompt (or a part of it) the local engine cannot do; ``part`` is the words it could not read."""

    def __init__(self, message: str, part: str) -> None:
        super().__init__(message)
        self.part = part


# --------------------------------------------------------------------------
# What the engine can do, as told to users

EXAMPLES: tuple[str, ...] = (
    "black and white",
    "sepia",
    "vintage",
    "cartoon",
    "pencil sketch",
    "thermal",
    "night vision",
    "neon",
    "pixelate",
    "blur",
    "invert the colors",
    "brighter",
    "darker",
    "warmer",
    "cooler",
    "tint it <color>",
    "make the shirt <color>",
    "make the hair <color>",
    "make the background <color>",
    "blur the background",
    "use the image as the background",
    "change the <thing> to <color>",
    "add sunglasses",
    "add a <color> hat",
    "add a mustache",
    "pixelate my face",
    "blur my face",
    "add snow",
    "add rain",
    "add a bird",
    # art styles (paintings)
    "watercolor",
    "oil painting",
    "pop art",
    "colored pencil",
    "mosaic",

    # times and weather (atmosphere)
    "make it night",
    "sunset",
    "add fog",
    "add fire",
    "add lightning",
    "a thunderstorm",

    # face looks (looks)
    "add a beard",
    "add glasses",
    "add makeup",
    "make me a clown",
    "make me look like a zombie",
    "make me a robot",
    "make me look older",
    "make me look younger",

    # accessories and patterns (wardrobe)
    "add a crown",
    "add a <color> cap",
    "add headphones",
    "add a <color> bow tie",
    "make the shirt striped",
    "plaid shirt",
    "polka dot shirt",

    # scenes behind the person (backdrops)
    "put me on a beach",
    "put me in a forest",
    "put me in space",
    "city skyline background",
    "office background",
    "solid <color> background",
    "remove the background",
)
"""One example instruction per thing the engine can do (for help and refusals)."""

CAPABILITIES = (
    "it can do: "
    + ", ".join(EXAMPLES)
    + "; combine them with 'and' (e.g. 'black and white with sunglasses'); colors: "
    + ", ".join(color_names())
)
"""What the built-in engine can do, in one line."""


def capability_lines(width: int = 76) -> list[str]:
    """What the built-in engine can do, as lines of at most ``width`` characters (``/help edits``, ``decart models --edits``)."""

    def wrapped(items: tuple[str, ...] | list[str]) -> list[str]:
        lines, line = [], ""
        for item in items:
            if line and len(line) + len(item) + 2 > width - 2:
                lines.append("  " + line + ",")
                line = ""
            line = f"{line}, {item}" if line else item
        return [*lines, "  " + line]

    return [
        "the local engine's edits (join them with 'and'):",
        *wrapped(EXAMPLES),
        "colors:",
        *wrapped(color_names()),
    ]


_FILLER = frozenset("a an the it me my him her his them their to into like look looks make makes made turn put add give gimme can you please some more with and of on in".split())


RELATED: dict[str, tuple[str, ...]] = {
    "dark": ("darker",),
    "lights": ("darker", "brighter"),
    "moustache": ("add a mustache",),
    "stained": ("mosaic", "pop art"),
    "drawing": ("pencil sketch", "cartoon"),
    "vampire": ("make me look like a zombie", "make me a clown"),
    "alien": ("make me a robot", "make me look like a zombie"),
    "scar": ("make me look like a zombie",),
    "desert": ("put me on a beach", "use the image as the background"),
    "mountains": ("put me in a forest", "use the image as the background"),
    "park": ("put me in a forest", "use the image as the background"),
    "mars": ("put me in space", "use the image as the background"),
    "moon": ("put me in space", "use the image as the background"),
    "underwater": ("put me on a beach", "make the background <color>"),
    "street": ("city skyline background", "use the image as the background"),
    "kitchen": ("office background", "use the image as the background"),
    "studio": ("solid <color> background", "remove the background"),
    "stars": ("put me in space",),
}
"""Words of things the engine cannot do, and what it can do that comes closest (first in :func:`nearest`)."""


def nearest(part: str, count: int = 3) -> list[str]:
    """The ``count`` examples (:data:`EXAMPLES`) closest to ``part``: related ones (:data:`RELATED`), then shared words, then spelling."""
    words = {w for w in normalize(part).split() if w not in _FILLER}
    related = [example for w in sorted(words) for example in RELATED.get(w, ())]

    def score(example: str) -> tuple[int, float, float]:
        theirs = {w for w in example.replace("<", " ").replace(">", " ").split() if w not in _FILLER}
        shared = sum(1 for w in words for t in theirs if w == t or (len(w) > 3 and (t.startswith(w[:4]) or w.startswith(t[:4]))))
        hint = len(related) - related.index(example) if example in related else 0
        return (hint, shared, difflib.SequenceMatcher(None, " ".join(sorted(words)), " ".join(sorted(theirs))).ratio())

    return sorted(EXAMPLES, key=score, reverse=True)[:count]


REFUSAL_LIMIT = 200
"""A refusal is one line shorter than this."""
REFUSAL_PREFIX = "the local engine cannot do "
"""How every refusal of the local engine starts (a client can tell them by it, and point to the whole list)."""


def refusal(part: str, prompt: str | None = None) -> NotUnderstood:
    """The error for a ``part`` (of ``prompt``) that the engine cannot do: one short line naming the nearest edits."""
    shown = _shorten(part, 40)
    whole = " ".join((prompt or "").split())
    note = " (none of the prompt applied)" if whole and whole.lower() != shown.lower() else ""
    head = f"{REFUSAL_PREFIX}'{shown}'{note}; nearest: "
    names: list[str] = []
    for example in nearest(part):
        if len(head) + len(", ".join([*names, example])) >= REFUSAL_LIMIT:
            break
        names.append(example)
    return NotUnderstood(head + ", ".join(names), part=part)


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


STAND_INS: dict[str, str] = {
    **dict.fromkeys(
        ("sombrero", "wizard hat", "witch hat", "cowboy hat", "top hat", "beanie", "party hat", "santa hat", "beret",
         "bowler", "bowler hat", "bucket hat", "sun hat", "panama hat", "trilby"),
        "a plain hat",
    ),
    **dict.fromkeys(("anime", "manga", "cel shaded"), "the cartoon style"),
    **dict.fromkeys(("cyberpunk", "synthwave", "vaporwave", "tron", "blade runner", "outrun"), "a neon glow"),
    **dict.fromkeys(("minecraft", "video game", "retro game"), "big pixels"),
    **dict.fromkeys(("eagle", "parrot", "crow", "crows", "pigeon", "pigeons", "dove", "sparrow", "swallow"), "a plain bird"),
    **dict.fromkeys(("goggles", "aviators", "aviator sunglasses"), "dark sunglasses"),
    **dict.fromkeys(("handlebar mustache", "handlebar", "walrus mustache", "curly mustache", "pencil mustache"), "a plain mustache"),
    **dict.fromkeys(("predator vision", "flir"), "a thermal camera look"),
    **dict.fromkeys(("daguerreotype", "silent film", "silent movie"), "sepia"),
    **dict.fromkeys(("red nose", "clown nose"), "the whole clown face"),
}
"""Words the engine takes but draws as something close, and what it draws: the acknowledgement says so."""


def _unfound(s: EditSpec) -> bool:
    """Whether ``s`` recolours a thing the engine cannot find (not the shirt, hair or background): the dominant colour stands in."""
    return s.kind == "recolor_region" and s.target not in ("shirt", "hair", "background")


def stand_in(s: EditSpec) -> str | None:
    """"'sombrero' is drawn as a plain hat" when ``s`` came from a word of :data:`STAND_INS`, else None.

    A colour for a thing the engine cannot find ("make my eyes blue") is
    said too: it recolours the picture's dominant saturated colour instead.
    """
    if _unfound(s):
        return f"'{s.target}' is not something the engine finds: it recolours the picture's most saturated colour"
    text = f" {s.text} "
    for word in sorted(STAND_INS, key=len, reverse=True):
        if f" {word} " in text:
            return f"'{word}' is drawn as {STAND_INS[word]}"
    return None


SLANG: dict[str, str] = {
    "gimme": "give me", "lemme": "let me", "wanna": "want to", "gonna": "going to", "gotta": "have to",
    "pls": "please", "plz": "please", "u": "you", "ur": "your", "nite": "night", "tonite": "tonight",
    "thx": "thanks", "ty": "thanks", "kinda": "kind of", "sorta": "sort of", "abit": "a bit", "alot": "a lot",
}
"""Words people type for others, read before the table (``normalize``)."""


# --------------------------------------------------------------------------
# Normalising and splitting

PASSTHROUGH = re.compile(
    r"(?:reset|none|nothing|no ?edits?|no effects?|no filters?|original|the original|show the original|"
    r"passthrough|pass through|clear|clear it|off|normal|back to normal|go back to normal|undo|stop|"
    r"remove (?:all )?(?:the )?(?:edits?|effects?|filters?)|turn off (?:all )?(?:the )?(?:edits?|effects?|filters?)|"
    r"clear (?:all )?(?:the )?(?:edits?|effects?|filters?))"
)
"""A part that asks for no edit."""

PROTECTED: tuple[tuple[str, str], ...] = (
    (r"\b(?:black (?:and|n) white|b (?:and|n) w|b w|bw)\b", "blackandwhite"),
    (r"\bpen and ink\b", "penandink"),
    (r"\bthunder (?:and|n) lightning\b", "thunderandlightning"),
    (r"\blightning (?:and|n) thunder\b", "lightningandthunder"),
)
"""Phrases that contain a joining word, rewritten to one token before splitting."""
_UNPROTECT = {
    "blackandwhite": "black and white",
    "penandink": "pen and ink",
    "thunderandlightning": "thunder and lightning",
    "lightningandthunder": "lightning and thunder",
}

JOINERS = r"and then|and also|and with|and add|as well as|along with|together with|and|with|plus|then|also|\,"
"""What joins two instructions ("and add" keeps its "add")."""
_SPLIT = re.compile(rf"(?:^| )({JOINERS})(?= |$)")

_FILLER_HEAD = re.compile(
    r"^(?:please|pls|kindly|now|just|ok|okay|so|hey|and|also|then|"
    r"can you|could you|would you|will you|can we|could we|try to|go ahead and|"
    r"i want to see|i would like to see|id like to see|let me see|let us see|"
    r"(?:he|she|they|i|we|you|it) (?:should|could|must|will|would|can|shall|might)(?: really)?(?: be)?(?= )|"
    r"i want you to|i would like you to|i want to|i would like to|id like to|i want|i would like|id like|"
    r"i need|we want|lets|let us)(?: |$)"
)
_FILLER_TAIL = re.compile(
    r"(?:^| )(?:please|pls|now|thanks|thank you|for me|too|as well|instead|"
    r"(?:to|on|in|into|onto|over|across|for|of) (?:the )?(?:whole )?"
    r"(?:image|video|picture|frame|scene|footage|stream|feed|shot|view|camera|it))$"
)
_IT_WORDS = re.compile(
    r"\b(?:the (?:whole |entire )?(?:image|video|picture|frame|scene|footage|stream|feed|shot|view|camera|clip|photo)|"
    r"the (?:whole |entire )?screen|the whole thing|everything|this|that)\b"
)


def normalize(prompt: str) -> str:
    """Lower case, words separated by single spaces, ``,`` between instructions, phrases protected."""
    return _protect(_words(prompt))


def _words(prompt: str) -> str:
    """Lower case, words separated by single spaces, ``,`` between instructions, slang and spellings made standard."""
    text = prompt.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("&", " and ").replace("+", " plus ")
    text = re.sub(r"\b(it|that|there|what)'s\b", r"\1 is", text)
    text = re.sub(r"\blet's\b", "let us", text)
    text = re.sub(r"'s\b", "", text)
    text = text.replace("'", "")
    text = re.sub(r"[,;:.!?]+", " , ", text)
    text = re.sub(r"[^a-z0-9, ]+", " ", text)
    text = " ".join(SLANG.get(w, w) for w in text.split())
    text = re.sub(r"\bcolour", "color", text)
    text = re.sub(r"\bmoustache", "mustache", text)
    return re.sub(r"\bgrey", "gray", text)


def _protect(text: str) -> str:
    """Phrases that contain a joining word (:data:`PROTECTED`) rewritten to one token."""
    for pattern, token in PROTECTED:
        text = re.sub(pattern, token, text)
    return text


_WANT_IT = re.compile(r"^(?:i want|i would like|id like|i need|we want) (it|this|me|him|her|them|us|everything) to (?:be )?")


def _clean(part: str) -> str:
    """One part without filler words, with "the image"/"everything"/... read as "it"."""
    part = _WANT_IT.sub(r"make \1 ", part.strip(" ,"))
    while True:
        stripped = _FILLER_TAIL.sub("", _FILLER_HEAD.sub("", part)).strip()
        if stripped == part:
            break
        part = stripped
    return _IT_WORDS.sub("it", part)


def _split(text: str) -> list[tuple[str, str]]:
    """``[(joiner before it, part), ...]``; the first joiner is ""."""
    pieces = _SPLIT.split(text)
    out: list[tuple[str, str]] = []
    joiner = ""
    for i, piece in enumerate(pieces):
        if i % 2:  # a joiner
            joiner = "and add" if piece == "and add" else piece
            continue
        piece = piece.strip()
        if joiner == "and add":
            piece = f"add {piece}"
        out.append((joiner, piece))
    return out


# --------------------------------------------------------------------------
# Vocabulary (regex fragments)


def _alt(words: str | list[str]) -> str:
    """A non-capturing alternation, longest first (so "dark blue" wins over "blue")."""
    items = words.split("|") if isinstance(words, str) else words
    return "(?:" + "|".join(sorted(set(items), key=len, reverse=True)) + ")"


_COLOR_WORDS = _alt([re.escape(w) for w in list(COLORS) + list(ALIASES)])


def _color() -> str:
    """A colour slot: "red", "bright red", "dark blue", "blue colored"."""
    return (
        rf"(?:(?:a |an )?(?:bright|vivid|deep|pure|nice|strong|rich|solid|more) )?"
        rf"(?P<color>{_COLOR_WORDS})(?: colored| color| ish| one)?"
    )


IT = r"(?:it|me|him|her|them|us|the colors|colors|the tones|the (?:person|man|woman|guy|girl|boy|kid|people))"
"""What a global edit is applied to (after "the image", "everything", ... became "it")."""
PERSON = r"(?:me|him|her|them|us|everyone|everybody|the (?:person|man|woman|guy|girl|boy|kid|people|subject))"
_DET = r"(?:(?:a|an|some|the|a pair of|pair of|one|two|his|her|my|their|your) )?"
_POSS = (
    r"(?:(?:the|his|her|my|their|your|our|its|this|that) )?"
    r"(?:(?:person|man|woman|guy|girl|boy|kid|child|subject|lady|dude|people|persons|mans|womans) )?"
)
_MAKE = r"(?:make|turn|convert|change|render|transform|switch|set|style|restyle|edit|redo|do|put)"
_INTENSITY_SMALL = r"a bit|a little|a little bit|a tiny bit|slightly|a tad|somewhat|a touch|kind of|a bit more|a little more|a little bit more|slightly more"
_INTENSITY_BIG = r"much|a lot|way|very|really|super|extremely|far|heavily|strongly|so|even|much more|a lot more|way more|really really|very very"
_INTENSITY = _alt(_INTENSITY_SMALL + "|" + _INTENSITY_BIG + "|more")
_SUFFIX = (
    r"(?: (?:style|styled|mode|filter|effect|look|version|vibe|aesthetic|feel|theme|image|picture|photo|video|"
    r"film|movie|footage|shot|camera|character|art|render|rendering|tones?|colors?|lighting|grade|grading|"
    r"please))*"
)
_WHERE = (
    r"(?: (?:flying|that flies|soaring|gliding|fluttering|flapping|going|moving|falling|coming down|fall|down))?"
    r"(?: (?:on|onto|to|over|for|across|in|into|at|above|around|by|past|through|overhead|behind|near)"
    r"(?: top of)?(?: the| his| her| my| their| your| its)?"
    r"(?: (?:person|man|woman|guy|girl|boy|kid|me|him|her|them|us|it|face|head|heads|eyes|nose|lip|lips|upper lip|"
    r"mouth|sky|air|scene|frame|screen|top|picture|image|video|background|everyone))?)*"
)
_ADD_VERBS = (
    r"add|put|place|draw|stick|give|overlay|insert|include|slap|wear|wearing|show|paint|attach|bring|"
    r"put on|throw on|throw in|show me|i want|with|have|needs|got|get|make|create|simulate|start"
)
_ADD = (
    rf"(?:(?:(?:make|have|let|get) {PERSON} (?:wear|have|put on|get) )|"
    rf"(?:{_alt(_ADD_VERBS)})(?: {PERSON}| it)?(?: on| in)? )?"
)

SHIRT_WORDS = (
    "shirt|shirts|t shirt|tshirt|tee|tee shirt|top|jacket|sweater|jumper|hoodie|hoody|suit|blazer|coat|"
    "blouse|sweatshirt|cardigan|vest|jersey|polo|polo shirt|outfit|clothes|clothing|dress|uniform|pullover|"
    "fleece|tank top|shirt color|jacket color|top color"
)
HAIR_WORDS = "hair|hairs|hair color|hairstyle|haircut|locks"
BACKGROUND_WORDS = "background|backdrop|bg|back ground|surroundings|scenery|setting|wall|walls|room|background color|screen|green screen"
_REGION_NOUN = _alt(SHIRT_WORDS + "|" + HAIR_WORDS + "|" + BACKGROUND_WORDS)
_TARGETS = (
    [(w, "shirt") for w in SHIRT_WORDS.split("|")]
    + [(w, "hair") for w in HAIR_WORDS.split("|")]
    + [(w, "background") for w in BACKGROUND_WORDS.split("|")]
)
TARGET_OF: dict[str, str] = dict(_TARGETS)
"""Region nouns and the region each names; any other noun is recoloured by its dominant hue."""

_NOT_A_NOUN = r"(?!(?:to|into|in|with|be|a|an|the|it|me|him|her|them|us|look|like|and|more|so|very|of)\b)"
_FREE_NOUN = rf"(?P<noun>{_NOT_A_NOUN}[a-z]+(?: {_NOT_A_NOUN}[a-z]+){{0,2}}?)"
_BLONDE = r"(?P<hair>blonde|blond|brunette|redhead|a redhead|ginger|platinum blonde)"
_HAIR_COLORS = {"brunette": "brown", "redhead": "orange", "a redhead": "orange", "ginger": "orange", "platinum blonde": "silver"}

FACE = (
    r"(?:(?:(?:my|his|her|their|your|our|the|its|a|all|everyone|everybody|the persons?|the mans?|the womans?|"
    r"the guys?|the girls?|persons?|people) )*(?:faces?|identity|head|identities)|"
    r"me|him|her|them|us|everyone|everybody|people|the (?:person|man|woman|guy|girl|boy|kid|people))"
)


def _intensity(m: re.Match[str]) -> float:
    """1.0, or 0.5 for "a bit", 1.5 for "very", from the match's ``intensity`` slot."""
    value = group(m, "intensity")
    if not value or value == "more":
        return 1.0
    return 0.5 if re.fullmatch(_alt(_INTENSITY_SMALL), value) else 1.5


# --------------------------------------------------------------------------
# The table

class LazyPattern:
    """A regular expression compiled the first time it is matched.

    The table's ~90 rows take ~0.4 s to compile: a process that never reads
    a prompt (``decart --help``, a client of a remote server) should not
    pay it at import. :func:`compile_all` compiles them ahead (the server
    does, in a thread, as it starts).
    """

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def fullmatch(self, text: str) -> re.Match[str] | None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern)
        return compiled.fullmatch(text)


Builder = Callable[[re.Match[str]], EditSpec]
Rule = tuple[LazyPattern, Builder]
RULES: list[Rule] = []
"""``(pattern, builder)`` rows, tried in order; a pattern must match a whole (cleaned) part."""


def compile_all() -> None:
    """Compile every row of :data:`RULES` now (else each is compiled when first tried)."""
    for pattern, _ in RULES:
        pattern.fullmatch("")
KINDS: set[str] = {"recolor_region"}
"""Every :attr:`EditSpec.kind` :func:`parse` can produce (filled in as :data:`RULES` is built)."""


def rule(pattern: str, builder: Builder) -> None:
    """Add a row to :data:`RULES` (a group name used twice becomes ``name_2``, ...; see :func:`group`)."""
    seen: dict[str, int] = {}

    def rename(m: re.Match[str]) -> str:
        n = seen[m[1]] = seen.get(m[1], 0) + 1
        return m[0] if n == 1 else f"(?P<{m[1]}_{n}>"

    RULES.append((LazyPattern(re.sub(r"\(\?P<([a-z]+)>", rename, pattern)), builder))


def group(m: re.Match[str], name: str) -> str | None:
    """The words a named slot matched, whichever copy of it (``name``, ``name_2``, ...) took part."""
    for key, value in m.groupdict().items():
        if value and (key == name or key.startswith(name + "_")):
            return value
    return None


def spec(kind: str, **fixed: object) -> Builder:
    """A builder that makes ``EditSpec(kind, **fixed)``, taking ``color`` (else ``fixed``'s) and strength from the match."""
    KINDS.add(kind)

    def build(m: re.Match[str]) -> EditSpec:
        kwargs = dict(fixed)
        words = group(m, "color")
        color = lookup_color(words) if words else kwargs.pop("color", None)
        kwargs.pop("color", None)
        strength = _intensity(m)
        base = kwargs.pop("amount", None)
        if base is not None:  # brightness / warmth: a fixed step, bigger or smaller with intensity
            kwargs["amount"] = _scaled(float(base), strength, kind)
        elif strength != 1.0:
            kwargs["amount"] = strength
        return EditSpec(kind, color=color, **kwargs)  # type: ignore[arg-type]

    return build


def _scaled(base: float, strength: float, kind: str) -> float:
    """Brightness multiplies around 1, warmth is signed: "a bit brighter" = 1.15, "much darker" = 0.55."""
    if kind == "brightness":
        return round(1 + (base - 1) * strength, 3)
    return round(base * strength, 3)


def style(kind: str, nouns: str, verbs: str = "", **fixed: object) -> None:
    """A global filter, said as a noun/adjective ("sepia", "an old film") or a verb ("blur it")."""
    body = rf"(?:(?:a|an|the|some|in|into) )?(?:(?P<intensity>{_INTENSITY}) )?{_alt(nouns)}{_SUFFIX}(?: (?P<intensity>{_INTENSITY}))?"
    prefix = (
        rf"(?:(?:(?:{_MAKE}|make) )?{IT} (?:(?:look|looks|appear|seem)(?: more)? )?(?:(?:like|into|to|in|as) )?"
        rf"|(?:make|have) {IT} look(?:s)? (?:like )?"
        rf"|(?:it is|its|it looks|looks|look|look like|looks like) "
        rf"|{_MAKE} (?:(?:to|into|in|as) )?"
        rf"|(?:apply|use|add|enable|activate|turn on|switch on|switch to|go|try|show|give {IT}|give|with|in|want|i want) "
        rf")?(?:(?:in )?(?:the )?style of )?"
    )
    pattern = prefix + body
    if verbs:
        pattern += rf"|(?:{_alt(verbs)})(?: {IT}| all| all the colors| it all)?(?: up| out| down)?(?: (?P<intensity>{_INTENSITY}))?"
    rule(pattern, spec(kind, **fixed))


def thing(kind: str, nouns: str, *, colored: bool = False, adjectives: str = "") -> None:
    """Something drawn into the picture: "add X", "put X on him", "give her X", "with X", "X"."""
    adj = rf"(?:(?:{_alt('cool|cute|funny|big|huge|large|little|small|tiny|fake|nice|fancy|stylish|silly|giant|classic|' + adjectives)}) )*"
    slot = rf"(?:{_color()} )?" if colored else ""
    tail = rf"(?: (?:in|colored|that is|which is) {_color()})?" if colored else ""
    rule(rf"{_ADD}{_DET}{adj}{slot}{adj}{_alt(nouns)}{tail}(?: on)?{_WHERE}", spec(kind))


def _recolor(m: re.Match[str]) -> EditSpec:
    """recolor_region from a match with ``noun`` (or ``hair``) and ``color`` groups."""
    word = group(m, "hair")
    if word:
        return EditSpec("recolor_region", color=lookup_color(_HAIR_COLORS.get(word, word)), target="hair")
    noun = group(m, "noun") or ""
    target = TARGET_OF.get(noun) or TARGET_OF.get(noun.rsplit(" ", 1)[-1]) or noun
    return EditSpec("recolor_region", color=lookup_color(group(m, "color") or ""), target=target)


_PIXELATE = r"pixelate|pixelize|pixellate|pixel|mosaic|censor|pixelated|pixelized|pixellated|censored"
_BLUR_FACE = r"blur|blurr|blurry|blurred|obscure|obscured|hide|hidden|anonymize|anonymise|anonymized|mask|masked|cover|cover up|smudge|fuzz|conceal|disguise"

# -- privacy: before the global pixelate/blur, so "blur my face" is not "blur it"
rule(
    rf"(?:add (?:a )?)?(?:{_alt(_PIXELATE)})(?: out)? {FACE}|{FACE} (?:pixelated|pixelized|pixelation|censored|mosaic)"
    rf"|(?:add (?:a )?)?(?:pixel|pixelation|mosaic)(?: (?:censor|censoring|mask))? (?:on|over) {FACE}",
    spec("pixelate_face", target="face"),
)
rule(
    rf"(?:add (?:a )?)?(?:{_alt(_BLUR_FACE)})(?: out| up)? {FACE}|{FACE} (?:blur|blurred|blurry|hidden|obscured|anonymized)"
    r"|(?:add |turn on |enable )?(?:a )?(?:privacy|anonymous|incognito) (?:mode|blur|filter)|anonymize|anonymise",
    spec("blur_face", target="face"),
)

# -- scenes behind the person (backdrops), before the background's colour and blur
_SCENE_BG = _alt(
    BACKGROUND_WORDS + "|scene|wallpaper|view|theme|location|place|world"
)
"""Words for the background in a scene prompt (typos are respelled before, see :func:`respell`)."""
_BEHIND = rf"(?: (?:{_SCENE_BG}|(?:in the )?background|behind {PERSON}|in the back|as (?:the |my |a )?(?:{_SCENE_BG})))"
_SCENE_ADJ = (
    r"(?:(?:tropical|sunny|sandy|white sand|paradise|beautiful|nice|pretty|cool|quiet|calm|big|busy|bustling|modern|dark|"
    r"deep|green|lush|enchanted|magical|misty|pine|starry|distant|night|bright|virtual|real|realistic|generic|corporate|"
    r"fancy|cozy|professional|open|huge|vast|endless|peaceful|sunlit|tall) )*"
)
_GO_THERE = (
    rf"(?:(?:put|place|take|send|bring|teleport|transport|move|drop|set|show|beam|have|get|let|throw|stick|insert|zap) (?:{PERSON}|it|i|myself)(?: up| over| off| away| down)? "
    rf"|(?:be|go|going|i am|im|we are|were|standing|stand|sitting|sit|pretend (?:i am|im|to be|we are)|as if (?:i am|im|i was|i were|{PERSON} (?:is|are|was|were))) "
    rf"|(?:make it|have it) (?:seem|look|looks|appear) (?:like|as if) (?:i am|im|we are|{PERSON}(?: is| are)?) )"
)
_THERE = r"(?:(?:on|at|in|into|to|onto|inside|by|near|in front of|among|under|out in|out at|up in|off to|floating in|lost in|somewhere in|deep in|in the middle of) )"
_SCENE_VERBS = r"(?:make|turn|paint|color|recolor|change|switch|set|render|transform|swap|replace|fill|convert)"
_TO_SCENE = r"(?: (?:to|into|in|with|as|for|by|of|showing|like|look like|looks like|be|become|to be|into be))"


def backdrop(kind: str, places: str, context: str = "") -> None:
    """A scene behind the person: the place ("a tropical beach"), its background ("beach background", "stars behind me"),
    going there ("put me on a beach", "at the beach") or turning the background into it; ``context`` words
    ("stars", "work") only count next to a background or a place word."""
    place = rf"{_DET}{_SCENE_ADJ}{_alt(places)}"
    anywhere = rf"{_DET}{_SCENE_ADJ}{_alt(places + '|' + context) if context else _alt(places)}"
    rule(
        rf"(?:(?:add|use|give me|give {PERSON}|show(?: me)?|with|want|get|apply|switch to|go with|i want|put|place|have) )?{place}(?: (?:scene|setting|theme|vibe|vibes|please))?"
        rf"|(?:(?:add|use|give me|give {PERSON}|show(?: me)?|with|want|get|apply|set|switch to|go with|i want|put|place|have) )?{anywhere}{_BEHIND}"
        rf"|{_GO_THERE}?{_THERE}{anywhere}{_BEHIND}?"
        rf"|{_GO_THERE}{anywhere}{_BEHIND}?"
        rf"|(?:{_SCENE_VERBS} )?{_POSS}{_SCENE_BG}{_TO_SCENE}? {anywhere}(?: one| scene| view| background)?"
        rf"|(?:make|turn|change|transform|convert) it(?: (?:into|to|in|look like|like|looks like))? {anywhere}",
        spec(kind, target="background"),
    )


backdrop(
    "beach_background",
    "beach|beaches|beachfront|beach front|seaside|sea side|seashore|sea shore|coast|coastline|"
    "tropical island|desert island|island|tropics|hawaii|caribbean|maldives|bahamas|malibu|palm trees|palm tree|palms|ocean|oceanside",
    "sea|shore|sand|waves|surf",
)
backdrop(
    "forest_background",
    "forest|forests|woods|woodland|woodlands|jungle|rainforest|rain forest|pine forest|"
    "pine trees|redwoods|grove|enchanted forest|wilderness",
    "trees|tree|wood",
)
backdrop(
    "space_background",
    "space|outer space|outerspace|deep space|galaxy|galaxies|cosmos|universe|starfield|star field|"
    "starry sky|milky way|nebula|nebulae|orbit|the stars|among the stars|space station|spaceship",
    "stars|star|starry|planets|planet",
)
backdrop(
    "city_background",
    "city|big city|city skyline|skyline|cityscape|city scape|downtown|new york|new york city|nyc|ny|"
    "manhattan|times square|tokyo|chicago|london|skyscrapers|skyscraper|metropolis|city at night|city lights|city street|urban",
    "town|buildings|streets",
)
backdrop(
    "office_background",
    "office|offices|workplace|cubicle|home office|conference room|meeting room|boardroom|"
    "coworking space|corporate office|study|work office",
    "work|desk|job",
)

_PLAIN = r"(?:solid|plain|flat|pure|uniform|single|simple|blank|block|just|only|one|plain colored|solid colored|flat colored)"
rule(
    rf"(?:(?:add|use|give me|give {PERSON}|show|with|want|get|apply|set|put|have|i want) )?(?:(?:a|an|the|some|just a) )?(?:{_PLAIN} )+{_color()}(?: colored| color)?{_BEHIND}"
    rf"|(?:(?:add|use|give me|show|with|want|get|apply|set|put|have|i want) )?(?:(?:a|an|the|some) )?{_color()} (?:{_PLAIN} )+(?:color |colored )?(?:{_SCENE_BG})"
    rf"|(?:{_SCENE_VERBS} )?{_POSS}{_SCENE_BG}{_TO_SCENE}?(?: (?:a|an|the))?(?: {_PLAIN})+ {_color()}(?: color| one| background| backdrop| screen| wall)?"
    rf"|(?:{_SCENE_VERBS} )?{_POSS}{_SCENE_BG}{_TO_SCENE}?(?: (?:a|an))? {_color()}(?: color)? (?:only|solid|flat|plain|and nothing else)"
    rf"|(?:(?:add|use|give me|show|with|want|get|apply|set|put|have|i want) )?(?:(?:a|an|the) )?(?:plain|blank|simple|studio|neutral|clean|solid|flat|minimal|minimalist) {_SCENE_BG}(?: behind {PERSON})?",
    spec("solid_background", target="background"),
)
rule(
    r"(?:(?:add|use|give me|put me in front of|put me on|with|i want) )?(?:a )?(?:green screen|greenscreen|chroma key|chromakey)(?: (?:background|backdrop|effect|behind me))?",
    spec("solid_background", target="background", color=lookup_color("lime")),  # chroma-key green
)

_REMOVE = (
    r"remove|delete|erase|eliminate|drop|lose|ditch|kill|cut|cut out|crop out|clear|take away|take out|get rid of|strip|"
    r"strip out|knock out|blank out|wipe|wipe out|zap|nuke"
)
rule(
    rf"(?:{_alt(_REMOVE)}) (?:out )?{_POSS}(?:{_SCENE_BG})(?: behind {PERSON})?(?: (?:completely|entirely|totally|altogether))?"
    rf"|(?:make |turn |set |have )?{_POSS}(?:{_SCENE_BG}) (?:transparent|see through|clear|invisible|gone|removed|deleted|erased|empty|alpha|disappear|vanish|go away|be gone|cut out|off|removal|remover)"
    rf"|(?:(?:a|an|with|add|use|give me|want|i want|show) )*(?:transparent|see through|invisible|no|removed|deleted|empty|alpha|checkered|checkerboard|checker|checker board|nothing (?:in the|as) ) ?(?:{_SCENE_BG})"
    rf"|(?:without|with no|minus|sans)(?: (?:a|any|the|my))? (?:{_SCENE_BG})"
    rf"|(?:cut|crop|clip|isolate|extract|segment|separate|knock)(?: out)? {PERSON}(?: out)?(?: (?:from|of) {_POSS}(?:{_SCENE_BG}))?"
    rf"|(?:{_alt(_REMOVE)}) (?:it|all) (?:but|except|behind|around) {PERSON}"
    rf"|(?:make it |make {PERSON} )?(?:transparent|transparency|checkerboard|checker board|alpha channel|transparent png|green screen cutout)(?: background| backdrop| mode| effect)?",
    spec("no_background", target="background"),
)


# -- the background, before the global blur
_BG = rf"{_POSS}{_alt(BACKGROUND_WORDS)}"
rule(
    rf"(?:blur|blurr|defocus|soften|smudge)(?: out)? {_BG}"
    rf"|(?:add |give it |with )?(?:a )?(?:blurry|blurred|out of focus|soft|bokeh|defocused|fuzzy) {_alt(BACKGROUND_WORDS)}"
    rf"|(?:add )?(?:a )?{_alt(BACKGROUND_WORDS)} blur(?:red)?"
    rf"|(?:make|turn|get) {_BG} (?:blurry|blurred|out of focus|soft|fuzzy|blur)"
    rf"|(?:add )?(?:a )?(?:bokeh|portrait mode|portrait effect)(?: effect)?|blur (?:it )?behind {PERSON}",
    spec("blur_background", target="background"),
)

# -- face looks (looks)
_LOOK_WHO = rf"(?:{PERSON}|{_POSS}(?:face|faces|head|skin))"
_LOOK_SUFFIX = r"(?: (?:face|faces|makeup|make up|face paint|paint|look|looks|mask|style|costume|version|effect|filter|mode|skin|vibe|character))*"


def look(kind: str, nouns: str, verbs: str = "", *, alone: bool = True, it: bool = True, **fixed: object) -> None:
    """A change of the person's face: "make me (look like) a X", "turn her into an X", "give him an X face", "X makeup", "X me".

    ``alone``: the words also mean the look said by themselves ("zombie",
    "clown face"); ``it``: "make it X" means the look too (not for "old",
    where "make it old" is sepia). ``verbs`` are said of a person ("zombify
    me", "age her").
    """
    who = rf"(?:{_LOOK_WHO}|it)" if it else _LOOK_WHO
    lead = (
        rf"(?:(?:make|turn|transform|change|convert|morph|edit|render|have) {who}(?: (?:look|looks|appear|seem|become|be|turn))?"
        rf"(?: (?:like|into|to|as|more))* "
        rf"|(?:give|add|put|apply|use|paint|with|i want|want|show|do|draw)(?: {PERSON})? |{_LOOK_WHO} (?:as|looking|look|looks|is|becomes|like) (?:(?:like|a|an) )?)"
    )
    body = rf"(?:(?:a|an|the|some|real|full|proper|scary|creepy|spooky|cute|funny|silly|cool|total|complete) )*(?:(?P<intensity>{_INTENSITY}) )?{_alt(nouns)}{_LOOK_SUFFIX}(?: (?:on|to|for|over) {_LOOK_WHO})?"
    pattern = f"{lead}{body}" if not alone else f"(?:{lead})?{body}"
    pattern += rf"|{_alt(nouns)} {_LOOK_WHO}"  # the noun said as a verb: "robot me", "zombie her"
    if verbs:
        pattern += rf"|(?:{_alt(verbs)})(?: up)? {_LOOK_WHO}(?: up)?(?: (?P<intensity>{_INTENSITY}))?"
        if it:
            pattern += rf"|(?:{_alt(verbs)})(?: it)?"
    rule(pattern, spec(kind, **fixed))


def wear(kind: str, nouns: str, *, colored: bool = False, adjectives: str = "", **fixed: object) -> None:
    """Something grown or worn on the face: "add X", "gimme X", "give him a red X", "X on her", "X"."""
    adj = rf"(?:(?:{_alt('cool|cute|funny|big|huge|large|little|small|tiny|fake|nice|fancy|stylish|silly|giant|classic|' + adjectives)}) )*"
    slot = rf"(?:{_color()} )?" if colored else ""
    tail = rf"(?: (?:in|colored|that is|which is) {_color()})?" if colored else ""
    give = r"(?:(?:gimme|gimmie|gimmee|giv me|give me|giveme|lemme have|let me have|grow|grow me|paint|do) )?"
    rule(rf"{give}{_ADD}{_DET}{adj}{slot}{adj}{_alt(nouns)}{tail}(?: on)?{_WHERE}", spec(kind, **fixed))


_BEARD_ADJ = "full|bushy|thick|long|short|scruffy|hipster|lumberjack|viking|wizard|santa|grizzly|shaggy|neat|trimmed|fluffy"
wear("beard", "beard|beards|beared|baerd|beerd|berd|bearde|full beard|facial hair|whiskers|chin whiskers|lumberjack beard", colored=True, adjectives=_BEARD_ADJ)
wear("beard", "goatee|goatees|goatie|gotee|goate|goat beard|van dyke|vandyke|chin beard|soul patch", colored=True, adjectives=_BEARD_ADJ, target="goatee")
look("beard", "bearded|beardy|a bearded man|a bearded guy|a man with a beard", alone=True, it=False)
wear("glasses", "glasses|eyeglasses|eye glasses|spectacles|specs|specks|glases|glasess|glassess|galsses|glsses|reading glasses|readers|bifocals|nerd glasses|geek glasses|eyeglass|pair of glasses|prescription glasses|clear glasses", colored=True, adjectives="clear|nerdy|nerd|geeky|reading|round|thin|wire|wire rimmed|rimmed|hipster|smart|prescription|horn rimmed|square|rectangular|thick rimmed|see through|transparent|plain|normal|regular")
look("clown", "red nose|a red nose|clown nose|a clown nose|clown|clowns|klown|clwon|clowm|clownish|clowny|circus clown|joker|the joker|pennywise|bozo", "clownify|clownfy", alone=True)
wear("makeup", "lipstick|lip stick|lipstik|lipstic|lippy|lip gloss|lipgloss|lip color|lip colour|red lips|lips", colored=True, adjectives="bold|bright|dark|glossy|matte|shiny|some", target="lips")
look("makeup", "red lips|pink lips|lipstick", alone=False, target="lips")
wear("makeup", "makeup|make up|makup|makeupp|make-up|cosmetics|full makeup|glam makeup|glamour makeup|blush|rouge|eyeshadow|eye shadow|eye makeup|a makeover|makeover", adjectives="glam|glamorous|pretty|heavy|light|natural|party|evening|some|full|bold|nice|dramatic")
look("makeup", "glamorous|glam|made up|all made up|beautiful|pretty|dolled up", "doll up|glam up|make up", alone=False, it=False)
look("zombie", "zombie|zombies|zombi|zomby|zoombie|zombiee|zomie|zombified|zombiefied|undead|walking dead|the walking dead|living dead|ghoul|a ghoul|corpse|a corpse|rotting|rotten|infected|walker", "zombify|zombiefy|zombiefy|zombieify|zombiify|zombize", alone=True)
look("robot", "robot|robots|robotic|robo|robott|robit|rowbot|rbot|cyborg|cyborgs|android|droid|terminator|the terminator|automaton|tin man|metal face|a robot face", "robotify|roboticize|robotize|cyborgify", alone=True)
_OLD = "old|aged|elderly|older|an old man|an old woman|an old lady|an old person|old man|old woman|old lady|old person|a senior|senior|a grandma|a grandpa|grandma|grandpa|granny|a granny|grandmother|grandfather|a pensioner|pensioner|wrinkly|wrinkled|ancient|old aged|olderr|oldr|odler|eldery|elederly|100 years old|80 years old|90 years old|aging|ageing|gray haired|grey haired"
look("older", _OLD + "|a lot older|much older|years older|10 years older|20 years older|30 years older|40 years older|50 years older", "age|age up|add years to|agify|oldify", alone=False, it=False)
look("older", "older|elderly|olderr|odler|eldery|elederly|aging effect|ageing effect|age progression|aged up|an old age filter|old age|old age filter|wrinkles|wrinkly face|crows feet|grey hair and wrinkles|gray hair and wrinkles", alone=True, it=False)
_YOUNG = "young|younger|yonger|youger|youngr|younge|youngerr|youthful|young again|younger again|a kid|a child|a teenager|a teen|teen|teenager|baby faced|babyface|baby face|fresh faced|a lot younger|much younger|years younger|10 years younger|20 years younger|ten years younger|de aged|deaged"
look("younger", _YOUNG, "de age|deage|un age|unage|age down|reverse age|reverse the age of|rejuvenate|youthify", alone=True, it=False)
rule(rf"(?:smooth|smoothen|soften|airbrush|retouch|clear up|clean up|perfect|even out|beautify)(?: out| up)? {_POSS}(?:skin|complexion|face|wrinkles)|(?:smooth|smoother|flawless|perfect|clear|glowing|youthful) (?:skin|complexion)|remove {_POSS}wrinkles|(?:no|less|fewer) wrinkles|beauty (?:filter|mode)", spec("younger"))


# -- accessories and shirt patterns (wardrobe)
# Accessories are things worn ("add a crown", "give her a red cap", "put headphones on her ears");
# shirt patterns are read as a pattern word (striped, plaid, polka dot, ...) with the garment, in
# any of: "a striped shirt", "make the shirt striped", "stripes on her top", "a shirt with stripes",
# or alone with a verb ("add polka dots"). A colour with the pattern word is the pattern's ink
# ("red stripes"); two colours ("red and white striped") read as the shirt recoloured to the first
# plus a pattern in the second, rewritten that way before splitting (see the PROTECTED row below).
thing("crown", "crown|crowns|crwon|tiara|diadem|king crown|queen crown|kings crown|queens crown|royal crown|gold crown|golden crown|jeweled crown|jewelled crown|princess crown|princess tiara", colored=True, adjectives="royal|shiny|sparkly|jeweled|jewelled")
rule(rf"crown {PERSON}(?: (?:king|queen))?|(?:make|turn) {PERSON} (?:into )?(?:a |the )?(?:king|queen|princess|prince|royalty|royal|monarch|emperor|empress)", spec("crown"))
thing("cap", "cap|caps|baseball cap|baseball caps|base ball cap|basebal cap|baseball hat|ball cap|ballcap|snapback|snap back|trucker cap|trucker hat|dad hat|dad cap|sports cap|peaked cap", colored=True, adjectives="sporty|backwards|team")
_HEADPHONES = "headphones|headphone|head phones|headphnes|hedphones|headset|headsets|earphones|ear phones|over ear headphones|dj headphones|gaming headset|studio headphones|cans"
thing("headphones", _HEADPHONES, colored=True, adjectives="wireless|gaming|dj|studio|over ear|noise cancelling|noise canceling|big|chunky")
rule(rf"{_ADD}{_DET}(?:(?:big|huge|large|chunky|wireless|gaming|dj|studio|cool|nice) )*(?:{_color()} )?{_alt(_HEADPHONES)} (?:on|over|onto|around) {_POSS}(?:ears|ear|head)", spec("headphones"))
_BOW_TIE = "bow tie|bow ties|bowtie|bowties|bow tye|bowtye|dickie bow|dicky bow|bow necktie"
thing("bow_tie", _BOW_TIE, colored=True, adjectives="dapper|smart|formal|silk|velvet")
rule(rf"{_ADD}{_DET}(?:{_color()} )?{_alt(_BOW_TIE)} (?:on|at|around|under|to) {_POSS}(?:neck|collar|chin|throat|shirt)", spec("bow_tie"))

_PATTERNS = {
    "striped_shirt": "striped|stripes|stripe|stripy|stripey|stripped|stiped|striped pattern|pinstriped|pinstripe|pinstripes|breton|sailor stripes|candy striped|candy stripes|stripes pattern",
    "checked_shirt": "checked|checkered|chequered|checkerd|checkred|check|checks|checkerboard|plaid|plaids|tartan|gingham|flannel|lumberjack|buffalo check|buffalo plaid|chequers|checkers",
    "polka_dot_shirt": "polka dot|polka dots|polka dotted|polkadot|polkadots|polkadotted|polka|dotted|dots|dot|spotted|spots|spotty",
}
_GARMENT = _alt(SHIRT_WORDS)
for _kind, _pattern_nouns in _PATTERNS.items():
    _pat = rf"(?:{_color()} )?{_alt(_pattern_nouns)}(?: (?:pattern|patterned|print|printed|design|fabric))?(?: (?:in )?{_color()})?"
    rule(
        rf"(?:{_ADD}|dress {PERSON} (?:up )?in ){_DET}{_pat} {_GARMENT}(?: (?:on|for) {PERSON})?"  # "give him a striped shirt"
        rf"|(?:(?:{_MAKE}|give|dress) )?{_POSS}{_GARMENT} (?:(?:to|into|in|be|look|looks|like|with|have|has|as|a|an|some) )*{_pat}"  # "make the shirt striped"
        rf"|{_ADD}(?:some )?{_pat} (?:on|to|onto|across|over|all over|for) {_POSS}{_GARMENT}"  # "stripes on her top"
        rf"|{_ADD}{_DET}{_GARMENT} (?:with|in|that has|that is|having) (?:a |an |some )?{_pat}"  # "a shirt with stripes"
        rf"|{_ADD}(?:some )?{_pat}{_WHERE}",  # "add polka dots"
        spec(_kind, target="shirt"),
    )

_PATTERN_WORDS = _alt("|".join(_PATTERNS.values()))
_NOT_CLAUSE_END = r"(?:(?! , ).)*?"
PROTECTED += (  # "a red and white striped shirt" -> "make the shirt red and a white striped shirt"
    (rf"(^|, )({_NOT_CLAUSE_END})\b({_COLOR_WORDS}) (?:and|n) ({_COLOR_WORDS}) ({_PATTERN_WORDS})\b", r"\1make the shirt \3 and \2\4 \5"),
    (rf"(^|, )({_NOT_CLAUSE_END})\bblackandwhite ({_PATTERN_WORDS})\b", r"\1make the shirt black and \2white \3"),
)


# -- objects on the face
thing("sunglasses", "sunglasses|sun glasses|sunnies|shades|aviators|aviator sunglasses|goggles|eyewear|sunglass|dark glasses|tinted glasses|mirrored glasses|aviator glasses|mirror shades", adjectives="dark|black|mirrored|aviator|cool")
thing("hat", "hat|hats|top hat|beanie|fedora|cowboy hat|party hat|sombrero|beret|bowler hat|bowler|wizard hat|witch hat|bucket hat|sun hat|santa hat|trilby|panama hat", colored=True)
thing("mustache", "mustache|mustaches|stache|tache|handlebar mustache|handlebar|curly mustache|pencil mustache|walrus mustache|mustachio")

# -- times and weather (atmosphere), before snow, rain and the global styles
_IS_NOW = (
    r"(?:(?:make|turn|set|change|have|switch|show) (?:it|me|us) (?:look |looks |seem |feel |appear )?(?:like |as if |as though |into |to |in )?)?"
    r"(?:it is |its |it was |it were |there is |theres )?(?:(?:at|during|in|by|under|after|into|late at|in the middle of the|on a) )?(?:(?:the|a|an|some) )?"
)
"""Before a time of day or weather: "make it look like it is ...", "at ...", "under the ...", "it is ..."."""


def when(kind: str, nouns: str, verbs: str = "") -> None:
    """A time of day or weather: :func:`style`'s phrasings, and "make it look like it is X", "at X", "under a X"."""
    style(kind, nouns, verbs)
    rule(rf"{_IS_NOW}(?:(?P<intensity>{_INTENSITY}) )?{_alt(nouns)}{_SUFFIX}(?: (?:time|outside|out|now|vibes?))?", spec(kind))


_NIGHT = (
    "night(?! vision)(?! mode)(?! camera)(?! cam)(?! goggles)(?! sight)|nights|nighttime|night time|nightime|nite|nite time|nigth|"
    "nightfall|night fall|midnight|after dark|moonlight|moon light|moonlit|moonlit night|by moonlight|dark night|late night|"
    "the middle of the night|the dead of night|dead of night|starry night|evening darkness"
)
when("night", _NIGHT, "darken it like night")
rule(
    r"(?:turn|switch|shut|put|flip) (?:off|out) (?:all )?(?:the )?(?:lights?|lamps?)|(?:turn|switch|shut|put|flip) (?:all )?(?:the )?(?:lights?|lamps?) (?:off|out)"
    r"|(?:kill|cut) (?:the )?lights?|lights? (?:off|out)|no lights?",
    spec("night"),
)
_SUNSET = (
    "sunset|sunsets|sun set|sunsett|sunet|sunst|sundown|sun down|dusk|golden hour|magic hour|sunrise|sun rise|dawn|daybreak|"
    "evening|twilight|setting sun|the sun setting|sun setting|the sun going down|sun going down|sunset glow|sunset light|"
    "sunset sky|evening sun|golden sunset|orange sunset|pink sunset|the sun is setting|sun is setting|the sun is going down"
)
when("sunset", _SUNSET)
_FOG = (
    "fog|foggy|fogg|fogy|fogs|mist|misty|mists|mistey|haze|hazy|hazey|smog|smoggy|fog bank|fog banks|fogbank|fog machine|"
    "dry ice|low fog|thick fog|ground fog|morning mist|foggy day|foggy morning|misty morning|mist and fog|fog effect"
)
when("fog", _FOG, "fog|fog up|mist|mist up|haze")
thing("fog", _FOG, adjectives="thick|heavy|light|dense|spooky|eerie|creepy|white|grey|gray|drifting|rolling|low")
_FIRE = (
    "fire|fires|fier|fyre|flames|flame|flams|flaming|on fire|in flames|burning|burn|burn up|go up in flames|ablaze|blaze|blazing|inferno|fiery|firey|"
    "bonfire|campfire|wildfire|wall of fire|ring of fire|flames rising|rising flames|hellfire|hell fire|flames everywhere|"
    "fire at the bottom|flames at the bottom|fire below|flames below|fire on the floor|flames on the floor|fire from below|flames from below"
)
when("fire", _FIRE, "burn|burn down|torch|ignite|set fire|set fire to|set it on fire|set it alight|light it up in flames")
thing("fire", _FIRE, adjectives="roaring|raging|hot|burning|real|big|orange|red|blazing|wild|massive")
rule(
    r"(?:set|light|put|catch) (?:(?:the|my|this|that|his|her|our|their|a|an) )?(?:[a-z]+ )?(?:on fire|alight|ablaze|aflame|in flames)"
    r"|set fire to (?:(?:the|my|this|that|his|her|our|their|a|an) )?[a-z]+"
    r"|(?:(?:the|my|this|that|his|her|our|their) )?[a-z]+ (?:is |are )?(?:on fire|burning|ablaze|in flames|aflame|burning down)",
    spec("fire"),
)
_LIGHTNING = (
    "lightning|lightnings|lightening|lightnin|lightnig|ligthning|lighning|lightning strike|lightning strikes|lightning bolt|"
    "lightning bolts|bolt of lightning|bolts of lightning|lighting strike|thunderbolt|thunderbolts|flash of lightning|"
    "lightning flashes|lightning flash|flashes of lightning|thunderandlightning|lightningandthunder|lightning striking"
)
when("lightning", _LIGHTNING)
thing("lightning", _LIGHTNING, adjectives="bright|white|blue|flashing|crackling|forked|jagged")
_STORM = (
    "storm|storms|stormy|thunderstorm|thunderstorms|thunder storm|thunder|thundery|thundering|electrical storm|lightning storm|"
    "stormy weather|stormy night|stormy sky|storm clouds|tempest|thunder storms|thunderstrom|strom"
)
when("storm", _STORM)
thing("storm", _STORM, adjectives="heavy|big|huge|raging|violent|dark|wild|crazy|massive|electric")


# -- the scene
_WEATHER_PREFIX = r"(?:(?:add|put|start|bring|show|let it|make it|have it|make it look like it is|it is|its|with|draw|overlay|simulate|create|i want|give it|turn on) )?(?:(?:some|a|falling|heavy|light|gentle|lots of|a lot of|more) )*"
rule(
    _WEATHER_PREFIX + r"(?:snow|snowing|snowfall|snowflakes|snow flakes|falling snow|snowstorm|snow storm|blizzard|flurries|snowy|snowy day|winter wonderland)" + _WHERE,
    spec("snow"),
)
rule(
    _WEATHER_PREFIX + r"(?:rain|raining|rainfall|rainy|raindrops|rain drops|rainstorm|rain storm|downpour|drizzle|drizzling|rainy day|pouring|pouring rain)" + _WHERE,
    spec("rain"),
)
thing("bird", "bird|birds|seagull|seagulls|gull|pigeon|pigeons|crow|crows|eagle|dove|sparrow|parrot|flying bird|flock of birds|swallow", adjectives="flying|single|lone|white|black|small")

# -- art styles (paintings), before the global styles
# Each medium is its words (typos included) alone or followed by a word for a
# picture ("watercolour paintng", "pop art poster"); said as a style ("make it
# a mosaic"), a way of painting ("paint it in watercolors", "done in colored
# pencil"), or a likeness ("like an oil painting").
_ARTWORK = (
    "painting|paintings|paintng|paintin|painitng|paiting|pianting|panting|painted|paint|art|artwork|"
    "picture|portrait|piece|poster|print|drawing|drawings|sketch|image|illustration|masterpiece|canvas|comic|comics|comic book|panel|treatment|makeover|vibes|touch"
)
_ART_VERBS = (
    r"paint|painted|draw|drawn|sketch|sketched|render|rendered|redo|redone|recreate|reimagine|reimagined|"
    r"depict|show|do|done|make|made|turn|convert|transform|style|styled|restyle"
)


_ART_ADJ = (
    r"(?:(?:comic|comic book|retro|classic|vintage|modern|bright|colorful|soft|pretty|beautiful|realistic|thick|"
    r"famous|andy|roy|nice|simple|cool|loose|childlike|kids|real|proper|traditional|french|dutch|little|tiny|"
    r"visible|one of|one of the|one of those|one of his|one of her) )*"
)
_MADE_OF = (
    r"(?:made|done|built|painted|drawn|composed)? ?(?:of|from|out of|with|using) (?:(?:little|tiny|small|colored|"
    r"glass|ceramic|stone|square|thick|visible|bold|lots of|many) )*(?:tiles|pieces|stones|squares|glass|dots|"
    r"strokes|brush strokes|brushstrokes|paint|pencils|crayons|lines)"
)
_ART_BY = (
    r"(?:(?:it|this|that|he|she) (?:was|were|is|has been|had been|got) |(?:a|an|some) (?:kid|child|artist|painter|person|"
    r"toddler) |someone |somebody )?(?:painted|drawn|drew|done|made|created|rendered|sketched|colored|colored in|"
    r"painting|drawing|paints|draws)(?: it| this| me| him| her| them)?"
)


def art(kind: str, media: str, verbs: str = "") -> None:
    """An art medium over the whole picture: "X", "X painting", "make it X", "paint it in X", "like an X", "X it"."""
    medium = _alt(media)
    det = r"(?:(?:a|an|some|the) )?"
    work = (
        rf"{_ART_ADJ}{medium}(?:{_SUFFIX} {medium})?{_SUFFIX}(?: {_alt(_ARTWORK)})?(?: (?:in|with|using) {det}{medium})?"
        rf"(?: {_MADE_OF})?(?: of (?:it|me|him|her|them|us))?"
    )
    style(kind, [work], verbs)  # type: ignore[arg-type]  # _alt takes a list of fragments too
    rule(
        rf"(?:{_alt(_ART_VERBS)})(?: {IT})?(?: (?:in|as|with|using|like|into|to|by))? {det}{work}"
        rf"|(?:(?:its|it is|it|{IT} looks?|looks?|it (?:should|must|would|could|will|needs to|has to|ought to) (?:look|be)) )?"
        rf"(?:like|as|into|in) {det}{work}"
        rf"|{det}(?:{_alt(_ARTWORK)}|version|rendering|take) (?:in|with|using|made of|of|from|like|by) {det}{work}"
        rf"|(?:make|create|do|turn|give me|build|paint|draw) {det}{work} (?:out of|of|from) {IT}|(?:make|create|build) {det}{work} out"
        rf"|(?:(?:make )?(?:{IT} )?(?:look |looks |seem |seems )?)?(?:like|as if|as though) {_ART_BY}"
        rf" (?:with|in|by|using|of|from|out of|as) {det}{work}",
        spec(kind),
    )


art(
    "watercolor",
    r"watercolor|watercolors|watercolored|water color|water colors|water colored|watercolour|watercolours|"
    r"watercolr|watercolro|watercoler|watercolur|watrcolor|wtercolor|water colr|aquarelle|aquarell|wash painting|"
    r"watercolor wash|watercolor paint|watercolor paints|gouache",
    "watercolor|watercolorize|watercolourise|watercolorise",
)
art(
    "pop_art",
    r"pop art|popart|pop arts|pop artsy|pop art comic|warhol|andy warhol|warhol print|warhol style|lichtenstein|"
    r"lichtenstien|roy lichtenstein|halftone|half tone|halftone dots|half tone dots|ben day|ben day dots|benday|"
    r"benday dots|comic dots|comic book dots|dotted comic|screen print|screenprint|silkscreen|silk screen|"
    r"pop art poster|retro comic|comic pop art",
    "warhol|warholize|warholise|popify",
)
art(
    "colored_pencil",
    r"colored pencil|colored pencils|color pencil|color pencils|colorful pencil|colorful pencils|pencil color|"
    r"pencil colors|colored pencil drawing|colored pencil sketch|color pencil sketch|colored sketch|color sketch|"
    r"colorful sketch|colored drawing|color drawing|colorful drawing|crayon|crayons|crayon drawing|wax crayon|"
    r"wax crayons|pastel|pastels|chalk pastel|oil pastel|pencil crayon|pencil crayons|colored pensil|"
    r"colored pencl|coloured pencil|colred pencil|colord pencil|crayola|kids drawing|childs drawing",
    "crayon|color in",
)
art(
    "mosaic",
    r"mosaic|mosaics|mosiac|mozaic|mosaik|mosaic tiles|mosaic tile|tile mosaic|tiled mosaic|tiles|tile|tiled|"
    r"tile art|tiling|tessellated|tesselated|tesserae|roman mosaic|byzantine mosaic|ancient mosaic|"
    r"glass mosaic|ceramic tiles|ceramic tile|broken tiles|mosaic floor|mosaic wall",
    "mosaic|mosaicize|mosaicise|tile",
)
art(
    "oil_painting",
    r"oil painting|oil paintings|oil paint|oil paints|oil painted|oil|oils|oil on canvas|oil canvas|oil pianting|"
    r"oil paintng|oil panting|oilpainting|oil painitng|painting|paintings|paintng|paintin|painitng|paiting|"
    r"pianting|painted|painterly|hand painted|acrylic|acrylics|acrylic painting|impasto|impressionist|"
    r"impressionism|post impressionist|van gogh|van goghs|vangogh|monets|rembrandts|van gough|van goh|starry night|monet|rembrandt|"
    r"renaissance|renaissance painting|classical painting|old master|old masters|fine art|brush strokes|"
    r"brushstrokes|brush stroke|brushstroke|painted canvas|canvas|art museum|museum painting|masterpiece",
    "paint|oil paint",
)


# -- global styles
style("black_and_white", "blackandwhite|grayscale|gray scale|monochrome|monochromatic|desaturated|colorless|no color|no colors|without color|noir|film noir|black white", "desaturate|grayscale|decolorize|remove the colors|remove the color|remove all the colors|remove color|remove colors|drain the color|drain the colors")
style("sepia", "sepia|sepia toned|sepia tone|vintage|old film|old movie|old photo|old photograph|old picture|old timey|old fashioned|old school|old|retro|aged|antique|classic film|silent film|silent movie|film grain|grainy|nostalgic|faded|1920s|1900s|1950s|daguerreotype|an old film|an old movie")
style("cartoon", "cartoon|cartoonish|cartoony|cartoonified|toon|comic|comics|comic book|comic strip|anime|manga|cel shaded|animated|animation|graphic novel|cartoon character", "cartoonify|cartoonize|toonify|animefy")
style("sketch", "sketch|sketched|pencil sketch|pencil drawing|pencil|drawing|drawn|hand drawn|line drawing|line art|charcoal|charcoal drawing|penandink|penandink drawing|ink drawing|sketchbook|doodle|pencil art", "sketch|draw|pencil")
style("thermal", "thermal|thermal camera|thermal imaging|thermal vision|thermal image|thermography|heat map|heatmap|heat vision|heat camera|heat signature|infrared|infra red|ir camera|predator vision|flir|thermal cam")
style("night_vision", "night vision|nightvision|night vision goggles|night vision camera|night camera|green night vision|nvg|night mode")
style("neon", "neon|neon lights|neon glow|glowing neon|cyberpunk|cyberpunk neon|neon cyberpunk|synthwave|vaporwave|tron|blade runner|glow|glowing|outrun|cyber punk")
style("pixelate", "pixelated|pixelized|pixellated|pixel|pixels|pixel art|8 bit|8bit|eight bit|16 bit|retro game|video game|blocky|low res|low resolution|minecraft", "pixelate|pixelize|pixellate")
style("blur", "blurry|blurred|blur|out of focus|unfocused|defocused|soft focus|fuzzy|dreamy|gaussian blur|blurrier", "blur|defocus|soften|unfocus|blurr")
style("invert", "inverted|inverted colors|negative|photo negative|inverse|inverse colors|inverted image|x ray|xray|reversed colors", "invert|negate|invert all the colors|invert the colors|invert colors|reverse the colors|reverse colors|flip the colors|swap the colors|invert the color")
style("brightness", "brighter|bright|lighter|brightened|more light|more brightness|well lit|lit up|brighter colors|more exposure|overexposed|less dark", "brighten|lighten|light up|increase the brightness|increase brightness|raise the brightness|turn up the brightness|boost the brightness|brightness up|increase the exposure|boost the exposure|turn up the lights|turn the lights up|turn the light up|lights up", amount=1.3)
style("brightness", "darker|dark|dim|dimmer|darkened|less bright|underexposed|moody|gloomy|less light", "darken|dim|decrease the brightness|decrease brightness|lower the brightness|reduce the brightness|turn down the brightness|brightness down|reduce the exposure|turn down the lights|turn the lights down|turn the light down|dim the lights|dim the light|lower the lights|lights down|dim lighting|dimmer lighting|low lighting|low light", amount=0.7)
style("warmth", "warmer|warm|warm colors|warmer colors|warm tones|warmer tones|warm tone|summery|sunny|cozy|warmer tint|warm tint", "warm|warm up|heat up", amount=1.0)
style("warmth", "cooler|cool|cool colors|cooler colors|cool tones|cooler tones|cold|colder|cold colors|colder colors|icy|wintry|chilly|frosty|cooler tint|cool tint", "cool|cool down|chill", amount=-1.0)

# -- a colour for the whole picture ("make her blonde" is about hair, though)
rule(rf"(?:make|turn) {PERSON} {_BLONDE}|(?:give {PERSON} )?{_BLONDE} hair", _recolor)
_TINT_NOUN = r"(?:tint|tinted|hue|tone|toned|filter|cast|overlay|wash|glow|color|color grade|color grading|look|light|lighting|shade)"
rule(
    rf"(?:(?:tint|color|paint|dye|wash|shade|filter|make|turn|change|recolor|render|set|switch|give|bathe)(?: {IT})?(?: (?:to|into|in|with|as))?(?: (?:look|appear))?(?: (?:a|an))? )?{_color()}(?: {_TINT_NOUN})?(?: (?:over|on|to) {IT})?"
    rf"|(?:add|apply|use|put|give {IT}|give|with)(?: (?:a|an))? {_color()} {_TINT_NOUN}(?: (?:over|on|to) {IT})?"
    rf"|(?:tint|color|shade)(?: {IT})?(?: (?:to|in|with))?(?: (?:a|an))? {_color()}",
    spec("tint"),
)

# -- a colour for one region: shirt, hair, background, or any other thing
_RECOLOR_VERBS = r"(?:make|turn|paint|color|recolor|dye|change|switch|set|tint|render|transform|swap|give)"
rule(
    rf"(?:(?:give|add|put|use|with|wearing|wear|in)(?: {PERSON})? )?(?:(?:a|an|some) )?{_color()} (?P<noun>{_REGION_NOUN})(?: (?:behind|for|on) {PERSON})?",
    _recolor,
)
rule(
    rf"(?:replace|swap|fill) {_POSS}(?P<noun>{_alt(BACKGROUND_WORDS)}) (?:with|by|for) (?:(?:a|an) )?{_color()}(?: one| background| wall| screen)?",
    _recolor,
)
rule(
    rf"{_RECOLOR_VERBS}(?: the color of)? {_POSS}{_FREE_NOUN}(?: color)?(?: (?:to|into|in|with|as))?(?: be)?(?: (?:a|an))? {_color()}(?: instead)?",
    _recolor,
)

_CARRIED_VERBS = re.compile(
    r"^(?P<verb>make|turn|change|paint|color|dye|tint|add|put|give|blur|pixelate|recolor|set|switch|draw|apply)\b"
)
"""Verbs a following part without a verb borrows: "make the shirt red and the hair blonde"."""


# -- a reference image as the background (the image comes with set_image)
# Rules see a prompt part as instructions._clean leaves it: "the image", "the
# picture", "this" ... read "it", and a trailing "of/to/for/in the image" is
# dropped ("put me in front of the image" -> "put me in front").

_IMAGE = (
    r"(?:(?:the|my|this|that|your|our|a|an) )?"
    r"(?:(?:reference|ref|uploaded|given|provided|selected|chosen|attached|sent|new|same) )?"
    r"(?:image|picture|photo|photograph|pic|still|reference|it)"
)
_BACKGROUND = r"(?:(?:the|my|a|an|our|your|his|her|their|its) )?(?:new |virtual )?(?:background|backdrop)"
_IMAGE_BACKGROUND = (
    rf"(?:replace|swap|fill|substitute|change|switch) {_BACKGROUND} (?:with|by|to|for) {_IMAGE}"
    rf"|(?:(?:use|set|make|put|have|take|apply|add|show|place|turn) )?{_IMAGE} (?:as|for|into|to be|be) {_BACKGROUND}"
    rf"|(?:(?:use|make|set|add|apply|show|with) )?{_IMAGE} {_BACKGROUND}"
    rf"|(?:(?:put|place|stand|show|set|position|move|have|make) )?{PERSON} (?:standing )?in front(?: of {_IMAGE})?"
    rf"|(?:(?:put|place|show|use|set|have) )?{_IMAGE} behind {PERSON}"
)
rule(_IMAGE_BACKGROUND, spec("image_background", target="background"))



# --------------------------------------------------------------------------
# Parsing


def _read(part: str) -> EditSpec | None:
    """The spec for one cleaned part, or None."""
    for pattern, build in RULES:
        m = pattern.fullmatch(part)
        if m is not None:
            built = build(m)
            if built.kind in ("tint", "recolor_region") and built.color is None:
                continue
            text = " ".join(_UNPROTECT.get(w, w) for w in part.split())
            return EditSpec(built.kind, color=built.color, target=built.target, amount=built.amount, text=text)
    return None


@dataclass(frozen=True)
class Reading:
    """What :func:`read` made of a prompt: the edits, and what the user should be told about how it was read."""

    specs: list[EditSpec]
    notes: list[str]
    """Readings that are not literal: "read 'paintng' as 'painting'", "'sombrero' is drawn as a plain hat"."""


def parse(prompt: str) -> list[EditSpec]:
    """The edits a prompt asks for, in the order it names them ([] = no edit).

    Raises :class:`NotUnderstood` naming the first part it cannot read and
    listing what the engine can do.
    """
    return read(prompt).specs


def read(prompt: str) -> Reading:
    """:func:`parse`, with notes on typos it corrected (:func:`respell`) and things it draws as something close (:data:`STAND_INS`).

    A prompt is read as written first; only if some part of it cannot be
    read, or is read as a thing the engine does not know ("change the
    backround to white"), is it read again with its unknown words respelled.
    """
    words = _words(prompt)
    try:
        specs, changes = _read_all(_protect(words), prompt), []
    except NotUnderstood:
        respelled = _respelled_reading(words, prompt)
        if respelled is None:
            raise  # naming the part as the user wrote it
        specs, changes = respelled
    else:
        if any(_unfound(s) for s in specs):
            # "set the backround to white" reads as a thing called "backround": is it a typo of one the engine knows?
            specs, changes = _respelled_reading(words, prompt, finds_all=True) or (specs, changes)
    notes = [f"read '{old}' as '{new}'" for old, new in changes]
    notes.extend(note for s in specs if (note := stand_in(s)))
    return Reading(specs, notes)


def _respelled_reading(words: str, prompt: str, *, finds_all: bool = False) -> tuple[list[EditSpec], list[tuple[str, str]]] | None:
    """The first of :func:`respellings` of ``words`` that reads (``finds_all``: and recolours no unfound thing), with its changes; else None."""
    for fixed, changes in respellings(words):
        try:
            specs = _read_all(_protect(fixed), prompt)
        except NotUnderstood:
            continue
        if not (finds_all and any(_unfound(s) for s in specs)):
            return specs, changes
    return None


def _read_all(text: str, prompt: str) -> list[EditSpec]:
    """The specs of a normalised prompt, part by part; raises NotUnderstood for the first part it cannot read."""
    parts = _split(text)
    specs: list[EditSpec] = []
    verb = ""
    i = 0
    while i < len(parts):
        raw = parts[i][1]
        part = _clean(raw)
        if not part or PASSTHROUGH.fullmatch(part):
            i += 1
            continue
        found = _read(part)
        used = 1
        if found is None and i + 1 < len(parts):  # "replace the background with blue"
            merged = _clean(f"{raw} {parts[i + 1][0]} {parts[i + 1][1]}")
            found = _read(merged)
            used = 2 if found is not None else 1
        if found is None and verb and not _CARRIED_VERBS.match(part):  # "... and the hair blonde"
            found = _read(f"{verb} {part}")
        if found is None:
            if i + 1 < len(parts) and parts[i + 1][0] == "with":
                raw = f"{raw} with {parts[i + 1][1]}"  # name "replace the sky with mars" whole
            shown = " ".join(_UNPROTECT.get(w, w) for w in raw.replace(" , ", " ").split())
            raise refusal(shown, prompt)
        carried = _CARRIED_VERBS.match(found.text)
        if carried:
            verb = carried["verb"]
        specs = [s for s in specs if (s.kind, s.target) != (found.kind, found.target)]
        specs.append(found)
        i += used
    return specs


# --------------------------------------------------------------------------
# Typos: words the table does not know, respelled to the closest word it does


@cache
def vocabulary() -> frozenset[str]:
    """Every word the table's patterns (and the colour names) contain: what a typo is respelled to."""
    words: set[str] = set()
    for pattern, _ in RULES:
        words.update(re.findall(r"[a-z]{2,}", pattern.pattern))
    words.update(w for name in [*COLORS, *ALIASES] for w in name.split())
    words.update(PASSTHROUGH_WORDS)
    return frozenset(words)


PASSTHROUGH_WORDS = ("reset", "none", "nothing", "original", "normal", "undo", "clear")
RESPELL_CUTOFF = 0.8
"""How close (difflib's ratio) a word must be to a known one to be read as it."""


@cache
def _starting_with(letter: str) -> tuple[str, ...]:
    """The known words that start with ``letter``."""
    return tuple(sorted(w for w in vocabulary() if w.startswith(letter)))


RESPELLINGS_TRIED = 16
"""At most this many respellings of one prompt are read (each unknown word has up to 3 candidates)."""


def respellings(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Ways to read ``text`` with its unknown words of 4+ letters respelled, closest first (see :func:`respell`)."""
    known = vocabulary()
    choices: list[list[tuple[str, float]]] = []
    for word in text.split():
        if len(word) >= 4 and word not in known and word not in _UNPROTECT:
            close = difflib.get_close_matches(word, _starting_with(word[0]), n=3, cutoff=RESPELL_CUTOFF)
            choices.append([(c, difflib.SequenceMatcher(None, word, c).ratio()) for c in close] or [(word, 1.0)])
        else:
            choices.append([(word, 1.0)])
    originals = text.split()
    combos = sorted(itertools.product(*choices), key=lambda combo: -sum(score for _, score in combo))[:RESPELLINGS_TRIED]
    out = []
    for combo in combos:
        words = [w for w, _ in combo]
        changes = [(old, new) for old, new in zip(originals, words) if old != new]
        if changes:
            out.append((" ".join(words), changes))
    return out


def respell(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` with each unknown word of 4+ letters replaced by the closest known one with the same first letter (:func:`vocabulary`), and the replacements.

    Typos keep the first letter far more often than not; requiring it keeps
    a word the engine does not know from becoming a different one
    ("vampire" is not "campfire"). Where two words are as close ("blak":
    "black", "blank"), :func:`read` tries each (:func:`respellings`).
    """
    found = respellings(text)
    return found[0] if found else (text, [])


def describe_spec(s: EditSpec) -> str:
    """A few words for one spec: "tint red", "shirt to red", "brighter x1.15"."""
    color = s.color.name if s.color else ""
    if s.kind == "tint":
        return f"tint {color}"
    if s.kind == "invert":
        return "invert the colors"
    if s.kind == "recolor_region":
        return f"{s.target} to {color}"
    if s.kind == "brightness":
        return f"brighter x{s.amount:g}" if s.amount >= 1 else f"darker x{s.amount:g}"
    if s.kind == "warmth":
        return f"warmer {s.amount:+g}" if s.amount >= 0 else f"cooler {s.amount:+g}"
    words = s.kind.replace("_", " ")
    if s.kind == "hat" and s.color is not None:
        words = f"{color} hat"
    if s.amount != 1.0:
        words += f" x{s.amount:g}"
    return words


def describe(specs: list[EditSpec]) -> str:
    """A plan in a few words: "black and white + sunglasses", or "passthrough"."""
    return " + ".join(describe_spec(s) for s in specs) or "passthrough"
