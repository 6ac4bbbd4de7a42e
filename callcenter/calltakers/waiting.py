"""The order callers waiting for a call-taker are answered in, and so the order every screen shows
them in: the API's queue, the supervisors' board and the call-taker's console.

app_queue keeps one list of callers: a caller joins behind everyone of the same or higher
QUEUE_PRIO and ahead of everyone lower (`join_queue` inserts before the first caller of strictly
lower priority), and a free call-taker is offered the head of the list. So: higher priority first,
then who joined first. The IVR sets QUEUE_PRIO before `Queue()`, so a ticket's priority is the one
it joined with and `queued_at` (QueueCallerJoin) is its place in the join order. A ticket whose join
went unheard counts from its arrival, which is never later than its join. Callers of one priority
who joined in the same instant are told apart by ticket id, which only grows.

The order is a string, `waiting_key`, that sorts the same in Python and in a browser: the console
sorts the waiting tickets it is sent by that key and keeps no rule of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from ..tickets.lifecycle import Status

# The configuration allows priorities 0-100; the key's priority field has room for 0-9999.
_HIGHEST_PRIORITY = 9999
# After every digit: a ticket with no time at all goes last among its priority.
_NO_TIME = "~"


class Waiting(Protocol):
    """What the order reads of a ticket."""

    @property
    def id(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def queued_at(self) -> datetime | None: ...
    @property
    def arrived_at(self) -> datetime | None: ...


W = TypeVar("W", bound=Waiting)


def _key(
    priority: int, queued_at: datetime | None, arrived_at: datetime | None, ticket_id: int
) -> str:
    rank = _HIGHEST_PRIORITY - min(max(priority, 0), _HIGHEST_PRIORITY)
    since = queued_at or arrived_at
    if since is None:
        time = _NO_TIME
    else:
        if since.tzinfo is None:  # the database's times are UTC; a naive one is taken as UTC too
            since = since.replace(tzinfo=UTC)
        time = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{rank:04d} {time} {max(ticket_id, 0):020d}"


def waiting_key(ticket: Waiting) -> str:
    """A string that sorts (ascending, by code point) in the order the queue answers callers."""
    return _key(ticket.priority, ticket.queued_at, ticket.arrived_at, ticket.id or 0)


def waiting_order(tickets: Iterable[W]) -> list[W]:
    """The waiting tickets, the one the queue answers next first."""
    return sorted(tickets, key=waiting_key)


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def with_waiting_key(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ticket as lists show it (`ticket_summary`), with its `waiting_key` if it is waiting."""
    if summary.get("status") != Status.QUEUED.value:
        return summary
    key = _key(
        int(summary.get("priority") or 0),
        _time(summary.get("queued_at")),
        _time(summary.get("arrived_at")),
        int(summary.get("id") or 0),
    )
    return {**summary, "waiting_key": key}
