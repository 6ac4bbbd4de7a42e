"""The agency loop over a real SQLite database: assignments made by every dispatch, moved by the
agency, listed for it, and escalated by the deadline engine (also across a restart)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import event

from callcenter.config import ConfigError, load, require_secrets
from callcenter.live.bus import Bus
from callcenter.live.facts import CallAnswered, CallRef
from callcenter.live.messages import AgencyOverdue, AssignmentChanged
from callcenter.refused import Why
from callcenter.routing import overflow
from callcenter.routing.agency_loop import (
    Deadline,
    LoopRefused,
    Mover,
    NotPermitted,
    Step,
    awaiting_another_agency,
)
from callcenter.routing.assignments import Assignments
from callcenter.routing.callouts import CALLOUT_EVENT, Callouts
from callcenter.routing.deadlines import RETRY, BoardAlerts, DeadlineEngine
from callcenter.routing.dispatch import Dispatcher, Ringing
from callcenter.routing.dispatch_log import DispatchLog
from callcenter.telephony import dialplan
from callcenter.tickets.db import Database, create_engine
from callcenter.tickets.migrations import alembic_config
from callcenter.tickets.models import Ticket
from tests.records import Records, sqlite_records
from tests.unit.fakes import CONFIG_TOML, FakeChannel, FakeTelephony
from tests.waiting import until_async

CALLER = CallRef(unique_id="loop-1.1", channel="PJSIP/9001-00000001", caller_number="0811")
POLRESTA = Mover("polresta1", "agency", "polresta")
T0 = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


class RecordingAlerts(BoardAlerts):
    """The board's alerts as the centre has them, and a note of each re-alert asked for."""

    def __init__(self, bus: Bus, fail: bool = False):
        super().__init__(bus)
        self.re_alerts: list[tuple[str, int, str]] = []
        self.fail = fail

    async def re_alert(self, agency, escalation):
        self.re_alerts.append((agency.id, escalation.assignment.id, escalation.target))
        if self.fail:
            raise RuntimeError("the callout could not start")


def loop_config(tmp_path: Path, extra: str = ""):
    path = tmp_path / "loop.toml"
    path.write_text(CONFIG_TOML + extra)
    return load(path, env={})


@pytest.fixture
def bus():
    return Bus()


@pytest.fixture
def feed(bus):
    return bus.subscribe()


@pytest.fixture
def config(tmp_path):
    return loop_config(tmp_path)


@pytest.fixture
async def records(tmp_path, bus):
    records = await sqlite_records(tmp_path, bus)
    yield records
    await records.engine.dispose()


@pytest.fixture
def assignments(records, config, bus):
    return Assignments(records.db, config, bus)


def received(feed, kind):
    seen = []
    while not feed.queue.empty():
        message = feed.queue.get_nowait()
        if isinstance(message, kind):
            seen.append(message)
    return seen


async def ticket_of_call(records, unique_id=CALLER.unique_id, priority=0):
    call = CallRef(unique_id=unique_id, channel=f"PJSIP/9001-{unique_id}", caller_number="0811")
    ticket = await records.calls.open_ticket(call, source="ivr")
    if priority:
        async with records.db.session() as db:
            (await db.get_one(Ticket, ticket.id)).priority = priority
            await db.commit()
    return ticket


async def events_of(records, ticket_id, kind):
    ticket = await records.tickets.get(ticket_id)
    return [e for e in ticket.events if e.kind == kind]


# ---- every dispatch assigns ---------------------------------------------------------------------


async def test_a_calltakers_dispatch_assigns_the_ticket_once_across_its_targets(
    records, assignments, config, bus, feed
):
    dispatches = DispatchLog(records.db, records.calls, assignments)
    await records.calls.open_ticket(CALLER, source="ivr")
    await records.facts.deliver(
        CallAnswered(CALLER, "calltakers", "PJSIP/2001", "PJSIP/2001-0000000a")
    )
    phones = FakeTelephony(answers={"PJSIP/7002": Ringing(True)})  # the backup answers
    dispatcher = Dispatcher(config, records.calls, dispatches, bus, phones)
    started = await dispatcher.dispatch(CALLER.unique_id, "polresta", "petugas1")
    await until_async(lambda: _rung_both(phones), message="the backup never rang")
    await until_async(lambda: _idle(dispatcher))

    [assignment] = await assignments.of_ticket(started.ticket_id)
    assert (assignment.agency, assignment.status, assignment.assigned_by) == (
        "polresta",
        "assigned",
        "petugas1",
    )
    assert assignment.deadline == "acknowledge"
    assert assignment.deadline_at == assignment.assigned_at + timedelta(seconds=120)
    [ev] = await events_of(records, started.ticket_id, "agency-status")
    assert ev.actor == "petugas1"
    assert ev.data == {
        "assignment": assignment.id,
        "agency": "polresta",
        "from": None,
        "to": "assigned",
        "actor": "petugas1",
        "text": "",
    }
    [changed] = received(feed, AssignmentChanged)
    assert (changed.ticket_id, changed.status, changed.previous) == (
        started.ticket_id,
        "assigned",
        None,
    )
    assert changed.assignment["id"] == assignment.id and not changed.back_to_centre


async def _rung_both(phones):
    return len(phones.rung) == 2


async def _idle(dispatcher):
    return not dispatcher._ringing


async def test_an_overflow_assigns_the_ticket_to_the_agency_it_rings(records, assignments, config):
    dispatches = DispatchLog(records.db, records.calls, assignments)
    ticket = await records.calls.open_ticket(CALLER, source="ivr")
    channel = FakeChannel(
        unique_id=CALLER.unique_id,
        variables={dialplan.AGENCY: "polresta", dialplan.CURRENT_TARGET: "PJSIP/7001"},
    )
    await overflow.ring(channel, dispatches, config)
    channel.variables[dialplan.CURRENT_TARGET] = "PJSIP/7002"
    await overflow.ring(channel, dispatches, config)
    [assignment] = await assignments.of_ticket(ticket.id)
    assert (assignment.agency, assignment.status, assignment.assigned_by) == (
        "polresta",
        "assigned",
        "asterisk",
    )


async def test_a_new_dispatch_after_a_decline_assigns_again(records, assignments):
    ticket = await ticket_of_call(records)
    first = await assignments.assign(ticket.id, "polresta", "petugas1")
    assert (await assignments.assign(ticket.id, "polresta", "petugas1")).id == first.id
    await assignments.move(first.id, "declined", POLRESTA, "bukan wilayah kami")
    second = await assignments.assign(ticket.id, "polresta", "petugas1")
    assert second.id != first.id and second.status == "assigned"
    other = await assignments.assign(ticket.id, "pmi", "petugas1")
    assert [a.id for a in await assignments.of_ticket(ticket.id)] == [first.id, second.id, other.id]


# ---- moves --------------------------------------------------------------------------------------


async def test_the_agency_moves_it_to_cleared_each_step_a_ticket_event(records, assignments, feed):
    ticket = await ticket_of_call(records)
    a = await assignments.assign(ticket.id, "polresta", "petugas1", at=minutes(0))
    await assignments.move(a.id, "acknowledged", POLRESTA, at=minutes(1))
    moved = await assignments.move(a.id, "en-route", POLRESTA, at=minutes(2))
    assert (moved.deadline, moved.deadline_at) == ("on-scene", minutes(10))
    await assignments.move(a.id, "on-scene", Mover("penyelia1", "supervisor"), at=minutes(7))
    done = await assignments.move(a.id, "cleared", POLRESTA, "  pelaku diamankan ", at=minutes(30))

    assert (done.status, done.disposition, done.moved_by) == (
        "cleared",
        "pelaku diamankan",
        "polresta1",
    )
    assert (done.acknowledged_at, done.en_route_at, done.on_scene_at, done.cleared_at) == (
        minutes(1),
        minutes(2),
        minutes(7),
        minutes(30),
    )
    assert done.deadline is None and done.deadline_at is None
    moves = [
        (e.actor, e.data["from"], e.data["to"], e.data["text"])
        for e in await events_of(records, ticket.id, "agency-status")
    ]
    assert moves == [
        ("petugas1", None, "assigned", ""),
        ("polresta1", "assigned", "acknowledged", ""),
        ("polresta1", "acknowledged", "en-route", ""),
        ("penyelia1", "en-route", "on-scene", ""),
        ("polresta1", "on-scene", "cleared", "pelaku diamankan"),
    ]
    assert [m.status for m in received(feed, AssignmentChanged)] == [
        "assigned",
        "acknowledged",
        "en-route",
        "on-scene",
        "cleared",
    ]


async def test_a_decline_hands_the_ticket_back_to_the_centre(records, assignments, feed):
    ticket = await ticket_of_call(records)
    a = await assignments.assign(ticket.id, "polresta", "petugas1")
    declined = await assignments.move_for_ticket(
        ticket.id, "polresta", "declined", POLRESTA, "urusan PLN"
    )
    assert (declined.id, declined.status, declined.decline_reason) == (
        a.id,
        "declined",
        "urusan PLN",
    )
    assert declined.declined_at is not None and declined.deadline_at is None
    last = received(feed, AssignmentChanged)[-1]
    assert (last.status, last.previous, last.back_to_centre) == ("declined", "assigned", True)
    assert await assignments.open_for_agency("polresta") == []


@dataclass(frozen=True)
class Placed:
    status: str
    assigned_at: datetime
    declined_at: datetime | None


def placed(status: str, assigned: float, declined: float | None = None) -> Placed:
    return Placed(status, minutes(assigned), minutes(declined) if declined is not None else None)


def test_a_decline_waits_for_an_agency_assigned_after_it_or_the_ticket_closed():
    police = placed("declined", 0, 2)
    assert awaiting_another_agency([police], ticket_closed=False) == [police]
    # PMI was assigned before the decline: the police's part still has nobody.
    ambulance = placed("en-route", 1)
    assert awaiting_another_agency([police, ambulance], ticket_closed=False) == [police]
    # Anyone assigned after it answers it: another agency, or the same one again.
    for again in (placed("assigned", 3), placed("declined", 3, 4)):
        waiting = awaiting_another_agency([police, again], ticket_closed=False)
        assert police not in waiting
    # The second decline waits in its turn.
    second = placed("declined", 3, 4)
    assert awaiting_another_agency([police, second], ticket_closed=False) == [second]
    assert awaiting_another_agency([police], ticket_closed=True) == []
    assert awaiting_another_agency([placed("cleared", 0), ambulance], ticket_closed=False) == []


async def test_a_declined_ticket_needs_reassigning_until_another_agency_has_it(
    records, assignments, feed
):
    """Declined (on the page, the API or the desk phone: each is a move), the ticket waits in the
    board's list until an agency is assigned after the decline, or the ticket is closed; the
    desk that answered its call is named on the feed, to be alerted."""
    ticket = await records.calls.open_ticket(CALLER, source="ivr")
    await records.facts.deliver(
        CallAnswered(CALLER, "calltakers", "PJSIP/2001", "PJSIP/2001-0000000a")
    )
    police = await assignments.assign(ticket.id, "polresta", "petugas1", at=minutes(0))
    ambulance = await assignments.assign(ticket.id, "pmi", "petugas1", at=minutes(1))
    quiet = await ticket_of_call(records, unique_id="loop-2.1")
    await assignments.assign(quiet.id, "polresta", "petugas1", at=minutes(0))
    assert await assignments.needing_reassignment() == []

    await assignments.move(police.id, "declined", POLRESTA, "urusan PLN", at=minutes(2))
    [waiting] = await assignments.needing_reassignment()
    assert (waiting.id, waiting.ticket.id, waiting.decline_reason) == (
        police.id,
        ticket.id,
        "urusan PLN",
    )
    changed = received(feed, AssignmentChanged)[-1]
    assert (changed.back_to_centre, changed.answered_at) == (True, ("PJSIP/2001",))

    # PMI moving on (assigned before the decline) answers nothing; PLN assigned after it does.
    await assignments.move(ambulance.id, "acknowledged", Mover("pmi1", "agency", "pmi"))
    assert [a.id for a in await assignments.needing_reassignment()] == [police.id]
    await assignments.assign(ticket.id, "pln", "petugas1", at=minutes(3))
    assert await assignments.needing_reassignment() == []

    # A ticket nobody answered: its decline names no desk; closing the ticket answers it.
    other = await ticket_of_call(records, unique_id="loop-3.1")
    refused = await assignments.assign(other.id, "polresta", "petugas1", at=minutes(4))
    await assignments.move(refused.id, "declined", POLRESTA, "bukan wilayah", at=minutes(5))
    assert received(feed, AssignmentChanged)[-1].answered_at == ()
    assert [a.id for a in await assignments.needing_reassignment()] == [refused.id]
    await records.tickets.close(other.id, "informasi", "penyelia1")
    assert await assignments.needing_reassignment() == []


async def test_refused_moves_say_why_and_store_nothing(records, assignments, feed):
    ticket = await ticket_of_call(records)
    a = await assignments.assign(ticket.id, "polresta", "petugas1")
    await assignments.move(a.id, "acknowledged", POLRESTA)
    received(feed, AssignmentChanged)
    before = [e.id for e in await events_of(records, ticket.id, "agency-status")]

    refusals = [
        ((a.id, "acknowledged", POLRESTA), Why.CONFLICT),  # a repeat
        ((a.id, "assigned", POLRESTA), Why.BAD_REQUEST),
        ((a.id, "cleared", POLRESTA, ""), Why.BAD_REQUEST),  # no disposition
        ((a.id, "declined", POLRESTA, " \n"), Why.BAD_REQUEST),  # no reason
        ((a.id, "cleared", POLRESTA, "x" * 5000), Why.BAD_REQUEST),
        ((a.id, "ON_SCENE'; --", POLRESTA), Why.BAD_REQUEST),
        ((a.id, "", POLRESTA), Why.BAD_REQUEST),
        ((a.id + 999, "on-scene", POLRESTA), Why.NOT_FOUND),
    ]
    for args, why in refusals:
        with pytest.raises(LoopRefused) as refused:
            await assignments.move(*args)
        assert refused.value.why == why, args
    for stranger in (Mover("pmi1", "agency", "pmi"), Mover("petugas1", "call-taker")):
        with pytest.raises(NotPermitted):
            await assignments.move(a.id, "on-scene", stranger)
    with pytest.raises(LoopRefused) as refused:
        await assignments.move_for_ticket(ticket.id, "pmi", "on-scene", POLRESTA)
    assert refused.value.why == Why.NOT_FOUND
    for ticket_id, agency, why in (
        (ticket.id, "damkar", Why.BAD_REQUEST),
        (999, "pmi", Why.NOT_FOUND),
    ):
        with pytest.raises(LoopRefused) as refused:
            await assignments.assign(ticket_id, agency, "petugas1")
        assert refused.value.why == why

    assert [e.id for e in await events_of(records, ticket.id, "agency-status")] == before
    assert [(x.id, x.status) for x in await assignments.of_ticket(ticket.id)] == [
        (a.id, "acknowledged")
    ]
    assert received(feed, AssignmentChanged) == []


async def test_two_movers_at_once_make_one_move_and_one_conflict(records, assignments, tmp_path):
    """The agency's page and its desk phone acknowledge together: one wins, the other is told it
    changed meanwhile, and the ticket gets one event. The phone's write lands exactly between the
    page's read and its write, every time."""
    ticket = await ticket_of_call(records)
    a = await assignments.assign(ticket.id, "polresta", "petugas1")
    writes = []

    def phone_acknowledges_first(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith("UPDATE assignments") or writes:
            return
        other = sqlite3.connect(tmp_path / "tickets.db", timeout=10)
        with other:
            other.execute(
                "UPDATE assignments SET status = 'acknowledged', moved_by = 'telepon' WHERE id = ?",
                (a.id,),
            )
        other.close()
        writes.append(True)

    event.listen(records.engine.sync_engine, "before_cursor_execute", phone_acknowledges_first)
    try:
        with pytest.raises(LoopRefused, match="meanwhile") as refused:
            await assignments.move(a.id, "acknowledged", POLRESTA)
    finally:
        event.remove(records.engine.sync_engine, "before_cursor_execute", phone_acknowledges_first)
    assert writes, "the phone never wrote: the test tested nothing"
    assert refused.value.why == Why.CONFLICT
    assert len(await events_of(records, ticket.id, "agency-status")) == 1  # the assignment only
    assert (await assignments.get(a.id)).moved_by == "telepon"


async def test_the_agency_sees_its_open_tickets_most_urgent_then_most_overdue_first(
    records, assignments
):
    low_early = await ticket_of_call(records, "o-1.1", priority=2)
    high = await ticket_of_call(records, "o-2.1", priority=3)
    low_late = await ticket_of_call(records, "o-3.1", priority=2)
    theirs = await ticket_of_call(records, "o-4.1", priority=4)
    done = await ticket_of_call(records, "o-5.1", priority=4)
    a_late = await assignments.assign(low_late.id, "polresta", "p", at=minutes(5))
    a_early = await assignments.assign(low_early.id, "polresta", "p", at=minutes(0))
    a_high = await assignments.assign(high.id, "polresta", "p", at=minutes(9))
    await assignments.assign(theirs.id, "pmi", "p")
    a_done = await assignments.assign(done.id, "polresta", "p")
    await assignments.move(a_done.id, "cleared", POLRESTA, "selesai")
    # Acknowledged: its next deadline (on scene) is later than the others' (acknowledge).
    await assignments.move(a_early.id, "acknowledged", POLRESTA, at=minutes(1))

    listed = await assignments.open_for_agency("polresta")
    assert [a.id for a in listed] == [a_high.id, a_late.id, a_early.id]
    assert [a.ticket.id for a in listed] == [high.id, low_late.id, low_early.id]


# ---- the deadline engine ------------------------------------------------------------------------


async def test_a_missed_deadline_re_alerts_the_backup_then_the_board_then_stops(
    records, assignments, config, bus, feed
):
    ticket = await ticket_of_call(records)
    a = await assignments.assign(ticket.id, "polresta", "petugas1", at=minutes(0))
    alerts = RecordingAlerts(bus)
    engine = DeadlineEngine(config, assignments, alerts)

    assert await engine.check(minutes(1.9)) == []
    [step] = await engine.check(minutes(2.5))
    assert (step.deadline, step.step, step.target) == (
        Deadline.ACKNOWLEDGE,
        Step.RE_ALERT,
        "PJSIP/7002",
    )
    assert alerts.re_alerts == [("polresta", a.id, "PJSIP/7002")]
    assert await engine.check(minutes(2.6)) == []  # taken once
    assert received(feed, AgencyOverdue) == []
    [step] = await engine.check(minutes(3.5))  # a minute after the re-alert
    assert step.step == Step.BOARD
    [raised] = received(feed, AgencyOverdue)
    assert (raised.ticket_id, raised.agency, raised.deadline, raised.due_at, raised.status) == (
        ticket.id,
        "polresta",
        "acknowledge",
        minutes(3.5),
        "assigned",
    )
    assert [x.id for x in await assignments.escalated()] == [a.id]
    # The agency acknowledges late: off the board, and the on-scene deadline is next.
    moved = await assignments.move(a.id, "acknowledged", POLRESTA, at=minutes(4))
    assert (moved.deadline, moved.deadline_at) == ("on-scene", minutes(10))
    assert await assignments.escalated() == []
    assert await engine.check(minutes(9)) == []

    overdue = [
        (e.actor, e.data["deadline"], e.data["step"], e.data.get("target"))
        for e in await events_of(records, ticket.id, "agency-overdue")
    ]
    assert overdue == [
        ("system", "acknowledge", "re-alert", "PJSIP/7002"),
        ("system", "acknowledge", "board", None),
    ]
    # An agency that never arrives nor clears: two more steps each, then nothing, ever.
    for at in (10.5, 11.5, 60.5, 61.5):
        assert len(await engine.check(minutes(at))) == 1
    assert await engine.check(minutes(24 * 60)) == []
    assert len(alerts.re_alerts) == 3
    assert (await assignments.get(a.id)).deadline_at is None


async def test_a_failed_alert_is_logged_and_the_ladder_goes_on(
    records, assignments, config, bus, feed
):
    ticket = await ticket_of_call(records)
    await assignments.assign(ticket.id, "polresta", "petugas1", at=minutes(0))
    engine = DeadlineEngine(config, assignments, RecordingAlerts(bus, fail=True))
    assert len(await engine.check(minutes(2.5))) == 1
    assert len(await engine.check(minutes(3.5))) == 1
    assert len(received(feed, AgencyOverdue)) == 1
    assert [e.data["step"] for e in await events_of(records, ticket.id, "agency-overdue")] == [
        "re-alert",
        "board",
    ]


async def test_one_bad_row_is_postponed_and_never_stops_the_others(
    records, assignments, config, bus, tmp_path
):
    bad_ticket = await ticket_of_call(records, "bad-1.1")
    good_ticket = await ticket_of_call(records, "good-1.1")
    bad = await assignments.assign(bad_ticket.id, "polresta", "p", at=minutes(0))
    good = await assignments.assign(good_ticket.id, "polresta", "p", at=minutes(0.5))
    other = sqlite3.connect(tmp_path / "tickets.db", timeout=10)
    with other:  # a row no rule can read (written by a broken version, say)
        other.execute(
            "UPDATE assignments SET escalated_deadline = 'bogus', escalation_step = 7, "
            "escalated_at = deadline_at WHERE id = ?",
            (bad.id,),
        )
    other.close()
    engine = DeadlineEngine(config, assignments, RecordingAlerts(bus))
    at = minutes(3)
    [step] = await engine.check(at)
    assert step.assignment.id == good.id
    assert (await assignments.get(bad.id)).deadline_at == at + RETRY


async def test_the_engine_started_anew_over_the_same_database_still_escalates(tmp_path, bus):
    """The controller stops between the assignment and its deadline; a new one, over the same
    database file, re-alerts and then raises the board on its own clock."""
    short = "\n[controller]\ndeadline_check = 0.2\n"
    config = loop_config(tmp_path, short)
    polresta = config.agency("polresta")
    polresta.acknowledge_within, polresta.escalate_after = 1, 1
    first = await sqlite_records(tmp_path)
    first_engine = DeadlineEngine(config, Assignments(first.db, config), BoardAlerts(Bus()))
    first_engine.start()
    ticket = await ticket_of_call(first)
    await Assignments(first.db, config).assign(ticket.id, "polresta", "petugas1")
    await first_engine.stop()
    await first.engine.dispose()

    again = await sqlite_records(tmp_path, bus)
    feed = bus.subscribe()
    assignments = Assignments(again.db, config, bus)
    alerts = RecordingAlerts(bus)
    engine = DeadlineEngine(config, assignments, alerts)
    engine.start()
    try:
        raised: list[AgencyOverdue] = []

        async def board_alerted() -> bool:
            raised.extend(received(feed, AgencyOverdue))
            return bool(raised)

        await until_async(board_alerted, timeout=30, message="the board was never alerted")
        assert [r.ticket_id for r in raised] == [ticket.id]
        steps = [e.data["step"] for e in await events_of(again, ticket.id, "agency-overdue")]
        assert steps == ["re-alert", "board"]
        assert [agency for agency, _, _ in alerts.re_alerts] == ["polresta"]
    finally:
        await engine.stop()
        await again.engine.dispose()


async def test_a_deadline_lengthened_in_the_config_is_not_escalated_early(
    records, assignments, config, bus
):
    ticket = await ticket_of_call(records)
    a = await assignments.assign(ticket.id, "polresta", "p", at=minutes(0))
    config.agency("polresta").acknowledge_within = 600
    engine = DeadlineEngine(config, assignments, RecordingAlerts(bus))
    assert await engine.check(minutes(3)) == []
    assert (await assignments.get(a.id)).deadline_at == minutes(10)


# ---- configuration -------------------------------------------------------------------------------


def test_an_agencys_loop_keys_are_read_and_checked(tmp_path):
    config = loop_config(tmp_path)
    polresta = config.agency("polresta")
    assert (
        polresta.acknowledge_within,
        polresta.on_scene_within,
        polresta.cleared_within,
        polresta.escalate_after,
        polresta.show_caller_number,
        polresta.webhook_url,
        polresta.webhook_secret,
    ) == (120, 600, 3600, 60, False, "", "")
    assert config.controller.deadline_check == 5.0


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("acknowledge_within = 0", "acknowledge_within: must be 1-86400"),
        ("acknowledge_within = 700", "on_scene_within: must not be shorter"),
        ("cleared_within = 300", "cleared_within: must not be shorter"),
        ("on_scene_within = 1e9", "on_scene_within: must be int"),
        ("acknowledge_within = true", "acknowledge_within: must be int"),
        ("escalate_after = 0", "escalate_after: must be 1-3600"),
        ('show_caller_number = "ya"', "show_caller_number: must be bool"),
        ('webhook_url = "ftp://x.example/"', "webhook_url: must be an http(s):// URL"),
        ('webhook_url = "https://user:pw@x.example/"', "webhook_url: must be an http(s)"),
        ('webhook_url = "https://x.example/a b"', "webhook_url: must be an http(s)"),
        ('webhook_url = "https://x.example/\\n"', "webhook_url: must be an http(s)"),
        ('webhook_secret = "rahasia-sekali-123"', "secrets come from the environment"),
    ],
)
def test_hostile_agency_loop_keys_stop_start_up_with_the_key_named(tmp_path, keys, problem):
    toml = CONFIG_TOML.replace("ring_timeout = 5\n", f"ring_timeout = 5\n{keys}\n", 1)
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load(path, env={})


def test_a_webhook_needs_its_secret_from_the_environment(tmp_path):
    toml = CONFIG_TOML.replace(
        "ring_timeout = 5\n", 'ring_timeout = 5\nwebhook_url = "https://sistem.example/112"\n', 1
    )
    path = tmp_path / "hook.toml"
    path.write_text(toml)
    secrets = {"NGALAM_AMI_SECRET": "a" * 16}
    with pytest.raises(ConfigError, match="NGALAM_WEBHOOK_SECRET_POLRESTA"):
        require_secrets(load(path, env=secrets))
    config = load(path, env=secrets | {"NGALAM_WEBHOOK_SECRET_POLRESTA": "s" * 20})
    require_secrets(config)
    assert config.agency("polresta").webhook_secret == "s" * 20


def test_deadline_check_is_bounded(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG_TOML + "\n[controller]\ndeadline_check = 0\n")
    with pytest.raises(ConfigError, match=r"controller\.deadline_check"):
        load(path, env={})


# ---- at the same moment ---------------------------------------------------------------------


async def test_two_assigns_at_the_same_moment_make_one_assignment(tmp_path, config):
    """A call-taker's dispatch and an overflow assign the ticket to Polresta together, each on a
    connection of its own (two controllers on one PostgreSQL, or two requests): both read "none
    open" before either writes, every time, and one assignment with one event comes out."""
    first = await sqlite_records(tmp_path)
    ticket = await ticket_of_call(first)
    await first.engine.dispose()
    url = f"sqlite+aiosqlite:///{tmp_path / 'tickets.db'}"
    both_have_read = threading.Barrier(2, timeout=10)
    inserting: list[str] = []

    async def assign_as(actor: str):
        engine = create_engine(url)

        def wait_for_the_other(_conn, _cursor, statement, *_args) -> None:
            if statement.startswith("INSERT INTO assignments") and actor not in inserting:
                inserting.append(actor)
                both_have_read.wait()

        event.listen(engine.sync_engine, "before_cursor_execute", wait_for_the_other)
        try:
            return await Assignments(Database(engine), config).assign(ticket.id, "polresta", actor)
        finally:
            await engine.dispose()

    # Each in a thread with its loop: one waiting at the barrier must not hold up the other.
    made = await asyncio.gather(
        *(asyncio.to_thread(asyncio.run, assign_as(actor)) for actor in ("petugas1", "asterisk"))
    )
    assert sorted(inserting) == ["asterisk", "petugas1"], "both never tried: nothing was tested"
    assert made[0].id == made[1].id
    again = await sqlite_records(tmp_path)
    try:
        [one] = await Assignments(again.db, config).of_ticket(ticket.id)
        assert (one.id, one.status) == (made[0].id, "assigned")
        assert len(await events_of(again, ticket.id, "agency-status")) == 1
    finally:
        await again.engine.dispose()


async def test_the_index_allows_one_open_assignment_and_any_closed_ones(tmp_path):
    """The database itself refuses a second open assignment of a ticket to an agency, whoever
    writes it; closed ones (cleared, declined) may be many."""
    records = await sqlite_records(tmp_path)
    ticket = await ticket_of_call(records)
    await records.engine.dispose()
    insert = (
        "INSERT INTO assignments (ticket_id, agency, status, assigned_by, assigned_at, "
        "moved_by, moved_at, escalation_step) VALUES (?, ?, ?, 'uji', '2025-03-01 01:00:00', "
        "'uji', '2025-03-01 01:00:00', 0)"
    )
    with closing(sqlite3.connect(tmp_path / "tickets.db")) as db, db:
        for status in ("declined", "declined", "cleared", "assigned"):
            db.execute(insert, (ticket.id, "polresta", status))
        db.execute(insert, (ticket.id, "pmi", "on-scene"))
        for status in ("assigned", "acknowledged", "en-route", "on-scene"):
            with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
                db.execute(insert, (ticket.id, "polresta", status))


async def test_a_database_with_twin_open_assignments_keeps_the_one_moved_furthest(tmp_path):
    """Before the index, two assigns at once could both insert: the migration that adds it keeps
    one of each such pair (the one the agency moved furthest), so the centre still starts."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tickets.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0007"))
    ticket = await ticket_of_call(Records.over(engine))
    await engine.dispose()
    assignment = (
        "INSERT INTO assignments (id, ticket_id, agency, status, assigned_by, assigned_at, "
        "moved_by, moved_at, escalation_step) VALUES (?, ?, ?, ?, 'uji', "
        "'2025-03-01 01:00:00', 'uji', '2025-03-01 01:00:00', 0)"
    )
    with closing(sqlite3.connect(tmp_path / "tickets.db")) as db, db:
        for id_, agency, status in (
            (1, "polresta", "assigned"),
            (2, "polresta", "acknowledged"),  # its desk phone pressed 1 on this one
            (3, "polresta", "declined"),
            (4, "pmi", "assigned"),
            (5, "pmi", "assigned"),
        ):
            db.execute(assignment, (id_, ticket.id, agency, status))

    records = await sqlite_records(tmp_path)  # migrates to the newest
    await records.engine.dispose()
    with closing(sqlite3.connect(tmp_path / "tickets.db")) as db:
        left = db.execute("SELECT id, agency, status FROM assignments ORDER BY id").fetchall()
    assert left == [
        (2, "polresta", "acknowledged"),
        (3, "polresta", "declined"),
        (4, "pmi", "assigned"),
    ]


@dataclass
class HeldPhones:
    """Desk phones that ring until the test lets them stop (no answer)."""

    placed: list[str]
    stop_ringing: asyncio.Event

    async def call_agency_desk(self, target, leg_id, timeout, caller_id, assignment_id, briefing):
        self.placed.append(target)
        await self.stop_ringing.wait()
        return Ringing(False, "no-answer", "reason 19")


async def test_a_re_alert_while_the_agency_is_on_the_phone_is_noted_as_not_made(
    records, assignments, config
):
    ticket = await ticket_of_call(records)
    phones = HeldPhones([], asyncio.Event())
    dispatches = DispatchLog(records.db, records.calls, assignments)
    callouts = Callouts(config, assignments, records.tickets, dispatches, phones, set())
    assignment = await callouts.assign(ticket.id, "polresta", "petugas1")
    await until_async(lambda: _rang(phones), message="the primary never rang")

    await callouts.re_alert(config.agency("polresta"), assignment, "PJSIP/7002")

    assert phones.placed == ["PJSIP/7001"]
    [skipped] = [e.data for e in await events_of(records, ticket.id, CALLOUT_EVENT)]
    assert skipped == {
        "assignment": assignment.id,
        "agency": "polresta",
        "target": "PJSIP/7002",
        "why": "re-alert",
        "skipped": "already calling",
    }
    phones.stop_ringing.set()
    await until_async(lambda: _idle_callouts(callouts), message="the callout never ended")
    # The callout under way went on to the backup as it would have.
    assert phones.placed == ["PJSIP/7001", "PJSIP/7002"]


async def _rang(phones: HeldPhones) -> bool:
    return bool(phones.placed)


async def _idle_callouts(callouts: Callouts) -> bool:
    return not callouts._tasks
