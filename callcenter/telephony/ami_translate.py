"""AMI events as domain events: what Asterisk tells us, translated, and nothing else.

The subscription table `EVENTS` is the one place that says which Asterisk events we listen to.
Pure functions, no connection: the AMI client (ami.py) feeds them, and the tests call them alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from ..live.facts import (
    DISPATCH_LEG_PREFIX,
    MEDIA_LOST,
    AgencyKeyPressed,
    AgencyLegEnded,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallCompleted,
    CallEnded,
    CallEvent,
    CallLeftQueue,
    CallNotPickedUp,
    CallOffered,
    CallQueued,
    CallRef,
    CallSeen,
    ChannelsAlive,
    KeyPressed,
    MemberChanged,
    MembersResynced,
    QueueMember,
)
from .dialplan import (
    CALLOUT_EVENT,
    CALLOUT_PREFIX,
    EMERGENCY_EXTEN,
    OLD_EMERGENCY_NUMBERS,
    PUBLIC_CONTEXT,
    agi_int,
)

log = logging.getLogger(__name__)

Ami = Mapping[str, str]


def _call(event: Ami) -> CallRef:
    return CallRef(
        unique_id=event.get("Uniqueid", ""),
        channel=event.get("Channel", ""),
        linked_id=event.get("Linkedid", ""),
        caller_number=event.get("CallerIDNum", ""),
        caller_name=event.get("CallerIDName", ""),
    )


def is_caller_channel(channel: str) -> bool:
    """False for the originating half (;1) of a Local channel: it reports the dialplan location
    it called into (public/112) but is not a caller; the ;2 half is the one that runs the IVR."""
    return not (channel.startswith("Local/") and channel.endswith(";1"))


def _is_emergency_call(event: Ami) -> bool:
    return (
        event.get("Context") == PUBLIC_CONTEXT
        and event.get("Exten") == EMERGENCY_EXTEN
        and is_caller_channel(event.get("Channel", ""))
    )


def _new_channel(event: Ami) -> CallEvent | None:
    dialled = event.get("Exten") in (EMERGENCY_EXTEN, *OLD_EMERGENCY_NUMBERS)
    is_ours = event.get("Context") == PUBLIC_CONTEXT and dialled
    return (
        CallArrived(_call(event))
        if is_ours and is_caller_channel(event.get("Channel", ""))
        else None
    )


def _new_caller_id(event: Ami) -> CallEvent | None:
    """A 112 caller's number known only now: a Local channel's Newchannel says <unknown>, the
    number follows at once. Told as the call's arrival again (idempotent), so its ticket has the
    number even if the call ends where no later event or call record carries it (an Asterisk
    killed during the welcome)."""
    return _new_channel(event) if event.get("CallerIDNum", "") else None


def _queue_caller_join(event: Ami) -> CallEvent | None:
    return CallQueued(
        _call(event), queue=event.get("Queue", ""), position=_int(event.get("Position"))
    )


def _queue_caller_leave(event: Ami) -> CallEvent | None:
    return CallLeftQueue(_call(event), queue=event.get("Queue", ""))


def _agent_connect(event: Ami) -> CallEvent | None:
    return CallAnswered(
        _call(event),
        queue=event.get("Queue", ""),
        calltaker=event.get("Interface", event.get("MemberName", "")),
        calltaker_channel=event.get("DestChannel", ""),
    )


def _queue_caller_abandon(event: Ami) -> CallEvent | None:
    return CallAbandoned(_call(event), queue=event.get("Queue", ""))


# The cause Asterisk gives a PJSIP channel it hangs up for lack of RTP (res_pjsip_sdp_rtp's
# rtp_timeout): 44, "requested channel not available". A caller's own channel, which Asterisk
# answered, gets it no other way (on a channel Asterisk dials out it may mean a refusal instead).
RTP_TIMEOUT_CAUSE = "44"


def _caller_hangup_cause(event: Ami) -> str:
    if event.get("Cause") == RTP_TIMEOUT_CAUSE and event.get("Channel", "").startswith("PJSIP/"):
        return MEDIA_LOST
    return event.get("Cause-txt", event.get("Cause", ""))


def _hangup(event: Ami) -> CallEvent | None:
    unique_id = event.get("Uniqueid", "")
    if unique_id.startswith(DISPATCH_LEG_PREFIX):
        return AgencyLegEnded(unique_id, cause=event.get("Cause-txt", event.get("Cause", "")))
    if not _is_emergency_call(event):
        return None  # call-takers' and agencies' legs end too; the caller's leg is what counts
    return CallEnded(_call(event), cause=_caller_hangup_cause(event))


def queue_member(event: Ami) -> QueueMember:
    """The member record every QueueMember* event (and QueueStatus) carries."""
    return QueueMember(
        interface=event.get("Interface", event.get("Location", "")),
        name=event.get("MemberName", event.get("Name", "")),
        queue=event.get("Queue", ""),
        device=_int(event.get("Status")),
        paused=event.get("Paused") == "1",
        reason=event.get("PausedReason", "")[:64],
        in_call=event.get("InCall") == "1",
        last_call=float(_int(event.get("LastCall"))),
        wrapup=_int(event.get("Wrapuptime")),
        calls_taken=_int(event.get("CallsTaken")),
    )


def _member_changed(event: Ami) -> CallEvent | None:
    return MemberChanged(queue_member(event), logged_in=event.get("Event") != "QueueMemberRemoved")


def _agent_called(event: Ami) -> CallEvent | None:
    return CallOffered(_call(event), interface=event.get("Interface", ""))


def _agent_ring_no_answer(event: Ami) -> CallEvent | None:
    ring_ms = _int(event.get("RingTime"))
    return CallNotPickedUp(
        _call(event), interface=event.get("Interface", ""), ring_seconds=ring_ms / 1000
    )


def _agent_complete(event: Ami) -> CallEvent | None:
    return CallCompleted(
        _call(event),
        interface=event.get("Interface", ""),
        talk_seconds=float(_int(event.get("TalkTime"))),
        reason=event.get("Reason", "")[:32],
    )


# The keys a phone can send (RFC 4733 and in-band detection both give these).
DIGITS = frozenset("0123456789*#ABCD")


def _dtmf_end(event: Ami) -> CallEvent | None:
    """A key the caller pressed. Sent DTMF (our own SendDTMF, say) is not the caller's."""
    digit = event.get("Digit", "")
    if event.get("Direction") != "Received" or not _is_emergency_call(event):
        return None
    # Anything else is not a key a person pressed: kept as "?" so it is seen, never acted on.
    return KeyPressed(_call(event), digit=digit if digit in DIGITS else "?")


# The keys an agency's desk phone may answer a callout with (Read() leaves "" for none).
CALLOUT_KEYS = frozenset("0123456789*#")


def _user_event(event: Ami) -> CallEvent | None:
    """A callout's key (UserEvent AgencyCallout from the dialplan); every other user event, and
    one from a channel the controller did not name as a callout, is not ours. Untrusted text:
    the assignment id must be ASCII digits, the key one known character."""
    unique_id = event.get("Uniqueid", "")
    if event.get("UserEvent") != CALLOUT_EVENT or not unique_id.startswith(CALLOUT_PREFIX):
        return None
    assignment_id = agi_int(event.get("Assignment", ""), None)
    if assignment_id is None:
        log.warning("callout %s: unreadable assignment id; key ignored", unique_id[:80])
        return None
    key = event.get("Key", "")
    return AgencyKeyPressed(
        unique_id[:80], assignment_id, key=key if key in CALLOUT_KEYS or key == "" else "?"
    )


# The subscription table: Asterisk event → translation into a domain event (None: not ours).
EVENTS: dict[str, Callable[[Ami], CallEvent | None]] = {
    "Newchannel": _new_channel,
    "NewCallerid": _new_caller_id,
    "QueueCallerJoin": _queue_caller_join,
    "QueueCallerLeave": _queue_caller_leave,
    "AgentCalled": _agent_called,
    "AgentRingNoAnswer": _agent_ring_no_answer,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "QueueCallerAbandon": _queue_caller_abandon,
    "Hangup": _hangup,
    "QueueMemberAdded": _member_changed,
    "QueueMemberRemoved": _member_changed,
    "QueueMemberPause": _member_changed,
    "QueueMemberStatus": _member_changed,
    "DTMFEnd": _dtmf_end,
    "UserEvent": _user_event,
}


# Every event the controller's AMI user receives: manager.conf filters the rest inside Asterisk, so
# a burst of calls does not cost the controller parsing events it would drop (a 112 call raises
# dozens: Newexten, VarSet, bridges…). OriginateResponse ends a dispatch's ringing.
RECEIVED_EVENTS = sorted({*EVENTS, "OriginateResponse"})


def translate(event: Ami) -> CallEvent | None:
    handler = EVENTS.get(event.get("Event", ""))
    return handler(event) if handler else None


def channels_to_resync(channels: list[Ami], at: datetime) -> list[CallEvent]:
    """The 112 calls alive in Asterisk right now (CoreShowChannel events), as CallSeen events."""
    seen: list[CallEvent] = []
    for ch in channels:
        if ch.get("Event") != "CoreShowChannel" or not _is_emergency_call(ch):
            continue
        started = at - _duration(ch.get("Duration", ""))
        seen.append(
            CallSeen(
                _call(ch), in_queue=ch.get("Application") == "Queue", started_at=started, at=at
            )
        )
    return seen


def channels_alive(replies: Sequence[Ami], at: datetime) -> ChannelsAlive | None:
    """Every channel's unique and linked id, or None unless the list is provably whole: a cut-off
    list would make live calls look ended."""
    complete = [m for m in replies if m.get("Event") == "CoreShowChannelsComplete"]
    channels = [m for m in replies if m.get("Event") == "CoreShowChannel"]
    if len(complete) != 1 or complete[0].get("ListItems") != str(len(channels)):
        return None
    ids = {m.get(key, "") for m in channels for key in ("Uniqueid", "Linkedid")}
    return ChannelsAlive(frozenset(ids - {""}), at=at)


def members_to_resync(replies: Sequence[Ami], queue: str, at: datetime) -> MembersResynced:
    """The call-takers in our queue right now (QueueStatus's QueueMember events)."""
    members = [
        queue_member(m)
        for m in replies
        if m.get("Event") == "QueueMember" and m.get("Queue") == queue
    ]
    return MembersResynced(tuple(members), at=at)


def _duration(text: str) -> timedelta:
    try:
        h, m, s = (int(x) for x in text.split(":"))
        return timedelta(hours=h, minutes=m, seconds=s)
    except ValueError:
        return timedelta(0)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0
