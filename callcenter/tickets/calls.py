"""The callers' calls and their tickets, as telephony reports them: the repository the telephony
facts, the IVR and live speech write through. What each fact does to a ticket is decided in
lifecycle.py; this module only stores it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..live.facts import CallEnded, CallRef, CallSeen, ChannelsAlive
from ..telephony import dialplan
from . import lifecycle
from .caller_id import CallerId, completed, sanitise
from .db import Database, announce_change, call_row, ticket_of_call
from .models import Call, Ticket, TicketEvent, now

log = logging.getLogger(__name__)

# How old an open call must be before a channel list without it closes it (see calls_gone).
CHANNEL_GRACE = timedelta(seconds=10)


class Calls:
    def __init__(self, db: Database):
        self._db = db

    async def open_ticket(
        self, call: CallRef, *, source: str, at: datetime | None = None
    ) -> Ticket:
        """The ticket of this call, opening it if this is the first we hear of the call.

        Idempotent on the call's unique id, so the IVR, an AMI event and a CDR line may race.
        """
        async with self._db.session() as db:
            ticket = await ticket_of_call(db, call.unique_id)
            if ticket is not None:
                await self._learn_caller_id(db, ticket, call, source)
                return ticket
            caller = sanitise(call.caller_number, call.caller_name)
            arrived = at or now()
            ticket = Ticket(
                caller_number=caller.number,
                caller_name=caller.name,
                status=lifecycle.Status.NEW,
                # What the dialplan queues every caller with, until they press a key.
                priority=int(dialplan.JOIN_PRIORITY),
                source=source,
                arrived_at=arrived,
                flags=[],
            )
            db.add(ticket)
            db.add(
                Call(
                    unique_id=call.unique_id[:64],
                    linked_id=call.linked_id[:64] or None,
                    channel=call.channel[:256] or None,
                    ticket=ticket,
                    caller_number=caller.number,
                    started_at=arrived,
                )
            )
            opened = {"unique_id": call.unique_id, "channel": call.channel}
            db.add(TicketEvent(ticket=ticket, at=arrived, actor=source, kind="opened", data=opened))
            if caller.raw is not None:
                db.add(
                    TicketEvent(
                        ticket=ticket,
                        at=arrived,
                        actor="system",
                        kind="caller-id-cleaned",
                        data={"received": caller.raw},
                    )
                )
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                existing = await ticket_of_call(db, call.unique_id)
                if existing is None:
                    raise
                return existing
            log.info("call %s: ticket %d opened (%s)", call.unique_id, ticket.id, source)
            return ticket

    async def step(self, fact: lifecycle.StepFact) -> None:
        """Record a call fact's step on its ticket (lifecycle.step_of), opening the ticket if
        the IVR could not."""
        # A hangup read from the call records knows when the call started: a reconciled
        # ticket gets its real arrival time.
        started_at = fact.started_at if isinstance(fact, CallEnded) else None
        await self._step(fact.call, fact.at, lifecycle.step_of(fact), started_at=started_at)

    async def arrived(self, call: CallRef, at: datetime) -> None:
        # Opened off the caller's path: the welcome plays while the database writes.
        await self.open_ticket(call, source="asterisk", at=at)

    async def seen(self, fact: CallSeen) -> None:
        """A call found alive by a resync: its ticket exists, and it is queued if it waits."""
        await self.open_ticket(fact.call, source="reconciled", at=fact.started_at)
        if fact.in_queue:
            await self._step(fact.call, fact.at, lifecycle.QUEUED_AT_RESYNC)

    async def _step(
        self,
        call: CallRef,
        at: datetime,
        step: lifecycle.Step,
        *,
        started_at: datetime | None = None,
    ) -> None:
        ticket = await self.open_ticket(call, source="reconciled", at=started_at)
        async with self._db.session() as db:
            ticket = await db.get_one(Ticket, ticket.id)
            row = await call_row(db, call.unique_id)
            if row is None:  # opened just above; a concurrent purge is the only way
                return
            new_fact = lifecycle.record_on_call(row, step.kind, at, step.data)
            new_status = step.rule(lifecycle.Status(ticket.status))
            if new_status is None and not new_fact:
                return  # stale or repeated event: nothing moves backwards
            if new_status is not None:
                ticket.status = new_status
            if step.stamp and getattr(ticket, step.stamp) is None:
                setattr(ticket, step.stamp, at)
            ticket.flags = lifecycle.flags_after_step(step, ticket.flags)
            data = {**step.data, "unique_id": call.unique_id}
            db.add(TicketEvent(ticket=ticket, at=at, actor="asterisk", kind=step.kind, data=data))
            await db.commit()

    async def choose_while_waiting(
        self,
        unique_id: str,
        decide: Callable[[str | None, list[str], bool], tuple[str | None, list[str], int]],
        data: dict[str, Any],
        *,
        kind: str = "key-pressed",
    ) -> tuple[int, int, int] | None:
        """What a waiting caller chose, as `decide` (the menu's rule) says it changes the ticket:
        decide(category, flags, answered before) → (category, flags, priority). One `kind` event
        with the priority before and after. (ticket id, priority before, after), or None for a
        call without a ticket."""
        async with self._db.session() as db:
            ticket = await ticket_of_call(db, unique_id)
            if ticket is None:
                return None
            before = ticket.priority
            category, flags, after = decide(
                ticket.category, list(ticket.flags), ticket.answered_at is not None
            )
            ticket.category, ticket.flags, ticket.priority = category, flags, after
            data = {
                **data,
                "category": category,
                "flags": flags,
                "priority": {"from": before, "to": after},
            }
            db.add(TicketEvent(ticket=ticket, actor="caller", kind=kind, data=data))
            await db.commit()
            return ticket.id, before, after

    async def note(self, unique_id: str, actor: str, kind: str, data: dict[str, Any]) -> int | None:
        """Add an event to the call's ticket (opening none); returns the ticket id."""
        async with self._db.session() as db:
            ticket = await ticket_of_call(db, unique_id)
            if ticket is None:
                return None
            db.add(TicketEvent(ticket=ticket, actor=actor, kind=kind, data=data))
            ticket.flags = lifecycle.flags_after_event(kind, ticket.flags)
            await db.commit()
            return ticket.id

    async def call(self, unique_id: str) -> Call | None:
        """A caller's call with its ticket."""
        async with self._db.snapshot() as db:
            return await db.scalar(
                select(Call)
                .where(Call.unique_id == unique_id[:64])
                .options(selectinload(Call.ticket))
            )

    async def set_conference(self, unique_id: str, conference: str | None) -> None:
        async with self._db.session() as db:
            row = await call_row(db, unique_id)
            if row is not None:
                row.conference = conference
                await db.commit()

    async def set_held(self, unique_id: str, held: bool, actor: str) -> None:
        """The caller went on hold or came back (a `hold`/`resumed` event on the ticket)."""
        async with self._db.session() as db:
            row = await call_row(db, unique_id)
            if row is None or row.held == held:
                return
            row.held = held
            ticket = await db.get_one(Ticket, row.ticket_id)
            kind = "hold" if held else "resumed"
            db.add(
                TicketEvent(ticket=ticket, actor=actor, kind=kind, data={"unique_id": unique_id})
            )
            await db.commit()

    async def set_recording(self, unique_id: str, path: str) -> None:
        async with self._db.session() as db:
            row = await call_row(db, unique_id)
            if row is None:
                return
            row.recording_path = path
            ticket = await db.get_one(Ticket, row.ticket_id)
            ticket.recording_path = ticket.recording_path or path
            await db.commit()

    async def heard_so_far(self, unique_id: str) -> str:
        """What live recognition has understood of this call so far ("" if nothing)."""
        async with self._db.session() as db:
            ticket = await ticket_of_call(db, unique_id)
            return ticket.transcript_partial if ticket is not None else ""

    async def speech_heard(self, unique_id: str, so_far: str, final: str | None) -> None:
        """What live recognition understood so far (the call-taker sees it when the call pops
        up); each final phrase is also a ticket event."""
        async with self._db.session() as db:
            ticket = await ticket_of_call(db, unique_id)
            if ticket is None:
                return
            ticket.transcript_partial = so_far[:20000]
            if final:
                db.add(
                    TicketEvent(
                        ticket=ticket,
                        at=now(),
                        actor="speech",
                        kind="speech-heard",
                        data={"text": final[:2000], "unique_id": unique_id},
                    )
                )
            else:
                announce_change(db, ticket, "speech")
            await db.commit()

    async def live_calls(self, since: datetime) -> list[Call]:
        """Callers' calls still up that started after `since`, oldest first, with their tickets
        and whether an agency is on the line."""
        async with self._db.snapshot() as db:
            return list(
                await db.scalars(
                    select(Call)
                    .where(Call.ended_at.is_(None), Call.started_at >= since)
                    .order_by(Call.id)
                    .options(selectinload(Call.ticket).selectinload(Ticket.dispatches))
                )
            )

    async def calls_gone(self, alive: ChannelsAlive) -> list[CallRef]:
        """Callers' calls still open here whose channel Asterisk no longer has.

        Only calls older than CHANNEL_GRACE count: one the IVR opened just after Asterisk listed
        its channels is not in that list, and is not gone.
        """
        async with self._db.session() as db:
            open_calls = await db.scalars(
                select(Call).where(
                    Call.ended_at.is_(None), Call.started_at < alive.at - CHANNEL_GRACE
                )
            )
            return [
                CallRef(
                    c.unique_id,
                    channel=c.channel or "",
                    linked_id=c.linked_id or "",
                    caller_number=c.caller_number,
                )
                for c in open_calls
                if c.unique_id not in alive.ids and (c.linked_id or "") not in alive.ids
            ]

    async def _learn_caller_id(
        self, db: AsyncSession, ticket: Ticket, call: CallRef, source: str
    ) -> None:
        """A channel can appear before its caller ID is known (a Local channel's Newchannel says
        <unknown>); whoever sees the call next with a number completes the ticket."""
        known = CallerId(ticket.caller_number, ticket.caller_name)
        caller = completed(known, sanitise(call.caller_number, call.caller_name))
        if caller is None:
            return
        ticket.caller_number, ticket.caller_name = caller.number, caller.name
        row = await call_row(db, call.unique_id)
        if row is not None:
            row.caller_number = caller.number
        db.add(
            TicketEvent(
                ticket=ticket,
                at=now(),
                actor=source,
                kind="caller-id",
                data={"number": caller.number, "name": caller.name, "received": caller.raw},
            )
        )
        await db.commit()
