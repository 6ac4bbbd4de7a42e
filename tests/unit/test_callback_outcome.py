"""The `callback` FastAGI route: what Asterisk says about a dial back lands on the right ticket,
and whatever else arrives in those variables is refused or cleaned, never stored raw."""

from __future__ import annotations

import pytest

from callcenter.live.facts import CallRef
from callcenter.supervision.callbacks import dialled
from callcenter.telephony import dialplan
from tests.records import sqlite_records
from tests.unit.fakes import FakeChannel


@pytest.fixture
async def records(tmp_path):
    records = await sqlite_records(tmp_path)
    yield records
    await records.engine.dispose()


async def opened_ticket(records) -> int:
    ticket = await records.calls.open_ticket(
        CallRef("caller-1.1", caller_number="0341123456"), source="ivr"
    )
    return ticket.id


async def callback_events(records, ticket_id: int) -> list:
    ticket = await records.tickets.get(ticket_id)
    return [e for e in ticket.events if e.kind.startswith("callback")]


async def test_an_answered_callback_is_recorded_with_how_long_they_talked(records, tmp_path):
    ticket_id = await opened_ticket(records)
    leg = FakeChannel(
        unique_id="callback-leg.1",
        variables={
            dialplan.TICKET_ID: str(ticket_id),
            dialplan.DIAL_STATUS: "ANSWER",
            dialplan.ANSWERED_TIME: "42",
        },
    )
    await dialled(leg, records.tickets)
    [event] = await callback_events(records, ticket_id)
    assert event.kind == "callback-answered" and event.actor == "asterisk"
    assert event.data == {"status": "ANSWER", "seconds": 42.0, "leg": "callback-leg.1"}


@pytest.mark.parametrize(
    "ticket_id", ["", "abc", "²", "1; DROP TABLE tickets", "9" * 40, "-1", " 1"]
)
async def test_a_ticket_id_that_is_not_one_records_nothing(records, tmp_path, ticket_id):
    real = await opened_ticket(records)
    leg = FakeChannel(variables={dialplan.TICKET_ID: ticket_id, dialplan.DIAL_STATUS: "ANSWER"})
    await dialled(leg, records.tickets)  # no exception, nothing written
    assert await callback_events(records, real) == []


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
    records, tmp_path, status, talked, kind, seconds
):
    ticket_id = await opened_ticket(records)
    leg = FakeChannel(
        variables={
            dialplan.TICKET_ID: str(ticket_id),
            dialplan.DIAL_STATUS: status,
            dialplan.ANSWERED_TIME: talked,
        }
    )
    await dialled(leg, records.tickets)
    [event] = await callback_events(records, ticket_id)
    assert event.kind == kind
    assert event.data["seconds"] == seconds and len(event.data["status"]) <= 32
