"""The centre's notes on a ticket against the real controller: the call-taker who answered the
call writes one, the live feed announces it, the agency assigned to the ticket reads it on its
list and in the EIDO document and adds its own; another desk and another agency are refused, and
a hostile body is a 400 that stores nothing."""

from __future__ import annotations

import html
import json

import pytest

from tests.centre import Api, Console, local_caller_hangs_up, place_scripted_112_call
from tests.integration.test_agency_web import assign, new_number, ticket_of_a_call
from tests.waiting import wait_until

# Caller-supplied words reach notes too: markup, an ampersand, letters beyond ASCII, a line break.
CALLTAKER_NOTE = "Korban di lantai 2 <dekat tangga> & butuh tandu 🚑\nPintu belakang terbuka"
AGENCY_NOTE = "Unit Sabhara 3 menuju lokasi, perkiraan tiba 10 menit"


@pytest.fixture
def petugas2_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])


def answered_at_desk_2001(centre, admin_api: Api, desk, number: str) -> int:
    """A real call to 112 that call-taker 2001 answers on their phone: its ticket. The caller
    stays on the line until the test hangs them up."""
    place_scripted_112_call(centre.config, f'"Catatan Uji" <{number}>', keys="1", stay=60)
    desk.wait_answered(timeout=60)

    def answered() -> int | None:
        tickets = admin_api.tickets(caller_number=number)
        return next((t["id"] for t in tickets if t["answered_at"]), None)

    ticket_id: int = wait_until(answered, 30, 0.2, f"no answered ticket for {number}")
    return ticket_id


def notes_in_log(api: Api, ticket_id: int) -> list[dict]:
    status, detail = api.request("GET", f"/api/tickets/{ticket_id}")
    assert status == 200, detail
    return [e for e in detail["events"] if e["kind"] == "note"]


def test_the_desk_notes_a_ticket_and_its_agency_reads_it_everywhere(
    asterisk, admin_api, calltaker_api, petugas2_api, supervisor_api, polresta_api, pmi_api, desk
):
    number = new_number()
    try:
        ticket_id = answered_at_desk_2001(asterisk, admin_api, desk, number)
    finally:
        local_caller_hangs_up(asterisk.config, number)
    path = f"/api/tickets/{ticket_id}/notes"

    # The desk that answered writes a note; its console's feed announces it.
    feed = Console.of(calltaker_api)
    try:
        status, reply = calltaker_api.request("POST", path, {"text": f"  {CALLTAKER_NOTE}  "})
        assert status == 201, reply
        assert [(n["text"], n["author"]) for n in reply["notes"]] == [(CALLTAKER_NOTE, "petugas")]
        assert number not in json.dumps(reply)
        message = feed.wait_for(
            lambda m: (
                m["type"] == "ticket" and m["kind"] == "note" and m["ticket"]["id"] == ticket_id
            )
        )
        assert message["event"]["data"] == {"text": CALLTAKER_NOTE, "role": "call-taker"}
    finally:
        feed.close()
    [note] = notes_in_log(admin_api, ticket_id)
    assert note["actor"] == "petugas"
    assert note["data"] == {"text": CALLTAKER_NOTE, "role": "call-taker"}

    # Another desk did not answer it; an agency holds no assignment on it yet.
    assert petugas2_api.request("POST", path, {"text": "bukan milik saya"})[0] == 403
    assert polresta_api.request("POST", path, {"text": "belum ditugaskan"})[0] == 403

    # Assigned to Polresta: it reads the note on its list, adds its own; PMI still may not.
    assign(calltaker_api, ticket_id, "polresta")
    status, body = polresta_api.request("GET", "/api/agency/assignments")
    assert status == 200, body
    [item] = [i for i in body["assignments"] if i["ticket"]["id"] == ticket_id]
    assert [(n["text"], n["author"]) for n in item["ticket"]["notes"]] == [
        (CALLTAKER_NOTE, "petugas")
    ]
    status, reply = polresta_api.request("POST", path, {"text": AGENCY_NOTE})
    assert status == 201, reply
    assert [n["text"] for n in reply["notes"]] == [CALLTAKER_NOTE, AGENCY_NOTE]
    assert number not in json.dumps(reply)  # Polresta does not see callers' numbers
    assert pmi_api.request("POST", path, {"text": "bukan tiket kami"})[0] == 403
    # A supervisor notes any ticket.
    assert supervisor_api.request("POST", path, {"text": "x" * 2000})[0] == 201

    # The EIDO document carries each note, as HTML, in the order written.
    status, document = polresta_api.request("GET", f"/api/tickets/{ticket_id}/eido")
    assert status == 200, document
    comments = [n["notesActionComments"] for n in document["notesComponent"]]
    written = [
        html.escape(CALLTAKER_NOTE).replace("\n", "<br>"),
        html.escape(AGENCY_NOTE),
        "x" * 2000,
    ]
    assert [c for c in comments if c in written] == written
    assert "<dekat" not in json.dumps(document)

    notes = notes_in_log(admin_api, ticket_id)
    assert [(n["actor"], n["data"]["role"]) for n in notes] == [
        ("petugas", "call-taker"),
        ("polresta1", "agency"),
        ("penyelia", "supervisor"),
    ]


def test_a_hostile_note_is_refused_and_stores_nothing(
    asterisk, admin_api, calltaker_api, polresta_api
):
    number = new_number()
    ticket_id = ticket_of_a_call(asterisk, admin_api, number)
    assign(calltaker_api, ticket_id, "polresta")
    path = f"/api/tickets/{ticket_id}/notes"
    before = admin_api.request("GET", f"/api/tickets/{ticket_id}")[1]["events"]

    hostile = [
        {},
        {"text": "ada", "author": "admin"},  # no key outside the known
        {"text": ""},
        {"text": " \n\t "},
        {"text": "a" * 2001},
        {"text": "a" * 5000},
        {"text": "\ud800"},  # a lone surrogate: JSON carries it, UTF-8 cannot
        {"text": 5},
        {"text": None},
        {"text": ["ada"]},
        ["text"],
    ]
    for api in (calltaker_api, polresta_api):
        for body in hostile:
            status, reply = api.request("POST", path, body)
            assert status == 400 and "error" in reply, (body, status, reply)
        for raw in (b"", b"{", b'"text"', b'{"text": "\xff"}', b'{"text": 1' + b"0" * 5000 + b"}"):
            status, reply = api.request_raw("POST", path, raw)
            assert status == 400 and "error" in reply, (raw[:20], status, reply)
    assert admin_api.request("GET", f"/api/tickets/{ticket_id}")[1]["events"] == before

    # No such ticket, a path that is no ticket id, and nobody logged in.
    for bad in ("999999999", "0", "%D9%A1", "1_0", "-1"):
        status, _reply = calltaker_api.request("POST", f"/api/tickets/{bad}/notes", {"text": "x"})
        assert status == 404, bad
    assert Api(asterisk.base_url, None).request("POST", path, {"text": "x"})[0] == 401
    assert admin_api.request("GET", f"/api/tickets/{ticket_id}")[1]["events"] == before
