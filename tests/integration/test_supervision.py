"""Supervisors against the real centre: the board's numbers for a scripted set of calls, and
listening in from their own phone."""

from __future__ import annotations

import time

import pytest

from tests.centre import (
    QUIET,
    SOUND,
    Api,
    call_112_and_press,
    hang_up,
    heard_energy,
    local_caller_hangs_up,
    phone,
    place_scripted_112_call,
    talk,
    until_heard,
    until_sent,
)
from tests.waiting import wait_until


def board(api: Api) -> dict:
    status, body = api.request("GET", "/api/board")
    assert status == 200, body
    return body


def quiet_centre(api: Api, timeout: float = 120) -> dict:
    """The board once no call of an earlier test is still live: this test's figures are its own."""
    return until(api, lambda b: not b["live"]["calls"], timeout)


def until(api: Api, match, timeout: float = 60) -> dict:
    seen: list[dict] = []

    def shown() -> dict | None:
        seen[:] = [board(api)]
        return seen[0] if match(seen[0]) else None

    return wait_until(shown, timeout, 0.3, lambda: f"the board never showed it: {seen[0]['live']}")


@pytest.fixture
def second_caller(asterisk):
    sip = phone(asterisk, "9002")
    yield sip
    sip.stop()


def test_the_board_counts_a_scripted_set_of_calls_exactly(
    asterisk, supervisor_api, calltaker_api, desk, caller, second_caller
):
    before = quiet_centre(supervisor_api)["today"]

    # Answered fast: the desk is free.
    first = call_112_and_press(caller, "1")
    desk.wait_answered(count=1, timeout=40)
    # Answered slow: a second caller waits while the desk talks to the first.
    second = call_112_and_press(second_caller, "2")
    waiting = until(supervisor_api, lambda b: b["live"]["waiting"] == 1)
    assert waiting["live"]["calltaker"] == 1 and len(waiting["live"]["queue"]) == 1
    slow = waiting["live"]["queue"][0]
    assert slow["category"] == "ambulance"
    time.sleep(max(0.0, 11.0 - slow["seconds"]))  # let them wait 11 s in the queue…
    assert until(supervisor_api, lambda b: b["live"]["longest_wait"] >= 10)["live"]["waiting"] == 1
    hang_up(first)  # …then the desk is free (after 1 s of wrap-up) and answers them
    desk.wait_answered(count=2, timeout=20)

    # Abandoned: a caller queues while the desk is busy, and gives up (hangs up once waiting).
    place_scripted_112_call(asterisk.config, '"Penelepon Tiga" <9033>', keys="5", stay=120)
    try:
        until(
            supervisor_api,
            lambda b: any(
                c["caller_number"] == "9033"
                and c["state"] == "waiting"
                and c["category"] == "fire"  # its 5 is a fire once no second 5 follows
                for c in b["live"]["calls"]
            ),
            timeout=60,
        )
    finally:
        local_caller_hangs_up(asterisk.config, "9033")
    until(
        supervisor_api,
        lambda b: not any(c["caller_number"] == "9033" for c in b["live"]["calls"]),
        timeout=40,
    )
    hang_up(second)

    # A prank: answered fast, closed as prank by the call-taker; once the board has let the
    # earlier calls go, so the one live call below is the prank.
    quiet_centre(supervisor_api, timeout=20)
    prank = call_112_and_press(caller, "1")
    desk.wait_answered(count=3, timeout=40)
    live = until(supervisor_api, lambda b: b["live"]["calltaker"] == 1)["live"]["calls"][0]
    assert (
        calltaker_api.request(
            "POST", f"/api/tickets/{live['ticket_id']}/close", {"outcome": "prank"}
        )[0]
        == 200
    )
    hang_up(prank)

    after = quiet_centre(supervisor_api)["today"]

    def delta(key):
        return after[key] - before[key]

    assert (delta("tickets"), delta("offered"), delta("answered"), delta("abandoned")) == (
        4,
        4,
        3,
        1,
    )
    # Counted from entering the queue: the slow caller waited there 11-14 s.
    within = "queue_answered_within"
    assert {s: after[within][s] - before[within][s] for s in ("10", "15", "20")} == {
        "10": 2,
        "15": 3,
        "20": 3,
    }
    assert delta("prank") == 1
    for category, n in (("police", 2), ("ambulance", 1), ("fire", 1)):
        assert after["by_category"].get(category, 0) - before["by_category"].get(category, 0) == n
    assert after["outcomes"]["prank"] - before["outcomes"]["prank"] == 1


def test_a_supervisor_listens_without_being_heard(
    asterisk, supervisor_api, calltaker_api, admin_api, desk, caller
):
    supervisor = phone(asterisk, "2009", answer=True)
    call = call_112_and_press(caller, "1")
    try:
        desk.wait_answered(timeout=40)
        live = until(supervisor_api, lambda b: b["live"]["calltaker"] >= 1)["live"]["calls"]
        unique_id = next(c["unique_id"] for c in live if c["state"] == "calltaker")
        # Only supervisors listen in, and only with a mode they name.
        assert (
            calltaker_api.request("POST", f"/api/calls/{unique_id}/listen", {"mode": "listen"})[0]
            == 403
        )
        assert (
            supervisor_api.request("POST", f"/api/calls/{unique_id}/listen", {"mode": "spy"})[0]
            == 400
        )
        assert (
            admin_api.request("POST", f"/api/calls/{unique_id}/listen", {"mode": "listen"})[0]
            == 409
        )  # no phone

        status, reply = supervisor_api.request(
            "POST", f"/api/calls/{unique_id}/listen", {"mode": "listen"}
        )
        assert status == 202, reply
        spy = supervisor.wait_answered(timeout=20)
        # The spy joins a moment after answering: a tone of the caller's before that is lost.
        until_heard(spy, call)
        assert heard_energy(spy, 1.5) < QUIET  # nobody talks now
        talk(call, 3.0)
        assert heard_energy(spy, 2.0) > SOUND  # the supervisor hears the caller…
        until_sent(call)  # the caller's tone (3 s, 2 s of it measured) is over
        talk(spy, 3.0)
        assert heard_energy(call, 2.0) < QUIET  # …and the caller does not hear the supervisor
        ticket = admin_api.wait_for_ticket(
            lambda t: (
                any(e["kind"] == "supervisor-listening" for e in t["events"])
                and any(c["unique_id"] == unique_id for c in t["calls"])
            )
        )
        [event] = [e for e in ticket["events"] if e["kind"] == "supervisor-listening"]
        assert (event["actor"], event["data"]["mode"]) == ("penyelia", "listen")
    finally:
        hang_up(call)
        supervisor.stop()
