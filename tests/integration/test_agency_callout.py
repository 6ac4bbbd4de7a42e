"""Acknowledging by phone, with the real Asterisk, the real controller and real SIP phones: a
ticket assigned to Polresta calls its desk phone, which hears the ticket and presses 1; so does a
ticket a call-taker dispatched into a conference, once Polresta's leg of it hangs up; a ticket
nobody acknowledges is re-alerted to the backup phone and then raised on the supervisors' board,
even when the controller was killed between the assignment and the deadline.

A centre of this module's own: its deadlines are seconds, which would re-alert the shared
centre's agencies in the middle of other tests."""

from __future__ import annotations

import json
import os
import secrets
from contextlib import closing
from datetime import UTC, datetime

import pytest

from tests.centre import (
    Api,
    Console,
    call_112_and_press,
    database,
    hang_up,
    phone,
    place_local_112_call,
    press,
    private_centre,
)
from tests.waiting import wait_until

# Polresta acknowledges within 10 s, or is called again on its backup; 3 s after that the board
# is told.
CENTRE = f"""
[ivr]
default_agency = "lainnya"

[[agency_phones]]
extension = "7001"
name = "Polresta Piket"
secret = "{secrets.token_urlsafe(16)}"
dtmf_mode = "inband"

[[agency_phones]]
extension = "7002"
name = "Polresta Cadangan"
secret = "{secrets.token_urlsafe(16)}"
dtmf_mode = "inband"

[[test_callers]]
extension = "9001"
name = "Penelepon Uji"
secret = "{secrets.token_urlsafe(16)}"
dtmf_mode = "inband"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "public-order"]
primary = "PJSIP/7001"
backup = "PJSIP/7002"
ring_timeout = 5
acknowledge_within = 10
escalate_after = 3

[[agencies]]
id = "lainnya"
name = "Instansi Uji (tidak terdaftar)"
categories = ["ambulance", "electricity", "fire"]
primary = "PJSIP/7009"
ring_timeout = 3
callout = false
"""
# Unlike the shared centre's (20000-38999) and the outage test's (45000-53999).
RTP = 54000 + (os.getpid() % 90) * 100


@pytest.fixture(scope="module")
async def running(tmp_path_factory):
    users = {
        "admin": "admin",
        "petugas": "call-taker",
        "penyelia": "supervisor",
        "polisi": "agency:polresta",
    }
    directory = tmp_path_factory.mktemp("callout")
    instance = f"ack-{os.getpid()}"
    # The engine looks for passed deadlines every second.
    controller = "deadline_check = 1\n"
    async with private_centre(directory, instance, RTP, CENTRE, users, controller) as running:
        yield running


@pytest.fixture(scope="module")
def centre(running):
    return running[0]


@pytest.fixture
def controller(running):
    """The centre's controller process; started again after the test if it left it stopped."""
    controller = running[1]
    yield controller
    if controller.process is None or controller.process.poll() is not None:
        controller.start()


@pytest.fixture(scope="module")
def apis(centre):
    return {
        name: Api.login(centre.base_url, name, centre.passwords[name]) for name in centre.passwords
    }


@pytest.fixture
def desk_phones(centre):
    """Polresta's desk phone and its backup, both picking up when called."""
    phones = {ext: phone(centre, ext, answer=True) for ext in ("7001", "7002")}
    yield phones
    for sip in phones.values():
        for call in sip.answered:
            hang_up(call)
        sip.stop()


def police_ticket(centre, apis, number: str) -> int:
    """A ticket of a real 112 call (Asterisk calls, then hangs up), made a police report in
    kelurahan Dinoyo by the call-taker."""
    admin = apis["admin"]
    place_local_112_call(centre.config, f'"Penelepon Uji" <{number}>', seconds=1)
    ticket = admin.wait_for_ticket(lambda t: t["caller_number"] == number, timeout=30)
    status, body = apis["petugas"].request(
        "PATCH",
        f"/api/tickets/{ticket['id']}",
        {"category": "police", "kecamatan": "Lowokwaru", "kelurahan": "Dinoyo"},
    )
    assert status == 200, body
    return int(ticket["id"])


def assign(apis, ticket_id: int) -> dict:
    status, body = apis["petugas"].request(
        "POST", f"/api/tickets/{ticket_id}/assignments", {"agency": "polresta"}
    )
    assert status == 200, body
    assignment: dict = body["assignment"]
    assert (assignment["ticket_id"], assignment["agency"], assignment["status"]) == (
        ticket_id,
        "polresta",
        "assigned",
    )
    return assignment


def events(apis, ticket_id: int, kind: str) -> list[dict]:
    status, detail = apis["admin"].request("GET", f"/api/tickets/{ticket_id}")
    assert status == 200, detail
    return [e for e in detail["events"] if e["kind"] == kind]


def stored_events(centre, ticket_id: int, kind: str) -> list[dict]:
    """The ticket's events of `kind` as the database has them (with no controller to ask)."""
    with closing(database(centre)) as db:
        rows = db.execute(
            "SELECT data FROM ticket_events WHERE ticket_id = ? AND kind = ? ORDER BY id",
            (ticket_id, kind),
        ).fetchall()
    return [json.loads(data) for (data,) in rows]


def assignment_status(centre, assignment_id: int) -> tuple[str, str]:
    with closing(database(centre)) as db:
        status, moved_by = db.execute(
            "SELECT status, moved_by FROM assignments WHERE id = ?", (assignment_id,)
        ).fetchone()
    return status, moved_by


def test_the_desk_phone_hears_the_ticket_and_presses_1_to_acknowledge(centre, apis, desk_phones):
    board = Console.of(apis["penyelia"])
    try:
        ticket_id = police_ticket(centre, apis, "0811000001")
        assignment = assign(apis, ticket_id)

        call = desk_phones["7001"].wait_answered(timeout=30)

        # The key counts at any point of the briefing; pressed until the centre has it (a tone
        # sent before Asterisk listens is lost, as on a real line).
        def acknowledged() -> bool:
            if assignment_status(centre, assignment["id"])[0] == "acknowledged":
                return True
            press(call, "1")
            return False

        wait_until(acknowledged, 40, 0.5, "pressing 1 never acknowledged the assignment")
        assert assignment_status(centre, assignment["id"]) == (
            "acknowledged",
            "telepon PJSIP/7001",
        )
        # Every change a ticket event, naming the phone.
        moves = [e["data"] for e in events(apis, ticket_id, "agency-status")]
        assert [(m["from"], m["to"]) for m in moves] == [
            (None, "assigned"),
            ("assigned", "acknowledged"),
        ]
        assert (moves[1]["actor"], moves[1]["role"]) == ("telepon PJSIP/7001", "agency")
        [placed] = [e["data"] for e in events(apis, ticket_id, "agency-callout")]
        assert (placed["target"], placed["why"], placed["outcome"]) == (
            "PJSIP/7001",
            "assigned",
            "answered",
        )
        # The board saw it live.
        board.wait_for(
            lambda m: (
                m["type"] == "assignment"
                and m["ticket_id"] == ticket_id
                and m["assignment"]["status"] == "acknowledged"
            )
        )
        # The backup was never needed.
        assert desk_phones["7002"].rang == 0
    finally:
        board.close()


def test_an_unacknowledged_ticket_is_re_alerted_to_the_backup_then_raised_on_the_board(
    centre, apis, desk_phones
):
    board = Console.of(apis["penyelia"])
    try:
        ticket_id = police_ticket(centre, apis, "0811000002")
        assignment = assign(apis, ticket_id)
        # The primary answers and presses nothing.
        desk_phones["7001"].wait_answered(timeout=30)

        # The deadline passes: the backup is called.
        desk_phones["7002"].wait_answered(timeout=40)
        overdue = board.wait_for(
            lambda m: m["type"] == "agency-overdue" and m["ticket_id"] == ticket_id, timeout=40
        )
        assert (overdue["assignment_id"], overdue["agency"], overdue["deadline"]) == (
            assignment["id"],
            "polresta",
            "acknowledge",
        )
        assert overdue["status"] == "assigned" and overdue["sound"] is True

        steps = [e["data"] for e in events(apis, ticket_id, "agency-overdue")]
        assert [(s["step"], s["deadline"], s.get("target")) for s in steps] == [
            ("re-alert", "acknowledge", "PJSIP/7002"),
            ("board", "acknowledge", None),
        ]
        calls = [
            (e["data"]["target"], e["data"]["why"], e["data"]["outcome"])
            for e in events(apis, ticket_id, "agency-callout")
        ]
        assert calls == [
            ("PJSIP/7001", "assigned", "answered"),
            ("PJSIP/7002", "re-alert", "answered"),
        ]
        assert assignment_status(centre, assignment["id"])[0] == "assigned"
    finally:
        board.close()


def test_assigning_refuses_bad_requests_and_stores_nothing(centre, apis):
    ticket_id = police_ticket(centre, apis, "0811000003")
    petugas = apis["petugas"]
    path = f"/api/tickets/{ticket_id}/assignments"
    for body, status in (
        ({}, 400),
        ({"agency": "polresta", "priority": 9}, 400),
        ({"agency": "nobody"}, 400),
        ({"agency": ["polresta"]}, 400),
        ({"agency": None}, 400),
        ({"agency": "polresta\r\nAction: Originate"}, 400),
    ):
        code, answer = petugas.request("POST", path, body)
        assert code == status, (body, answer)
    assert petugas.request_raw("POST", path, b"\xff{")[0] == 400
    assert petugas.request_raw("POST", path, b"[1]")[0] == 400
    assert (
        petugas.request("POST", "/api/tickets/999999/assignments", {"agency": "polresta"})[0] == 404
    )
    assert petugas.request("POST", "/api/tickets/x1/assignments", {"agency": "polresta"})[0] == 404
    # An agency does not assign itself tickets; nobody without a login does.
    assert apis["polisi"].request("POST", path, {"agency": "polresta"})[0] == 403
    assert Api(centre.base_url, None).request("POST", path, {"agency": "polresta"})[0] == 401
    with closing(database(centre)) as db:
        assert db.execute(
            "SELECT count(*) FROM assignments WHERE ticket_id = ?", (ticket_id,)
        ).fetchone() == (0,)


@pytest.fixture
def calltaker_desk(centre, apis):
    """Call-taker 2001 at their softphone, in the queue, picking up."""
    sip = phone(centre, "2001", answer=True)
    apis["petugas"].desk("2001", "available")
    yield sip
    apis["petugas"].desk("2001", "logged-out")
    for call in sip.answered:
        hang_up(call)
    sip.stop()


@pytest.fixture
def caller(centre):
    """A public caller's SIP phone (in-band DTMF)."""
    sip = phone(centre, "9001")
    yield sip
    sip.stop()


def test_a_conference_dispatch_calls_the_desk_back_once_its_leg_hangs_up_and_1_acknowledges(
    centre, apis, desk_phones, calltaker_desk, caller
):
    """The acceptance path: a call-taker bridges a police caller to Polresta; the officer on the
    conference leg hangs up without acknowledging (a conference leg offers no keys); the desk
    phone is called about the ticket at once and pressing 1 acknowledges it."""
    admin, petugas = apis["admin"], apis["petugas"]
    before = {t["id"] for t in admin.tickets(limit="500")}
    board = Console.of(apis["penyelia"])
    call = call_112_and_press(caller, "1")
    try:
        calltaker_desk.wait_answered(timeout=40)
        ticket = admin.wait_for_ticket(
            lambda t: (
                t["id"] not in before and t["caller_number"] == "9001" and t["status"] == "answered"
            ),
            timeout=30,
        )
        ticket_id = ticket["id"]
        unique_id = ticket["calls"][0]["unique_id"]
        status, body = petugas.request(
            "POST", f"/api/calls/{unique_id}/dispatch", {"agency": "polresta"}
        )
        assert status == 202, body

        leg = desk_phones["7001"].wait_answered(timeout=30)
        # The leg is recorded as answered before it hangs up: its end is then the conference's.
        admin.wait_for_ticket(
            lambda t: (
                t["id"] == ticket_id
                and [(d["target"], d["outcome"]) for d in t["dispatches"]]
                == [("PJSIP/7001", "answered")]
            )
        )
        [assignment] = [
            e["data"]
            for e in events(apis, ticket_id, "agency-status")
            if e["data"]["to"] == "assigned"
        ]
        assert assignment_status(centre, assignment["assignment"])[0] == "assigned"
        hang_up(leg)

        callout = desk_phones["7001"].wait_answered(count=2, timeout=30)

        def acknowledged() -> bool:
            if assignment_status(centre, assignment["assignment"])[0] == "acknowledged":
                return True
            press(callout, "1")
            return False

        wait_until(acknowledged, 40, 0.5, "pressing 1 never acknowledged the assignment")
        assert assignment_status(centre, assignment["assignment"]) == (
            "acknowledged",
            "telepon PJSIP/7001",
        )
        moves = [e["data"] for e in events(apis, ticket_id, "agency-status")]
        assert [(m["from"], m["to"], m["actor"]) for m in moves] == [
            (None, "assigned", "petugas"),
            ("assigned", "acknowledged", "telepon PJSIP/7001"),
        ]
        # One callout, placed because the leg ended (a deadline re-alert, if the machine was
        # slow enough for one, is another reason and not this test's).
        placed = [
            (e["data"]["target"], e["data"]["outcome"])
            for e in events(apis, ticket_id, "agency-callout")
            if e["data"]["why"] == "after the conference"
        ]
        assert placed == [("PJSIP/7001", "answered")]
        board.wait_for(
            lambda m: (
                m["type"] == "assignment"
                and m["ticket_id"] == ticket_id
                and m["assignment"]["status"] == "acknowledged"
            )
        )
    finally:
        hang_up(call)
        board.close()


def test_a_controller_killed_between_assignment_and_deadline_still_escalates(
    centre, apis, controller
):
    """The deadline passes while the controller is down (kill -9: no shutdown of any kind); the
    controller started again re-alerts the backup phone, then raises the board."""
    ticket_id = police_ticket(centre, apis, "0811000005")
    # Nobody is at the desk phones yet: the call about the assignment reaches no one.
    assignment = assign(apis, ticket_id)
    controller.kill()
    phones: dict = {}
    try:
        # Killed before anything escalated: what follows is the restarted controller's doing.
        assert stored_events(centre, ticket_id, "agency-overdue") == []
        phones = {ext: phone(centre, ext, answer=True) for ext in ("7001", "7002")}
        due = datetime.fromisoformat(assignment["deadline_at"])
        wait_until(lambda: datetime.now(UTC) > due, 30, 0.2, "the deadline never passed")

        controller.start()

        phones["7002"].wait_answered(timeout=40)

        def ladder() -> list[tuple]:
            return [
                (s["step"], s["deadline"], s.get("target"))
                for s in stored_events(centre, ticket_id, "agency-overdue")
            ]

        wait_until(lambda: len(ladder()) == 2, 40, 0.2, lambda: f"the ladder went only {ladder()}")
        assert ladder() == [
            ("re-alert", "acknowledge", "PJSIP/7002"),
            ("board", "acknowledge", None),
        ]
        re_alerts = [
            (e["target"], e["outcome"])
            for e in stored_events(centre, ticket_id, "agency-callout")
            if e["why"] == "re-alert"
        ]
        assert re_alerts == [("PJSIP/7002", "answered")]
        # The re-alert calls the backup only.
        assert phones["7001"].rang == 0
        assert assignment_status(centre, assignment["id"])[0] == "assigned"
    finally:
        for sip in phones.values():
            for call in sip.answered:
                hang_up(call)
            sip.stop()
