"""The agency side of the web against the real controller: an agency reads and moves only the
tickets assigned to it, sees the caller's number only if its configuration says so, is refused
everything that is the centre's (401/403), gets the EIDO document of its tickets, and its
webhook receives each assignment and move, signed."""

from __future__ import annotations

import json
import secrets

import pytest

from callcenter.routing.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.centre import (
    WEBHOOK_SECRET,
    Api,
    Console,
    database,
    local_caller_hangs_up,
    place_local_112_call,
)
from tests.waiting import wait_until

CENTRE = "112.malangkota.go.id"


def new_number() -> str:
    return "0341" + str(secrets.randbelow(10**6)).zfill(6)


# The name every caller of this module gives (ticket_of_a_call).
CALLER_NAME = "Uji Instansi"


def ticket_of_a_call(centre, admin_api: Api, number: str) -> int:
    """A real call to 112 that nobody answers (the caller hangs up after 2 s): its ticket."""
    place_local_112_call(centre.config, f'"{CALLER_NAME}" <{number}>', seconds=2)

    def ended() -> int | None:
        tickets = admin_api.tickets(caller_number=number)
        return next((t["id"] for t in tickets if t["ended_at"]), None)

    ticket_id: int = wait_until(ended, 40, 0.3, f"no ended ticket for {number}")
    return ticket_id


def assign(calltaker_api: Api, ticket_id: int, agency: str) -> dict:
    status, body = calltaker_api.request(
        "POST", f"/api/tickets/{ticket_id}/assignments", {"agency": agency}
    )
    assert status == 200, body
    assignment: dict = body["assignment"]
    return assignment


def stored_status(centre, assignment_id: int) -> str:
    with database(centre) as db:
        row = db.execute("SELECT status FROM assignments WHERE id = ?", (assignment_id,)).fetchone()
    return str(row[0])


@pytest.fixture
def two_tickets(asterisk, admin_api, calltaker_api):
    """A ticket assigned to Polresta and one assigned to PMI, each from a real call."""
    numbers = {"polresta": new_number(), "pmi": new_number()}
    out = {}
    for agency, number in numbers.items():
        ticket_id = ticket_of_a_call(asterisk, admin_api, number)
        out[agency] = (ticket_id, assign(calltaker_api, ticket_id, agency), number)
    return out


def test_an_agency_reads_and_moves_only_what_is_assigned_to_it(
    asterisk, two_tickets, polresta_api, pmi_api, calltaker_api
):
    own_ticket, own, own_number = two_tickets["polresta"]
    other_ticket, other, other_number = two_tickets["pmi"]

    # Its list holds its ticket, not the other agency's, even when it asks for theirs.
    for path in ("/api/agency/assignments", "/api/agency/assignments?agency=pmi"):
        status, body = polresta_api.request("GET", path)
        assert status == 200, body
        assert body["agency"]["id"] == "polresta"
        listed = {item["ticket"]["id"]: item for item in body["assignments"]}
        assert own_ticket in listed and other_ticket not in listed
    item = listed[own_ticket]
    assert item["assignment"]["id"] == own["id"] and item["assignment"]["status"] == "assigned"
    # Polresta is not configured to see callers' numbers: they are not in what it receives.
    assert "caller_number" not in item["ticket"] and own_number not in json.dumps(body)
    status, ticket = polresta_api.request("GET", f"/api/tickets/{own_ticket}")
    assert status == 200 and ticket["id"] == own_ticket
    assert own_number not in json.dumps(ticket) and "calls" not in ticket and "events" not in ticket
    # PMI is: its list carries the number.
    status, body = pmi_api.request("GET", "/api/agency/assignments")
    [pmi_item] = [i for i in body["assignments"] if i["ticket"]["id"] == other_ticket]
    assert pmi_item["ticket"]["caller_number"] == other_number

    # The other agency's ticket and assignment: refused, and nothing changed.
    feed = Console.of(polresta_api)
    try:
        refusals = [
            ("GET", f"/api/tickets/{other_ticket}", None),
            ("GET", f"/api/tickets/{other_ticket}/eido", None),
            ("PATCH", f"/api/tickets/{other_ticket}", {"what": "bukan urusan kami"}),
            ("POST", f"/api/tickets/{other_ticket}/close", {"outcome": "prank"}),
            ("POST", f"/api/assignments/{other['id']}/status", {"status": "acknowledged"}),
            ("POST", f"/api/tickets/{other_ticket}/assignments", {"agency": "polresta"}),
            # Its own ticket is read, never edited: that is the centre's.
            ("PATCH", f"/api/tickets/{own_ticket}", {"what": "diubah instansi"}),
            ("GET", f"/api/tickets/{own_ticket}/recording", None),
            # The centre's lists, logins, restrictions and reports (refused entirely: an
            # agency's figures are in the evaluation the centre sends it).
            ("GET", "/api/tickets", None),
            ("GET", "/api/users", None),
            ("POST", "/api/users", {"username": "x", "password": "p" * 12, "role": "admin"}),
            ("GET", "/api/restrictions", None),
            ("GET", "/api/reports/summary?by=agency", None),
            ("GET", "/api/reports/summary.csv?by=agency", None),
            ("GET", "/api/reports/national", None),
            ("GET", "/reports", None),
            ("GET", "/reports/evaluation", None),
            # Supervision: no listening in, no board, no callbacks.
            ("POST", "/api/calls/x-1.1/listen", {"mode": "listen"}),
            ("GET", "/api/board", None),
            ("GET", "/api/callbacks", None),
            ("POST", f"/api/tickets/{other_ticket}/callback", {"extension": "2001"}),
            # The call-taker's desk.
            ("GET", "/api/queues", None),
            ("GET", "/api/agents", None),
            ("POST", "/api/agents/2001/state", {"state": "available"}),
            ("POST", "/api/calls/x-1.1/dispatch", {"agency": "polresta"}),
            ("POST", "/api/calls/x-1.1/hold", None),
            ("GET", "/console", None),
            ("GET", "/board", None),
        ]
        for method, path, body in refusals:
            status, reply = polresta_api.request(method, path, body)
            assert status == 403, (method, path, status, reply)
        assert stored_status(asterisk, other["id"]) == "assigned"

        # The other agency moves its own; then Polresta moves its own. Its feed carries its own
        # change, and never PMI's (which was published first, so it would have come first).
        assert (
            pmi_api.request(
                "POST", f"/api/assignments/{other['id']}/status", {"status": "acknowledged"}
            )[0]
            == 200
        )
        status, moved = polresta_api.request(
            "POST", f"/api/assignments/{own['id']}/status", {"status": "acknowledged"}
        )
        assert status == 200, moved
        assert moved["assignment"]["status"] == "acknowledged"
        assert moved["assignment"]["moved_by"] == "polresta1"
        feed.wait_for(lambda m: m["type"] == "assignment" and m["assignment"]["id"] == own["id"])
        theirs = [m for m in feed.messages if m.get("assignment", {}).get("agency") == "pmi"]
        assert theirs == []
        # Nor any ticket message: a ticket carries the caller's number.
        assert not [m for m in feed.messages if m["type"] == "ticket"]
    finally:
        feed.close()

    # The rules of the loop, as HTTP: a repeat is a conflict, a wrong body a bad request.
    path = f"/api/assignments/{own['id']}/status"
    assert polresta_api.request("POST", path, {"status": "acknowledged"})[0] == 409
    for body in (
        {"status": "cleared"},  # no disposition
        {"status": "assigned"},
        {"status": "dibakar"},
        {"status": ["en-route"]},
        {"status": "en-route", "text": 5},
        {"status": "en-route", "mover": "admin"},  # no key outside the known
        {},
        # A lone surrogate: JSON carries it, UTF-8 (and so the database) cannot.
        {"status": "declined", "text": "bukan wilayah \ud800"},
        {"status": "cleared", "text": "\udfff"},
    ):
        status, reply = polresta_api.request("POST", path, body)
        assert status == 400 and "error" in reply, (body, reply)
    assert (
        polresta_api.request("POST", "/api/assignments/999999999/status", {"status": "en-route"})[0]
        == 404
    )
    assert stored_status(asterisk, own["id"]) == "acknowledged"

    # A call-taker does not move an agency's assignment (the deadlines exist to reach the
    # supervisors); nobody without a login reads or moves anything.
    assert calltaker_api.request("POST", path, {"status": "en-route"})[0] == 403
    assert calltaker_api.request("GET", "/api/agency/assignments?agency=polresta")[0] == 403
    assert calltaker_api.request("GET", "/agency")[0] == 403
    anonymous = Api(asterisk.base_url, None)
    for method, path_, body in (
        ("GET", "/api/agency/assignments", None),
        ("POST", path, {"status": "en-route"}),
        ("GET", f"/api/tickets/{own_ticket}/eido", None),
        ("GET", f"/api/tickets/{own_ticket}", None),
    ):
        assert anonymous.request(method, path_, body)[0] == 401, path_
    assert stored_status(asterisk, own["id"]) == "acknowledged"


def test_a_supervisor_records_a_move_for_an_agency(asterisk, two_tickets, supervisor_api):
    ticket_id, assignment, _number = two_tickets["pmi"]
    status, body = supervisor_api.request("GET", "/api/agency/assignments?agency=pmi")
    assert status == 200 and ticket_id in {i["ticket"]["id"] for i in body["assignments"]}
    assert supervisor_api.request("GET", "/api/agency/assignments")[0] == 400  # which agency?
    status, body = supervisor_api.request(
        "POST",
        f"/api/assignments/{assignment['id']}/status",
        {"status": "declined", "text": "bukan wilayah kami, kata piket lewat radio"},
    )
    assert status == 200, body
    assert body["assignment"]["decline_reason"] == "bukan wilayah kami, kata piket lewat radio"


def test_the_eido_document_carries_every_agencys_status(
    asterisk, admin_api, calltaker_api, supervisor_api, polresta_api, pmi_api
):
    number = new_number()
    ticket_id = ticket_of_a_call(asterisk, admin_api, number)
    police = assign(calltaker_api, ticket_id, "polresta")
    ambulance = assign(calltaker_api, ticket_id, "pmi")
    assert (
        polresta_api.request(
            "POST", f"/api/assignments/{police['id']}/status", {"status": "acknowledged"}
        )[0]
        == 200
    )
    assert (
        pmi_api.request(
            "POST", f"/api/assignments/{ambulance['id']}/status", {"status": "en-route"}
        )[0]
        == 200
    )

    status, document = supervisor_api.request("GET", f"/api/tickets/{ticket_id}/eido")
    assert status == 200, document
    assert document["$id"] == f"urn:emergency:uid:incidentid:{ticket_id}:{CENTRE}"
    assert document["eidoVersion"] == "1.0"
    resources = {r["emergencyResourceName"]: r for r in document["emergencyResourceComponent"]}
    police_unit = resources["Polresta Malang Kota"]
    assert police_unit["unitStatusInternal"] == ["acknowledged"]
    assert police_unit["primaryUnitStatusRegistryText"] == "NotAvailable"
    assert police_unit["secondaryUnitStatusRegistryText"] == ["AcknowledgedTransmission"]
    ambulance_unit = resources["PMI Kota Malang"]
    assert ambulance_unit["unitStatusInternal"] == ["en-route"]
    assert ambulance_unit["secondaryUnitStatusRegistryText"] == ["EnRoute"]
    agencies = {a["$id"] for a in document["agencyComponent"]}
    assert {CENTRE, f"polresta.{CENTRE}", f"pmi.{CENTRE}"} <= agencies
    assert len(document["dispatchComponent"]) == 2
    tel = "+62" + number[1:]  # EIDO carries the number as a tel: URI
    assert tel in json.dumps(document)  # the centre sees the caller

    assert CALLER_NAME in json.dumps(document)

    # Each agency reads it too, with the number (and the caller's name, which identifies them as
    # much) only if its configuration says so.
    status, theirs = polresta_api.request("GET", f"/api/tickets/{ticket_id}/eido")
    assert status == 200 and tel not in json.dumps(theirs) and number[1:] not in json.dumps(theirs)
    assert CALLER_NAME not in json.dumps(theirs)
    assert len(theirs["emergencyResourceComponent"]) == 2
    status, theirs = pmi_api.request("GET", f"/api/tickets/{ticket_id}/eido")
    assert status == 200 and tel in json.dumps(theirs) and CALLER_NAME in json.dumps(theirs)
    assert calltaker_api.request("GET", f"/api/tickets/{ticket_id}/eido")[0] == 200
    assert supervisor_api.request("GET", "/api/tickets/999999999/eido")[0] == 404


def test_the_agencys_webhook_receives_each_change_signed(
    asterisk, admin_api, calltaker_api, polresta_api
):
    number = new_number()
    ticket_id = ticket_of_a_call(asterisk, admin_api, number)
    assignment = assign(calltaker_api, ticket_id, "polresta")
    assert (
        polresta_api.request(
            "POST", f"/api/assignments/{assignment['id']}/status", {"status": "en-route"}
        )[0]
        == 200
    )

    receiver = asterisk.webhooks

    def about_it(post) -> bool:
        return post.payload["assignment"]["id"] == assignment["id"]

    wait_until(
        lambda: len([p for p in receiver.received if about_it(p)]) >= 2,
        20,
        0.1,
        "the assignment and its move did not both reach the webhook",
    )
    posts = [p for p in receiver.received if about_it(p)]
    assigned, moved = (p.payload for p in posts[:2])
    assert (assigned["event"], assigned["status"], assigned["previous"]) == (
        "assigned",
        "assigned",
        None,
    )
    assert assigned["actor"] == "petugas" and assigned["agency"] == "polresta"
    assert assigned["ticket"]["id"] == ticket_id
    assert (moved["event"], moved["status"], moved["previous"]) == (
        "status",
        "en-route",
        "assigned",
    )
    assert moved["actor"] == "polresta1"
    for post in posts:
        assert verify(
            WEBHOOK_SECRET,
            post.headers[TIMESTAMP_HEADER],
            post.body,
            post.headers[SIGNATURE_HEADER],
        )
        assert not verify(
            "another secret!",
            post.headers[TIMESTAMP_HEADER],
            post.body,
            post.headers[SIGNATURE_HEADER],
        )
        # Polresta does not see callers' numbers, nor does its system.
        assert number.encode() not in post.body


@pytest.fixture
def petugas2_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])


def test_a_declined_ticket_goes_back_to_the_centre_until_another_agency_has_it(
    asterisk, admin_api, calltaker_api, petugas2_api, supervisor_api, polresta_api, desk
):
    # Here, not at the top: that module imports this one's helpers.
    from tests.integration.test_ticket_notes import answered_at_desk_2001

    number = new_number()
    try:
        ticket_id = answered_at_desk_2001(asterisk, admin_api, desk, number)
    finally:
        local_caller_hangs_up(asterisk.config, number)
    assignment = assign(calltaker_api, ticket_id, "polresta")
    feeds = {api: Console.of(api) for api in (supervisor_api, calltaker_api, petugas2_api)}
    try:
        status, reply = polresta_api.request(
            "POST",
            f"/api/assignments/{assignment['id']}/status",
            {"status": "declined", "text": "urusan PLN, bukan polisi"},
        )
        assert status == 200, reply

        def the_decline(m: dict) -> bool:
            return m["type"] == "assignment" and m["assignment"]["id"] == assignment["id"]

        board, console, other_desk = (feeds[api].wait_for(the_decline) for api in feeds)
        # The board is told the ticket is back with the centre, and why.
        assert board["back_to_centre"] is True and board["ticket_id"] == ticket_id
        assert board["assignment"]["decline_reason"] == "urusan PLN, bukan polisi"
        assert "answered_here" not in board
        # The console of the desk that answered the call is told it is theirs; another's is not.
        assert console["back_to_centre"] is True and console["answered_here"] is True
        assert other_desk["back_to_centre"] is True and "answered_here" not in other_desk
    finally:
        for feed in feeds.values():
            feed.close()

    def waiting() -> dict[int, dict]:
        status, body = supervisor_api.request("GET", "/api/agency/declined")
        assert status == 200, body
        return {item["ticket"]["id"]: item for item in body["declined"]}

    item = waiting()[ticket_id]
    assert item["assignment"]["id"] == assignment["id"]
    assert (item["agency_name"], item["assignment"]["decline_reason"]) == (
        "Polresta Malang Kota",
        "urusan PLN, bukan polisi",
    )
    assert number not in json.dumps(item)
    # The centre's list: not an agency's, nor a call-taker's (the board is the supervisors').
    for api in (polresta_api, calltaker_api):
        assert api.request("GET", "/api/agency/declined")[0] == 403
    assert Api(asterisk.base_url, None).request("GET", "/api/agency/declined")[0] == 401

    # Given to PMI, it no longer waits.
    assign(calltaker_api, ticket_id, "pmi")
    assert ticket_id not in waiting()
