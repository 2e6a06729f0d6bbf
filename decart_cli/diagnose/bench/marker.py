"""A frame id stamped into the picture, that survives video compression.

The marker is a row of 16x16 luma blocks in the top-left corner (aligned to
codec macroblocks): a white and a black calibration block, then 24 bits of
frame id and 8 bits of checksum, one block each, white for 1. Reading takes
the mean of each block's centre and compares it with the midpoint of the two
calibration blocks, so it survives lossy coding, brightness changes and even
an inverting edit (the calibration blocks swap, and so does the reading).
"""

from __future__ import annotations

import numpy as np

BLOCK = 16
ID_BITS = 24
CHECK_BITS = 8
BLOCKS = 2 + ID_BITS + CHECK_BITS
WIDTH = BLOCKS * BLOCK
"""Pixels of the frame's top-left corner the marker covers (height :data:`BLOCK`)."""
MAX_ID = (1 << ID_BITS) - 1
_WHITE, _BLACK = 235, 16


def _checksum(frame_id: int) -> int:
    # Any 8 bits that change with every id bit; catches misreads of a block or two.
    x = frame_id * 0x9E3779B1 & 0xFFFFFFFF
    return (x >> 24) ^ (x >> 16 & 0xFF) ^ (frame_id & 0xFF)


def _bits(frame_id: int) -> list[int]:
    value = (frame_id << CHECK_BITS) | _checksum(frame_id)
    return [(value >> (ID_BITS + CHECK_BITS - 1 - i)) & 1 for i in range(ID_BITS + CHECK_BITS)]


def stamp(luma: np.ndarray, frame_id: int) -> None:
    """Write ``frame_id`` (0..2**24-1) into the top-left of a luma plane, in place."""
    if not 0 <= frame_id <= MAX_ID:
        raise ValueError(f"frame id {frame_id} out of range")
    if luma.shape[0] < BLOCK or luma.shape[1] < WIDTH:
        raise ValueError(f"frame too small for the marker ({luma.shape[1]}x{luma.shape[0]})")
    row = luma[:BLOCK]
    row[:, :BLOCK] = _WHITE
    row[:, BLOCK : 2 * BLOCK] = _BLACK
    for i, bit in enumerate(_bits(frame_id)):
        x = (i + 2) * BLOCK
        row[:, x : x + BLOCK] = _WHITE if bit else _BLACK


def stamp_chroma(u: np.ndarray, v: np.ndarray) -> None:
    """Neutral chroma under the marker, so colour edits do not shift its luma after conversion."""
    u[: BLOCK // 2, : WIDTH // 2] = 128
    v[: BLOCK // 2, : WIDTH // 2] = 128


def read(luma: np.ndarray) -> int | None:
    """The frame id in a luma plane's marker, or None if there is none (or it does not check out)."""
    if luma.shape[0] < BLOCK or luma.shape[1] < WIDTH:
        return None
    inner = luma[4 : BLOCK - 4, :WIDTH].astype(np.float32)
    means = inner.reshape(BLOCK - 8, BLOCKS, BLOCK)[:, :, 4 : BLOCK - 4].mean(axis=(0, 2))
    white, black = means[0], means[1]
    if abs(white - black) < 40:
        return None
    mid = (white + black) / 2
    ones = means[2:] > mid if white > black else means[2:] < mid
    value = 0
    for bit in ones:
        value = (value << 1) | int(bit)
    frame_id, check = value >> CHECK_BITS, value & 0xFF
    return frame_id if _checksum(frame_id) == check else None
