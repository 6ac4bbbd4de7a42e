"""What the tickets do on each telephony fact (see live/fact_table.py)."""

from __future__ import annotations

import logging

from ..live.fact_table import FactTable
from ..live.facts import (
    CHANNEL_GONE,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallQueued,
    CallSeen,
    ChannelsAlive,
)
from .calls import Calls

log = logging.getLogger(__name__)


def subscribe(facts: FactTable, calls: Calls) -> None:
    async def arrived(fact: CallArrived) -> None:
        await calls.arrived(fact.call, fact.at)

    async def channels_alive(fact: ChannelsAlive) -> None:
        # Closed as if hung up, through the whole table: the desk, the recording and the
        # callback list all follow.
        for call in await calls.calls_gone(fact):
            log.warning("call %s has no channel in Asterisk any more: closed", call.unique_id)
            await facts.deliver(CallEnded(call, cause=CHANNEL_GONE, at=fact.at))

    facts.subscribe(CallArrived, arrived)
    facts.subscribe(CallQueued, calls.step)
    facts.subscribe(CallAnswered, calls.step)
    facts.subscribe(CallAbandoned, calls.step)
    facts.subscribe(CallEnded, calls.step)
    facts.subscribe(CallSeen, calls.seen)
    facts.subscribe(ChannelsAlive, channels_alive)
