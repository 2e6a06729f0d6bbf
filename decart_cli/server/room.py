"""A LiveKit-compatible room endpoint, just enough for today's protocol. Not an SFU.

The control channel (:mod:`.livekit_session`) opens a :class:`Room` per
session and hands the client a token for it. The client's LiveKit client
(the ``livekit`` package, or ``livekit-client`` in a browser) then connects
here (``/rtc/v1``, LiveKit's single peer connection signaling, see
:mod:`decart_cli.protocol.room_signal`) and finds one other participant,
``inference-server-<session>``, already publishing the edited track. When
the client publishes its camera, the track's frames go through the
session's engine and come back on that edited track: aiortc does the media
on our side, libwebrtc on the client's.

The inference participant can also publish a new edited track mid-session,
or leave and come back (:meth:`Room.publish`, :meth:`Room.unpublish`; a
:class:`RoomHub` can open rooms without it): tests use this to play what a
restarted worker on the service looks like. Each new track goes on a new
media section, which the client adds when asked (LiveKit's
``media_sections_requirement``: with one peer connection, the client makes
every offer).

As LiveKit serves it: the token comes in an ``Authorization: Bearer`` header
(native clients) or the ``access_token`` query (browsers cannot set
headers); a refused connection is answered before the upgrade (401 for the
token, 404 "requested room does not exist" for an ended session), and
:meth:`RoomHub.admit` gives ``/rtc/v1/validate`` the same answer. The first
publisher offer comes with the join (``join_request``) or, from a client
that cannot compress it (Firefox, no ``CompressionStream``), as an
``offer`` request after the join response.

Viewers (``POST /watch-stream/<room>`` hands them a subscribe-only token,
see :meth:`RoomHub.viewer_token`) join the same way and get a copy of the
edited track (:mod:`.viewers`); what they publish is read and dropped.

What it does not do (a real LiveKit server does): forward media between
clients, more than one client connection per room at a time, simulcast
(the client is asked for its top layer only), audio or data messages
(data channels are accepted, nothing is read from them), resuming a
connection (a resume request is answered with ``leave``), LiveKit's older
two-peer-connection signaling (``/rtc``: refused with "not allowed", so
clients stop instead of retrying) or its server API.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiortc import MediaStreamTrack, RTCRtpTransceiver
from livekit.protocol import models as lm
from livekit.protocol import rtc as lk
from ..errors import ProtocolError, Refused
from ..protocol import room_signal as rs
from ..rtc.peer import Peer
from .editor import EditedTrack, Editor
from .session import check_media_sections, discard
from .sockets import Socket
from .tokens import RoomGrant, RoomTokens
from .viewers import TooManyViewers, Viewers

log = logging.getLogger("decart.server.room")

MAX_MEDIA_SECTIONS = 16
"""``m=`` sections accepted in an offer (the livekit client starts with 7)."""
MAX_CANDIDATES = 100
"""Trickled candidates accepted per connection."""


class Room:
    """One session's room: the client who may join it, and the edited track the server publishes."""

    def __init__(
        self,
        name: str,
        *,
        session_id: str,
        client_identity: str,
        editor: Editor,
        size: tuple[int, int],
        on_first_frame: Callable[[], None],
        on_left: Callable[[], None],
        viewers: Viewers | None = None,
        on_refused: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.session_id = session_id
        self.sid = rs.new_sid("RM")
        self.client_identity = client_identity
        self.editor = editor
        self.size = size
        self.on_first_frame = on_first_frame
        self.on_left = on_left
        self.on_refused = on_refused
        """Tells the session's client why the room refused what it publishes (on the control channel, before the room connection closes)."""
        self.publisher: rs.PublishedTrack | None = self._new_track(rs.new_sid("PA"))
        """The inference participant and the edited track it publishes; None while that participant is not in the room."""
        self.viewers = viewers if viewers is not None else Viewers()
        """The session's viewers: every edited frame sent to the client is offered to them."""
        self.viewer_identities: set[str] = set()
        """Identities holding a viewer's token for this room."""
        self.viewer_connections: set[RoomConnection] = set()
        self.connection: RoomConnection | None = None
        self.joined = asyncio.Event()
        """Set when a client has joined (and stays set)."""
        self.closed = False

    def _new_track(self, participant_sid: str) -> rs.PublishedTrack:
        return rs.PublishedTrack(
            participant_sid=participant_sid,
            identity=f"inference-server-{self.session_id}",
            track_sid=rs.new_sid("TR"),
            width=self.size[0],
            height=self.size[1],
        )

    async def publish(self) -> None:
        """The inference participant publishes a new edited track, joining the room first if it is not in it.

        The track it published before, if any, is unpublished: a client sees
        what a restarted worker or a codec change on the service looks like.
        The server publishes once, as the room opens; tests call this on cue.
        """
        self.publisher = self._new_track(self.publisher.participant_sid if self.publisher is not None else rs.new_sid("PA"))
        log.info("room %s: the edited track is published as %s", self.name, self.publisher.track_sid)
        for connection in self._connections():
            await connection.follow_publisher(None)

    async def unpublish(self) -> None:
        """The inference participant leaves the room with its track; connections stay, and get the next :meth:`publish`."""
        gone, self.publisher = self.publisher, None
        if gone is None:
            return
        log.info("room %s: the inference participant leaves", self.name)
        for connection in self._connections():
            await connection.follow_publisher(gone)

    def _connections(self) -> list[RoomConnection]:
        return [c for c in (self.connection, *self.viewer_connections) if c is not None]

    def frames_sent(self) -> int:
        """Edited frames sent to the current connection (0 without one)."""
        track = self.connection.track if self.connection is not None else None
        return track.frames_out if track is not None else 0

    async def close(self) -> None:
        """End the room: the client and the viewers are told to leave and their connections are closed."""
        self.closed = True
        for connection in self._connections():
            await connection.close(leave=True)


class RoomHub:
    """The rooms of one server, and the tokens that open them."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self._tokens: RoomTokens | None = None
        self.inference_at_open = True
        """Whether a room opens with its inference participant publishing (always, in ``decart serve``).

        Tests set it False to have that participant join after the client,
        at :meth:`Room.publish`.
        """

    @property
    def tokens(self) -> RoomTokens:
        if self._tokens is None:
            self._tokens = RoomTokens()
        return self._tokens

    def open(self, room: Room) -> str:
        """Register ``room``; return the token that lets its client in."""
        if not self.inference_at_open:
            room.publisher = None
        self.rooms[room.name] = room
        return self.tokens.issue(room.name, room.client_identity)

    def viewer_token(self, name: str) -> tuple[Room, str]:
        """A subscribe-only token for a new viewer of room ``name``; raises LookupError (no such room) or TooManyViewers."""
        room = self.rooms.get(name)
        if room is None or room.closed:
            raise LookupError(name)
        if len(room.viewers) >= room.viewers.limit:
            raise TooManyViewers(room.viewers.limit)
        identity = f"viewer-{secrets.token_hex(4)}"
        room.viewer_identities.add(identity)
        return room, self.tokens.issue(room.name, identity, publish=False)

    def discard(self, room: Room) -> None:
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    def admit(self, token: str | None) -> tuple[Room, RoomGrant]:
        """The room ``token`` opens; raises Refused as LiveKit answers: 401 for the token, 404 when the room is gone.

        The words are LiveKit's where its client matches on them ("requested
        room does not exist"), and "unauthorized" for a bad token, which
        makes the SDKs stop instead of retrying.
        """
        if not token:
            raise Refused("unauthorized: no access token (send the room token as access_token in the query, or as Authorization: Bearer)")
        try:
            grant = self.tokens.verify(token)
        except ProtocolError as exc:
            raise Refused(f"unauthorized: {exc}") from None
        room = self.rooms.get(grant.room)
        if room is None or room.closed:
            raise Refused(f"requested room does not exist (room {grant.room[:60]!r}: its session has ended)", status=404)
        if grant.identity != room.client_identity and grant.identity not in room.viewer_identities:
            raise Refused("unauthorized: this token is not for this room's client or one of its viewers")
        return room, grant

    async def serve(self, ws: Socket, join_value: str, room: Room, grant: RoomGrant, *, loopback: bool) -> None:
        """Run one client connection to ``room`` (admitted with ``grant``) until either side leaves."""
        try:
            request = rs.decode_join_request(join_value)
        except ProtocolError as exc:
            log.info("room %s: refused a connection: %s", room.name, exc)
            await ws.close(1008, str(exc)[:120])
            return
        viewer = grant.identity != room.client_identity
        try:
            connection = RoomConnection(ws, room, grant, loopback=loopback, viewer=viewer)
        except TooManyViewers as exc:
            log.info("room %s: refused a viewer: %s", room.name, exc)
            await ws.close(1013, str(exc))
            return
        if viewer:
            room.viewer_connections.add(connection)
        else:
            if room.connection is not None:
                log.info("room %s: a new connection replaces the previous one", room.name)
                await room.connection.close(leave=True)
            room.connection = connection
            room.joined.set()
        try:
            await connection.run(request)
        except Refused as exc:
            log.warning("room %s: refused %s: %s", room.name, grant.identity, exc)
            if room.on_refused is not None:
                await room.on_refused(str(exc))
            await connection.close(leave=True)  # not to come back: a resume would be refused the same
        except ProtocolError as exc:
            log.info("room %s: closing a connection: %s", room.name, exc)
        except Exception as exc:  # one broken connection must not take the server down
            log.warning("room %s: connection failed: %s", room.name, exc.__class__.__name__)
            log.debug("room %s: failure detail", room.name, exc_info=True)
        finally:
            room.viewer_connections.discard(connection)
            if room.connection is connection:
                room.connection = None
                room.on_left()
            await connection.close(leave=False)


class RoomConnection:
    """One participant's signaling socket and its peer connection (both directions on one).

    The client's connection edits the video it publishes and sends it back
    (:attr:`track`); a viewer's (``viewer``) is sent a copy of that and
    publishes nothing that is used.
    """

    def __init__(self, ws: Socket, room: Room, grant: RoomGrant, *, loopback: bool, viewer: bool = False) -> None:
        self.ws = ws
        self.room = room
        self.grant = grant
        self.viewer = viewer
        self.participant_sid = rs.new_sid("PA")
        self.track = None if viewer else EditedTrack(None, room.editor, size=room.size, on_first_frame=room.on_first_frame, on_frame=room.viewers.publish)
        self.outgoing: MediaStreamTrack = self.track if self.track is not None else room.viewers.track()
        """What this participant is sent: the edit of its own video, or (a viewer) a copy of the client's."""
        self.peer = Peer(loopback=loopback, ice_servers=(), max_bundle=True)  # LiveKit's clients bundle everything
        self._discarding: set[asyncio.Future[int]] = set()
        """Readers of the tracks the client sends that are not edited (audio): kept until those end."""
        self._sender: RTCRtpTransceiver | None = None
        """The section the room's edited track is sent on (None before it is placed, or once the publisher replaced it)."""
        self._joined = False
        """Whether the join response went out (after it, changes in the room are sent as updates)."""
        self._answered = False
        self._asked = False
        """Whether the client was asked for a section to receive the current edited track on."""
        self._candidates = 0
        self._closed = False
        self.codec: str | None = None
        """The codec the client publishes its video with (from its offer), once it publishes."""

    async def send(self, response: lk.SignalResponse) -> None:
        await self.ws.send_quietly(response.SerializeToString())

    async def run(self, request: lk.JoinRequest) -> None:
        log.info("room %s: %s joined", self.room.name, self.grant.identity)
        if request.reconnect:
            # A resume: not supported; a leave makes the client stop cleanly
            # (the SDKs then start a new session).
            log.info("room %s: resume not supported; asking the client to leave", self.room.name)
            await self.send(rs.leave())
            return
        pc = self.peer.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.track is not None and track.kind == "video" and not self.track.has_source:
                log.info("room %s: the client publishes video", self.room.name)
                self.track.attach(track)
                return
            log.info("room %s: the client publishes %s (not edited: only its first video is)", self.room.name, track.kind)
            task = asyncio.ensure_future(discard(track))
            self._discarding.add(task)
            task.add_done_callback(self._discarding.discard)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.debug("room %s: peer connection %s", self.room.name, pc.connectionState)
            if pc.connectionState == "failed":
                await self.ws.close(1011, "media connection failed")

        # Browsers other than Firefox send their first offer with the join;
        # Firefox (and a browser without CompressionStream) sends it after
        # the join response, as an `offer` request (see handle()).
        offer = request.publisher_offer if request.publisher_offer.sdp else None
        if offer is not None:
            await self._apply_offer(offer.sdp)
            self._place()
        else:
            log.info("room %s: %s joins without an offer; its offer comes next", self.room.name, self.grant.identity)
        publisher = self.room.publisher
        await self.send(rs.join_response(
            room_sid=self.room.sid,
            room_name=self.room.name,
            participant_sid=self.participant_sid,
            identity=self.grant.identity,
            others=[publisher.participant(self._mid())] if publisher is not None else [],
            publish=not self.viewer,
        ))
        self._joined = True
        if offer is not None:
            await self._answer(offer)
            await self._announce(placed=False)  # one placed above is in the join response; else ask for a section
        async for raw in self.ws:
            try:
                await self.handle(rs.parse_request(raw))
            except ProtocolError as exc:
                log.info("room %s: ignored a bad request: %s", self.room.name, exc)

    async def _apply_offer(self, sdp: str) -> None:
        check_media_sections(sdp, MAX_MEDIA_SECTIONS)
        codec = rs.published_codec(sdp) if not self.viewer else None
        if codec is not None and codec != self.codec:
            self._check_codec(codec)
            self.codec = codec
            log.info("room %s: the client publishes %s video", self.room.name, rs.CODEC_NAMES.get(codec, codec))
        await self.peer.set_remote(rs.sent_codec_first(sdp), "offer")

    def _check_codec(self, codec: str) -> None:
        """Refuse (:class:`Refused`) video the client publishes with a codec aiortc cannot decode, rather than answer another one."""
        refusal = rs.codec_refusal(codec)
        if refusal is not None:
            raise Refused(refusal)

    def _mid(self) -> str | None:
        return self._sender.mid if self._sender is not None else None

    def _place(self) -> bool:
        """Put the room's edited track on the first video section the client offered to receive on, if it is not sent yet; whether it was placed now."""
        publisher = self.room.publisher
        if publisher is None or self._sender is not None:
            return False
        for transceiver in self.peer.pc.getTransceivers():
            if transceiver.kind == "video" and transceiver.sender.track is None and transceiver.direction == "recvonly":
                transceiver.sender.replaceTrack(self.outgoing)
                transceiver.direction = "sendonly"
                # LiveKit clients find the participant and track in the msid.
                transceiver.sender._stream_id = publisher.stream_id  # noqa: SLF001
                transceiver.sender._track_id = publisher.track_sid  # noqa: SLF001
                # The codec was fixed when the offer was applied (room_signal.sent_codec_first).
                self._sender = transceiver
                return True
        log.info("room %s: the client offered no free video section to receive on", self.room.name)
        return False

    async def _release(self) -> None:
        """Stop sending the edited track on its section (a new track is sent on a new one)."""
        transceiver, self._sender = self._sender, None
        if transceiver is not None:
            transceiver.sender.replaceTrack(None)  # first: stopping a sender stops its track
            transceiver.direction = "inactive"
            await transceiver.sender.stop()

    async def _answer(self, offer: lk.SessionDescription) -> None:
        answer = await self.peer.answer()
        publisher = self.room.publisher
        mids = {self._sender.mid: publisher.track_sid} if self._sender is not None and self._sender.mid and publisher is not None else {}
        sdp = rs.complete_answer(offer.sdp, answer.sdp)
        await self.send(rs.answer_response(sdp, offer_id=offer.id, mid_to_track_id=mids))
        self._answered = True

    async def _announce(self, *, placed: bool) -> None:
        """After an answer: give the client the mid of an edited track placed by it, or ask once for a section to place one on."""
        publisher = self.room.publisher
        if publisher is None:
            return
        if placed:
            await self.send(rs.participant_update([publisher.participant(self._mid())]))
        elif self._sender is None and not self._asked:
            self._asked = True
            await self.send(rs.media_sections_requirement(1))

    async def follow_publisher(self, gone: rs.PublishedTrack | None) -> None:
        """The room's publisher changed (``gone`` left, or a new track replaces the one sent): tell the client.

        The old track stops and its section goes inactive; a new one is
        placed at the client's next offer, asked for here, on a section the
        client adds (so every publish adds one, up to :data:`MAX_MEDIA_SECTIONS`).
        """
        await self._release()
        self._asked = False
        if not self._joined:
            return  # the join response will say who is there
        publisher = self.room.publisher
        if publisher is None:
            if gone is not None:
                await self.send(rs.participant_update([gone.departed()]))
            return
        await self.send(rs.participant_update([publisher.participant()]))
        if self._answered:  # else the client's first offer is on its way
            await self._announce(placed=False)

    async def handle(self, request: lk.SignalRequest) -> None:
        """Act on one signaling request; what a one-client room needs no answer to is ignored."""
        kind = request.WhichOneof("message")
        if kind == "ping_req":
            await self.send(rs.pong(request.ping_req, int(time.time() * 1000)))
        elif kind == "ping":
            await self.send(lk.SignalResponse(pong=int(time.time() * 1000)))
        elif kind == "trickle":
            self._candidates += 1
            if self._candidates > MAX_CANDIDATES:
                raise ProtocolError(f"more than {MAX_CANDIDATES} candidates")
            await self.peer.add_candidate(rs.parse_trickle(request.trickle))
        elif kind == "add_track":
            add = request.add_track
            log.info("room %s: the client adds a track (%dx%d)", self.room.name, add.width, add.height)
            if add.type == lm.VIDEO and add.simulcast_codecs and not self.viewer:
                self._check_codec(add.simulcast_codecs[0].codec)  # a browser names its codec here, before its offer
            await self.send(rs.track_published(add, rs.new_sid("TR")))
        elif kind == "offer":
            await self._apply_offer(request.offer.sdp)
            placed = self._place()
            await self._answer(request.offer)
            await self._announce(placed=placed)
        elif kind == "leave":
            log.info("room %s: the client left", self.room.name)
            await self.ws.close()
        else:
            log.debug("room %s: ignoring %s", self.room.name, kind)

    async def close(self, *, leave: bool) -> None:
        """Stop the media; with ``leave``, tell the client first not to come back."""
        if self._closed:
            return
        self._closed = True
        track = self.track
        if track is not None:
            log.info(
                "room %s: connection closed: %d frames received (last %s), %d edited frames sent",
                self.room.name, track.frames_in, "x".join(map(str, track.received_size or ())) or "-", track.frames_out,
            )
        else:
            log.info("room %s: viewer %s left: %d frames sent", self.room.name, self.grant.identity, getattr(self.outgoing, "frames_out", 0))
        if leave:
            await self.send(rs.leave())
            await self.ws.close()
        self.outgoing.stop()
        await self.peer.close()
