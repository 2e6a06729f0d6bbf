"""LiveKit's signaling, as much of it as a room endpoint needs: parsing and building. No I/O.

The ``livekit`` client (LiveKit's Rust SDK, what today's official SDKs use)
opens ``GET <url>/rtc/v1?join_request=<urlsafe base64>`` with
``Authorization: Bearer <token>``. The query value is a protobuf
``WrappedJoinRequest`` (its ``join_request`` gzip-compressed when
``compression`` is ``GZIP``) around a ``JoinRequest`` that already carries the
publisher's offer: one peer connection carries both directions ("single peer
connection" signaling). The socket then carries binary protobuf
``SignalRequest`` frames from the client and ``SignalResponse`` frames back.

Three things the answer must say that aiortc does not write by itself:

* the RID header extensions: libwebrtc refuses to add a simulcast track
  later ("negotiates simulcast but does not negotiate the RID RTP header
  extension") unless the first answer accepted them;
* which simulcast layer to send: aiortc receives one encoding per track, so
  the answer accepts only the highest layer (``a=simulcast:recv f``) and the
  client drops the others;
* a bitrate floor for what the client sends (:data:`PUBLISH_MIN_KBPS`).

Everything here raises :class:`~decart_cli.errors.ProtocolError` for input it
cannot use.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import secrets
import zlib
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from livekit.protocol import models as lm
from livekit.protocol import rtc as lk

from ..errors import ProtocolError
from .messages import Candidate

M = TypeVar("M", bound=Message)

MAX_JOIN_REQUEST = 64 * 1024
"""Largest ``join_request`` query value accepted (a real one is ~4 KB)."""
MAX_UNCOMPRESSED = 256 * 1024
"""Largest JoinRequest after gunzip (guards against compression bombs)."""
SERVER_VERSION = "1.9.0"
"""The LiveKit server version we answer as (features the client may use depend on it)."""
SERVER_PROTOCOL = 16
PING_INTERVAL = 5
"""Seconds between the client's pings (``JoinResponse.ping_interval``)."""
PING_TIMEOUT = 15
"""Seconds without a pong after which the client gives the connection up."""
RID_URIS = (
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
)
LAYER_PREFERENCE = ("f", "h", "q")
"""LiveKit's simulcast rids, best first (full, half, quarter resolution)."""
PUBLISH_MIN_KBPS = 2000
PUBLISH_START_KBPS = 3000
"""Bitrate floor and start asked of a publishing client (``x-google-*-bitrate``).

aiortc's receive-side estimate (REMB) grows slowly from what arrives, and
libwebrtc follows it down: measured here, the official SDK's camera reached
the server at 640x360 and 18 fps instead of 1280x720 at 30. A floor of
2 Mbit/s (the client's own top layer asks 3) keeps the full size and rate.
"""


def new_sid(prefix: str) -> str:
    """A LiveKit-style id: ``PA_`` participant, ``TR_`` track, ``RM_`` room."""
    return f"{prefix}_{secrets.token_urlsafe(9).replace('-', 'x').replace('_', 'y')}"


def decode_join_request(value: str) -> lk.JoinRequest:
    """The ``JoinRequest`` in a ``join_request`` query value."""
    if len(value) > MAX_JOIN_REQUEST:
        raise ProtocolError(f"join_request is {len(value)} bytes; at most {MAX_JOIN_REQUEST} are accepted")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ProtocolError("join_request is not urlsafe base64") from None
    wrapped = _parse(lk.WrappedJoinRequest(), raw, "join_request is not a WrappedJoinRequest")
    payload = wrapped.join_request
    if wrapped.compression == lk.WrappedJoinRequest.GZIP:
        payload = _gunzip(payload)
    elif wrapped.compression != lk.WrappedJoinRequest.NONE:
        raise ProtocolError(f"join_request compression {wrapped.compression} is not supported")
    return _parse(lk.JoinRequest(), payload, "join_request does not hold a JoinRequest")


def _parse(message: M, data: bytes, error: str) -> M:
    """``message`` filled from ``data``; ProtocolError(``error``) when it is not that protobuf."""
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise ProtocolError(error) from None
    return message


def _gunzip(data: bytes) -> bytes:
    try:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = decompressor.decompress(data, MAX_UNCOMPRESSED + 1)
    except (zlib.error, gzip.BadGzipFile):
        raise ProtocolError("join_request is not valid gzip") from None
    if len(out) > MAX_UNCOMPRESSED:
        raise ProtocolError(f"join_request unpacks to more than {MAX_UNCOMPRESSED} bytes")
    return out


def parse_request(data: bytes | str) -> lk.SignalRequest:
    """One ``SignalRequest`` from a binary WebSocket frame."""
    if isinstance(data, str):
        raise ProtocolError("LiveKit signaling is binary protobuf; text frames are not part of it")
    return _parse(lk.SignalRequest(), data, "not a SignalRequest")


def parse_trickle(trickle: lk.TrickleRequest) -> Candidate | None:
    """The candidate in a trickle request; None for an end-of-candidates marker."""
    try:
        init = json.loads(trickle.candidateInit)
    except (ValueError, RecursionError):
        raise ProtocolError("trickle: candidateInit is not JSON") from None
    if not isinstance(init, dict):
        raise ProtocolError("trickle: candidateInit must be an object")
    line = init.get("candidate")
    if not line:
        return None
    mid, index = init.get("sdpMid"), init.get("sdpMLineIndex")
    if not isinstance(line, str) or (mid is not None and not isinstance(mid, str)):
        raise ProtocolError("trickle: candidate and sdpMid must be strings")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise ProtocolError("trickle: sdpMLineIndex must be an integer")
    return Candidate(candidate=line, sdpMid=mid, sdpMLineIndex=index)


@dataclass(frozen=True)
class PublishedTrack:
    """The inference participant and the edited track it publishes, as the room tells a client about them."""

    participant_sid: str
    identity: str
    track_sid: str
    width: int
    height: int

    @property
    def stream_id(self) -> str:
        """The ``msid`` stream id LiveKit clients parse into participant and track."""
        return f"{self.participant_sid}|{self.track_sid}"

    def participant(self, mid: str | None = None) -> lm.ParticipantInfo:
        """The server participant, publishing one camera track (H.264), sent on ``mid`` once that is known."""
        track = lm.TrackInfo(
            sid=self.track_sid,
            type=lm.VIDEO,
            name="edited",
            source=lm.TrackSource.CAMERA,
            width=self.width,
            height=self.height,
            mime_type="video/H264",
            mid=mid or "",
        )
        return lm.ParticipantInfo(
            sid=self.participant_sid,
            identity=self.identity,
            name=self.identity,
            state=lm.ParticipantInfo.ACTIVE,
            tracks=[track],
            is_publisher=True,
            kind=lm.ParticipantInfo.Kind.STANDARD,
        )

    def departed(self) -> lm.ParticipantInfo:
        """The server participant leaving the room (its track goes with it)."""
        return lm.ParticipantInfo(
            sid=self.participant_sid,
            identity=self.identity,
            name=self.identity,
            state=lm.ParticipantInfo.DISCONNECTED,
            kind=lm.ParticipantInfo.Kind.STANDARD,
        )


def join_response(*, room_sid: str, room_name: str, participant_sid: str, identity: str, others: list[lm.ParticipantInfo], publish: bool = True) -> lk.SignalResponse:
    """The first response: the room, the joining participant and who else is there."""
    permission = lm.ParticipantPermission(can_subscribe=True, can_publish=publish, can_publish_data=publish)
    me = lm.ParticipantInfo(
        sid=participant_sid,
        identity=identity,
        name=identity,
        state=lm.ParticipantInfo.ACTIVE,
        permission=permission,
        kind=lm.ParticipantInfo.Kind.STANDARD,
    )
    join = lk.JoinResponse(
        room=lm.Room(sid=room_sid, name=room_name, num_participants=1 + len(others), num_publishers=len(others)),
        participant=me,
        other_participants=others,
        server_version=SERVER_VERSION,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        server_info=lm.ServerInfo(edition=lm.ServerInfo.Standard, version=SERVER_VERSION, protocol=SERVER_PROTOCOL, region="local"),
    )
    return lk.SignalResponse(join=join)


def participant_update(participants: list[lm.ParticipantInfo]) -> lk.SignalResponse:
    """Who is in the room now (sent when a participant's tracks change)."""
    return lk.SignalResponse(update=lk.ParticipantUpdate(participants=participants))


def media_sections_requirement(videos: int) -> lk.SignalResponse:
    """Ask the client for ``videos`` more video sections to receive on (it adds them and sends a new offer)."""
    return lk.SignalResponse(media_sections_requirement=lk.MediaSectionsRequirement(num_videos=videos))


def answer_response(sdp: str, *, offer_id: int, mid_to_track_id: dict[str, str]) -> lk.SignalResponse:
    return lk.SignalResponse(
        answer=lk.SessionDescription(type="answer", sdp=sdp, id=offer_id, mid_to_track_id=mid_to_track_id)
    )


def track_published(request: lk.AddTrackRequest, track_sid: str) -> lk.SignalResponse:
    """The reply to ``add_track``: the client waits for it before renegotiating."""
    track = lm.TrackInfo(
        sid=track_sid,
        type=request.type,
        name=request.name,
        source=request.source,
        width=request.width,
        height=request.height,
        muted=request.muted,
    )
    return lk.SignalResponse(track_published=lk.TrackPublishedResponse(cid=request.cid, track=track))


def pong(ping: lk.Ping, now_ms: int) -> lk.SignalResponse:
    return lk.SignalResponse(pong_resp=lk.Pong(last_ping_timestamp=ping.timestamp, timestamp=now_ms))


def leave(reason: int = lm.DisconnectReason.ROOM_DELETED) -> lk.SignalResponse:
    """Tell the client the room is gone and not to reconnect."""
    return lk.SignalResponse(leave=lk.LeaveRequest(can_reconnect=False, reason=reason, action=lk.LeaveRequest.DISCONNECT))


# --------------------------------------------------------------------------
# SDP: what the answer must add for a libwebrtc publisher
# --------------------------------------------------------------------------


def _sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    head: list[str] = []
    sections: list[list[str]] = []
    for line in sdp.replace("\r\n", "\n").strip("\n").split("\n"):
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            head.append(line)
    return head, sections


def _send_rids(section: list[str]) -> list[str]:
    rids = []
    for line in section:
        if line.startswith("a=rid:"):
            parts = line[len("a=rid:"):].split()
            if len(parts) >= 2 and parts[1] == "send":
                rids.append(parts[0])
    return rids


def best_layer(rids: list[str]) -> str:
    """The simulcast layer to receive: LiveKit's full-resolution ``f`` if offered, else the last one."""
    for rid in LAYER_PREFERENCE:
        if rid in rids:
            return rid
    return rids[-1]


def _with_bitrates(section: list[str]) -> list[str]:
    """``section`` with the bitrate floor on every media codec (an ``fmtp`` line added where a codec has none, as VP8)."""
    hints = f"x-google-min-bitrate={PUBLISH_MIN_KBPS};x-google-start-bitrate={PUBLISH_START_KBPS}"
    with_fmtp = {line.split()[0].split(":", 1)[1] for line in section if line.startswith("a=fmtp:")}
    out = []
    for line in section:
        if line.startswith("a=fmtp:") and "apt=" not in line and "x-google-" not in line:
            line = f"{line};{hints}"
        out.append(line)
        if line.startswith("a=rtpmap:"):
            pt, codec = line.split(":", 1)[1].split(None, 1)
            if pt not in with_fmtp and codec.split("/")[0].lower() not in ("rtx", "red", "ulpfec", "flexfec-03"):
                out.append(f"a=fmtp:{pt} {hints}")
    return out


SENT_CODEC = "H264"
"""What the edited track is sent as, where the client can receive it.

In a LiveKit room the publisher chooses its codec, and subscribers decode
what it sends; the inference server publishes H.264. Measured with our
client on loopback (``decart bench --transport livekit``): against VP8
(libwebrtc's first in its offer) H.264 cost the client 36-37% of a core
instead of 42-44% (its decoder: 1.2 ms a frame instead of 2.6), the server
25% instead of 40%, and cut glass-to-glass p50 from 40-48 ms to 26-27.
"""


def sent_codec_first(offer: str, codec: str = SENT_CODEC) -> str:
    """``offer`` with ``codec`` (and its retransmission formats) listed first in every video section the client receives on.

    aiortc answers with the first codec, in the offer's ``rtpmap`` order,
    that both sides support, and then sends that one; the sections the
    client sends on keep its own order.
    """
    head, sections = _sections(offer)
    out = list(head)
    for section in sections:
        if section[0].startswith("m=video") and "a=recvonly" in section:
            section = _codec_first(section, codec)
        out += section
    return "\r\n".join(out) + "\r\n"


def _codec_first(section: list[str], codec: str) -> list[str]:
    names = {}
    apts = {}
    for line in section:
        if line.startswith("a=rtpmap:"):
            pt, name = line[len("a=rtpmap:"):].split(None, 1)
            names[pt] = name.split("/")[0].upper()
        elif line.startswith("a=fmtp:"):
            pt, _, params = line[len("a=fmtp:"):].partition(" ")
            for part in params.split(";"):
                key, _, value = part.strip().partition("=")
                if key == "apt":
                    apts[pt] = value

    def rank(pt: str) -> int:
        if names.get(pt) == codec.upper():
            return 0
        if names.get(pt) == "RTX" and names.get(apts.get(pt, "")) == codec.upper():
            return 1
        return 2

    m_line = section[0].split()
    fmts = sorted(m_line[3:], key=rank)
    rtpmaps = sorted((line for line in section if line.startswith("a=rtpmap:")), key=lambda line: rank(line[len("a=rtpmap:"):].split(None, 1)[0]))
    reordered = iter(rtpmaps)
    body = [next(reordered) if line.startswith("a=rtpmap:") else line for line in section[1:]]
    return [" ".join(m_line[:3] + fmts), *body]


RECEIVED_CODECS = ("H264", "VP8")
"""The video codecs aiortc decodes: what a client may publish its camera with here."""
CODEC_NAMES = {"H264": "H.264", "VP8": "VP8", "VP9": "VP9", "AV1": "AV1", "H265": "H.265"}
_NOT_MEDIA = ("RTX", "RED", "ULPFEC", "FLEXFEC-03")


def _codecs(section: list[str]) -> list[str]:
    """The media codecs of a section (upper case), in the offer's order, retransmission and FEC formats left out."""
    names = []
    for line in section:
        if line.startswith("a=rtpmap:"):
            name = line[len("a=rtpmap:"):].split(None, 1)[-1].split("/")[0].upper()
            if name not in _NOT_MEDIA and name not in names:
                names.append(name)
    return names


def published_codec(offer: str) -> str | None:
    """The codec the client publishes its camera with: the first of its sending video section (its preference), or None while it sends no video."""
    _, sections = _sections(offer)
    for section in sections:
        if section[0].startswith("m=video") and not section[0].startswith("m=video 0 ") and "a=sendonly" in section:
            codecs = _codecs(section)
            if codecs:
                return codecs[0]
    return None


def codec_refusal(codec: str) -> str | None:
    """Why a client publishing with ``codec`` (``VP9``, ``video/vp9``: any case, with or without ``video/``) cannot be received here, or None.

    The client asked for it first: answering with another codec it also
    offered would be a silent fall back, so the room refuses instead.
    """
    name = codec.upper().removeprefix("VIDEO/")
    if not name or name in RECEIVED_CODECS:
        return None
    return f"this server cannot receive {CODEC_NAMES.get(name, name)} video: publish H.264 or VP8"


def complete_answer(offer: str, answer: str) -> str:
    """aiortc's ``answer`` to a LiveKit client's ``offer``, with the RID extensions, one simulcast layer and a bitrate floor.

    Sections are matched by position (an answer has the offer's sections in
    its order). Video sections get the offer's RID ``extmap`` lines; a section
    the client offered simulcast on gets ``a=rid:<best> recv`` and
    ``a=simulcast:recv <best>``, so the client sends only that layer; a
    section the client sends on gets :data:`PUBLISH_MIN_KBPS` and
    :data:`PUBLISH_START_KBPS` on its codecs' ``fmtp`` lines.
    """
    _, offered = _sections(offer)
    head, answered = _sections(answer)
    if len(offered) != len(answered):
        raise ProtocolError("the answer does not match the offer's media sections")
    out = list(head)
    for theirs, ours in zip(offered, answered):
        ours = list(ours)
        if ours[0].startswith("m=video") and not ours[0].startswith("m=video 0 "):
            extensions = [line for line in theirs if line.startswith("a=extmap:") and line.split()[-1] in RID_URIS]
            anchor = max(i for i, line in enumerate(ours) if line.startswith(("a=extmap:", "a=mid:", "m=")))
            ours[anchor + 1:anchor + 1] = [line for line in extensions if line not in ours]
            if "a=sendonly" in theirs:
                ours = _with_bitrates(ours)
            rids = _send_rids(theirs)
            if rids:
                layer = best_layer(rids)
                ours += [f"a=rid:{layer} recv", f"a=simulcast:recv {layer}"]
        out += ours
    return "\r\n".join(out) + "\r\n"
