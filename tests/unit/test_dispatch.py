"""Dispatch and overflow decisions, over a fake telephony port / fake channel and the real repositories."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.live.bus import Bus
from callcenter.live.facts import AgencyLegEnded, CallAnswered, CallRef
from callcenter.live.messages import DispatchAlert
from callcenter.refused import Why
from callcenter.routing import overflow
from callcenter.routing.dispatch import Dispatcher, DispatchError, Ringing
from callcenter.telephony import dialplan
from tests.records import sqlite_records
from tests.unit.fakes import FakeChannel, FakeTelephony, routing_config

CALLER = CallRef(unique_id="test-9.1", channel="PJSIP/9001-00000009", caller_number="0811")


@pytest.fixture
def bus():
    return Bus()


@pytest.fixture
def feed(bus):
    return bus.subscribe()


@pytest.fixture
async def records(tmp_path, bus):
    records = await sqlite_records(tmp_path, bus)
    yield records
    await records.engine.dispose()


def iter_nowait(feed):
    """What the feed has received so far."""
    while not feed.queue.empty():
        yield feed.queue.get_nowait()


def dispatcher_of(records, bus, config, phones):
    return Dispatcher(config, records.calls, records.dispatches, bus, phones)


@pytest.fixture
def config(tmp_path):
    return routing_config(tmp_path)


async def answered_call(records):
    await records.calls.open_ticket(CALLER, source="ivr")
    await records.facts.deliver(
        CallAnswered(
            CALLER,
            queue="calltakers",
            calltaker="PJSIP/2001",
            calltaker_channel="PJSIP/2001-0000000a",
        )
    )


async def dispatch_and_wait(dispatcher, actor="petugas1", agency="polresta"):
    started = await dispatcher.dispatch(CALLER.unique_id, agency, actor)
    for _ in range(100):
        if not dispatcher._ringing:
            break
        await asyncio.sleep(0.01)
    return started


async def test_primary_answers_into_the_conference(records, bus, config):
    await answered_call(records)
    phones = FakeTelephony(answers={"PJSIP/7001": Ringing(True)})
    started = await dispatch_and_wait(dispatcher_of(records, bus, config, phones))
    assert phones.joined == [(CALLER.channel, "PJSIP/2001-0000000a", started.conference)]
    assert [t for t, _, _ in phones.rung] == ["PJSIP/7001"]
    ticket = await records.tickets.get(started.ticket_id)
    assert ticket.status == "dispatched" and ticket.agency == "polresta"
    [d] = ticket.dispatches
    assert (d.target, d.outcome, d.mode, d.requested_by) == (
        "PJSIP/7001",
        "answered",
        "conference",
        "petugas1",
    )
    assert d.answered_at is not None
    # The agency's hangup (its channel carries the leg id) records the duration.
    await records.facts.deliver(AgencyLegEnded(d.leg_id, cause="Normal Clearing"))
    [d] = (await records.tickets.get(started.ticket_id)).dispatches
    assert d.outcome == "ended" and d.duration is not None and d.duration >= 0


async def test_unanswered_primary_falls_back_to_the_backup(records, bus, config):
    await answered_call(records)
    phones = FakeTelephony(answers={"PJSIP/7002": Ringing(True)})
    started = await dispatch_and_wait(dispatcher_of(records, bus, config, phones))
    assert [t for t, _, _ in phones.rung] == ["PJSIP/7001", "PJSIP/7002"]
    ticket = await records.tickets.get(started.ticket_id)
    assert [(d.target, d.outcome) for d in ticket.dispatches] == [
        ("PJSIP/7001", "no-answer"),
        ("PJSIP/7002", "answered"),
    ]
    assert ticket.status == "dispatched"


async def test_nobody_answers_alerts_and_the_caller_stays_with_the_calltaker(
    records, bus, feed, config
):
    await answered_call(records)
    phones = FakeTelephony(answers={"PJSIP/7002": Ringing(False, "busy", "reason 5")})
    started = await dispatch_and_wait(dispatcher_of(records, bus, config, phones))
    ticket = await records.tickets.get(started.ticket_id)
    assert ticket.status == "answered" and ticket.agency is None
    assert [e.kind for e in ticket.events][-1] == "dispatch-failed"
    alerts = [m for m in iter_nowait(feed) if isinstance(m, DispatchAlert)]
    assert [(a.ticket_id, a.agency, a.calltaker) for a in alerts] == [
        (started.ticket_id, "polresta", "PJSIP/2001")
    ]


async def test_second_agency_joins_the_same_conference(records, bus, config):
    await answered_call(records)
    phones = FakeTelephony(answers={"PJSIP/7001": Ringing(True), "PJSIP/7003": Ringing(True)})
    dispatcher = dispatcher_of(records, bus, config, phones)
    first = await dispatch_and_wait(dispatcher)
    second = await dispatch_and_wait(dispatcher, agency="pmi")
    assert first.conference == second.conference
    assert len(phones.joined) == 1  # the call was moved once
    assert [c for _, c, _ in phones.rung] == [first.conference] * 2


@pytest.mark.parametrize(
    "setup,agency,kind",
    [
        ("answered", "damkar", Why.BAD_REQUEST),
        ("none", "polresta", Why.NOT_FOUND),
        ("queued", "polresta", "conflict"),
    ],
)
async def test_dispatch_refused_with_a_reason(records, bus, config, setup, agency, kind):
    if setup == "answered":
        await answered_call(records)
    elif setup == "queued":
        await records.calls.open_ticket(CALLER, source="ivr")
    phones = FakeTelephony()
    with pytest.raises(DispatchError) as e:
        await dispatcher_of(records, bus, config, phones).dispatch(
            CALLER.unique_id, agency, "petugas1"
        )
    assert e.value.why == kind
    assert phones.joined == [] and phones.rung == []


class TestOverflow:
    async def test_overflow_rings_the_agency_of_the_category(self, records, config):
        ticket = await records.calls.open_ticket(CALLER, source="ivr")
        await records.calls.choose_while_waiting(
            CALLER.unique_id, lambda _c, f, _a: ("ambulance", f, 3), {"key": "2"}
        )
        channel = FakeChannel(
            unique_id=CALLER.unique_id, variables={dialplan.QUEUE_STATUS: "JOINEMPTY"}
        )
        await overflow.overflow(channel, records.calls, config)
        assert channel.variables[dialplan.AGENCY] == "pmi"
        assert channel.variables[dialplan.TARGET_COUNT] == "1"
        assert channel.variables["NGALAM_TARGET_1"] == "PJSIP/7003"
        assert channel.variables["NGALAM_RING_1"] == "20"
        ticket = await records.tickets.get(ticket.id)
        assert "overflow" in ticket.flags
        event = next(e for e in ticket.events if e.kind == "overflow")
        assert event.data == {"reason": "JOINEMPTY", "agency": "pmi", "category": "ambulance"}

    async def test_a_call_without_category_overflows_to_the_default_agency(self, records, config):
        channel = FakeChannel(
            unique_id=CALLER.unique_id, variables={dialplan.QUEUE_STATUS: "TIMEOUT"}
        )
        await overflow.overflow(channel, records.calls, config)
        assert channel.variables[dialplan.AGENCY] == "polresta"
        assert channel.variables[dialplan.TARGET_COUNT] == "2"

    async def test_ring_and_dialled_record_each_attempt(self, records, config):
        ticket = await records.calls.open_ticket(CALLER, source="ivr")
        channel = FakeChannel(
            unique_id=CALLER.unique_id,
            variables={dialplan.AGENCY: "polresta", dialplan.CURRENT_TARGET: "PJSIP/7001"},
        )
        await overflow.ring(channel, records.dispatches, config)
        channel.variables[dialplan.DIAL_STATUS] = "NOANSWER"
        await overflow.dialled(channel, records.dispatches)
        channel.variables[dialplan.CURRENT_TARGET] = "PJSIP/7002"
        await overflow.ring(channel, records.dispatches, config)
        answering = FakeChannel(
            unique_id="test-9.2", variables={"ARG1": channel.variables[dialplan.DISPATCH_ID]}
        )
        await overflow.answered(answering, records.dispatches)
        assert (await records.tickets.get(ticket.id)).status == "dispatched"
        channel.variables.update({dialplan.DIAL_STATUS: "ANSWER", dialplan.ANSWERED_TIME: "42"})
        await overflow.dialled(channel, records.dispatches)
        ticket = await records.tickets.get(ticket.id)
        assert [(d.target, d.outcome, d.mode) for d in ticket.dispatches] == [
            ("PJSIP/7001", "no-answer", "overflow"),
            ("PJSIP/7002", "ended", "overflow"),
        ]
        assert ticket.dispatches[1].duration is not None
        assert ticket.status == "dispatched" and ticket.agency == "polresta"

    @pytest.mark.parametrize(
        "agency,target",
        [("polresta", "PJSIP/9999"), ("nope", "PJSIP/7001"), ("polresta", "PJSIP/7001&PJSIP/1")],
    )
    async def test_ring_refuses_targets_the_config_does_not_list(
        self, records, config, agency, target
    ):
        ticket = await records.calls.open_ticket(CALLER, source="ivr")
        channel = FakeChannel(
            unique_id=CALLER.unique_id,
            variables={dialplan.AGENCY: agency, dialplan.CURRENT_TARGET: target},
        )
        await overflow.ring(channel, records.dispatches, config)
        assert dialplan.DISPATCH_ID not in channel.variables
        assert (await records.tickets.get(ticket.id)).dispatches == []

    async def test_unanswered_overflow_alerts(self, records, bus, feed, config):
        channel = FakeChannel(unique_id=CALLER.unique_id, variables={dialplan.AGENCY: "pmi"})
        await overflow.unanswered(channel, dispatcher_of(records, bus, config, FakeTelephony()))
        call = await records.calls.call(CALLER.unique_id)
        ticket = await records.tickets.get(call.ticket_id)
        assert ticket.events[-1].kind == "dispatch-failed"
        alerts = [m for m in iter_nowait(feed) if isinstance(m, DispatchAlert)]
        assert [(a.ticket_id, a.agency, a.calltaker) for a in alerts] == [(ticket.id, "pmi", "")]
