"""The callback list: one entry per number, cleared once the number is reached; the grouping as a
pure function over tickets, and the list as the supervisors read it from a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert

from callcenter.supervision.callbacks import Callbacks, callback_list
from callcenter.tickets.models import Ticket, TicketEvent, now
from tests.records import sqlite_records
from tests.unit.fakes import routing_config

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def ticket(number: str, minute: int, *events: tuple[str, int]) -> Ticket:
    """A ticket of `number` that rang `minute` minutes after T0, with events (kind, minute)."""
    t = Ticket(
        id=next(_ids), caller_number=number, arrived_at=T0 + timedelta(minutes=minute), flags=[]
    )
    t.events = [TicketEvent(kind=k, actor="x", at=T0 + timedelta(minutes=m)) for k, m in events]
    return t


def newest_first(*tickets: Ticket) -> list[Ticket]:
    return sorted(tickets, key=lambda t: t.id, reverse=True)


def shown(entries) -> list[tuple[str, bool, list[int]]]:
    return [(e.number, e.callable, [t.id for t in e.tickets]) for e in entries]


def test_a_number_that_rang_eight_times_is_one_entry_with_its_newest_ticket_first():
    other = ticket("0341555666", -5)
    rang = [ticket("081234567890", m) for m in range(0, 80, 10)]
    [first, second] = callback_list(newest_first(*rang, other), {})
    assert first.number == "081234567890" and first.callable
    assert [t.id for t in first.tickets] == [t.id for t in reversed(rang)]
    assert first.latest is rang[-1]  # the ticket a callback attaches to
    assert shown([second]) == [("0341555666", True, [other.id])]


def test_entries_are_newest_first_by_their_latest_call():
    a1, b1, a2 = ticket("0811111", 0), ticket("0822222", 5), ticket("0811111", 10)
    assert [e.number for e in callback_list(newest_first(a1, b1, a2), {})] == [
        "0811111",
        "0822222",
    ]


@pytest.mark.parametrize("number", ["", "anonymous", "unknown", "12", "08 12", "+62-812"])
def test_unknown_numbers_are_not_one_person_and_cannot_be_called_back(number):
    first, second = ticket(number, 0), ticket(number, 5)
    entries = callback_list(newest_first(first, second), {number: T0 + timedelta(hours=1)})
    assert shown(entries) == [(number, False, [second.id]), (number, False, [first.id])]


def test_a_later_call_answered_by_a_call_taker_clears_the_calls_before_it():
    early, late = ticket("0811111", 0), ticket("0811111", 30)
    # A call of that number was answered at minute 20: only the call after it still waits.
    entries = callback_list(newest_first(early, late), {"0811111": T0 + timedelta(minutes=20)})
    assert shown(entries) == [("0811111", True, [late.id])]
    assert callback_list(newest_first(early, late), {"0811111": T0 + timedelta(minutes=31)}) == []


def test_an_answered_callback_on_any_of_its_tickets_clears_the_number():
    older = ticket("0811111", 0, ("callback-requested", 2), ("callback-answered", 3))
    newer = ticket("0811111", 1)
    assert callback_list(newest_first(older, newer), {}) == []
    # A callback nobody answered keeps the number on the list.
    tried = ticket("0822222", 0, ("callback-requested", 2), ("callback-no-answer", 3))
    assert shown(callback_list([tried], {})) == [("0822222", True, [tried.id])]


def test_a_call_abandoned_after_the_number_was_reached_starts_again():
    before = ticket("0811111", 0, ("callback-answered", 10))
    after = ticket("0811111", 20)
    assert shown(callback_list(newest_first(before, after), {})) == [("0811111", True, [after.id])]


def test_nothing_abandoned_is_an_empty_list():
    assert callback_list([], {"0811111": T0}) == []


def test_a_caller_cut_off_mid_call_waits_until_reached_after_the_cut():
    # Answered at minute 2, audio lost at minute 6: their own answer does not count as reached.
    cut = ticket("0811111", 0)
    cut.flags = ["media-lost"]
    cut.answered_at, cut.ended_at = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)
    assert shown(callback_list([cut], {"0811111": cut.answered_at})) == [
        ("0811111", True, [cut.id])
    ]
    # A later call answered, or a callback answered, after the cut clears it.
    assert callback_list([cut], {"0811111": T0 + timedelta(minutes=7)}) == []
    cut.events = [TicketEvent(kind="callback-answered", actor="x", at=T0 + timedelta(minutes=8))]
    assert callback_list([cut], {}) == []


# The list as GET /api/callbacks reads it: real repositories on SQLite.


@pytest.fixture
async def records(tmp_path):
    records = await sqlite_records(tmp_path)
    yield records
    await records.engine.dispose()


async def stored(records, number: str, ago: float, status: str = "abandoned", **more) -> int:
    """A ticket of `number` that rang `ago` minutes ago."""
    at = now() - timedelta(minutes=ago)
    values = {
        "caller_number": number,
        "status": status,
        "arrived_at": at,
        "updated_at": at,
        "flags": more.pop("flags", []),
        **more,
    }
    async with records.engine.begin() as conn:
        return (await conn.execute(insert(Ticket).values(**values).returning(Ticket.id))).scalar()


async def noted(records, ticket_id: int, kind: str, ago: float) -> None:
    async with records.engine.begin() as conn:
        await conn.execute(
            insert(TicketEvent).values(
                ticket_id=ticket_id,
                actor="asterisk",
                kind=kind,
                data={},
                at=now() - timedelta(minutes=ago),
            )
        )


def callbacks(records, tmp_path) -> Callbacks:
    return Callbacks(routing_config(tmp_path), records.tickets, telephony=None)  # type: ignore[arg-type]


async def test_the_list_from_the_database_groups_clears_and_shows_each_record(records, tmp_path):
    anonymous = [await stored(records, "anonymous", ago) for ago in (90, 85)]
    rang = [await stored(records, "081234567890", ago) for ago in (80, 70, 60, 50, 40, 30, 20, 10)]
    await noted(records, rang[-1], "callback-requested", 5)
    await noted(records, rang[-1], "callback-no-answer", 4)
    # 0822: abandoned, then a later call answered by a call-taker: reached.
    await stored(records, "0822222", 30)
    await stored(records, "0822222", 20, status="ended", answered_at=now() - timedelta(minutes=19))
    # 0833: abandoned, called back and answered on an older ticket outside the window.
    old = await stored(records, "0833333", 60 * 30, outcome="prank")
    await noted(records, old, "callback-answered", 15)
    await stored(records, "0833333", 25)
    # 0844: abandoned after its callback was answered: waits again.
    first = await stored(records, "0844444", 50)
    await noted(records, first, "callback-answered", 45)
    again = await stored(records, "0844444", 3, flags=["silent"])

    listed = await callbacks(records, tmp_path).waiting()

    assert [(e["number"], e["count"]) for e in listed] == [
        ("0844444", 1),
        ("081234567890", 8),
        ("anonymous", 1),
        ("anonymous", 1),
    ]
    by_number = {e["number"]: e for e in listed}
    rang_eight = by_number["081234567890"]
    assert rang_eight["callable"] and rang_eight["ticket"]["id"] == rang[-1]
    assert [c["ticket_id"] for c in rang_eight["calls"]] == rang[::-1]
    assert rang_eight["attempts"] == 1
    assert rang_eight["last_callback"]["kind"] == "callback-no-answer"
    assert rang_eight["record"] == {"tickets": 8, "prank": 0, "silent": 0}
    assert by_number["0844444"]["ticket"]["id"] == again
    assert by_number["0844444"]["record"] == {"tickets": 2, "prank": 0, "silent": 1}
    assert by_number["0844444"]["last_callback"] is None  # its callback was before this call
    assert [e["ticket"]["id"] for e in listed if e["number"] == "anonymous"] == anonymous[::-1]
    assert not any(e["callable"] for e in listed if e["number"] == "anonymous")


async def test_a_call_cut_off_after_it_was_answered_is_on_the_list(records, tmp_path):
    answered = now() - timedelta(minutes=9)
    cut = await stored(
        records,
        "0855555",
        10,
        status="ended",
        flags=["media-lost"],
        answered_at=answered,
        ended_at=now() - timedelta(minutes=5),
    )
    # An answered call that simply ended is not a callback.
    await stored(records, "0866666", 10, status="ended", answered_at=answered, ended_at=answered)

    listed = await callbacks(records, tmp_path).waiting()

    assert [(e["number"], e["ticket"]["id"]) for e in listed] == [("0855555", cut)]


async def test_the_list_takes_the_same_few_reads_however_many_numbers_rang(records, tmp_path):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(records.engine.sync_engine, "before_cursor_execute", count)
    await stored(records, "0811111", 5)
    assert len(await callbacks(records, tmp_path).waiting()) == 1
    few = len(statements)
    statements.clear()
    for n in range(40):
        await stored(records, f"08{n:08d}", 4)
        await stored(records, f"08{n:08d}", 3)
    assert len(await callbacks(records, tmp_path).waiting()) == 41
    assert len(statements) == few <= 5
