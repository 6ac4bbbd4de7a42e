"""The deadline engine: every few seconds, the assignments whose deadline has passed climb one
step of their escalation ladder (agency_loop.py): the agency is alerted again, then the board.

The deadlines are rows in the database (assignments.py), not timers, so a restart loses none:
the first look after a start finds whatever passed while the controller was down. Each step is
recorded, with its ticket event, before it is carried out, so a step is taken once even if
carrying it out fails. One bad row is logged and looked at again later; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Protocol

from ..config import Agency, Config
from ..live.bus import Bus
from ..live.messages import AgencyOverdue
from ..tickets.models import now
from .agency_loop import Step
from .assignment_deadlines import Escalation
from .assignments import Assignments
from .callouts import Callouts

log = logging.getLogger(__name__)

# Assignments looked at in one pass at most; the rest wait for the next (the longest overdue go
# first).
BATCH = 50
# A row whose step could not be recorded is looked at again this much later.
RETRY = timedelta(seconds=60)
# Seconds an alert may take to start (the port starts a callout, it does not wait for it).
ALERT_TIMEOUT = 10.0


class AgencyAlerts(Protocol):
    """How the centre carries out an escalation step. Each call returns once the alert is under
    way (a callout is started, not waited for)."""

    async def re_alert(self, agency: Agency, escalation: Escalation) -> None:
        """Call the agency again about the assignment, on `escalation.target` (its backup)."""
        ...

    async def raise_on_board(self, escalation: Escalation) -> None:
        """Show the missed deadline on the supervisors' board, with sound."""
        ...


class BoardAlerts:
    """The centre's alerts: a re-alert calls the agency's desk phone again (its backup target),
    the board's alert goes on the live feed."""

    def __init__(self, bus: Bus, callouts: Callouts | None = None):
        self._bus = bus
        # None: no telephony to call with (a re-alert is then only the ticket event and the log).
        self._callouts = callouts

    async def re_alert(self, agency: Agency, escalation: Escalation) -> None:
        a = escalation.assignment
        log.warning(
            "ticket %d: %s missed its %s deadline; re-alert to %s",
            a.ticket_id,
            agency.id,
            escalation.deadline,
            escalation.target,
        )
        if self._callouts is not None:
            await self._callouts.re_alert(agency, a, escalation.target)

    async def raise_on_board(self, escalation: Escalation) -> None:
        a = escalation.assignment
        self._bus.publish(
            AgencyOverdue(
                ticket_id=a.ticket_id,
                assignment_id=a.id,
                agency=a.agency,
                deadline=escalation.deadline.value,
                due_at=escalation.due_at,
                status=a.status,
            )
        )


class DeadlineEngine:
    def __init__(
        self,
        config: Config,
        assignments: Assignments,
        alerts: AgencyAlerts,
        *,
        interval: float | None = None,
    ):
        self._config = config
        self._assignments = assignments
        self._alerts = alerts
        self._interval = interval if interval is not None else config.controller.deadline_check
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Look now (what passed while the controller was down), then every interval."""
        self._task = asyncio.create_task(self._run(), name="agency-deadlines")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the database is down, say: look again next time
                log.exception("agency deadlines: the check failed")
            await asyncio.sleep(self._interval)

    async def check(self, at: datetime | None = None) -> list[Escalation]:
        """One look: every assignment overdue by `at` (now) takes its next step. The steps taken."""
        at = at or now()
        taken: list[Escalation] = []
        for assignment_id in await self._assignments.due(at, BATCH):
            try:
                escalation = await self._assignments.escalate(assignment_id, at)
            except Exception:
                log.exception("assignment %d: escalation failed; again later", assignment_id)
                await self._postpone(assignment_id, at + RETRY)
                continue
            if escalation is not None:
                taken.append(escalation)
                await self._carry_out(escalation)
        return taken

    async def _carry_out(self, escalation: Escalation) -> None:
        a = escalation.assignment
        try:
            if escalation.step == Step.BOARD:
                await asyncio.wait_for(self._alerts.raise_on_board(escalation), ALERT_TIMEOUT)
                return
            agency = self._config.agency(a.agency)
            if agency is None:
                log.error("ticket %d: agency %s is no longer configured", a.ticket_id, a.agency)
                return
            await asyncio.wait_for(self._alerts.re_alert(agency, escalation), ALERT_TIMEOUT)
        except Exception:
            # Recorded already (the ticket event); the next step still comes at its time.
            log.exception("ticket %d: the %s alert failed", a.ticket_id, escalation.step.name)

    async def _postpone(self, assignment_id: int, until: datetime) -> None:
        try:
            await self._assignments.postpone(assignment_id, until)
        except Exception:
            log.exception("assignment %d: could not postpone", assignment_id)
