"""The deadline side of the agency loop's records: which assignments are overdue, the escalation
step recorded before the deadline engine (deadlines.py) carries it out, and the board's list of
what was raised. The status side (assign, move, the reads) is in assignments.py; both write the
same rows, so the row helpers they share live here, below the status side that imports them.

An escalation is a compare-and-set on the row as it was read, so two deadline engines never take
the same step twice, and a move in between makes the step wait for the next look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..config import Config
from ..refused import Why
from ..tickets.db import Database
from ..tickets.models import Assignment, Ticket, TicketEvent
from .agency_loop import (
    CLOSED,
    Deadline,
    Deadlines,
    Due,
    Escalated,
    LoopRefused,
    LoopState,
    Status,
    Step,
    met,
    next_due,
    re_alert_target,
)

# The statuses of an assignment still followed.
OPEN = [s.value for s in Status if s not in CLOSED]
# The ticket event of an escalation step.
OVERDUE_EVENT = "agency-overdue"


@dataclass(frozen=True)
class Escalation:
    """An escalation step just recorded, for the deadline engine to carry out."""

    assignment: Assignment
    deadline: Deadline
    step: Step
    due_at: datetime
    # Where a re-alert calls ("" for the board's step).
    target: str = ""


class AssignmentDeadlines:
    def __init__(self, db: Database, config: Config):
        self._db = db
        self._config = config

    def next_due(
        self,
        assignment: Assignment,
        *,
        status: Status | None = None,
        escalated: Escalated | None = None,
    ) -> Due | None:
        """The assignment's next deadline under its agency's configured deadlines, as it is or
        once moved to `status` or past the step `escalated` (each change stores the deadline
        that follows it)."""
        return next_due(
            loop_state(assignment, status=status, escalated=escalated),
            Deadlines.of(self._config.agency(assignment.agency)),
        )

    async def due(self, at: datetime, limit: int = 100) -> list[int]:
        """The open assignments whose next deadline has passed by `at`, the longest overdue
        first (at most `limit`)."""
        async with self._db.session() as db:
            rows = await db.scalars(
                select(Assignment.id)
                .where(Assignment.deadline_at <= at, Assignment.status.in_(OPEN))
                .order_by(Assignment.deadline_at, Assignment.id)
                .limit(limit)
            )
            return list(rows)

    async def escalate(self, assignment_id: int, at: datetime) -> Escalation | None:
        """Take the next escalation step if its deadline has passed by `at`: recorded (with a
        ticket event) before it is carried out, so it is taken once. None if nothing is due
        (moved meanwhile, or the agency's deadlines changed: the stored deadline is corrected)."""
        try:
            return await self._escalate(assignment_id, at)
        except LoopRefused:
            return None  # moved or escalated meanwhile: the next look decides again

    async def _escalate(self, assignment_id: int, at: datetime) -> Escalation | None:
        async with self._db.session() as db:
            assignment = await db.get(Assignment, assignment_id)
            if assignment is None:
                return None
            agency = self._config.agency(assignment.agency)
            due = self.next_due(assignment)
            if due is None or due.at > at:
                columns = deadline_columns(due)
                if any(getattr(assignment, k) != v for k, v in columns.items()):
                    await compare_and_set(db, assignment, _escalation_columns(assignment), columns)
                    await db.commit()
                return None
            done = Escalated(due.deadline, due.step, at)
            changes = {
                "escalated_deadline": due.deadline.value,
                "escalation_step": int(due.step),
                "escalated_at": at,
            } | deadline_columns(self.next_due(assignment, escalated=done))
            await compare_and_set(db, assignment, _escalation_columns(assignment), changes)
            target = re_alert_target(agency) if agency and due.step == Step.RE_ALERT else ""
            ticket = await db.get_one(Ticket, assignment.ticket_id)
            data = {
                "assignment": assignment.id,
                "agency": assignment.agency,
                "deadline": due.deadline.value,
                "due_at": due.at.isoformat(),
                "step": "re-alert" if due.step == Step.RE_ALERT else "board",
                "status": assignment.status,
            }
            if target:
                data["target"] = target
            db.add(TicketEvent(ticket=ticket, actor="system", kind=OVERDUE_EVENT, data=data, at=at))
            await db.commit()
        return Escalation(assignment, due.deadline, due.step, due.at, target)

    async def postpone(self, assignment_id: int, until: datetime) -> None:
        """Look at this assignment's deadline again at `until` (its step failed: the others go
        first meanwhile)."""
        async with self._db.session() as db:
            await db.execute(
                update(Assignment)
                .where(Assignment.id == assignment_id, Assignment.deadline_at.is_not(None))
                .values(deadline_at=until)
            )
            await db.commit()

    async def escalated(self) -> list[Assignment]:
        """Open assignments raised on the board for a deadline still not met (what the board
        shows when it loads), each with its ticket, the earliest raised first."""
        async with self._db.session() as db:
            rows = await db.scalars(
                select(Assignment)
                .options(selectinload(Assignment.ticket))
                .where(Assignment.status.in_(OPEN), Assignment.escalation_step >= int(Step.BOARD))
                .order_by(Assignment.escalated_at, Assignment.id)
            )
            return [
                a
                for a in rows
                if a.escalated_deadline is None
                or not met(Status(a.status), Deadline(a.escalated_deadline))
            ]


def loop_state(
    assignment: Assignment, *, status: Status | None = None, escalated: Escalated | None = None
) -> LoopState:
    """The rules' view of the row (agency_loop.py), with its status or last step replaced."""
    if escalated is None and assignment.escalated_deadline and assignment.escalated_at:
        escalated = Escalated(
            Deadline(assignment.escalated_deadline),
            Step(assignment.escalation_step),
            assignment.escalated_at,
        )
    return LoopState(status or Status(assignment.status), assignment.assigned_at, escalated)


def deadline_columns(due: Due | None) -> dict[str, Any]:
    """The row's columns for its next deadline (all None: no deadline left)."""
    if due is None:
        return {"deadline": None, "deadline_at": None, "deadline_step": None}
    return {"deadline": due.deadline.value, "deadline_at": due.at, "deadline_step": int(due.step)}


def _escalation_columns(assignment: Assignment) -> dict[str, Any]:
    """What an escalation step must find unchanged to be taken."""
    return {
        "status": assignment.status,
        "escalated_deadline": assignment.escalated_deadline,
        "escalation_step": assignment.escalation_step,
    }


async def compare_and_set(
    db: AsyncSession, assignment: Assignment, expect: dict[str, Any], changes: dict[str, Any]
) -> None:
    """Write `changes` if the row still holds `expect`; LoopRefused (a conflict) if another
    writer got there first. The loaded object is brought up to date either way it went."""
    column = Assignment.__table__.c
    where = [column.id == assignment.id]
    where += [
        column[name].is_(None) if value is None else column[name] == value
        for name, value in expect.items()
    ]
    result = await db.execute(
        update(Assignment)
        .where(*where)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise LoopRefused("the assignment was changed meanwhile; reload it", Why.CONFLICT)
    for name, value in changes.items():
        set_committed_value(assignment, name, value)
