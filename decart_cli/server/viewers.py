"""A session's receive-only viewers: the edited frames, offered to each, newest wins.

The session's edited track hands every frame it sends to its client to
:meth:`Viewers.publish` as well; each viewer's :class:`ViewerTrack` keeps
only the newest one, so a slow viewer drops frames and never holds up the
client or the other viewers. A viewer gets its own copy of each frame: an
encoder marks the frame it encodes (aiortc sets ``pict_type`` to ask for a
keyframe), so two senders must not share one.

Viewers come in by either generation of the protocol: ``/subscribe/<sid>``
(legacy, :mod:`.subscribe`) or ``POST /watch-stream/<room>`` then the room
(today's, :mod:`.room`).
"""

from __future__ import annotations

from typing import Any

import av

from ..media.newest import NewestTrack
from ..media.sources import copy_frame

MAX_VIEWERS = 4
"""Viewers a session serves at once (each costs an encoder on this server)."""


class TooManyViewers(Exception):
    """A session already has :data:`MAX_VIEWERS` viewers."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"this session already has {limit} viewers")
        self.limit = limit


class Viewers:
    """The viewers of one session."""

    def __init__(self, limit: int = MAX_VIEWERS) -> None:
        self.limit = limit
        self._tracks: list[ViewerTrack] = []
        self.closed = False

    def __len__(self) -> int:
        return len(self._tracks)

    def track(self) -> ViewerTrack:
        """A new viewer's track; raises TooManyViewers when the session has enough."""
        if len(self._tracks) >= self.limit:
            raise TooManyViewers(self.limit)
        track = ViewerTrack(self)
        if self.closed:
            track.stop()
        else:
            self._tracks.append(track)
        return track

    def publish(self, frame: av.VideoFrame) -> None:
        """An edited frame sent to the client: offer it to every viewer."""
        for track in self._tracks:
            track.put(frame)

    def close(self) -> None:
        """The session ended: every viewer's track ends."""
        self.closed = True
        for track in list(self._tracks):
            track.stop()

    def _remove(self, track: ViewerTrack) -> None:
        if track in self._tracks:
            self._tracks.remove(track)


class ViewerTrack(NewestTrack):
    """What one viewer is sent: the newest edited frame, copied; ends with the session."""

    kind = "video"

    def __init__(self, viewers: Viewers) -> None:
        super().__init__()
        self._viewers = viewers
        self.frames_out = 0

    async def recv(self) -> Any:
        frame = await self.take()
        self.frames_out += 1
        return copy_frame(frame)

    def stop(self) -> None:
        self._viewers._remove(self)
        super().stop()
