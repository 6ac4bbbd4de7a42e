"""What routing does on each telephony fact (see live/fact_table.py)."""

from __future__ import annotations

from ..live.fact_table import FactTable
from ..live.facts import AgencyLegEnded
from .dispatch_log import DispatchLog


def subscribe(facts: FactTable, dispatches: DispatchLog) -> None:
    facts.subscribe(AgencyLegEnded, dispatches.agency_leg_ended)
