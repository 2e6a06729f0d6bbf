"""Scenes behind the person (beach, forest, space, city, office, a solid colour, removed) on the sample clip, and the words for them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from decart_cli.engine import BuiltinEngine, parse
from decart_cli.engine import backdrops as B
from decart_cli.engine.builtin import REGISTRY
from decart_cli.engine.colors import COLORS
from decart_cli.engine.face import chin_y
from decart_cli.engine.frame import STAGE_REGION, EditSpec
from decart_cli.engine.instructions import EXAMPLES, describe

from sample_frames import sample_shots

H, W = 704, 1280
LEFT, RIGHT = 170, 20  # frames with the person on the left / on the right of the picture
SCENES = ("beach", "forest", "space", "city", "office")
KINDS = (*(f"{name}_background" for name in SCENES), "solid_background", "no_background")


def planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V of an I420 frame as int arrays, U and V upsampled to full size."""
    u = image[H : H + H // 4].reshape(H // 2, W // 2)
    v = image[H + H // 4 :].reshape(H // 2, W // 2)
    up = lambda p: cv2.resize(p, (W, H), interpolation=cv2.INTER_NEAREST).astype(int)  # noqa: E731
    return image[:H].astype(int), up(u), up(v)


def make(kind: str, color: str | None = None):  # type: ignore[no-untyped-def]
    return REGISTRY[kind](EditSpec(kind, color=COLORS[color] if color else None, target="background"))


def run(kind: str, index: int, color: str | None = None, lead: int = 4):  # type: ignore[no-untyped-def]
    """``kind`` applied to frames index-lead..index (the mask settles over frames): the last output, its person mask at full size, its shot."""
    edit = make(kind, color)
    shots = sample_shots()
    for i in range(index - lead, index + 1):
        ctx = shots[i].ctx()
        edit.apply(ctx)
    person = cv2.resize(edit.model.mask(ctx), (W, H), interpolation=cv2.INTER_LINEAR)
    return ctx.image, person, shots[index]


def far_from(person: np.ndarray, reach: int = 40) -> np.ndarray:
    """Pixels at least ``reach`` pixels from anything the mask calls even a little person."""
    return cv2.dilate((person > 8).astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) == 0


def region(mask: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """``mask`` limited to the box given in fractions of the frame."""
    out = np.zeros_like(mask)
    ys, xs = slice(round(y0 * H), round(y1 * H)), slice(round(x0 * W), round(x1 * W))
    out[ys, xs] = mask[ys, xs]
    return out


# -- the pictures -------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENES)
def test_far_from_the_person_the_background_is_the_painted_scene(name):
    """Away from the person every pixel is the scene's own (luma within 2, chroma within 3), the old wall gone."""
    out, person, _ = run(f"{name}_background", LEFT)
    far = far_from(person)
    assert far.mean() > 0.3
    sy, su, sv = B.scene_planes(name, W, H)
    y, u, v = planes(out)
    assert np.abs(y[far] - sy.astype(int)[far]).max() <= 2
    up = lambda p: cv2.resize(p, (W, H), interpolation=cv2.INTER_NEAREST).astype(int)  # noqa: E731
    assert np.abs(u[far] - up(su)[far]).max() <= 3 and np.abs(v[far] - up(sv)[far]).max() <= 3


def test_beach_is_blue_sky_above_and_sand_below():
    """Beach: far from the person the top is sky blue (Cb well above Cr) and the bottom sandy (warm, light), with sea between."""
    out, person, _ = run("beach_background", LEFT)
    y, u, v = planes(out)
    far = far_from(person)
    sky = region(far, 0.55, 0.0, 1.0, 0.25)
    sand = region(far, 0.55, 0.75, 1.0, 1.0)
    sea = region(far, 0.55, 0.5, 1.0, 0.6)
    assert sky.sum() > 5000 and sand.sum() > 5000 and sea.sum() > 5000
    assert u[sky].mean() > 150 and u[sky].mean() > v[sky].mean() + 25
    assert v[sand].mean() > u[sand].mean() + 15 and y[sand].mean() > 150
    assert u[sea].mean() > v[sea].mean() and y[sea].mean() < y[sand].mean() - 30


def test_forest_is_mostly_green_with_trunks():
    """Forest: far from the person green dominates (G above R and B), and dark trunk columns stand out of the lighter mist."""
    out, person, _ = run("forest_background", LEFT)
    far = far_from(person)
    bgr = cv2.cvtColor(out, cv2.COLOR_YUV2BGR_I420).astype(int)
    b, g, r = (bgr[..., i][far].mean() for i in range(3))
    assert g > r + 20 and g > b + 10, (b, g, r)
    middle = region(far, 0.6, 0.45, 1.0, 0.7)
    luma = planes(out)[0]
    assert (luma[middle] < 70).mean() > 0.1 and (luma[middle] > 120).mean() > 0.2


def test_space_is_dark_with_bright_star_points():
    """Space: far from the person most pixels are near black, and there are many small bright points (stars)."""
    out, person, _ = run("space_background", LEFT)
    y = planes(out)[0]
    far = far_from(person)
    sky = region(far, 0.5, 0.45, 1.0, 1.0)  # below the planet
    assert (y[sky] < 50).mean() > 0.8
    peaks = (y >= 120) & (y == cv2.dilate(y.astype(np.uint8), np.ones((5, 5), np.uint8))) & sky
    assert peaks.sum() >= 60


def test_city_is_a_skyline_with_window_lights():
    """City: dark sky at the top; below, many small warm lights of one window size in rows (lit windows of buildings)."""
    out, person, _ = run("city_background", LEFT)
    y, u, v = planes(out)
    far = far_from(person)
    top = region(far, 0.55, 0.0, 1.0, 0.08)
    assert y[top].mean() < 80 and u[top].mean() > v[top].mean()
    lit = ((y > 140) & (v > u + 10) & region(far, 0.55, 0.45, 1.0, 1.0)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(lit)
    sizes = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    windows = (sizes[0] >= 5) & (sizes[0] <= 14) & (sizes[1] >= 7) & (sizes[1] <= 14)
    assert windows.sum() >= 30, windows.sum()
    rows = np.unique(stats[1:, cv2.CC_STAT_TOP][windows] // 4)
    assert len(rows) < windows.sum() / 2  # windows share rows: a grid, not scattered dots


def test_office_has_its_wall_and_furniture_edges():
    """Office: the plain wall between window and shelf is the office's light beige; the bookshelf region is full of hard edges."""
    out, person, _ = run("office_background", LEFT)
    y, u, v = planes(out)
    far = far_from(person)
    wall = region(far, 0.40, 0.0, 0.68, 0.5)
    assert wall.sum() > 5000
    assert 170 < y[wall].mean() < 220 and v[wall].mean() > u[wall].mean()
    shelf = region(far, 0.72, 0.1, 0.95, 0.8)
    edges = np.abs(cv2.Sobel(y.astype(np.float32), cv2.CV_32F, 1, 0))
    assert (edges[shelf] > 80).mean() > 0.05
    assert (edges[wall] > 80).mean() < 0.01


@pytest.mark.parametrize("color", ["green", "white", "black", "pink"])
def test_solid_background_is_exactly_the_colour(color):
    """Solid: far from the person every pixel is exactly the named colour's Y, U and V: flat, nothing of the wall left."""
    out, person, _ = run("solid_background", RIGHT, color)
    y, u, v = planes(out)
    far = far_from(person)
    c = COLORS[color]
    assert far.mean() > 0.3
    assert (y[far] == c.y).all() and (u[far] == c.u).all() and (v[far] == c.v).all()


def test_removed_background_is_a_grey_and_white_checkerboard():
    """Removed: far from the person two greys (white 235, light grey 191, no chroma) alternate on a grid of squares."""
    out, person, _ = run("no_background", RIGHT)
    y, u, v = planes(out)
    far = far_from(person)
    side = B.checker_size(H)
    rows, cols = np.mgrid[0:H, 0:W]
    expected = np.where((rows // side + cols // side) % 2 == 0, B.CHECKER_LIGHT, B.CHECKER_DARK)
    assert (y[far] == expected[far]).all()
    assert (u[far] == 128).all() and (v[far] == 128).all()
    assert set(np.unique(y[far])) == {B.CHECKER_LIGHT, B.CHECKER_DARK}


# -- the person in front ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", [LEFT, RIGHT])
def test_face_and_suit_stay_as_they_were(kind, index):
    """Every backdrop leaves the face and the orange suit as they were (mean Y, U, V within 2)."""
    out, _, shot = run(kind, index, "blue" if kind == "solid_background" else None)
    f = shot.face
    assert f is not None
    boxes = {
        "face": (f.x + 0.25 * f.w, f.y + 0.3 * f.h, f.x + 0.75 * f.w, f.y + 0.8 * f.h),
        "suit": (f.cx - 1.5 * f.w, chin_y(f) + 1.2 * f.h, f.cx - 0.8 * f.w, chin_y(f) + 2.2 * f.h),
    }
    for name, (x0, y0, x1, y1) in boxes.items():
        ys, xs = slice(round(y0), round(y1)), slice(round(x0), round(x1))
        before = np.array([p[ys, xs].mean() for p in planes(np.array(shot.image))])
        after = np.array([p[ys, xs].mean() for p in planes(out)])
        assert np.abs(after - before).max() <= 2, (name, before, after)


@pytest.mark.parametrize("index", [LEFT, RIGHT])
def test_no_band_of_the_old_wall_beside_the_person(index):
    """Just outside the person's edge (3-12 px out) on a black backdrop, ≤ 0.6% of pixels are as light as half the old pale wall (a plain blend leaves 1.1% at frame 170)."""
    out, person, shot = run("solid_background", index, "black")
    y = planes(out)[0]
    inside = (person >= 128).astype(np.uint8)
    ring = (cv2.dilate(inside, np.ones((25, 25), np.uint8)) > 0) & (cv2.dilate(inside, np.ones((7, 7), np.uint8)) == 0)
    ring[: round(shot.face.y) - 60] = False  # above the hair the helmet and the window frames do not come into it
    wall = planes(np.array(shot.image))[0][far_from(person)].mean()
    assert wall > 140
    assert ring.sum() > 3000
    assert (y[ring] > (wall + 16) / 2).mean() <= 0.006, (y[ring] > (wall + 16) / 2).mean()


def test_the_edge_takes_out_the_old_wall_not_just_blends():
    """The same ring composited by plain blending would keep more of the wall: the compositing's decontamination is what cleans it."""
    out, person, shot = run("solid_background", LEFT, "black")
    ctx = sample_shots()[LEFT].ctx()
    small = cv2.resize(person, (W // 4, H // 4), interpolation=cv2.INTER_AREA)
    back = cv2.resize(cv2.bitwise_not(small), (W, H), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    naive = ctx.y.astype(np.float32) * (1 - back) + COLORS["black"].y * back
    inside = (person >= 128).astype(np.uint8)
    ring = (cv2.dilate(inside, np.ones((13, 13), np.uint8)) > 0) & (inside == 0)
    assert planes(out)[0][ring].mean() < naive[ring].mean() - 10


@pytest.mark.parametrize("kind", ["space_background", "city_background", "no_background"])
def test_the_backdrop_holds_still_between_frames(kind):
    """Far from the person, consecutive frames show the same backdrop pixels (no flicker, no drift)."""
    edit = make(kind)
    shots = sample_shots()
    outs, fars = [], []
    for i in range(LEFT - 4, LEFT + 2):
        ctx = shots[i].ctx()
        edit.apply(ctx)
        outs.append(ctx.image[:H].copy())
        fars.append(far_from(cv2.resize(edit.model.mask(ctx), (W, H))))
    both = fars[-1] & fars[-2]
    assert both.mean() > 0.3
    assert (outs[-1][both] == outs[-2][both]).mean() >= 0.999


@pytest.mark.parametrize("kind", KINDS)
def test_without_a_face_the_frame_is_left_as_it_came(kind):
    """Like the other background edits, a backdrop needs the tracked face: without one the frame is not touched."""
    edit = make(kind, "red" if kind == "solid_background" else None)
    assert edit.needs_face and edit.stage == STAGE_REGION
    shot = sample_shots()[LEFT]
    ctx = shot.ctx(face=False)
    edit.apply(ctx)
    assert np.array_equal(ctx.image, shot.image)


def test_a_scene_is_painted_once_per_frame_size():
    """The painted scene is cached: the same read-only planes come back for the same size, new ones for another size."""
    first = B.scene_planes("beach", W, H)
    assert B.scene_planes("beach", W, H) is first
    assert not first[0].flags.writeable
    small = B.scene_planes("beach", 640, 352)
    assert small[0].shape == (352, 640) and small[1].shape == (176, 320)


def test_backdrop_under_black_and_white_is_grey():
    """A backdrop runs with the regions, so a later style applies to it too: 'put me on a beach and black and white' is all grey."""
    engine = BuiltinEngine()
    engine.set_prompt("put me on a beach and make it black and white")
    shots = sample_shots()
    for shot in shots[LEFT - 3 : LEFT + 1]:
        out = engine.process(np.array(shot.image))
    _, u, v = planes(out)
    assert (u == 128).all() and (v == 128).all()


# -- the words ---------------------------------------------------------------------------


PHRASES = {
    "beach_background": [
        "turn the background into a beach", "can you put me on a beach?", "beach background", "at the beach",
        "tropical beach", "Take me to the beach!", "i want to be on a sandy beach", "make it look like I'm at the beach",
        "swap the background for a beach", "send me to the seaside", "put me on a bech", "beach backround please",
        "put a beach behind me", "go to the beach",
    ],
    "forest_background": [
        "put me in a forest", "woods", "jungle", "in the woods", "forrest background", "teleport me to the jungle",
        "change the background to a misty pine forest", "I'd like a forest behind me", "trees in the background",
    ],
    "space_background": [
        "put me in space", "outer space", "galaxy", "stars behind me", "beam me up to space", "sapce background",
        "make the background outer space", "put me among the stars", "set the background to a galaxy",
    ],
    "city_background": [
        "city skyline", "put me in new york", "downtown", "cityscape", "put me in the city", "skyline background",
        "show me in a city at night", "citty backdrop", "replace the background with a city",
    ],
    "office_background": [
        "office background", "put me in an office", "at work", "ofice backround", "put me at the office",
        "change the background to an office", "make it look like I'm in an office",
    ],
    "no_background": [
        "remove the background", "delete the background", "no background", "transparent background", "cut me out",
        "get rid of the background", "remvoe the backround", "make the background transparent", "without a background",
        "erase everything behind me", "background removal", "lose the background",
    ],
}


@pytest.mark.parametrize("kind, prompt", [(k, p) for k, ps in PHRASES.items() for p in ps])
def test_ways_of_asking_for_a_scene(kind, prompt):
    """Paraphrases, typos and word orders (many not written in the table) each make one spec of the scene, on the background."""
    assert [(s.kind, s.target) for s in parse(prompt)] == [(kind, "background")]


@pytest.mark.parametrize(
    "prompt, color",
    [
        ("solid green background", "green"), ("plain white background", "white"), ("make the background solid black", "black"),
        ("flat blue backdrop", "blue"), ("a solid red background please", "red"), ("background in plain pink", "pink"),
        ("replace the background with solid green", "green"), ("set the backround to pure white", "white"),
        ("make the background yellow only", "yellow"), ("plain background", None), ("a blank backdrop behind me", None),
    ],
)
def test_a_solid_background_names_its_colour(prompt, color):
    """'solid', 'plain', 'flat', 'pure', 'only' make a flat fill of the colour (none named: the backdrop's white)."""
    (s,) = parse(prompt)
    assert (s.kind, s.target) == ("solid_background", "background")
    assert (s.color.name if s.color else None) == color
    if color is None:
        assert make("solid_background").color.name == "white"


@pytest.mark.parametrize("prompt", ["make the background blue", "blue background", "replace the background with blue", "change the wall to teal"])
def test_a_bare_colour_for_the_background_still_keeps_the_walls_shading(prompt):
    """Without 'solid', 'plain', ... a background colour stays the recolour that keeps the wall's texture."""
    assert [s.kind for s in parse(prompt)] == ["recolor_region"]


@pytest.mark.parametrize(
    "prompt, kinds",
    [
        ("put me on a beach with sunglasses and make it warmer", ["beach_background", "sunglasses", "warmth"]),
        ("black and white, put me in space", ["black_and_white", "space_background"]),
        ("remove the background and add a hat", ["no_background", "hat"]),
        ("a forest with snow", ["forest_background", "snow"]),
        ("blur the background", ["blur_background"]),
        ("use the image as the background", ["image_background"]),
        ("remove the hat and sepia", None),
    ],
)
def test_backdrops_combine_and_leave_other_prompts_alone(prompt, kinds):
    """A backdrop joins other edits with 'and'/'with'/','; the other background edits and refusals read as before."""
    if kinds is None:
        with pytest.raises(Exception, match="cannot do 'remove the hat'"):
            parse(prompt)
    else:
        assert [s.kind for s in parse(prompt)] == kinds


def test_help_shows_scenes_solid_and_texture_keeping_colour():
    """The examples offer every backdrop, and both 'solid <color> background' and 'make the background <color>'; each parses."""
    for example in ("put me on a beach", "put me in a forest", "put me in space", "city skyline background", "office background",
                    "solid <color> background", "remove the background", "make the background <color>"):
        assert example in EXAMPLES
    kinds = {s.kind for ex in EXAMPLES for s in parse(ex.replace("<color>", "red"))}
    assert set(KINDS) <= kinds
    assert describe(parse("put me in space")) == "space background"
