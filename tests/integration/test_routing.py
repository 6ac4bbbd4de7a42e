"""Routing through the real Asterisk with real SIP phones: the menu, the queue, dispatch to an agency
as a three-way conference, the backup target, and overflow when no call-taker is logged in."""

from __future__ import annotations

import secrets

import pytest

from tests.centre import (
    QUIET,
    SOUND,
    Api,
    call_112_and_press,
    cli,
    heard_energy,
    phone,
    place_local_112_call,
    talk,
    until_heard,
    until_sent,
)

# pyVoIP's silence is exactly 0 after the bias; a 60-amplitude tone through u-law and a conference
# mixer arrives well above this, line noise and rounding well below it.


@pytest.fixture
def police(asterisk):
    """Polresta's desk phone (the primary target), answering."""
    sip = phone(asterisk, "7001", answer=True)
    yield sip
    sip.stop()


def known(api) -> set[int]:
    return {t["id"] for t in api.tickets(limit="500")}


def ticket_of(api, before: set[int], match=lambda t: True, timeout: float = 40):
    """The ticket of the 9001 call placed after `before` was taken, once `match` holds."""
    return api.wait_for_ticket(
        lambda t: t["id"] not in before and t["caller_number"] == "9001" and match(t),
        timeout=timeout,
    )


def dispatch_of(ticket, outcome: str):
    return [d for d in ticket["dispatches"] if d["outcome"] == outcome]


def test_press_1_with_no_calltaker_logged_in_overflows_to_police(
    asterisk, admin_api, caller, police
):
    # Nobody at the call-takers' desk (2001 is not registered): the queue is empty.
    before = known(admin_api)
    call = call_112_and_press(caller, "1")
    try:
        ticket = ticket_of(admin_api, before, lambda t: bool(dispatch_of(t, "answered")))
        assert ticket["category"] == "police"
        assert "overflow" in ticket["flags"]
        overflow = next(e for e in ticket["events"] if e["kind"] == "overflow")
        assert overflow["data"]["reason"] == "JOINEMPTY"
        assert overflow["data"]["agency"] == "polresta"
        [dispatch] = dispatch_of(ticket, "answered")
        assert (dispatch["target"], dispatch["mode"]) == ("PJSIP/7001", "overflow")
        assert ticket["status"] == "dispatched" and ticket["agency"] == "polresta"

        # The caller is really through to the police phone.
        agency_call = police.wait_answered()
        talk(call, 4.0)
        assert heard_energy(agency_call, 2.0) > SOUND
    finally:
        call.hangup()


def test_dispatch_makes_a_three_way_conference(asterisk, admin_api, calltaker_api, caller, desk):
    # The police primary lets it ring (so the backup answers) — see the next test for that path;
    # here the primary answers.
    police = phone(asterisk, "7001", answer=True)
    before = known(admin_api)
    call = call_112_and_press(caller, "1")
    try:
        desk_call = desk.wait_answered(timeout=40)
        ticket = ticket_of(admin_api, before, lambda t: t["status"] == "answered")
        assert ticket["category"] == "police"
        assert "overflow" not in ticket["flags"]
        unique_id = ticket["calls"][0]["unique_id"]

        status, body = calltaker_api.request(
            "POST", f"/api/calls/{unique_id}/dispatch", {"agency": "polresta"}
        )
        assert status == 202, body
        assert body["conference"] == f"ticket-{ticket['id']}"
        agency_call = police.wait_answered()
        ticket = ticket_of(admin_api, before, lambda t: bool(dispatch_of(t, "answered")))
        [dispatch] = dispatch_of(ticket, "answered")
        assert (dispatch["target"], dispatch["mode"], dispatch["requested_by"]) == (
            "PJSIP/7001",
            "conference",
            "petugas",
        )
        assert ticket["status"] == "dispatched"
        requested = next(e for e in ticket["events"] if e["kind"] == "dispatch-requested")
        assert requested["actor"] == "petugas"

        # Nobody talks: the agency hears (near) silence — so the next check can fail.
        assert heard_energy(agency_call, 1.5) < QUIET
        # Caller → agency (and the call-taker hears it too).
        talk(call, 4.0)
        assert heard_energy(agency_call, 2.0) > SOUND
        assert heard_energy(desk_call, 1.0) > SOUND
        until_sent(call)  # the caller's tone (4 s, 3 s of it measured) ends
        # Agency → caller.
        assert heard_energy(call, 1.5) < QUIET
        talk(agency_call, 4.0, freq=660.0)
        assert heard_energy(call, 2.0) > SOUND

        # The call-taker may leave: caller and agency stay connected.
        desk_call.hangup()
        until_heard(agency_call, call)  # the conference goes on without them
        talk(call, 3.0)
        assert heard_energy(agency_call, 2.0) > SOUND
    finally:
        call.hangup()
        police.stop()

    # The agency's leg ends with the call: the dispatch gets its duration.
    ticket = ticket_of(
        admin_api, before, lambda t: any(d["duration"] is not None for d in t["dispatches"])
    )
    assert ticket["dispatches"][0]["duration"] > 5


def test_unanswered_primary_falls_back_to_the_backup(
    asterisk, admin_api, calltaker_api, caller, desk
):
    primary = phone(asterisk, "7001", answer=False)
    backup = phone(asterisk, "7002", answer=True)
    before = known(admin_api)
    call = call_112_and_press(caller, "1")
    try:
        desk.wait_answered(timeout=40)
        ticket = ticket_of(admin_api, before, lambda t: t["status"] == "answered")
        unique_id = ticket["calls"][0]["unique_id"]
        status, body = calltaker_api.request(
            "POST", f"/api/calls/{unique_id}/dispatch", {"agency": "polresta"}
        )
        assert status == 202, body
        backup_call = backup.wait_answered(timeout=30)
        ticket = ticket_of(admin_api, before, lambda t: bool(dispatch_of(t, "answered")))
        assert [(d["target"], d["outcome"]) for d in ticket["dispatches"]] == [
            ("PJSIP/7001", "no-answer"),
            ("PJSIP/7002", "answered"),
        ]
        assert primary.rang == 1 and not primary.answered
        talk(call, 4.0)
        assert heard_energy(backup_call, 2.0) > SOUND
    finally:
        call.hangup()
        primary.stop()
        backup.stop()


def test_dispatch_refuses_bad_requests(asterisk, admin_api, calltaker_api):
    # A short call that is over by the time the call-taker asks for an agency.
    place_local_112_call(asterisk.config, '"Sudah Tutup" <9077>', seconds=2)
    ticket = admin_api.wait_for_ticket(
        lambda t: t["caller_number"] == "9077" and any(c["ended_at"] for c in t["calls"])
    )
    ended = next(c["unique_id"] for c in ticket["calls"] if c["ended_at"])
    for path, body, expected in [
        ("/api/calls/nope-1.1/dispatch", {"agency": "polresta"}, 404),
        ("/api/calls/..%2F..%2Fetc/dispatch", {"agency": "polresta"}, 404),
        ("/api/calls/x-1.1/dispatch", {"agency": ["polresta"]}, 400),
        ("/api/calls/x-1.1/dispatch", {"agency": "polisi'; DROP TABLE tickets"}, 400),
        ("/api/calls/x-1.1/dispatch", {"agency": "p" * 10_000}, 400),
        ("/api/calls/x-1.1/dispatch", {}, 400),
        ("/api/calls/x-1.1/dispatch", ["polresta"], 400),
        # A call that has ended cannot get an agency (nothing is rung).
        (f"/api/calls/{ended}/dispatch", {"agency": "polresta"}, 409),
    ]:
        status, reply = calltaker_api.request("POST", path, body)
        assert status == expected, (path, reply)
        assert "error" in reply

    # Not JSON at all.
    status, reply = calltaker_api.request_raw("POST", "/api/calls/x-1.1/dispatch", b"\xff{agency")
    assert status == 400 and "JSON" in reply["error"]
    # Only the desk steers calls: no login, or an agency's login, is refused.
    status, _ = Api(asterisk.base_url, None).request(
        "POST", f"/api/calls/{ended}/dispatch", {"agency": "polresta"}
    )
    assert status == 401
    password = secrets.token_urlsafe(12)
    cli(
        asterisk.config_path,
        "create-user",
        "piket-polresta",
        "--role",
        "agency",
        "--agency",
        "polresta",
        "--password-stdin",
        stdin=password + "\n",
    )
    agency_api = Api.login(asterisk.base_url, "piket-polresta", password)
    status, _ = agency_api.request("POST", f"/api/calls/{ended}/dispatch", {"agency": "polresta"})
    assert status == 403
    # Refusals changed nothing on the ended call's ticket.
    assert admin_api.request("GET", f"/api/tickets/{ticket['id']}")[1]["events"] == ticket["events"]
