"""What the person wears (crown, cap, headphones, bow tie; striped, checked and polka-dot shirts) on the sample clip, and how prompts for them parse."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from decart_cli.engine.builtin import BuiltinEngine
from decart_cli.engine.colors import COLORS
from decart_cli.engine.face import chin_y
from decart_cli.engine.frame import STAGE_OBJECT, STAGE_REGION, EditSpec, Face, FrameContext
from decart_cli.engine.instructions import parse
from decart_cli.engine.wardrobe import BOW_TIE_BELOW_CHIN, EAR_HEIGHT, EDITS, CheckedShirt, PolkaDotShirt, StripedShirt
from sample_frames import sample_shots

ACCESSORIES = ("crown", "cap", "headphones", "bow_tie")
PATTERNS = ("striped_shirt", "checked_shirt", "polka_dot_shirt")
FRAMES = (20, 90, 170)  # the person at different places and sizes
H = 704


def shot(index: int):
    found = sample_shots()[index]
    assert found.face is not None
    return found


def edited(kind: str, index: int, **spec) -> tuple[np.ndarray, np.ndarray, Face]:
    """The frame ``index`` of the sample before and after the edit ``kind``, and its face."""
    s = shot(index)
    ctx = s.ctx()
    EDITS[kind](EditSpec(kind, **spec)).apply(ctx)
    return s.image, ctx.image, s.face


def planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ctx = FrameContext.wrap(np.ascontiguousarray(image))
    return ctx.y.astype(np.int16), ctx.u.astype(np.int16), ctx.v.astype(np.int16)


def around(x: float, y: float, half_w: float, half_h: float) -> tuple[slice, slice]:
    """Rows and columns of a box centred on (x, y) with the given half sizes in pixels."""
    return slice(max(0, int(y - half_h)), int(y + half_h)), slice(max(0, int(x - half_w)), int(x + half_w))


def half(box: tuple[slice, slice]) -> tuple[slice, slice]:
    return tuple(slice(s.start // 2, s.stop // 2) for s in box)  # type: ignore[return-value]


def face_core(face: Face) -> tuple[slice, slice]:
    """Eyes, nose and mouth: what no accessory may cover."""
    return around(face.cx, face.y + 0.62 * face.h, 0.3 * face.w, 0.3 * face.h)


# -- the registry ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ACCESSORIES + PATTERNS)
def test_every_wardrobe_edit_follows_the_face_at_its_stage(kind):
    """Accessories are drawn with the objects, patterns with the regions; all need the face."""
    edit = EDITS[kind](EditSpec(kind))
    assert edit.needs_face is True
    assert edit.stage == (STAGE_REGION if kind in PATTERNS else STAGE_OBJECT)


@pytest.mark.parametrize("kind", ACCESSORIES + PATTERNS)
def test_no_face_leaves_the_frame_unchanged(kind):
    """Without a tracked face no wardrobe edit changes a pixel."""
    s = shot(20)
    ctx = s.ctx(face=False)
    EDITS[kind](EditSpec(kind)).apply(ctx)
    assert np.array_equal(ctx.image, s.image)


@pytest.mark.parametrize("kind", ACCESSORIES)
def test_accessories_clip_at_the_frame_edges(kind):
    """A face hanging over any edge of the frame gets its accessory clipped, without error."""
    image = np.full((360 * 3 // 2, 640), 128, np.uint8)
    for face in (Face(-60, -40, 120, 120), Face(580, 300, 120, 120), Face(-200, 100, 150, 150)):
        EDITS[kind](EditSpec(kind)).apply(FrameContext.wrap(image.copy(), face=face))


# -- accessories -------------------------------------------------------------------


@pytest.mark.parametrize("index", FRAMES)
def test_crown_is_gold_above_the_forehead_and_leaves_the_face(index):
    """Gold (yellow: Cb low, Cr high) pixels fill the head above the face box; the face is untouched."""
    before, after, face = edited("crown", index)
    crown = around(face.cx, face.y - 0.35 * face.h, 0.4 * face.w, 0.2 * face.h)
    _, u0, v0 = planes(before)
    _, u1, v1 = planes(after)
    c = half(crown)
    gold = lambda u, v: ((u < 100) & (v > 145)).mean()  # noqa: E731
    assert gold(u1[c], v1[c]) > 0.35
    assert gold(u0[c], v0[c]) < 0.02
    core = face_core(face)
    assert np.array_equal(planes(after)[0][core], planes(before)[0][core])


@pytest.mark.parametrize("index", FRAMES)
def test_cap_has_a_brim_over_the_forehead_in_the_named_colour(index):
    """A red cap's brim covers the forehead (red: Cr high) and its crown the head top; the eyes stay."""
    before, after, face = edited("cap", index, color=COLORS["red"])
    y0, _, v0 = planes(before)
    y1, _, v1 = planes(after)
    brim = around(face.cx, face.y + 0.1 * face.h, 0.3 * face.w, 0.05 * face.h)
    assert v1[half(brim)].mean() > 185 and v0[half(brim)].mean() < 160
    top = around(face.cx, face.y - 0.3 * face.h, 0.3 * face.w, 0.1 * face.h)
    assert v1[half(top)].mean() > 185
    # the brim reaches past both temples, wider than the face
    for x in (face.x - 0.05 * face.w, face.x + 1.05 * face.w):
        side = around(x, face.y + 0.04 * face.h, 0.03 * face.w, 0.02 * face.h)
        assert v1[half(side)].mean() > v0[half(side)].mean() + 30
    eyes = around(face.cx, face.y + 0.5 * face.h, 0.4 * face.w, 0.1 * face.h)
    assert np.array_equal(y1[eyes], y0[eyes])


def test_a_cap_with_no_colour_is_not_the_plain_hat():
    """The cap with no colour named is a blue cap, not the brown felt hat's colour."""
    _, after, face = edited("cap", 20)
    _, u, v = planes(after)
    brim = half(around(face.cx, face.y + 0.1 * face.h, 0.3 * face.w, 0.05 * face.h))
    assert u[brim].mean() > 150


@pytest.mark.parametrize("index", FRAMES)
def test_headphones_put_a_cup_at_each_side_of_the_head_and_a_band_over_it(index):
    """Dark cups at both sides of the head at ear height, a dark band over the top; the face between them unchanged."""
    before, after, face = edited("headphones", index)
    y0, *_ = planes(before)
    y1, *_ = planes(after)
    ear = face.y + EAR_HEIGHT * face.h
    for side in (-1, 1):
        cup = around(face.cx + side * 0.68 * face.w, ear, 0.04 * face.w, 0.12 * face.h)
        assert y1[cup].mean() < 90 and (np.abs(y1[cup] - y0[cup]) > 30).mean() > 0.3
    band = around(face.cx, face.y - 0.5 * face.h, 0.05 * face.w, 0.1 * face.h)
    assert (y0[band] - y1[band]).max() > 60
    core = face_core(face)
    assert np.array_equal(y1[core], y0[core])


def test_headphones_take_the_named_colour():
    """"red headphones": the cups' shells are red."""
    _, after, face = edited("headphones", 90, color=COLORS["red"])
    _, _, v = planes(after)
    shell = half(around(face.cx + 0.72 * face.w, face.y + EAR_HEIGHT * face.h, 0.02 * face.w, 0.08 * face.h))
    assert v[shell].mean() > 170


@pytest.mark.parametrize("index", FRAMES)
def test_bow_tie_sits_under_the_chin(index):
    """A (deep red) bow tie is centred under the chin; the face and the shoulders beside it are unchanged."""
    before, after, face = edited("bow_tie", index)
    y0, u0, v0 = planes(before)
    y1, u1, v1 = planes(after)
    below = chin_y(face) + BOW_TIE_BELOW_CHIN * face.h
    knot = half(around(face.cx, below, 0.2 * face.w, 0.04 * face.h))
    assert v1[knot].mean() > v0[knot].mean() + 25 and v1[knot].mean() > 160
    for x in (face.cx - 0.7 * face.w, face.cx + 0.7 * face.w):
        beside = around(x, below, 0.05 * face.w, 0.05 * face.h)
        assert np.array_equal(y1[beside], y0[beside])
    core = face_core(face)
    assert np.array_equal(y1[core], y0[core])


# -- shirt patterns -------------------------------------------------------------------


def crossings(signal: np.ndarray) -> np.ndarray:
    """Positions where ``signal`` rises through the middle of its range."""
    mid = (signal.max() + signal.min()) / 2
    above = signal > mid
    return np.nonzero(~above[:-1] & above[1:])[0] + 1


def assert_periodic(signal: np.ndarray, period: float, minimum: int = 3) -> None:
    """``signal`` rises at least ``minimum`` times, every ``period`` (within 15%), with a big swing."""
    assert signal.max() - signal.min() > 40, (signal.min(), signal.max())
    rises = crossings(signal)
    assert len(rises) >= minimum, rises
    gaps = np.diff(rises)
    assert np.all(np.abs(gaps - period) < 0.15 * period), (gaps, period)


def dominant_period(signal: np.ndarray, period: float) -> float:
    """The lag, near ``period``, at which ``signal`` best matches itself (its autocorrelation's peak); asserts the peak is clear."""
    s = signal - signal.mean()
    ac = np.correlate(s, s, "full")[len(s) - 1 :]
    ac = ac / ac[0] * len(s) / (len(s) - np.arange(len(s)))  # unbiased: fewer overlapping samples at long lags
    lo, hi = int(0.6 * period), min(len(s) - 2, int(1.4 * period) + 1)
    lag = lo + int(np.argmax(ac[lo:hi]))
    assert ac[lag] > 0.3, (ac[lag], lag)
    return float(lag)


def suit_column(face: Face) -> tuple[slice, int]:
    """Rows of the suit below the collar, and a column through it left of the badge."""
    top = int(chin_y(face) + 0.9 * face.h)
    return slice(top, min(H - 8, int(top + 1.5 * face.h))), int(face.cx - 1.25 * face.w)


def outside_unchanged(before: np.ndarray, after: np.ndarray, face: Face) -> None:
    """The face and the wall above the shoulders are exactly as they were."""
    y0, u0, v0 = planes(before)
    y1, u1, v1 = planes(after)
    core = face_core(face)
    assert np.array_equal(y1[core], y0[core])
    wall = (slice(0, int(chin_y(face))), slice(0, 1280))
    assert np.array_equal(y1[wall], y0[wall])
    assert np.array_equal(u1[half(wall)], u0[half(wall)]) and np.array_equal(v1[half(wall)], v0[half(wall)])


@pytest.mark.parametrize("index", FRAMES)
def test_stripes_alternate_down_the_suit_with_a_regular_period(index):
    """White stripes: luma down the suit rises every stripe period; the face and the wall stay."""
    before, after, face = edited("striped_shirt", index)
    rows, x = suit_column(face)
    y0, u0, v0 = planes(before)
    y1, u1, v1 = planes(after)
    lift = (y1[rows, x - 3 : x + 4] - y0[rows, x - 3 : x + 4]).mean(axis=1)
    assert_periodic(lift, StripedShirt.period * face.w)
    # between the stripes the suit keeps its own colour; on them it turns white (chroma to neutral)
    sat = np.abs(v1[rows.start // 2 : rows.stop // 2, x // 2] - 128)
    assert sat.min() < 20 and sat.max() > 45
    outside_unchanged(before, after, face)


def test_stripes_move_with_the_person():
    """The stripes' phase relative to the chin, in face widths, is the same wherever the person is."""
    phases = []
    for index in (20, 170):
        before, after, face = edited("striped_shirt", index)
        rows, x = suit_column(face)
        lift = (planes(after)[0][rows, x - 3 : x + 4] - planes(before)[0][rows, x - 3 : x + 4]).mean(axis=1)
        first = crossings(lift)[0] + rows.start
        period = StripedShirt.period * face.w
        phases.append(((first - chin_y(face)) / period) % 1.0)
    delta = abs(phases[0] - phases[1])
    assert min(delta, 1 - delta) < 0.1, phases


def test_stripes_keep_the_folds():
    """On a white stripe the suit's shading shows through: luma still varies with the folds."""
    before, after, face = edited("striped_shirt", 20)
    y0, *_ = planes(before)
    y1, *_ = planes(after)
    rows, x = suit_column(face)
    block = (rows, slice(x - 40, x + 40))
    ink = (y1[block] - y0[block]) > 50
    assert ink.mean() > 0.2
    assert np.corrcoef(y0[block][ink], y1[block][ink])[0, 1] > 0.5


@pytest.mark.parametrize("index", FRAMES)
def test_checks_alternate_across_and_down_the_suit(index):
    """Checks: the change alternates with the check's period both down a column and along a row of the suit."""
    before, after, face = edited("checked_shirt", index)
    y0, *_ = planes(before)
    y1, *_ = planes(after)
    period = CheckedShirt.period * face.w
    rows, x = suit_column(face)
    down = (y0[rows, x - 2 : x + 3] - y1[rows, x - 2 : x + 3]).mean(axis=1)
    row = int(chin_y(face) + 1.3 * face.h)
    cols = slice(int(face.cx - 1.7 * face.w), int(face.cx - 0.4 * face.w))
    across = (y0[row - 2 : row + 3, cols] - y1[row - 2 : row + 3, cols]).mean(axis=0)
    for signal in (down, across):
        assert signal.max() - signal.min() > 30
        assert abs(dominant_period(signal, period) - period) < 0.12 * period
    outside_unchanged(before, after, face)


@pytest.mark.parametrize("index", FRAMES)
def test_polka_dots_are_round_blobs_at_regular_spacing(index):
    """Dots: round white blobs of one size on the suit, each ~period*sqrt(2) from its nearest neighbour."""
    before, after, face = edited("polka_dot_shirt", index)
    y0, *_ = planes(before)
    y1, *_ = planes(after)
    period = max(4, round(PolkaDotShirt.period * face.w / 2) * 2)
    radius = PolkaDotShirt.radius * period
    lifted = ((y1 - y0) > 40).astype(np.uint8)
    count, _, stats, centres = cv2.connectedComponentsWithStats(lifted)
    area = math.pi * radius**2
    dots = [
        centres[i] for i in range(1, count)
        if 0.6 * area < stats[i, cv2.CC_STAT_AREA] < 1.3 * area
        and abs(stats[i, cv2.CC_STAT_WIDTH] - stats[i, cv2.CC_STAT_HEIGHT]) <= 0.25 * 2 * radius
    ]
    assert len(dots) >= 12, len(dots)
    pts = np.array(dots)
    nearest = [np.sort(np.hypot(*(pts - p).T))[1] for p in pts]
    assert abs(np.median(nearest) - period * math.sqrt(2)) < 0.1 * period * math.sqrt(2)
    outside_unchanged(before, after, face)


def test_a_named_colour_inks_the_pattern():
    """"blue polka dots": the dots are blue (Cb up), not white."""
    before, after, face = edited("polka_dot_shirt", 90, color=COLORS["blue"])
    _, u0, _ = planes(before)
    _, u1, _ = planes(after)
    assert ((u1 - u0) > 60).mean() > 0.01


def test_red_and_white_stripes_through_the_engine():
    """"make the shirt red and white striped" recolours the suit red and draws white stripes on it."""
    s = shot(20)
    engine = BuiltinEngine()
    engine.set_prompt("make the shirt red and white striped")
    out = s.image.copy()
    for _ in range(3):  # face tracking confirms the face over a couple of frames
        out = s.image.copy()
        engine.process(out)
    rows, x = suit_column(s.face)
    y0, _, v0 = planes(s.image)
    y1, _, v1 = planes(out)
    lift = (y1[rows, x - 3 : x + 4] - y0[rows, x - 3 : x + 4]).mean(axis=1)
    assert_periodic(lift, StripedShirt.period * s.face.w)
    v = v1[rows.start // 2 : rows.stop // 2, x // 2]
    assert v.max() > 200  # red between the stripes (the orange suit is ~180)
    assert np.abs(v - 128).min() < 15  # white on them


# -- parsing ---------------------------------------------------------------------


def triples(prompt: str) -> list[tuple[str, str | None, str | None]]:
    return [(s.kind, s.target, s.color.name if s.color else None) for s in parse(prompt)]


PHRASINGS = {
    # crown
    "put a crown on her head": [("crown", None, None)],
    "give me a crown": [("crown", None, None)],
    "Add a tiara!": [("crown", None, None)],
    "a king's crown please": [("crown", None, None)],
    "a queen's crown": [("crown", None, None)],
    "crown her": [("crown", None, None)],
    "make him a king": [("crown", None, None)],
    "put a silver crwon on him": [("crown", None, "silver")],
    # cap
    "add a red cap": [("cap", None, "red")],
    "give her a baseball cap": [("cap", None, None)],
    "a blue baseball cap": [("cap", None, "blue")],
    "snapback": [("cap", None, None)],
    "put a trucker cap on him": [("cap", None, None)],
    "can you give him a ball cap in green": [("cap", None, "green")],
    # headphones
    "add headphones": [("headphones", None, None)],
    "give her headphones": [("headphones", None, None)],
    "put headphones on me": [("headphones", None, None)],
    "put some big headphones over her ears": [("headphones", None, None)],
    "headset": [("headphones", None, None)],
    "with pink hedphones": [("headphones", None, "pink")],
    "earphones": [("headphones", None, None)],
    # bow tie
    "add a bow tie": [("bow_tie", None, None)],
    "bowtie": [("bow_tie", None, None)],
    "give him a bow-tie": [("bow_tie", None, None)],
    "a red bow tie": [("bow_tie", None, "red")],
    "put a black bowtie around his neck": [("bow_tie", None, "black")],
    # stripes
    "make the shirt striped": [("striped_shirt", "shirt", None)],
    "give him a striped shirt": [("striped_shirt", "shirt", None)],
    "stripes on the shirt": [("striped_shirt", "shirt", None)],
    "a red striped shirt": [("striped_shirt", "shirt", "red")],
    "make the shirt red and white striped": [("recolor_region", "shirt", "red"), ("striped_shirt", "shirt", "white")],
    "give him a blue and white striped shirt": [("recolor_region", "shirt", "blue"), ("striped_shirt", "shirt", "white")],
    "make the shirt black and white striped": [("recolor_region", "shirt", "black"), ("striped_shirt", "shirt", "white")],
    "her top in stripes": [("striped_shirt", "shirt", None)],
    "a shirt with stripes": [("striped_shirt", "shirt", None)],
    "put yellow stripes across his jacket": [("striped_shirt", "shirt", "yellow")],
    "make the shirt stripy": [("striped_shirt", "shirt", None)],
    # checks
    "make the shirt checkered": [("checked_shirt", "shirt", None)],
    "plaid shirt": [("checked_shirt", "shirt", None)],
    "flannel shirt": [("checked_shirt", "shirt", None)],
    "i want her jacket to be plaid": [("checked_shirt", "shirt", None)],
    "checkerd shirt pls": [("checked_shirt", "shirt", None)],
    "dress him in a red tartan shirt": [("checked_shirt", "shirt", "red")],
    "turn his hoodie into gingham": [("checked_shirt", "shirt", None)],
    # dots
    "polka dot shirt": [("polka_dot_shirt", "shirt", None)],
    "make the shirt polka dotted": [("polka_dot_shirt", "shirt", None)],
    "put dots on her top": [("polka_dot_shirt", "shirt", None)],
    "add some polkadots to the jacket": [("polka_dot_shirt", "shirt", None)],
    "a spotted blouse": [("polka_dot_shirt", "shirt", None)],
    "white and blue polka dot shirt": [("recolor_region", "shirt", "white"), ("polka_dot_shirt", "shirt", "blue")],
    # with others
    "give her a striped shirt and a crown": [("striped_shirt", "shirt", None), ("crown", None, None)],
    "add sunglasses, headphones and a bow tie": [("sunglasses", None, None), ("headphones", None, None), ("bow_tie", None, None)],
}


@pytest.mark.parametrize("prompt", list(PHRASINGS))
def test_wardrobe_phrasings_parse(prompt):
    """Everyday phrasings, typos and paraphrases of the wardrobe edits read as those edits (with their colour)."""
    assert triples(prompt) == PHRASINGS[prompt]


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("make the shirt red", [("recolor_region", "shirt", "red")]),
        ("change the shirt to blue", [("recolor_region", "shirt", "blue")]),
        ("add a hat", [("hat", None, None)]),
        ("add a red hat", [("hat", None, "red")]),
        ("put a sombrero on him", [("hat", None, None)]),
        ("add a beanie", [("hat", None, None)]),
    ],
)
def test_colours_and_other_hats_read_as_before(prompt, expected):
    """A shirt colour is still a recolour, and hats other than caps and crowns are still the hat."""
    assert triples(prompt) == expected
