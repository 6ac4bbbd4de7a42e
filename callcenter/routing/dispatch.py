"""Dispatch: a call-taker brings an agency into the caller's call as a three-way conference.

    caller + call-taker ─(moved into ConfBridge "ticket-<id>")─▶ ring primary ─▶ answered: done
                                                                    │ no answer
                                                                    ▼
                                                                ring backup ─▶ answered: done
                                                                    │ no answer
                                                                    ▼
                                                  alert; caller and call-taker stay together

Plain logic over a `Telephony` port (AMI in production, a fake in unit tests). The conference
outlives the call-taker: they may hang up once the agency has the caller.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from ..config import Agency, Config
from ..live.bus import Bus
from ..live.facts import CallRef
from ..live.messages import DispatchAlert
from ..refused import Refused, Why
from ..tickets.calls import Calls
from .dispatch_log import DispatchLog

log = logging.getLogger(__name__)


class DispatchError(Refused):
    """The dispatch cannot start: an unknown agency, no such call, or a call not in a state to
    dispatch (not answered yet, or over)."""


@dataclass(frozen=True)
class Ringing:
    answered: bool
    # Why not, in our words: no-answer, busy, failed.
    outcome: str = "answered"
    reason: str = ""


class Telephony(Protocol):
    async def join_conference(
        self, caller_channel: str, calltaker_channel: str, conference: str
    ) -> None:
        """Move the caller and their call-taker out of the queue's bridge into the conference."""
        ...

    async def ring_into_conference(
        self, target: str, conference: str, leg_id: str, timeout: int, caller_id: str
    ) -> Ringing:
        """Ring an agency target; when it answers it joins the conference. Waits for the outcome."""
        ...


@dataclass(frozen=True)
class Started:
    ticket_id: int
    conference: str
    agency: str


class Dispatcher:
    def __init__(
        self,
        config: Config,
        calls: Calls,
        dispatches: DispatchLog,
        bus: Bus,
        telephony: Telephony,
    ):
        self._config = config
        self._calls = calls
        self._dispatches = dispatches
        self._bus = bus
        self._telephony = telephony
        self._ringing: set[asyncio.Task[None]] = set()

    async def dispatch(self, unique_id: str, agency_id: str, actor: str) -> Started:
        """Check, bring the call into its conference, and start ringing the agency in the background
        (ringing takes up to two ring timeouts; the outcome arrives as ticket events)."""
        agency = self._config.agency(agency_id)
        if agency is None:
            known = ", ".join(a.id for a in self._config.agencies)
            raise DispatchError(f"unknown agency (known: {known})", Why.BAD_REQUEST)
        call = await self._calls.call(unique_id)
        if call is None:
            raise DispatchError("no such call", Why.NOT_FOUND)
        if call.ended_at is not None:
            raise DispatchError("the call has ended")
        conference = call.conference
        if conference is None:
            if not call.calltaker_channel or not call.channel:
                raise DispatchError("no call-taker has answered this call yet")
            conference = f"ticket-{call.ticket_id}"
            # Recorded first: the queue reports the call complete as it moves, and the desk must
            # already know it moved into the conference with its call-taker.
            await self._calls.set_conference(call.unique_id, conference)
            try:
                await self._telephony.join_conference(
                    call.channel, call.calltaker_channel, conference
                )
            except Exception:
                await self._calls.set_conference(call.unique_id, None)
                raise
        ref = CallRef(unique_id=call.unique_id, channel=call.channel or "")
        await self._calls.note(
            call.unique_id,
            actor,
            "dispatch-requested",
            {"agency": agency.id, "conference": conference},
        )
        task = asyncio.create_task(self._ring(ref, call.ticket_id, agency, conference, actor))
        self._ringing.add(task)
        task.add_done_callback(self._ringing.discard)
        return Started(ticket_id=call.ticket_id, conference=conference, agency=agency.id)

    async def _ring(
        self, call: CallRef, ticket_id: int, agency: Agency, conference: str, actor: str
    ) -> None:
        try:
            for target in agency.targets():
                dispatch = await self._dispatches.start(
                    call, agency.id, target, "conference", actor
                )
                ringing = await self._telephony.ring_into_conference(
                    target,
                    conference,
                    dispatch.leg_id or f"dispatch-{dispatch.id}",
                    agency.ring_timeout,
                    caller_id=f"112 Tiket {ticket_id}",
                )
                await self._dispatches.outcome(dispatch.id, ringing.outcome, ringing.reason)
                if ringing.answered:
                    log.info("call %s: %s answered at %s", call.unique_id, agency.id, target)
                    return
                log.warning(
                    "call %s: %s did not answer at %s (%s)",
                    call.unique_id,
                    agency.id,
                    target,
                    ringing.reason,
                )
            await self.failed(call, agency.id, actor)
        except Exception:
            # The caller is still with the call-taker in the conference; say so loudly.
            log.exception("call %s: dispatch to %s failed", call.unique_id, agency.id)
            await self.failed(call, agency.id, actor)

    async def failed(self, call: CallRef, agency: str, actor: str) -> None:
        """No target of the agency answered: recorded, and whoever has the call alerted at once."""
        ticket_id, calltaker = await self._dispatches.failed(call, agency, actor)
        self._bus.publish(DispatchAlert(ticket_id, call.unique_id, agency, calltaker))

    async def stop(self) -> None:
        for task in list(self._ringing):
            task.cancel()
