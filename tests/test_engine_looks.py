"""Face looks of the built-in engine (beard, glasses, makeup, clown, zombie, robot, older, younger) on the sample clip's face, and their phrasings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from decart_cli.engine.builtin import BuiltinEngine
from decart_cli.engine.colors import COLORS
from decart_cli.engine.frame import STAGE_OBJECT, STAGE_REGION, EditSpec, Face, FrameContext
from decart_cli.engine.instructions import parse
from decart_cli.engine.looks import EDITS, EYES, MOUTH, NOSE
from decart_cli.engine.overlays import LENS_DROP
from tests.sample_frames import Shot, sample_shots

KINDS = ("beard", "glasses", "makeup", "clown", "zombie", "robot", "older", "younger")
FRAMES = (20, 90, 170)
REACH = (-0.5, -0.7, 1.5, 1.3)
"""No look changes anything beyond this box around the face (face units: left, top, right, bottom)."""


def shot(index: int = 90) -> Shot:
    found = sample_shots()[index]
    assert found.face is not None
    return found


def edited(kind: str, s: Shot, **spec) -> FrameContext:
    """A context over the shot's frame with the look ``kind`` applied once."""
    ctx = s.ctx()
    EDITS[kind](EditSpec(kind, **spec)).apply(ctx)
    return ctx


def region(face: Face, x0: float, y0: float, x1: float, y1: float, half: bool = False) -> tuple[slice, slice]:
    """Rows and columns of a box in face units (of the luma plane, or the chroma planes when ``half``)."""
    k = 2 if half else 1
    return (slice(int((face.y + y0 * face.h) / k), int((face.y + y1 * face.h) / k)),
            slice(int((face.x + x0 * face.w) / k), int((face.x + x1 * face.w) / k)))


def mean(plane: np.ndarray, box: tuple[slice, slice]) -> float:
    return float(plane[box].astype(np.float32).mean())


def texture(plane: np.ndarray, box: tuple[slice, slice]) -> float:
    """Mean absolute Laplacian: how much fine line and grain a box holds."""
    return float(np.abs(cv2.Laplacian(plane[box].astype(np.float32), cv2.CV_32F)).mean())


# -- the registry --------------------------------------------------------------------


def test_the_module_registers_the_eight_looks():
    """looks.EDITS holds exactly the eight face looks."""
    assert set(EDITS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_look_needs_the_face_and_runs_with_the_regions(kind):
    """Each look anchors to the face; glasses are an object like sunglasses, the rest change the person before global styles."""
    edit = EDITS[kind](EditSpec(kind))
    assert edit.needs_face is True
    assert edit.stage == (STAGE_OBJECT if kind == "glasses" else STAGE_REGION)


@pytest.mark.parametrize("kind", KINDS)
def test_a_look_without_a_face_changes_nothing(kind):
    """On a frame with no tracked face a look leaves every pixel as it was."""
    s = shot()
    ctx = s.ctx(face=False)
    EDITS[kind](EditSpec(kind)).apply(ctx)
    assert np.array_equal(ctx.image, s.image)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", FRAMES)
def test_a_look_changes_the_face_and_nothing_far_from_it(kind, index):
    """The look changes the face region visibly, follows the face as it moves, and leaves the frame beyond the head untouched."""
    s = shot(index)
    ctx = edited(kind, s)
    f = s.face
    rows, cols = region(f, *REACH)
    outside = np.ones(s.image.shape[:1] + (s.image.shape[1],), bool)[: ctx.height]
    outside[max(rows.start, 0) : rows.stop, max(cols.start, 0) : cols.stop] = False
    assert np.array_equal(ctx.y[outside], s.image[: ctx.height][outside])
    diff = np.abs(ctx.y.astype(np.int16) - s.image[: ctx.height]) > 4
    assert diff.sum() > 0.03 * f.w * f.h
    ys, xs = np.nonzero(diff)
    # what changed is centred on this frame's face (it moves ~400 px across the clip)
    assert abs(xs.mean() - f.cx) < 0.25 * f.w
    assert f.y - 0.6 * f.h < ys.mean() < f.y + 1.2 * f.h


# -- each look where it belongs ----------------------------------------------------------


def test_a_beard_darkens_the_jaw_and_chin_in_a_hair_colour_and_leaves_the_eyes():
    """Beard: chin and jaw much darker and brown (V above U), the lips' middle and the eyes unchanged."""
    s = shot()
    f, ctx = s.face, edited("beard", s)
    orig = FrameContext.wrap(s.image.copy())
    chin = region(f, 0.35, 0.92, 0.65, 1.05)
    jaw = region(f, 0.08, 0.62, 0.18, 0.78)
    for box in (chin, jaw):
        assert mean(ctx.y, box) < mean(orig.y, box) - 40
    chin2 = region(f, 0.35, 0.92, 0.65, 1.05, half=True)
    assert mean(ctx.v, chin2) > mean(ctx.u, chin2) + 5  # brown: warm
    eyes = region(f, 0.2, 0.25, 0.8, 0.42)
    assert np.array_equal(ctx.y[eyes], orig.y[eyes])
    teeth = region(f, 0.45, 0.77, 0.55, 0.8)
    assert abs(mean(ctx.y, teeth) - mean(orig.y, teeth)) < 12


def test_a_red_beard_is_red_and_a_goatee_leaves_the_jaw_bare():
    """'a red beard' is redder than the default one; a goatee covers the chin but not the sides of the jaw."""
    s = shot()
    f = s.face
    chin2 = region(f, 0.35, 0.92, 0.65, 1.05, half=True)
    assert mean(edited("beard", s, color=COLORS["red"]).v, chin2) > mean(edited("beard", s).v, chin2) + 20
    goatee = edited("beard", s, target="goatee")
    orig = FrameContext.wrap(s.image.copy())
    jaw = region(f, 0.06, 0.6, 0.16, 0.8)
    assert np.array_equal(goatee.y[jaw], orig.y[jaw])
    chin = region(f, 0.42, 0.95, 0.58, 1.05)
    assert mean(goatee.y, chin) < mean(orig.y, chin) - 40


@pytest.mark.parametrize("index", FRAMES)
def test_glasses_ring_each_eye_with_a_thin_frame_and_leave_the_eye_visible(index):
    """Glasses: a dark rim around each eye; the eye inside the lens stays close to the original; the mouth is untouched."""
    s = shot(index)
    f, ctx = s.face, edited("glasses", s)
    orig = FrameContext.wrap(s.image.copy())
    for ex, ey in EYES:
        ey += LENS_DROP
        rim = region(f, ex - 0.03, ey + 0.085, ex + 0.03, ey + 0.1)  # the frame's bottom edge
        assert mean(ctx.y, rim) < mean(orig.y, rim) - 40
        eye = region(f, ex - 0.04, ey - 0.03, ex + 0.04, ey + 0.02)
        assert abs(mean(ctx.y, eye) - mean(orig.y, eye)) < 10
        assert np.abs(ctx.y[eye].astype(np.int16) - orig.y[eye]).max() < 40
    mouth = region(f, 0.3, 0.65, 0.7, 1.0)
    assert np.array_equal(ctx.y[mouth], orig.y[mouth])


def test_makeup_reddens_the_lips_and_cheeks_and_shades_the_lids():
    """Makeup: lips much redder (higher V), cheeks pinker, upper lids darker; the teeth keep their colour."""
    s = shot()
    f, ctx = s.face, edited("makeup", s)
    orig = FrameContext.wrap(s.image.copy())
    lip = region(f, 0.42, 0.73, 0.58, 0.76, half=True)
    assert mean(ctx.v, lip) > mean(orig.v, lip) + 20
    cheek = region(f, 0.2, 0.58, 0.3, 0.66, half=True)
    assert mean(ctx.v, cheek) > mean(orig.v, cheek) + 4
    lid = region(f, EYES[0][0] - 0.04, EYES[0][1] - 0.05, EYES[0][0] + 0.04, EYES[0][1] - 0.025)
    assert mean(ctx.y, lid) < mean(orig.y, lid) - 10
    teeth = region(f, 0.45, 0.78, 0.55, 0.8, half=True)
    assert abs(mean(ctx.v, teeth) - mean(orig.v, teeth)) < 8


def test_lipstick_alone_paints_only_the_lips_in_the_named_colour():
    """'pink lipstick': the lips change toward pink, the cheeks and eyes not at all."""
    s = shot()
    f = s.face
    ctx = edited("makeup", s, target="lips", color=COLORS["pink"])
    orig = FrameContext.wrap(s.image.copy())
    lip = region(f, 0.42, 0.73, 0.58, 0.76, half=True)
    assert mean(ctx.v, lip) > mean(orig.v, lip) + 15
    assert mean(ctx.u, lip) > mean(orig.u, lip) + 5  # pink is bluer than red lips
    for box in (region(f, 0.1, 0.2, 0.9, 0.62), region(f, 0.1, 0.92, 0.9, 1.2)):
        assert np.array_equal(ctx.y[box], orig.y[box])


def test_a_clown_has_a_white_face_a_red_nose_and_a_red_mouth():
    """Clown: cheeks and forehead paint-white (bright, no chroma), a red ball on the nose tip, red around the mouth."""
    s = shot()
    f, ctx = s.face, edited("clown", s)
    orig = FrameContext.wrap(s.image.copy())
    cheek = region(f, 0.15, 0.45, 0.28, 0.55)
    assert mean(ctx.y, cheek) > max(215, mean(orig.y, cheek) + 15)
    cheek2 = region(f, 0.15, 0.45, 0.28, 0.55, half=True)
    assert abs(mean(ctx.u, cheek2) - 128) < 4 and abs(mean(ctx.v, cheek2) - 128) < 4
    nose = region(f, NOSE[0] - 0.03, NOSE[1] - 0.03, NOSE[0] + 0.03, NOSE[1] + 0.01, half=True)
    assert mean(ctx.v, nose) > 200 and mean(ctx.v, nose) > mean(orig.v, nose) + 40
    corner = region(f, 0.3, MOUTH[1] - 0.02, 0.36, MOUTH[1] + 0.04, half=True)
    assert mean(ctx.v, corner) > mean(orig.v, corner) + 40


def test_a_zombie_is_green_grey_with_dark_sunken_eyes():
    """Zombie: the cheeks' chroma turns green-grey (V below neutral and below the original), the eye sockets much darker."""
    s = shot()
    f, ctx = s.face, edited("zombie", s)
    orig = FrameContext.wrap(s.image.copy())
    cheek = region(f, 0.6, 0.45, 0.75, 0.55, half=True)
    assert mean(ctx.v, cheek) < 125 and mean(ctx.v, cheek) < mean(orig.v, cheek) - 15
    assert mean(ctx.u, cheek) < 128  # green, not blue
    for ex, ey in EYES:
        socket = region(f, ex - 0.1, ey + 0.03, ex + 0.1, ey + 0.07)  # under the eye
        assert mean(ctx.y, socket) < mean(orig.y, socket) - 50


def test_a_robot_face_is_grey_metal_with_glowing_eyes():
    """Robot: the cheeks lose their colour (chroma near neutral); each eye is a bright cyan light."""
    s = shot()
    f, ctx = s.face, edited("robot", s)
    cheek = region(f, 0.6, 0.56, 0.68, 0.64, half=True)
    assert abs(mean(ctx.u, cheek) - 128) < 6 and abs(mean(ctx.v, cheek) - 128) < 6
    for ex, ey in EYES:
        core = region(f, ex - 0.02, ey - 0.02, ex + 0.02, ey + 0.02)
        assert mean(ctx.y, core) > 220
        glow = region(f, ex - 0.05, ey - 0.05, ex + 0.05, ey + 0.05, half=True)
        assert mean(ctx.u, glow) > 134 and mean(ctx.v, glow) < 122  # cyan


def test_older_adds_fine_lines_and_greys_the_hair():
    """Older: much more line texture on the forehead, more along the smile fold, and the hair above the face loses most of its colour."""
    s = shot()
    f, ctx = s.face, edited("older", s)
    orig = FrameContext.wrap(s.image.copy())
    forehead, fold = region(f, 0.35, 0.1, 0.65, 0.25), region(f, 0.25, 0.6, 0.36, 0.8)
    assert texture(ctx.y, forehead) > 1.6 * texture(orig.y, forehead)
    assert texture(ctx.y, fold) > 1.2 * texture(orig.y, fold)
    hair = region(f, 0.3, -0.3, 0.7, -0.08, half=True)

    def saturation(c: FrameContext) -> float:
        return float(np.hypot(c.u[hair].astype(np.float32) - 128, c.v[hair].astype(np.float32) - 128).mean())

    assert saturation(ctx) < 0.5 * saturation(orig)
    assert mean(ctx.y, region(f, 0.3, -0.3, 0.7, -0.08)) > mean(orig.y, region(f, 0.3, -0.3, 0.7, -0.08)) + 10


def test_younger_smooths_the_cheeks_and_brightens_them():
    """Younger: much less fine texture (freckles, grain) on the cheeks, a little brighter; the eyes keep their detail."""
    s = shot()
    f, ctx = s.face, edited("younger", s)
    orig = FrameContext.wrap(s.image.copy())
    for box in (region(f, 0.18, 0.45, 0.32, 0.6), region(f, 0.68, 0.45, 0.82, 0.6)):
        assert texture(ctx.y, box) < 0.7 * texture(orig.y, box)
        assert mean(ctx.y, box) > mean(orig.y, box) + 3
    eye = region(f, EYES[0][0] - 0.04, EYES[0][1] - 0.015, EYES[0][0] + 0.04, EYES[0][1] + 0.015)
    assert texture(ctx.y, eye) > 0.8 * texture(orig.y, eye)


def test_the_engine_draws_a_look_on_the_tracked_face():
    """Through BuiltinEngine (with its own face tracking) 'give him a beard' darkens the chin of the moving sample."""
    engine = BuiltinEngine()
    engine.set_prompt("give him a beard")
    shots = sample_shots()[:100]
    for s in shots[:99]:
        engine.process(s.image.copy())
    last = shots[99]
    out = engine.process(last.image.copy())
    chin = region(last.face, 0.35, 0.92, 0.65, 1.05)
    h = out.shape[0] * 2 // 3
    assert mean(out[:h], chin) < mean(last.image[:h], chin) - 30


# -- phrasings -------------------------------------------------------------------------------

PHRASINGS = {
    # beard (typos and phrasings not in the table as such)
    "gimme a beard": ("beard", None, None),
    "give him a beard": ("beard", None, None),
    "add a beard": ("beard", None, None),
    "bearded": ("beard", None, None),
    "can you make him bearded please": ("beard", None, None),
    "giv me a big bushy beared": ("beard", None, None),
    "put a red beard on the man": ("beard", None, "red"),
    "a beard in brown": ("beard", None, "brown"),
    "goatee": ("beard", "goatee", None),
    "gimmie a goatie": ("beard", "goatee", None),
    # glasses (clear) vs sunglasses
    "add glasses": ("glasses", None, None),
    "glasses": ("glasses", None, None),
    "put some specs on her": ("glasses", None, None),
    "reading glasses": ("glasses", None, None),
    "give me nerdy glases": ("glasses", None, None),
    "spectacles on him": ("glasses", None, None),
    "eyeglasses": ("glasses", None, None),
    "red glasses": ("glasses", None, "red"),
    "sunglasses": ("sunglasses", None, None),
    "shades": ("sunglasses", None, None),
    "sunnies": ("sunglasses", None, None),
    "aviators": ("sunglasses", None, None),
    "dark glasses": ("sunglasses", None, None),
    # makeup
    "put makeup on her": ("makeup", None, None),
    "add makeup": ("makeup", None, None),
    "add make-up": ("makeup", None, None),
    "give her some makup": ("makeup", None, None),
    "blush and eyeshadow": ("makeup", None, None),
    "make her glamorous": ("makeup", None, None),
    "red lipstick": ("makeup", "lips", "red"),
    "lipstick": ("makeup", "lips", None),
    "put on some pink lipstik": ("makeup", "lips", "pink"),
    # clown
    "make me a clown": ("clown", None, None),
    "clown face": ("clown", None, None),
    "clown makeup": ("clown", None, None),
    "add clown makeup": ("clown", None, None),
    "turn her into a klown": ("clown", None, None),
    "clownify me": ("clown", None, None),
    # zombie
    "make me look like a zombie": ("zombie", None, None),
    "zombify me": ("zombie", None, None),
    "undead": ("zombie", None, None),
    "i want him to be a zombi": ("zombie", None, None),
    "turn the guy into the walking dead": ("zombie", None, None),
    # robot
    "make me a robot": ("robot", None, None),
    "robot face": ("robot", None, None),
    "cyborg": ("robot", None, None),
    "android": ("robot", None, None),
    "make him look more like a robit": ("robot", None, None),
    "robotify the woman": ("robot", None, None),
    # older: of a person, not of the picture
    "make me look older": ("older", None, None),
    "age me": ("older", None, None),
    "make her old": ("older", None, None),
    "elderly": ("older", None, None),
    "make him an old man": ("older", None, None),
    "make the woman look 30 years older": ("older", None, None),
    "add wrinkles": ("older", None, None),
    "make me look odler": ("older", None, None),
    # younger
    "make me look younger": ("younger", None, None),
    "de-age me": ("younger", None, None),
    "younger": ("younger", None, None),
    "make her young again": ("younger", None, None),
    "smooth my skin": ("younger", None, None),
    "make me look yonger": ("younger", None, None),
}


@pytest.mark.parametrize("prompt", PHRASINGS)
def test_phrasings_of_the_looks(prompt):
    """Everyday phrasings, typos included, read as the look they ask for."""
    specs = parse(prompt)
    got = [(s.kind, s.target, s.color.name if s.color else None) for s in specs]
    expected = PHRASINGS[prompt]
    assert got[-1] == expected and all(g[0] == expected[0] for g in got), got


@pytest.mark.parametrize("prompt", ["old", "make it old", "old film", "vintage", "aged", "make it look old", "make the video old"])
def test_old_of_the_picture_stays_sepia(prompt):
    """'old' said of the picture (or alone) is still the sepia style; only a person made old is the older look."""
    assert [s.kind for s in parse(prompt)] == ["sepia"]


def test_intensity_and_combinations_of_looks():
    """'a bit younger' is a weaker look; looks combine with each other and with other edits."""
    assert parse("make me look a bit younger")[0].amount == 0.5
    assert parse("make her look much older")[0].amount == 1.5
    assert [s.kind for s in parse("make me look older with glasses and a beard")] == ["older", "glasses", "beard"]
    assert [s.kind for s in parse("zombify me, add sunglasses and make it black and white")] == ["zombie", "sunglasses", "black_and_white"]
