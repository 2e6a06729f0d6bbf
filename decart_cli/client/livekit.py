"""Today's link: a control channel on the WebSocket, media through a LiveKit room.

:class:`LiveKitLink` sends ``livekit_join`` and waits for
``livekit_room_info`` (as long as ``queue_position`` messages keep coming),
has its owner send the initial prompt and image, joins the room with
LiveKit's own client (the ``livekit`` package), publishes our source and
takes the edited track of the ``inference-server-...`` participant: the
newest one it publishes, whether it was in the room before us or joins
later (:class:`~.livekit_track.LiveKitTrack`).

The frame path, one conversion each way, newest frame wins:

* out: the source track's frames (already fitted and paced to the model)
  are packed into one reused buffer and go to an ``rtc.VideoSource`` as
  I420, for libwebrtc's H.264 encoder (our own tuned x264 fed through
  ``rtc.EncodedVideoSource`` saved only 1-2 points of a core here, so the
  simpler path stays);
* in: the edited track is read through an ``rtc.VideoStream`` that keeps
  one frame (LiveKit's ring queue, capacity 1) and comes out of
  :class:`~.livekit_track.LiveKitTrack` as ``av.VideoFrame`` objects, like
  an aiortc track, so the relay and every sink after it are the legacy path's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib
import logging
import time
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from .. import protocol as p
from ..errors import ConnectError, SessionClosed
from ..media.sources import plane_pixels
from .link import Link, LinkOwner
from .livekit_track import LiveKitTrack
from ..protocol.watch_token import RoomToken
from ..aio import cancelled

log = logging.getLogger(__name__)

INFERENCE_PREFIX = "inference-server-"
"""Identity prefix of the room participant that publishes the edited video."""
MAX_BITRATE = 3_500_000
"""What our camera may use (the official JS SDK's cap)."""
VP9_MAX_BITRATE = 3_000_000
"""What our camera may use in VP9 (the JS SDK's cap for it; it publishes VP9 without simulcast, as we publish every codec)."""
ROOM_GRACE = 0.5
"""How long a room that closed before the first edited frame waits for the server's ``error`` saying why."""
CODEC_NAMES = {"h264": "H.264", "vp8": "VP8", "vp9": "VP9"}
"""How the codecs of ``--codec`` are called in messages."""
AUDIO_RATE = 48000
"""What :class:`~decart_cli.media.audio.AudioTrack` delivers: s16 stereo at this rate."""


@functools.cache
def preload() -> concurrent.futures.Future[Any]:
    """Import LiveKit's client (``livekit.rtc``: about 0.13 s on 2 cores) in a thread, once per process.

    The CLI calls it as soon as it knows a session speaks today's protocol,
    so the import overlaps its own set-up (and a local server's start)
    instead of delaying the room's join; :class:`LiveKitLink` waits for it.
    """
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="decart-livekit-import")
    loading = executor.submit(importlib.import_module, "livekit.rtc")
    executor.shutdown(wait=False)  # the thread ends with the import
    return loading


def pack_i420(frame: VideoFrame, buffer: bytearray, width: int, height: int) -> None:
    """Write ``frame`` into ``buffer`` as packed I420 at ``width`` x ``height`` (converted only if it is not that already)."""
    if (frame.width, frame.height, frame.format.name) != (width, height, "yuv420p"):
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    view = memoryview(buffer)
    offset = 0
    for index, plane in enumerate(frame.planes):
        w, h = (width, height) if index == 0 else (width // 2, height // 2)
        if plane.line_size == w:
            view[offset : offset + w * h] = memoryview(plane)[: w * h]
        else:  # padded rows: copy the visible part of each
            np.frombuffer(buffer, np.uint8, w * h, offset).reshape(h, w)[:] = plane_pixels(frame, index)
        offset += w * h


class LiveKitLink(Link):
    """Today's protocol: control channel, then media through the room it hands out."""

    transport = "livekit"

    def __init__(
        self,
        url: str,
        owner: LinkOwner,
        *,
        connect_timeout: float,
        ack_timeout: float,
        size: tuple[int, int],
        fps: float,
        room_info: p.LiveKitRoomInfo | None = None,
        codec: str = "h264",
    ) -> None:
        super().__init__(url, owner, connect_timeout=connect_timeout, ack_timeout=ack_timeout)
        self.size = size
        self.fps = fps
        self.codec = codec
        """What the camera is published with: ``h264``, ``vp8`` or ``vp9``."""
        self.room: Any = None
        self.room_info = room_info
        """The room to join; given up front to a viewer (from ``watch-stream``), else asked for on the control channel."""
        self._progress = time.monotonic()
        self._feeder: asyncio.Task[None] | None = None
        self._sound_feeder: asyncio.Task[None] | None = None
        self._edited: LiveKitTrack | None = None
        self._codec_check: asyncio.Task[None] | None = None
        self._camera: Any = None
        """The published camera track's ``rtc.VideoSource`` (once published)."""

    async def _prepare(self, *, sending: bool) -> None:
        """The control channel, the room (asked for, unless given) with the prompt sent alongside, the room joined; ``sending``: the camera track published and the prompt acknowledged."""
        initial: asyncio.Future[None] | None = None
        loading = asyncio.wrap_future(preload())  # usually long done: the CLI started it
        if self.room_info is None:
            await self._connect_signaling()
            # livekit_join, and right behind it the prompt (the JS SDK's order): its
            # acknowledgement comes while the room is being joined, not before.
            joining = asyncio.ensure_future(self._join())
            await asyncio.sleep(0)  # the join's task sends first
            initial = asyncio.ensure_future(self._initial_state())
            try:
                self.room_info = await self.until_closed(joining)
            except BaseException:
                await cancelled(joining, initial)
                raise
            self.step("room assigned")
            self.watch_token = RoomToken(self.room_info.room_name).encode()
        try:
            await loading
            await self._join_room()
            if sending:
                await self._publish_camera()
            if initial is not None:
                await self.until_closed(initial)
        except BaseException:
            if initial is not None:
                await cancelled(initial)
            raise

    async def _initial_state(self) -> None:
        """The owner's prompt and image for this link, acknowledged (a step of the breakdown)."""
        await self.owner.initial_state(self)
        if self.state_sent:
            self.step("prompt acknowledged")

    async def _join_room(self) -> None:
        """Join the room handed out, following the edited track it carries (:attr:`remote`)."""
        from livekit import rtc

        info = self.room_info
        assert info is not None
        self.room = room = rtc.Room()
        self._edited = remote = LiveKitTrack()

        # The newest edited track wins, whenever it comes: the inference
        # participant may join after us, and publish again mid-session.
        @room.on("track_subscribed")
        def on_track(track: Any, publication: Any, participant: Any) -> None:
            if participant.identity.startswith(INFERENCE_PREFIX) and track.kind == rtc.TrackKind.KIND_VIDEO:
                log.debug("edited track %s from %s", publication.sid, participant.identity)
                remote.follow(track, publication.sid)

        @room.on("track_unsubscribed")
        def on_unsubscribed(track: Any, publication: Any, participant: Any) -> None:
            remote.drop(publication.sid)

        @room.on("track_unpublished")
        def on_unpublished(publication: Any, participant: Any) -> None:
            remote.drop(publication.sid)

        self.media_failure = SessionClosed("the media room closed")

        @room.on("disconnected")
        def on_disconnected(reason: Any = None) -> None:
            if self.closed.done():
                return
            error = self.media_failure
            if self.codec != "h264" and self.remote is not None and not self.first_frame.is_set():
                # Joined, then dropped before any edit came back: most likely the codec.
                error = ConnectError(f"the media room closed before any edited frame came back: it may not take {CODEC_NAMES[self.codec]} video", fix="codec")
            if self.first_frame.is_set():
                self.closed.set_result(error)
            else:  # the server may be saying why on the control channel: its words come first
                asyncio.get_running_loop().call_later(ROOM_GRACE, lambda: self.closed.done() or self.closed.set_result(error))

        try:
            await self.until_closed(asyncio.wait_for(room.connect(info.livekit_url, info.token), self.connect_timeout))
        except asyncio.TimeoutError:
            raise ConnectError(f"could not join the media room within {self.connect_timeout:g} s", "check that UDP can reach the server") from None
        except rtc.ConnectError as exc:
            if "certificate" in str(exc).lower():  # the room's wss:// (LiveKit's client says so only in its message)
                raise ConnectError(f"could not join the media room: its TLS certificate is not trusted ({exc})", fix="tls_trust") from None
            raise ConnectError(f"could not join the media room ({exc})", "check that UDP can reach the server") from None
        self.step("room joined")
        self.remote = remote

    async def _publish_camera(self) -> None:
        """Publish the camera track (``--codec``, the bitrate cap) before any frame: its encoder is ready when the first one comes."""
        from livekit import rtc

        self._camera = camera = rtc.VideoSource(*self.size)
        track = rtc.LocalVideoTrack.create_video_track("camera", camera)
        options = rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_CAMERA,
            video_codec=getattr(rtc.VideoCodec, self.codec.upper()),
            simulcast=False,
            video_encoding=rtc.VideoEncoding(max_bitrate=VP9_MAX_BITRATE if self.codec == "vp9" else MAX_BITRATE, max_framerate=self.fps),
        )
        await self.until_closed(self.room.local_participant.publish_track(track, options))
        self.step("camera published")
        # The codec the camera goes out with is checked alongside, without holding media up.
        self._codec_check = asyncio.create_task(self._confirm_codec(), name="decart-livekit-codec")

    async def _start_media(self, outbound: MediaStreamTrack | None, audio: MediaStreamTrack | None) -> None:
        """Feed ``outbound`` to the published camera track (and ``audio`` to a microphone track); a viewer only receives."""
        from livekit import rtc

        self.owner.media_starting(self)
        if outbound is None:  # a viewer: nothing to publish
            return
        assert self._camera is not None
        room = self.room
        # Only now: a frame the source takes before the track is published never reaches the
        # server, and the sound's alignment counts from the source's first frame.
        self._feeder = asyncio.create_task(self._feed(outbound, self._camera), name="decart-livekit-feed")
        if audio is not None:
            sound = rtc.AudioSource(AUDIO_RATE, 2)
            microphone = rtc.LocalAudioTrack.create_audio_track("microphone", sound)
            await self.until_closed(room.local_participant.publish_track(microphone, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)))
            self._sound_feeder = asyncio.create_task(self._feed_sound(audio, sound), name="decart-livekit-sound")
        if not self.state_sent:
            # No prompt and no image: what the service expects then (as the SDK does).
            await self.request_image(None)

    async def _confirm_codec(self) -> None:
        """Wait until the camera is being sent, and close this link (ConnectError) if the room took another codec than :attr:`codec`.

        LiveKit's client offers only the codec asked for, so a room that
        cannot take it usually fails the connection instead; a room that
        answers with another one must not go unnoticed either.
        """
        deadline = time.monotonic() + self.connect_timeout
        while time.monotonic() < deadline:
            sent = await self._sent_codec()
            if sent is not None:
                if sent != self.codec and not self.closed.done():
                    asked, took = CODEC_NAMES[self.codec], CODEC_NAMES.get(sent, sent.upper())
                    self.closed.set_result(ConnectError(f"the room took the camera as {took}, not the {asked} asked for", fix="codec"))
                self.step("codec confirmed")
                return
            await asyncio.sleep(0.05)
        log.info("could not tell which codec the camera is sent with (no outbound video in the stats)")

    async def _sent_codec(self) -> str | None:
        """The codec (``h264``, ``vp8``, ...) of the video we send, from the publisher's stats; None before any is sent."""
        stats = await self.room.get_rtc_stats()
        codecs = {item.codec.rtc.id: item.codec.codec.mime_type for item in stats.publisher_stats if item.WhichOneof("stats") == "codec"}
        for item in stats.publisher_stats:
            if item.WhichOneof("stats") == "outbound_rtp" and item.outbound_rtp.stream.kind == "video":
                mime = codecs.get(item.outbound_rtp.stream.codec_id, "")
                if mime:
                    return mime.lower().removeprefix("video/")
        return None

    async def transport_bytes(self) -> tuple[int, int] | None:
        if self.room is None or not self.room.isconnected():
            return None
        stats = await self.room.get_rtc_stats()
        sent = received = 0
        for item in [*stats.publisher_stats, *stats.subscriber_stats]:
            if item.WhichOneof("stats") == "transport":
                sent += item.transport.transport.bytes_sent
                received += item.transport.transport.bytes_received
        return sent, received

    async def _join(self) -> p.LiveKitRoomInfo:
        """``livekit_join`` → ``livekit_room_info``; a queue position resets the timeout."""
        request = asyncio.ensure_future(self.signaling.request(p.LiveKitJoin(), p.LiveKitRoomInfo, None, "no livekit_room_info"))
        self._progress = time.monotonic()
        try:
            while True:
                left = self._progress + self.connect_timeout - time.monotonic()
                done, _ = await asyncio.wait({request}, timeout=max(left, 0.0))
                if request in done:
                    info = request.result()
                    assert isinstance(info, p.LiveKitRoomInfo)
                    return info
                if time.monotonic() - self._progress >= self.connect_timeout:
                    raise ConnectError(f"no room from the server within {self.connect_timeout:g} s", fix="connect_timeout")
        finally:
            await cancelled(request)

    def _on_message(self, message: p.Message) -> None:
        if isinstance(message, p.QueuePosition):
            self._progress = time.monotonic()
        super()._on_message(message)

    async def _feed(self, outbound: MediaStreamTrack, source: Any) -> None:
        """Hand each frame of ``outbound`` to LiveKit's source as I420 (its encoder takes it from there).

        The planes are copied once, into one buffer reused for every frame
        (``capture_frame`` copies it before returning).
        """
        from livekit import rtc

        width, height = self.size
        buffer = bytearray(width * height * 3 // 2)
        packed = rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, buffer)
        try:
            while True:
                pack_i420(await outbound.recv(), buffer, width, height)
                source.capture_frame(packed)
        except MediaStreamError:
            pass

    async def _feed_sound(self, audio: MediaStreamTrack, source: Any) -> None:
        """Hand each s16 stereo 48 kHz frame of ``audio`` to LiveKit's audio source."""
        from livekit import rtc

        try:
            while True:
                frame = await audio.recv()
                data = bytes(frame.planes[0])[: frame.samples * 4]
                await source.capture_frame(rtc.AudioFrame(data, AUDIO_RATE, 2, frame.samples))
        except MediaStreamError:
            pass

    async def _close_media(self) -> None:
        await cancelled(*(task for task in (self._feeder, self._sound_feeder, self._codec_check) if task is not None))
        if self._edited is not None:
            await self._edited.close()
        if self.room is not None:
            await self.room.disconnect()
