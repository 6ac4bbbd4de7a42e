"""Hostile caller IDs and malformed FastAGI requests: tickets stored safely, the server stays up."""

from __future__ import annotations

import json
import socket

import pytest

from tests.centre import (
    call_record_written,
    call_records_handled,
    caller_on_the_line,
    place_local_112_call,
)

# (caller ID as the network sends it, a fragment that must survive somewhere in what we store)
HOSTILE_CALLER_IDS = [
    ('"Penyerang" <\'; DROP TABLE tickets; -->', "DROP"),
    ('"Bu \\"Ani\\"" <0812"3456>', "0812"),
    ('"<script>alert(1)</script>" <08123>', "script"),
    ('"Penyerang" <' + "9" * 500 + ">", "9" * 65),
    ("", ""),
]


def new_tickets(api, before: set[int]) -> list[dict]:
    return [t for t in api.tickets(limit="500") if t["id"] not in before]


@pytest.mark.parametrize(
    "caller_id,fragment", HOSTILE_CALLER_IDS, ids=range(len(HOSTILE_CALLER_IDS))
)
def test_hostile_caller_id_gets_one_ticket_stored_safely(asterisk, admin_api, caller_id, fragment):
    before = {t["id"] for t in admin_api.tickets(limit="500")}
    place_local_112_call(asterisk.config, caller_id, seconds=2)
    # It hangs up during the welcome: the ticket, opened as the call arrived, ends abandoned.
    ticket = admin_api.wait_for_ticket(
        lambda t: t["id"] not in before and t["status"] == "abandoned"
    )
    # A duplicate would come from what follows the hangup: the call's record, once Asterisk has
    # written it and the controller has handled it.
    unique_id = ticket["calls"][0]["unique_id"]
    call_record_written(asterisk.config, lambda e: e.call.unique_id == unique_id)
    call_records_handled(asterisk)
    tickets = new_tickets(admin_api, before)
    assert len(tickets) == 1, tickets
    status, ticket = admin_api.request("GET", f"/api/tickets/{tickets[0]['id']}")
    assert status == 200
    assert len(ticket["caller_number"]) <= 64 and len(ticket["caller_name"]) <= 128
    assert not any(ord(c) < 32 for c in ticket["caller_number"] + ticket["caller_name"])
    stored = ticket["caller_number"] + ticket["caller_name"] + json.dumps(ticket["events"])
    assert fragment in stored
    assert ticket["status"] == "abandoned"  # no call-taker answered before it hung up


def fake_asterisk_session(port: int, headers: bytes, replies: int = 10) -> list[bytes]:
    """Talk FastAGI to the controller as Asterisk would; answer each command with success."""
    commands = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(headers)
        f = s.makefile("rb")
        for _ in range(replies):
            line = f.readline()
            if not line:
                break
            commands.append(line)
            s.sendall(b"200 result=0\n")
    return commands


def agi_headers(
    unique_id: str,
    number: bytes,
    name: bytes = b"",
    *,
    channel: str = "PJSIP/trunk-00000001",
    key: str = "",
) -> bytes:
    """An overflow request; served only with the instance's key, for a channel Asterisk has."""
    return (
        b"agi_network: yes\nagi_network_script: overflow\nagi_request: agi://127.0.0.1/overflow\n"
        b"agi_channel: " + channel.encode() + b"\nagi_uniqueid: " + unique_id.encode() + b"\n"
        b"agi_callerid: " + number + b"\nagi_calleridname: " + name + b"\n"
        b"agi_arg_1: " + key.encode() + b"\n\n"
    )


@pytest.fixture(scope="module")
def on_the_line(asterisk):
    """A caller on the line for the module's tests: its channel and unique id."""
    with caller_on_the_line(asterisk.config, "0341888000") as call:
        yield call


def test_invalid_utf8_caller_id_breaks_no_fastagi_route(asterisk, admin_api, on_the_line):
    channel, unique_id = on_the_line
    config = asterisk.config
    headers = agi_headers(
        unique_id, b"0812\xff\xfe34", b"Bu\xe9di", channel=channel, key=config.asterisk.agi_key
    )
    commands = fake_asterisk_session(config.controller.agi_port, headers)
    assert any(c.startswith(b"SET VARIABLE NGALAM_TARGETS") for c in commands)
    # Whichever caller ID the ticket took (this request's, if it came first), it is stored safely.
    ticket = admin_api.wait_for_ticket(lambda t: t["calls"][0]["unique_id"] == unique_id)
    assert ticket["caller_number"] in ("0341888000", "0812\\xff\\xfe34")
    assert ticket["caller_name"] in ("Penelepon Uji", "Bu\\xe9di")


MALFORMED = [
    b"",  # connect and close
    b"agi_network: yes\nagi_uniqueid: x",  # closed before the end of the headers
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # not AGI at all
    b"agi_network_script: " + b"A" * 100_000 + b"\n\n",  # one enormous line
    b"agi_x: y\n" * 20_000 + b"\n",  # too many headers
    b"\n\n",  # empty request
    b"agi_network_script: nosuchroute\nagi_uniqueid: raw-2.1\n\n",
    b"\xff\xfe\x00\x01\n\n",
]


@pytest.mark.parametrize("payload", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_fastagi_request_does_not_crash_the_server(
    asterisk, admin_api, on_the_line, payload
):
    port = asterisk.config.controller.agi_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(12)
            s.recv(100)  # the server closes the connection: no hang, no reply to garbage
        except (ConnectionResetError, BrokenPipeError):
            pass
    # The server still serves a proper request afterwards.
    channel, unique_id = on_the_line
    headers = agi_headers(
        unique_id, b"0341888000", channel=channel, key=asterisk.config.asterisk.agi_key
    )
    commands = fake_asterisk_session(port, headers)
    assert any(c.startswith(b"SET VARIABLE NGALAM_TARGETS") for c in commands)


def test_real_calls_still_go_through_fastagi_after_garbage(asterisk, admin_api):
    # Nobody at a desk: after the welcome the call overflows, and the overflow route (FastAGI)
    # chooses the agency.
    place_local_112_call(asterisk.config, '"Setelah Sampah" <0341999>', seconds=10)
    admin_api.wait_for_ticket(
        lambda t: (
            t["caller_number"] == "0341999" and any(e["kind"] == "overflow" for e in t["events"])
        )
    )
