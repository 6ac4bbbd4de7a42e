"""Overflow: no call-taker can take the call (none logged in, or the caller waited too long), so
the dialplan rings the category's agency directly. FastAGI routes, called by the dialplan around
its Dial(): `overflow` picks the agency; `ring`, `answered` (run on the agency's channel the moment
it picks up) and `dialled` record each target's attempt; `unanswered` raises the alert.

When the controller is down the dialplan rings the default agency without them (extensions.conf).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ..config import Config
from ..live.facts import CallRef
from ..telephony import dialplan
from ..telephony.channel import Channel
from ..tickets.calls import Calls
from ..tickets.models import now
from .agencies import agency_for
from .dispatch import Dispatcher
from .dispatch_log import DispatchLog

log = logging.getLogger(__name__)

# Dial()'s DIALSTATUS → our dispatch outcome.
OUTCOMES = {
    "ANSWER": "answered",
    "NOANSWER": "no-answer",
    "BUSY": "busy",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
    "CANCEL": "cancelled",
}


def _call(channel: Channel) -> CallRef:
    return CallRef(
        unique_id=channel.unique_id,
        channel=channel.channel_name,
        linked_id=channel.linked_id,
        caller_number=channel.caller_number,
        caller_name=channel.caller_name,
    )


async def overflow(channel: Channel, calls: Calls, config: Config) -> None:
    """Choose the agency and tell the dialplan whom to ring, in order (or, for a call that is not
    an emergency, that it waits for a call-taker)."""
    reason = (await channel.get_variable(dialplan.QUEUE_STATUS))[:32] or "unknown"
    ticket = await calls.open_ticket(_call(channel), source="reconciled")
    category = config.categories.get(ticket.category) if ticket.category else None
    if category is not None and not category.emergency:
        # The caller chose informasi while waiting: a person answers them, never an agency.
        await channel.set_variable(dialplan.OVERFLOW, "no")
        return
    agency = agency_for(config, ticket.category)
    await calls.note(
        channel.unique_id,
        "asterisk",
        "overflow",
        {"reason": reason, "agency": agency.id, "category": ticket.category},
    )
    log.warning(
        "call %s: overflow (%s) to %s, ticket %d", channel.unique_id, reason, agency.id, ticket.id
    )
    targets = agency.targets()
    for i, target in enumerate(targets, 1):
        await channel.set_variable(dialplan.TARGET.format(i), target)
        await channel.set_variable(dialplan.RING.format(i), str(agency.ring_timeout))
    await channel.set_variable(dialplan.AGENCY, agency.id)
    await channel.set_variable(dialplan.TARGET_COUNT, str(len(targets)))


async def ring(channel: Channel, dispatches: DispatchLog, config: Config) -> None:
    """The dialplan is about to ring NGALAM_TARGET: record the attempt."""
    agency = await channel.get_variable(dialplan.AGENCY)
    target = await channel.get_variable(dialplan.CURRENT_TARGET)
    known = config.agency(agency)
    if known is None or target not in known.targets():
        log.warning("call %s: ring for unknown %r/%r", channel.unique_id, agency[:40], target[:80])
        return
    dispatch = await dispatches.start(_call(channel), agency, target, "overflow", "asterisk")
    await channel.set_variable(dialplan.DISPATCH_ID, str(dispatch.id))


async def answered(channel: Channel, dispatches: DispatchLog) -> None:
    """The agency picked up (Dial's U() Gosub passes the dispatch id as ARG1): the ticket is theirs
    from now, not only once the call is over."""
    dispatch_id = dialplan.agi_int(await channel.get_variable(dialplan.ANSWERED_DISPATCH_ID), None)
    if dispatch_id is not None:
        await dispatches.outcome(dispatch_id, "answered", "ANSWER")


async def dialled(channel: Channel, dispatches: DispatchLog) -> None:
    """Dial() returned: record whether the agency answered and for how long."""
    dispatch_id = dialplan.agi_int(await channel.get_variable(dialplan.DISPATCH_ID), None)
    if dispatch_id is None:
        return
    status = await channel.get_variable(dialplan.DIAL_STATUS)
    outcome = OUTCOMES.get(status, "failed")
    if outcome != "answered":
        await dispatches.outcome(dispatch_id, outcome, status[:32])
        return
    talked = _seconds(await channel.get_variable(dialplan.ANSWERED_TIME))
    ended = now()
    await dispatches.outcome(
        dispatch_id,
        "ended",
        "call over",
        # Kept if `answered` already recorded the moment (it is the more exact one).
        answered_at=ended - timedelta(seconds=talked),
        ended_at=ended,
    )


async def unanswered(channel: Channel, dispatcher: Dispatcher) -> None:
    """No target answered: alert; the dialplan puts the caller back in the queue."""
    agency = (await channel.get_variable(dialplan.AGENCY))[:64]
    await dispatcher.failed(_call(channel), agency, "asterisk")


def _seconds(text: str) -> float:
    try:
        return max(0.0, float(text))
    except ValueError:
        return 0.0
