"""The agency loop in the real controller, with the real Asterisk and SIP phones: a call-taker's
dispatch assigns the ticket to the agency, the assignment is stored with its deadline, and the
consoles see the ticket event live."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.centre import Console, call_112_and_press, database, phone
from tests.waiting import wait_until


@pytest.fixture
def police(asterisk):
    """Polresta's desk phone (the primary target), answering."""
    sip = phone(asterisk, "7001", answer=True)
    yield sip
    sip.stop()


def assignments_of(centre, ticket_id: int) -> list[tuple]:
    with database(centre) as db:
        return db.execute(
            "SELECT agency, status, assigned_by, assigned_at, deadline, deadline_at"
            " FROM assignments WHERE ticket_id = ?",
            (ticket_id,),
        ).fetchall()


def test_a_calltakers_dispatch_assigns_the_ticket_to_the_agency(
    asterisk, admin_api, calltaker_api, caller, desk, police
):
    before = {t["id"] for t in admin_api.tickets(limit="500")}
    console = Console.of(calltaker_api)
    call = call_112_and_press(caller, "1")
    try:
        desk.wait_answered(timeout=40)
        ticket = admin_api.wait_for_ticket(
            lambda t: (
                t["id"] not in before and t["caller_number"] == "9001" and t["status"] == "answered"
            ),
            timeout=40,
        )
        unique_id = ticket["calls"][0]["unique_id"]
        status, body = calltaker_api.request(
            "POST", f"/api/calls/{unique_id}/dispatch", {"agency": "polresta"}
        )
        assert status == 202, body
        police.wait_answered()

        [(agency, status, by, assigned_at, deadline, deadline_at)] = wait_until(
            lambda: assignments_of(asterisk, ticket["id"]),
            message="no assignment was stored for the dispatch",
        )
        assert (agency, status, by, deadline) == ("polresta", "assigned", "petugas", "acknowledge")
        # The deadline is stored, not only timed: 2 minutes (the default) after the assignment.
        assigned, due = datetime.fromisoformat(assigned_at), datetime.fromisoformat(deadline_at)
        assert due - assigned == timedelta(seconds=120)

        live = console.wait_for(
            lambda m: (
                m["type"] == "ticket"
                and m["ticket"]["id"] == ticket["id"]
                and m["kind"] == "agency-status"
            )
        )
        assert live["event"]["data"]["to"] == "assigned"
        assert live["event"]["data"]["agency"] == "polresta"
        status, detail = admin_api.request("GET", f"/api/tickets/{ticket['id']}")
        assert status == 200, detail
        [assigned] = [e for e in detail["events"] if e["kind"] == "agency-status"]
        assert (assigned["actor"], assigned["data"]["from"], assigned["data"]["to"]) == (
            "petugas",
            None,
            "assigned",
        )
    finally:
        call.hangup()
        console.close()
