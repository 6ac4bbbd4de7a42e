"""Calling back callers who hung up before a call-taker answered, or were cut off.

The callback list has one entry per number that hung up before a call-taker answered, or whose
call was cut off because their phone's audio stopped (a mobile network dropping them: the ticket
is flagged media-lost, answered or not), within
`[callbacks] window_hours`: how many times and when it rang, and its newest ticket, which a
callback attaches to. The entry clears once that number is reached: a later call from it answered
by a call-taker, or a callback to it answered; a call abandoned after that starts a new entry.
Anonymous and unknown numbers are not one person: each such call is an entry of its own, and
cannot be called back. One click rings the chosen call-taker's phone; when they pick up, Asterisk
dials the caller (`[callbacks] dial`), showing 112, and the `callback` FastAGI route records on
the ticket whether the caller answered and for how long. Numbers that keep calling silently or as
a prank are shown with their counts, for a supervisor to review.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..config import Config
from ..refused import Refused, Why
from ..telephony import dialplan
from ..telephony.channel import Channel
from ..tickets.lifecycle import MEDIA_LOST_FLAG
from ..tickets.models import Ticket, now
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
# What a callback left on a ticket, after it was asked for.
CALLBACK_ENDS = (*OUTCOMES.values(), "callback-failed")


class CallbackPort(Protocol):
    async def call_back(self, calltaker: str, target: str, ticket_id: int, leg_id: str) -> None: ...


class CallbackError(Refused):
    """No callback: no such ticket, a number that cannot be dialled, or no such desk."""


def callable_number(number: str) -> bool:
    return bool(NUMBER_RE.fullmatch(number))


@dataclass(frozen=True)
class CallbackEntry:
    """One line of the callback list: a number's calls not answered since it was last reached,
    newest first (`tickets[0]` is the one a callback attaches to); an unknown number's one call."""

    number: str
    callable: bool
    tickets: tuple[Ticket, ...]

    @property
    def latest(self) -> Ticket:
        return self.tickets[0]


def missed_at(ticket: Ticket) -> datetime:
    """When the centre lost this caller: the call's arrival for one who hung up unanswered, the
    moment it was cut off for one whose audio stopped after a call-taker had answered (their own
    answer, before that, does not count as reaching them)."""
    if MEDIA_LOST_FLAG in ticket.flags and ticket.answered_at is not None and ticket.ended_at:
        return ticket.ended_at
    return ticket.arrived_at


def callback_list(
    abandoned: Sequence[Ticket], reached: Mapping[str, datetime]
) -> list[CallbackEntry]:
    """Group abandoned tickets (newest first, with their events) by caller number, newest entry
    first. `reached` holds, per number, the last time it was reached: a later call answered by a
    call-taker, or a callback answered. A callback answered on one of these tickets counts too.
    A call that rang before its number was last reached is off the list."""
    # A number gathers its calls; an unknown number's call stands alone, under its ticket id.
    groups: dict[str | int, list[Ticket]] = {}
    for ticket in abandoned:
        number = ticket.caller_number
        groups.setdefault(number if callable_number(number) else ticket.id, []).append(ticket)
    listed = []
    for key, tickets in groups.items():  # first seen first: the newest call's entry first
        number = tickets[0].caller_number
        times = [e.at for t in tickets for e in t.events if e.kind == "callback-answered"]
        if isinstance(key, str) and key in reached:
            times.append(reached[key])
        last_reached = max(times, default=None)
        waiting = tuple(t for t in tickets if last_reached is None or missed_at(t) > last_reached)
        if waiting:
            listed.append(CallbackEntry(number, isinstance(key, str), waiting))
    return listed


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def entry_json(entry: CallbackEntry, record: dict[str, int], review_after: int) -> dict[str, Any]:
    """An entry as GET /api/callbacks shows it."""
    events = sorted((e for t in entry.tickets for e in t.events), key=lambda e: e.at)
    ended = [e for e in events if e.kind in CALLBACK_ENDS]
    return {
        "number": entry.number,
        "callable": entry.callable,
        "count": len(entry.tickets),
        "calls": [
            {"ticket_id": t.id, "arrived_at": _time(t.arrived_at), "category": t.category}
            for t in entry.tickets
        ],
        "ticket": ticket_summary(entry.latest),
        "attempts": sum(1 for e in events if e.kind == "callback-requested"),
        "last_callback": ({"kind": ended[-1].kind, "at": _time(ended[-1].at)} if ended else None),
        "record": record,
        "review": record["prank"] >= review_after or record["silent"] >= review_after,
    }


class Callbacks:
    def __init__(self, config: Config, tickets: Tickets, telephony: CallbackPort):
        self._config = config
        self._tickets = tickets
        self._telephony = telephony

    async def waiting(self) -> list[dict[str, Any]]:
        """One entry per number not yet reached since it hung up unanswered, newest first, with
        its calls and its record; from three reads whatever the number of callers."""
        since = now() - timedelta(hours=self._config.callbacks.window_hours)
        abandoned = await self._tickets.abandoned_since(since)
        numbers = sorted({t.caller_number for t in abandoned if callable_number(t.caller_number)})
        reached = await self._tickets.last_reached(numbers, since)
        entries = callback_list(abandoned, reached)
        counts = await self._tickets.caller_counts([e.number for e in entries if e.callable])
        review_after = self._config.prank_policy.review_after
        alone = {"tickets": 1, "prank": 0, "silent": 0}
        return [
            entry_json(e, counts.get(e.number, alone) if e.callable else alone, review_after)
            for e in entries
        ]

    async def call_back(self, ticket_id: int, extension: str, actor: str) -> str:
        """Ring the call-taker at `extension`, then the caller; returns the callback's leg id."""
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise CallbackError("no such ticket", Why.NOT_FOUND)
        number = ticket.caller_number
        if not callable_number(number):
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
