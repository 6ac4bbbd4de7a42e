"""The agency loop's records: each ticket's assignment to an agency, its status, and its next
deadline. The rules are in agency_loop.py; this stores what they decide, writes a ticket event
for every change and tells the live views once it is committed.

Every change is a compare-and-set on the row as it was read, so two movers at once (the agency's
page and its desk phone pressing 1) make one move and one conflict, never two events, and two
deadline engines never take the same escalation step twice. The deadline side (what is overdue,
the escalation steps) is in assignment_deadlines.py; `Assignments` hands it on, so the deadline
engine and the board keep one repository to ask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, contains_eager, selectinload

from ..config import Config
from ..live.bus import Bus
from ..live.messages import AssignmentChanged
from ..refused import Why
from ..tickets.db import Database
from ..tickets.models import Assignment, Call, Ticket, TicketEvent, now
from .agency_loop import (
    LoopRefused,
    Mover,
    NotPermitted,
    Status,
    awaiting_another_agency,
    back_to_centre,
    check_move,
    may_move,
    status_of,
)
from .assignment_deadlines import (
    OPEN,
    AssignmentDeadlines,
    Escalation,
    compare_and_set,
    deadline_columns,
)

# The column stamped when a status is reached.
STAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.EN_ROUTE: "en_route_at",
    Status.ON_SCENE: "on_scene_at",
    Status.CLEARED: "cleared_at",
    Status.DECLINED: "declined_at",
}
# The ticket event of a status change (assigned included).
STATUS_EVENT = "agency-status"


class Assignments:
    def __init__(self, db: Database, config: Config, bus: Bus | None = None):
        self._db = db
        self._config = config
        self._bus = bus
        # The deadline side of the same rows: a change here stores the deadline it leads to.
        self.deadlines = AssignmentDeadlines(db, config)

    # ---- changes -------------------------------------------------------------------------------

    async def assign(
        self, ticket_id: int, agency: str, actor: str, *, at: datetime | None = None
    ) -> Assignment:
        """The ticket is the agency's to follow up from now; the open assignment it already has
        with that agency if any (each target rung for one dispatch assigns again, and two
        assigns at the same moment make one)."""
        if self._config.agency(agency) is None:
            raise LoopRefused("unknown agency", Why.BAD_REQUEST)
        at = at or now()
        for last_try in (False, True):
            async with self._db.session() as db:
                ticket = await db.get(Ticket, ticket_id)
                if ticket is None:
                    raise LoopRefused("no such ticket", Why.NOT_FOUND)
                existing = await db.scalar(
                    select(Assignment).where(
                        Assignment.ticket_id == ticket_id,
                        Assignment.agency == agency,
                        Assignment.status.in_(OPEN),
                    )
                )
                if existing is not None:
                    return existing
                assignment = Assignment(
                    ticket_id=ticket_id,
                    agency=agency,
                    status=Status.ASSIGNED.value,
                    assigned_by=actor[:64],
                    assigned_at=at,
                    moved_by=actor[:64],
                    moved_at=at,
                    escalation_step=0,
                )
                for name, value in deadline_columns(self.deadlines.next_due(assignment)).items():
                    setattr(assignment, name, value)
                db.add(assignment)
                try:
                    await db.flush()
                except IntegrityError:
                    if last_try:
                        raise
                    # Another assign committed its own between our read and our insert (the
                    # index of one open assignment per ticket and agency): read again, find it.
                    await db.rollback()
                    continue
                db.add(_status_event(ticket, assignment, None, actor, "", at))
                await db.commit()
            self._announce(assignment, None, actor)
            return assignment
        raise AssertionError("unreachable: the last try returns or raises")

    async def move(
        self,
        assignment_id: int,
        status: Status | str,
        mover: Mover,
        text: str = "",
        *,
        at: datetime | None = None,
    ) -> Assignment:
        """Move the assignment to `status` (with the disposition or decline reason in `text`):
        LoopRefused if the rules do not allow it or someone moved it meanwhile, NotPermitted if
        `mover` may not move it."""
        new = status if isinstance(status, Status) else status_of(status)
        at = at or now()
        async with self._db.session() as db:
            assignment = await db.get(Assignment, assignment_id)
            if assignment is None:
                raise LoopRefused("no such assignment", Why.NOT_FOUND)
            if not may_move(mover, assignment.agency):
                raise NotPermitted(f"{mover.name} may not move {assignment.agency}'s assignment")
            old = Status(assignment.status)
            text = check_move(old, new, text)
            changes: dict[str, Any] = {
                "status": new.value,
                STAMPS[new]: at,
                "moved_by": mover.name[:64],
                "moved_at": at,
            }
            if new == Status.CLEARED:
                changes["disposition"] = text
            if new == Status.DECLINED:
                changes["decline_reason"] = text
            changes |= deadline_columns(self.deadlines.next_due(assignment, status=new))
            await compare_and_set(db, assignment, {"status": old.value}, changes)
            ticket = await db.get_one(Ticket, assignment.ticket_id)
            db.add(_status_event(ticket, assignment, old, mover.name, text, at, role=mover.role))
            # A decline is told to the desks that answered the ticket's calls as well.
            answered_at: tuple[str, ...] = ()
            if back_to_centre(new):
                desks = await db.scalars(
                    select(Call.calltaker)
                    .where(Call.ticket_id == ticket.id, Call.calltaker.is_not(None))
                    .distinct()
                )
                answered_at = tuple(d for d in desks if d)
            await db.commit()
        self._announce(assignment, old, mover.name, answered_at)
        return assignment

    async def move_for_ticket(
        self, ticket_id: int, agency: str, status: Status | str, mover: Mover, text: str = ""
    ) -> Assignment:
        """`move` for the open assignment of this ticket to this agency (the desk phone's key
        knows the ticket and the agency, not the assignment)."""
        async with self._db.session() as db:
            assignment_id = await db.scalar(
                select(Assignment.id)
                .where(
                    Assignment.ticket_id == ticket_id,
                    Assignment.agency == agency,
                    Assignment.status.in_(OPEN),
                )
                .order_by(Assignment.id.desc())
            )
        if assignment_id is None:
            raise LoopRefused("no open assignment of this ticket to this agency", Why.NOT_FOUND)
        return await self.move(assignment_id, status, mover, text)

    # ---- deadlines (assignment_deadlines.py) --------------------------------------------------

    async def due(self, at: datetime, limit: int = 100) -> list[int]:
        return await self.deadlines.due(at, limit)

    async def escalate(self, assignment_id: int, at: datetime) -> Escalation | None:
        return await self.deadlines.escalate(assignment_id, at)

    async def postpone(self, assignment_id: int, until: datetime) -> None:
        await self.deadlines.postpone(assignment_id, until)

    async def escalated(self) -> list[Assignment]:
        return await self.deadlines.escalated()

    # ---- reads ---------------------------------------------------------------------------------

    async def get(self, assignment_id: int) -> Assignment | None:
        async with self._db.session() as db:
            return await db.get(Assignment, assignment_id)

    async def of_ticket(self, ticket_id: int) -> list[Assignment]:
        """Every assignment of the ticket, the first made first."""
        async with self._db.session() as db:
            rows = await db.scalars(
                select(Assignment).where(Assignment.ticket_id == ticket_id).order_by(Assignment.id)
            )
            return list(rows)

    async def open_for_agency(self, agency: str) -> list[Assignment]:
        """The agency's open assignments, each with its ticket: the most urgent ticket first
        (its priority), then the most overdue (the earliest next deadline; none last)."""
        async with self._db.session() as db:
            rows = await db.scalars(
                select(Assignment)
                .join(Assignment.ticket)
                .options(contains_eager(Assignment.ticket))
                .where(Assignment.agency == agency, Assignment.status.in_(OPEN))
                .order_by(
                    Ticket.priority.desc(),
                    Assignment.deadline_at.is_(None),
                    Assignment.deadline_at,
                    Assignment.id,
                )
            )
            return list(rows)

    async def needing_reassignment(self, limit: int = 200) -> list[Assignment]:
        """The declines the centre has still to answer with another agency
        (`awaiting_another_agency`), each with its ticket, the earliest declined first (at most
        `limit`). The query narrows to them with the rule's own condition, so the list stays as
        short as the work waiting, however many tickets were ever declined; the rule decides."""
        later = aliased(Assignment)
        reassigned = (
            select(later.id)
            .where(
                later.ticket_id == Assignment.ticket_id,
                later.id != Assignment.id,
                later.assigned_at >= Assignment.declined_at,
            )
            .exists()
        )
        async with self._db.session() as db:
            tickets = list(
                await db.scalars(
                    select(Assignment.ticket_id)
                    .join(Assignment.ticket)
                    .where(
                        Assignment.status == Status.DECLINED.value,
                        Ticket.closed_at.is_(None),
                        ~reassigned,
                    )
                    .group_by(Assignment.ticket_id)
                    .order_by(func.min(Assignment.declined_at))
                    .limit(limit)
                )
            )
            rows = await db.scalars(
                select(Assignment)
                .options(selectinload(Assignment.ticket))
                .where(Assignment.ticket_id.in_(tickets))
                .order_by(Assignment.id)
            )
            by_ticket: dict[int, list[Assignment]] = {}
            for row in rows:
                by_ticket.setdefault(row.ticket_id, []).append(row)
        waiting = [
            declined
            for placed in by_ticket.values()
            for declined in awaiting_another_agency(
                placed, ticket_closed=placed[0].ticket.closed_at is not None
            )
        ]
        waiting.sort(key=lambda a: (a.declined_at or a.moved_at, a.id))
        return waiting

    # ---- helpers -------------------------------------------------------------------------------

    def _announce(
        self,
        assignment: Assignment,
        previous: Status | None,
        actor: str,
        answered_at: tuple[str, ...] = (),
    ) -> None:
        if self._bus is None:
            return
        status = Status(assignment.status)
        self._bus.publish(
            AssignmentChanged(
                ticket_id=assignment.ticket_id,
                assignment_id=assignment.id,
                agency=assignment.agency,
                status=status.value,
                previous=previous.value if previous else None,
                actor=actor,
                assignment=assignment_json(assignment),
                back_to_centre=back_to_centre(status),
                answered_at=answered_at,
                at=assignment.moved_at,
            )
        )


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    """An assignment as the API and the live feed show it."""

    def time(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": assignment.id,
        "ticket_id": assignment.ticket_id,
        "agency": assignment.agency,
        "status": assignment.status,
        "assigned_by": assignment.assigned_by,
        "assigned_at": time(assignment.assigned_at),
        "acknowledged_at": time(assignment.acknowledged_at),
        "en_route_at": time(assignment.en_route_at),
        "on_scene_at": time(assignment.on_scene_at),
        "cleared_at": time(assignment.cleared_at),
        "declined_at": time(assignment.declined_at),
        "moved_by": assignment.moved_by,
        "moved_at": time(assignment.moved_at),
        "disposition": assignment.disposition,
        "decline_reason": assignment.decline_reason,
        "deadline": assignment.deadline,
        "deadline_at": time(assignment.deadline_at),
        "escalated_deadline": assignment.escalated_deadline,
        "escalation_step": assignment.escalation_step,
    }


def _status_event(
    ticket: Ticket,
    assignment: Assignment,
    old: Status | None,
    actor: str,
    text: str,
    at: datetime,
    *,
    role: str = "",
) -> TicketEvent:
    data: dict[str, Any] = {
        "assignment": assignment.id,
        "agency": assignment.agency,
        "from": old.value if old else None,
        "to": assignment.status,
        "actor": actor,
        "text": text,
    }
    if role:
        data["role"] = role
    return TicketEvent(ticket=ticket, actor=actor[:64], kind=STATUS_EVENT, data=data, at=at)
