"""The supervisors' board: the calls live right now, every desk, and today's figures.

Recomputed from the database when something changed (a ticket event, a desk), at most once a
`interval`, and pushed to the supervisors' consoles; nothing is counted twice in memory, so the
board can never drift from the tickets.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from ..calltakers.desk import DeskService
from ..calltakers.waiting import waiting_key
from ..live.bus import Bus
from ..live.messages import BoardChanged, DeskChanged, TicketChanged
from ..tickets.calls import Calls
from ..tickets.models import Call, now
from ..tickets.reports import Reports, figures, grouped

log = logging.getLogger(__name__)

# A call older than this that never ended was lost by Asterisk and the CDR alike: not live.
LIVE_LIMIT = timedelta(hours=12)


def live_state(call: Call) -> str:
    """Where a live call is: ivr, waiting, calltaker, agency."""
    status = call.ticket.status
    if any(
        d.unique_id == call.unique_id and d.answered_at and not d.ended_at
        for d in call.ticket.dispatches
    ):
        return "agency"
    if status == "queued":
        return "waiting"
    if status == "new":
        return "ivr"
    return "calltaker"


def live_json(call: Call, at: datetime) -> dict[str, Any]:
    ticket = call.ticket
    since = ticket.queued_at if ticket.status == "queued" and ticket.queued_at else call.started_at
    return {
        "unique_id": call.unique_id,
        "ticket_id": ticket.id,
        "state": live_state(call),
        "caller_number": ticket.caller_number,
        "category": ticket.category,
        "priority": ticket.priority,
        "flags": list(ticket.flags),
        "calltaker": call.calltaker,
        "agency": ticket.agency,
        "held": call.held,
        "started_at": call.started_at.isoformat(),
        "queued_at": ticket.queued_at.isoformat() if ticket.queued_at else None,
        "waiting_key": waiting_key(ticket),
        # Seconds in the current state's wait: in the queue for a waiting caller, else on the call.
        "seconds": round((at - since).total_seconds()),
    }


class Board:
    def __init__(
        self,
        calls: Calls,
        reports: Reports,
        desks: DeskService,
        bus: Bus,
        interval: float = 1.0,
    ):
        self._calls = calls
        self._reports = reports
        self._desks = desks
        self._bus = bus
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def snapshot(self) -> dict[str, Any]:
        at = now()
        calls = [live_json(c, at) for c in await self._calls.live_calls(at - LIVE_LIMIT)]
        waiting = sorted(
            (c for c in calls if c["state"] == "waiting"), key=lambda c: c["waiting_key"]
        )
        counts = {
            s: sum(1 for c in calls if c["state"] == s)
            for s in ("ivr", "waiting", "calltaker", "agency")
        }
        today = self._reports.today()
        rows = await self._reports.rows(today, today)
        return {
            "at": at.isoformat(),
            "day": today.isoformat(),
            "live": {
                **counts,
                "longest_wait": max((c["seconds"] for c in waiting), default=0),
                "calls": calls,
                # The callers waiting, in the order the queue answers them.
                "queue": waiting,
            },
            "desks": [d.as_json() for d in self._desks.desks.all()],
            "today": {
                **figures(rows),
                "by_category": {
                    g["key"]: g["tickets"] for g in grouped(rows, "category", self._reports.zone)
                },
                "by_agency": {
                    g["key"]: g["tickets"] for g in grouped(rows, "agency", self._reports.zone)
                },
            },
        }

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="board")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _follow(self) -> None:
        """Recompute when tickets or desks change (and every half minute: waits grow by
        themselves), then publish; at most once an interval however busy the centre is."""
        subscription = self._bus.subscribe()
        dirty = True
        try:
            while True:
                if subscription.dropped:  # fell behind a burst: catch up from the database
                    subscription = self._bus.subscribe()
                    dirty = True
                try:
                    event = await asyncio.wait_for(subscription.next(), 30.0)
                    dirty = dirty or isinstance(event, TicketChanged | DeskChanged)
                except TimeoutError:
                    dirty = True
                while not subscription.queue.empty():  # take the rest of a burst at once
                    event = subscription.queue.get_nowait()
                    dirty = dirty or isinstance(event, TicketChanged | DeskChanged)
                if not dirty:
                    continue
                dirty = False
                try:
                    self._bus.publish(BoardChanged(await self.snapshot()))
                except Exception:
                    log.exception("the board could not be computed")
                await asyncio.sleep(self._interval)
        finally:
            subscription.close()
