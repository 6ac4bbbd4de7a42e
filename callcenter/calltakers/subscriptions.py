"""What the call-takers' desks and calls do on each telephony fact (see live/fact_table.py).
Subscribed after the tickets: a screen-pop shows the ticket as the fact left it."""

from __future__ import annotations

from ..live.fact_table import FactTable
from ..live.facts import (
    CallAnswered,
    CallCompleted,
    CallEnded,
    CallNotPickedUp,
    CallOffered,
    MemberChanged,
    MembersResynced,
)
from .calls import CallControl
from .desk import DeskService


def subscribe(facts: FactTable, desks: DeskService, calls: CallControl) -> None:
    facts.subscribe(MemberChanged, desks.handle)
    facts.subscribe(MembersResynced, desks.handle)
    facts.subscribe(CallOffered, desks.handle)
    facts.subscribe(CallAnswered, desks.handle)
    facts.subscribe(CallNotPickedUp, desks.handle)
    facts.subscribe(CallCompleted, desks.handle)
    facts.subscribe(CallEnded, desks.handle)
    # A call-taker still holding for a caller who hung up is released.
    facts.subscribe(CallEnded, calls.call_ended)
