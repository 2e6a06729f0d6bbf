"""Today's protocol on the control socket: queue, room credentials, billing ticks.

A :class:`LiveKitSession` waits for ``livekit_join``, queues for a slot
(sending ``queue_position`` while it waits; a full queue is refused "at
capacity"), builds its engine (prompts before that are checked and kept,
see :class:`~.editor.Editor`), opens the session's
:class:`~.room.Room` and sends ``livekit_room_info`` with the room's URL
(this server) and token. Prompts and images work as in every session.
Once edited frames flow it sends ``generation_started``, then
``generation_tick`` for every second in which edited video was sent, and
``generation_ended`` when the client leaves the room or the server ends the
session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .. import protocol as p
from ..engine import Engine
from ..errors import ProtocolError
from ..models import Model
from .room import Room, RoomHub
from .session import ServerSession
from .slots import QueueFull, Slots
from .sockets import Socket

log = logging.getLogger("decart.server")

TICK_SECONDS = 1.0


class LiveKitSession(ServerSession):
    """A session of today's protocol: media through a room of :class:`RoomHub`."""

    def __init__(
        self,
        ws: Socket,
        model: Model,
        engine: Callable[[], Engine],
        *,
        slots: Slots,
        rooms: RoomHub,
        room_url: str,
        **options,  # type: ignore[no-untyped-def]
    ) -> None:
        super().__init__(ws, model, engine, **options)
        self.slots = slots
        self.rooms = rooms
        self.room_url = room_url
        self.room: Room | None = None
        self.holds_slot = False
        self.billed_seconds = 0
        self._joining: asyncio.Task[None] | None = None
        self._ticking: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.idle_timeout > 0:
            self.spawn(self._close_if_idle(self.idle_timeout))

    async def _close_if_idle(self, timeout: float) -> None:
        """Close a socket that never asks for a room, or never joins the room it was given."""
        await asyncio.sleep(timeout)
        if self._joining is None:
            await self._give_up(f"no livekit_join within {timeout:g} s; closing the session")
            return
        await self._joining  # a queued client may wait as long as the queue takes
        if self.room is None:
            return
        try:
            await asyncio.wait_for(self.room.joined.wait(), timeout)
        except asyncio.TimeoutError:
            await self._give_up(f"the client did not join its room within {timeout:g} s; closing the session")

    async def _give_up(self, why: str) -> None:
        log.info("session %s: %s", self.id, why)
        await self.send(p.Error(error=why))
        await self.ws.close(1008, "idle")

    async def handle_media(self, message: p.Message) -> None:
        if isinstance(message, p.LiveKitJoin):
            if self._joining is not None:
                raise ProtocolError("livekit_join was already received; this session has (or waits for) a room")
            self._joining = self.spawn(self._join())
        elif isinstance(message, (p.Offer, p.IceCandidate)):
            raise ProtocolError(f"model {self.model.name} speaks today's protocol: send livekit_join and join the LiveKit room it returns (offer / ice-candidate are for legacy models)")
        else:
            raise ProtocolError(f"{message.type!r} is a server message; clients send livekit_join, prompt or set_image")

    async def _join(self) -> None:
        def queued(position: int, size: int) -> None:
            log.info("session %s: queued %d/%d", self.id, position, size)
            self.spawn(self.send(p.QueuePosition(position=position, queue_size=size)))

        try:
            await self.slots.take(queued)
        except QueueFull as exc:
            log.warning("session %s: refused: server at capacity (%s)", self.id, exc)
            await self.send(p.Error(error=f"Server at capacity: {exc}; try again later"))
            await self.ws.close(1013, "server at capacity")
            return
        self.holds_slot = True
        await self.editor.start()  # the engine: only for a session that edits
        identity = f"client-{self.id}"
        self.room = Room(
            f"decart-{self.id}",
            session_id=self.id,
            client_identity=identity,
            editor=self.editor,
            size=self.model.size,
            on_first_frame=self.generation_started,
            on_left=self._left_room,
            viewers=self.viewers,
            on_refused=self._refused_media,
        )
        try:
            token = self.rooms.open(self.room)
        except Exception as exc:  # e.g. livekit-api missing: say so rather than leave the client waiting
            log.warning("session %s: could not open a room: %s", self.id, exc.__class__.__name__)
            log.debug("session %s: failure detail", self.id, exc_info=True)
            await self.send(p.Error(error=f"the server could not open a room ({exc.__class__.__name__})"))
            return
        log.info("session %s: room %s open", self.id, self.room.name)
        await self.send(p.LiveKitRoomInfo(livekit_url=self.room_url, token=token, room_name=self.room.name, session_id=self.id))

    async def _refused_media(self, why: str) -> None:
        """The room refused what the client publishes: say why on the control channel, then end the session."""
        log.info("session %s: %s; closing the session", self.id, why)
        await self.send(p.Error(error=why))
        await self.ws.close(1008, "media refused")

    def generation_started(self) -> None:
        if self.generating_since is None:  # end_generation() cancelled any earlier ticker
            self._ticking = self.spawn(self._tick())
        super().generation_started()

    async def _tick(self) -> None:
        """One ``generation_tick`` for every second in which edited frames were sent."""
        assert self.room is not None
        sent = self.room.frames_sent()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = self.room.frames_sent()
            if now > sent or (now and now < sent):  # a new connection restarts its count
                self.billed_seconds += 1
                await self.send(p.GenerationTick(seconds=self.billed_seconds))
            sent = now

    def _left_room(self) -> None:
        """The client's room connection ended: generation stops until it joins again."""
        self.end_generation("client_left")

    def end_generation(self, reason: str) -> asyncio.Task[None] | None:
        """Stop billing and send ``generation_ended`` (if generating); the send's task, to await when closing."""
        if self.generating_since is None:
            return None
        self.generating_since = None
        if self._ticking is not None:
            self._ticking.cancel()
        log.info("session %s: generation ended after %d billed seconds (%s)", self.id, self.billed_seconds, reason.replace("_", " "))
        return self.spawn(self.send(p.GenerationEnded(seconds=self.billed_seconds, reason=reason)))

    async def close(self) -> None:
        """End the room (the client is told to leave), free the slot, then the engine."""
        if self.room is not None:
            self.rooms.discard(self.room)
            await self.room.close()
        if self.holds_slot:
            self.holds_slot = False
            self.slots.release()
        await super().close()
