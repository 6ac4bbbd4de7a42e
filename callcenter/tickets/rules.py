"""How a ticket's status moves as its call goes through the centre. Plain logic, no I/O."""

from __future__ import annotations

from enum import StrEnum


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
