"""Calling an agency's desk phone about its assignment, and taking its answer.

    assigned without a bridge (the assign endpoint)  ─┐
    the agency's conference leg ended, still assigned ─┼▶ ring primary ─▶ no answer ─▶ ring backup
    a missed deadline's re-alert (its backup target)  ─┘        │ answered: the briefing, "press 1…"
                                                                ▼
                              UserEvent AgencyCallout (Assignment, Key) ─▶ acknowledged / declined

The briefing and what a key means are callout.py's rules; the phone is reached through a small
port (telephony/actions.py over AMI). A key counts only from a callout placed here, on the
channel it was placed on, about the assignment it was placed for: anything else is logged and
changes nothing. Each attempt and its outcome is a ticket event.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from ..config import Agency, Config
from ..live.facts import AgencyKeyPressed, AgencyLegEnded
from ..telephony import dialplan
from ..tickets.models import Assignment
from ..tickets.repository import Tickets
from . import callout
from .agency_loop import LoopRefused, Status
from .assignments import Assignments
from .dispatch import Ringing
from .dispatch_log import DispatchLog

log = logging.getLogger(__name__)

# Ticket event of each callout attempt (target, outcome) and of a key that moved nothing.
CALLOUT_EVENT = "agency-callout"
# A placed callout is forgotten this long after it was placed, key or not: no answered callout
# lasts longer (two briefings and their waits are under a minute and a half).
FORGET_AFTER = 600.0
# Why a call that was due was not placed (the ticket event's "skipped").
SKIPPED_CALLING = "already calling"


class DeskPhones(Protocol):
    async def call_agency_desk(
        self,
        target: str,
        leg_id: str,
        timeout: int,
        caller_id: str,
        assignment_id: int,
        briefing: tuple[str, ...],
    ) -> Ringing:
        """Ring the target; answered, it hears `briefing` and may press a key. Waits for the
        answer or not."""
        ...


@dataclass(frozen=True)
class Placed:
    """A callout the controller placed: the only channels whose key is heard."""

    assignment_id: int
    ticket_id: int
    agency: str
    target: str
    at: float  # time.monotonic()


class Callouts:
    def __init__(
        self,
        config: Config,
        assignments: Assignments,
        tickets: Tickets,
        dispatches: DispatchLog,
        phones: DeskPhones,
        prompts: Collection[str],
    ):
        self._config = config
        self._assignments = assignments
        self._tickets = tickets
        self._dispatches = dispatches
        self._phones = phones
        # The prompts that exist: the briefing names no other.
        self._prompts = prompts
        # By the callout channel's unique id.
        self.placed: dict[str, Placed] = {}
        # Assignments being called about now: a second reason to call waits for the first call.
        self._calling: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- when to call ----------------------------------------------------------------------

    async def assign(self, ticket_id: int, agency_id: str, actor: str) -> Assignment:
        """The ticket is the agency's without a phone bridge: assigned (the open assignment it
        has already, if any), and its desk phone called at once while it is still assigned."""
        assignment = await self._assignments.assign(ticket_id, agency_id, actor)
        agency = self._config.agency(agency_id)
        if agency is not None and assignment.status == Status.ASSIGNED.value:
            await self._start_or_note(assignment, callout.targets(agency), "assigned")
        return assignment

    async def after_conference(self, fact: AgencyLegEnded) -> None:
        """The agency's leg of a dispatch conference hung up: if it never acknowledged the
        ticket, its desk phone is called now (not during the conference, which holds the line)."""
        dispatch = await self._dispatches.of_leg(fact.leg_id)
        if dispatch is None or dispatch.answered_at is None:
            return  # not ours, or it never answered: the deadlines chase it
        agency = self._config.agency(dispatch.agency)
        if agency is None:
            return
        for assignment in await self._assignments.of_ticket(dispatch.ticket_id):
            if assignment.agency == agency.id and assignment.status == Status.ASSIGNED.value:
                await self._start_or_note(
                    assignment, callout.targets(agency), "after the conference"
                )

    async def re_alert(self, agency: Agency, assignment: Assignment, target: str) -> None:
        """A missed deadline: the agency is called again, on `target` (its backup)."""
        targets = [target] if target else callout.re_alert_targets(agency)
        await self._start_or_note(assignment, targets, "re-alert")

    def start(self, assignment: Assignment, targets: list[str], why: str) -> bool:
        """Call in the background (ringing takes up to a ring timeout per target). False if
        no call was started: the agency takes no callouts, or it is being called already."""
        agency = self._config.agency(assignment.agency)
        if agency is None or not agency.callout:
            return False
        if assignment.id in self._calling:
            log.info(
                "ticket %d: %s is being called already; no %s call",
                assignment.ticket_id,
                agency.id,
                why,
            )
            return False
        self._calling.add(assignment.id)
        task = asyncio.create_task(
            self.call(assignment, agency, targets, why), name=f"callout-{assignment.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _start_or_note(self, assignment: Assignment, targets: list[str], why: str) -> None:
        """`start`, and a ticket event when a call was due but the agency is on the line about
        it already: the log must not show a re-alert as made when nobody was called for it."""
        if self.start(assignment, targets, why) or assignment.id not in self._calling:
            return
        await self._note(
            assignment, {"target": ",".join(targets), "why": why, "skipped": SKIPPED_CALLING}
        )

    # ---- the call --------------------------------------------------------------------------

    async def call(
        self, assignment: Assignment, agency: Agency, targets: list[str], why: str
    ) -> None:
        """Ring each target in turn until one answers."""
        try:
            ticket = await self._tickets.get(assignment.ticket_id)
            if ticket is None:
                return
            briefing = callout.briefing(
                ticket.id, ticket.category, ticket.kecamatan, ticket.kelurahan, self._prompts
            )
            for target in targets:
                if await self._ring(assignment, agency, target, briefing, why):
                    return
        except Exception:
            log.exception("ticket %d: calling %s failed", assignment.ticket_id, agency.id)
        finally:
            self._calling.discard(assignment.id)

    async def _ring(
        self,
        assignment: Assignment,
        agency: Agency,
        target: str,
        briefing: tuple[str, ...],
        why: str,
    ) -> bool:
        self._forget_old()
        leg_id = f"{dialplan.CALLOUT_PREFIX}{assignment.id}-{uuid.uuid4().hex[:12]}"
        # Known before it rings: the key may come before the answer's response is read.
        self.placed[leg_id] = Placed(
            assignment.id, assignment.ticket_id, agency.id, target, time.monotonic()
        )
        ringing = await self._phones.call_agency_desk(
            target,
            leg_id,
            agency.ring_timeout,
            f"112 Tiket {assignment.ticket_id}",
            assignment.id,
            briefing,
        )
        if not ringing.answered:
            self.placed.pop(leg_id, None)
        log.info(
            "ticket %d: callout to %s at %s (%s): %s",
            assignment.ticket_id,
            agency.id,
            target,
            why,
            ringing.outcome,
        )
        await self._note(
            assignment,
            {"target": target, "why": why, "outcome": ringing.outcome, "reason": ringing.reason},
        )
        return ringing.answered

    # ---- the answer ------------------------------------------------------------------------

    async def key_pressed(self, fact: AgencyKeyPressed) -> None:
        """The desk phone's key: 1 acknowledges, 2 declines, on behalf of that phone."""
        placed = self.placed.get(fact.unique_id)
        if placed is None:
            log.warning(
                "callout key from %s, a channel not called from here: ignored", fact.unique_id
            )
            return
        if placed.assignment_id != fact.assignment_id:
            log.warning(
                "callout %s was about assignment %d, its key names %d: ignored",
                fact.unique_id,
                placed.assignment_id,
                fact.assignment_id,
            )
            return
        del self.placed[fact.unique_id]
        status = callout.status_for_key(fact.key)
        if status is None:
            log.info("ticket %d: %s pressed no key that counts", placed.ticket_id, placed.target)
            return
        mover = callout.phone_mover(placed.agency, placed.target)
        try:
            await self._assignments.move(
                placed.assignment_id, status, mover, callout.text_for(status)
            )
        except LoopRefused as e:
            # Moved meanwhile (its page was quicker, say): the phone's key changes nothing.
            log.info(
                "ticket %d: %s's key %s changed nothing: %s",
                placed.ticket_id,
                placed.target,
                fact.key,
                e,
            )
            await self._note_key(placed, fact.key, str(e))

    def _forget_old(self) -> None:
        old = time.monotonic() - FORGET_AFTER
        for leg_id in [k for k, p in self.placed.items() if p.at < old]:
            del self.placed[leg_id]

    async def _note(self, assignment: Assignment, data: dict[str, str | int]) -> None:
        await self._tickets.note(
            assignment.ticket_id,
            "system",
            CALLOUT_EVENT,
            {"assignment": assignment.id, "agency": assignment.agency, **data},
        )

    async def _note_key(self, placed: Placed, key: str, refused: str) -> None:
        await self._tickets.note(
            placed.ticket_id,
            "system",
            CALLOUT_EVENT,
            {
                "assignment": placed.assignment_id,
                "agency": placed.agency,
                "target": placed.target,
                "key": key,
                "refused": refused[:200],
            },
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
