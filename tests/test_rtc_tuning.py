"""decart_cli.rtc: the marker-bit jitter buffer, the tuned encoder, codec preference, the loopback hook, guards, warnings."""

from __future__ import annotations

import asyncio
import fractions
import json
import logging
from collections.abc import Iterator

import aioice.ice
import aiortc.codecs
import aiortc.codecs.h264
import aiortc.rtcrtpreceiver
import numpy as np
import pytest

from conftest import stream, with_server
import websockets
from aiortc import RTCRtpTransceiver, VideoStreamTrack
from aiortc.codecs import depayload
from aiortc.codecs.h264 import H264Decoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket
from av import VideoFrame

from decart_cli import rtc
from decart_cli.rtc.peer import Peer
from decart_cli.rtc import MediaTuning, h264_starts_frame, vp8_starts_frame
from decart_cli.server import Server
from decart_cli.client.signaling import Signaling
from decart_cli.client.media_connection import MediaConnection

H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)


# --------------------------------------------------------------------------
# packets


def rtp(codec: RTCRtpCodecParameters, seq: int, ts: int, payload: bytes, marker: bool = False) -> RtpPacket:
    """An RTP packet as the receiver hands it to the jitter buffer (depayloaded into ``_data``)."""
    packet = RtpPacket(payload_type=codec.payloadType, marker=int(marker), sequence_number=seq % 65536, timestamp=ts, payload=payload)
    packet._data = depayload(codec, payload) if payload else b""  # type: ignore[attr-defined]  # as the receiver does
    return packet


def fu_a(seq: int, ts: int, count: int, nal_type: int = 5) -> list[RtpPacket]:
    """One H.264 NAL unit (a slice at macroblock 0) in ``count`` FU-A fragments."""
    packets = []
    for i in range(count):
        header = nal_type | (0x80 if i == 0 else 0) | (0x40 if i == count - 1 else 0)
        body = (bytes([0x88]) if i == 0 else b"") + bytes([i + 1]) * 20  # 0x88: first_mb_in_slice = 0
        packets.append(rtp(H264, seq + i, ts, bytes([0x60 | 28, header]) + body, marker=i == count - 1))
    return packets


def single_nal(seq: int, ts: int, marker: bool = True, nal_type: int = 1, first_mb_zero: bool = True) -> RtpPacket:
    """One H.264 single-NAL-unit packet (a slice)."""
    return rtp(H264, seq, ts, bytes([0x40 | nal_type, 0x88 if first_mb_zero else 0x48]) + b"\x11" * 10, marker)


def vp8(seq: int, ts: int, count: int) -> list[RtpPacket]:
    """One VP8 frame in ``count`` packets (S=1, PID=0 on the first; picture id in the descriptor)."""
    packets = []
    for i in range(count):
        descriptor = bytes([0x80 | (0x10 if i == 0 else 0), 0x80, 0x80, 0x01])
        packets.append(rtp(VP8, seq + i, ts, descriptor + bytes([i + 1]) * 20, marker=i == count - 1))
    return packets


def buffer(*codecs: RTCRtpCodecParameters) -> JitterBuffer:
    """A video jitter buffer of the installed (or a fresh) low-latency class, knowing ``codecs``."""
    jb = rtc.jitter_buffer_class()(capacity=128, is_video=True)
    jb.codecs.update({c.payloadType: c.name.lower() for c in codecs})
    return jb


def feed(jb: JitterBuffer, packets: list[RtpPacket]) -> list[tuple[bool, object]]:
    return [jb.add(packet) for packet in packets]


# --------------------------------------------------------------------------
# the jitter buffer


def test_h264_fu_a_frame_is_released_at_its_marker_packet() -> None:
    """An FU-A frame comes out when its last (marker) packet arrives, not when the next frame starts."""
    jb = buffer(H264)
    out = feed(jb, fu_a(1000, 3000, 3))
    assert [frame for _, frame in out[:2]] == [None, None]
    pli, frame = out[2]
    assert frame is not None and not pli and frame.timestamp == 3000
    assert frame.data == b"".join(p._data for p in fu_a(1000, 3000, 3))
    assert frame.data.startswith(b"\x00\x00\x00\x01\x65")
    assert jb.frames_on_marker == 1


def test_single_nal_frames_are_released_one_by_one() -> None:
    """Single-NAL frames (and a STAP-A + FU-A keyframe) each come out on their own packet."""
    jb = buffer(H264)
    stap_a = rtp(H264, 9, 0, bytes([0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE]))  # SPS + PPS
    keyframe = [stap_a, *fu_a(10, 0, 2)]
    out = feed(jb, keyframe)
    assert [f is not None for _, f in out] == [False, False, True]
    for i in range(5):
        pli, frame = jb.add(single_nal(12 + i, 3000 * (i + 1)))
        assert frame is not None and frame.timestamp == 3000 * (i + 1) and not pli


def test_vp8_frame_is_released_at_its_marker_packet() -> None:
    """A VP8 frame (S=1/PID=0 first packet) comes out on its marker packet; so does the next."""
    jb = buffer(VP8)
    out = feed(jb, vp8(500, 0, 3))
    assert [f is not None for _, f in out] == [False, False, True]
    assert out[2][1].data == b"".join(p._data for p in vp8(500, 0, 3))
    out = feed(jb, vp8(503, 3000, 2))
    assert [f is not None for _, f in out] == [False, True]


def test_padding_packets_never_become_an_empty_frame() -> None:
    """libwebrtc's padding-only packets (after a marker, same or new timestamp) are skipped, never released as an empty frame."""
    jb = buffer(H264)
    released = [f for _, f in feed(jb, fu_a(100, 3000, 2))]
    padding = [rtp(H264, 102, 3000, b""), rtp(H264, 103, 3000, b""), rtp(H264, 104, 4500, b"")]
    released += [f for _, f in feed(jb, padding)]
    released += [f for _, f in feed(jb, fu_a(105, 6000, 2))]
    frames = [f for f in released if f is not None]
    assert [f.timestamp for f in frames] == [3000, 6000]
    assert all(f.data for f in frames)


def test_reordered_packets_are_put_back_in_order() -> None:
    """The marker packet arriving before the middle one: the frame comes out complete, in sequence order."""
    jb = buffer(H264)
    first, middle, last = fu_a(65534, 90, 3)  # also wraps the sequence number
    assert jb.add(first)[1] is None
    assert jb.add(last)[1] is None
    frame = jb.add(middle)[1]
    assert frame is not None and frame.data == first._data + middle._data + last._data


def test_missing_packet_holds_the_frame_until_it_is_retransmitted() -> None:
    """No incomplete frame is emitted; the retransmitted packet completes it; the frame behind follows."""
    jb = buffer(H264)
    a = fu_a(100, 0, 3)
    b = fu_a(103, 3000, 2)
    outputs = feed(jb, [a[0], a[2], *b])  # a[1] lost
    assert all(frame is None for _, frame in outputs)
    pli, frame = jb.add(a[1])  # the NACKed retransmission
    assert frame is not None and frame.timestamp == 0 and frame.data == b"".join(p._data for p in a)
    # The frame queued behind it comes out with the next packet.
    pli, frame = jb.add(single_nal(105, 6000, marker=False))
    assert frame is not None and frame.timestamp == 3000


def test_packet_lost_for_good_holds_the_frames_behind_only_for_a_while() -> None:
    """After give_up_after seconds (a fake clock) the broken frame is dropped, a PLI asked for, and the next frame released."""
    jb = buffer(H264)
    now = [0.0]
    jb.clock = lambda: now[0]
    jb.give_up_after = 0.4
    a, b = fu_a(0, 0, 3), fu_a(3, 3000, 2)
    assert all(frame is None for _, frame in feed(jb, [a[0], a[2], *b]))  # a[1] lost
    now[0] = 0.3
    assert jb.add(single_nal(5, 6000, marker=False)) == (False, None)  # still within NACK's time
    now[0] = 0.5
    pli, frame = jb.add(single_nal(6, 6000, marker=True))
    assert pli and frame is not None and frame.timestamp == 3000 and jb.frames_given_up == 1
    assert jb.add(a[1]) == (False, None)  # the retransmission, too late: ignored
    pli, frame = jb.add(single_nal(7, 9000))
    assert frame is not None and frame.timestamp == 6000 and not pli
    # A lost first packet of a frame (the head slot itself empty) is given up on the same way.
    now[0] = 1.0
    assert feed(jb, [*fu_a(9, 12000, 2), *fu_a(11, 15000, 2)])[-1] == (False, None)  # seq 8 lost
    now[0] = 1.5
    pli, frame = jb.add(single_nal(13, 18000))
    assert pli and frame is not None and frame.timestamp == 12000


def test_frame_missing_its_start_is_dropped_and_a_keyframe_asked_for() -> None:
    """A frame whose first packets never came (FU-A without start bit, VP8 S=0) is dropped with a PLI."""
    jb = buffer(H264)
    tail = fu_a(200, 0, 3)[1:]  # joined mid-frame
    outputs = feed(jb, tail)
    assert outputs[0] == (False, None)
    assert outputs[1] == (True, None)
    assert jb.frames_dropped_incomplete == 1
    frame = feed(jb, fu_a(203, 3000, 2))[-1][1]
    assert frame is not None and frame.timestamp == 3000

    jb = buffer(VP8)
    outputs = feed(jb, vp8(10, 0, 3)[1:])
    assert outputs[-1] == (True, None)
    assert feed(jb, vp8(13, 3000, 2))[-1][1] is not None


def test_later_slice_at_the_head_is_not_a_frame_start() -> None:
    """A single-NAL slice with first_mb_in_slice != 0 at the head is dropped, not decoded alone."""
    jb = buffer(H264)
    assert jb.add(single_nal(7, 0, marker=True, first_mb_zero=False)) == (True, None)


def test_frame_without_marker_still_comes_out_when_the_next_starts() -> None:
    """A sender that never sets the marker bit still gets its frames through (stock rule)."""
    jb = buffer(H264)
    assert jb.add(single_nal(1, 0, marker=False))[1] is None
    frame = jb.add(single_nal(2, 3000, marker=False))[1]
    assert frame is not None and frame.timestamp == 0 and jb.frames_on_next_timestamp == 1


def test_unknown_codec_still_releases_on_marker() -> None:
    """Without the codec map (an aiortc that hides it), frames are still released at their marker."""
    jb = buffer()
    out = feed(jb, fu_a(40, 0, 2))
    assert out[-1][1] is not None


def test_audio_behaves_as_stock() -> None:
    """Audio (prefetch, no marker logic) gives exactly what aiortc's own buffer gives."""
    ours = rtc.jitter_buffer_class()(capacity=16, prefetch=4)
    stock = JitterBuffer(capacity=16, prefetch=4)
    for seq in range(12):
        packet = rtp(RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, payloadType=96), seq, seq * 960, b"\x01\x02", True)
        mine, theirs = ours.add(packet), stock.add(packet)
        assert mine[0] == theirs[0]
        assert (mine[1] is None) == (theirs[1] is None)
        if mine[1] is not None:
            assert (mine[1].data, mine[1].timestamp) == (theirs[1].data, theirs[1].timestamp)


def test_frame_start_checks() -> None:
    """H.264: FU-A without S and later slices cannot start a frame; VP8 needs S=1 and PID=0."""
    assert h264_starts_frame(bytes([0x7C, 0x85, 0x88])) is None  # FU-A start, IDR slice at MB 0
    assert h264_starts_frame(bytes([0x7C, 0x05, 0x88])) is False  # FU-A middle
    assert h264_starts_frame(bytes([0x7C, 0x85, 0x48])) is False  # FU-A start of a later slice
    assert h264_starts_frame(bytes([0x67, 0x42])) is None  # SPS
    assert h264_starts_frame(bytes([0x41, 0x9A])) is None  # slice at MB 0
    assert h264_starts_frame(bytes([0x41, 0x40])) is False  # slice at MB > 0
    assert h264_starts_frame(bytes([0x78, 0x00])) is None  # STAP-A
    assert vp8_starts_frame(bytes([0x90])) is True
    assert vp8_starts_frame(bytes([0x80])) is False
    assert vp8_starts_frame(bytes([0x91])) is False


# --------------------------------------------------------------------------
# patches: idempotent, guarded


@pytest.fixture
def restore_tuning() -> Iterator[None]:
    """Leave the process with the default tuning applied, whatever the test did."""
    yield
    rtc.unapply()
    rtc.apply(MediaTuning())


def test_apply_is_idempotent(restore_tuning: None) -> None:
    """Applying twice installs each patch once (no wrapper around a wrapper)."""
    rtc.unapply()
    first = rtc.apply(MediaTuning())
    jitter_class = aiortc.rtcrtpreceiver.JitterBuffer
    receive = RTCRtpReceiver.receive
    encoder_class = aiortc.codecs.H264Encoder
    hook = aioice.ice.get_host_addresses
    second = rtc.apply(MediaTuning())
    assert rtc.apply() == second == first
    assert set(first.values()) == {"yes", "applied"} and set(first) == {
        "enabled", "jitter", "receiver_codecs", "h264_encoder", "h264_bitrates", "vp8_bitrates", "codec_preferences", "ice_loopback",
    }
    assert aioice.ice.get_host_addresses is hook and not hasattr(hook.__wrapped__, "__wrapped__")
    assert aiortc.rtcrtpreceiver.JitterBuffer is jitter_class and jitter_class.__bases__ == (JitterBuffer,)
    assert RTCRtpReceiver.receive is receive and not hasattr(receive.__wrapped__, "__wrapped__")
    assert aiortc.codecs.H264Encoder is encoder_class and encoder_class.__bases__ == (aiortc.codecs.h264.H264Encoder,)
    assert aiortc.codecs.vpx.DEFAULT_BITRATE == MediaTuning().vp8_start_bitrate
    rtc.unapply()
    assert aiortc.rtcrtpreceiver.JitterBuffer is JitterBuffer and aiortc.codecs.H264Encoder is aiortc.codecs.h264.H264Encoder
    assert RTCRtpReceiver.receive is receive.__wrapped__ and aiortc.codecs.vpx.DEFAULT_BITRATE == 500000
    assert aioice.ice.get_host_addresses is hook.__wrapped__


@pytest.mark.parametrize(
    ("target", "name", "part"),
    [
        (aiortc.rtcrtpreceiver, "JitterBuffer", "jitter"),
        (JitterBuffer, "_remove_frame", "jitter"),
        (aiortc.codecs.h264.H264Encoder, "_encode_frame", "h264_encoder"),
        (aiortc.codecs, "get_encoder", "h264_encoder"),
        (aiortc.codecs.vpx, "MAX_BITRATE", "vp8_bitrates"),
        (RTCRtpTransceiver, "setCodecPreferences", "codec_preferences"),
        (aioice.ice, "get_host_addresses", "ice_loopback"),
    ],
)
def test_missing_attribute_is_skipped_cleanly(target: object, name: str, part: str, monkeypatch: pytest.MonkeyPatch, restore_tuning: None) -> None:
    """When what a patch needs is gone, that part is skipped (no error), and the rest still applies."""
    rtc.unapply()
    with monkeypatch.context() as m:
        m.delattr(target, name)
        result = rtc.apply(MediaTuning())
        assert result[part].startswith("skipped"), result
        assert [k for k, v in result.items() if v not in ("applied", "yes")] == [part], result
        if part == "jitter":
            assert getattr(aiortc.rtcrtpreceiver, "JitterBuffer", JitterBuffer) is JitterBuffer
        rtc.unapply()


def test_changed_behaviour_fails_the_self_test(monkeypatch: pytest.MonkeyPatch, restore_tuning: None) -> None:
    """An aiortc whose JitterBuffer.add no longer goes through _remove_frame keeps its own buffer."""
    rtc.unapply()
    with monkeypatch.context() as m:
        m.setattr(JitterBuffer, "add", lambda self, packet: (False, None))
        result = rtc.apply(MediaTuning())
        assert result["jitter"].startswith("skipped: self-test failed")
        assert aiortc.rtcrtpreceiver.JitterBuffer is JitterBuffer
        rtc.unapply()


def test_switching_parts_off_restores_aiortc(restore_tuning: None) -> None:
    """jitter=False / encoder=False put aiortc's own classes and bitrates back."""
    rtc.apply(MediaTuning())
    result = rtc.apply(MediaTuning(jitter=False, encoder=False))
    assert result["jitter"] == result["h264_encoder"] == "off"
    assert aiortc.rtcrtpreceiver.JitterBuffer is JitterBuffer
    assert aiortc.codecs.H264Encoder is aiortc.codecs.h264.H264Encoder and aiortc.codecs.h264.MAX_BITRATE == 3000000


def test_environment_settings() -> None:
    """DECART_RTC_TUNING: off, field=value overrides, and a clear error for unknown fields."""
    assert MediaTuning.parse("off") is None and MediaTuning.parse("stock") is None
    assert MediaTuning.parse("") == MediaTuning()
    tuning = MediaTuning.parse("codec=vp8, start_bitrate=2000000, jitter=off, vbv_seconds=0.5")
    assert tuning == MediaTuning(codec="vp8", start_bitrate=2_000_000, jitter=False, vbv_seconds=0.5)
    with pytest.raises(ValueError, match="unknown field"):
        MediaTuning.parse("bogus=1")
    with pytest.raises(ValueError):
        MediaTuning(codec="av1")
    with pytest.raises(ValueError):
        MediaTuning(min_bitrate=5_000_000, start_bitrate=4_000_000)
    with pytest.raises(ValueError):
        MediaTuning(threads=-1)
    with pytest.raises(ValueError):
        MediaTuning(subme=12)


# --------------------------------------------------------------------------
# encoder and decoder


def frames(count: int, width: int = 320, height: int = 176) -> Iterator[VideoFrame]:
    rng = np.random.default_rng(1)
    for i in range(count):
        frame = VideoFrame.from_ndarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), format="bgr24")
        frame.pts, frame.time_base = i * 3600, fractions.Fraction(1, 90000)
        yield frame


def test_tuned_encoder_settings_and_bitrate_policy() -> None:
    """x264 gets the preset, zerolatency and a VBV cap; REMB is clamped; only big changes rebuild."""
    rtc.apply()
    encoder = aiortc.codecs.get_encoder(H264)
    tuning = rtc.active()
    assert type(encoder).__name__ == "TunedH264Encoder" and encoder.target_bitrate == tuning.start_bitrate
    stream = frames(6)
    payloads, _ = encoder.encode(next(stream))
    assert payloads
    options = encoder.x264_options
    assert options["preset"] == tuning.preset and options["tune"] == "zerolatency"
    assert int(options["maxrate"]) == tuning.start_bitrate and int(options["bufsize"]) == int(tuning.start_bitrate * tuning.vbv_seconds)
    codec = encoder.codec
    encoder.target_bitrate = int(tuning.start_bitrate * 0.9)  # a small REMB change: same encoder
    encoder.encode(next(stream))
    assert encoder.codec is codec and encoder.rebuilds == 0
    encoder.target_bitrate = 1  # clamped to the minimum: a large drop rebuilds once
    assert encoder.target_bitrate == tuning.min_bitrate
    encoder.encode(next(stream))
    encoder.encode(next(stream))
    assert encoder.codec is not codec and encoder.rebuilds == 1
    assert int(encoder.x264_options["maxrate"]) == tuning.min_bitrate
    encoder.target_bitrate = 10**12
    assert encoder.target_bitrate == tuning.max_bitrate


def x264_settings(payloads: list[bytes]) -> str:
    """The settings x264 wrote into its stream (the SEI text of a keyframe)."""
    data = b"".join(depayload(H264, payload) for payload in payloads)
    start = data.index(b"x264 - core")
    return data[start : data.index(b"\x00", start)].decode("ascii", "replace")


@pytest.mark.parametrize(
    ("tuning", "expected"),
    [
        (MediaTuning(), ["deblock=0:", "subme=0", " threads=1 ", "sliced_threads=0"]),
        (MediaTuning(deblock=True, subme=1, threads=2), ["deblock=1:0:0", "subme=1", " threads=2 ", "sliced_threads=1"]),
    ],
)
def test_x264_gets_deblock_subme_and_threads(tuning: MediaTuning, expected: list[str], restore_tuning: None) -> None:
    """deblock, subme and threads reach x264 itself (read back from the settings it writes into the stream)."""
    rtc.apply(tuning)
    payloads, _ = aiortc.codecs.get_encoder(H264).encode(next(frames(1)))
    settings = x264_settings(payloads)
    for option in expected:
        assert option in settings


def test_h264_stream_says_its_colours() -> None:
    """The tuned stream is tagged BT.601 limited range (untagged H.264 looked wrong in Chromium); tagged frames keep theirs."""
    from aiortc.jitterbuffer import JitterFrame

    rtc.apply()
    for tag, expected in ((None, 6), (1, 1)):
        encoder, decoder = aiortc.codecs.get_encoder(H264), H264Decoder()
        frame = next(frames(1)).reformat(format="yuv420p")
        if tag is not None:
            frame.colorspace = tag
        payloads, timestamp = encoder.encode(frame)
        (decoded,) = decoder.decode(JitterFrame(b"".join(depayload(H264, x) for x in payloads), timestamp))
        assert (decoded.colorspace, decoded.color_range) == (expected, 1)


def test_h264_decoder_adds_no_frame_of_delay() -> None:
    """aiortc's H.264 decoder returns each frame from the packet that carried it (no frame threading)."""
    from aiortc.jitterbuffer import JitterFrame

    rtc.apply()
    encoder, decoder = aiortc.codecs.get_encoder(H264), H264Decoder()
    for frame in frames(5):
        payloads, timestamp = encoder.encode(frame)
        data = b"".join(depayload(H264, payload) for payload in payloads)
        assert len(decoder.decode(JitterFrame(data, timestamp))) == 1


# --------------------------------------------------------------------------
# real loopback sessions


class Pattern(VideoStreamTrack):
    """A 320x176 moving gradient."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.zeros((176, 320, 3), np.uint8)
        image[:, :, 1] = (np.arange(320)[None, :] + pts // 3000) % 256
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def candidate_addresses(sdp: str) -> list[str]:
    """The connection addresses of the candidate lines of ``sdp``."""
    from decart_cli.protocol import candidate_address

    return [address for line in sdp.splitlines() if (address := candidate_address(line)) is not None]


def first_video_codec(sdp: str) -> str:
    """The name of the first codec of the first m=video line of ``sdp``."""
    lines = sdp.splitlines()
    media = next(line for line in lines if line.startswith("m=video"))
    pt = media.split()[3]
    rtpmap = next(line for line in lines if line.startswith(f"a=rtpmap:{pt} "))
    return rtpmap.split()[1].split("/")[0]




@pytest.mark.parametrize("codec", ["h264", "vp8"])
def test_loopback_session_negotiates_the_preferred_codec(codec: str, restore_tuning: None) -> None:
    """Our client and server negotiate the preferred codec, frames come back, both hops release on the marker, and only H.264 is offered to the recorder as received."""
    rtc.apply(MediaTuning(codec=codec))

    async def test(server: Server) -> None:
        signaling = Signaling(stream(server))
        await signaling.connect()
        transport = MediaConnection(signaling, loopback=True)
        remote = await transport.start(Pattern())
        for _ in range(15):
            frame = await asyncio.wait_for(remote.recv(), 10)
        assert (frame.width, frame.height) == (320, 176)
        assert first_video_codec(transport.pc.localDescription.sdp).lower() == codec
        assert first_video_codec(transport.pc.remoteDescription.sdp).lower() == codec
        assert set(candidate_addresses(transport.pc.localDescription.sdp)) == {"127.0.0.1"}  # the loopback hook
        assert set(candidate_addresses(transport.pc.remoteDescription.sdp)) == {"127.0.0.1"}
        (session,) = server.sessions
        for pc in (transport.pc, session.peer.pc):
            (receiver,) = [t.receiver for t in pc.getTransceivers() if t.kind == "video"]
            jb = rtc.jitter_buffer_of(receiver)
            assert type(jb).__name__ == "LowLatencyJitterBuffer"
            assert codec in jb.codecs.values()
            assert jb.frames_on_marker >= 10 and jb.frames_on_next_timestamp == 0
        assert transport.received_codec() == codec
        # The recorder takes received frames as they are only when they are H.264 (what the file holds).
        expected = rtc.jitter_buffer_of(transport.pc.getTransceivers()[0].receiver) if codec == "h264" else None
        assert transport.encoded_source() is expected
        await transport.close()
        await signaling.close()

    with_server(test)


def test_a_client_that_offers_vp8_first_gets_vp8_and_edited_frames() -> None:
    """A stock aiortc client (VP8 first, as the official SDK offers) gets a VP8-first answer (its own order: x264 at its default preset cost it 1.7x the CPU) and edited frames."""
    rtc.apply()

    async def test(server: Server) -> None:
        async with websockets.connect(stream(server)) as ws:
            peer = Peer(loopback=True)
            peer.pc.addTransceiver(Pattern(), direction="sendrecv")  # no codec preferences: aiortc's order
            got_track: asyncio.Future = asyncio.get_running_loop().create_future()
            peer.pc.on("track", lambda track: got_track.done() or got_track.set_result(track))
            offer = await peer.offer()
            assert first_video_codec(offer.sdp) == "VP8"
            await ws.send(json.dumps({"type": "offer", "sdp": offer.sdp}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["type"] == "answer":
                    break
            assert first_video_codec(message["sdp"]) == "VP8"
            await peer.set_remote(message["sdp"], "answer")
            remote = await asyncio.wait_for(got_track, 10)
            frame = await asyncio.wait_for(remote.recv(), 10)
            assert frame.width == 320
            await peer.close()

    with_server(test)


# --------------------------------------------------------------------------
# one switch, visible skips


def video_frames_back() -> tuple[int, str, str, object]:
    """Frames our MediaConnection gets back from an in-process server over a loopback session; its local and remote SDP; its encoded source."""
    result: list = []

    async def test(server: Server) -> None:
        signaling = Signaling(stream(server))
        await signaling.connect()
        transport = MediaConnection(signaling, loopback=True)
        remote = await transport.start(Pattern())
        count = 0
        for _ in range(15):
            await asyncio.wait_for(remote.recv(), 10)
            count += 1
        result.extend([count, transport.pc.localDescription.sdp, transport.pc.remoteDescription.sdp, transport.encoded_source()])
        await transport.close()
        await signaling.close()

    with_server(test)
    return tuple(result)  # type: ignore[return-value]


def test_a_missing_target_is_one_warning_and_a_skipped_status(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, restore_tuning: None) -> None:
    """A part whose aiortc target is missing logs one WARNING on decart.rtc (part, what is missing, its cost), however often apply() runs, and status() says skipped."""
    from decart_cli.rtc import registry

    monkeypatch.setattr(registry.STATE, "warned", set())  # "once per process": forget earlier tests' warnings
    caplog.set_level(logging.DEBUG, logger="decart.rtc")
    rtc.unapply()
    with monkeypatch.context() as m:
        m.delattr(aiortc.rtcrtpreceiver, "JitterBuffer")
        for _ in range(3):
            result = rtc.apply(MediaTuning())
        rtc.unapply()
        rtc.apply()
        assert rtc.status() == result
        rtc.unapply()
    assert result["jitter"] == "skipped: aiortc.rtcrtpreceiver has no JitterBuffer class"
    assert "receiver_codecs" not in result and result["h264_encoder"] == "applied"
    assert rtc.skipped_line(result) == "rtc tuning: jitter skipped (aiortc.rtcrtpreceiver has no JitterBuffer class)"
    warnings = [r for r in caplog.records if r.name == "decart.rtc" and r.levelno >= logging.WARNING]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert warnings[0].getMessage() == (
        "rtc tuning: jitter skipped (aiortc.rtcrtpreceiver has no JitterBuffer class): "
        "each received video frame waits one frame interval longer, and a lost packet can hold the video for seconds"
    )


BENCH_WITHOUT_VP8_BITRATES = "import aiortc.codecs.vpx as vpx; del vpx.MAX_BITRATE; from decart_cli.cli import main; main()"
"""`decart` in a process whose aiortc lacks a constant the tuning sets (VP8's: the session negotiates H.264)."""


def test_decart_bench_reports_a_skipped_part(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`decart bench` prints one "rtc tuning: <part> skipped (...)" line and puts status() under rtc_tuning in its JSON."""
    import subprocess
    import sys

    from conftest import REPO, child_env

    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-c", BENCH_WITHOUT_VP8_BITRATES, "bench", "--duration", "1", "--warmup", "0", "--json", str(out)],
        capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    tuning = json.loads(out.read_text())["rtc_tuning"]
    why = "aiortc.codecs.vpx has no integer DEFAULT_BITRATE/MIN_BITRATE/MAX_BITRATE"
    assert tuning["vp8_bitrates"] == f"skipped: {why}"
    assert tuning["enabled"] == "yes" and tuning["jitter"] == tuning["h264_encoder"] == tuning["ice_loopback"] == "applied"
    lines = [line for line in result.stdout.splitlines() if line.startswith("rtc tuning:")]
    assert lines == [f"rtc tuning: vp8_bitrates skipped ({why})"]
    assert result.stderr.count("rtc tuning: vp8_bitrates skipped") == 1  # the warning, once


def test_off_removes_the_loopback_hook_and_loopback_sessions_still_connect(restore_tuning: None) -> None:
    """configure("off") puts aioice's own get_host_addresses back; a loopback session then gathers and keeps what aioice gathers (no filtering) and media flows."""
    rtc.unapply()
    stock = aioice.ice.get_host_addresses
    if not stock(True, False):
        pytest.skip("this machine has no address but loopback: stock aioice gathers nothing")
    rtc.apply(MediaTuning())
    assert aioice.ice.get_host_addresses is not stock and rtc.loopback_supported()
    assert rtc.configure("off") == {"enabled": "no"}
    assert aioice.ice.get_host_addresses is stock and not rtc.loopback_supported()
    assert aiortc.rtcrtpreceiver.JitterBuffer is JitterBuffer and aiortc.codecs.H264Encoder is aiortc.codecs.h264.H264Encoder
    assert rtc.filter_remote_sdp("a=candidate:1 1 udp 1 192.0.2.9 5000 typ host\r\n", loopback=True).count("192.0.2.9") == 1
    assert rtc.accept_remote_candidate("candidate:1 1 udp 1 192.0.2.9 5000 typ host", loopback=True)
    frames, local, remote, encoded = video_frames_back()
    assert frames == 15
    assert any(address != "127.0.0.1" for address in candidate_addresses(local))
    assert any(address != "127.0.0.1" for address in candidate_addresses(remote))  # kept, not filtered
    assert encoded is None  # aiortc's own jitter buffer has no taps
    assert rtc.rtc_configuration(loopback=True).iceServers == []  # still no STUN server


def test_loopback_session_keeps_remote_candidates_on_this_machine_only(restore_tuning: None) -> None:
    """With the hook, a loopback session keeps remote candidates that are loopback or this machine's own addresses (a peer with the tuning off offers those), and drops the rest."""
    rtc.apply()
    own = aioice.ice.get_host_addresses.__wrapped__(True, False)
    if not own:
        pytest.skip("this machine has no address but loopback")
    line = "a=candidate:1 1 udp 2130706431 {} 5000 typ host\r\n"
    sdp = "v=0\r\n" + "".join(line.format(a) for a in ("127.0.0.1", own[0], "203.0.113.7", "peer.local"))
    kept = rtc.filter_remote_sdp(sdp, loopback=True)
    assert candidate_addresses(kept) == ["127.0.0.1", own[0]]
    assert rtc.filter_remote_sdp(sdp, loopback=False) == sdp
    assert [rtc.accept_remote_candidate(line.format(a)[2:], loopback=True) for a in ("127.0.0.1", own[0], "203.0.113.7")] == [True, True, False]
