"""The prank policy: graduated restrictions, never a block.

Indonesian centres block numbers that make prank calls, for days and then for good; an emergency
number must still never refuse a real emergency. So a restricted number hears a short warning
and waits at the lowest priority, and still reaches a call-taker. Each restriction takes the next
level of `[prank_policy] levels` for that number, names who imposed it, why, with which tickets
as evidence and until when; everything that happens to it is on its audit trail, and a
supervisor lifts it in one click.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..config import Config
from ..refused import Refused, Why
from ..tickets.edits import clean_text
from ..tickets.models import Restriction, now
from .callbacks import NUMBER_RE
from .restriction_records import RestrictionRecords

# Ticket ids as the API takes them anywhere (web/requests.py ROW_ID_RE): any database's integer.
MAX_TICKET_ID = 10**18 - 1


class RestrictionError(Refused):
    """The request is wrong (the message says how), or the number is already restricted."""

    def __init__(self, message: str, why: Why = Why.BAD_REQUEST):
        super().__init__(message, why)


def restriction_json(restriction: Restriction) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": restriction.id,
        "number": restriction.number,
        "level": restriction.level,
        "reason": restriction.reason,
        "evidence": restriction.evidence,
        "created_by": restriction.created_by,
        "created_at": when(restriction.created_at),
        "until": when(restriction.until),
        "lifted_by": restriction.lifted_by,
        "lifted_at": when(restriction.lifted_at),
        "lift_reason": restriction.lift_reason,
        "active": restriction.active(now()),
        "events": [
            {"at": when(e.at), "actor": e.actor, "kind": e.kind, "data": e.data}
            for e in restriction.events
        ],
    }


def _reason(value: Any) -> str:
    if not isinstance(value, str) or not clean_text(value):
        raise RestrictionError("reason: say why (it is on the record)")
    reason = clean_text(value)
    if len(reason) > 500:
        raise RestrictionError("reason: at most 500 characters")
    return reason


class Restrictions:
    def __init__(self, config: Config, records: RestrictionRecords):
        self._policy = config.prank_policy
        self._records = records

    async def restrict(self, body: dict[str, Any], actor: str) -> Restriction:
        number = body.get("number")
        if not isinstance(number, str) or not NUMBER_RE.fullmatch(number):
            raise RestrictionError("number: a caller's number (digits)")
        evidence = await self._evidence(number, body.get("evidence", []))
        if await self._records.active(number) is not None:
            raise RestrictionError(f"{number} is already restricted", Why.CONFLICT)
        return await self._records.restrict(
            number, _reason(body.get("reason")), evidence, actor, self._policy.levels
        )

    async def _evidence(self, number: str, value: Any) -> list[int]:
        """Ticket ids that exist and are calls from `number`: a restriction's record must not
        point at nothing, nor at someone else's calls."""
        if (
            not isinstance(value, list)
            or len(value) > 100
            or not all(
                isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= MAX_TICKET_ID
                for t in value
            )
        ):
            raise RestrictionError("evidence: a list of at most 100 ticket ids")
        evidence = list(dict.fromkeys(value))
        callers = await self._records.callers_of(evidence)
        for ticket_id in evidence:
            if ticket_id not in callers:
                raise RestrictionError(f"evidence: there is no ticket {ticket_id}")
            if callers[ticket_id] != number:
                raise RestrictionError(f"evidence: ticket {ticket_id} is not a call from {number}")
        return evidence

    async def lift(
        self, restriction_id: int, body: dict[str, Any], actor: str
    ) -> Restriction | None:
        return await self._records.lift(restriction_id, actor, _reason(body.get("reason")))

    async def listing(self) -> list[dict[str, Any]]:
        """Restrictions in force and those of the last 30 days, with the evidence's tickets."""
        restrictions = await self._records.in_force_or_since(now() - timedelta(days=30))
        return [restriction_json(r) for r in restrictions]
