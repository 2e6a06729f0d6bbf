"""The room endpoint's pure parts: LiveKit join requests, the answer's SDP additions, slots and tokens."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json

import pytest
from livekit.protocol import rtc as lk

from decart_cli.errors import ProtocolError
from decart_cli.protocol import room_signal as rs
from decart_cli.server.slots import Slots
from decart_cli.server.tokens import RoomTokens

RID = "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
RRID = "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
OFFER = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", "a=recvonly", "a=rtpmap:111 opus/48000/2",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", RID, RRID, "a=recvonly", "a=rtpmap:96 H264/90000",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:2", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", RID, RRID, "a=sendonly", "a=rtpmap:96 H264/90000",
    "a=rid:q send", "a=rid:h send", "a=rid:f send", "a=simulcast:send q;h;f",
]) + "\r\n"  # fmt: skip
ANSWER = "\r\n".join([
    "v=0", "o=- 3 3 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=inactive", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", "a=mid:0", "a=rtpmap:111 opus/48000/2",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=sendonly", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", "a=mid:1", "a=msid:PA_x|TR_y TR_y", "a=rtpmap:96 H264/90000",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=recvonly", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", "a=mid:2", "a=rtpmap:96 H264/90000",
]) + "\r\n"  # fmt: skip


def sections(sdp: str) -> list[list[str]]:
    return rs._sections(sdp)[1]


def test_answer_gains_the_rid_extensions_on_video_sections_only() -> None:
    """Every video section of the answer declares the offer's RID extensions (libwebrtc needs them to add a simulcast track later); audio does not."""
    audio, video, camera = sections(rs.complete_answer(OFFER, ANSWER))
    assert RID not in audio and RRID not in audio
    for section in (video, camera):
        assert RID in section and RRID in section
    assert "a=msid:PA_x|TR_y TR_y" in video


def test_a_simulcast_offer_is_answered_for_its_top_layer_only() -> None:
    """The section the client offered three layers on is answered `a=rid:f recv` + `a=simulcast:recv f`; the others get no rid lines."""
    audio, video, camera = sections(rs.complete_answer(OFFER, ANSWER))
    assert camera[-2:] == ["a=rid:f recv", "a=simulcast:recv f"]
    assert not any(line.startswith(("a=rid", "a=simulcast")) for line in audio + video)
    assert rs.best_layer(["q", "h"]) == "h" and rs.best_layer(["a", "b"]) == "b"


def test_what_the_client_sends_gets_a_bitrate_floor() -> None:
    """The codecs of the section the client sends on carry x-google-min/start-bitrate; the sections it receives on do not."""
    offer = OFFER + "a=fmtp:96 packetization-mode=1\r\n"
    answer = ANSWER.replace("a=mid:1\r\n", "a=mid:1\r\na=fmtp:96 packetization-mode=1\r\n") + "a=fmtp:96 packetization-mode=1\r\na=fmtp:97 apt=96\r\n"
    _, video, camera = sections(rs.complete_answer(offer, answer))
    floor = f"x-google-min-bitrate={rs.PUBLISH_MIN_KBPS};x-google-start-bitrate={rs.PUBLISH_START_KBPS}"
    assert f"a=fmtp:96 packetization-mode=1;{floor}" in camera
    assert "a=fmtp:97 apt=96" in camera  # retransmission formats take no bitrate
    assert not any("x-google" in line for line in video)


def test_a_codec_without_parameters_gets_an_fmtp_line_for_its_floor() -> None:
    """A VP8 camera (LiveKit's JS SDK default) gets `a=fmtp:<pt> x-google-...` of its own; rtx does not (without it VP8 reached the server at PSNR 22 dB)."""
    offer = OFFER.replace("a=sendonly\r\na=rtpmap:96 H264/90000", "a=sendonly\r\na=rtpmap:98 VP8/90000\r\na=rtpmap:99 rtx/90000")
    answer = ANSWER.replace("a=mid:2\r\na=rtpmap:96 H264/90000", "a=mid:2\r\na=rtpmap:98 VP8/90000\r\na=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98")
    camera = sections(rs.complete_answer(offer, answer))[2]
    floor = f"x-google-min-bitrate={rs.PUBLISH_MIN_KBPS};x-google-start-bitrate={rs.PUBLISH_START_KBPS}"
    assert camera[camera.index("a=rtpmap:98 VP8/90000") + 1] == f"a=fmtp:98 {floor}"
    assert "a=fmtp:99 apt=98" in camera and not any(line.startswith("a=fmtp:99 x-google") for line in camera)


def test_the_edited_track_is_answered_in_h264_where_the_client_receives_it() -> None:
    """In the client's receive sections H.264 (and its rtx) move first, so aiortc answers and sends H.264; its send sections keep its order."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    receive = ["m=video 9 UDP/TLS/RTP/SAVPF 96 97 103 104", "c=IN IP4 0.0.0.0", "a=mid:0", "a=recvonly", "a=rtcp-mux",
               "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=fingerprint:sha-256 " + ":".join(["AA"] * 32), "a=setup:actpass",
               "a=rtpmap:96 VP8/90000", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
               "a=rtpmap:103 H264/90000", "a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
               "a=rtpmap:104 rtx/90000", "a=fmtp:104 apt=103"]  # fmt: skip
    send = [line.replace("a=recvonly", "a=sendonly").replace("a=mid:0", "a=mid:1") for line in receive]
    offer = "\r\n".join(["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", *receive, *send]) + "\r\n"
    mine, theirs = sections(rs.sent_codec_first(offer))
    assert mine[0] == "m=video 9 UDP/TLS/RTP/SAVPF 103 104 96 97"
    assert [line.split()[0] for line in mine if line.startswith("a=rtpmap")] == ["a=rtpmap:103", "a=rtpmap:104", "a=rtpmap:96", "a=rtpmap:97"]
    assert theirs == sections(offer)[1]

    async def answered() -> str:
        pc = RTCPeerConnection()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(rs.sent_codec_first(offer), "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            return pc.localDescription.sdp
        finally:
            await pc.close()

    first = sections(asyncio.run(answered()))[0]
    assert first[0].split()[3] == "103", first[0]


def test_answer_and_offer_must_match() -> None:
    """An answer with a different number of sections than its offer is a ProtocolError, not a wrong SDP."""
    with pytest.raises(ProtocolError):
        rs.complete_answer(OFFER, ANSWER.split("m=video")[0])


def wrapped(request: lk.JoinRequest, *, compress: bool) -> str:
    payload = request.SerializeToString()
    wrapper = lk.WrappedJoinRequest(
        compression=lk.WrappedJoinRequest.GZIP if compress else lk.WrappedJoinRequest.NONE,
        join_request=gzip.compress(payload) if compress else payload,
    )
    return base64.urlsafe_b64encode(wrapper.SerializeToString()).decode().rstrip("=")


def test_join_requests_decode_gzipped_or_plain_with_or_without_padding() -> None:
    """The client's WrappedJoinRequest (gzip, unpadded urlsafe base64) and an uncompressed one give back the publisher offer."""
    request = lk.JoinRequest(publisher_offer=lk.SessionDescription(type="offer", sdp=OFFER, id=1))
    for compress in (True, False):
        decoded = rs.decode_join_request(wrapped(request, compress=compress))
        assert decoded.publisher_offer.sdp == OFFER and decoded.publisher_offer.id == 1


def test_bad_join_requests_are_protocol_errors() -> None:
    """Not base64, not protobuf, bad gzip, a gzip bomb or an unknown compression: each a ProtocolError saying which."""
    bomb = lk.WrappedJoinRequest(compression=lk.WrappedJoinRequest.GZIP, join_request=gzip.compress(b"\x00" * (rs.MAX_UNCOMPRESSED + 10)))
    cases = {
        "AA": "WrappedJoinRequest",
        base64.urlsafe_b64encode(lk.WrappedJoinRequest(compression=1, join_request=b"nope").SerializeToString()).decode(): "gzip",
        base64.urlsafe_b64encode(bomb.SerializeToString()).decode(): "unpacks to more",
        base64.urlsafe_b64encode(lk.WrappedJoinRequest(compression=7, join_request=b"").SerializeToString()).decode(): "compression",
        "A" * (rs.MAX_JOIN_REQUEST + 1): "at most",
    }
    for value, why in cases.items():
        with pytest.raises(ProtocolError, match=why):
            rs.decode_join_request(value)


def test_trickle_candidates_parse_and_garbage_is_refused() -> None:
    """A LiveKit trickle's candidateInit JSON becomes a Candidate; an empty one ends the trickle; anything else is a ProtocolError."""
    init = {"candidate": "candidate:1 1 udp 1 10.77.0.2 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    candidate = rs.parse_trickle(lk.TrickleRequest(candidateInit=json.dumps(init)))
    assert candidate is not None and candidate.sdpMid == "0" and candidate.candidate.startswith("candidate:1")
    assert rs.parse_trickle(lk.TrickleRequest(candidateInit='{"candidate": ""}')) is None
    for bad in ("{", "[]", '{"candidate": 5}', '{"candidate": "x", "sdpMLineIndex": true}'):
        with pytest.raises(ProtocolError):
            rs.parse_trickle(lk.TrickleRequest(candidateInit=bad))


def test_tokens_open_only_their_room_and_only_on_this_server() -> None:
    """A token names its room and identity; another server's (another secret's) token and garbage are refused."""
    tokens = RoomTokens()
    grant = tokens.verify(tokens.issue("decart-abc", "client-abc"))
    assert (grant.room, grant.identity) == ("decart-abc", "client-abc")
    for bad in (RoomTokens().issue("decart-abc", "client-abc"), "x.y.z", ""):
        with pytest.raises(ProtocolError):
            tokens.verify(bad)


def test_slots_queue_first_come_first_served_and_cancel_cleanly() -> None:
    """Waiters get slots in order, are told their place as it changes, and a cancelled waiter leaves the queue (or gives back a slot it just got)."""

    async def main() -> None:
        slots = Slots(1)
        assert slots.try_take()
        told: dict[str, list[tuple[int, int]]] = {"a": [], "b": [], "c": []}
        waits = {name: asyncio.ensure_future(slots.take(lambda pos, size, name=name: told[name].append((pos, size)))) for name in "abc"}
        await asyncio.sleep(0)
        assert slots.waiting == 3 and not slots.try_take()  # nobody jumps the queue
        waits["b"].cancel()
        await asyncio.sleep(0)
        slots.release()
        await asyncio.sleep(0)
        assert waits["a"].done() and not waits["c"].done()
        assert told["a"] == [(1, 1), (1, 2), (1, 3), (1, 2)]
        assert told["c"][-1] == (1, 1) and (2, 2) in told["c"]
        slots.release()
        await asyncio.sleep(0)
        assert waits["c"].done() and slots.in_use == 1 and slots.waiting == 0
        slots.release()
        assert slots.in_use == 0 and Slots(0).try_take()

    asyncio.run(main())
