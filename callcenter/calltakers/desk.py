"""The call-takers' desks: their state from the queue's events, their sessions at the queue, and
the screen-pop that puts a caller's ticket on their console as the call rings and is answered.

Plain logic over two ports: the queue (QueueAdd/QueueRemove/QueuePause over AMI in production)
and the tickets. Everything it learns goes out on the bus; nothing here knows about sockets.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ..config import Config, Phone
from ..live.bus import Bus
from ..live.facts import (
    CallAnswered,
    CallCompleted,
    CallEnded,
    CallEvent,
    CallNotPickedUp,
    CallOffered,
    MemberChanged,
    MembersResynced,
)
from ..live.messages import DeskChanged, ScreenPop
from ..refused import Refused, Why
from ..tickets.calls import Calls
from ..tickets.models import DeskEvent, now
from ..tickets.repository import Tickets
from ..tickets.views import ticket_detail, ticket_summary
from .desk_log import DeskLog
from .protocols import Protocols
from .state import Desk, Desks

log = logging.getLogger(__name__)


class QueuePort(Protocol):
    async def join_queue(
        self, queue: str, interface: str, name: str, paused: bool, reason: str
    ) -> None: ...

    async def leave_queue(self, queue: str, interface: str) -> None: ...

    async def pause(self, queue: str, interface: str, paused: bool, reason: str) -> None: ...


class Wanted(StrEnum):
    """What a call-taker (or their supervisor) asks for at the console."""

    AVAILABLE = "available"
    PAUSED = "paused"
    LOGGED_OUT = "logged-out"


class DeskError(Refused):
    """A desk's state cannot change: no such desk, a bad reason, or Asterisk refused."""


class DeskService:
    def __init__(
        self,
        config: Config,
        calls: Calls,
        tickets: Tickets,
        desk_log: DeskLog,
        bus: Bus,
        queue: QueuePort,
        protocols: Protocols,
    ):
        self._config = config
        self._calls = calls
        self._tickets = tickets
        self._desk_log = desk_log
        self._bus = bus
        self._queue = queue
        self._protocols = protocols
        self.desks = Desks(config.calltakers, now())
        self._wrapup_timer: asyncio.Task[None] | None = None

    # ---- what Asterisk tells us ------------------------------------------------------------

    async def handle(self, event: CallEvent) -> None:
        """Apply a queue event (its ticket side is already recorded: see the fact table)."""
        changed: list[Desk] = []
        match event:
            case MemberChanged(member=member, logged_in=logged_in, at=at):
                changed = self.desks.member_changed(member, logged_in, at)
            case MembersResynced(members=members, at=at):
                changed = self.desks.resynced(list(members), at)
            case CallOffered(call=call, interface=interface, at=at):
                changed = self.desks.call_at(interface, call.unique_id)
                await self._screen_pop(interface, call.unique_id, "ringing", at)
            case CallAnswered(call=call, calltaker=interface, at=at):
                changed = self.desks.call_at(interface, call.unique_id)
                await self._screen_pop(interface, call.unique_id, "answered", at)
            case CallNotPickedUp(call=call, interface=interface):
                changed = self.desks.call_left(interface, call.unique_id)
            case CallCompleted(call=call, interface=interface):
                # Held, or in its conference: the queue is done with the call, the call-taker
                # is not (it stays their call until the caller hangs up).
                moved_on = await self._calls.call(call.unique_id)
                if moved_on is None or not (moved_on.held or moved_on.conference):
                    changed = self.desks.call_left(interface, call.unique_id)
            case CallEnded(call=call):
                changed = self.desks.call_ended(call.unique_id)
        self._publish(changed)
        self._schedule_wrapup_end()

    def _publish(self, desks: list[Desk]) -> None:
        for desk in desks:
            log.info("desk %s (%s): %s", desk.extension, desk.username, desk.state.value)
            self._bus.publish(DeskChanged(desk.extension, desk.username, desk.as_json()))

    def _schedule_wrapup_end(self) -> None:
        """No event marks the end of a wrap-up: wake up then and show the desk available."""
        if self._wrapup_timer is not None and not self._wrapup_timer.done():
            self._wrapup_timer.cancel()
        end = self.desks.next_wrapup_end()
        if end is not None:
            self._wrapup_timer = asyncio.create_task(self._end_wrapups_at(end))

    async def _end_wrapups_at(self, end: datetime) -> None:
        await asyncio.sleep(max(0.0, (end - now()).total_seconds()) + 0.05)
        self._publish(self.desks.tick(now()))
        self._schedule_wrapup_end()

    async def _screen_pop(self, interface: str, unique_id: str, stage: str, at: datetime) -> None:
        phone = self._config.calltaker_at(interface)
        if phone is None or not phone.username:
            return  # a phone no console drives: nobody to show it to
        pop = await self.ticket_for_console(unique_id)
        if pop is None:
            log.warning("call %s rings at %s without a ticket", unique_id, interface)
            return
        self._bus.publish(ScreenPop(phone.username, stage, unique_id, pop, at=at))

    async def ticket_for_console(self, unique_id: str) -> dict[str, Any] | None:
        """The ticket as the console shows it: with the caller's earlier tickets and the
        protocol cards for its category."""
        call = await self._calls.call(unique_id)
        if call is None:
            return None
        ticket = await self._tickets.get(call.ticket_id)
        if ticket is None:
            return None
        history = await self._tickets.history(ticket.caller_number, before=ticket.id)
        pop = ticket_detail(ticket)
        pop["unique_id"] = unique_id
        pop["history"] = [ticket_summary(t) for t in history]
        pop["protocol"] = [c.as_json() for c in self._protocols.for_ticket(ticket.category)]
        return pop

    # ---- what call-takers ask for ----------------------------------------------------------

    def desk_of(self, extension: str) -> tuple[Phone, Desk]:
        phone = next((p for p in self._config.calltakers if p.extension == extension), None)
        desk = self.desks.of_extension(extension)
        if phone is None or desk is None:
            raise DeskError(f"no call-taker desk {extension[:16]!r}", Why.NOT_FOUND)
        return phone, desk

    async def set_state(self, extension: str, wanted: Wanted, reason: str, actor: str) -> Desk:
        """Join, pause in, or leave the queue. The desk's state follows from Asterisk's events
        (the answer may still show the old state for a moment)."""
        phone, desk = self.desk_of(extension)
        queue, member = self._config.queue.name, desk.member
        if wanted == Wanted.PAUSED and reason not in self._config.queue.pause_reasons:
            reasons = ", ".join(self._config.queue.pause_reasons)
            raise DeskError(f"reason must be one of {reasons}", Why.BAD_REQUEST)
        try:
            if wanted == Wanted.LOGGED_OUT:
                if member is not None:
                    await self._queue.leave_queue(queue, phone.interface)
                kind = "logout"
            elif member is None:
                paused = wanted == Wanted.PAUSED
                await self._queue.join_queue(queue, phone.interface, phone.name, paused, reason)
                kind = "login-paused" if paused else "login"
            else:
                paused = wanted == Wanted.PAUSED
                await self._queue.pause(queue, phone.interface, paused, reason if paused else "")
                kind = "pause" if paused else "unpause"
        except DeskError:
            raise
        except Refused as e:
            # Asterisk said no (502), or there is no Asterisk to ask (503): the telephony knows.
            log.warning("desk %s: %s refused: %s", extension, wanted, e)
            said = f"Asterisk refused: {e}" if e.why == Why.TELEPHONY else str(e)
            raise DeskError(said, e.why) from None
        except Exception as e:
            log.exception("desk %s: %s failed", extension, wanted)
            raise DeskError(f"Asterisk refused: {e}", Why.TELEPHONY) from None
        await self._desk_log.record(
            extension, actor, kind, reason if wanted == Wanted.PAUSED else None
        )
        log.info("desk %s: %s by %s %s", extension, kind, actor, reason)
        return self.desks.of_extension(extension) or desk

    async def events(self, extension: str) -> list[DeskEvent]:
        """The desk's sessions at the queue, newest first (also of a desk no longer configured:
        the log is its history)."""
        return await self._desk_log.of(extension)
