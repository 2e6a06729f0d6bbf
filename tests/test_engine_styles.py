"""Global style edits (decart_cli.engine.styles): the pixels say what the instruction said.

Frames come from the shipped sample clip (``decart_cli/assets/sample.mp4``)
when it is there, else from a synthetic outdoor scene with a person, a house,
a tree, a car, text, gradients and sensor noise.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from decart_cli.engine.colors import COLORS
from decart_cli.engine.frame import STAGE_STYLE, EditSpec, FrameContext
from decart_cli.engine.styles import EDITS

W, H = 1280, 704
SAMPLE = Path(__file__).resolve().parent.parent / "decart_cli" / "assets" / "sample.mp4"
KINDS = (
    "black_and_white", "invert", "tint", "brightness", "warmth", "sepia", "cartoon",
    "sketch", "thermal", "night_vision", "neon", "pixelate", "blur",
)  # fmt: skip


def synthetic_scene(w: int = W, h: int = H) -> np.ndarray:
    """A BGR outdoor scene: sky and grass gradients, house, tree, sun, person, car, text, noise."""
    rng = np.random.default_rng(0)
    s = w / 1280

    def S(v: float) -> int:
        return int(round(v * s))

    img = np.zeros((h, w, 3), np.float32)
    t = np.linspace(0, 1, h // 2)[:, None, None]
    img[: h // 2] = (235 - 60 * t) * np.array([1.0, 0.85, 0.55], np.float32)
    ramp = np.linspace(0, 1, w)[None, :, None]
    img[h // 2 :] = np.array([40, 110, 60], np.float32) + ramp * np.array([30, 60, 40], np.float32)
    img += rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.rectangle(img, (S(80), S(250)), (S(380), S(520)), (60, 80, 190), -1)  # house
    cv2.rectangle(img, (S(140), S(330)), (S(220), S(410)), (230, 220, 200), -1)
    cv2.rectangle(img, (S(260), S(400)), (S(320), S(520)), (30, 50, 90), -1)
    roof = np.array([[S(60), S(250)], [S(230), S(140)], [S(400), S(250)]], np.int32)
    cv2.fillPoly(img, [roof], (40, 40, 120))
    cv2.rectangle(img, (S(1050), S(330)), (S(1090), S(560)), (30, 60, 100), -1)  # tree
    cv2.circle(img, (S(1070), S(280)), S(110), (40, 150, 40), -1)
    cv2.circle(img, (S(1180), S(80)), S(50), (60, 230, 255), -1)  # sun
    cv2.ellipse(img, (S(640), S(704)), (S(210), S(200)), 0, 180, 360, (40, 40, 200), -1)  # shirt
    cv2.rectangle(img, (S(610), S(420)), (S(670), S(520)), (120, 160, 210), -1)  # neck
    cv2.ellipse(img, (S(640), S(330)), (S(95), S(125)), 0, 0, 360, (130, 170, 225), -1)  # face
    cv2.ellipse(img, (S(640), S(260)), (S(105), S(75)), 0, 180, 360, (20, 40, 70), -1)  # hair
    for ex in (605, 675):
        cv2.circle(img, (S(ex), S(320)), S(10), (250, 250, 250), -1)
        cv2.circle(img, (S(ex), S(320)), S(5), (30, 20, 20), -1)
    cv2.ellipse(img, (S(640), S(395)), (S(35), S(12)), 0, 0, 180, (50, 50, 150), max(1, S(4)))
    cv2.rectangle(img, (S(820), S(520)), (S(1010), S(600)), (180, 60, 20), -1)  # car
    for wx in (860, 970):
        cv2.circle(img, (S(wx), S(605)), S(22), (20, 20, 20), -1)
    cv2.putText(img, "HELLO", (S(40), S(660)), cv2.FONT_HERSHEY_SIMPLEX, 2 * s, (250, 250, 250), max(1, S(5)))
    return cv2.GaussianBlur(img, (3, 3), 0.7)


def sample_bgr() -> np.ndarray:
    """A BGR picture about a second into the sample clip, or the synthetic scene without one."""
    if SAMPLE.exists():
        with av.open(str(SAMPLE)) as container:
            last = None
            for i, frame in enumerate(container.decode(video=0)):
                last = frame
                if i >= 25:
                    break
            if last is not None:
                i420 = last.reformat(width=W, height=H, format="yuv420p").to_ndarray()
                return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    return synthetic_scene()


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    return sample_bgr()


@pytest.fixture
def frame(picture: np.ndarray) -> np.ndarray:
    """A fresh 1280x704 I420 frame of the test picture."""
    return cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420)


def spec(kind: str, **kwargs) -> EditSpec:
    if kind == "tint" and "color" not in kwargs:
        kwargs["color"] = COLORS["red"]
    return EditSpec(kind=kind, **kwargs)


def run(kind: str, image: np.ndarray, frames: int = 1, **kwargs) -> np.ndarray:
    """Apply a fresh ``kind`` edit to copies of ``image`` ``frames`` times; return the last result."""
    edit = EDITS[kind](spec(kind, **kwargs))
    out = image
    for i in range(frames):
        out = image.copy()
        edit.apply(FrameContext.wrap(out, index=i, t=i / 25))
    return out


def split(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, U, V) planes as int32 arrays."""
    ctx = FrameContext.wrap(i420)
    return ctx.y.astype(np.int32), ctx.u.astype(np.int32), ctx.v.astype(np.int32)


def bgr(i420: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420).astype(np.float64)


def saturation(i420: np.ndarray) -> float:
    """Mean chroma distance from neutral."""
    _, u, v = split(i420)
    return float(np.hypot(u - 128, v - 128).mean())


def strong_edges(i420: np.ndarray, grow: int = 7) -> np.ndarray:
    """Boolean mask of the neighbourhood of strong luma edges of a frame."""
    y = FrameContext.wrap(i420).y
    edges = cv2.Canny(cv2.GaussianBlur(y, (5, 5), 0), 60, 150)
    return cv2.dilate(edges, np.ones((grow, grow), np.uint8)) > 0


# ------------------------------------------------------------------ the shape


def test_registry_has_every_style_kind() -> None:
    """Every style kind is registered and builds a style-stage edit that needs no face."""
    assert set(KINDS) <= set(EDITS)
    for kind in KINDS:
        edit = EDITS[kind](spec(kind))
        assert edit.stage == STAGE_STYLE
        assert edit.needs_face is False
        assert callable(edit.apply)


@pytest.mark.parametrize("size", [(1280, 704), (640, 352), (328, 184)])
@pytest.mark.parametrize("kind", KINDS)
def test_apply_edits_in_place_keeping_shape_and_dtype(kind: str, size: tuple[int, int], picture: np.ndarray) -> None:
    """apply changes the same (H*3/2, W) uint8 buffer in place, at full and other frame sizes."""
    w, h = size
    image = cv2.cvtColor(cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)
    before = image.copy()
    edit = EDITS[kind](spec(kind, amount=1.3) if kind == "brightness" else spec(kind))  # 1.0 = unchanged
    for i in range(3):
        image[:] = before
        ctx = FrameContext.wrap(image, index=i)
        edit.apply(ctx)
        assert ctx.image is image
    assert image.shape == (h * 3 // 2, w) and image.dtype == np.uint8
    assert not np.array_equal(image, before), f"{kind} left the frame unchanged"


def test_tint_without_a_colour_is_refused() -> None:
    """A tint spec with no colour is a ValueError when the edit is made, not at frame time."""
    with pytest.raises(ValueError):
        EDITS["tint"](EditSpec(kind="tint"))


# ------------------------------------------------------------- colour edits


def test_black_and_white_has_no_chroma_and_keeps_luma(frame: np.ndarray) -> None:
    """Black and white: every chroma sample is 128, luma is untouched."""
    out = run("black_and_white", frame)
    y0, _, _ = split(frame)
    y, u, v = split(out)
    assert (u == 128).all() and (v == 128).all()
    assert np.array_equal(y, y0)


def test_invert_is_255_minus_every_sample(frame: np.ndarray) -> None:
    """Invert: every Y, U, V sample x becomes 255 - x."""
    assert np.array_equal(run("invert", frame), 255 - frame)


def test_tint_red_moves_the_hue_to_red_and_keeps_the_picture(frame: np.ndarray) -> None:
    """Tint red: mean chroma points at red's, pixels turn redder, luma (the picture) is unchanged."""
    red = COLORS["red"]
    out = run("tint", frame, color=red)
    y0, _, _ = split(frame)
    y, u, v = split(out)
    assert np.array_equal(y, y0)
    red_angle = np.degrees(np.arctan2(red.v - 128, red.u - 128))

    def off_red(u: np.ndarray, v: np.ndarray) -> float:
        angle = np.degrees(np.arctan2(v.mean() - 128, u.mean() - 128))
        return abs((angle - red_angle + 180) % 360 - 180)

    assert off_red(u, v) < 30 and off_red(u, v) < off_red(*split(frame)[1:])
    assert np.hypot(u.mean() - 128, v.mean() - 128) > 40  # an obvious cast, not a hint
    b0, b1 = bgr(frame), bgr(out)
    redness = lambda im: (im[..., 2] - (im[..., 0] + im[..., 1]) / 2).mean()  # noqa: E731
    assert redness(b1) > redness(b0) + 40
    # not a flat fill: chroma still varies with the picture
    assert u.std() > 0.2 * split(frame)[1].std() and v.std() > 0.2 * split(frame)[2].std()


def test_tint_white_washes_out_and_tint_black_darkens(frame: np.ndarray) -> None:
    """Achromatic tints change lightness and saturation instead of hue."""
    y0 = split(frame)[0].mean()
    white = run("tint", frame, color=COLORS["white"])
    black = run("tint", frame, color=COLORS["black"])
    assert split(white)[0].mean() > y0 + 15
    assert split(black)[0].mean() < y0 - 15
    assert saturation(white) < 0.6 * saturation(frame)


@pytest.mark.parametrize("amount, sign", [(1.3, 1), (1.6, 1), (0.7, -1), (0.5, -1)])
def test_brightness_moves_mean_luma_the_asked_way(frame: np.ndarray, amount: float, sign: int) -> None:
    """Brightness > 1 raises mean luma, < 1 lowers it, by a clear margin."""
    y0 = split(frame)[0].mean()
    y1 = split(run("brightness", frame, amount=amount))[0].mean()
    assert sign * (y1 - y0) > 12


def test_brightness_grows_with_amount(frame: np.ndarray) -> None:
    """A larger amount is brighter: 0.5 < 0.7 < 1.0 (no change) < 1.3 < 1.6 in mean luma."""
    means = [split(run("brightness", frame, amount=a))[0].mean() for a in (0.5, 0.7, 1.0, 1.3, 1.6)]
    assert means == sorted(means) and len(set(np.round(means, 1))) == 5
    assert abs(means[2] - split(frame)[0].mean()) < 0.5


def test_warmer_raises_v_and_lowers_u_cooler_the_reverse(frame: np.ndarray) -> None:
    """Warmer: V up and U down (towards orange); cooler: U up and V down (towards blue)."""
    _, u0, v0 = split(frame)
    _, uw, vw = split(run("warmth", frame, amount=1.0))
    _, uc, vc = split(run("warmth", frame, amount=-1.0))
    assert vw.mean() > v0.mean() + 8 and uw.mean() < u0.mean() - 8
    assert vc.mean() < v0.mean() - 8 and uc.mean() > u0.mean() + 8
    b0, bw, bc = bgr(frame), bgr(run("warmth", frame, amount=1.0)), bgr(run("warmth", frame, amount=-1.0))
    warm = lambda im: (im[..., 2] - im[..., 0]).mean()  # noqa: E731  R - B
    assert warm(bw) > warm(b0) + 15 > warm(bc) + 30


# --------------------------------------------------------------- film looks


def corners_to_centre(y: np.ndarray) -> float:
    """Mean luma of the four corner patches over that of the centre patch."""
    h, w = y.shape
    ph, pw = h // 8, w // 8
    corners = np.concatenate(
        [y[:ph, :pw].ravel(), y[:ph, -pw:].ravel(), y[-ph:, :pw].ravel(), y[-ph:, -pw:].ravel()]
    )
    centre = y[h // 2 - ph : h // 2 + ph, w // 2 - pw : w // 2 + pw]
    return float(corners.mean() / max(1.0, centre.mean()))


def test_sepia_tones_fades_vignettes_and_grains(frame: np.ndarray) -> None:
    """Sepia: chroma brownish (U < 128 < V), less contrast, darker corners, grain that changes per frame."""
    edit = EDITS["sepia"](spec("sepia"))
    outs = []
    for i in range(2):
        out = frame.copy()
        edit.apply(FrameContext.wrap(out, index=i))
        outs.append(out)
    y0, _, _ = split(frame)
    y, u, v = split(outs[0])
    assert (u < 124).all() and (v > 132).all()
    b = bgr(outs[0])
    assert b[..., 2].mean() > b[..., 1].mean() > b[..., 0].mean()  # R > G > B: brown
    assert y.std() < y0.std()
    assert corners_to_centre(y) < 0.85 * corners_to_centre(y0)
    diff = np.abs(split(outs[1])[0] - y)
    assert diff.mean() > 2.0  # a new grain pattern each frame


def test_sepia_amount_scales_the_tone(frame: np.ndarray) -> None:
    """Sepia amount scales the look: 2 is browner than 1, which is browner than 0.5."""
    def brown(a: float) -> float:
        _, u, v = split(run("sepia", frame, amount=a))
        return float((v - u).mean())

    assert brown(2.0) > brown(1.0) > brown(0.5) > 0


def distinct_colours(i420: np.ndarray) -> int:
    """Distinct (Y, U, V) triples, Y sampled at chroma positions."""
    y, u, v = split(i420)
    packed = (y[::2, ::2] << 16) | (u << 8) | v
    return int(np.unique(packed).size)


def test_cartoon_flattens_colours_and_draws_dark_outlines(frame: np.ndarray) -> None:
    """Cartoon: far fewer distinct colours, and dark outline pixels along the picture's strong edges."""
    out = run("cartoon", frame)
    assert distinct_colours(out) < 0.3 * distinct_colours(frame)
    zone = strong_edges(frame)
    y0, _, _ = split(frame)
    y, _, _ = split(out)
    dark_before = (y0[zone] < 45).mean()
    dark_after = (y[zone] < 45).mean()
    assert dark_after > dark_before + 0.08
    # the outlines are on edges, not scattered over flat areas
    assert (y < 45)[zone].mean() > 2 * (y < 45)[~zone].mean()
    assert saturation(out) > 0.9 * saturation(frame)


def test_sketch_is_light_paper_with_dark_lines_and_no_colour(frame: np.ndarray) -> None:
    """Sketch: no chroma, mostly light grey/white, with dark strokes that follow the picture's edges."""
    out = run("sketch", frame)
    y, u, v = split(out)
    assert (u == 128).all() and (v == 128).all()
    assert (y > 170).mean() > 0.5 and np.median(y) > 180
    dark = y < 110
    assert 0.003 < dark.mean() < 0.3
    # the strokes sit where the picture has detail: much stronger gradients under them than on average
    g = cv2.GaussianBlur(FrameContext.wrap(frame).y, (5, 5), 0).astype(np.float32)
    grad = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    assert grad[dark].mean() > 2 * grad.mean()


def test_thermal_paints_bright_areas_hot_and_dark_areas_cold(frame: np.ndarray) -> None:
    """Thermal: the brightest areas turn red/yellow, the darkest blue/purple."""
    y0, _, _ = split(frame)
    y0 = cv2.GaussianBlur(y0.astype(np.float32), (0, 0), 8)  # away from edges (thermal is blurry)
    hot = y0 >= np.percentile(y0, 90)
    cold = y0 <= np.percentile(y0, 10)
    b = bgr(run("thermal", frame))
    bh, gh, rh = (b[..., k][hot].mean() for k in range(3))
    bc, gc, rc = (b[..., k][cold].mean() for k in range(3))
    assert rh > bh + 60 and gh > bh  # red/orange/yellow
    assert bc > gc + 40 and bc > 0.8 * rc  # blue/purple
    assert rh + gh > rc + gc + 150


def test_night_vision_is_green_bright_noisy_and_vignetted(frame: np.ndarray) -> None:
    """Night vision: green dominant, brighter mid-tones, noise that changes per frame, dark rim."""
    edit = EDITS["night_vision"](spec("night_vision"))
    outs = []
    for i in range(2):
        out = frame.copy()
        edit.apply(FrameContext.wrap(out, index=i))
        outs.append(out)
    b = bgr(outs[0])
    bb, gg, rr = (b[..., k].mean() for k in range(3))
    assert gg > 1.4 * rr and gg > 1.4 * bb
    y0, _, _ = split(frame)
    y, _, _ = split(outs[0])
    h, w = y.shape
    centre = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    assert y[centre].mean() > y0[centre].mean() + 8
    assert corners_to_centre(y) < 0.7 * corners_to_centre(y0)
    assert np.abs(split(outs[1])[0] - y).mean() > 2.0


def test_neon_saturates_and_makes_edges_glow(frame: np.ndarray) -> None:
    """Neon: much more saturated colour, and edges brighter relative to the (darker) rest."""
    out = run("neon", frame)
    assert saturation(out) > 1.6 * saturation(frame)
    y0, _, _ = split(frame)
    y, _, _ = split(out)
    zone = strong_edges(frame, grow=5)
    gain_edges = (y - y0)[zone].mean()
    gain_rest = (y - y0)[~zone].mean()
    assert gain_edges > gain_rest + 10


def test_pixelate_makes_constant_16px_blocks(frame: np.ndarray) -> None:
    """Pixelate: every aligned 16x16 luma block (8x8 chroma) is one value, and blocks differ."""
    out = run("pixelate", frame)
    y, u, v = split(out)
    blocks = y.reshape(H // 16, 16, W // 16, 16)
    assert (blocks.max(axis=(1, 3)) == blocks.min(axis=(1, 3))).all()
    for c in (u, v):
        cb = c.reshape(H // 16, 8, W // 16, 8)
        assert (cb.max(axis=(1, 3)) == cb.min(axis=(1, 3))).all()
    assert np.unique(blocks[:, 0, :, 0]).size > 8
    # block means follow the picture
    y0, _, _ = split(frame)
    means0 = y0.reshape(H // 16, 16, W // 16, 16).mean(axis=(1, 3))
    assert np.corrcoef(means0.ravel(), blocks[:, 0, :, 0].ravel())[0, 1] > 0.95


def test_pixelate_amount_sets_block_size_and_pads_partial_blocks(picture: np.ndarray) -> None:
    """Pixelate amount 0.5 gives 8 px blocks; a frame that is not a multiple of the block still has aligned blocks."""
    w, h = 200, 120  # 200 = 12.5 blocks of 16
    image = cv2.cvtColor(cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)
    y, _, _ = split(run("pixelate", image))
    full = y[:112, :192].reshape(7, 16, 12, 16)
    assert (full.max(axis=(1, 3)) == full.min(axis=(1, 3))).all()
    edge = y[112:, 192:]
    assert edge.max() == edge.min()
    y8, _, _ = split(run("pixelate", image, amount=0.5))
    b8 = y8[:120, :200].reshape(15, 8, 25, 8)
    assert (b8.max(axis=(1, 3)) == b8.min(axis=(1, 3))).all()
    halves = y8[:112, :192].reshape(7, 2, 8, 12, 2, 8)[:, :, 0, :, :, 0]  # 8 px blocks inside a 16 px one
    assert (halves.max(axis=(1, 3)) != halves.min(axis=(1, 3))).any()


def high_frequency_energy(i420: np.ndarray) -> float:
    """Variance of the luma minus a 2 px Gaussian blur of it (fine detail)."""
    y = FrameContext.wrap(i420).y.astype(np.float32)
    return float((y - cv2.GaussianBlur(y, (0, 0), 2.0)).var())


def test_blur_removes_fine_detail(frame: np.ndarray) -> None:
    """Blur: high-frequency energy drops sharply; the mean picture stays; amount scales it."""
    out = run("blur", frame)
    assert high_frequency_energy(out) < 0.1 * high_frequency_energy(frame)
    assert abs(split(out)[0].mean() - split(frame)[0].mean()) < 3
    y0 = split(frame)[0]
    change = [np.abs(split(run("blur", frame, amount=a))[0] - y0).mean() for a in (0.5, 1.0, 2.0)]
    assert change[0] < change[1] < change[2]  # amount scales the radius
