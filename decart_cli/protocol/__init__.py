"""The wire formats of both protocol generations, one module each. No I/O.

Shared by the client and the local server. See ``shared/PROTOCOL.md``.

* :mod:`.messages`: the control channel's messages (legacy: ``offer``,
  ``answer``, ``ice-candidate``, ``session_id``; today's: ``livekit_join``,
  ``livekit_room_info``, ``queue_position``, ``generation_tick``; both:
  prompts, images, acks, errors), their parsing and serialisation;
* :mod:`.urls`: the servers' URLs (the stream, a legacy viewer's
  ``/subscribe``, today's ``/watch-stream``), their redaction, host checks;
* :mod:`.sdp`: SDP text helpers (the candidate lines);
* :mod:`.server_errors`: what a server's error text means, as our errors;
* :mod:`.watch_token`: the subscribe tokens of both generations;
* :mod:`.room_signal`: LiveKit's signaling (today's room endpoint):
  protobuf join requests and responses, SDP answers, codecs.

Every input error is a :class:`~decart_cli.errors.ProtocolError` (a server
URL that cannot be used, a :class:`~decart_cli.errors.BadURLError`).
The public names of ``messages``, ``urls`` and ``sdp`` are importable from
here; the other modules are imported by name.
"""

from __future__ import annotations

from .messages import (
    MAX_PROMPT_LENGTH,
    MESSAGE_TYPES,
    Answer,
    Candidate,
    Error,
    GenerationEnded,
    GenerationStarted,
    GenerationTick,
    IceCandidate,
    LiveKitJoin,
    LiveKitRoomInfo,
    Message,
    Offer,
    Prompt,
    PromptAck,
    QueuePosition,
    Ready,
    SessionId,
    SetImage,
    SetImageAck,
    Unknown,
    check_prompt,
    decode,
    from_dict,
    parse,
    serialize,
)
from .sdp import candidate_address, keep_candidates
from .urls import display_url, is_loopback_host, redact_url, stream_url, subscribe_url, url_host, watch_stream_url

__all__ = [
    "MAX_PROMPT_LENGTH",
    "MESSAGE_TYPES",
    "Answer",
    "Candidate",
    "Error",
    "GenerationEnded",
    "GenerationStarted",
    "GenerationTick",
    "IceCandidate",
    "LiveKitJoin",
    "LiveKitRoomInfo",
    "Message",
    "Offer",
    "Prompt",
    "PromptAck",
    "QueuePosition",
    "Ready",
    "SessionId",
    "SetImage",
    "SetImageAck",
    "Unknown",
    "candidate_address",
    "check_prompt",
    "decode",
    "display_url",
    "from_dict",
    "is_loopback_host",
    "keep_candidates",
    "parse",
    "redact_url",
    "serialize",
    "stream_url",
    "subscribe_url",
    "url_host",
    "watch_stream_url",
]
