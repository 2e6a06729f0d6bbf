"""The built-in engine end to end: a multi-edit prompt through a real `decart serve`, recorded and decoded."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from conftest import assert_clean_failure, decode, halves_clip, mean_bgr, run_decart, serve
from decart_cli.assets import sample_clip
from decart_cli.engine.face import detect_faces, eye_centers
from decart_cli.engine.frame import Face

SMALL = (160, 88)  # frames are matched to the source clip at this size


def luma_frames(path: Path) -> list[np.ndarray]:
    """The I420 buffer of every frame of ``path``."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]


def test_black_and_white_with_sunglasses_on_the_sample_clip(server, tmp_path: Path) -> None:
    """-i sample -p 'black and white with sunglasses': no colour anywhere, and dark lenses over the tracked eyes."""
    out = tmp_path / "bw_sunglasses.mp4"
    result = run_decart(
        "edit", "-i", "sample", "-p", "black and white with sunglasses", "--no-show", "-o", str(out),
        "--duration", "4", "--url", server.url,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    recorded = luma_frames(out)
    assert len(recorded) >= 75, len(recorded)
    height = recorded[0].shape[0] * 2 // 3
    width = recorded[0].shape[1]
    assert (width, height) == (1280, 704)

    # black and white: every chroma sample is neutral (up to H.264 noise), though the clip is colourful
    source = luma_frames(sample_clip())
    assert np.abs(source[0][height:].astype(int) - 128).max() > 40
    for frame in recorded[10:]:
        chroma = frame[height:].astype(int) - 128
        assert np.abs(chroma).max() <= 8 and np.abs(chroma).mean() < 1.0, (np.abs(chroma).max(), np.abs(chroma).mean())

    # sunglasses: find the source frame each recorded frame shows (luma is kept by black and white),
    # detect the face there, and compare the eyes in the source with the recording
    small_source = np.stack([cv2.resize(f[:height], SMALL, interpolation=cv2.INTER_AREA) for f in source]).astype(np.int16)
    darkened = []  # per checked frame: how much darker the eyes are than in the source, and how dark
    for frame in recorded[25::5]:
        luma = frame[:height]
        small = cv2.resize(luma, SMALL, interpolation=cv2.INTER_AREA).astype(np.int16)
        match = int(np.abs(small_source - small).mean(axis=(1, 2)).argmin())
        faces = detect_faces(source[match][:height])
        if not faces:
            continue
        face = Face(*faces[0])
        r = max(3, int(0.06 * face.w))
        for x, y in eye_centers(face):
            x, y = int(x), int(y)
            before = source[match][y - r : y + r, x - r : x + r].mean()
            after = luma[y - r : y + r, x - r : x + r].mean()
            darkened.append((round(before - after), round(after)))
    assert len(darkened) >= 20, darkened
    drops = np.array([d for d, _ in darkened])
    levels = np.array([a for _, a in darkened])
    # lenses over the eyes on most frames (the tracker may lag a fast move by a few pixels)
    assert np.median(drops) > 60 and np.median(levels) < 60, darkened
    assert np.mean(drops > 30) >= 0.8, darkened


LEFT, RIGHT = (30, 30, 200), (200, 60, 30)  # BGR halves of the clip

CUSTOM_ENGINE = '''
import numpy as np
from decart_cli.errors import UnsupportedPrompt

class Mirror:
    pixel_format = "bgr24"

    def __init__(self):
        self.on = False

    def set_prompt(self, prompt):
        text = prompt.strip().lower()
        if text not in ("", "mirror"):
            raise UnsupportedPrompt(f"cannot do {prompt!r}; it can: mirror")
        self.on = text == "mirror"

    def process(self, image):
        return np.ascontiguousarray(image[:, ::-1]) if self.on else image

    def describe(self):
        return "mirror" if self.on else "passthrough"
'''


def test_custom_engine_from_the_current_directory(tmp_path: Path) -> None:
    """`decart serve --engine my_engines:Mirror` (the README's example, in the cwd) edits the stream and refuses what it cannot do."""
    (tmp_path / "my_engines.py").write_text(CUSTOM_ENGINE)
    clip = halves_clip(tmp_path / "halves.mp4", frames=25, left=LEFT, right=RIGHT)
    out = tmp_path / "mirrored.mp4"
    with serve("--engine", "my_engines:Mirror", cwd=tmp_path) as custom:
        result = run_decart("edit", "-i", str(clip), "--loop", "-p", "mirror", "--no-show", "-o", str(out), "--duration", "1.5", "--url", custom.url)
        refused = run_decart("edit", "-i", "test", "-p", "add sunglasses", "--no-show", "-o", str(tmp_path / "x.mp4"), "--url", custom.url)
    assert result.returncode == 0, result.stderr
    frame = decode(out).frames[-3]
    assert np.abs(mean_bgr(frame[:, 20:600]) - RIGHT).max() < 25  # right half now on the left
    assert np.abs(mean_bgr(frame[:, 680:1260]) - LEFT).max() < 25
    assert_clean_failure(refused, 1, "prompt refused", "it can: mirror")
