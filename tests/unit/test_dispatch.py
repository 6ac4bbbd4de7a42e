"""Dispatch and overflow decisions, over a fake telephony port / fake channel and a real store."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.ivr import variables
from callcenter.live.bus import Bus
from callcenter.live.events import AgencyLegEnded, CallAnswered, CallRef, DispatchAlert
from callcenter.refused import Why
from callcenter.routing import overflow
from callcenter.routing.dispatch import Dispatcher, DispatchError, Ringing
from tests.unit.fakes import FakeChannel, FakeTelephony, routing_config, ticket_store

CALLER = CallRef(unique_id="test-9.1", channel="PJSIP/9001-00000009", caller_number="0811")


@pytest.fixture
async def store(tmp_path):
    bus = Bus()
    store = await ticket_store(tmp_path, bus)
    store.test_feed = bus.subscribe()
    yield store
    await store.engine.dispose()


@pytest.fixture
def config(tmp_path):
    return routing_config(tmp_path)


async def answered_call(store):
    await store.open_ticket(CALLER, source="ivr")
    await store.apply(
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


async def test_primary_answers_into_the_conference(store, config):
    await answered_call(store)
    phones = FakeTelephony(answers={"PJSIP/7001": Ringing(True)})
    started = await dispatch_and_wait(Dispatcher(config, store, phones))
    assert phones.joined == [(CALLER.channel, "PJSIP/2001-0000000a", started.conference)]
    assert [t for t, _, _ in phones.rung] == ["PJSIP/7001"]
    ticket = await store.get_ticket(started.ticket_id)
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
    await store.apply(AgencyLegEnded(d.leg_id, cause="Normal Clearing"))
    [d] = (await store.get_ticket(started.ticket_id)).dispatches
    assert d.outcome == "ended" and d.duration is not None and d.duration >= 0


async def test_unanswered_primary_falls_back_to_the_backup(store, config):
    await answered_call(store)
    phones = FakeTelephony(answers={"PJSIP/7002": Ringing(True)})
    started = await dispatch_and_wait(Dispatcher(config, store, phones))
    assert [t for t, _, _ in phones.rung] == ["PJSIP/7001", "PJSIP/7002"]
    ticket = await store.get_ticket(started.ticket_id)
    assert [(d.target, d.outcome) for d in ticket.dispatches] == [
        ("PJSIP/7001", "no-answer"),
        ("PJSIP/7002", "answered"),
    ]
    assert ticket.status == "dispatched"


async def test_nobody_answers_alerts_and_the_caller_stays_with_the_calltaker(store, config):
    await answered_call(store)
    phones = FakeTelephony(answers={"PJSIP/7002": Ringing(False, "busy", "reason 5")})
    started = await dispatch_and_wait(Dispatcher(config, store, phones))
    ticket = await store.get_ticket(started.ticket_id)
    assert ticket.status == "answered" and ticket.agency is None
    assert [e.kind for e in ticket.events][-1] == "dispatch-failed"
    alerts = []
    while not store.test_feed.queue.empty():
        event = store.test_feed.queue.get_nowait()
        if isinstance(event, DispatchAlert):
            alerts.append(event)
    assert [(a.ticket_id, a.agency) for a in alerts] == [(started.ticket_id, "polresta")]


async def test_second_agency_joins_the_same_conference(store, config):
    await answered_call(store)
    phones = FakeTelephony(answers={"PJSIP/7001": Ringing(True), "PJSIP/7003": Ringing(True)})
    dispatcher = Dispatcher(config, store, phones)
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
async def test_dispatch_refused_with_a_reason(store, config, setup, agency, kind):
    if setup == "answered":
        await answered_call(store)
    elif setup == "queued":
        await store.open_ticket(CALLER, source="ivr")
    phones = FakeTelephony()
    with pytest.raises(DispatchError) as e:
        await Dispatcher(config, store, phones).dispatch(CALLER.unique_id, agency, "petugas1")
    assert e.value.why == kind
    assert phones.joined == [] and phones.rung == []


class TestOverflow:
    async def test_overflow_rings_the_agency_of_the_category(self, store, config):
        ticket = await store.open_ticket(CALLER, source="ivr")
        await store.ivr_done(CALLER.unique_id, "ambulance", 2, [], {})
        channel = FakeChannel(
            unique_id=CALLER.unique_id, variables={variables.QUEUE_STATUS: "JOINEMPTY"}
        )
        await overflow.overflow(channel, store, config)
        assert channel.variables[variables.AGENCY] == "pmi"
        assert channel.variables[variables.TARGET_COUNT] == "1"
        assert channel.variables["NGALAM_TARGET_1"] == "PJSIP/7003"
        assert channel.variables["NGALAM_RING_1"] == "20"
        ticket = await store.get_ticket(ticket.id)
        assert "overflow" in ticket.flags
        event = next(e for e in ticket.events if e.kind == "overflow")
        assert event.data == {"reason": "JOINEMPTY", "agency": "pmi", "category": "ambulance"}

    async def test_a_call_without_category_overflows_to_the_default_agency(self, store, config):
        channel = FakeChannel(
            unique_id=CALLER.unique_id, variables={variables.QUEUE_STATUS: "TIMEOUT"}
        )
        await overflow.overflow(channel, store, config)
        assert channel.variables[variables.AGENCY] == "polresta"
        assert channel.variables[variables.TARGET_COUNT] == "2"

    async def test_ring_and_dialled_record_each_attempt(self, store, config):
        ticket = await store.open_ticket(CALLER, source="ivr")
        channel = FakeChannel(
            unique_id=CALLER.unique_id,
            variables={variables.AGENCY: "polresta", variables.CURRENT_TARGET: "PJSIP/7001"},
        )
        await overflow.ring(channel, store, config)
        channel.variables[variables.DIAL_STATUS] = "NOANSWER"
        await overflow.dialled(channel, store, config)
        channel.variables[variables.CURRENT_TARGET] = "PJSIP/7002"
        await overflow.ring(channel, store, config)
        answering = FakeChannel(
            unique_id="test-9.2", variables={"ARG1": channel.variables[variables.DISPATCH_ID]}
        )
        await overflow.answered(answering, store, config)
        assert (await store.get_ticket(ticket.id)).status == "dispatched"
        channel.variables.update({variables.DIAL_STATUS: "ANSWER", variables.ANSWERED_TIME: "42"})
        await overflow.dialled(channel, store, config)
        ticket = await store.get_ticket(ticket.id)
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
        self, store, config, agency, target
    ):
        ticket = await store.open_ticket(CALLER, source="ivr")
        channel = FakeChannel(
            unique_id=CALLER.unique_id,
            variables={variables.AGENCY: agency, variables.CURRENT_TARGET: target},
        )
        await overflow.ring(channel, store, config)
        assert variables.DISPATCH_ID not in channel.variables
        assert (await store.get_ticket(ticket.id)).dispatches == []

    async def test_unanswered_overflow_alerts(self, store, config):
        channel = FakeChannel(unique_id=CALLER.unique_id, variables={variables.AGENCY: "pmi"})
        await overflow.unanswered(channel, store, config)
        call = await store.call(CALLER.unique_id)
        ticket = await store.get_ticket(call.ticket_id)
        assert ticket.events[-1].kind == "dispatch-failed"
