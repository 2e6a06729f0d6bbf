"""Property-based fuzzing: random frames at the local server's session loop, random text at the client's parser."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from aiortc import RTCConfiguration, RTCPeerConnection
from livekit.protocol import rtc as lk
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from decart_cli import protocol as p
from decart_cli.config import ServeConfig
from decart_cli.errors import DecartError, ProtocolError
from decart_cli.server import Server
from decart_cli.client.signaling import Signaling

pytestmark = pytest.mark.usefixtures("no_tracebacks")  # bad input is answered, never a traceback in the server's log

SENTINEL = "invert the colors"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_values = st.one_of(json_values, st.text(max_size=40), st.sampled_from(["", "v=0\r\n", "v=0\r\nm=video x\r\n", "v=0\r\nm=audio 9 RTP/AVP 0\r\n", "candidate:1 1 udp 1 127.0.0.1 9 typ host", SENTINEL]))
types = st.sampled_from([*p.MESSAGE_TYPES, "", "Prompt", "ice_candidate", "x" * 30]) | st.text(max_size=10)
message_dicts = st.fixed_dictionaries(
    {"type": types},
    optional={
        name: field_values
        for name in ("prompt", "enhance_prompt", "sdp", "candidate", "image_data", "error", "success", "session_id", "server_port")
    },
)
candidates = st.fixed_dictionaries({"type": st.just("ice-candidate"), "candidate": st.one_of(field_values, st.fixed_dictionaries({"candidate": field_values}, optional={"sdpMid": field_values, "sdpMLineIndex": field_values}))})
SDP_LINES = [
    "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "c=IN IP4 0.0.0.0",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video x", "m=audio 9 RTP/AVP 0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "a=rtpmap:96 H264/90000", "a=rtpmap:96 VP8", "a=ice-ufrag:abcd", "a=ice-pwd:" + "p" * 22,
    "a=fingerprint:sha-256 00:11", "a=setup:actpass", "a=mid:0", "a=sendrecv", "a=group:BUNDLE 0 1",
    "a=candidate:1 1 udp 1 127.0.0.1 9 typ host", "a=ssrc:1 cname:x",
]  # fmt: skip
sdps = st.lists(st.sampled_from(SDP_LINES) | st.text(max_size=20), max_size=14).map(lambda lines: "\r\n".join(lines) + "\r\n")
offers = st.fixed_dictionaries({"type": st.just("offer"), "sdp": sdps})
text_frames = st.one_of(
    message_dicts.map(json.dumps),
    offers.map(json.dumps),
    candidates.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=60),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"type":"prompt","prompt":' + "[" * n),
)
frames = st.one_of(text_frames, st.binary(max_size=60))


class _Failures(logging.Handler):
    """Collects errors websockets logs when a connection handler raises."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def live_server() -> Iterator[Server]:
    """An in-process server on a free port, run by its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    server = Server(ServeConfig(host="127.0.0.1", port=0, max_sessions=64, prompt_rate=0))
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    failures = _Failures()
    logging.getLogger("websockets.server").addHandler(failures)
    room_failures = _Failures()
    room_failures.setLevel(logging.WARNING)
    logging.getLogger("decart.server.room").addHandler(room_failures)
    server.room_failures = room_failures.records  # type: ignore[attr-defined]
    server.failures = failures.records  # type: ignore[attr-defined]
    thread = threading.Thread(target=run, name="fuzz-server", daemon=True)
    thread.start()
    assert started.wait(30), "server did not start"
    try:
        yield server
    finally:
        logging.getLogger("websockets.server").removeHandler(failures)
        logging.getLogger("decart.server.room").removeHandler(room_failures)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def prompt_is_acked(ws, text: str = SENTINEL) -> dict:  # type: ignore[no-untyped-def]
    """Send a valid prompt; return its ack (everything before it skipped)."""
    ws.send(json.dumps({"type": "prompt", "prompt": text}))
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message.get("type") == "prompt_ack" and message.get("prompt") == text:
            return message


@FUZZ
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_random_frames_never_break_a_session(live_server: Server, batch: list[str | bytes]) -> None:
    """Any sequence of random frames leaves the session answering: a valid prompt sent after them is acked with success."""
    url = p.stream_url(live_server.url, api_key="k", model="lucy_v2v_720p_rt")
    with connect(url, max_size=None, close_timeout=2) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session_id"
        for frame in batch:
            ws.send(frame)
        ack = prompt_is_acked(ws)
        assert ack["success"] is True, ack


today_frames = st.one_of(frames, st.just('{"type":"livekit_join"}'), st.just('{"type":"set_image","image_data":null}'))


@FUZZ
@given(batch=st.lists(today_frames, min_size=1, max_size=8))
def test_random_frames_never_break_a_today_session(live_server: Server, batch: list[str | bytes]) -> None:
    """Today's control channel: after any random frames (joins included) a valid prompt is still acked with success."""
    url = p.stream_url(live_server.url, api_key="k", model="lucy-2.6")
    with connect(url, max_size=None, close_timeout=2) as ws:
        for frame in batch:
            ws.send(frame)
        ack = prompt_is_acked(ws)
        assert ack["success"] is True, ack


candidate_inits = st.one_of(
    st.text(max_size=40),
    st.fixed_dictionaries({}, optional={"candidate": field_values, "sdpMid": field_values, "sdpMLineIndex": field_values}).map(json.dumps),
)
signal_requests = st.one_of(
    st.builds(lambda c, t: lk.SignalRequest(trickle=lk.TrickleRequest(candidateInit=c, target=t)), candidate_inits, st.integers(0, 3)),
    st.builds(lambda sdp, i: lk.SignalRequest(offer=lk.SessionDescription(type="offer", sdp=sdp, id=i)), sdps, st.integers(0, 2**32 - 1)),
    st.builds(lambda sdp: lk.SignalRequest(answer=lk.SessionDescription(type="answer", sdp=sdp)), sdps),
    st.builds(
        lambda cid, kind, w, h: lk.SignalRequest(add_track=lk.AddTrackRequest(cid=cid, type=kind, width=w, height=h)),
        st.text(max_size=12), st.integers(0, 5), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    ),
    st.builds(lambda t: lk.SignalRequest(ping_req=lk.Ping(timestamp=t)), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda t: lk.SignalRequest(ping=t), st.integers(-(2**63), 2**63 - 1)),
    st.just(lk.SignalRequest(subscription=lk.UpdateSubscription(track_sids=["TR_x"], subscribe=False))),
).map(lambda request: request.SerializeToString())
room_frames = st.one_of(signal_requests, st.binary(max_size=80), st.text(max_size=30))


def publisher_offer() -> str:
    """An offer shaped like a LiveKit client's first one (recvonly video, a data channel), made by aiortc without gathering."""

    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", direction="recvonly")
        pc.createDataChannel("_reliable")
        offer = await pc.createOffer()
        await pc.close()
        return offer.sdp

    return asyncio.run(make())


def join_value(sdp: str) -> str:
    request = lk.JoinRequest(publisher_offer=lk.SessionDescription(type="offer", sdp=sdp))
    wrapper = lk.WrappedJoinRequest(join_request=request.SerializeToString())
    return base64.urlsafe_b64encode(wrapper.SerializeToString()).decode()


@settings(FUZZ, max_examples=40)
@given(batch=st.lists(room_frames, min_size=1, max_size=8))
def test_random_signaling_never_breaks_the_room_endpoint(live_server: Server, batch: list[bytes | str]) -> None:
    """The room endpoint: after random protobuf and junk on a joined connection, the session still acks prompts and its room takes a new connection."""
    offer = publisher_offer()
    url = p.stream_url(live_server.url, api_key="k", model="lucy-2.6")
    with connect(url, max_size=None, close_timeout=2) as ws:
        ws.send('{"type":"livekit_join"}')
        while (info := json.loads(ws.recv(timeout=10)))["type"] != "livekit_room_info":
            pass
        headers = {"Authorization": f"Bearer {info['token']}"}
        room_url = f"{live_server.url}/rtc/v1?join_request={join_value(offer)}"
        with connect(room_url, additional_headers=headers, close_timeout=2) as room:
            kinds = []
            for _ in range(2):
                response = lk.SignalResponse()
                response.ParseFromString(room.recv(timeout=10))
                kinds.append(response.WhichOneof("message"))
            assert kinds == ["join", "answer"], kinds
            try:
                for frame in batch:
                    room.send(frame)
            except ConnectionClosed:
                pass
        with connect(room_url, additional_headers=headers, close_timeout=2) as again:
            response = lk.SignalResponse()
            response.ParseFromString(again.recv(timeout=10))
            assert response.WhichOneof("message") == "join"
        assert prompt_is_acked(ws)["success"] is True


def test_server_survives_the_fuzzing_and_releases_every_session(live_server: Server) -> None:
    """After the fuzzing above, no handler ever raised, every session is released and a new client is served."""
    deadline = time.monotonic() + 10
    while live_server.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live_server.sessions
    assert [r.getMessage() for r in live_server.failures] == []  # type: ignore[attr-defined]
    assert [r.getMessage() for r in live_server.room_failures] == []  # type: ignore[attr-defined]
    assert not live_server.rooms.rooms and live_server.slots.in_use == 0
    with connect(p.stream_url(live_server.url, api_key="k", model="mirage_v2")) as ws:
        assert prompt_is_acked(ws)["success"] is True


@settings(max_examples=400, deadline=None, database=None)
@given(raw=st.one_of(frames, st.text()))
def test_parse_returns_a_message_or_raises_protocol_error(raw: str | bytes) -> None:
    """The client's parser turns any frame into a message or a ProtocolError, nothing else."""
    try:
        message = p.parse(raw)
    except ProtocolError:
        return
    assert isinstance(message, p.Message)
    p.serialize(message)  # whatever parses can be written back


@settings(max_examples=200, deadline=None, database=None)
@given(batch=st.lists(st.one_of(message_dicts.map(json.dumps), text_frames), max_size=10))
def test_client_dispatch_never_raises(batch: list[str]) -> None:
    """The client's reader (parse, then Signaling._dispatch) only ever returns None or a DecartError, with waiters pending."""
    loop = asyncio.new_event_loop()
    try:
        seen: list[p.Message] = []
        signaling = Signaling("ws://127.0.0.1:9/v1/stream?api_key=k&model=m", on_message=seen.append)
        signaling._answer = loop.create_future()
        for text in (SENTINEL, "", "x"):
            signaling._acks.setdefault(text, []).append(loop.create_future())
        for raw in batch:
            try:
                message = p.parse(raw)
            except ProtocolError:
                continue
            result = signaling._dispatch(message)
            assert result is None or isinstance(result, DecartError)
    finally:
        loop.close()
