"""The order waiting callers are shown in is the order app_queue answers them: higher priority
first, then who joined the queue first, then the older ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from callcenter.calltakers.waiting import waiting_key, waiting_order, with_waiting_key

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class Waiter:
    id: int
    priority: int = 1
    queued_at: datetime | None = None
    arrived_at: datetime | None = None


def ids(tickets: list[Waiter]) -> list[int]:
    return [t.id for t in waiting_order(tickets)]


def joined(id: int, seconds: float, priority: int = 1) -> Waiter:
    return Waiter(id, priority, queued_at=T0 + timedelta(seconds=seconds), arrived_at=T0)


def test_a_higher_priority_is_answered_first_however_late_it_joined():
    assert ids([joined(1, 0, priority=1), joined(2, 60, priority=2), joined(3, 5, 0)]) == [2, 1, 3]


def test_equal_priorities_are_answered_in_the_order_they_joined():
    assert ids([joined(1, 30), joined(2, 10), joined(3, 20)]) == [2, 3, 1]


def test_the_join_counts_not_the_arrival():
    # Ticket 1 arrived first but spent longer in the welcome: the queue answers 2 first.
    early_arrival = Waiter(1, queued_at=T0 + timedelta(seconds=9), arrived_at=T0)
    late_arrival = Waiter(
        2, queued_at=T0 + timedelta(seconds=4), arrived_at=T0 + timedelta(seconds=2)
    )
    assert ids([early_arrival, late_arrival]) == [2, 1]


def test_callers_who_joined_in_the_same_instant_go_by_ticket_id():
    assert ids([joined(12, 5), joined(3, 5), joined(7, 5)]) == [3, 7, 12]


def test_a_ticket_whose_join_went_unheard_counts_from_its_arrival():
    unheard = Waiter(9, queued_at=None, arrived_at=T0 + timedelta(seconds=15))
    assert ids([joined(1, 20), unheard, joined(2, 10)]) == [2, 9, 1]


def test_a_ticket_with_no_time_at_all_goes_last_among_its_priority():
    timeless = Waiter(1, priority=1)
    assert ids([timeless, joined(5, 3600), joined(6, 0, priority=0)]) == [5, 1, 6]


def test_the_key_compares_times_as_instants_not_as_text():
    # 09:00 in WIB is 02:00 UTC: earlier than 08:00 UTC whatever the text says.
    wib = timezone(timedelta(hours=7))
    in_wib = Waiter(1, queued_at=datetime(2025, 3, 1, 9, 0, tzinfo=wib))
    assert ids([joined(2, 0), in_wib]) == [1, 2]
    # Whole seconds and fractions sort together (isoformat leaves off a zero fraction).
    assert ids([joined(3, 0.5), joined(4, 0)]) == [4, 3]


def test_priorities_sort_as_numbers_not_as_text():
    assert ids([joined(1, 0, priority=2), joined(2, 0, priority=10), joined(3, 0, 100)]) == [
        3,
        2,
        1,
    ]


def test_a_waiting_summary_carries_the_same_key_as_its_ticket():
    ticket = joined(42, 7, priority=3)
    summary = {
        "id": 42,
        "status": "queued",
        "priority": 3,
        "queued_at": ticket.queued_at.isoformat() if ticket.queued_at else None,
        "arrived_at": T0.isoformat(),
    }
    assert with_waiting_key(summary)["waiting_key"] == waiting_key(ticket)
    assert "waiting_key" not in summary  # the event's own dict is shared: left as it was


def test_only_a_waiting_summary_gets_a_key():
    answered = {"id": 1, "status": "answered", "priority": 1, "queued_at": None}
    assert with_waiting_key(answered) is answered
    assert with_waiting_key({}) == {}
