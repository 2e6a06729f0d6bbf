"""Build ``decart_cli/assets/sample.mp4``, the sample clip with a real face.

The person is NASA's official portrait of astronaut Eileen Collins (public
domain, a work of the US federal government), as bundled with scikit-image
(``skimage/data/astronaut.png``, 512x512). She is cut out of the studio
backdrop with GrabCut (seeded with hand-placed boxes, so the result is
repeatable), composited on a synthetic room wall and moved: she slides left
and right across the frame and gently zooms, so her face travels ~600 px
and the clip loops seamlessly. The output is 1280x704, 25 fps, 8 s, H.264
yuv420p (BT.601 limited range), about 1-2 MB.

Get the source image without installing scikit-image::

    pip download --no-deps scikit-image -d /tmp/skd
    python tools/make_sample.py --source /tmp/skd/scikit_image-*.whl

``--source`` takes the PNG itself or a scikit-image wheel (the PNG is read
from inside it); without it, an installed scikit-image is used.
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "decart_cli" / "assets" / "sample.mp4"

WIDTH, HEIGHT, FPS, SECONDS = 1280, 704, 25, 8
MEMBER = "skimage/data/astronaut.png"


def load_source(source: str | None) -> np.ndarray:
    """The 512x512 astronaut portrait as BGR."""
    if source is None:
        try:
            import skimage  # type: ignore[import-not-found]
        except ImportError:
            sys.exit("no --source given and scikit-image is not installed; see this script's docstring")
        data = (Path(skimage.__file__).parent / "data" / "astronaut.png").read_bytes()
    elif source.endswith(".whl") or zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            data = wheel.read(MEMBER)
    else:
        data = Path(source).read_bytes()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.shape[:2] != (512, 512):
        sys.exit(f"{source or MEMBER} is not the 512x512 astronaut portrait")
    return img


def cut_out(img: np.ndarray) -> np.ndarray:
    """A float32 alpha matte (0..1) of the person, from seeded GrabCut, edges feathered."""
    mask = np.full(img.shape[:2], cv2.GC_PR_BGD, np.uint8)
    # Probably the person: head, and the torso down to the bottom edge.
    cv2.ellipse(mask, (225, 110), (80, 100), 0, 0, 360, cv2.GC_PR_FGD, -1)
    cv2.rectangle(mask, (30, 200), (370, 511), cv2.GC_PR_FGD, -1)
    # Surely the person: face, suit front, neck ring and collar, the helmet she holds.
    cv2.ellipse(mask, (225, 120), (40, 55), 0, 0, 360, cv2.GC_FGD, -1)
    cv2.rectangle(mask, (120, 300), (300, 500), cv2.GC_FGD, -1)
    cv2.ellipse(mask, (210, 220), (85, 60), 0, 0, 360, cv2.GC_FGD, -1)
    cv2.ellipse(mask, (210, 225), (95, 70), 0, 0, 360, cv2.GC_PR_FGD, 14)
    cv2.circle(mask, (390, 440), 95, cv2.GC_FGD, -1)
    # Surely backdrop: the edges, the flag, the shuttle model and its table.
    mask[:, :12] = cv2.GC_BGD
    mask[:8, :] = cv2.GC_BGD
    mask[:150, 330:] = cv2.GC_BGD
    mask[:200, :110] = cv2.GC_BGD
    mask[150:338, 364:] = cv2.GC_BGD
    mask[:, 503:] = cv2.GC_BGD
    cv2.setRNGSeed(1)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.grabCut(img, mask, None, bgd, fgd, 8, cv2.GC_INIT_WITH_MASK)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8) * 255
    # Keep the largest blob only (stray backdrop specks), then soften the edge.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    if count > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        fg = np.where(labels == biggest, 255, 0).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    alpha = cv2.GaussianBlur(fg.astype(np.float32) / 255, (0, 0), 1.2)
    # The helmet runs off the photo's right edge: fade it out there instead of a hard cut.
    ramp = np.clip((503 - np.arange(512)) / 40.0, 0, 1).astype(np.float32)
    alpha[300:] *= ramp[None, :]
    return alpha


def room(width: int, height: int) -> np.ndarray:
    """A still, softly lit room wall (cool grey-green, never orange) with some detail."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = yy / height
    top = np.array([206, 204, 190], np.float32)  # BGR: pale cool grey
    bottom = np.array([120, 128, 112], np.float32)  # slate green-grey
    wall = top * (1 - t[..., None]) + bottom * t[..., None]
    # Light from the upper left, falling off towards the corners.
    light = 1.0 + 0.12 * np.exp(-(((xx - 0.25 * width) / (0.5 * width)) ** 2 + ((yy - 0.1 * height) / (0.7 * height)) ** 2))
    light -= 0.10 * (((xx - width / 2) / (width / 2)) ** 2)
    wall *= light[..., None]
    # Wallpaper: faint fine stripes and a diamond lattice (high-frequency detail to blur).
    wall += (3.0 * np.sin(xx * (2 * math.pi / 9)))[..., None]
    lattice = np.abs(((xx + yy) % 48) - 24) + np.abs(((xx - yy) % 48) - 24)
    wall += (np.where(lattice < 3, -9.0, 0.0))[..., None].astype(np.float32)
    img = np.clip(wall, 0, 255).astype(np.uint8)
    # A skirting board and a chair rail.
    rail = int(height * 0.62)
    img[rail : rail + 10] = (70, 84, 96)
    img[rail + 10 : rail + 12] = (40, 48, 56)
    img[height - 40 :] = (52, 62, 74)
    # Two framed pictures and a window frame (dark wood, muted contents).
    for (x0, y0, x1, y1), inside in (
        ((70, 90, 270, 260), (150, 160, 120)),
        ((1010, 120, 1200, 300), (120, 110, 130)),
        ((560, 40, 760, 200), (215, 200, 180)),
    ):
        cv2.rectangle(img, (x0, y0), (x1, y1), (35, 45, 60), -1)
        cv2.rectangle(img, (x0 + 12, y0 + 12), (x1 - 12, y1 - 12), inside, -1)
        cv2.line(img, (x0 + 12, (y0 + y1) // 2), (x1 - 12, (y0 + y1) // 2), (60, 70, 80), 2)
        cv2.line(img, ((x0 + x1) // 2, y0 + 12), ((x0 + x1) // 2, y1 - 12), (60, 70, 80), 2)
    noise = np.random.default_rng(7).normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def placement(i: int, frames: int) -> tuple[float, float, float]:
    """Scale and top-left corner of the portrait in frame ``i`` (periodic: the clip loops)."""
    phase = 2 * math.pi * i / frames
    scale = 1.30 + 0.07 * math.sin(2 * phase)
    size = 512 * scale
    cx = WIDTH / 2 + 300 * math.sin(phase)
    bottom = HEIGHT + 24 + 10 * math.sin(3 * phase)  # the photo's lower edge stays out of view
    return scale, cx - size / 2, bottom - size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", help="astronaut.png, or a scikit-image wheel containing it")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--crf", type=int, default=24)
    args = parser.parse_args()

    person = load_source(args.source).astype(np.float32)
    alpha = cut_out(person.astype(np.uint8))
    premult = person * alpha[..., None]
    background = room(WIDTH, HEIGHT).astype(np.float32)
    frames = FPS * SECONDS

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(args.out), "w") as container:
        container.metadata["title"] = "decart sample: NASA portrait of astronaut Eileen Collins (public domain)"
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "slow", "crf": str(args.crf), "g": str(2 * FPS), "tune": "film"}
        for i in range(frames):
            scale, x0, y0 = placement(i, frames)
            warp = np.float32([[scale, 0, x0], [0, scale, y0]])
            fg = cv2.warpAffine(premult, warp, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderValue=0)
            a = cv2.warpAffine(alpha, warp, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderValue=0)
            img = fg + background * (1 - a[..., None])
            img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {frames} frames, {WIDTH}x{HEIGHT} @ {FPS} fps)")


if __name__ == "__main__":
    main()
