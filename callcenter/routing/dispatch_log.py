"""The dispatches to agencies: each target rung for a ticket and how its ringing ended. The
repository of routing's aggregate; the Dispatcher and the overflow route write through it, and
each dispatch assigns the ticket to the agency (the agency loop: assignments.py)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from ..live.facts import DISPATCH_LEG_PREFIX, AgencyLegEnded, CallRef
from ..tickets import lifecycle
from ..tickets.calls import Calls
from ..tickets.db import Database, call_row
from ..tickets.models import Dispatch, Ticket, TicketEvent, now
from .assignments import Assignments

log = logging.getLogger(__name__)


class DispatchLog:
    def __init__(self, db: Database, calls: Calls, assignments: Assignments | None = None):
        self._db = db
        # A dispatch may be the first we hear of a call (overflow while the controller was down).
        self._calls = calls
        # Every dispatch, by a call-taker or by overflow, assigns the ticket to the agency.
        self._assignments = assignments

    async def start(
        self, call: CallRef, agency: str, target: str, mode: str, actor: str
    ) -> Dispatch:
        """An agency target starts ringing for this call (opening the ticket if need be)."""
        opened = await self._calls.open_ticket(call, source="reconciled")
        async with self._db.session() as db:
            ticket = await db.get_one(Ticket, opened.id)
            dispatch = Dispatch(
                ticket_id=ticket.id,
                unique_id=call.unique_id[:64],
                agency=agency,
                target=target,
                mode=mode,
                requested_by=actor,
                outcome="ringing",
            )
            db.add(dispatch)
            await db.flush()
            # Asterisk gives the agency's channel this id, so its hangup finds the dispatch.
            dispatch.leg_id = f"{DISPATCH_LEG_PREFIX}{dispatch.id}"
            data = {"agency": agency, "target": target, "mode": mode, "dispatch": dispatch.id}
            db.add(TicketEvent(ticket=ticket, actor=actor, kind="dispatch-ringing", data=data))
            await db.commit()
        if self._assignments is not None:
            try:
                await self._assignments.assign(dispatch.ticket_id, agency, actor)
            except Exception:
                # The agency's phone rings all the same: reaching the caller comes first.
                log.exception("call %s: assigning %s failed", call.unique_id, agency)
        return dispatch

    async def outcome(
        self,
        dispatch_id: int,
        outcome: str,
        reason: str = "",
        *,
        answered_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> None:
        """How the ringing ended: "answered" puts the ticket with the agency; others just record."""
        async with self._db.session() as db:
            dispatch = await db.get_one(Dispatch, dispatch_id)
            ticket = await db.get_one(Ticket, dispatch.ticket_id)
            lifecycle.dispatch_outcome(
                ticket, dispatch, outcome, reason, now(), answered_at, ended_at
            )
            db.add(
                TicketEvent(
                    ticket=ticket,
                    actor="asterisk",
                    kind=f"dispatch-{outcome}",
                    data={
                        "agency": dispatch.agency,
                        "target": dispatch.target,
                        "dispatch": dispatch.id,
                        "reason": reason,
                        "duration": dispatch.duration,
                    },
                )
            )
            await db.commit()

    async def failed(self, call: CallRef, agency: str, actor: str) -> tuple[int, str]:
        """No target of the agency answered: recorded on the ticket. The ticket's id and the
        queue member who has the call ("" if none did), for whoever alerts them."""
        opened = await self._calls.open_ticket(call, source="reconciled")
        async with self._db.session() as db:
            ticket = await db.get_one(Ticket, opened.id)
            row = await call_row(db, call.unique_id)
            data = {"agency": agency}
            db.add(TicketEvent(ticket=ticket, actor=actor, kind="dispatch-failed", data=data))
            await db.commit()
            return ticket.id, (row.calltaker or "") if row else ""

    async def agency_leg_ended(self, fact: AgencyLegEnded) -> None:
        """The agency's channel hung up: the dispatch it answered is over."""
        async with self._db.session() as db:
            dispatch = await db.scalar(select(Dispatch).where(Dispatch.leg_id == fact.leg_id))
            if dispatch is None or dispatch.ended_at is not None or dispatch.answered_at is None:
                return  # not ours, already recorded, or it never answered (recorded as such)
            dispatch_id = dispatch.id
        await self.outcome(dispatch_id, "ended", fact.cause, ended_at=fact.at)

    async def of_leg(self, leg_id: str) -> Dispatch | None:
        """The dispatch whose agency channel had this unique id."""
        async with self._db.session() as db:
            return await db.scalar(select(Dispatch).where(Dispatch.leg_id == leg_id[:64]))

    async def agency_on_call(self, unique_id: str) -> bool:
        """Whether an agency answered into this call and has not left it."""
        async with self._db.session() as db:
            found = await db.scalar(
                select(Dispatch.id).where(
                    Dispatch.unique_id == unique_id[:64],
                    Dispatch.answered_at.is_not(None),
                    Dispatch.ended_at.is_(None),
                )
            )
            return found is not None
