"""What routing does on each telephony fact (see live/fact_table.py)."""

from __future__ import annotations

from ..live.fact_table import FactTable
from ..live.facts import AgencyKeyPressed, AgencyLegEnded
from .callouts import Callouts
from .dispatch_log import DispatchLog


def subscribe(facts: FactTable, dispatches: DispatchLog, callouts: Callouts | None = None) -> None:
    """`callouts`: None for a centre that calls no agency desk phone (records without telephony)."""
    facts.subscribe(AgencyLegEnded, dispatches.agency_leg_ended)
    if callouts is None:
        return
    # After the dispatch is recorded as over: the desk phone is called only once the leg is off.
    facts.subscribe(AgencyLegEnded, callouts.after_conference)
    facts.subscribe(AgencyKeyPressed, callouts.key_pressed)
