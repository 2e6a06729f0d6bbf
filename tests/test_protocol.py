"""The protocol module: messages, parsing, URLs, SDP candidates."""

from __future__ import annotations

import json

import pytest

from decart_cli import protocol as p
from decart_cli.errors import BadURLError, ProtocolError

ROUND_TRIP = [
    p.Offer(sdp="v=0\r\n"),
    p.Answer(sdp="v=0\r\n"),
    p.IceCandidate(candidate=p.Candidate("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "0", 0)),
    p.IceCandidate(candidate=None),
    p.Prompt(prompt="make it red", enhance_prompt=False),
    p.SetImage(image_data=None, prompt="x"),
    p.PromptAck(prompt="make it red", success=False, error="nope"),
    p.SetImageAck(success=True),
    p.SessionId(session_id="abc", server_ip="127.0.0.1", server_port=8765),
    p.Ready(),
    p.GenerationStarted(),
    p.Error(error="boom"),
]


@pytest.mark.parametrize("message", ROUND_TRIP, ids=lambda m: m.type)
def test_round_trip(message: p.Message) -> None:
    """Every message type serialises to JSON with its wire type and parses back equal."""
    text = p.serialize(message)
    assert json.loads(text)["type"] == message.type
    assert p.parse(text) == message


def test_prompt_defaults_enhance_to_true() -> None:
    """A prompt without enhance_prompt means enhance (as the SDKs send it)."""
    assert p.parse('{"type":"prompt","prompt":"hi"}') == p.Prompt(prompt="hi", enhance_prompt=True)


def test_unknown_types_are_kept_not_fatal() -> None:
    """Types this version does not know parse to Unknown with their data."""
    message = p.parse('{"type":"viewer_count","count":3}')
    assert isinstance(message, p.Unknown)
    assert message.kind == "viewer_count" and message.data == {"count": 3}
    assert json.loads(p.serialize(message)) == {"type": "viewer_count", "count": 3}


def test_informational_messages_with_odd_fields_stay_harmless() -> None:
    """A known informational message whose fields do not fit (float seconds, no queue_size) is kept as Unknown, not an error."""
    assert p.parse('{"type":"generation_tick","seconds":3}') == p.GenerationTick(seconds=3)
    odd = p.parse('{"type":"generation_tick","seconds":1.5}')
    assert isinstance(odd, p.Unknown) and odd.kind == "generation_tick" and odd.data == {"seconds": 1.5}
    assert isinstance(p.parse('{"type":"queue_position","position":2}'), p.Unknown)
    with pytest.raises(ProtocolError):
        p.parse('{"type":"prompt_ack","success":true}')


def test_browser_style_candidates() -> None:
    """An empty candidate string (browsers' end-of-candidates) and a bare string both parse."""
    assert p.parse('{"type":"ice-candidate","candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}') == p.IceCandidate(None)
    bare = p.parse('{"type":"ice-candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}')
    assert isinstance(bare, p.IceCandidate) and bare.candidate is not None
    assert bare.candidate.candidate.endswith("typ host")


@pytest.mark.parametrize(
    "text, needle",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"prompt": "x"}', "'type'"),
        ('{"type": 5}', "'type'"),
        ('{"type": "prompt"}', "missing field 'prompt'"),
        ('{"type": "prompt", "prompt": 3}', "must be str"),
        ('{"type": "prompt", "prompt": "x", "enhance_prompt": "yes"}', "must be bool"),
        ('{"type": "offer", "sdp": null}', "must be str"),
        ('{"type": "prompt_ack", "prompt": "x", "success": 1}', "must be bool"),
        ('{"type": "ice-candidate", "candidate": 7}', "candidate"),
        ('{"type": "ice-candidate", "candidate": {"candidate": "x", "sdpMLineIndex": "0"}}', "sdpMLineIndex"),
        ('{"type": "session_id", "session_id": "a", "server_port": true}', "must be int"),
        ("[" * 100000, "not valid JSON"),
    ],
)
def test_malformed_messages_raise_protocol_error(text: str, needle: str) -> None:
    """Malformed messages raise ProtocolError with a message that names the problem."""
    with pytest.raises(ProtocolError) as info:
        p.parse(text)
    assert needle in str(info.value)


def test_binary_frames_are_refused() -> None:
    """Binary WebSocket frames are not protocol messages."""
    with pytest.raises(ProtocolError, match="binary"):
        p.parse(b'{"type":"ready"}')


def test_prompt_length_limit() -> None:
    """Prompts are stripped and refused beyond the limit."""
    assert p.check_prompt("  hi \n") == "hi"
    with pytest.raises(ProtocolError, match="limit is 1000"):
        p.check_prompt("x" * 1001)


@pytest.mark.parametrize(
    "base, expected",
    [
        ("wss://api3.decart.ai", "wss://api3.decart.ai/v1/stream?api_key=K&model=M"),
        ("https://api3.decart.ai/", "wss://api3.decart.ai/v1/stream?api_key=K&model=M"),
        ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/v1/stream?api_key=K&model=M"),
        ("ws://127.0.0.1:8765/v1/stream", "ws://127.0.0.1:8765/v1/stream?api_key=K&model=M"),
        ("ws://h/v1/stream?api_key=OLD&model=X", "ws://h/v1/stream?api_key=K&model=M"),
    ],
)
def test_stream_url(base: str, expected: str) -> None:
    """Base URLs map http(s) to ws(s), get the model path once, and carry key and model."""
    assert p.stream_url(base, api_key="K", model="M") == expected


def test_stream_url_quotes_key_and_user_agent() -> None:
    """Keys and user agents are URL-encoded."""
    url = p.stream_url("ws://h", api_key="a&b c", model="m", user_agent="decart-cli/1 lang/py")
    assert "api_key=a%26b%20c" in url and "user_agent=decart-cli%2F1%20lang%2Fpy" in url


@pytest.mark.parametrize("base", ["ftp://x", "127.0.0.1:8765", "ws://", "ws://h:notaport", ""])
def test_bad_urls(base: str) -> None:
    """Unusable base URLs raise BadURLError that never shows the key."""
    with pytest.raises(BadURLError) as info:
        p.stream_url(base + "?api_key=SECRET", api_key="SECRET", model="m")
    assert "SECRET" not in info.value.user_message()


def test_redact_url() -> None:
    """The API key is hidden wherever it appears in a URL."""
    url = p.stream_url("wss://x", api_key="sk-SECRET", model="m")
    assert "sk-SECRET" not in p.redact_url(url)
    assert p.redact_url("ws://h/v1/stream?model=m&api_key=abc&x=1") == "ws://h/v1/stream?model=m&api_key=***&x=1"
    assert "abc" not in p.redact_url("GET /v1/stream?API_KEY=abc HTTP/1.1")
    assert "abc" not in p.redact_url("GET /v1/stream?model=m&api%5Fkey=abc HTTP/1.1")
    assert "abc" not in p.redact_url("ws://h/?api-key=abc")


@pytest.mark.parametrize(
    "host, loopback",
    [("127.0.0.1", True), ("127.5.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("192.168.1.2", False), ("api3.decart.ai", False), ("", False)],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    """Loopback detection covers 127/8, ::1 and localhost only."""
    assert p.is_loopback_host(host) is loopback


def test_keep_loopback_candidates() -> None:
    """Only loopback candidate lines survive in a loopback session's SDP."""
    sdp = (
        "v=0\r\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host\r\n"
        "a=candidate:3 1 udp 2130706431 abcd.local 50002 typ host\r\n"
        "a=end-of-candidates\r\n"
    )
    kept = p.keep_candidates(sdp)
    assert "127.0.0.1 50001" in kept
    assert "192.0.2.2" not in kept and "abcd.local" not in kept
    assert kept.startswith("v=0\r\n") and kept.endswith("a=end-of-candidates\r\n")


@pytest.mark.parametrize(
    ("text", "kind", "says", "hint"),
    [
        ("invalid api key", "AuthError", "rejected the API key", "--api-key"),
        ("Insufficient credits: please top up", "CreditsError", "no credits left", "add credits"),
        ("server is full (4 sessions); try again later", "ServerError", "at capacity", "try again"),
        ("The service is at capacity", "ServerError", "at capacity", "try again"),
        ("unknown model 'lucy-9'; known models: a, b", "ServerError", "does not serve this model", "decart models"),
        ("model lucy-2.1 is not available in your region", "ServerError", "does not serve this model", "-m"),
        ("something else broke", "ServerError", "server error: something else broke", None),
    ],
)
def test_server_error_texts_say_what_to_do(text: str, kind: str, says: str, hint: str | None) -> None:
    """A server's error text becomes the error that says what it means (key, credits, capacity, model) and what to do; credits are as final as a bad key."""
    from decart_cli.errors import AuthError
    from decart_cli.protocol.server_errors import error_from_server

    error = error_from_server(text)
    assert type(error).__name__ == kind and says in error.message and text in error.message
    from decart_cli.cli.fixes import FIXES

    worded = error.user_message(FIXES)
    assert (hint is None and worded == error.message) or (hint is not None and hint in worded.removeprefix(error.message))
    assert isinstance(error, AuthError) == (kind in ("AuthError", "CreditsError"))
