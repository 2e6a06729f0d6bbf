"""The built-in engine: simple edits on I420 frames, how it runs a plan, and loading engines by spec."""

from __future__ import annotations

import logging
import re
import sys
import textwrap

import cv2
import numpy as np
import pytest

import decart_cli.engine.base as engine_base
import decart_cli.engine.builtin as builtin
from decart_cli.engine import BuiltinEngine, Engine, load_engine
from decart_cli.engine.colors import ACHROMATIC, COLORS
from decart_cli.engine.frame import STAGE_OBJECT, STAGE_PRIVACY, STAGE_REGION, STAGE_SCENE, STAGE_STYLE, Face
from decart_cli.errors import EngineError, UnsupportedPrompt, UsageError

H, W = 64, 128
STRIPES = {  # name: (column slice, BGR)
    "gray": (slice(0, 32), (128, 128, 128)),
    "red": (slice(32, 64), (0, 0, 255)),
    "green": (slice(64, 96), (0, 255, 0)),
    "blue": (slice(96, 128), (255, 0, 0)),
}


def make_frame() -> np.ndarray:
    """A 64x128 I420 frame of four vertical stripes: gray, red, green, blue."""
    bgr = np.zeros((H, W, 3), np.uint8)
    for cols, colour in STRIPES.values():
        bgr[:, cols] = colour
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def to_bgr(i420: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


def stripe_mean(bgr: np.ndarray, name: str) -> np.ndarray:
    """Mean (B, G, R) of a stripe, away from its edges (chroma is shared by 2x2 blocks)."""
    cols = STRIPES[name][0]
    return bgr[4:-4, cols.start + 4 : cols.stop - 4].reshape(-1, 3).mean(axis=0)


def planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(luma, chroma) of an I420 frame; chroma is U then V, flat."""
    return i420[:H], i420[H:].reshape(-1)


def edited(prompt: str, frame: np.ndarray | None = None) -> np.ndarray:
    engine = BuiltinEngine()
    engine.set_prompt(prompt)
    return engine.process((make_frame() if frame is None else frame).copy())


# --- edits -----------------------------------------------------------------


def test_passthrough_is_identical():
    """A new engine and an empty prompt return the frame unchanged."""
    frame = make_frame()
    engine = BuiltinEngine()
    assert np.array_equal(engine.process(frame.copy()), frame)
    engine.set_prompt("invert")
    engine.set_prompt("   ")
    assert engine.describe() == "passthrough"
    assert np.array_equal(engine.process(frame.copy()), frame)


def test_invert_negates_every_byte():
    """'invert the colors' maps every Y, U and V byte x to 255 - x."""
    frame = make_frame()
    assert np.array_equal(edited("invert the colors", frame), 255 - frame)


def test_black_and_white_sets_chroma_to_neutral_and_keeps_luma():
    """'black and white' sets U and V to 128 and leaves Y untouched."""
    frame = make_frame()
    out = edited("black and white", frame)
    luma, chroma = planes(out)
    assert np.all(chroma == 128)
    assert np.array_equal(luma, planes(frame)[0])


@pytest.mark.parametrize(
    "prompt, dominant",
    [("tint it red", 2), ("tint it blue", 0), ("tint it green", 1)],
)
def test_tint_turns_gray_toward_the_colour_and_keeps_luma(prompt, dominant):
    """A tint makes a gray region clearly that colour (by 40+ levels) and keeps luma."""
    frame = make_frame()
    out = edited(prompt, frame)
    mean = stripe_mean(to_bgr(out), "gray")
    others = [mean[i] for i in range(3) if i != dominant]
    assert mean[dominant] > max(others) + 40, mean
    assert np.array_equal(planes(out)[0], planes(frame)[0])


@pytest.mark.parametrize("name", [n for n in COLORS if n not in ACHROMATIC])
def test_every_chromatic_colour_moves_chroma_toward_it(name):
    """Each colour's tint moves a gray region's (U, V) toward that colour's (U, V)."""
    out = edited(f"tint it {name}")
    u_target, v_target = COLORS[name].u, COLORS[name].v
    _, chroma = planes(out)
    # gray stripe = first 16 of every 64 chroma columns; U rows then V rows
    u_plane, v_plane = chroma.reshape(2, H // 2, W // 2)
    du = u_plane[:, 2:14].mean() - 128
    dv = v_plane[:, 2:14].mean() - 128
    target = np.array([u_target - 128, v_target - 128])
    moved = np.array([du, dv])
    cosine = moved @ target / (np.linalg.norm(moved) * np.linalg.norm(target))
    assert cosine > 0.99 and np.linalg.norm(moved) > 0.5 * np.linalg.norm(target)


def test_achromatic_tints_adjust_luma_and_desaturate():
    """White brightens, black darkens, gray and silver drain colour from a red region."""
    frame = make_frame()
    luma = planes(frame)[0].astype(int)
    red_saturation = np.ptp(stripe_mean(to_bgr(frame), "red"))
    assert planes(edited("make it white"))[0].astype(int).mean() > luma.mean() + 20
    assert planes(edited("make it black"))[0].astype(int).mean() < luma.mean() - 20
    for name in ("gray", "silver", "white", "black"):
        red = stripe_mean(to_bgr(edited(f"tint it {name}")), "red")
        assert np.ptp(red) < 0.5 * red_saturation, (name, red)


@pytest.mark.parametrize(
    "prompt, description",
    [
        ("Invert the colours!", "invert the colors"),
        ("invert colours", "invert the colors"),
        ("  INVERT  ", "invert the colors"),
        ("TINT IT BLUE.", "tint blue"),
        ("tint red", "tint red"),
        ("make it green", "tint green"),
        ("Make it grey!", "tint gray"),
        ("tint it magenta", "tint fuchsia"),
        ("tint it cyan", "tint aqua"),
        ("greyscale", "black and white"),
        ("Grayscale.", "black and white"),
        ("monochrome", "black and white"),
        ("Black & White", "black and white"),
        ("make it black and white", "black and white"),
        ("", "passthrough"),
    ],
)
def test_phrasing_variants_parse(prompt, description):
    """Case, punctuation, spacing and listed synonyms do not change the edit chosen."""
    engine = BuiltinEngine()
    engine.set_prompt(prompt)
    assert engine.describe() == description


@pytest.mark.parametrize("prompt", ["remove the tree", "tint it chartreuse", "invert the tree"])
def test_unsupported_prompt_names_the_nearest_edits_and_keeps_previous_edit(prompt):
    """An unknown prompt raises UnsupportedPrompt naming the nearest edits in one short line; the last edit stays."""
    engine = BuiltinEngine()
    engine.set_prompt("tint it red")
    with pytest.raises(UnsupportedPrompt) as info:
        engine.set_prompt(prompt)
    message = str(info.value)
    assert f"cannot do '{prompt}'" in message
    assert "nearest: " in message and len(message) < 200
    assert isinstance(info.value, EngineError)
    assert engine.describe() == "tint red"
    frame = make_frame()
    assert np.array_equal(engine.process(frame.copy()), edited("tint it red", frame))


def test_process_rejects_a_frame_that_is_not_i420():
    """A BGR (H, W, 3) array given to the I420 engine raises EngineError, not garbage."""
    engine = BuiltinEngine()
    engine.set_prompt("invert")
    with pytest.raises(EngineError, match="I420"):
        engine.process(np.zeros((H, W, 3), np.uint8))


def test_process_edits_a_non_contiguous_frame_into_a_copy():
    """A non-contiguous I420 view is edited (into a contiguous copy) rather than silently left as is."""
    frame = np.ascontiguousarray(np.repeat(make_frame(), 2, axis=1))[:, ::2]
    assert not frame.flags.c_contiguous
    engine = BuiltinEngine()
    engine.set_prompt("invert")
    assert np.array_equal(engine.process(frame), 255 - make_frame())


# --- running a plan (stand-in edits, so only the engine's own logic is tested) ---


class Recorder:
    """A stand-in edit: records what it saw and, optionally, writes a byte to the frame."""

    def __init__(self, name: str, stage: int, log: list, needs_face: bool = False, value: int | None = None) -> None:
        self.name, self.stage, self.log, self.needs_face, self.value = name, stage, log, needs_face, value

    def apply(self, ctx) -> None:
        self.log.append((self.name, ctx.index, ctx.t, ctx.face))
        if self.value is not None:
            ctx.y[0, 0] = self.value


def registry(log: list, **overrides) -> dict:
    """Stand-in factories for the kinds the tests below prompt for."""
    stages = {
        "recolor_region": (STAGE_REGION, False),
        "black_and_white": (STAGE_STYLE, False),
        "sunglasses": (STAGE_OBJECT, True),
        "snow": (STAGE_SCENE, False),
        "blur_face": (STAGE_PRIVACY, True),
    }
    table = {
        kind: (lambda spec, kind=kind, stage=stage, face=face: Recorder(kind, stage, log, face))
        for kind, (stage, face) in stages.items()
    }
    table.update(overrides)
    return table


class FakeTracker:
    """Stands in for FaceTracker: returns the faces it is given, one per update, then the last forever."""

    instances: list["FakeTracker"] = []

    def __init__(self, faces=(), **kwargs) -> None:
        self.faces = list(faces) or [None]
        self.updates = 0
        self.resets = 0
        FakeTracker.instances.append(self)

    def reset(self) -> None:
        self.resets += 1

    def update(self, ctx):
        face = self.faces[min(self.updates, len(self.faces) - 1)]
        self.updates += 1
        return face


FACE = Face(10, 10, 20, 20)


@pytest.fixture
def fake_tracker(monkeypatch):
    """Replace FaceTracker in the engine; yields a function that sets the faces the next tracker returns."""
    FakeTracker.instances = []
    plan: dict = {"faces": ()}
    monkeypatch.setattr(builtin, "FaceTracker", lambda **kw: FakeTracker(plan["faces"], **kw))

    def set_faces(faces) -> None:
        plan["faces"] = faces

    return set_faces


def test_edits_run_in_stage_order_whatever_the_prompt_order(fake_tracker):
    """Edits run region, style, object, scene, privacy; describe() lists them in that order."""
    log: list = []
    engine = BuiltinEngine(registry(log))
    engine.set_prompt("blur my face, add snow, sunglasses, black and white and make the shirt red")
    engine.process(make_frame())
    assert [entry[0] for entry in log] == ["recolor_region", "black_and_white", "sunglasses", "snow", "blur_face"]
    assert engine.describe() == "shirt to red + black and white + sunglasses + snow + blur face"


def test_frame_index_and_time_count_processed_frames():
    """ctx.index counts frames from 0 and ctx.t = index / 25, whatever the plan."""
    log: list = []
    engine = BuiltinEngine(registry(log))
    engine.process(make_frame())  # passthrough frames count too
    engine.set_prompt("black and white")
    for _ in range(3):
        engine.process(make_frame())
    assert [(i, t) for _, i, t, _ in log] == [(1, 0.04), (2, 0.08), (3, 0.12)]


def test_face_is_tracked_only_when_an_edit_needs_it(fake_tracker):
    """No tracker runs for face-free edits; with a face edit every frame is tracked and the face reaches ctx."""
    log: list = []
    fake_tracker([FACE])
    engine = BuiltinEngine(registry(log))
    engine.set_prompt("black and white")
    engine.process(make_frame())
    assert FakeTracker.instances == []
    engine.set_prompt("black and white with sunglasses")
    engine.process(make_frame())
    engine.process(make_frame())
    (tracker,) = FakeTracker.instances
    assert tracker.updates == 2
    assert [face for name, _, _, face in log if name == "sunglasses"] == [FACE, FACE]


def test_tracker_restarts_after_untracked_frames(fake_tracker):
    """After frames without face edits the tracker is reset (its last box is stale), not reused as is."""
    engine = BuiltinEngine(registry([]))
    engine.set_prompt("sunglasses")
    engine.process(make_frame())
    engine.set_prompt("snow")
    engine.process(make_frame())
    engine.set_prompt("sunglasses")
    engine.process(make_frame())
    engine.process(make_frame())
    (tracker,) = FakeTracker.instances
    assert tracker.resets == 1 and tracker.updates == 3


def test_missing_face_is_logged_once_and_its_arrival_once(fake_tracker, caplog):
    """With face edits and no face, 'no face found' is logged once (after 1 s of frames); a face later is logged once."""
    fake_tracker([None] * 60 + [FACE] * 5 + [None] * 40)
    engine = BuiltinEngine(registry([]))
    engine.set_prompt("add sunglasses")
    with caplog.at_level(logging.INFO, logger="decart.engine"):
        for _ in range(105):
            engine.process(make_frame())
    messages = [r.getMessage() for r in caplog.records if r.name == "decart.engine"]
    assert messages == ["no face found: face-anchored edits wait for one", "face found: face-anchored edits follow it"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "decart.engine")


def test_a_face_found_at_once_logs_nothing(fake_tracker, caplog):
    """A face confirmed within the first second is not worth a log line."""
    fake_tracker([None, None, FACE])
    engine = BuiltinEngine(registry([]))
    engine.set_prompt("add sunglasses")
    with caplog.at_level(logging.INFO, logger="decart.engine"):
        for _ in range(50):
            engine.process(make_frame())
    assert [r for r in caplog.records if r.name == "decart.engine"] == []


def test_kind_without_a_factory_is_refused_and_the_plan_kept():
    """A parsed kind no module registers is refused like any unknown prompt; the previous plan stays."""
    engine = BuiltinEngine(registry([]))
    engine.set_prompt("black and white")
    with pytest.raises(UnsupportedPrompt) as info:
        engine.set_prompt("black and white with a red hat")
    assert "cannot do 'a red hat'" in str(info.value) and "nearest: " in str(info.value)
    assert engine.describe() == "black and white"


def test_prompt_change_mid_frame_takes_effect_on_the_next_frame():
    """A plan swapped while a frame is being edited does not change that frame; the next frame uses it."""
    log: list = []
    engine = BuiltinEngine()

    class Swapper(Recorder):
        def apply(self, ctx) -> None:
            super().apply(ctx)
            engine.set_prompt("make the shirt red")  # as if from another thread, mid-frame

    engine.registry = registry(log, black_and_white=lambda spec: Swapper("bw", STAGE_STYLE, log), snow=lambda spec: Recorder("snow", STAGE_SCENE, log))
    engine.set_prompt("black and white and snow")
    engine.process(make_frame())
    engine.process(make_frame())
    assert [name for name, *_ in log] == ["bw", "snow", "recolor_region"]


def test_a_failing_edit_is_logged_once_and_the_others_still_run(caplog):
    """An edit that raises does not end the stream: the other edits apply and the error is logged once."""
    log: list = []

    class Broken(Recorder):
        def apply(self, ctx) -> None:
            raise RuntimeError("boom")

    engine = BuiltinEngine(registry(log, black_and_white=lambda spec: Broken("bw", STAGE_STYLE, log)))
    engine.registry["snow"] = lambda spec: Recorder("snow", STAGE_SCENE, log, value=7)
    engine.set_prompt("black and white with snow")
    with caplog.at_level(logging.ERROR, logger="decart.engine"):
        outs = [engine.process(make_frame()) for _ in range(3)]
    assert all(out[0, 0] == 7 for out in outs)
    assert len([r for r in caplog.records if "boom" in (r.exc_text or "") or "failed" in r.getMessage()]) == 1


# --- load_engine ---------------------------------------------------------------

DOUBLER = '''
import numpy as np

class Doubler:
    pixel_format = "bgr24"

    def set_prompt(self, prompt):
        self.prompt = prompt

    def process(self, image):
        return np.minimum(image.astype(np.uint16) * 2, 255).astype(np.uint8)

    def describe(self):
        return "double"

class NoProcess:
    pixel_format = "bgr24"
    def set_prompt(self, prompt): pass
    def describe(self): return ""

class BadFormat(Doubler):
    pixel_format = "rgba"

class Explodes(Doubler):
    def __init__(self):
        raise RuntimeError("no GPU here")

def factory():
    return Doubler()
'''


@pytest.fixture
def engine_module(tmp_path, monkeypatch):
    """A module ``tmp_engines_for_test`` on sys.path holding Doubler and broken engines."""
    (tmp_path / "tmp_engines_for_test.py").write_text(DOUBLER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tmp_engines_for_test", raising=False)
    return "tmp_engines_for_test"


def test_load_engine_none_gives_builtin():
    """load_engine(None) returns a BuiltinEngine that satisfies the Engine protocol."""
    engine = load_engine(None)
    assert isinstance(engine, BuiltinEngine)
    assert isinstance(engine, Engine)
    assert engine.pixel_format == "yuv420p"


def test_load_engine_imports_module_class(engine_module):
    """'module:Class' imports the module and instantiates the class with no arguments."""
    engine = load_engine(f"{engine_module}:Doubler")
    assert type(engine).__name__ == "Doubler"
    engine.set_prompt("anything")
    image = np.full((4, 4, 3), 100, np.uint8)
    assert np.all(engine.process(image) == 200)
    assert engine.describe() == "double"


def test_the_engine_commands_find_modules_in_the_current_directory(tmp_path, monkeypatch):
    """A module file in the working directory loads once the command has put it on sys.path (load_engine itself leaves sys.path alone)."""
    from decart_cli.cli import allow_local_engines

    (tmp_path / "cwd_engine_for_test.py").write_text(DOUBLER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "cwd_engine_for_test", raising=False)
    with pytest.raises(UsageError, match="cannot import engine module"):
        load_engine("cwd_engine_for_test:Doubler")
    assert str(tmp_path) not in sys.path
    allow_local_engines()
    assert type(load_engine("cwd_engine_for_test:Doubler")).__name__ == "Doubler"


def test_docstring_example_engine_works(tmp_path, monkeypatch):
    """The custom engine shown in the engine.base docstring loads and behaves as described."""
    doc = engine_base.__doc__
    block = re.search(r"::\n\n((?:    .*\n|\n)+)", doc).group(1)
    (tmp_path / "my_engines.py").write_text(textwrap.dedent(block))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_engines", raising=False)
    engine = load_engine("my_engines:Mirror")
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    engine.set_prompt("Mirror ")
    assert np.array_equal(engine.process(image.copy()), image[:, ::-1])
    with pytest.raises(UnsupportedPrompt):
        engine.set_prompt("explode")
    assert engine.describe() == "mirror"


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("nope", "bad engine spec 'nope'"),
        ("a:b:c", "bad engine spec"),
        ("no_such_mod:X", "cannot import engine module 'no_such_mod'"),
        ("os:path", "is a module, not a class"),
        ("os:NoSuchEngine", "has no attribute 'NoSuchEngine'"),
        ("{mod}:NoProcess", "lacks process"),
        ("{mod}:BadFormat", "pixel_format 'rgba'"),
        ("{mod}:Explodes", "RuntimeError: no GPU here"),
        ("{mod}:factory", "is a function, not a class"),
    ],
)
def test_load_engine_bad_specs_raise_usage_error(engine_module, spec, fragment):
    """Each way a spec can be wrong raises a one-line UsageError (exit 2) with advice (a hint, or a fix the CLI words)."""
    from decart_cli.cli.fixes import FIXES

    with pytest.raises(UsageError) as info:
        load_engine(spec.format(mod=engine_module))
    err = info.value
    assert fragment in err.message
    assert err.exit_code == 2
    assert err.hint or err.fix in FIXES
    assert "\n" not in err.user_message(FIXES) and len(err.user_message(FIXES)) > len(err.message)
    assert err.__suppress_context__ or err.__context__ is None
