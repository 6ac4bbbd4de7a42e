"""Chaos: 112 calls keep coming while the controller, then Asterisk, then PostgreSQL are killed.

A private centre whose controller runs with `--local-asterisk` (it starts Asterisk, and restarts
it when it dies). The bench places --calls callers over the run, one every --interval s
(Asterisk-placed Local calls into the public 112 extension that stay --stay s, each with a number
of its own); desks are queue members that answer (Local channels), agencies answer too. Faults:

1. kill -9 of the controller (Asterisk, left running, queues the callers meanwhile); it is
   started again --outage s later and adopts that Asterisk;
2. kill -9 of Asterisk (the controller is to restart it);
3. with --postgres (a throwaway server, as the suite's tests/postgres.py starts it): PostgreSQL
   restarted (pg_ctl restart -m fast).

For each fault it prints the callers counted for it and how many reached the queue
(QueueCallerJoin) or an agency (the agency's Local channel created for their call), which must be
all of them; callers it could not place because Asterisk was not there; the seconds from the
fault until the controller was back in sync (/healthz ok, and for 1 and 2 a new "AMI resync" in
its log); tickets lost among those callers. Which callers count:

1. those placed from the kill until the controller is back in sync (the dialplan alone must queue
   them, and the controller must open their tickets from the call records when it returns);
2. those placed in the --window s after Asterisk is back: calls on the line when Asterisk itself
   dies are dropped with it (physics), and are reported apart;
3. those placed from the restart until the database is back, and --window s more.

The bench's own dialplan (desks, agencies) is added to the rendered config again each time a new
Asterisk starts (the controller renders the config afresh), and its queue members are added again;
the dialplan alone is added again when a controller started anew adopts the running Asterisk.

Run: `.venv/bin/python bench/chaos.py [--calls 200] [--interval 1] [--postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from panoramisk import Manager  # noqa: E402

from bench.caller_path import BENCH_DIALPLAN, MEMBER_BASE, ROUTING  # noqa: E402
from bench.common import (  # noqa: E402
    BRIEF_AGENCY_DIALPLAN,
    ami_login,
    asterisk_pid,
    bench_config,
    brief_agency_routing,
    count_tickets,
    originate_caller,
    run_bounded,
    start_controller,
    stop_controller,
    timed_healthz,
    until_no_channels,
    until_settled,
)
from callcenter import config as config_mod  # noqa: E402
from callcenter.config import Config  # noqa: E402
from callcenter.telephony.asterisk import LocalAsterisk  # noqa: E402
from tests.postgres import Postgres, postgres_server  # noqa: E402

MARKER = "[bench-calltaker]"  # in extensions.conf once the bench's dialplan is there
RESYNC = "AMI resync:"  # the controller's log line once it rebuilt its state from Asterisk
RUN_ARGS = ("--local-asterisk",)


@dataclass
class Caller:
    number: str
    placed_at: float
    placed: bool = False
    why_not: str = ""
    linked: str = ""  # the linked id of every channel of the call (the originated channel's id)
    queued: bool = False
    agency: bool = False
    ended_at: float | None = None

    @property
    def reached(self) -> bool:
        return self.queued or self.agency


@dataclass
class Fault:
    name: str
    counts: str  # which callers count for it, in words
    started: float = 0.0
    in_sync: float | None = None
    window: tuple[float, float] = (0.0, 0.0)
    dropped: int = 0  # calls on the line when it struck and gone with it
    notes: list[str] = field(default_factory=list)


class Telephony:
    """The bench's view of Asterisk, kept across its restarts: an AMI session (the controller's
    own AMI user: the bench's would vanish with each fresh render), the bench's dialplan, and the
    desks in the queue."""

    def __init__(self, config: Config, desks: int):
        self.config = config
        self.local = LocalAsterisk(config)  # only for its CLI: the controller runs Asterisk
        self.desks = desks
        self.manager: Manager | None = None
        self.pid: int | None = None
        self.back_at = 0.0  # when the current Asterisk got the bench's parts
        self.callers: dict[str, Caller] = {}
        self.by_linked: dict[str, Caller] = {}

    async def keep(self) -> None:
        failures: collections.Counter[str] = collections.Counter()
        while True:
            pid = asterisk_pid(self.config)
            try:
                if pid != self.pid:
                    self._drop_manager()
                    if pid is not None and await self._attach():
                        self.pid, self.back_at = pid, time.monotonic()
                elif pid is not None and MARKER not in self._extensions.read_text():
                    # A controller that adopted this Asterisk rendered its dialplan again.
                    await self._add_dialplan()
            except Exception as e:  # said once per kind; the next round tries again
                failures[repr(e)] += 1
                if failures[repr(e)] == 1:
                    print(f"  bench parts not added to Asterisk {pid} yet: {e!r}", flush=True)
            await asyncio.sleep(0.3)

    def _drop_manager(self) -> None:
        if self.manager is not None:
            self.manager.close()
            self.manager = None

    @property
    def _extensions(self) -> Path:
        return self.local.paths.etc / "extensions.conf"

    async def _add_dialplan(self) -> bool:
        """The bench's dialplan in Asterisk's; False if Asterisk has not loaded it yet."""
        if MARKER not in self._extensions.read_text():
            with self._extensions.open("a") as f:
                f.write(BENCH_DIALPLAN + BRIEF_AGENCY_DIALPLAN)
        await self.local.cli("dialplan reload", timeout=10)
        return "Context 'bench-calltaker'" in await self.local.cli("dialplan show bench-calltaker")

    async def _attach(self) -> bool:
        """The bench's parts on a new Asterisk; False if it is not ready for them yet."""
        if not await self._add_dialplan():
            return False
        a = self.config.asterisk
        try:
            manager = await asyncio.wait_for(ami_login(self.config, a.ami_user, a.ami_secret), 10)
        except (RuntimeError, OSError, TimeoutError):
            return False
        manager.register_event("*", self._on_event)
        for n in range(self.desks):
            # Members persist in Asterisk's astdb; "already there" is no error here.
            await manager.send_action(
                {
                    "Action": "QueueAdd",
                    "Queue": self.config.queue.name,
                    "Interface": f"Local/{MEMBER_BASE + n}@bench-calltaker",
                    "MemberName": f"chaos {n}",
                    "Paused": "false",
                },
                as_list=False,
            )
        self.manager = manager
        return True

    def _on_event(self, _manager: Manager, event: dict[str, str]) -> None:
        # Every channel of a caller's call (both halves of the Local call, the agency's) shares
        # the linked id of the channel the bench originated.
        caller = self.by_linked.get(event.get("Linkedid", ""))
        if caller is None:
            return
        kind, channel = event.get("Event"), event.get("Channel", "")
        if kind == "QueueCallerJoin":
            caller.queued = True
        elif kind == "Newchannel" and "@bench-brief-agency" in channel:
            caller.agency = True
        elif kind == "Hangup" and channel.startswith("Local/112@") and channel.endswith(";2"):
            caller.ended_at = time.monotonic()

    async def place(self, number: str, stay: int) -> None:
        caller = self.callers[number] = Caller(number, time.monotonic())
        if self.manager is None:
            caller.why_not = "Asterisk not there"
            return
        how = {"Application": "Wait", "Data": str(stay)}
        reply = await originate_caller(self.manager, number, how, timeout_ms=15000)
        caller.placed = reply.get("Response") == "Success"
        caller.why_not = "" if caller.placed else reply.get("Message", "refused")
        if caller.placed:
            caller.linked = reply.get("Uniqueid", "")
            self.by_linked[caller.linked] = caller

    def live_calls(self) -> int:
        return sum(1 for c in self.callers.values() if c.placed and c.ended_at is None)


class Chaos:
    def __init__(self, config_path: Path, config: Config, telephony: Telephony):
        self.config_path = config_path
        self.config = config
        self.telephony = telephony
        self.log_path = config_path.parent / "controller.log"
        self.base = f"http://127.0.0.1:{config.controller.http_port}"
        self.controller: asyncio.subprocess.Process | None = None

    async def start_controller(self) -> None:
        self.controller = await start_controller(
            self.config_path, self.config, run_args=RUN_ARGS, python_args=()
        )

    async def until_in_sync(
        self, fault: Fault, log_from: int, resync: bool, timeout: float
    ) -> None:
        """Until /healthz is ok and (with `resync`) the log has an AMI resync past `log_from`."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                status, _ = await timed_healthz(http, self.base)
                synced = not resync or RESYNC in self._log_since(log_from)
                if status == 200 and synced:
                    fault.in_sync = time.monotonic()
                    return
                await asyncio.sleep(0.2)
        fault.notes.append(f"not back in sync within {timeout:.0f} s")

    def _log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def _log_size(self) -> int:
        return self.log_path.stat().st_size

    async def kill_controller(self, outage: float) -> Fault:
        fault = Fault(
            "kill -9 controller",
            f"placed from the kill until back in sync (restarted after {outage:.0f} s)",
        )
        assert self.controller is not None
        log_from = self._log_size()
        live = self.telephony.live_calls()
        fault.started = time.monotonic()
        self.controller.kill()
        await self.controller.wait()
        await asyncio.sleep(outage)  # the outage itself: calls keep coming meanwhile
        if asterisk_pid(self.config) is None:
            fault.notes.append(f"Asterisk went down with the controller ({live} calls on the line)")
            fault.dropped = live
        await self.start_controller()
        await self.until_in_sync(fault, log_from, resync=True, timeout=120)
        fault.window = (fault.started, fault.in_sync or time.monotonic())
        return fault

    async def kill_asterisk(self, window: float) -> Fault:
        fault = Fault("kill -9 Asterisk", f"placed in the {window:.0f} s after Asterisk is back")
        pid = asterisk_pid(self.config)
        if pid is None:
            fault.notes.append("no Asterisk to kill")
            return fault
        log_from = self._log_size()
        fault.dropped = self.telephony.live_calls()
        fault.started = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        await self.until_in_sync(fault, log_from, resync=True, timeout=180)
        back = self.telephony.back_at if self.telephony.pid != pid else time.monotonic()
        if self.telephony.pid == pid:
            fault.notes.append("Asterisk was not restarted")
        fault.window = (back, back + window)
        await asyncio.sleep(max(0.0, back + window - time.monotonic()))
        return fault

    async def restart_postgres(self, server: Postgres, window: float) -> Fault:
        fault = Fault(
            "restart PostgreSQL", f"placed from the restart until back in sync, +{window:.0f} s"
        )
        fault.started = time.monotonic()
        data = server.socket_dir / "data"
        await asyncio.to_thread(
            server.run,
            *("pg_ctl", "-D", str(data), "-l", str(server.socket_dir / "log")),
            *("-m", "fast", "-w", "restart"),
        )
        await self.until_in_sync(fault, self._log_size(), resync=False, timeout=120)
        end = (fault.in_sync or time.monotonic()) + window
        fault.window = (fault.started, end)
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        return fault


def _pg_config(config_path: Path, url: str) -> None:
    lines = config_path.read_text().splitlines()
    config_path.write_text(
        "\n".join(f'url = "{url}"' if line.startswith('url = "sqlite') else line for line in lines)
        + "\n"
    )


async def run(args: argparse.Namespace, pg: Postgres | None) -> int:
    from bench.common import create_user

    directory = Path(tempfile.mkdtemp(prefix="ngalam-chaos-"))
    routing = brief_agency_routing(ROUTING, args.max_wait)
    config_path = bench_config(directory, "chaos", 43000, routing=routing)
    if pg is not None:
        _pg_config(config_path, pg.new_database(f"chaos{os.getpid()}"))
    config = config_mod.load(config_path)
    create_user(config_path, "admin", "admin")  # migrates the database before the first start
    telephony = Telephony(config, args.desks)
    chaos = Chaos(config_path, config, telephony)
    await chaos.start_controller()
    keeper = asyncio.create_task(telephony.keep())
    faults: list[Fault] = []
    started = time.monotonic()
    try:
        plan: list[tuple[float, Callable[[], Awaitable[Fault]]]] = [
            (0.15, lambda: chaos.kill_controller(args.outage)),
            (0.45, lambda: chaos.kill_asterisk(args.window)),
        ]
        if pg is not None:
            plan.append((0.75, lambda: chaos.restart_postgres(pg, args.window)))

        async def faults_in_turn() -> None:
            for at, strike in plan:
                while len(telephony.callers) < at * args.calls:  # noqa: ASYNC110 - paced by calls
                    await asyncio.sleep(0.1)
                print(f"  {time.monotonic() - started:5.0f} s: fault", flush=True)
                faults.append(await strike())
                print(f"  {time.monotonic() - started:5.0f} s: {faults[-1].name} done", flush=True)

        striking = asyncio.create_task(faults_in_turn())
        while telephony.manager is None and time.monotonic() - started < 60:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        placing = []
        for n in range(args.calls):
            placing.append(asyncio.create_task(telephony.place(f"08{8_000_000 + n}", args.stay)))
            await asyncio.sleep(args.interval)
        await asyncio.gather(*placing)
        await striking
        await asyncio.sleep(args.stay + 5)
        if telephony.manager is not None:
            await until_no_channels(telephony.manager, 120)
        placed = collections.Counter(c.number for c in telephony.callers.values() if c.placed)
        total = await until_settled(config, placed, 90)
        per_fault = await _per_fault_lost(config, telephony, faults)
        lost_callers = [telephony.callers[n] for n in total.lost]
        nameless = await unnumbered(config, lost_callers) if lost_callers else []
        report(telephony, faults, total, per_fault, started, nameless)
        lost = bool(total.lost or total.stuck)
        missed = any(c.placed and not c.reached for f in faults for c in _counted(telephony, f))
        return 1 if lost or missed else 0
    finally:
        keeper.cancel()
        telephony._drop_manager()
        if chaos.controller is not None:
            await stop_controller(chaos.controller)
        print(f"logs: {directory}")


async def unnumbered(config: Config, callers: list[Caller]) -> list[int]:
    """Tickets of these callers' calls (found by the calls' linked id) that lack the caller's
    number: the bench cannot count them by number, and a call-taker could not call back."""
    from sqlalchemy import select

    from callcenter.tickets.db import create_engine
    from callcenter.tickets.models import Call, Ticket

    engine = create_engine(config.database.url)
    try:
        async with engine.connect() as db:
            rows = (
                await db.execute(
                    select(Ticket.id, Ticket.caller_number)
                    .join(Call, Call.ticket_id == Ticket.id)
                    .where(Call.linked_id.in_([c.linked for c in callers]))
                )
            ).all()
    finally:
        await engine.dispose()
    return sorted({r.id for r in rows if not r.caller_number})


def _counted(telephony: Telephony, fault: Fault) -> list[Caller]:
    low, high = fault.window
    return [c for c in telephony.callers.values() if low <= c.placed_at <= high]


async def _per_fault_lost(config: Config, telephony: Telephony, faults: list[Fault]) -> list[int]:
    lost = []
    for fault in faults:
        placed = collections.Counter(c.number for c in _counted(telephony, fault) if c.placed)
        lost.append(len((await count_tickets(config, placed)).lost))
    return lost


def report(  # type: ignore[no-untyped-def]
    telephony: Telephony,
    faults: list[Fault],
    total,
    lost: list[int],
    t0: float,
    nameless: list[int],
) -> None:
    print(
        f"\n{'fault':22s} {'counted':>7s} {'placed':>6s} {'reached':>7s} {'%':>6s} "
        f"{'not placed':>10s} {'in sync s':>9s} {'lost':>4s}  dropped"
    )
    for fault, fault_lost in zip(faults, lost, strict=True):
        counted = _counted(telephony, fault)
        placed = [c for c in counted if c.placed]
        reached = sum(1 for c in placed if c.reached)
        share = f"{100 * reached / len(placed):5.1f}%" if placed else "    -"
        sync = f"{fault.in_sync - fault.started:9.1f}" if fault.in_sync else "    never"
        print(
            f"{fault.name:22s} {len(counted):7d} {len(placed):6d} {reached:7d} {share:>6s} "
            f"{len(counted) - len(placed):10d} {sync} {fault_lost:4d}  {fault.dropped}"
        )
        print(f"  counts: callers {fault.counts}")
        reasons = collections.Counter(c.why_not for c in counted if not c.placed)
        if reasons:
            print(f"  not placed: {dict(reasons)}")
        for note in fault.notes:
            print(f"  note: {note}")
    callers = list(telephony.callers.values())
    placed = [c for c in callers if c.placed]
    print(
        f"\nwhole run: {len(callers)} callers, {len(placed)} placed, "
        f"{sum(1 for c in placed if c.reached)} reached the queue or an agency; "
        f"tickets {total.tickets} {dict(total.statuses)}; "
        f"lost {len(total.lost)} (must be 0), stuck {len(total.stuck)} (must be 0)"
    )
    if nameless:
        print(f"  tickets without the caller's number (counted as lost above): {nameless}")
    if total.lost:
        faults_at = ", ".join(f"{f.name} at {f.started - t0:.0f} s" for f in faults)
        placed_at = [f"{n} at {telephony.callers[n].placed_at - t0:.1f} s" for n in total.lost]
        print(f"  lost: {', '.join(placed_at)} (faults: {faults_at})")
    print(
        "  'dropped': calls on the line when the fault struck and not counted (a dead Asterisk\n"
        "  takes its calls with it); 'not placed': Originate failed, Asterisk was not there."
    )


def _run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres_server()) if args.postgres else None
        return run_bounded("chaos", run(args, pg), args.timeout)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between callers")
    parser.add_argument("--stay", type=int, default=20, help="seconds each caller stays")
    parser.add_argument("--desks", type=int, default=4, help="queue members that answer")
    parser.add_argument("--max-wait", type=int, default=15, help="seconds before overflow")
    parser.add_argument("--outage", type=float, default=10.0, help="controller down, seconds")
    parser.add_argument("--window", type=float, default=20.0, help="seconds counted after a fault")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, restarted as fault 3")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the run")
    sys.exit(_run(parser.parse_args()))
