"""Plain domain events. The telephony adapters produce them; nothing else sees a raw AMI dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CallRef:
    """What identifies a caller's channel, with the caller ID exactly as Asterisk reported it.

    Events carry it whole so that any of them can open the ticket the IVR could not open
    (controller down, AGI failed): the ticket is reconciled from whatever we see first.
    """

    unique_id: str
    channel: str = ""
    linked_id: str = ""
    caller_number: str | bytes = ""
    caller_name: str | bytes = ""


@dataclass(frozen=True)
class CallArrived:
    """A 112 call's channel appeared in Asterisk: its ticket opens now, before the IVR."""

    call: CallRef
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class CallQueued:
    call: CallRef
    queue: str
    position: int = 0
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class CallAnswered:
    call: CallRef
    queue: str
    # The queue member interface that answered, e.g. PJSIP/2001.
    calltaker: str
    # That call-taker's channel, e.g. PJSIP/2001-0000002a: moved into a conference on dispatch.
    calltaker_channel: str = ""
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class CallAbandoned:
    call: CallRef
    queue: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class CallEnded:
    call: CallRef
    cause: str = ""
    at: datetime = field(default_factory=_now)
    # When known (CDR): when the call started, so a reconciled ticket gets its real arrival time.
    started_at: datetime | None = None


@dataclass(frozen=True)
class CallSeen:
    """A 112 call found alive by a resync after (re)connecting to Asterisk."""

    call: CallRef
    in_queue: bool
    started_at: datetime | None = None
    at: datetime = field(default_factory=_now)


# Agency channels the controller originates get the unique id f"{DISPATCH_LEG_PREFIX}{dispatch id}".
DISPATCH_LEG_PREFIX = "dispatch-"


@dataclass(frozen=True)
class AgencyLegEnded:
    """The channel of an agency brought into a call hung up (it carries our dispatch leg id)."""

    leg_id: str
    cause: str = ""
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class DispatchAlert:
    """No target of an agency answered: the call-taker must know at once (the caller is with them)."""

    ticket_id: int
    unique_id: str
    agency: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class TicketChanged:
    """Published after every stored change to a ticket, for the live views."""

    ticket_id: int
    kind: str
    status: str
    at: datetime = field(default_factory=_now)


CallEvent = (
    CallArrived | CallQueued | CallAnswered | CallAbandoned | CallEnded | CallSeen | AgencyLegEnded
)
