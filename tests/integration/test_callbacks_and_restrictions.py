"""Calling back an abandoned caller, and restricting a prank caller, through the real centre."""

from __future__ import annotations

import pytest

from tests.centre import (
    SOUND,
    Api,
    call_112_and_press,
    hang_up,
    heard_energy,
    local_caller_hangs_up,
    phone,
    place_local_112_call,
    place_scripted_112_call,
    talk,
    until_heard,
)
from tests.waiting import wait_until


@pytest.fixture
def answering_caller(asterisk):
    """The public caller 9001, whose phone also answers when the centre calls back."""
    sip = phone(asterisk, "9001", answer=True)
    yield sip
    sip.stop()


@pytest.fixture
def petugas2_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])


def test_an_abandoned_caller_is_called_back_from_a_chosen_desk(
    asterisk, admin_api, supervisor_api, calltaker_api, petugas2_api, answering_caller
):
    # A call-taker is logged in but their phone only rings: the caller gives up.
    desk = phone(asterisk, "2001", answer=False)
    calltaker_api.desk("2001", "available")
    try:
        before = {t["id"] for t in admin_api.tickets(limit="500")}
        call = call_112_and_press(answering_caller, "1")
        # They give up once the desk's phone rings, as the controller sees it.
        desk.wait_rang(timeout=20)
        wait_until(
            lambda: calltaker_api.request("GET", "/api/me")[1]["desk"]["state"] == "ringing",
            10,
            0.1,
            "the desk was never seen ringing",
        )
        hang_up(call)
        ticket = admin_api.wait_for_ticket(
            lambda t: (
                t["id"] not in before
                and t["caller_number"] == "9001"
                and t["status"] == "abandoned"
                and t["ended_at"] is not None
            )
        )
        calltaker_api.desk("2001", "logged-out")

        # One entry for the number; its newest call is the ticket a callback goes to.
        entry = callback_entry(supervisor_api, "9001")
        assert (
            entry["ticket"]["id"] == ticket["id"] and entry["calls"][0]["ticket_id"] == ticket["id"]
        )
        assert entry["callable"] and entry["attempts"] == 0
        assert entry["record"]["tickets"] >= entry["count"] >= 1

        path = f"/api/tickets/{ticket['id']}/callback"
        assert petugas2_api.request("POST", path, {"extension": "2001"})[0] == 403  # not their desk
        assert supervisor_api.request("POST", path, {"extension": "9999"})[0] == 400
        assert (
            supervisor_api.request("POST", "/api/tickets/99999999/callback", {"extension": "2001"})[
                0
            ]
            == 404
        )

        desk._answer = True  # the chosen call-taker is at the desk now
        status, reply = supervisor_api.request("POST", path, {"extension": "2001"})
        assert status == 202, reply
        desk_leg = desk.wait_answered(timeout=30)
        back = answering_caller.wait_answered(timeout=30)  # the caller's phone rings, with 112
        # The two legs are bridged a moment after both answer: a tone sent before that is lost.
        until_heard(desk_leg, back)
        talk(back, 3.0)
        assert heard_energy(desk_leg, 2.0) > SOUND  # the call-taker hears the caller
        # (over 3 s since the answer by now: the "seconds > 2" below holds without waiting more.)
        hang_up(back)

        ticket = admin_api.wait_for_ticket(
            lambda t: (
                t["id"] == ticket["id"]
                and any(e["kind"] == "callback-answered" for e in t["events"])
            )
        )
        kinds = {e["kind"]: e for e in ticket["events"]}
        assert kinds["callback-requested"]["actor"] == "penyelia"
        assert kinds["callback-requested"]["data"]["extension"] == "2001"
        assert kinds["callback-answered"]["data"]["seconds"] > 2
        # Reached: the number is off the list, with every call it had abandoned.
        assert callback_entry(supervisor_api, "9001") is None
    finally:
        desk.stop()


def callback_entry(api: Api, number: str) -> dict | None:
    """The callback list's entry for `number` (None: not on the list)."""
    status, body = api.request("GET", "/api/callbacks")
    assert status == 200, body
    entries = [c for c in body["callbacks"] if c["number"] == number]
    assert len(entries) <= 1, entries  # one entry per number
    return entries[0] if entries else None


def test_a_number_that_rang_twice_is_one_entry_until_a_later_call_is_answered(
    asterisk, admin_api, supervisor_api, calltaker_api
):
    number = "0341990112"
    for _ in range(2):  # nobody at a desk: the caller gives up twice
        place_local_112_call(asterisk.config, f'"Berulang" <{number}>', seconds=2)
    abandoned = wait_until(
        lambda: (
            ts
            if len(
                ts := [
                    t
                    for t in admin_api.tickets(limit="500")
                    if t["caller_number"] == number and t["status"] == "abandoned"
                ]
            )
            == 2
            else None
        ),
        30,
        0.2,
        "the two abandoned calls never showed",
    )
    entry = callback_entry(supervisor_api, number)
    assert entry is not None and entry["count"] == 2 and entry["callable"]
    assert [c["ticket_id"] for c in entry["calls"]] == sorted(
        (t["id"] for t in abandoned), reverse=True
    )
    assert entry["ticket"]["id"] == max(t["id"] for t in abandoned)

    # The third time a call-taker answers: the number has been reached, the entry clears.
    desk = phone(asterisk, "2001", answer=True)
    calltaker_api.desk("2001", "available")
    try:
        place_scripted_112_call(asterisk.config, f'"Berulang" <{number}>', keys="1", stay=90)
        desk.wait_answered(timeout=60)
        admin_api.wait_for_ticket(
            lambda t: t["caller_number"] == number and t["answered_at"] is not None
        )
    finally:
        local_caller_hangs_up(asterisk.config, number)
        calltaker_api.desk("2001", "logged-out")
        desk.stop()
    assert callback_entry(supervisor_api, number) is None


def test_a_number_without_digits_cannot_be_called_back(asterisk, admin_api, supervisor_api):
    place_local_112_call(asterisk.config, '"Anonim" <anonymous>', seconds=2)
    ticket = admin_api.wait_for_ticket(
        lambda t: t["caller_name"] == "Anonim" and t["status"] == "abandoned"
    )
    # Anonymous callers are not one person: each call is an entry of its own, not callable.
    entry = next(
        c
        for c in supervisor_api.request("GET", "/api/callbacks")[1]["callbacks"]
        if c["ticket"]["id"] == ticket["id"]
    )
    assert not entry["callable"] and entry["count"] == 1
    status, reply = supervisor_api.request(
        "POST", f"/api/tickets/{ticket['id']}/callback", {"extension": "2001"}
    )
    assert status == 409 and "number" in reply["error"]


def test_a_restricted_number_is_warned_queued_last_and_still_answered(
    asterisk, admin_api, supervisor_api, calltaker_api, caller, desk
):
    for bad in (
        {"number": "abc", "reason": "iseng"},
        {"number": "9001"},
        {"number": "9001", "reason": "  "},
        {"number": "9001", "reason": "iseng", "evidence": ["1; DROP"]},
    ):
        status, reply = supervisor_api.request("POST", "/api/restrictions", bad)
        assert status == 400 and "error" in reply, bad
    assert (
        calltaker_api.request("POST", "/api/restrictions", {"number": "9001", "reason": "x"})[0]
        == 403
    )

    status, restriction = supervisor_api.request(
        "POST", "/api/restrictions", {"number": "9001", "reason": "lima panggilan iseng minggu ini"}
    )
    assert status == 201, restriction
    assert restriction["level"] == 1 and restriction["until"] and restriction["active"]
    assert (
        supervisor_api.request("POST", "/api/restrictions", {"number": "9001", "reason": "lagi"})[0]
        == 409
    )  # already restricted
    try:
        before = {t["id"] for t in admin_api.tickets(limit="500")}
        call = call_112_and_press(caller, "1")
        try:
            desk.wait_answered(timeout=60)  # the warning, then the queue: still answered
            ticket = admin_api.wait_for_ticket(
                lambda t: (
                    t["id"] not in before
                    and t["caller_number"] == "9001"
                    and t["status"] == "answered"
                )
            )
        finally:
            hang_up(call)
        assert "restricted" in ticket["flags"] and ticket["priority"] == 0
        assert ticket["category"] == "police"
        listed = {
            r["id"]: r
            for r in supervisor_api.request("GET", "/api/restrictions")[1]["restrictions"]
        }
        trail = [(e["kind"], e["actor"]) for e in listed[restriction["id"]]["events"]]
        assert trail == [("created", "penyelia"), ("applied", "ivr")]
    finally:
        status, lifted = supervisor_api.request(
            "POST", f"/api/restrictions/{restriction['id']}/lift", {"reason": "sudah ditegur"}
        )
    assert status == 200 and not lifted["active"] and lifted["lifted_by"] == "penyelia"
    assert [e["kind"] for e in lifted["events"]][-1] == "lifted"


def test_lifting_needs_a_real_restriction_id_and_a_reason(asterisk, supervisor_api):
    # int() would take the Arabic-Indic "٣" and "1_0"; a 30-digit id overflows a database integer.
    for bad_id in ("abc", "%D9%A3", "1_0", "9" * 30, "0", "-1"):
        status, reply = supervisor_api.request(
            "POST", f"/api/restrictions/{bad_id}/lift", {"reason": "x"}
        )
        assert status == 404 and reply["error"] == "no such restriction", (bad_id, status)
    status, restriction = supervisor_api.request(
        "POST", "/api/restrictions", {"number": "0341555666", "reason": "uji pencabutan"}
    )
    assert status == 201
    path = f"/api/restrictions/{restriction['id']}/lift"
    for bad_body in ({}, {"reason": ""}, {"reason": 5}):
        status, reply = supervisor_api.request("POST", path, bad_body)
        assert status == 400 and "reason" in reply["error"], bad_body
    assert supervisor_api.request("POST", path, {"reason": "selesai"})[0] == 200
