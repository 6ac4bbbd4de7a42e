"""The ticket lifecycle: how a ticket's status, stamps and flags move as its call goes through
the centre, and what the words of a transcript may fill in. Plain logic, no I/O: the repositories
(tickets/calls.py, tickets/repository.py, speech/transcription_jobs.py) only store what these
rules decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..live.facts import MEDIA_LOST, CallAbandoned, CallAnswered, CallEnded, CallQueued
from .edits import TicketEdit
from .models import Call, Dispatch, Ticket


class Status(StrEnum):
    NEW = "new"  # the call arrived; the IVR is talking to the caller
    QUEUED = "queued"  # waiting for a call-taker
    ANSWERED = "answered"  # a call-taker has the caller
    ABANDONED = "abandoned"  # the caller hung up before a call-taker answered: call them back
    ENDED = "ended"  # the call is over after a call-taker handled it; the ticket lives on
    DISPATCHED = "dispatched"  # an agency answered and has the case, until it is resolved
    RESOLVED = "resolved"


# Each rule below only moves a ticket forward: a late or repeated telephony event (a QueueCallerJoin
# replayed by a resync after the call-taker answered, say) returns None and changes nothing.


def after_queued(current: Status) -> Status | None:
    return Status.QUEUED if current == Status.NEW else None


def after_answered(current: Status) -> Status | None:
    return Status.ANSWERED if current in (Status.NEW, Status.QUEUED) else None


def after_dispatched(current: Status) -> Status | None:
    """An agency answered: by a call-taker's conference or by overflow (so maybe nobody answered)."""
    return Status.DISPATCHED if current in (Status.NEW, Status.QUEUED, Status.ANSWERED) else None


def after_hangup(current: Status) -> Status | None:
    """A call that ends before any call-taker answered is abandoned: it goes on the callback list."""
    if current in (Status.NEW, Status.QUEUED):
        return Status.ABANDONED
    if current == Status.ANSWERED:
        return Status.ENDED
    return None


# ---- what a telephony fact does to a ticket ---------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A ticket's step on a telephony fact: the event written, the status rule, and the stamp."""

    kind: str
    rule: Callable[[Status], Status | None]
    data: dict[str, Any]
    stamp: str | None = None  # the ticket's timestamp column this step sets the first time


# The telephony facts that move a ticket a step.
StepFact = CallQueued | CallAnswered | CallAbandoned | CallEnded


def step_of(fact: StepFact) -> Step:
    """The step a call fact makes on its ticket."""
    match fact:
        case CallQueued():
            data = {"queue": fact.queue, "position": fact.position}
            return Step("queued", after_queued, data, "queued_at")
        case CallAnswered():
            data = {
                "queue": fact.queue,
                "calltaker": fact.calltaker,
                "calltaker_channel": fact.calltaker_channel,
            }
            return Step("answered", after_answered, data, "answered_at")
        case CallAbandoned():
            return Step("abandoned", after_hangup, {"queue": fact.queue})
        case CallEnded():
            return Step("ended", after_hangup, {"cause": fact.cause}, "ended_at")


# A call found waiting in the queue by a resync after (re)connecting to Asterisk.
QUEUED_AT_RESYNC = Step("queued", after_queued, {"resync": True}, "queued_at")


def record_on_call(call: Call, kind: str, at: datetime, data: dict[str, Any]) -> bool:
    """Keep what a step says about the call leg itself; False when it says nothing new.

    These facts hold whatever the ticket's status does (a dispatched ticket's call still ends).
    """
    if kind == "ended":
        if call.ended_at is not None:
            return False  # the same hangup seen twice (AMI and CDR)
        call.ended_at = at
        call.hangup_cause = data.get("cause") or None
        return True
    if kind == "answered":
        call.answered_at = call.answered_at or at
        # The latest answer counts: a caller back in the queue gets a new call-taker.
        call.calltaker = data["calltaker"][:64] or None
        call.calltaker_channel = data["calltaker_channel"][:256] or None
        return True
    return False


# ---- flags ---------------------------------------------------------------------------------------

# Outcomes that are also flags on the ticket: a non-emergency or prank call is flagged as such
# whoever found out (the IVR's menu or the call-taker).
OUTCOME_FLAGS = ("informasi", "prank")
# Ticket events that flag the ticket as they are written.
FLAGGING_EVENTS = ("overflow",)


def with_flags(flags: list[str], *more: str) -> list[str]:
    """`flags` plus those of `more` it lacks, in order (a new list: JSON columns need one)."""
    return [*flags, *(f for f in dict.fromkeys(more) if f not in flags)]


def flags_after_event(kind: str, flags: list[str]) -> list[str]:
    return with_flags(flags, kind) if kind in FLAGGING_EVENTS else flags


def flags_after_close(outcome: str, flags: list[str]) -> list[str]:
    return with_flags(flags, outcome) if outcome in OUTCOME_FLAGS else flags


# The flag of a call that ended because the caller's phone went silent for good (Asterisk's RTP
# timeout): they were cut off, they did not hang up, so lists and the caller's history say so.
MEDIA_LOST_FLAG = "media-lost"


def flags_after_step(step: Step, flags: list[str]) -> list[str]:
    """The ticket's flags once a telephony step is recorded on it."""
    if step.kind == "ended" and step.data.get("cause") == MEDIA_LOST:
        return with_flags(flags, MEDIA_LOST_FLAG)
    return flags


# ---- closing -----------------------------------------------------------------------------------


class AlreadyClosed(ValueError):
    """A closed ticket keeps its first outcome: a correction is an edit, not a second close."""


def close(ticket: Ticket, outcome: str, actor: str, at: datetime) -> None:
    """Classify the call and close its ticket (AlreadyClosed if it was)."""
    if ticket.closed_at is not None:
        raise AlreadyClosed(f"already closed as {ticket.outcome} by {ticket.closed_by}")
    ticket.outcome, ticket.closed_at, ticket.closed_by = outcome, at, actor
    ticket.flags = flags_after_close(outcome, ticket.flags)


# ---- dispatches -----------------------------------------------------------------------------------


def dispatch_outcome(
    ticket: Ticket,
    dispatch: Dispatch,
    outcome: str,
    reason: str,
    at: datetime,
    answered_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """How an agency's ringing ended. Answered (or over after an answer): the ticket is the
    agency's from the moment it answered; anything else is only recorded on the dispatch."""
    dispatch.outcome = outcome
    dispatch.reason = reason[:64] or None
    if outcome in ("answered", "ended"):
        dispatch.answered_at = dispatch.answered_at or answered_at or at
        ticket.agency = dispatch.agency
        ticket.dispatched_at = ticket.dispatched_at or dispatch.answered_at
        new_status = after_dispatched(Status(ticket.status))
        if new_status is not None:
            ticket.status = new_status
    if ended_at is not None:
        dispatch.ended_at = ended_at
        dispatch.outcome = "ended" if dispatch.answered_at else outcome


# ---- what a call-taker's edit and a transcript's words change ----------------------------------


def apply_edit(
    ticket: Ticket, edit: TicketEdit, item_texts: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Apply a checked edit to the ticket; what changed, from what, to what ({} when nothing
    did). `item_texts`: protocol item id → its text, kept with each tick."""
    changes: dict[str, dict[str, Any]] = {}

    def change(name: str, old: Any, new: Any) -> None:
        if old != new:
            changes[name] = {"from": old, "to": new}
            setattr(ticket, name, new)

    for name, value in edit.text.items():
        change(name, getattr(ticket, name), value)
    if edit.has_category:
        change("category", ticket.category, edit.category)
    for name, value in edit.place.items():
        change(name, getattr(ticket, name), value or None)
    if edit.flags:
        flags = [f for f in ticket.flags if edit.flags.get(f, True)]
        flags += [f for f, on in edit.flags.items() if on and f not in flags]
        change("flags", list(ticket.flags), flags)
    if edit.checklist:
        ticked = dict(ticket.checklist)
        for item, on in edit.checklist.items():
            if on:
                ticked.setdefault(item, item_texts.get(item, item))
            else:
                ticked.pop(item, None)
        change("checklist", dict(ticket.checklist), ticked)
    return changes


def fill_from_words(
    ticket: Ticket, suggestion: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Where the IVR and the call-taker left the category or the place open, the transcript's
    words fill it in; never over what a person chose. The ticket events saying so, with their
    evidence."""
    events: list[tuple[str, dict[str, Any]]] = []
    category = suggestion.get("category")
    if ticket.category is None and category:
        ticket.category = category
        events.append(
            ("category-from-words", {"category": category, "evidence": suggestion["evidence"]})
        )
    if ticket.kecamatan is None and suggestion.get("kecamatan"):
        ticket.kecamatan = suggestion["kecamatan"]
        ticket.kelurahan = ticket.kelurahan or suggestion.get("kelurahan")
        events.append(
            (
                "place-from-words",
                {k: suggestion.get(k) for k in ("kecamatan", "kelurahan", "heard")},
            )
        )
    return events
