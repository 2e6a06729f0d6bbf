"""Art styles (decart_cli.engine.paintings) on the shipped sample clip, and the phrasings that ask for them.

Each style is checked for what makes it its medium, measured against the
unedited frame: watercolor paler with paper grain, oil painting richer with a
stroke relief, pop art a few flat bold colours with dots and black outlines,
coloured pencil white paper with hatching in the picture's hues, mosaic tiles
in grout. Every one keeps the face where it was and recognisable.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from decart_cli.engine import paintings as P
from decart_cli.engine.builtin import REGISTRY, BuiltinEngine
from decart_cli.engine.frame import STAGE_STYLE, EditSpec, Face
from decart_cli.engine.instructions import parse
from sample_frames import sample_shots

H, W = 704, 1280
KINDS = ("watercolor", "oil_painting", "pop_art", "colored_pencil", "mosaic")
FRAMES = (20, 90)
WALL = (slice(290, 420), slice(100, 430))
"""Plain wall left of the person, below the windows and above the rail, in frames 20 and 90."""
SUIT = (slice(380, 470), slice(520, 620))
"""The orange suit in frame 20."""


def planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y (H x W) and U, V (H/2 x W/2) of an I420 buffer, as float32."""
    y = image[:H].astype(np.float32)
    u = image[H : H + H // 4].reshape(H // 2, W // 2).astype(np.float32)
    v = image[H + H // 4 :].reshape(H // 2, W // 2).astype(np.float32)
    return y, u, v


def styled(kind: str, index: int) -> tuple[np.ndarray, np.ndarray, Face]:
    """(unedited, edited) I420 frames of the sample clip at ``index`` and its face."""
    shot = sample_shots()[index]
    ctx = shot.ctx()
    P.EDITS[kind](EditSpec(kind)).apply(ctx)
    assert shot.face is not None
    return shot.image, ctx.image, shot.face


def fine(plane: np.ndarray) -> float:
    """Spread of the detail finer than 5 px (the texture a medium adds)."""
    return float(np.std(plane - cv2.blur(plane, (5, 5))))


def saturation(u: np.ndarray, v: np.ndarray) -> float:
    """Mean distance of the chroma from grey."""
    return float(np.mean(np.hypot(u - 128, v - 128)))


def face_likeness(before: np.ndarray, after: np.ndarray, face: Face) -> float:
    """Correlation of the smoothed luma inside the face box, before and after."""
    x0, y0, x1, y1 = int(face.x), int(face.y), int(face.x + face.w), int(face.y + face.h)
    a = cv2.GaussianBlur(before, (0, 0), 3)[y0:y1, x0:x1].ravel()
    b = cv2.GaussianBlur(after, (0, 0), 3)[y0:y1, x0:x1].ravel()
    return float(np.corrcoef(a, b)[0, 1])


def half(region: tuple[slice, slice]) -> tuple[slice, slice]:
    """A full-size region in chroma-plane coordinates."""
    return tuple(slice(s.start // 2, s.stop // 2) for s in region)  # type: ignore[return-value]


@pytest.mark.parametrize("kind", KINDS)
def test_every_art_style_is_a_global_style_in_the_registry(kind):
    """Each art style is registered, runs at the style stage and needs no face."""
    edit = REGISTRY[kind](EditSpec(kind))
    assert edit.stage == STAGE_STYLE and not edit.needs_face


@pytest.mark.parametrize("kind", KINDS)
def test_every_art_style_keeps_the_face_recognisable(kind):
    """Her face stays where it was: the face box's smoothed luma still correlates with the original's."""
    for index in (20, 90, 170):
        before, after, face = styled(kind, index)
        likeness = face_likeness(planes(before)[0], planes(after)[0], face)
        assert likeness > 0.45, (kind, index, likeness)


@pytest.mark.parametrize("kind", KINDS)
def test_every_art_style_changes_the_picture_and_works_without_a_face(kind):
    """Without a tracked face each style still changes the whole picture (mean change over 5 levels)."""
    shot = sample_shots()[20]
    ctx = shot.ctx(face=False)
    P.EDITS[kind](EditSpec(kind)).apply(ctx)
    diff = np.abs(ctx.image.astype(np.int16) - shot.image.astype(np.int16))
    assert diff[:H].mean() > 5 and diff[:H, :W // 2].mean() > 5 and diff[:H, W // 2 :].mean() > 5


def test_watercolor_is_paler_softer_and_on_grainy_paper():
    """Watercolor: brighter and less saturated overall, the wall keeps a paper grain, the picture's fine detail is washed out."""
    for index in FRAMES:
        before, after, _ = styled("watercolor", index)
        y0, u0, v0 = planes(before)
        y1, u1, v1 = planes(after)
        assert y1.mean() > y0.mean() + 10
        assert saturation(u1, v1) < saturation(u0, v0) * 0.95
        assert fine(y1[WALL]) > fine(y0[WALL]) * 1.4  # paper grain where the wall was plain
        # washes: the smoothed picture (5..20 px detail) has less contrast than before
        band = lambda p: cv2.GaussianBlur(p, (0, 0), 2) - cv2.GaussianBlur(p, (0, 0), 8)  # noqa: E731
        assert np.std(band(u1)) < np.std(band(u0)) * 0.8  # colour bled past the shapes


def test_oil_painting_is_richer_with_a_brush_stroke_relief():
    """Oil painting: more saturated colour, a stroke relief on the plain wall, and the strokes are long (oriented) marks."""
    for index in FRAMES:
        before, after, _ = styled("oil_painting", index)
        y0, u0, v0 = planes(before)
        y1, u1, v1 = planes(after)
        assert saturation(u1, v1) > saturation(u0, v0) * 1.2
        relief = y1[WALL] - cv2.GaussianBlur(y1[WALL], (0, 0), 6)
        assert fine(y1[WALL]) > fine(y0[WALL]) * 1.4
        # strokes: the relief varies much more across a stroke than along it, locally
        gx = cv2.Sobel(relief, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(relief, cv2.CV_32F, 0, 1)
        smooth = lambda a: cv2.GaussianBlur(a, (0, 0), 3)  # noqa: E731
        jxx, jyy, jxy = smooth(gx * gx), smooth(gy * gy), smooth(gx * gy)
        coherence = np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy + 1e-3)
        assert coherence.mean() > 0.3, coherence.mean()


def test_pop_art_has_few_flat_colours_dots_and_black_outlines():
    """Pop art: chroma from a small palette, bold saturation, Ben-Day dots on the suit, dark outlines at the picture's edges."""
    for index in FRAMES:
        before, after, _ = styled("pop_art", index)
        y0, u0, v0 = planes(before)
        y1, u1, v1 = planes(after)
        pairs = (u1.astype(np.int32) << 8 | v1.astype(np.int32)).ravel()
        values, counts = np.unique(pairs, return_counts=True)
        top = np.sort(counts)[::-1]
        assert top[:12].sum() > 0.97 * pairs.size, len(values)  # a dozen flat colours cover the picture
        original = (u0.astype(np.int32) << 8 | v0.astype(np.int32)).ravel()
        assert np.sort(np.unique(original, return_counts=True)[1])[::-1][:12].sum() < 0.8 * original.size  # (the painted wall is fairly flat already)
        assert saturation(u1, v1) > 2.5 * saturation(u0, v0)
        # outlines: where the original has strong edges, the result is mostly ink-dark
        edges = cv2.Canny(before[:H], 60, 150) > 0
        assert np.mean(y1[edges] < 60) > 0.35, np.mean(y1[edges] < 60)
        assert np.mean(y1 < 60) < 0.35  # ... and not everywhere
    # dots: the suit's luma alternates between a few levels while its colour is one or two flat ones
    before, after, _ = styled("pop_art", 20)
    y1, u1, v1 = planes(after)
    suit_y = y1[SUIT]
    assert fine(suit_y) > 3 * fine(planes(before)[0][SUIT])
    suit_colours = np.unique((u1[half(SUIT)].astype(np.int32) << 8 | v1[half(SUIT)].astype(np.int32)), return_counts=True)[1]
    assert np.sort(suit_colours)[::-1][:4].sum() > 0.95 * suit_colours.sum()  # red, pink, ink
    dotted = suit_y < cv2.dilate(suit_y, np.ones((7, 7), np.uint8)) - 25  # darker than its neighbourhood's paper
    assert 0.1 < dotted.mean() < 0.7, dotted.mean()


def test_colored_pencil_draws_coloured_hatching_on_white_paper():
    """Coloured pencil: the wall turns to light paper with strokes, the suit keeps its hue in hatched strokes."""
    for index in FRAMES:
        before, after, _ = styled("colored_pencil", index)
        y0, u0, v0 = planes(before)
        y1, u1, v1 = planes(after)
        assert np.mean(y1[WALL] > 215) > 0.3  # paper shows through on the wall
        assert y1[WALL].mean() > y0[WALL].mean() + 25
        assert fine(y1[WALL]) > 5 * fine(y0[WALL])  # strokes
    before, after, _ = styled("colored_pencil", 20)
    y0, u0, v0 = planes(before)
    y1, u1, v1 = planes(after)
    c = half(SUIT)
    hue0 = np.degrees(np.arctan2(v0[c].mean() - 128, u0[c].mean() - 128))
    hue1 = np.degrees(np.arctan2(v1[c].mean() - 128, u1[c].mean() - 128))
    assert abs((hue1 - hue0 + 180) % 360 - 180) < 15  # the suit is still drawn in orange
    assert saturation(u1[c], v1[c]) > 0.5 * saturation(u0[c], v0[c])
    assert fine(y1[SUIT]) > 3 * fine(y0[SUIT])  # hatched, not flat


def test_mosaic_is_tiles_of_the_local_colour_in_grout():
    """Mosaic: grout-grey lines on a ~12 px tile grid cover part of the frame; each tile carries the colour beneath it."""
    gy, gu, gv = P.Mosaic.GROUT
    for index in FRAMES:
        before, after, _ = styled("mosaic", index)
        y0, u0, v0 = planes(before)
        y1, u1, v1 = planes(after)
        grout = y1 == gy
        assert 0.1 < grout.mean() < 0.45, grout.mean()
        # the grout repeats every tile row: the row profile correlates with itself one pitch down
        rows = grout.mean(axis=1) - grout.mean()
        pitch = P.MOSAIC_TILE
        at_pitch = float(np.dot(rows[:-pitch], rows[pitch:]))
        at_half = float(np.dot(rows[: -pitch // 2], rows[pitch // 2 :]))
        assert at_pitch > 0 > at_half
        # tiles keep the picture: off the grout, the blurred luma follows the original's
        tiles = ~cv2.dilate(grout.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        a = cv2.GaussianBlur(y0, (0, 0), 6)[tiles]
        b = y1[tiles]
        assert np.corrcoef(a, b)[0, 1] > 0.85
    # it is not a pixelation: the grout is not on a fixed square grid of whole rows and columns
    assert max(grout.mean(axis=0).max(), grout.mean(axis=1).max()) < 0.95


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        # watercolor, with typos and paraphrases
        ("make it look like a watercolor painting", "watercolor"),
        ("watercolour", "watercolor"),
        ("water color", "watercolor"),
        ("watercolour paintng", "watercolor"),
        ("watrcolor", "watercolor"),
        ("paint it in watercolours", "watercolor"),
        ("a watercolor portrait of me", "watercolor"),
        ("could you make the video look like it was painted with watercolours", "watercolor"),
        ("it should look like an aquarelle", "watercolor"),
        # oil painting
        ("oil painting", "oil_painting"),
        ("make it look like an oil painting", "oil_painting"),
        ("painted", "oil_painting"),
        ("like a painting", "oil_painting"),
        ("van gogh style", "oil_painting"),
        ("as if painted by Van Gogh", "oil_painting"),
        ("paint this in oils", "oil_painting"),
        ("make the whole thing look hand-painted", "oil_painting"),
        ("impressionist paintng with visible brush strokes", "oil_painting"),
        # pop art
        ("pop art", "pop_art"),
        ("make it pop-art", "pop_art"),
        ("Andy Warhol style", "pop_art"),
        ("lichtenstein comic", "pop_art"),
        ("add ben-day dots", "pop_art"),
        ("halftone", "pop_art"),
        ("give me the warhol treatment", "pop_art"),
        ("warhol it", "pop_art"),
        # coloured pencil
        ("colored pencil", "colored_pencil"),
        ("coloured pencils", "colored_pencil"),
        ("colour pencil", "colored_pencil"),
        ("pencil colours", "colored_pencil"),
        ("crayon", "colored_pencil"),
        ("draw me in crayon", "colored_pencil"),
        ("sketch it in coloured pencil", "colored_pencil"),
        ("make it look like a kid drew it with crayons", "colored_pencil"),
        # mosaic
        ("mosaic", "mosaic"),
        ("make it a mosaic", "mosaic"),
        ("mosiac", "mosaic"),
        ("turn me into a mosaic made of little tiles", "mosaic"),
        ("render it as a roman mosaic", "mosaic"),
        ("make a mosaic out of it", "mosaic"),
        ("make it look like it is made of tiles", "mosaic"),
    ],
)
def test_art_styles_are_read_from_everyday_phrasings(prompt, kind):
    """Typos, word order and paraphrases of each medium all read as that one style."""
    assert [s.kind for s in parse(prompt)] == [kind]


@pytest.mark.parametrize(
    ("prompt", "kinds"),
    [
        ("mosaic my face", ["pixelate_face"]),
        ("add a mosaic over her face", ["pixelate_face"]),
        ("pixelate", ["pixelate"]),
        ("pixel art", ["pixelate"]),
        ("pencil sketch", ["sketch"]),
        ("draw it", ["sketch"]),
        ("cartoon", ["cartoon"]),
        ("comic book", ["cartoon"]),
        ("paint the car red", ["recolor_region"]),
        ("pop art with sunglasses and snow", ["pop_art", "sunglasses", "snow"]),
        ("watercolor, add a hat and make it warmer", ["watercolor", "hat", "warmth"]),
    ],
)
def test_art_words_leave_the_other_edits_alone(prompt, kinds):
    """Face privacy, pixelate, the grey pencil sketch, cartoon and recolouring still read as before; art styles combine."""
    assert [s.kind for s in parse(prompt)] == kinds


def test_art_styles_run_in_the_engine_with_objects_on_top():
    """Through the engine, pop art with sunglasses both show: the frame is styled and the sunglasses are drawn over it."""
    shot = sample_shots()[20]
    styled_only = shot.image.copy()
    engine = BuiltinEngine()
    engine.set_prompt("pop art")
    engine.process(styled_only)
    both = shot.image.copy()
    engine = BuiltinEngine()
    engine.set_prompt("pop art with sunglasses")
    for _ in range(3):  # let the tracker find the face
        both = shot.image.copy()
        engine.process(both)
    face = shot.face
    assert face is not None
    eyes = (slice(int(face.y + 0.3 * face.h), int(face.y + 0.5 * face.h)), slice(int(face.x), int(face.x + face.w)))
    assert np.abs(both[:H][eyes].astype(int) - styled_only[:H][eyes].astype(int)).mean() > 10
    below = (slice(600, 700), slice(0, 400))
    assert np.array_equal(both[:H][below], styled_only[:H][below])
