"""The console's API against the real controller: who may do what, hostile bodies, and a live
call held, taken back and hung up from the console through the real Asterisk."""

from __future__ import annotations

import secrets
import sqlite3
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from callcenter.web.accounts import token_hash
from callcenter.web.live import SESSION_RECHECK
from tests.centre import (
    QUIET,
    SOUND,
    Api,
    Console,
    call_112_and_press,
    hang_up,
    heard_energy,
    place_local_112_call,
    talk,
    until_heard,
    until_sent,
)
from tests.waiting import wait_until


@pytest.fixture
def petugas2_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])


def ws_url(api: Api) -> str:
    return api.base_url.replace("http://", "ws://") + "/ws/live"


def test_roles_decide_who_reads_and_steers_what(
    asterisk, admin_api, supervisor_api, calltaker_api, petugas2_api
):
    # Another call-taker's desk, session log and queue state are not a call-taker's to touch.
    for method, path, body in [
        ("GET", "/api/agents", None),
        ("GET", "/api/agents/2002/events", None),
        ("POST", "/api/agents/2002/state", {"state": "logged-out"}),
        ("PUT", "/api/protocols/fire", {"ask": ["Siapa?"], "tell": []}),
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"username": "x", "password": "y" * 12, "role": "admin"}),
    ]:
        status, reply = calltaker_api.request(method, path, body)
        assert status == 403, (method, path, reply)
    # Their own desk and log are theirs.
    assert calltaker_api.request("GET", "/api/agents/2001/events")[0] == 200
    assert calltaker_api.request("GET", "/api/me")[1]["desk"]["extension"] == "2001"
    # A supervisor oversees every desk and the cards, but is not the administrator.
    assert supervisor_api.request("GET", "/api/agents")[0] == 200
    assert supervisor_api.request("GET", "/api/agents/2002/events")[0] == 200
    assert supervisor_api.request("GET", "/api/users")[0] == 403
    # The administrator manages logins; the new one works, with its role.
    password = secrets.token_urlsafe(12)
    status, created = admin_api.request(
        "POST",
        "/api/users",
        {
            "username": f"piket{secrets.token_hex(3)}",
            "password": password,
            "role": "agency",
            "agency": "polresta",
        },
    )
    assert status == 201, created
    agency_api = Api.login(asterisk.base_url, created["username"], password)
    users = {u["username"]: u for u in admin_api.request("GET", "/api/users")[1]["users"]}
    assert users[created["username"]]["agency"] == "polresta"
    # An agency reads its tickets but does not edit tickets or touch desks.
    for method, path, body in [
        ("PATCH", "/api/tickets/1", {"what": "x"}),
        ("POST", "/api/tickets/1/close", {"outcome": "prank"}),
        ("GET", "/api/queues", None),
        ("POST", "/api/agents/2001/state", {"state": "available"}),
    ]:
        assert agency_api.request(method, path, body)[0] == 403, path
    # No login, no data.
    anonymous = Api(asterisk.base_url, None)
    for path in ("/api/me", "/api/queues", "/api/agents", "/api/protocols", "/api/places"):
        assert anonymous.request("GET", path)[0] == 401, path
    # Bad user bodies are refused, saying why.
    for body in (
        {"username": "a b", "password": "p" * 12, "role": "call-taker"},
        {"username": "ok", "password": "short", "role": "call-taker"},
        {"username": "ok", "password": "p" * 12, "role": "root"},
        {"username": "ok", "password": "p" * 12, "role": "agency", "agency": "fbi"},
        {"username": "admin", "password": "p" * 12, "role": "admin"},
    ):
        status, reply = admin_api.request("POST", "/api/users", body)
        assert status in (400, 409) and "error" in reply, body


def test_the_live_feed_needs_a_login_from_this_site(asterisk, calltaker_api):
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(ws_url(calltaker_api), open_timeout=5, legacy=True)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as cross_site:
        ws_connect(
            ws_url(calltaker_api),
            origin="http://evil.example",
            additional_headers={"Authorization": f"Bearer {calltaker_api.token}"},
            open_timeout=5,
            legacy=True,
        )
    assert cross_site.value.response.status_code == 403


def test_hostile_console_bodies_are_refused_and_change_nothing(asterisk, admin_api, calltaker_api):
    place_local_112_call(asterisk.config, '"Sasaran Uji" <9088>', seconds=2)
    ticket = admin_api.wait_for_ticket(lambda t: t["caller_number"] == "9088")
    path = f"/api/tickets/{ticket['id']}"
    before = admin_api.request("GET", path)[1]
    for body in [
        {"what": "<script>alert(1)</script>" * 300},  # too long
        {"status": "resolved"},
        {"category": "'; DROP TABLE tickets; --"},
        {"kecamatan": "Sukun", "kelurahan": "Kauman"},  # Kauman is in Klojen
        {"checklist": {"../../etc/passwd": True}},
        {"flags": {"overflow": False}},
        {},
        [],
    ]:
        status, reply = calltaker_api.request("PATCH", path, body)
        assert status == 400 and "error" in reply, body
    status, reply = calltaker_api.request_raw("PATCH", path, b"\xff\xfe{")
    assert status == 400
    status, reply = calltaker_api.request_raw("PATCH", path, b"{" + b'"what": "x",' * 20000 + b"}")
    assert status == 413
    for bad in ({"outcome": "selesai"}, {"outcome": ["prank"]}):
        assert calltaker_api.request("POST", f"{path}/close", bad)[0] == 400
    for bad in ({"state": "asleep"}, {"state": "paused", "reason": "tidur siang"}, {"state": 1}):
        status, reply = calltaker_api.request("POST", "/api/agents/2001/state", bad)
        assert status == 400 and "error" in reply, bad
    assert calltaker_api.request("PATCH", "/api/tickets/99999999", {"what": "x"})[0] == 404
    assert calltaker_api.request("PATCH", "/api/tickets/abc", {"what": "x"})[0] == 404
    assert (
        calltaker_api.request("POST", "/api/agents/2001%0a/state", {"state": "available"})[0] == 404
    )
    after = admin_api.request("GET", path)[1]
    assert after["events"] == before["events"] and after["what"] == before["what"]


def test_a_calltaker_holds_takes_back_and_hangs_up_their_call(
    asterisk, admin_api, calltaker_api, petugas2_api, caller, desk
):
    console = Console.of(calltaker_api)
    before = {t["id"] for t in admin_api.tickets(limit="500")}
    call = call_112_and_press(caller, "3")
    try:
        desk_call = desk.wait_answered(timeout=40)
        pop = console.wait_for(lambda m: m["type"] == "screen-pop" and m["stage"] == "answered")
        unique_id = pop["unique_id"]
        assert pop["ticket"]["id"] not in before and pop["ticket"]["category"] == "electricity"

        # Another call-taker cannot steer it; asking changes nothing.
        for action in ("hold", "hangup", "dispatch"):
            status, _ = petugas2_api.request(
                "POST", f"/api/calls/{unique_id}/{action}", {"agency": "polresta"}
            )
            assert status == 403, action
        assert calltaker_api.request("POST", f"/api/calls/{unique_id}/resume")[0] == 409

        # Before the hold the caller hears their (silent) call-taker…
        assert heard_energy(call, 1.5) < QUIET
        status, reply = calltaker_api.request("POST", f"/api/calls/{unique_id}/hold")
        assert status == 200, reply
        assert calltaker_api.request("POST", f"/api/calls/{unique_id}/hold")[0] == 409
        wait_until(lambda: heard_energy(call, 0.5) > 2 * QUIET, 15, 0, "no hold music")
        # The queue is done with the call, the call-taker is not: a reloaded console shows it.
        me = calltaker_api.request("GET", "/api/me")[1]
        assert me["call"] and me["call"]["id"] == pop["ticket"]["id"]
        # …on hold, the hold music; and the call-taker does not hear the caller.
        assert heard_energy(call, 2.0) > 2 * QUIET
        talk(call, 3.0)
        assert heard_energy(desk_call, 2.0) < QUIET
        until_sent(call)  # the caller's tone ends before the resume

        status, reply = calltaker_api.request("POST", f"/api/calls/{unique_id}/resume")
        assert status == 200, reply
        until_heard(desk_call, call)  # the caller is back with the call-taker
        talk(call, 3.0)
        assert heard_energy(desk_call, 2.0) > SOUND

        status, reply = calltaker_api.request("POST", f"/api/calls/{unique_id}/hangup")
        assert status == 200, reply
        ticket = admin_api.wait_for_ticket(
            lambda t: t["id"] == pop["ticket"]["id"] and t["ended_at"] is not None
        )
        kinds = [(e["kind"], e["actor"]) for e in ticket["events"]]
        assert ("hold", "petugas") in kinds and ("resumed", "petugas") in kinds
        assert ("hung-up-by-calltaker", "petugas") in kinds
        assert calltaker_api.request("POST", f"/api/calls/{unique_id}/hold")[0] == 409
    finally:
        hang_up(call)
        console.close()


def test_a_supervisor_rewrites_a_protocol_card(
    asterisk, running_controller, supervisor_api, calltaker_api
):
    status, card = supervisor_api.request(
        "PUT",
        "/api/protocols/fire",
        {"ask": ["Lantai berapa apinya?"], "tell": ["Keluar lewat tangga."]},
    )
    assert status == 200 and card["updated_by"] == "penyelia"
    cards = {c["category"]: c for c in calltaker_api.request("GET", "/api/protocols")[1]["cards"]}
    assert [i["text"] for i in cards["fire"]["ask"]] == ["Lantai berapa apinya?"]
    for bad in ({"ask": "Siapa?"}, {"ask": ["x" * 301]}, {"ask": [""]}):
        assert supervisor_api.request("PUT", "/api/protocols/fire", bad)[0] == 400
    assert supervisor_api.request("PUT", "/api/protocols/aliens", {"ask": []})[0] == 404
    # It is kept: a restarted controller shows the supervisor's card, not the shipped one.
    running_controller.stop()
    running_controller.start()
    cards = {c["category"]: c for c in calltaker_api.request("GET", "/api/protocols")[1]["cards"]}
    assert [i["text"] for i in cards["fire"]["ask"]] == ["Lantai berapa apinya?"]
    assert cards["fire"]["updated_by"] == "penyelia"


def test_removing_a_login_closes_its_consoles_at_once(
    asterisk, running_controller, admin_api, supervisor_api
):
    username, password = f"keluar{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    assert (
        admin_api.request(
            "POST", "/api/users", {"username": username, "password": password, "role": "call-taker"}
        )[0]
        == 201
    )
    leaver = Api.login(asterisk.base_url, username, password)
    console = Console.of(leaver)
    try:
        # Only an administrator removes logins, never their own, and only real ones.
        assert supervisor_api.request("DELETE", f"/api/users/{username}")[0] == 403
        assert admin_api.request("DELETE", "/api/users/admin")[0] == 409
        for bad in ("tidak-ada", "a%0ab", "x" * 65, "..%2fadmin"):
            assert admin_api.request("DELETE", f"/api/users/{bad}")[0] == 404, bad
        assert console.closed_with is None
        status, reply = admin_api.request("DELETE", f"/api/users/{username}")
        assert (status, reply) == (200, {"removed": username})
        deadline = time.monotonic() + SESSION_RECHECK / 2  # not the periodic check: at once
        while console.closed_with is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert console.closed_with == 4401
        assert leaver.request("GET", "/api/me")[0] == 401
        login = {"username": username, "password": password}
        assert Api(asterisk.base_url, None).request("POST", "/api/login", login)[0] == 401
        users = [u["username"] for u in admin_api.request("GET", "/api/users")[1]["users"]]
        assert username not in users and "admin" in users
    finally:
        console.close()


def test_logging_out_closes_the_live_feed_at_once(asterisk, running_controller):
    # The same call-taker on two screens: logging out of one ends only that one's feed.
    leaving = Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])
    staying = Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])
    leaving_console, staying_console = Console.of(leaving), Console.of(staying)
    try:
        assert leaving.request("POST", "/api/logout")[0] == 200
        # Well inside the 15 s recheck: it is the logout that closes the feed.
        deadline = time.monotonic() + SESSION_RECHECK / 2
        while leaving_console.closed_with is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert leaving_console.closed_with == 4401  # caller data stops with the session
        assert leaving.request("GET", "/api/me")[0] == 401
        assert staying_console.closed_with is None
        assert staying.request("GET", "/api/me")[0] == 200
    finally:
        leaving_console.close()
        staying_console.close()


def test_an_expired_session_loses_its_feed_on_time_even_after_a_late_event(
    asterisk, running_controller, supervisor_api
):
    api = Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])
    opened = time.monotonic()
    console = Console.of(api)
    # The session runs out without a logout (its hours are up).
    database = sqlite3.connect(asterisk.config_path.parent / "tickets.db")
    with database:
        database.execute(
            "UPDATE sessions SET expires_at = '2000-01-01 00:00:00.000000' WHERE token_hash = ?",
            (token_hash(api.token or ""),),
        )
    database.close()
    try:
        # One event shortly before the check is due. The check must not slide to a full
        # SESSION_RECHECK after it (as it once did, leaving caller data flowing for 27 s).
        time.sleep(max(0.0, opened + SESSION_RECHECK - 3 - time.monotonic()))
        supervisor_api.desk("2002", "paused", "briefing")
        console.wait_for(lambda m: m["type"] == "desk", timeout=5)
        deadline = opened + SESSION_RECHECK + 6
        while console.closed_with is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert console.closed_with == 4401
    finally:
        console.close()
        supervisor_api.desk("2002", "logged-out")
