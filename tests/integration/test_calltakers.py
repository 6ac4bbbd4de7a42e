"""Call-takers at the real queue: they log in from the console API with real SIP softphones, the
queue rings the desk idle longest, the answering console gets the screen-pop, pause takes a desk
out of the rotation, and a caller who gives up leaves an abandoned ticket."""

from __future__ import annotations

import pytest

from tests.centre import Api, Console, call_112_and_press, phone
from tests.waiting import wait_until


@pytest.fixture
def petugas2_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])


@pytest.fixture
def two_desks(asterisk, calltaker_api, petugas2_api):
    """Both call-takers at their answering softphones, logged in through the API, each with
    their console's live feed open."""
    phones = {
        "2001": phone(asterisk, "2001", answer=True),
        "2002": phone(asterisk, "2002", answer=True),
    }
    apis = {"2001": calltaker_api, "2002": petugas2_api}
    consoles = {ext: Console.of(api) for ext, api in apis.items()}
    for ext, api in apis.items():
        assert api.desk(ext, "available")["extension"] == ext
    for console in consoles.values():
        console.wait_for(lambda m: m["type"] == "desk" and m["desk"]["state"] == "available")
    yield phones, apis, consoles
    for ext, api in apis.items():
        api.desk(ext, "logged-out")
        consoles[ext].close()
        phones[ext].stop()


def answered_pop(console: Console, ticket_id: int) -> dict:
    return console.wait_for(
        lambda m: (
            m["type"] == "screen-pop"
            and m["stage"] == "answered"
            and m["ticket"]["id"] == ticket_id
        )
    )


def new_ticket(api: Api, before: set[int], match=lambda t: True, timeout: float = 40) -> dict:
    return api.wait_for_ticket(
        lambda t: t["id"] not in before and t["caller_number"] == "9001" and match(t),
        timeout=timeout,
    )


def known(api: Api) -> set[int]:
    return {t["id"] for t in api.tickets(limit="500")}


def desk_free_again(api: Api) -> None:
    """Until the call-taker's desk is available again: their call is over and so is the wrap-up
    (1 s here) during which the queue would not ring it."""
    wait_until(
        lambda: api.request("GET", "/api/me")[1]["desk"]["state"] == "available",
        15,
        0.2,
        "the desk never became available again",
    )


def test_the_desk_idle_longest_rings_and_its_console_pops_up(admin_api, caller, two_desks):
    phones, apis, consoles = two_desks
    before = known(admin_api)

    # First call: either desk may take it (neither has taken one yet).
    call = call_112_and_press(caller, "1")
    first = new_ticket(admin_api, before, lambda t: t["status"] == "answered")
    first_desk = next(ext for ext, p in phones.items() if p.answered)
    pop = answered_pop(consoles[first_desk], first["id"])
    ticket = pop["ticket"]
    assert ticket["caller_number"] == "9001" and ticket["category"] == "police"
    assert ticket["protocol"] and ticket["protocol"][0]["category"] == "umum"
    assert "history" in ticket and pop["unique_id"] == first["calls"][0]["unique_id"]
    call.hangup()
    admin_api.wait_for_ticket(lambda t: t["id"] == first["id"] and t["status"] == "ended")
    desk_free_again(apis[first_desk])

    # Second call: the other desk has been idle longer, so it rings there.
    other = "2002" if first_desk == "2001" else "2001"
    before = known(admin_api)
    call = call_112_and_press(caller, "2")
    try:
        second = new_ticket(admin_api, before, lambda t: t["status"] == "answered")
        assert phones[other].rang == 1 and phones[first_desk].rang == 1
        pop = answered_pop(consoles[other], second["id"])
        assert pop["ticket"]["category"] == "ambulance"
        # The caller's earlier call is on screen.
        assert [h["id"] for h in pop["ticket"]["history"]][:1] == [first["id"]]
        # The other console never saw this caller's screen-pop.
        assert all(m["ticket"]["id"] != second["id"] for m in consoles[first_desk].screen_pops())
    finally:
        call.hangup()


def test_a_paused_calltaker_is_out_of_the_rotation(
    admin_api, supervisor_api, caller, two_desks, petugas2_api
):
    phones, apis, consoles = two_desks
    desk = petugas2_api.desk("2002", "paused", "istirahat")
    consoles["2002"].wait_for(lambda m: m["type"] == "desk" and m["desk"]["state"] == "paused")
    agents = {a["extension"]: a for a in supervisor_api.request("GET", "/api/agents")[1]["agents"]}
    assert agents["2002"]["state"] == "paused" and agents["2002"]["reason"] == "istirahat"
    assert agents["2001"]["state"] == "available"
    assert desk["extension"] == "2002"

    for digit in ("1", "4"):  # two calls in a row: both go to 2001, never to the paused desk
        before = known(admin_api)
        call = call_112_and_press(caller, digit)
        try:
            new_ticket(admin_api, before, lambda t: t["status"] == "answered")
        finally:
            call.hangup()
        desk_free_again(apis["2001"])
    assert phones["2001"].rang == 2 and phones["2002"].rang == 0

    # The session log says who paused and why.
    status, log = petugas2_api.request("GET", "/api/agents/2002/events")
    assert status == 200
    assert log["events"][0] == {
        **log["events"][0],
        "kind": "pause",
        "actor": "petugas2",
        "reason": "istirahat",
    }
    petugas2_api.desk("2002", "available")
    consoles["2002"].wait_for(
        lambda m: (
            m["type"] == "desk" and m["desk"]["state"] == "available" and not m["desk"]["paused"]
        )
    )


def test_an_abandoned_call_marks_the_ticket(asterisk, admin_api, calltaker_api, caller):
    # A call-taker is logged in, but their phone only rings: the caller gives up waiting.
    desk = phone(asterisk, "2001", answer=False)
    calltaker_api.desk("2001", "available")
    console = Console.of(calltaker_api)
    before = known(admin_api)
    try:
        call = call_112_and_press(caller, "5")
        ringing = console.wait_for(
            lambda m: m["type"] == "screen-pop" and m["stage"] == "ringing", timeout=40
        )
        assert ringing["ticket"]["category"] == "fire"
        # The pop comes as Asterisk starts ringing; the caller gives up once the phone rings
        # and the console shows it ringing.
        desk.wait_rang(timeout=5)
        console.wait_for(lambda m: m["type"] == "desk" and m["desk"]["state"] == "ringing")
        call.hangup()
        # The queue reports the abandon, then the channel's hangup: wait for both.
        ticket = new_ticket(
            admin_api, before, lambda t: t["status"] == "abandoned" and t["ended_at"] is not None
        )
        kinds = [e["kind"] for e in ticket["events"]]
        assert "queued" in kinds and "abandoned" in kinds
        assert ticket["answered_at"] is None and ticket["ended_at"] is not None
        # The console saw the ticket become abandoned, and the desk stop ringing.
        console.wait_for(
            lambda m: (
                m["type"] == "ticket"
                and m["ticket"]["id"] == ticket["id"]
                and m["ticket"]["status"] == "abandoned"
            )
        )
        console.wait_for(lambda m: m["type"] == "desk" and m["desk"]["state"] == "available")
        assert desk.rang == 1 and not desk.answered
    finally:
        calltaker_api.desk("2001", "logged-out")
        console.close()
        desk.stop()
