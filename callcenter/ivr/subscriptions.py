"""What the menu while waiting does on each telephony fact (see live/fact_table.py).
Subscribed after the tickets: a key is recorded on a ticket that already says the call is queued."""

from __future__ import annotations

from ..live.fact_table import FactTable
from ..live.facts import (
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallLeftQueue,
    CallNotPickedUp,
    CallOffered,
    CallQueued,
    CallSeen,
    KeyPressed,
)
from .waiting import WaitingCallers


def subscribe(facts: FactTable, waiting: WaitingCallers) -> None:
    facts.subscribe(CallArrived, waiting.arrived)
    facts.subscribe(CallQueued, waiting.queued)
    facts.subscribe(CallSeen, waiting.queued)
    facts.subscribe(CallOffered, waiting.offered)
    facts.subscribe(CallNotPickedUp, waiting.not_picked_up)
    facts.subscribe(CallLeftQueue, waiting.left_queue)
    facts.subscribe(KeyPressed, waiting.key)
    facts.subscribe(CallAnswered, waiting.left)
    facts.subscribe(CallAbandoned, waiting.left)
    facts.subscribe(CallEnded, waiting.left)
