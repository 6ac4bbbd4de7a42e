"""Queue first (issue 13): every caller is in the call-takers' queue right after the welcome,
whatever they press or don't; keys pressed while waiting set the ticket and move the caller up;
with nobody at a desk the call still reaches an agency. Real Asterisk, real SIP desk phones,
callers Asterisk places itself (they press keys with SendDTMF) or a real SIP caller."""

from __future__ import annotations

import pytest

from tests.centre import (
    WELCOME_SECONDS,
    call_112_and_press,
    hang_up,
    local_caller_hangs_up,
    phone,
    place_scripted_112_call,
)
from tests.waiting import wait_until


def known(api) -> set[int]:
    return {t["id"] for t in api.tickets(limit="500")}


def ticket_of(api, number: str, match=lambda t: True, timeout: float = 30):
    return api.wait_for_ticket(lambda t: t["caller_number"] == number and match(t), timeout)


def kinds(ticket) -> list[str]:
    return [e["kind"] for e in ticket["events"]]


@pytest.fixture
def ringing_desk(asterisk, calltaker_api):
    """Call-taker 2001 logged in; their phone rings and is not picked up (so callers wait)."""
    sip = phone(asterisk, "2001", answer=False)
    calltaker_api.desk("2001", "available")
    yield sip
    calltaker_api.desk("2001", "logged-out")
    # The next test's login must find the desk out of the queue, not still leaving it.
    wait_until(
        lambda: calltaker_api.request("GET", "/api/me")[1]["desk"]["state"] == "logged-out",
        10,
        0.1,
        "desk 2001 never showed logged out",
    )
    sip.stop()


@pytest.mark.parametrize(
    ("number", "keys", "category", "flag"),
    [
        ("0341100001", "", None, None),  # a silent or panicking caller
        ("0341100002", "1", "police", None),
        ("0341100003", "0", None, None),  # "a person, please": they are already in line
        ("0341100004", "55", None, "silent-but-present"),  # cannot talk
    ],
)
def test_the_calltakers_phone_rings_whatever_the_caller_presses(
    asterisk, admin_api, ringing_desk, number, keys, category, flag
):
    # The keys come after the welcome, while the caller waits (or already rings the desk).
    place_scripted_112_call(asterisk.config, number, keys, press_at=WELCOME_SECONDS + 0.5, stay=40)
    try:
        ringing_desk.wait_rang(timeout=20)
        pressed = "key-pressed" if keys else "queued"
        ticket = ticket_of(admin_api, number, lambda t: pressed in kinds(t))
        assert ticket["status"] == "queued"
        assert ticket["category"] == category
        if flag:
            assert flag in ticket["flags"]
        if keys:
            event = next(e for e in ticket["events"] if e["kind"] == "key-pressed")
            assert event["data"]["key"] == keys and event["actor"] == "caller"
            assert event["data"]["stage"] in ("waiting", "ringing")
    finally:
        local_caller_hangs_up(asterisk.config, number)


def test_a_key_while_waiting_moves_the_caller_ahead(asterisk, admin_api, desk):
    busy, first, second = "0341200001", "0341200002", "0341200003"
    # The only desk is busy with a first caller; two more wait.
    place_scripted_112_call(asterisk.config, busy, "", stay=60)
    try:
        desk.wait_answered(1)
        place_scripted_112_call(asterisk.config, first, "", stay=60)
        ticket_of(admin_api, first, lambda t: t["status"] == "queued")
        # The later caller presses 1 (police) while waiting: it moves them ahead.
        place_scripted_112_call(
            asterisk.config, second, "1", press_at=WELCOME_SECONDS + 1.0, stay=60
        )
        moved = ticket_of(admin_api, second, lambda t: "key-pressed" in kinds(t))
        event = next(e for e in moved["events"] if e["kind"] == "key-pressed")
        assert event["data"]["priority"]["to"] > event["data"]["priority"]["from"]
        assert moved["category"] == "police"

        local_caller_hangs_up(asterisk.config, busy)  # the desk is free again
        desk.wait_answered(2)
        answered = ticket_of(admin_api, second, lambda t: t["status"] == "answered")
        still = ticket_of(admin_api, first, lambda t: True)
        assert answered["status"] == "answered" and still["status"] == "queued"
    finally:
        for number in (busy, first, second):
            local_caller_hangs_up(asterisk.config, number)


@pytest.fixture
def police(asterisk):
    sip = phone(asterisk, "7001", answer=True)
    yield sip
    sip.stop()


@pytest.fixture
def pmi(asterisk):
    sip = phone(asterisk, "7003", answer=True)
    yield sip
    sip.stop()


def test_nobody_at_a_desk_and_no_key_reaches_the_default_agency(
    asterisk, admin_api, caller, police
):
    call = caller.dial("112")
    try:
        police.wait_answered()
        ticket = ticket_of(admin_api, "9001", lambda t: t["agency"] == "polresta")
        overflow = next(e for e in ticket["events"] if e["kind"] == "overflow")
        assert overflow["data"]["reason"] == "JOINEMPTY" and ticket["category"] is None
    finally:
        hang_up(call)


def test_nobody_at_a_desk_and_2_reaches_pmis_desk_phone(asterisk, admin_api, caller, pmi):
    before = known(admin_api)
    call = call_112_and_press(caller, "2")
    try:
        pmi.wait_answered()
        ticket = admin_api.wait_for_ticket(
            lambda t: t["id"] not in before and t["agency"] == "pmi", timeout=30
        )
        assert ticket["category"] == "ambulance" and "overflow" in ticket["flags"]
        [dispatch] = [d for d in ticket["dispatches"] if d["outcome"] in ("answered", "ended")]
        assert dispatch["target"] == "PJSIP/7003"
    finally:
        hang_up(call)


def test_keys_are_hostile_input_that_loses_no_caller(asterisk, admin_api, ringing_desk):
    """Unknown keys, a burst of keys, and a caller hanging up mid-key: clear ticket events,
    the caller still rings the desk, and the controller goes on."""
    burst, half = "0341300001", "0341300002"
    # 63 keys of 60 ms each, 60 ms apart: a stuck key or a tone generator, not a person.
    place_scripted_112_call(
        asterisk.config,
        burst,
        "7*#" + "1" * 60,
        press_at=WELCOME_SECONDS + 0.5,
        stay=40,
        tone_ms=60,
    )
    try:
        ringing_desk.wait_rang(timeout=20)
        ticket = ticket_of(admin_api, burst, lambda t: "keys-flood" in kinds(t))
        assert {"key-unknown", "key-pressed", "keys-flood"} <= set(kinds(ticket))
        assert ticket["status"] == "queued"  # still in line
    finally:
        local_caller_hangs_up(asterisk.config, burst)
    # A "5" that could begin "55", then the caller is gone.
    place_scripted_112_call(asterisk.config, half, "5", press_at=WELCOME_SECONDS + 0.5, stay=0.5)
    ticket = ticket_of(admin_api, half, lambda t: "keys-unfinished" in kinds(t))
    assert ticket["category"] is None and ticket["status"] == "abandoned"
