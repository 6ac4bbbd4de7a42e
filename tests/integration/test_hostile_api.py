"""Hostile API bodies and a hostile FastAGI peer (issue 15's findings 1, 5 and 9), against the
real controller: each gets a clear 4xx (or a closed connection), nothing is stored, and the
controller goes on serving."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import time
import urllib.request
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from callcenter.telephony.asterisk import instance_paths
from tests.centre import (
    Api,
    TestCentre,
    caller_on_the_line,
    local_caller_hangs_up,
    place_scripted_112_call,
    record_a_call,
)
from tests.integration.test_hostile_input import agi_headers, fake_asterisk_session
from tests.waiting import wait_until

SURROGATE = b"\\ud800"  # as JSON writes it: valid JSON, not valid text


def test_numbers_too_long_and_nesting_too_deep_are_bad_requests(asterisk, running_controller):
    anonymous = Api(asterisk.base_url, None)
    long_number = b'{"username": ' + b"9" * 5000 + b', "password": "x"}'
    assert anonymous.request_raw("POST", "/api/login", long_number)[0] == 400
    assert anonymous.request_raw("POST", "/api/login", b"[" * 20_000)[0] == 400


def test_a_login_that_is_not_text_is_a_wrong_login(asterisk, running_controller):
    anonymous = Api(asterisk.base_url, None)
    for body in (
        b'{"username": "' + SURROGATE + b'", "password": "kata-sandi-uji"}',
        b'{"username": "admin", "password": "' + SURROGATE + b'"}',
    ):
        status, reply = anonymous.request_raw("POST", "/api/login", body)
        assert status == 401, reply


def test_a_user_with_a_role_that_is_not_one_or_a_password_that_is_not_text(admin_api):
    for body in (
        {"username": "tamu1", "password": "kata-sandi-panjang", "role": []},
        {"username": "tamu1", "password": "kata-sandi-panjang", "role": {"x": 1}},
    ):
        assert admin_api.request("POST", "/api/users", body)[0] == 400
    raw = b'{"username": "tamu1", "password": "' + SURROGATE * 12 + b'", "role": "call-taker"}'
    assert admin_api.request_raw("POST", "/api/users", raw)[0] == 400
    assert all(u["username"] != "tamu1" for u in admin_api.request("GET", "/api/users")[1]["users"])


def test_a_protocol_card_edit_is_whole_and_text_or_nothing(supervisor_api):
    before = supervisor_api.request("GET", "/api/protocols")[1]["cards"]
    for body in ({}, {"asks": ["Di mana?"], "tell": []}, {"ask": ["Di mana?"]}):
        status, reply = supervisor_api.request("PUT", "/api/protocols/police", body)
        assert status == 400, (body, reply)
    raw = b'{"ask": ["' + SURROGATE + b'"], "tell": []}'
    assert supervisor_api.request_raw("PUT", "/api/protocols/police", raw)[0] == 400
    # Nothing was saved: the cards are as they were (and the next start-up reads them fine).
    assert supervisor_api.request("GET", "/api/protocols")[1]["cards"] == before


def test_a_report_past_the_calendar_is_a_bad_request(supervisor_api):
    for query in ("from=9999-12-31", "from=2026-01-01&to=9999-12-31", "from=0001-01-01"):
        status, reply = supervisor_api.request("GET", f"/api/reports/summary?{query}")
        assert status == 400, (query, reply)


def test_a_fastagi_peer_closing_inside_a_usage_error_freezes_nothing(asterisk, admin_api):
    """Finding 1: a 520- usage block cut by EOF used to spin the controller's only loop."""
    port = asterisk.config.controller.agi_port
    key = asterisk.config.asterisk.agi_key
    # The peer has the key and names a real call: only then does a route send it commands.
    with caller_on_the_line(asterisk.config, "0341555000") as (channel, unique_id):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(agi_headers(unique_id, b"0341555000", channel=channel, key=key))
            s.makefile("rb").readline()  # the route's first command
            s.sendall(b"520-Invalid command syntax.  Proper usage follows:\n")
        # The controller still answers (a frozen loop would not answer at all): the web, and a
        # proper FastAGI session.
        with urllib.request.urlopen(asterisk.base_url + "/healthz", timeout=10) as r:
            assert r.status == 200
        headers = agi_headers(unique_id, b"0341555000", channel=channel, key=key)
        commands = fake_asterisk_session(port, headers)
        assert any(c.startswith(b"SET VARIABLE NGALAM_TARGETS") for c in commands)


# --- Issue 15, findings 6, 7 and 9: logins, cross-site requests, headers, recordings, desks ---


def send(
    centre: TestCentre,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request exactly as given (no redirect followed, no header added)."""
    connection = http.client.HTTPConnection("127.0.0.1", centre.config.controller.http_port, 10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def own_origin(centre: TestCentre) -> str:
    return centre.base_url  # http://127.0.0.1:<port>


def browser_session(centre: TestCentre, username: str, password: str) -> str:
    """Log in as the login page's script does; the session cookie a browser would keep."""
    status, headers, body = send(
        centre,
        "POST",
        "/api/login",
        json.dumps({"username": username, "password": password}).encode(),
        {"Origin": own_origin(centre), "Content-Type": "application/json"},
    )
    assert status == 200, body
    cookie = SimpleCookie(headers["set-cookie"])["ngalam112_session"]
    return f"ngalam112_session={cookie.value}"


def a_ticket(centre: TestCentre, api: Api, number: str) -> dict[str, Any]:
    """A ticket of a call from `number`."""
    unique_id = f"hostile.{time.monotonic_ns()}"
    record_a_call(centre.config, unique_id, number)
    return api.wait_for_ticket(lambda t: t["calls"][0]["unique_id"] == unique_id)


def test_a_page_of_another_origin_changes_nothing_with_the_browsers_cookie(
    asterisk, admin_api, supervisor_api
):
    """Finding 7, as reported: cookie-authenticated PATCH, restriction and logout from
    Origin http://evil.example as text/plain all succeeded."""
    ticket = a_ticket(asterisk, admin_api, "0341555201")
    cookie = browser_session(asterisk, "penyelia", asterisk.passwords["penyelia"])
    patch = f"/api/tickets/{ticket['id']}"
    restriction = json.dumps({"number": "0341555201", "reason": "iseng"}).encode()
    edit = json.dumps({"what": "diubah situs lain"}).encode()
    port = asterisk.config.controller.http_port
    for sender in (
        {"Origin": "http://evil.example"},
        {"Origin": f"http://127.0.0.1:{port + 1}"},  # another port: the same "site"
        {"Origin": f"http://localhost:{port}"},
        {"Origin": f"https://127.0.0.1:{port}"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {},  # neither Origin nor Referer
    ):
        for content_type in ("text/plain", "application/json"):
            headers = {"Cookie": cookie, "Content-Type": content_type, **sender}
            for method, path, body in (
                ("PATCH", patch, edit),
                ("POST", "/api/restrictions", restriction),
                ("POST", "/api/logout", None),
                ("POST", "/logout", None),
            ):
                status, reply_headers, reply = send(asterisk, method, path, body, headers)
                assert status == 403, (sender, content_type, method, path, reply)
                assert json.loads(reply) == {"error": "cross-site request refused"}
                assert reply_headers["x-frame-options"] == "DENY"
    # Nothing changed, and the session is still in force.
    assert admin_api.request("GET", patch)[1]["events"] == ticket["events"]
    listed = supervisor_api.request("GET", "/api/restrictions")[1]["restrictions"]
    assert all(r["number"] != "0341555201" for r in listed)
    assert send(asterisk, "GET", "/api/me", headers={"Cookie": cookie})[0] == 200

    # From the console's own pages: a JSON body is taken, any other is not.
    ours = {"Cookie": cookie, "Origin": own_origin(asterisk)}
    plain = {**ours, "Content-Type": "text/plain"}
    assert send(asterisk, "PATCH", patch, edit, plain)[0] == 415
    assert send(asterisk, "PATCH", patch, edit, {"Cookie": cookie})[0] == 403
    json_ours = {**ours, "Content-Type": "application/json"}
    assert send(asterisk, "PATCH", patch, edit, json_ours)[0] == 200
    # A browser that leaves Origin out names the page in Referer (same-origin policy).
    referer = {"Cookie": cookie, "Referer": own_origin(asterisk) + "/console"}
    status, headers, _ = send(asterisk, "POST", "/logout", None, referer)
    assert status == 303 and headers["location"] == "/login"
    assert send(asterisk, "GET", "/api/me", headers={"Cookie": cookie})[0] == 401


def test_logging_a_browser_in_from_another_origin_is_refused(asterisk, running_controller):
    """Login CSRF: another site's page logging the victim's browser in as the attacker."""
    form = urlencode({"username": "penyelia", "password": asterisk.passwords["penyelia"]})
    as_json = json.dumps({"username": "penyelia", "password": asterisk.passwords["penyelia"]})
    for path, body, content_type in (
        ("/login", form, "application/x-www-form-urlencoded"),
        ("/api/login", as_json, "text/plain"),
        ("/api/login", as_json, "application/json"),
    ):
        for sender in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/"}):
            headers = {"Content-Type": content_type, **sender}
            status, reply_headers, _ = send(asterisk, "POST", path, body.encode(), headers)
            assert status == 403 and "set-cookie" not in reply_headers, (path, sender)
    # The login page's own form logs in (a browser sends its Origin), and so does a program
    # sending JSON with no page at all (no browser, nothing to forge).
    ours = {"Content-Type": "application/x-www-form-urlencoded", "Origin": own_origin(asterisk)}
    status, headers, _ = send(asterisk, "POST", "/login", form.encode(), ours)
    assert status == 303 and "ngalam112_session=" in headers["set-cookie"]
    assert (
        send(asterisk, "POST", "/login", form.encode(), {"Content-Type": ours["Content-Type"]})[0]
        == 403
    )
    script = {"Content-Type": "application/json"}
    assert send(asterisk, "POST", "/api/login", as_json.encode(), script)[0] == 200
    assert send(asterisk, "POST", "/api/login", as_json.encode(), {})[0] == 403


def test_wrong_passwords_make_the_next_try_wait_even_the_right_one(asterisk, admin_api):
    """Finding 6: 200 wrong passwords at ~21/s, then the right one worked."""
    username, password = f"terkunci{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    body = {"username": username, "password": password, "role": "call-taker"}
    assert admin_api.request("POST", "/api/users", body)[0] == 201
    anonymous = Api(asterisk.base_url, None)
    wrong = {"username": username, "password": "salah-" + password}
    right = {"username": username, "password": password}
    statuses = [anonymous.request("POST", "/api/login", wrong)[0] for _ in range(5)]
    assert statuses == [401] * 5
    # Throttled: refused before the password is looked at, wrong or right.
    for attempt in (wrong, right):
        status, headers, reply = send(
            asterisk,
            "POST",
            "/api/login",
            json.dumps(attempt).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 429, reply
        assert 1 <= int(headers["retry-after"]) <= 4
        assert headers["x-content-type-options"] == "nosniff"
        assert "try again" in json.loads(reply)["error"]
    # Once the wait is over the right password works (and the login starts afresh).
    wait_until(
        lambda: anonymous.request("POST", "/api/login", right)[0] == 200,
        30,
        0.5,
        "the right password never worked again",
    )
    assert anonymous.request("POST", "/api/login", wrong)[0] == 401


def test_every_answer_carries_the_security_headers(asterisk, calltaker_api, admin_api):
    """Finding 9: errors raised as exceptions (401/403/404/409/303) had none."""
    bearer = {"Authorization": f"Bearer {calltaker_api.token}"}
    admin = {"Authorization": f"Bearer {admin_api.token}"}
    for method, path, headers, expected in (
        ("GET", "/no/such/page", {}, 404),
        ("GET", "/api/tickets/abc", bearer, 404),
        ("GET", "/api/me", {}, 401),
        ("GET", "/api/users", bearer, 403),
        ("DELETE", "/api/users/admin", admin, 409),
        ("GET", "/", {}, 303),
        ("GET", "/console", {}, 303),
        ("GET", "/static/console.css", {}, 200),
        ("GET", "/login", {}, 200),
    ):
        status, reply_headers, _ = send(asterisk, method, path, None, headers)
        assert status == expected, (method, path)
        assert reply_headers["x-content-type-options"] == "nosniff", path
        assert reply_headers["x-frame-options"] == "DENY", path
        assert reply_headers["referrer-policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in reply_headers["content-security-policy"], path
        if not path.startswith("/static/"):
            assert reply_headers["cache-control"] == "no-store", path


def test_the_live_feed_refuses_a_page_of_another_scheme_or_port(asterisk, running_controller):
    """Finding 9: the socket's origin check compared host and port only."""
    cookie = browser_session(asterisk, "penyelia", asterisk.passwords["penyelia"])
    url = asterisk.base_url.replace("http://", "ws://") + "/ws/live"
    port = asterisk.config.controller.http_port
    for origin in (f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}", None):
        with (
            pytest.raises(InvalidStatus) as refused,
            ws_connect(url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=5),
        ):
            pass
        assert refused.value.response.status_code == 403, origin
    # The console's own page opens it.
    with ws_connect(url, origin=own_origin(asterisk), additional_headers={"Cookie": cookie}):
        pass


def test_a_plain_get_of_the_live_feed_is_a_bad_request_not_a_server_error(calltaker_api):
    """Found by bench/abuse.py: a logged-in GET without the WebSocket handshake was a 500."""
    status, body = calltaker_api.request_raw("GET", "/ws/live", None)
    assert status == 400
    assert body == {"error": "a WebSocket handshake is required"}


def test_restriction_evidence_must_be_tickets_of_that_number(asterisk, admin_api, supervisor_api):
    number = "0341555301"
    theirs = a_ticket(asterisk, admin_api, number)
    someone_elses = a_ticket(asterisk, admin_api, "0341555302")
    for evidence in (
        [99_999_999],  # no such ticket
        [theirs["id"], someone_elses["id"]],  # another caller's ticket
        [0],
        [-1],
        [10**30],
        [True],
        [theirs["id"]] * 101,
    ):
        body = {"number": number, "reason": "iseng", "evidence": evidence}
        status, reply = supervisor_api.request("POST", "/api/restrictions", body)
        assert status == 400 and "evidence" in reply["error"], (evidence, reply)
    listed = supervisor_api.request("GET", "/api/restrictions")[1]["restrictions"]
    assert all(r["number"] != number for r in listed)
    body = {"number": number, "reason": "iseng", "evidence": [theirs["id"]]}
    status, restriction = supervisor_api.request("POST", "/api/restrictions", body)
    assert status == 201 and restriction["evidence"] == [theirs["id"]], restriction
    lift = f"/api/restrictions/{restriction['id']}/lift"
    assert supervisor_api.request("POST", lift, {"reason": "uji selesai"})[0] == 200


def test_bodies_with_unknown_or_missing_keys_are_refused(
    asterisk, admin_api, supervisor_api, calltaker_api
):
    ticket = a_ticket(asterisk, admin_api, "0341555401")
    for api, method, path, body in (
        (admin_api, "POST", "/api/login", {"username": "admin", "password": "x", "admin": True}),
        (admin_api, "POST", "/api/users", {"username": "tamu2", "password": "p" * 12}),
        (
            admin_api,
            "POST",
            "/api/users",
            {"username": "tamu2", "password": "p" * 12, "role": "admin", "is_admin": True},
        ),
        (calltaker_api, "POST", "/api/agents/2001/state", {"stat": "available"}),
        (calltaker_api, "POST", "/api/agents/2001/state", {"state": "paused", "reasons": "x"}),
        (calltaker_api, "PATCH", f"/api/tickets/{ticket['id']}", {"status": "closed"}),
        (calltaker_api, "POST", f"/api/tickets/{ticket['id']}/close", {}),
        (
            calltaker_api,
            "POST",
            f"/api/tickets/{ticket['id']}/close",
            {"outcome": "prank", "closed_by": "orang lain"},
        ),
        (calltaker_api, "POST", "/api/calls/x.1/dispatch", {"agency": "pmi", "target": "PJSIP/1"}),
        (supervisor_api, "POST", "/api/calls/x.1/listen", {"mode": "listen", "phone": "2009"}),
        (supervisor_api, "POST", f"/api/tickets/{ticket['id']}/callback", {"desk": "2001"}),
        (supervisor_api, "POST", "/api/restrictions", {"number": "0341555401", "reasons": "x"}),
        (
            supervisor_api,
            "POST",
            "/api/restrictions",
            {"number": "0341555401", "reason": "x", "level": 3},
        ),
        (supervisor_api, "POST", "/api/restrictions/1/lift", {"reason": "x", "by": "admin"}),
        (supervisor_api, "PUT", "/api/protocols/police", {"ask": [], "tell": [], "x": []}),
    ):
        status, reply = api.request(method, path, body)
        assert status == 400 and "error" in reply, (path, body, reply)
    after = admin_api.request("GET", f"/api/tickets/{ticket['id']}")[1]
    assert after["status"] == ticket["status"] and after["events"] == ticket["events"]
    assert all(u["username"] != "tamu2" for u in admin_api.request("GET", "/api/users")[1]["users"])


def test_recordings_by_ticket_to_those_who_may_hear_them_and_desks_edit_their_own(
    asterisk, admin_api, calltaker_api, supervisor_api, desk
):
    """Finding 9: `recording_path` gave every role the server's paths, and any call-taker could
    edit or close a ticket another desk answered."""
    petugas2 = Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])
    number = "0341555501"
    place_scripted_112_call(asterisk.config, f'"Rekaman" <{number}>', keys="1", stay=60)
    try:
        desk.wait_answered(timeout=60)
        ticket = admin_api.wait_for_ticket(
            lambda t: t["caller_number"] == number and t["answered_at"] is not None
        )
        path = f"/api/tickets/{ticket['id']}"
        # Another desk's call-taker: neither an edit nor closing it.
        assert petugas2.request("PATCH", path, {"what": "bukan milik saya"})[0] == 403
        assert petugas2.request("POST", f"{path}/close", {"outcome": "prank"})[0] == 403
        # The desk that answered it, and a supervisor, may.
        assert calltaker_api.request("PATCH", path, {"what": "kebakaran"})[0] == 200
        assert supervisor_api.request("PATCH", path, {"where": "Jl. Ijen"})[0] == 200
    finally:
        local_caller_hangs_up(asterisk.config, number)
    ticket = admin_api.wait_for_ticket(lambda t: t["id"] == ticket["id"] and t["recording"])
    assert petugas2.request("GET", path)[1]["what"] == "kebakaran"
    # No server path anywhere in what the API tells.
    text = json.dumps(ticket)
    assert "recording_path" not in text and str(instance_paths(asterisk.config).host) not in text
    assert ticket["recording"] == f"/api/tickets/{ticket['id']}/recording"
    for api, expected in ((calltaker_api, 200), (supervisor_api, 200), (petugas2, 403)):
        bearer = {"Authorization": f"Bearer {api.token}"}
        status, headers, audio = send(asterisk, "GET", ticket["recording"], None, bearer)
        assert status == expected, api.token
        if expected == 200:
            assert headers["content-type"] == "audio/wav" and audio[:4] == b"RIFF"
    # A ticket with no recording has none to serve.
    unrecorded = a_ticket(asterisk, admin_api, "0341555502")
    bearer = {"Authorization": f"Bearer {admin_api.token}"}
    assert (
        send(asterisk, "GET", f"/api/tickets/{unrecorded['id']}/recording", None, bearer)[0] == 404
    )
    assert unrecorded["recording"] is None
