"""What the bench scripts share: a private centre to run against, percentiles, CPU time."""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from panoramisk import Manager

from callcenter.config import Config
from callcenter.telephony.asterisk import LocalAsterisk

# BENCH_PROFILE=FILE: the controller runs under cProfile and writes its profile there.
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
)


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Every call overflows to an agency nobody answers (then waits): the benches measure the
# controller, not an agency's phone.
NO_AGENCY = """
[ivr]
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "ambulance", "electricity", "public-order", "fire"]
primary = "PJSIP/7009"
ring_timeout = 3
"""


def bench_config(
    directory: Path, name: str, rtp_base: int, extra: str = "", routing: str = NO_AGENCY
) -> Path:
    """A private centre for a bench run (own instance, ports, database in `directory`).
    `routing`: its [ivr] and [[agencies]] (by default every call overflows to NO_AGENCY)."""
    from tests.centre import private_instance_toml

    rtp = rtp_base + (os.getpid() % 100) * 100
    path = directory / "callcenter.toml"
    path.write_text(
        private_instance_toml(f"{name}-{os.getpid()}", rtp, directory) + extra + routing
    )
    return path


def add_bench_parts(
    local: LocalAsterisk, dialplan: str, user: str, secret: str, read: str, write: str, events: str
) -> None:
    """A bench's own dialplan and AMI user (seeing only `events`, a regex of event names), added
    to the instance's rendered config; reload the dialplan and manager afterwards."""
    etc = local.paths.etc
    with (etc / "extensions.conf").open("a") as f:
        f.write(dialplan)
    with (etc / "manager.conf").open("a") as f:
        f.write(
            f"""
[{user}]
secret = {secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = {read}
write = {write}
eventfilter = Event: ({events})
"""
        )


def create_user(config_path: Path, username: str, role: str) -> str:
    """A login on the bench's centre (through the CLI, as an operator would); its password."""
    password = secrets.token_urlsafe(12)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "-c",
            str(config_path),
            "create-user",
            username,
            "--role",
            role,
            "--password-stdin",
        ],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    return password


async def login(http: aiohttp.ClientSession, base: str, username: str, password: str) -> str:
    """A login through the web API, as a console does; its bearer token."""
    async with http.post(
        f"{base}/api/login", json={"username": username, "password": password}
    ) as r:
        r.raise_for_status()
        token: str = (await r.json())["token"]
        return token


async def start_controller(
    config_path: Path,
    config: Config,
    need: Sequence[str] = ("database", "ami", "agi"),
    python_args: Sequence[str] = PROFILE,
    run_args: Sequence[str] = (),
) -> asyncio.subprocess.Process:
    """`callcenter run [run_args]` on the bench's config, as an operator starts it (its log
    beside the config, appended to across restarts), once /healthz says the parts the bench
    `need`s are up."""
    log_path = config_path.parent / "controller.log"
    with log_path.open("ab") as log:
        controller = await asyncio.create_subprocess_exec(
            sys.executable,
            *python_args,
            *("-m", "callcenter", "-c", str(config_path), "run", *run_args),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{config.controller.http_port}/healthz"
    parts: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if controller.returncode is not None:
                raise RuntimeError(f"controller exited: {log_path.read_text()[-2000:]}")
            try:
                async with http.get(url) as r:
                    parts = (await r.json())["parts"]
                if all(parts.get(part) == "ok" for part in need):
                    return controller
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    controller.kill()
    await controller.wait()
    raise RuntimeError(f"controller not ready in 60 s: {parts}; log: {log_path}")


async def stop_controller(controller: asyncio.subprocess.Process) -> None:
    if controller.returncode is None:
        controller.terminate()
    await asyncio.wait_for(controller.wait(), 30)


@asynccontextmanager
async def controller_running(
    config_path: Path,
    config: Config,
    need: Sequence[str] = ("database", "ami", "agi"),
    python_args: Sequence[str] = PROFILE,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`start_controller`, stopped on the way out."""
    controller = await start_controller(config_path, config, need, python_args)
    try:
        yield controller
    finally:
        await stop_controller(controller)


async def ami_login(config: Config, user: str, secret: str) -> Manager:
    """The bench's own AMI connection (the user add_bench_parts made), logged in."""
    manager = Manager(
        host="127.0.0.1",
        port=config.asterisk.ami_port,
        username=user,
        secret=secret,
        loop=asyncio.get_running_loop(),
    )
    await manager.connect()
    for _ in range(100):
        if manager.authenticated:
            return manager
        await asyncio.sleep(0.05)
    manager.close()
    raise RuntimeError(f"the bench's AMI user {user} could not log in")


# ---- what the proof-at-scale benches (soak, chaos, abuse) share ---------------------------------

# A ticket in one of these still has a caller on the line; after a run it is stuck.
LIVE_STATUSES = ("new", "queued", "answered")


def process_figures(pid: int) -> tuple[int, int]:
    """A process's resident memory (kB, VmRSS) and open file descriptors, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def asterisk_pid(config: Config) -> int | None:
    """The pid of the Asterisk running this centre's instance (started by the bench or by the
    controller), found by its asterisk.conf on the command line; None when none runs."""
    conf = config.asterisk.seen_by_asterisk(LocalAsterisk(config).paths.asterisk_conf)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"asterisk") and conf.encode() in argv and b"-f" in argv:
            return int(proc.name)
    return None


async def channel_count(manager: Manager) -> int:
    reply = await manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
    return sum(1 for m in reply if m.get("Event") == "CoreShowChannel")


async def until_no_channels(manager: Manager, timeout: float) -> int:
    """Wait (at most `timeout` s) until Asterisk has no channel left; the channels left."""
    deadline = time.monotonic() + timeout
    while True:
        left = await channel_count(manager)
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.5)


async def originate_caller(
    manager: Manager, number: str, how: dict[str, str], timeout_ms: int = 30000
) -> dict[str, str]:
    """Asterisk calls 112 as caller `number` (a Local channel into the public context); `how`
    says what the caller's side does (Context/Exten/Priority and Variable, or Application/Data).
    Returns the OriginateResponse (Response Success once 112 answered, with the caller-side
    half's Uniqueid), or {"Response": "Error", ...} when Asterisk refused or could not be reached."""
    from callcenter.telephony import dialplan

    action = {
        "Action": "Originate",
        "Channel": f"Local/{dialplan.EMERGENCY_EXTEN}@{dialplan.PUBLIC_CONTEXT}",
        "CallerID": f'"Bench" <{number}>',
        "Async": "true",
        "Timeout": str(timeout_ms),
        **how,
    }
    try:
        reply = await asyncio.wait_for(manager.send_action(action), timeout_ms / 1000 + 10)
    except (TimeoutError, OSError, AttributeError) as e:
        # AttributeError: panoramisk without a connection (Asterisk gone) has no transport.
        return {"Response": "Error", "Message": type(e).__name__}
    replies = reply if isinstance(reply, list) else [reply]
    return dict(replies[-1])


@dataclass
class TicketCount:
    """What the centre's database says about the callers a bench placed."""

    placed: int
    tickets: int
    lost: list[str]  # placed callers without a ticket
    stuck: list[int]  # their tickets still live (status) or never ended (ended_at)
    statuses: collections.Counter[str]
    overflowed: int


async def count_tickets(config: Config, placed: collections.Counter[str]) -> TicketCount:
    """Tickets by caller number for `placed` (caller number → calls placed), read from the
    database itself (SQLite or PostgreSQL), not through the API under test."""
    from sqlalchemy import select

    from callcenter.tickets.db import create_engine
    from callcenter.tickets.models import Ticket

    engine = create_engine(config.database.url)
    try:
        async with engine.connect() as db:
            rows = (
                await db.execute(
                    select(
                        Ticket.id, Ticket.caller_number, Ticket.status, Ticket.ended_at
                    ).add_columns(Ticket.flags)
                )
            ).all()
    finally:
        await engine.dispose()
    ours = [r for r in rows if r.caller_number in placed]
    per_number = collections.Counter(r.caller_number for r in ours)
    lost = [n for n, calls in placed.items() for _ in range(calls - per_number[n])]
    return TicketCount(
        placed=sum(placed.values()),
        tickets=len(ours),
        lost=lost,
        stuck=[r.id for r in ours if r.status in LIVE_STATUSES or r.ended_at is None],
        statuses=collections.Counter(r.status for r in ours),
        overflowed=sum(1 for r in ours if "overflow" in (r.flags or [])),
    )


async def until_settled(
    config: Config, placed: collections.Counter[str], timeout: float
) -> TicketCount:
    """`count_tickets` once no placed caller lacks a ticket and none is stuck, or after
    `timeout` s (the controller closes tickets as the hangups and call records reach it)."""
    deadline = time.monotonic() + timeout
    while True:
        count = await count_tickets(config, placed)
        if (not count.lost and not count.stuck) or time.monotonic() >= deadline:
            return count
        await asyncio.sleep(1)


async def timed_healthz(http: aiohttp.ClientSession, base: str) -> tuple[int, float]:
    """GET /healthz: its status (0: no answer in 10 s) and the seconds it took."""
    started = time.monotonic()
    try:
        async with http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=10)) as r:
            await r.read()
            return r.status, time.monotonic() - started
    except (aiohttp.ClientError, TimeoutError):
        return 0, time.monotonic() - started


# Agencies that answer after 1 s and hang up 5 s later: the agency's deadline loop re-alerts an
# overflowed call's agency minutes later, and a long run must not pile those calls up.
BRIEF_AGENCY_DIALPLAN = """
[bench-brief-agency]
exten => _X.,1,Wait(1)
 same => n,Answer()
 same => n,Wait(5)
 same => n,Hangup()
"""


def brief_agency_routing(routing: str, max_wait: int) -> str:
    """`routing` (caller_path's ROUTING) with its agencies at bench-brief-agency and callers
    overflowing after `max_wait` s in the queue."""
    routing = routing.replace("@bench-agency", "@bench-brief-agency")
    return routing.replace("[ivr]\n", f"[ivr]\nmax_wait = {max_wait}\n")


def run_bounded(name: str, work: Coroutine[Any, Any, int], timeout: float) -> int:
    """Run a bench's main coroutine for at most `timeout` s; past it, say so and fail (exit 1)."""

    async def bounded() -> int:
        return await asyncio.wait_for(work, timeout)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        print(f"{name}: gave up after {timeout:.0f} s", file=sys.stderr)
        return 1
