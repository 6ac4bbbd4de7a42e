"""Tickets by their id: what the console, the board, reports and supervisors read, and what a
call-taker changes (an edit, a close, a note). The rules of a change are in lifecycle.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, cast, func, or_, select
from sqlalchemy.orm import selectinload

from . import lifecycle
from .db import Database
from .edits import TicketEdit
from .models import Ticket, TicketEvent, now


class Tickets:
    def __init__(self, db: Database):
        self._db = db

    async def get(self, ticket_id: int) -> Ticket | None:
        """A ticket with its events, calls, dispatches and transcriptions, read as one snapshot."""
        async with self._db.snapshot() as db:
            return await db.get(
                Ticket,
                ticket_id,
                options=[
                    selectinload(Ticket.events),
                    selectinload(Ticket.calls),
                    selectinload(Ticket.dispatches),
                    selectinload(Ticket.transcriptions),
                ],
            )

    async def newest(
        self,
        *,
        agency: str | None = None,
        status: str | None = None,
        caller_number: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Ticket]:
        """Newest first. `agency` restricts to one agency's tickets (for agency users)."""
        query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
        if agency is not None:
            query = query.where(Ticket.agency == agency)
        if status is not None:
            query = query.where(Ticket.status == status)
        if caller_number is not None:
            query = query.where(Ticket.caller_number == caller_number)
        if before_id is not None:
            query = query.where(Ticket.id < before_id)
        async with self._db.session() as db:
            return list(await db.scalars(query))

    async def history(self, caller_number: str, before: int, limit: int = 10) -> list[Ticket]:
        """Earlier tickets of this number, newest first. Nothing for an unknown number: anonymous
        callers are not one person."""
        if not caller_number:
            return []
        async with self._db.session() as db:
            return list(
                await db.scalars(
                    select(Ticket)
                    .where(Ticket.caller_number == caller_number, Ticket.id < before)
                    .order_by(Ticket.id.desc())
                    .limit(limit)
                )
            )

    async def edit(
        self, ticket_id: int, edit: TicketEdit, actor: str, item_texts: Mapping[str, str]
    ) -> Ticket | None:
        """Apply a checked edit; one `edited` event lists what changed, from what, to what (none
        when nothing did)."""
        async with self._db.session() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                return None
            changes = lifecycle.apply_edit(ticket, edit, item_texts)
            if changes:
                db.add(TicketEvent(ticket=ticket, actor=actor, kind="edited", data=changes))
                await db.commit()
            return ticket

    async def close(self, ticket_id: int, outcome: str, actor: str) -> Ticket | None:
        """Close the ticket with the call's type (lifecycle.close; AlreadyClosed if it was)."""
        async with self._db.session() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                return None
            lifecycle.close(ticket, outcome, actor, now())
            db.add(
                TicketEvent(ticket=ticket, actor=actor, kind="closed", data={"outcome": outcome})
            )
            await db.commit()
            return ticket

    async def note(
        self, ticket_id: int, actor: str, kind: str, data: dict[str, Any]
    ) -> Ticket | None:
        """Add an event to a ticket by its id (a callback has no caller's call of its own)."""
        async with self._db.session() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                return None
            db.add(TicketEvent(ticket=ticket, actor=actor, kind=kind, data=data))
            await db.commit()
            return ticket

    async def abandoned_since(self, since: datetime) -> list[Ticket]:
        """Callers who hung up before a call-taker answered, or whose call was cut off when their
        audio stopped (flagged media-lost), newest first, with their events."""
        # flags is a JSON list (never NULL); as text it is the same on SQLite and PostgreSQL.
        cut_off = cast(Ticket.flags, String).like(f'%"{lifecycle.MEDIA_LOST_FLAG}"%')
        async with self._db.snapshot() as db:
            return list(
                await db.scalars(
                    select(Ticket)
                    .where(
                        or_(Ticket.status == lifecycle.Status.ABANDONED, cut_off),
                        Ticket.arrived_at >= since,
                    )
                    .order_by(Ticket.id.desc())
                    .limit(500)
                    .options(selectinload(Ticket.events))
                )
            )

    async def last_reached(self, numbers: list[str], since: datetime) -> dict[str, datetime]:
        """For each number reached since `since`, when it last was: a call of it answered by a
        call-taker, or a callback to it answered (on any of its tickets). Two reads, whatever the
        number of numbers."""
        numbers = [n for n in set(numbers) if n]
        if not numbers:
            return {}
        answered = (
            select(Ticket.caller_number, func.max(Ticket.answered_at))
            .where(Ticket.caller_number.in_(numbers), Ticket.answered_at >= since)
            .group_by(Ticket.caller_number)
        )
        called_back = (
            select(Ticket.caller_number, func.max(TicketEvent.at))
            .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(
                Ticket.caller_number.in_(numbers),
                TicketEvent.kind == "callback-answered",
                TicketEvent.at >= since,
            )
            .group_by(Ticket.caller_number)
        )
        reached: dict[str, datetime] = {}
        async with self._db.snapshot() as db:
            for query in (answered, called_back):
                for number, at in (await db.execute(query)).all():
                    if at is not None and (number not in reached or at > reached[number]):
                        reached[number] = at
        return reached

    async def caller_counts(self, numbers: list[str]) -> dict[str, dict[str, int]]:
        """For each number: its tickets, and how many were pranks or silent calls."""
        numbers = [n for n in set(numbers) if n]
        if not numbers:
            return {}
        # flags is a JSON list (never NULL); as text it is the same on SQLite and PostgreSQL.
        flags = cast(Ticket.flags, String)
        prank = or_(Ticket.outcome == "prank", flags.like('%"prank"%'))
        silent = or_(
            Ticket.outcome == "ghost",
            flags.like('%"silent"%'),
            flags.like('%"silent-but-present"%'),
        )
        query = (
            select(
                Ticket.caller_number,
                func.count(),
                func.sum(cast(prank, Integer)),
                func.sum(cast(silent, Integer)),
            )
            .where(Ticket.caller_number.in_(numbers))
            .group_by(Ticket.caller_number)
        )
        async with self._db.session() as db:
            rows = (await db.execute(query)).all()
        return {
            number: {"tickets": total, "prank": int(pranks or 0), "silent": int(silents or 0)}
            for number, total, pranks, silents in rows
        }
