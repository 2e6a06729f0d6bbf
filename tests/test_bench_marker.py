"""Frame-id markers: stamped, compressed with H.264, read back."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from decart_cli.diagnose.bench import marker
from decart_cli.media.sources import TestPattern


def _frames(count: int) -> list[np.ndarray]:
    pattern = TestPattern(1280, 704)
    out = []
    for i in range(count):
        i420 = cv2.cvtColor(pattern.render(i), cv2.COLOR_BGR2YUV_I420)
        marker.stamp(i420[:704], 1000 + i)
        out.append(i420)
    return out


def test_round_trip_through_h264_at_low_bitrate() -> None:
    """Ids stamped into a busy picture read back exactly after H.264 at 500 kbit/s (aiortc's starting rate)."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 1280, 704, "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.bit_rate = 500_000
    codec.options = {"preset": "ultrafast", "tune": "zerolatency"}
    decoder = av.CodecContext.create("h264", "r")
    read = []
    for i, image in enumerate(_frames(40)):
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts = i
        for packet in codec.encode(frame):
            for decoded in decoder.decode(packet):
                read.append(marker.read(decoded.to_ndarray(format="yuv420p")[:704]))
    for packet in codec.encode(None):
        for decoded in decoder.decode(packet):
            read.append(marker.read(decoded.to_ndarray(format="yuv420p")[:704]))
    assert read == list(range(1000, 1040))


def test_survives_inversion_and_rejects_noise() -> None:
    """An inverted marker still reads; a picture without one reads as None."""
    image = _frames(1)[0]
    assert marker.read(255 - image[:704]) == 1000
    assert marker.read(TestPattern(1280, 704).render(3)[:, :, 1]) is None
    assert marker.read(np.full((704, 1280), 128, np.uint8)) is None


def test_checksum_catches_a_flipped_block() -> None:
    """Flipping one id block makes the read fail rather than return a wrong id."""
    luma = np.zeros((704, 1280), np.uint8)
    marker.stamp(luma, 123456)
    x = 5 * marker.BLOCK
    luma[: marker.BLOCK, x : x + marker.BLOCK] = 255 - luma[: marker.BLOCK, x : x + marker.BLOCK]
    assert marker.read(luma) is None


def test_range_is_checked() -> None:
    """Ids outside 24 bits and frames too small are refused."""
    with pytest.raises(ValueError):
        marker.stamp(np.zeros((704, 1280), np.uint8), 1 << 24)
    with pytest.raises(ValueError):
        marker.stamp(np.zeros((8, 1280), np.uint8), 1)
