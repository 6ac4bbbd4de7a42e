"""The `callback` FastAGI route: what Asterisk says about a dial back lands on the right ticket,
and whatever else arrives in those variables is refused or cleaned, never stored raw."""

from __future__ import annotations

import pytest

from callcenter.ivr import variables
from callcenter.live.events import CallRef
from callcenter.supervision.callbacks import dialled
from tests.unit.fakes import FakeChannel, routing_config, ticket_store


@pytest.fixture
async def store(tmp_path):
    store = await ticket_store(tmp_path)
    yield store
    await store.engine.dispose()


async def opened_ticket(store) -> int:
    ticket = await store.open_ticket(
        CallRef("caller-1.1", caller_number="0341123456"), source="ivr"
    )
    return ticket.id


async def callback_events(store, ticket_id: int) -> list:
    ticket = await store.get_ticket(ticket_id)
    return [e for e in ticket.events if e.kind.startswith("callback")]


async def test_an_answered_callback_is_recorded_with_how_long_they_talked(store, tmp_path):
    ticket_id = await opened_ticket(store)
    leg = FakeChannel(
        unique_id="callback-leg.1",
        variables={
            variables.TICKET_ID: str(ticket_id),
            variables.DIAL_STATUS: "ANSWER",
            variables.ANSWERED_TIME: "42",
        },
    )
    await dialled(leg, store, routing_config(tmp_path))
    [event] = await callback_events(store, ticket_id)
    assert event.kind == "callback-answered" and event.actor == "asterisk"
    assert event.data == {"status": "ANSWER", "seconds": 42.0, "leg": "callback-leg.1"}


@pytest.mark.parametrize(
    "ticket_id", ["", "abc", "²", "1; DROP TABLE tickets", "9" * 40, "-1", " 1"]
)
async def test_a_ticket_id_that_is_not_one_records_nothing(store, tmp_path, ticket_id):
    real = await opened_ticket(store)
    leg = FakeChannel(variables={variables.TICKET_ID: ticket_id, variables.DIAL_STATUS: "ANSWER"})
    await dialled(leg, store, routing_config(tmp_path))  # no exception, nothing written
    assert await callback_events(store, real) == []


@pytest.mark.parametrize(
    "status,talked,kind,seconds",
    [
        ("NOANSWER", "", "callback-no-answer", 0.0),
        ("BUSY", "nan", "callback-busy", 0.0),
        ("CHANUNAVAIL", "1e309", "callback-failed", 0.0),
        ("X" * 500, "³", "callback-failed", 0.0),
        ("ANSWER", "12.5", "callback-answered", 12.5),
    ],
)
async def test_odd_dial_results_are_recorded_as_failed_and_clipped(
    store, tmp_path, status, talked, kind, seconds
):
    ticket_id = await opened_ticket(store)
    leg = FakeChannel(
        variables={
            variables.TICKET_ID: str(ticket_id),
            variables.DIAL_STATUS: status,
            variables.ANSWERED_TIME: talked,
        }
    )
    await dialled(leg, store, routing_config(tmp_path))
    [event] = await callback_events(store, ticket_id)
    assert event.kind == kind
    assert event.data["seconds"] == seconds and len(event.data["status"]) <= 32
