"""The agency loop over a real SQLite database: assignments made by every dispatch, moved by the
agency, listed for it, and escalated by the deadline engine (also across a restart)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from callcenter.config import ConfigError, load, require_secrets
from callcenter.live.bus import Bus
from callcenter.live.facts import CallAnswered, CallRef
from callcenter.live.messages import AgencyOverdue, AssignmentChanged
from callcenter.refused import Why
from callcenter.routing import overflow
from callcenter.routing.agency_loop import Deadline, LoopRefused, Mover, NotPermitted, Step
from callcenter.routing.assignments import Assignments
from callcenter.routing.deadlines import RETRY, BoardAlerts, DeadlineEngine
from callcenter.routing.dispatch import Dispatcher, Ringing
from callcenter.routing.dispatch_log import DispatchLog
from callcenter.telephony import dialplan
from callcenter.tickets.models import Ticket
from tests.records import sqlite_records
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
