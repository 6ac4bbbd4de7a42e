"""Telephony facts: what Asterisk told us about calls and call-takers, as plain typed values.

The adapters in telephony/ produce them (nothing else sees a raw AMI dict or CDR line); the fact
table (live/fact_table.py) hands each to the handlers every package subscribed for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> datetime:
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
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallQueued:
    call: CallRef
    queue: str
    position: int = 0
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallAnswered:
    call: CallRef
    queue: str
    # The queue member interface that answered, e.g. PJSIP/2001.
    calltaker: str
    # That call-taker's channel, e.g. PJSIP/2001-0000002a: moved into a conference on dispatch.
    calltaker_channel: str = ""
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallLeftQueue:
    """The caller left the call-takers' queue: to a call-taker, to an agency (overflow), on hold,
    or gone. What follows says which; until they are queued again, they are not waiting."""

    call: CallRef
    queue: str
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallAbandoned:
    call: CallRef
    queue: str
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallEnded:
    call: CallRef
    cause: str = ""
    at: datetime = field(default_factory=utc_now)
    # When known (CDR): when the call started, so a reconciled ticket gets its real arrival time.
    started_at: datetime | None = None


@dataclass(frozen=True)
class CallSeen:
    """A 112 call found alive by a resync after (re)connecting to Asterisk."""

    call: CallRef
    in_queue: bool
    started_at: datetime | None = None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class ChannelsAlive:
    """Every channel Asterisk had at `at` (unique and linked ids), from a complete channel list.

    A caller's call still open in the database whose channel is not among them ended without our
    hearing of it (its Hangup fell in an AMI outage and no CDR line named it): it is closed.
    """

    ids: frozenset[str]
    at: datetime = field(default_factory=utc_now)


# The hangup cause of a call closed because its channel was gone (see ChannelsAlive).
CHANNEL_GONE = "gone: no channel in Asterisk"

# The hangup cause of a call Asterisk hung up because no audio came from the caller's phone any
# more (its RTP timeout): the phone vanished without hanging up, as when a mobile network drops.
MEDIA_LOST = "media lost: no audio from the phone"


# Agency channels the controller originates get the unique id f"{DISPATCH_LEG_PREFIX}{dispatch id}".
DISPATCH_LEG_PREFIX = "dispatch-"


@dataclass(frozen=True)
class AgencyLegEnded:
    """The channel of an agency brought into a call hung up (it carries our dispatch leg id)."""

    leg_id: str
    cause: str = ""
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class AgencyKeyPressed:
    """An agency's desk phone, called about an assignment, pressed a key (or none: ""). Read from
    the callout's UserEvent: the assignment id as ASCII digits, the key one character at most;
    whether the channel is one the controller placed is for routing to check."""

    unique_id: str
    assignment_id: int
    key: str
    at: datetime = field(default_factory=utc_now)


# ---- call-takers at the queue -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueMember:
    """A call-taker's phone as the queue sees it. Asterisk sends all of it with every member event,
    so each one is a whole snapshot, not a delta."""

    interface: str  # e.g. PJSIP/2001
    name: str = ""
    queue: str = ""
    # Asterisk's device state: 1 idle, 2 in use, 3 busy, 4 invalid, 5 unavailable, 6 ringing,
    # 7 ringing while in use, 8 on hold (0 unknown).
    device: int = 0
    paused: bool = False
    reason: str = ""
    in_call: bool = False
    last_call: float = 0.0  # epoch seconds when their last queue call ended (0: none yet)
    wrapup: int = 0  # seconds of wrap-up after each call
    calls_taken: int = 0


@dataclass(frozen=True)
class MemberChanged:
    """A call-taker joined the queue, left it, paused, or their phone's state changed."""

    member: QueueMember
    logged_in: bool  # False when they left the queue
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class MembersResynced:
    """Everyone in the queue right now (after a (re)connect): whoever is missing has logged out."""

    members: tuple[QueueMember, ...]
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallOffered:
    """The queue rings a call-taker's phone with this call."""

    call: CallRef
    interface: str
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallNotPickedUp:
    """The call-taker's phone rang out; the queue tries the next one."""

    call: CallRef
    interface: str
    ring_seconds: float = 0.0
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CallCompleted:
    """A call-taker's queue call is over (hung up, or moved on to a conference/hold)."""

    call: CallRef
    interface: str
    talk_seconds: float = 0.0
    reason: str = ""  # caller, agent, transfer
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class KeyPressed:
    """The caller pressed a key (AMI DTMFEnd, received on their channel), wherever they are: the
    menu while waiting reads it (ivr/waiting.py); a key elsewhere in the call means nothing."""

    call: CallRef
    digit: str
    at: datetime = field(default_factory=utc_now)


# Every fact the telephony adapters produce.
CallEvent = (
    CallArrived
    | CallQueued
    | CallLeftQueue
    | CallAnswered
    | CallAbandoned
    | CallEnded
    | CallSeen
    | ChannelsAlive
    | AgencyLegEnded
    | AgencyKeyPressed
    | MemberChanged
    | MembersResynced
    | CallOffered
    | CallNotPickedUp
    | CallCompleted
    | KeyPressed
)
