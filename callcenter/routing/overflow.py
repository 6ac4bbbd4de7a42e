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
from ..ivr import variables
from ..ivr.channel import Channel
from ..live.events import CallRef
from ..tickets.models import now
from ..tickets.store import TicketStore
from .agencies import agency_for

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


async def overflow(channel: Channel, tickets: TicketStore, config: Config) -> None:
    """Choose the agency and tell the dialplan whom to ring, in order."""
    reason = (await channel.get_variable(variables.QUEUE_STATUS))[:32] or "unknown"
    ticket = await tickets.open_ticket(_call(channel), source="reconciled")
    agency = agency_for(config, ticket.category)
    await tickets.note(
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
        await channel.set_variable(variables.TARGET.format(i), target)
        await channel.set_variable(variables.RING.format(i), str(agency.ring_timeout))
    await channel.set_variable(variables.AGENCY, agency.id)
    await channel.set_variable(variables.TARGET_COUNT, str(len(targets)))


async def ring(channel: Channel, tickets: TicketStore, config: Config) -> None:
    """The dialplan is about to ring NGALAM_TARGET: record the attempt."""
    agency = await channel.get_variable(variables.AGENCY)
    target = await channel.get_variable(variables.CURRENT_TARGET)
    known = config.agency(agency)
    if known is None or target not in known.targets():
        log.warning("call %s: ring for unknown %r/%r", channel.unique_id, agency[:40], target[:80])
        return
    dispatch = await tickets.start_dispatch(_call(channel), agency, target, "overflow", "asterisk")
    await channel.set_variable(variables.DISPATCH_ID, str(dispatch.id))


async def answered(channel: Channel, tickets: TicketStore, config: Config) -> None:
    """The agency picked up (Dial's U() Gosub passes the dispatch id as ARG1): the ticket is theirs
    from now, not only once the call is over."""
    dispatch_id = await channel.get_variable("ARG1")
    if dispatch_id.isdigit():
        await tickets.dispatch_outcome(int(dispatch_id), "answered", "ANSWER")


async def dialled(channel: Channel, tickets: TicketStore, config: Config) -> None:
    """Dial() returned: record whether the agency answered and for how long."""
    dispatch_id = await channel.get_variable(variables.DISPATCH_ID)
    if not dispatch_id.isdigit():
        return
    status = await channel.get_variable(variables.DIAL_STATUS)
    outcome = OUTCOMES.get(status, "failed")
    if outcome != "answered":
        await tickets.dispatch_outcome(int(dispatch_id), outcome, status[:32])
        return
    talked = _seconds(await channel.get_variable(variables.ANSWERED_TIME))
    ended = now()
    await tickets.dispatch_outcome(
        int(dispatch_id),
        "ended",
        "call over",
        # Kept if `answered` already recorded the moment (it is the more exact one).
        answered_at=ended - timedelta(seconds=talked),
        ended_at=ended,
    )


async def unanswered(channel: Channel, tickets: TicketStore, config: Config) -> None:
    """No target answered: alert; the dialplan puts the caller back in the queue."""
    agency = (await channel.get_variable(variables.AGENCY))[:64]
    await tickets.dispatch_failed(_call(channel), agency, "asterisk")


def _seconds(text: str) -> float:
    try:
        return max(0.0, float(text))
    except ValueError:
        return 0.0
