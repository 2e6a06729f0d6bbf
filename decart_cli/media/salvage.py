"""What a recording keeps when writing it failed part-way (the disk filled, the device went).

The file is written in fragments (see :func:`~decart_cli.media.remux.open_fragmented`),
so everything up to the last whole fragment is a good file; what follows it
is a fragment cut short, which players report as corrupt data. An MP4 is
cut back to its last whole top-level box (``ftyp``, ``moov``, then
``moof``/``mdat`` pairs); Matroska readers stop at a cut cluster by
themselves, so it is left as it is. :func:`count_video_frames` then says
how many frames the file holds, by reading its packets (no decoding).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import av

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I4s")


def whole_boxes_end(path: Path) -> int:
    """The byte offset just after an MP4's last whole top-level box, with a ``moof`` never kept without its ``mdat``."""
    size = path.stat().st_size
    end = offset = 0
    with path.open("rb") as file:
        while offset + _HEADER.size <= size:
            file.seek(offset)
            length, kind = _HEADER.unpack(file.read(_HEADER.size))
            if length == 1:  # a 64-bit size follows
                raw = file.read(8)
                if len(raw) < 8:
                    break
                length = struct.unpack(">Q", raw)[0]
            if length < _HEADER.size or offset + length > size:  # 0: "to the end", written last, never whole here
                break
            offset += length
            if kind != b"moof":
                end = offset
    return end


def trim_mp4(path: Path) -> int:
    """Cut an MP4 back to its last whole box (see :func:`whole_boxes_end`); the bytes removed."""
    size = path.stat().st_size
    end = whole_boxes_end(path)
    if end < size:
        os.truncate(path, end)
    return size - end


def count_video_frames(path: Path) -> int:
    """Video packets the file at ``path`` holds, read up to where it stops making sense (0 for no file)."""
    count = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            for packet in container.demux(container.streams.video[0]):
                if packet.size:
                    count += 1
    except (av.FFmpegError, OSError) as exc:
        log.info("reading %s back stopped after %d frames: %s", path, count, exc)
    return count
