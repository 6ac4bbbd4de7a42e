"""Hostile local peers (issue 15, findings 4, 8 and 9 in part), against the real Asterisk and the
real controller: a process that speaks FastAGI to the controller, one that holds AMI connections
open without logging in, one that has the controller's AMI secret; and who may read the files."""

from __future__ import annotations

import asyncio
import socket
import stat
import time
from contextlib import ExitStack, closing
from pathlib import Path

from callcenter.telephony import dialplan
from callcenter.telephony.asterisk import instance_paths
from tests.centre import (
    ami_session,
    database,
    local_caller_hangs_up,
    place_local_112_call,
    run_async,
)
from tests.waiting import wait_until

# What the forged sessions claim, so that anything they managed to write can be found.
FORGED_NUMBER = "0341000666"
FORGED_REASON = "FORGED"


def forge_fastagi(
    port: int,
    route: str,
    unique_id: str,
    channel: str,
    key: str | None,
    variables: dict[str, str] | None = None,
) -> list[str]:
    """A local process pretending to be Asterisk: it asks for `route` for the call it names,
    with `key` as the dialplan's first AGI argument (None: none at all), and answers each GET
    VARIABLE from `variables`. The commands the controller sent it, in order."""
    variables = variables or {}
    lines = [
        "agi_network: yes",
        f"agi_network_script: {route}",
        f"agi_request: agi://127.0.0.1/{route}",
        f"agi_channel: {channel}",
        f"agi_uniqueid: {unique_id}",
        f"agi_callerid: {FORGED_NUMBER}",
        "agi_calleridname: Penelepon Palsu",
    ]
    if key is not None:
        lines.append(f"agi_arg_1: {key}")
    commands = []
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(("\n".join(lines) + "\n\n").encode())
        replies = s.makefile("rb")
        while line := replies.readline():
            command = line.decode().rstrip("\n")
            commands.append(command)
            if command.startswith("GET VARIABLE "):
                value = variables.get(command.split(" ", 2)[2])
                reply = "200 result=0" if value is None else f"200 result=1 ({value})"
            else:
                reply = "200 result=1"
            s.sendall(reply.encode() + b"\n")
    return commands


def _variables(dispatch_id: int, ticket_id: int) -> dict[str, dict[str, str]]:
    """Per route, what the forger answers: each would leave a mark a test can find."""
    return {
        dialplan.ROUTE_OVERFLOW: {dialplan.QUEUE_STATUS: FORGED_REASON},
        dialplan.ROUTE_RING: {dialplan.AGENCY: "pmi", dialplan.CURRENT_TARGET: "PJSIP/7003"},
        dialplan.ROUTE_ANSWERED: {dialplan.ANSWERED_DISPATCH_ID: str(dispatch_id)},
        dialplan.ROUTE_DIALLED: {
            dialplan.DISPATCH_ID: str(dispatch_id),
            dialplan.DIAL_STATUS: "ANSWER",
            dialplan.ANSWERED_TIME: "42",
        },
        dialplan.ROUTE_UNANSWERED: {dialplan.AGENCY: "pmi"},
        dialplan.ROUTE_CALLBACK: {
            dialplan.TICKET_ID: str(ticket_id),
            dialplan.DIAL_STATUS: "ANSWER",
            dialplan.ANSWERED_TIME: "42",
        },
    }


ROUTES = list(_variables(0, 0))


def _dispatches(centre) -> list[tuple]:
    with closing(database(centre)) as db:
        return db.execute(
            "SELECT id, ticket_id, agency, target, outcome, answered_at, ended_at"
            " FROM dispatches ORDER BY id"
        ).fetchall()


def _forged_marks(ticket: dict) -> list[dict]:
    """Whatever on a ticket only a forged session could have written."""
    return [
        e
        for e in ticket["events"]
        if e["kind"].startswith("callback-")
        or (e["kind"] == "overflow" and e["data"].get("reason") == FORGED_REASON)
        or (e["kind"].startswith("dispatch-") and e["data"].get("agency") == "pmi")
    ]


def test_forged_fastagi_sessions_open_no_ticket(asterisk, admin_api, running_controller):
    """Finding 4: a local process that speaks FastAGI opened a ticket for an invented call, with
    an invented caller ID, and raised a dispatch alert for it. Without the instance's key, or
    with it but for a call Asterisk does not have, the controller refuses at once."""
    port = asterisk.config.controller.agi_port
    key = asterisk.config.asterisk.agi_key
    before = {t["id"] for t in admin_api.tickets(limit="500")}
    dispatches = _dispatches(asterisk)
    for route, variables in _variables(0, 0).items():
        for offered in (None, "", "x" * 64, key[:-1] + "0", key + "0", key):
            invented = f"{time.time():.0f}.{time.monotonic_ns() % 10**9}"
            commands = forge_fastagi(
                port, route, invented, "PJSIP/9001-0000dead", offered, variables
            )
            assert commands == [], (route, offered, commands)

    assert [t for t in admin_api.tickets(limit="500") if t["id"] not in before] == []
    assert [t for t in admin_api.tickets(limit="500") if t["caller_number"] == FORGED_NUMBER] == []
    assert _dispatches(asterisk) == dispatches
    log = running_controller.log_path.read_text()
    assert "FastAGI request from ('127.0.0.1'" in log and "refused" in log


def test_forged_fastagi_sessions_leave_a_real_call_alone(asterisk, admin_api, running_controller):
    """A forger that knows a real call's channel and unique id (any local process can read them
    off the CLI or guess them) still has no key: it cannot note an overflow, ring or answer a
    dispatch, raise an alert or mark a callback on that call's ticket. And with the key, a
    channel name and unique id that do not belong together are refused too. The real call goes
    on through FastAGI as before: nobody is at a desk, so the overflow route picks the agency."""
    port = asterisk.config.controller.agi_port
    key = asterisk.config.asterisk.agi_key
    number = "0341666001"
    place_local_112_call(asterisk.config, f'"Penelepon Asli" <{number}>', seconds=60)
    try:
        ticket = admin_api.wait_for_ticket(lambda t: t["caller_number"] == number)
        call = ticket["calls"][0]
        # The real call's overflow (through the real FastAGI, with the key) rings the police's
        # first desk, which is not registered: that dispatch fails at once.
        ticket = admin_api.wait_for_ticket(
            lambda t: (
                t["id"] == ticket["id"]
                and any(d["outcome"] == "failed" for d in t["dispatches"])
                and any(e["kind"] == "overflow" for e in t["events"])
            ),
            timeout=40,
        )
        dispatch = next(d for d in ticket["dispatches"] if d["outcome"] == "failed")
        dispatches = _dispatches(asterisk)
        variables = _variables(dispatch["id"], ticket["id"])
        for route in ROUTES:
            for offered, unique_id in (
                (None, call["unique_id"]),
                ("x" * 64, call["unique_id"]),
                (key, call["unique_id"] + "9"),
                (key, "1.1"),
            ):
                commands = forge_fastagi(
                    port, route, unique_id, call["channel"], offered, variables[route]
                )
                assert commands == [], (route, offered, unique_id, commands)

        status, after = admin_api.request("GET", f"/api/tickets/{ticket['id']}")
        assert status == 200
        assert _forged_marks(after) == []
        assert after["agency"] is None and after["dispatched_at"] is None
        forged_dispatch = next(d for d in _dispatches(asterisk) if d[0] == dispatch["id"])
        assert forged_dispatch == next(d for d in dispatches if d[0] == dispatch["id"])
    finally:
        local_caller_hangs_up(asterisk.config, number)


def _hold_idle_ami_connections(port: int, count: int, stack: ExitStack) -> list[bytes]:
    """Open `count` connections to AMI that never log in; each one's greeting (b"" for one that
    Asterisk closed at once: over its limit of unauthenticated sessions)."""
    greetings = []
    for _ in range(count):
        s = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        greetings.append(s.makefile("rb").readline())
    return greetings


def test_idle_unauthenticated_ami_connections_do_not_lock_the_controller_out(
    asterisk, running_controller
):
    """Finding 8: 60 idle connections to AMI that never log in used to fill Asterisk's default
    limit of 50 unauthenticated sessions, and the controller's next login (after any reconnect)
    was refused. With them all open, a login with the controller's credentials still works."""
    config = asterisk.config
    with ExitStack() as held:
        greetings = _hold_idle_ami_connections(config.asterisk.ami_port, 60, held)
        assert all(g.startswith(b"Asterisk Call Manager") for g in greetings), [
            g for g in greetings if not g.startswith(b"Asterisk Call Manager")
        ]

        async def login() -> bool:
            async with ami_session(config) as manager:
                reply = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 10)
                return bool(manager.authenticated and reply.success)

        assert run_async(login())


def test_the_controllers_ami_login_cannot_run_a_shell_command(asterisk):
    """Finding 8: the AMI user had `system`, so its secret was a root shell: ModuleLoad brought
    in app_system (modules.conf leaves it out), then Originate with Application=System ran any
    command as the user Asterisk runs as (root). Both are refused now."""
    config = asterisk.config
    marker = instance_paths(config).host / "run" / f"pwned-{time.monotonic_ns()}"

    async def attempt() -> list:
        async with ami_session(config) as manager:
            load = await manager.send_action(
                {"Action": "ModuleLoad", "Module": "app_system.so", "LoadType": "load"}
            )
            originate = await manager.send_action(
                {
                    "Action": "Originate",
                    # A Local channel that answers at once (the whisper plays nothing and ends).
                    "Channel": f"Local/{dialplan.WHISPER_EXTEN}@{dialplan.WHISPER_CONTEXT}/n",
                    "Application": "System",
                    "Data": f"touch {config.asterisk.seen_by_asterisk(marker)}",
                    "Async": "false",
                    "Timeout": "10000",
                }
            )
            return [load, originate]

    load, originate = run_async(attempt())
    assert not load.success, load
    assert not originate.success, originate
    assert "Forbidden" in originate.get("Message", ""), originate
    assert not marker.exists()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_recordings_and_secrets_are_the_owners_only(asterisk, admin_api):
    """Finding 9 (in part): the database and the recordings were 0644, readable by every local
    user. After a call, none of them, nor the config holding the secrets, is group or world
    readable."""
    number = "0341666002"
    place_local_112_call(asterisk.config, f'"Rekaman Pribadi" <{number}>', seconds=3)
    ticket = admin_api.wait_for_ticket(lambda t: t["caller_number"] == number)
    paths = instance_paths(asterisk.config)
    recording = paths.recording(ticket["calls"][0]["unique_id"])
    assert recording is not None
    wait_until(recording.exists, 20, 0.1, "the call left no recording")
    db_file = Path(asterisk.config.database.url.removeprefix("sqlite+aiosqlite:///"))
    private = {
        db_file: 0o600,
        paths.host: 0o700,
        paths.recordings: 0o700,
        recording: 0o600,
        paths.etc: 0o700,
        paths.etc / "manager.conf": 0o600,
        paths.etc / "pjsip.conf": 0o600,
        paths.etc / "extensions.conf": 0o600,
    }
    for sidecar in (db_file.with_name(db_file.name + "-wal"), paths.cdr_csv):
        if sidecar.exists():
            private[sidecar] = 0o600
    modes = {str(p): oct(_mode(p)) for p in private}
    assert all(_mode(p) & 0o077 == 0 for p in private), modes
