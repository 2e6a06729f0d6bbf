"""One RTCPeerConnection with the signaling chores both sides share.

Used by the client's transport and by the local server: descriptions in and
out, trickled candidates in both directions (queued until the remote
description is set), and loopback sessions (see :mod:`decart_cli.rtc.ice`).
"""

from __future__ import annotations

import logging

from aiortc import MediaStreamTrack, RTCIceCandidate, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp

from ..errors import ProtocolError
from ..protocol import Candidate
from .encoder import prefer_codecs
from .ice import accept_remote_candidate, filter_remote_sdp, loopback_session, rtc_configuration
from .registry import apply

log = logging.getLogger(__name__)


class Peer:
    """An ``RTCPeerConnection`` plus candidate queueing and loopback handling."""

    def __init__(self, *, loopback: bool, ice_servers: tuple[str, ...] | None = None, max_bundle: bool = False) -> None:
        self.loopback = loopback
        apply()  # once per process; see decart_cli.rtc
        self.pc = RTCPeerConnection(rtc_configuration(loopback=loopback, ice_servers=ice_servers, max_bundle=max_bundle))
        self._pending: list[Candidate] = []
        self._remote_set = False

    def add_video_transceiver(self, track_or_kind: MediaStreamTrack | str, direction: str, *, our_codecs: bool = True) -> RTCRtpTransceiver:
        """Add a video transceiver; with ``our_codecs``, the tuned codec preferences (H.264 first by default).

        An offerer lists its preferred codec first. An answerer passes
        ``our_codecs=False`` and so answers in the offerer's order (aiortc
        keeps the offer's order when a transceiver has no preferences): the
        client says what it encodes and decodes best.
        """
        transceiver = self.pc.addTransceiver(track_or_kind, direction=direction)
        if our_codecs:
            prefer_codecs(transceiver)
        return transceiver

    async def set_local(self, description: RTCSessionDescription) -> RTCSessionDescription:
        """Set the local description (gathering candidates) and return it, candidates included."""
        with loopback_session(self.loopback):
            await self.pc.setLocalDescription(description)
        return self.pc.localDescription

    async def offer(self) -> RTCSessionDescription:
        """Create and set a local offer; return it with its candidates."""
        return await self.set_local(await self.pc.createOffer())

    async def answer(self) -> RTCSessionDescription:
        """Create and set a local answer; return it with its candidates."""
        return await self.set_local(await self.pc.createAnswer())

    async def set_remote(self, sdp: str, kind: str) -> None:
        """Apply the remote ``offer``/``answer``, then the candidates that came before it."""
        description = RTCSessionDescription(sdp=filter_remote_sdp(sdp, loopback=self.loopback), type=kind)
        try:
            await self.pc.setRemoteDescription(description)
        except ValueError as exc:
            raise ProtocolError(f"invalid {kind} SDP: {exc}") from None
        except (AssertionError, IndexError, KeyError):  # aiortc's SDP parser on malformed lines
            raise ProtocolError(f"invalid {kind} SDP: a line aiortc cannot parse") from None
        self._remote_set = True
        pending, self._pending = self._pending, []
        for candidate in pending:
            await self.add_candidate(candidate)

    async def add_candidate(self, candidate: Candidate | None) -> None:
        """Add a trickled remote candidate, or queue it until the remote description is set."""
        if candidate is None:
            return  # end of candidates: aiortc needs no signal for it
        if not self._remote_set:
            self._pending.append(candidate)
            return
        line = candidate.candidate.removeprefix("a=")
        if not accept_remote_candidate(line, loopback=self.loopback):
            log.debug("ignoring a candidate not on this machine in a loopback session")
            return
        try:
            parsed: RTCIceCandidate = candidate_from_sdp(line.removeprefix("candidate:"))
        except (ValueError, IndexError):
            raise ProtocolError("ice-candidate: cannot parse the candidate line") from None
        parsed.sdpMid = candidate.sdpMid
        parsed.sdpMLineIndex = candidate.sdpMLineIndex
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        try:
            await self.pc.addIceCandidate(parsed)
        except (ValueError, KeyError) as exc:
            log.debug("candidate not added: %s", exc)

    def local_candidates(self) -> list[Candidate]:
        """The local candidates gathered so far, as protocol candidates."""
        out: list[Candidate] = []
        seen: set[int] = set()
        for index, transceiver in enumerate(self.pc.getTransceivers()):
            transport = transceiver.receiver.transport
            if transport is None or id(transport) in seen:
                continue
            seen.add(id(transport))
            for candidate in transport.transport.iceGatherer.getLocalCandidates():
                out.append(
                    Candidate(
                        candidate="candidate:" + candidate_to_sdp(candidate),
                        sdpMid=transceiver.mid,
                        sdpMLineIndex=index,
                    )
                )
        return out

    async def close(self) -> None:
        """Close the peer connection (idempotent)."""
        await self.pc.close()
