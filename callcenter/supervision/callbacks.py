"""Calling back callers who hung up before a call-taker answered.

Every abandoned call is on the callback list (for `[callbacks] window_hours`) until a callback
reaches the caller. One click rings the chosen call-taker's phone; when they pick up, Asterisk
dials the caller (`[callbacks] dial`), showing 112, and the `callback` FastAGI route records on
the original ticket whether the caller answered and for how long. Numbers that keep calling
silently or as a prank are shown with their counts, for a supervisor to review.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any, Protocol

from ..config import Config
from ..ivr.channel import Channel
from ..refused import Refused, Why
from ..telephony import dialplan
from ..tickets.models import now
from ..tickets.repository import Tickets
from ..tickets.views import ticket_summary

# What can be dialled back: digits, maybe an international +.
NUMBER_RE = re.compile(r"\+?[0-9]{3,20}")
SECONDS_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")
# DIALSTATUS → what the ticket says.
OUTCOMES = {
    "ANSWER": "callback-answered",
    "NOANSWER": "callback-no-answer",
    "BUSY": "callback-busy",
}


class CallbackPort(Protocol):
    async def call_back(self, calltaker: str, target: str, ticket_id: int, leg_id: str) -> None: ...


class CallbackError(Refused):
    """No callback: no such ticket, a number that cannot be dialled, or no such desk."""


class Callbacks:
    def __init__(self, config: Config, tickets: Tickets, telephony: CallbackPort):
        self._config = config
        self._tickets = tickets
        self._telephony = telephony

    async def waiting(self) -> list[dict[str, Any]]:
        """Abandoned calls not yet reached by a callback, newest first, with each number's record."""
        since = now() - timedelta(hours=self._config.callbacks.window_hours)
        tickets = await self._tickets.abandoned_since(since)
        counts = await self._tickets.caller_counts([t.caller_number for t in tickets])
        review_after = self._config.prank_policy.review_after
        waiting = []
        for ticket in tickets:
            kinds = [e.kind for e in ticket.events]
            if "callback-answered" in kinds:
                continue
            record = counts.get(ticket.caller_number, {"tickets": 1, "prank": 0, "silent": 0})
            waiting.append(
                {
                    **ticket_summary(ticket),
                    "callable": bool(NUMBER_RE.fullmatch(ticket.caller_number)),
                    "attempts": kinds.count("callback-requested"),
                    "record": record,
                    "review": record["prank"] >= review_after or record["silent"] >= review_after,
                }
            )
        return waiting

    async def call_back(self, ticket_id: int, extension: str, actor: str) -> str:
        """Ring the call-taker at `extension`, then the caller; returns the callback's leg id."""
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise CallbackError("no such ticket", Why.NOT_FOUND)
        number = ticket.caller_number
        if not NUMBER_RE.fullmatch(number):
            raise CallbackError("the caller's number is unknown or not diallable")
        phone = next((p for p in self._config.calltakers if p.extension == extension), None)
        if phone is None:
            raise CallbackError(f"no call-taker desk {extension[:16]!r}", Why.BAD_REQUEST)
        leg = f"callback-{ticket_id}-{secrets.token_hex(3)}"
        target = self._config.callbacks.dial.format(number=number)
        await self._telephony.call_back(phone.interface, target, ticket_id, leg)
        await self._tickets.note(
            ticket_id,
            actor,
            "callback-requested",
            {"extension": extension, "number": number, "leg": leg},
        )
        return leg


async def dialled(channel: Channel, tickets: Tickets) -> None:
    """FastAGI `callback`: the dial to the caller is over; record how it went on the ticket."""
    ticket_id = dialplan.agi_int(await channel.get_variable(dialplan.TICKET_ID), None)
    if ticket_id is None:
        return
    status = await channel.get_variable(dialplan.DIAL_STATUS)
    talked = await channel.get_variable(dialplan.ANSWERED_TIME)
    await tickets.note(
        ticket_id,
        "asterisk",
        OUTCOMES.get(status, "callback-failed"),
        {
            "status": status[:32],
            "seconds": float(talked) if SECONDS_RE.fullmatch(talked) else 0.0,
            "leg": channel.unique_id[:64],
        },
    )
