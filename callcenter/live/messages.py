"""What the live views receive: messages for the consoles, the board and (later) agencies.

They are published on the bus (live/bus.py) after the change they describe is committed; the
WebSocket feed (web/live.py) shapes them for each viewer. Telephony facts are in live/facts.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .facts import utc_now


@dataclass(frozen=True)
class DispatchAlert:
    """No target of an agency answered: the call-taker must know at once (the caller is with them)."""

    ticket_id: int
    unique_id: str
    agency: str
    # The queue member who has the call (e.g. PJSIP/2001), "" if none did.
    calltaker: str = ""
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class TicketChanged:
    """Published after every stored change to a ticket: one per ticket event written (with it), or
    with `event` None for a change that writes none (the live transcript growing)."""

    ticket_id: int
    kind: str
    status: str
    # The ticket after the change, as the API shows it in lists (no calls or events).
    ticket: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] | None = None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class DeskChanged:
    """A call-taker's state changed (the board and their own console show it)."""

    extension: str
    username: str
    desk: dict[str, Any]
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class ScreenPop:
    """A call rings at, or was answered by, this call-taker: their console shows its ticket."""

    username: str
    stage: str  # "ringing" or "answered"
    unique_id: str
    ticket: dict[str, Any]
    # When Asterisk reported it (the AMI event's arrival), for measuring the pop's delay.
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class BoardChanged:
    """The supervisors' board, recomputed (live calls, desks, today's figures)."""

    board: dict[str, Any]
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class AssignmentChanged:
    """An agency's assignment to a ticket was made or moved (routing/agency_loop.py). A decline
    hands the ticket back to the centre (`back_to_centre`): the console must find another agency."""

    ticket_id: int
    assignment_id: int
    agency: str
    status: str
    previous: str | None  # None: just assigned
    actor: str
    assignment: dict[str, Any]
    back_to_centre: bool = False
    # The desks (their interfaces) that answered the ticket's calls, on a decline: their
    # consoles are alerted too (web/live.py).
    answered_at: tuple[str, ...] = ()
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class AgencyOverdue:
    """An agency missed a deadline and was already alerted again: the supervisors' board shows
    it with sound."""

    ticket_id: int
    assignment_id: int
    agency: str
    deadline: str  # acknowledge, on-scene, cleared
    due_at: datetime
    status: str
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class OutageChanged:
    """A part of the centre (Asterisk, AMI, the database, speech) went down or came back: every
    part down now, with since when and the banner's words (empty: all is well)."""

    down: tuple[dict[str, str], ...]
    at: datetime = field(default_factory=utc_now)


# Everything the bus carries.
ViewMessage = (
    DispatchAlert
    | TicketChanged
    | DeskChanged
    | ScreenPop
    | BoardChanged
    | AssignmentChanged
    | AgencyOverdue
    | OutageChanged
)
