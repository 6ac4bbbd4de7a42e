"""The agency loop: what an agency does with a ticket dispatched to it, and what the centre does
when it does not. Plain rules, no I/O; `assignments.py` stores what they decide and
`deadlines.py` acts on the escalations.

Statuses follow NENA EIDO's unit statuses:

    assigned ─▶ acknowledged ─▶ en-route ─▶ on-scene ─▶ cleared (with a disposition)
        └────────────┴──────────────┴─▶ declined (with a reason; the centre takes the ticket back)

Moves go forward only, and may skip steps: a patrol that was already nearby reports on-scene
without ever pressing en-route, and forcing it through the missed steps would stamp them with
times that never happened. A skipped step keeps no stamp. Repeating the current status is
refused (a conflict), so a double click cannot rewrite who moved it and when.

Deadlines run from the assignment (acknowledge within 2 min, on scene within 10, cleared within
60 by default, per agency). A missed deadline climbs a short ladder: first the agency is alerted
again (the callout, to its backup target), then, `escalate_after` later, the supervisors' board
(with sound). Then it stops: the people who can act know. The next deadline has its own ladder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Protocol, TypeVar

from ..config import Agency
from ..refused import Refused, Why


class Status(StrEnum):
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en-route"
    ON_SCENE = "on-scene"
    CLEARED = "cleared"
    DECLINED = "declined"


# The forward path; declined stands beside it.
PATH = (Status.ASSIGNED, Status.ACKNOWLEDGED, Status.EN_ROUTE, Status.ON_SCENE, Status.CLEARED)
CLOSED = frozenset({Status.CLEARED, Status.DECLINED})
# The longest disposition or decline reason kept (a paragraph, not a report).
MAX_TEXT = 2000


class LoopRefused(Refused):
    """A move the agency loop does not allow; `why` says which kind of no."""


class NotPermitted(PermissionError):
    """The mover may not move this assignment (the web answers 403)."""


# Roles as the logins carry them (web/access.py names the same strings).
AGENCY_ROLE = "agency"
OVERSEER_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True)
class Mover:
    """Who asks for a move: a login (its role and, for an agency login, its agency), or the
    agency's desk phone answering a callout (role "agency", its agency)."""

    name: str
    role: str
    agency: str | None = None


def may_move(mover: Mover, assignment_agency: str) -> bool:
    """The assignment's own agency; supervisors and admins, who may record for an agency that
    reports by radio or phone. Not call-takers: the deadlines exist to reach the supervisors, and a
    move silences them, so only the agency itself or those it would reach may make one."""
    if mover.role in OVERSEER_ROLES:
        return True
    return mover.role == AGENCY_ROLE and mover.agency == assignment_agency


def check_move(current: Status, new: Status, text: str) -> str:
    """The move's text, trimmed, if `current` → `new` is allowed; LoopRefused if not (a repeat
    and a closed assignment are conflicts; a backward move or missing text is a bad request)."""
    text = text.strip()
    if current in CLOSED:
        raise LoopRefused(f"the assignment is already {current}", Why.CONFLICT)
    if new == current:
        raise LoopRefused(f"the assignment is already {current}", Why.CONFLICT)
    if new == Status.ASSIGNED:
        raise LoopRefused("an assignment cannot go back to assigned", Why.BAD_REQUEST)
    if new == Status.DECLINED:
        if PATH.index(current) >= PATH.index(Status.ON_SCENE):
            raise LoopRefused("on scene already: clear it instead of declining", Why.BAD_REQUEST)
        if not text:
            raise LoopRefused("declining needs a reason", Why.BAD_REQUEST)
    elif PATH.index(new) < PATH.index(current):
        raise LoopRefused(f"cannot go back from {current} to {new}", Why.BAD_REQUEST)
    if new == Status.CLEARED and not text:
        raise LoopRefused("clearing needs a disposition (what was done)", Why.BAD_REQUEST)
    if len(text) > MAX_TEXT:
        raise LoopRefused(f"the text is longer than {MAX_TEXT} characters", Why.BAD_REQUEST)
    return text


def status_of(text: str) -> Status:
    """A status named by a client (LoopRefused, a bad request, for anything else)."""
    try:
        return Status(text)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise LoopRefused(f"unknown status (known: {known})", Why.BAD_REQUEST) from None


def back_to_centre(status: Status) -> bool:
    """A decline hands the ticket back: the centre must find another agency."""
    return status == Status.DECLINED


class Placement(Protocol):
    """What the reassignment rule reads of an assignment."""

    @property
    def status(self) -> str: ...
    @property
    def assigned_at(self) -> datetime: ...
    @property
    def declined_at(self) -> datetime | None: ...


P = TypeVar("P", bound=Placement)


def awaiting_another_agency(assignments: Iterable[P], *, ticket_closed: bool) -> list[P]:
    """The declines of one ticket that the centre has not answered yet: each declined
    assignment after which no agency was assigned (another, or the same one again), while the
    ticket is open. The ticket needs reassigning while this is not empty. An agency assigned
    before the decline does not answer it: the declined part of the work still has nobody."""
    if ticket_closed:
        return []
    placed = list(assignments)
    return [
        declined
        for declined in placed
        if declined.status == Status.DECLINED
        and declined.declined_at is not None
        and not any(
            later.assigned_at >= declined.declined_at for later in placed if later is not declined
        )
    ]


# ---- deadlines and escalation --------------------------------------------------------------


class Deadline(StrEnum):
    """What the agency must have done by the deadline."""

    ACKNOWLEDGE = "acknowledge"
    ON_SCENE = "on-scene"
    CLEARED = "cleared"


# The status that meets each deadline (or any later one on the path).
MEETS = {
    Deadline.ACKNOWLEDGE: Status.ACKNOWLEDGED,
    Deadline.ON_SCENE: Status.ON_SCENE,
    Deadline.CLEARED: Status.CLEARED,
}
ORDER = tuple(Deadline)


class Step(IntEnum):
    """The rungs of the ladder a missed deadline climbs, in order."""

    RE_ALERT = 1  # call the agency again, on its backup target
    BOARD = 2  # raise it on the supervisors' board, with sound


@dataclass(frozen=True)
class Deadlines:
    """An agency's deadlines, each from the moment of assignment, and the wait between the
    re-alert and the board."""

    acknowledge: timedelta = timedelta(seconds=120)
    on_scene: timedelta = timedelta(seconds=600)
    cleared: timedelta = timedelta(seconds=3600)
    escalate_after: timedelta = timedelta(seconds=60)

    @classmethod
    def of(cls, agency: Agency | None) -> Deadlines:
        """The agency's configured deadlines (the defaults for an agency no longer configured)."""
        if agency is None:
            return cls()
        return cls(
            timedelta(seconds=agency.acknowledge_within),
            timedelta(seconds=agency.on_scene_within),
            timedelta(seconds=agency.cleared_within),
            timedelta(seconds=agency.escalate_after),
        )

    def within(self, deadline: Deadline) -> timedelta:
        return {
            Deadline.ACKNOWLEDGE: self.acknowledge,
            Deadline.ON_SCENE: self.on_scene,
            Deadline.CLEARED: self.cleared,
        }[deadline]


@dataclass(frozen=True)
class Escalated:
    """The last rung climbed: for which deadline, which step, when."""

    deadline: Deadline
    step: Step
    at: datetime


@dataclass(frozen=True)
class LoopState:
    """What the deadlines depend on."""

    status: Status
    assigned_at: datetime
    escalated: Escalated | None = None


@dataclass(frozen=True)
class Due:
    """The next deadline: which, when, and the step to take once `at` has passed."""

    deadline: Deadline
    at: datetime
    step: Step


def met(status: Status, deadline: Deadline) -> bool:
    """Whether the status meets the deadline (a closed assignment has none left)."""
    if status in CLOSED:
        return True
    return PATH.index(status) >= PATH.index(MEETS[deadline])


def next_due(state: LoopState, deadlines: Deadlines) -> Due | None:
    """The next deadline of an assignment and what to do when it passes; None once nothing is
    left to chase (closed, or every ladder climbed). A ladder never restarts: once a deadline
    escalated, earlier deadlines are not chased again."""
    done = state.escalated
    for deadline in ORDER:
        if met(state.status, deadline):
            continue
        if done is not None and ORDER.index(done.deadline) > ORDER.index(deadline):
            continue
        if done is not None and done.deadline == deadline:
            if done.step >= Step.BOARD:
                continue
            return Due(deadline, done.at + deadlines.escalate_after, Step.BOARD)
        return Due(deadline, state.assigned_at + deadlines.within(deadline), Step.RE_ALERT)
    return None


def re_alert_target(agency: Agency) -> str:
    """Where a re-alert calls: the backup (the primary did not respond), else the primary again."""
    return agency.backup or agency.primary
