"""Hostile API bodies and a hostile FastAGI peer (issue 15's findings 1, 5 and 9), against the
real controller: each gets a clear 4xx (or a closed connection), nothing is stored, and the
controller goes on serving."""

from __future__ import annotations

import socket
import time
import urllib.request

from tests.centre import Api
from tests.integration.test_hostile_input import agi_headers, fake_asterisk_session

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
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(agi_headers(f"frozen.{time.monotonic_ns()}", b"0341555000"))
        s.makefile("rb").readline()  # the route's first command
        s.sendall(b"520-Invalid command syntax.  Proper usage follows:\n")
    # The controller still answers (a frozen loop would not answer at all): the web, and a
    # proper FastAGI session.
    with urllib.request.urlopen(asterisk.base_url + "/healthz", timeout=10) as r:
        assert r.status == 200
    unique_id = f"after-520.{time.monotonic_ns()}"
    commands = fake_asterisk_session(port, agi_headers(unique_id, b"0341555001"))
    assert any(c.startswith(b"SET VARIABLE NGALAM_TARGETS") for c in commands)
    admin_api.wait_for_ticket(lambda t: t["calls"][0]["unique_id"] == unique_id)
