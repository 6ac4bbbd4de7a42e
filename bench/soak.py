"""Soak: thousands of 112 calls through the real Asterisk; no ticket lost, none stuck, no leak.

A private centre (its own Asterisk, the controller as `callcenter run`, SQLite in a temp dir).
Most callers are Asterisk-placed (AMI Originate of a Local channel into the public 112 extension,
whose far half follows a script: keys at a moment, hang-up at a moment); a share are real SIP
phones (pyVoIP, in-band keys), which cannot scale further. Each call takes one of the paths in
PATHS, chosen by its index: hang-up during the welcome, silent then hang-up while waiting, keys
1/2/3/0/55/9 (informasi) while waiting, hang-up in the middle of a key or between the two 5s of
55, waiting long enough for a desk (queue members that answer: Local channels), or past max_wait
(overflow to an agency that answers). At most --concurrency calls are on the line at once.

At the end the bench waits (with a deadline) until Asterisk has no channel, then counts in the
database: tickets for the placed callers (each Local caller has a number of its own, 08…; each
SIP phone's calls are counted per phone), tickets lost (a placed call without one), tickets stuck
(a status still live, or never ended). It prints those, the controller's and Asterisk's RSS and
open fds after the warm-up and at the end, wall time and throughput; it exits 1 if a ticket is
lost or stuck, or the fds or RSS grew past FD_GROWTH or RSS_GROWTH_PER_10K.

Run: `.venv/bin/python bench/soak.py [--calls 10000] [--concurrency 50] [--sip-share 0.02]
[--desks 4]` (needs the Asterisk root `make test` builds, or NGALAM_ASTERISK_ROOT).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import shutil
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from panoramisk import Manager  # noqa: E402

from bench.caller_path import BENCH_DIALPLAN, ROUTING, Bench, welcome_seconds  # noqa: E402
from bench.common import (  # noqa: E402
    BRIEF_AGENCY_DIALPLAN,
    add_bench_parts,
    ami_login,
    bench_config,
    brief_agency_routing,
    controller_running,
    cpu_seconds,
    originate_caller,
    process_figures,
    run_bounded,
    until_no_channels,
    until_settled,
)
from callcenter import config as config_mod  # noqa: E402
from callcenter.config import Config  # noqa: E402
from callcenter.telephony.asterisk import LocalAsterisk  # noqa: E402

BENCH_USER = "soak"
MAX_WAIT = 8  # seconds in the queue before a call overflows to its agency (bench config)
FD_GROWTH = 20  # open fds a process may gain over the run (sockets and files come and go)
# Memory a process may gain per 10 000 calls (caches warming up, the heap's high-water mark): more
# is a leak worth finding.
RSS_GROWTH_PER_10K = 64 * 1024  # kB, as /proc reports RSS
SIP_BASE = 9101  # the SIP callers are test callers 9101, 9102, …
SIP_PHONES_MAX = 4
KEY_SECONDS = 0.5  # a key's tone and the pause after it (SendDTMF below)


@dataclass(frozen=True)
class CallerPath:
    """What one caller does. Times are seconds after the welcome ends (the caller is in the
    queue from then); a negative `stay` hangs up during the welcome."""

    name: str
    keys: str = ""
    press_after: float = 1.0
    stay: float = 4.0


PATHS = (
    CallerPath("welcome-hangup", stay=-1.5),
    CallerPath("silent"),
    CallerPath("key-1", "1", stay=5),
    CallerPath("key-2", "2", stay=5),
    CallerPath("key-3", "3", stay=5),
    CallerPath("key-0", "0", stay=5),
    CallerPath("key-55", "55", stay=6),
    CallerPath("informasi-9", "9", stay=8),
    CallerPath("mid-key", "5", stay=1.5),  # gone as its key ends
    CallerPath("mid-55", "5", stay=2.0),  # gone between the two 5s of 55
    CallerPath("desk", stay=MAX_WAIT - 1),  # answered if a desk is free in time
    CallerPath("overflow", stay=MAX_WAIT + 8),  # an agency answers after max_wait
)

# The caller's half of each Local call: presses KEYS at PRESS_AT s after 112 answered (each tone
# 250 ms, as long between them), then stays REST s more, whatever happens meanwhile; no keys:
# stays REST s. (Asterisk's TIMEOUT() function is not among the modules the centre loads.)
SOAK_DIALPLAN = """
[bench-soak-caller]
exten => s,1,GotoIf($["${KEYS}" = ""]?stay)
 same => n,Wait(${PRESS_AT})
 same => n,SendDTMF(${KEYS},250,250)
 same => n(stay),Wait(${REST})
 same => n,Hangup()
"""


def sip_indexes(calls: int, share: float) -> set[int]:
    """The calls a SIP phone places: every (1/share)th."""
    every = round(1 / share) if share > 0 else 0
    return {i for i in range(calls) if every and i % every == every - 1}


def soak_config(directory: Path, sip_phones: int) -> Path:
    extra = "\n[queue]\nring_timeout = 5\nwrapup_time = 1\n"
    for n in range(sip_phones):
        extra += (
            f'\n[[test_callers]]\nextension = "{SIP_BASE + n}"\nname = "Soak {n}"\n'
            f'secret = "{secrets.token_urlsafe(16)}"\ndtmf_mode = "inband"\n'
        )
    routing = brief_agency_routing(ROUTING, MAX_WAIT)
    return bench_config(directory, "soak", 42000, extra=extra, routing=routing)


class Hangups:
    """Hangup events seen on the bench's AMI session, by unique id, to wait for a call's end."""

    def __init__(self, manager: Manager):
        self.ended: set[str] = set()
        self.waiting: dict[str, asyncio.Event] = {}
        manager.register_event("Hangup", self._on_hangup)

    def _on_hangup(self, _manager: Manager, event: dict[str, str]) -> None:
        uid = event.get("Uniqueid", "")
        if uid in self.waiting:
            self.waiting.pop(uid).set()
        else:
            self.ended.add(uid)

    async def wait(self, uid: str, timeout: float) -> bool:
        if uid in self.ended:
            self.ended.discard(uid)
            return True
        event = self.waiting.setdefault(uid, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            self.waiting.pop(uid, None)
            return False


@dataclass
class Tally:
    placed: collections.Counter[str]  # caller number → calls placed (answered by 112)
    by_path: collections.Counter[str]
    failed: collections.Counter[str]  # path → originates Asterisk refused / SIP dials that failed
    never_ended: int = 0  # placed calls whose hangup the bench did not see in time


class Soak:
    def __init__(self, config: Config, manager: Manager, welcome: float, args: argparse.Namespace):
        self.config = config
        self.manager = manager
        self.welcome = welcome
        self.hangups = Hangups(manager)
        self.slots = asyncio.Semaphore(args.concurrency)
        self.tally = Tally(collections.Counter(), collections.Counter(), collections.Counter())
        self.sip_indexes = sip_indexes(args.calls, args.sip_share)
        self.sip_phones = min(SIP_PHONES_MAX, len(self.sip_indexes))

    async def local_call(self, index: int) -> None:
        path = PATHS[index % len(PATHS)]
        number = f"08{7_000_000 + index}"
        press_at = self.welcome + path.press_after if path.keys else 0.0
        rest = max(0.0, self.welcome + path.stay - press_at - KEY_SECONDS * len(path.keys))
        variables = f"KEYS={path.keys},PRESS_AT={press_at:.2f},REST={rest:.2f}"
        how = {"Context": "bench-soak-caller", "Exten": "s", "Priority": "1"}
        reply = await originate_caller(self.manager, number, {**how, "Variable": variables})
        if reply.get("Response") != "Success":
            self.tally.failed[path.name] += 1
            return
        self.tally.placed[number] += 1
        self.tally.by_path[path.name] += 1
        if not await self.hangups.wait(reply.get("Uniqueid", ""), self.welcome + path.stay + 120):
            self.tally.never_ended += 1

    async def run(self, indexes: range, started: float | None = None) -> None:
        """Place the calls of `indexes`, at most --concurrency at once; with `started`, say how
        far it got every tenth of the way."""
        step = max(1, len(indexes) // 10)
        tasks = []
        for n, index in enumerate(indexes):
            if started is not None and n and n % step == 0:
                print(
                    f"  {index:6d} calls placed in {time.monotonic() - started:6.0f} s, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            if index in self.sip_indexes:
                continue
            await self.slots.acquire()
            task = asyncio.create_task(self.local_call(index))
            task.add_done_callback(lambda _t: self.slots.release())
            tasks.append(task)
        await asyncio.gather(*tasks)

    def sip_caller(self, extension: str, secret: str, indexes: list[int]) -> None:
        """One SIP phone placing its share of calls one after the other (pyVoIP is threaded)."""
        from pyVoIP.VoIP import CallState

        from tests.centre import SipPhone, hang_up, press

        sip = SipPhone(types.SimpleNamespace(config=self.config), extension, secret)  # type: ignore[arg-type]
        sip.register()
        try:
            for index in indexes:
                path = PATHS[index % len(PATHS)]
                try:
                    call = sip.dial("112")
                except AssertionError:
                    self.tally.failed[path.name + " (sip)"] += 1
                    continue
                answered = time.monotonic()
                self.tally.placed[extension] += 1
                self.tally.by_path[path.name + " (sip)"] += 1
                if path.keys:
                    time.sleep(
                        max(0.0, answered + self.welcome + path.press_after - time.monotonic())
                    )
                    for key in path.keys:
                        press(call, key)
                time.sleep(max(0.0, answered + self.welcome + path.stay - time.monotonic()))
                hang_up(call)
                deadline = time.monotonic() + 10
                while call.state != CallState.ENDED and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            sip.stop()

    async def sip_calls(self) -> None:
        ordered = sorted(self.sip_indexes)
        phones = {str(SIP_BASE + n): ordered[n :: self.sip_phones] for n in range(self.sip_phones)}
        secrets_of = {p.extension: p.secret for p in self.config.test_callers}
        await asyncio.gather(
            *(
                asyncio.to_thread(self.sip_caller, ext, secrets_of[ext], indexes)
                for ext, indexes in phones.items()
            )
        )


def _mb(kb: int) -> str:
    return f"{kb / 1024:7.1f} MB"


async def main(args: argparse.Namespace) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-soak-"))
    phones = min(SIP_PHONES_MAX, len(sip_indexes(args.calls, args.sip_share)))
    config_path = soak_config(directory, phones)
    config = config_mod.load(config_path)
    welcome = welcome_seconds(config)
    local = LocalAsterisk(config)
    await local.start()
    secret = secrets.token_urlsafe(16)
    add_bench_parts(
        local,
        BENCH_DIALPLAN + BRIEF_AGENCY_DIALPLAN + SOAK_DIALPLAN,
        BENCH_USER,
        secret,
        read="all",
        write="system,call,originate,agent",
        events="Hangup|OriginateResponse|QueueMemberAdded",
    )
    await local.cli("dialplan reload")
    await local.cli("manager reload")
    manager: Manager | None = None
    try:
        async with controller_running(config_path, config) as controller:
            manager = await ami_login(config, BENCH_USER, secret)
            await Bench(local, config, manager, 0).set_members(args.desks)
            soak = Soak(config, manager, welcome, args)
            assert local.process is not None
            pids = {"controller": controller.pid, "asterisk": local.process.pid}
            warm = min(args.calls, max(20, args.calls // 50))
            print(
                f"soak: {args.calls} calls, at most {args.concurrency} at once, "
                f"{len(soak.sip_indexes)} through {soak.sip_phones} SIP phones, "
                f"{args.desks} desks, max_wait {MAX_WAIT} s, welcome {welcome:.1f} s",
                flush=True,
            )
            sip = asyncio.create_task(soak.sip_calls())
            await soak.run(range(warm))
            before = {name: process_figures(pid) for name, pid in pids.items()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.monotonic()
            await soak.run(range(warm, args.calls), started)
            await sip
            wall = time.monotonic() - started
            left = await until_no_channels(manager, 120)
            count = await until_settled(config, soak.tally.placed, 60)
            after = {name: process_figures(pid) for name, pid in pids.items()}
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        log = (directory / "controller.log").read_text(errors="replace")
    finally:
        if manager is not None:
            manager.close()
        await local.stop()
    tally = soak.tally
    measured = tally.placed.total() - warm
    print(f"\n{'calls placed':28s} {count.placed:7d}  (after warm-up: {measured})")
    print(
        f"{'  originates/dials failed':28s} {sum(tally.failed.values()):7d}  {dict(tally.failed)}"
    )
    print(f"{'  hangup not seen in time':28s} {tally.never_ended:7d}")
    for name, n in sorted(tally.by_path.items()):
        print(f"    {name:24s} {n:7d}")
    print(
        f"{'tickets':28s} {count.tickets:7d}  {dict(count.statuses)}, overflowed {count.overflowed}"
    )
    print(f"{'tickets lost (must be 0)':28s} {len(count.lost):7d}  {count.lost[:10]}")
    print(f"{'tickets stuck (must be 0)':28s} {len(count.stuck):7d}  ids {count.stuck[:10]}")
    print(f"{'channels left at the end':28s} {left:7d}")
    grown = []
    for name in pids:
        (rss0, fd0), (rss1, fd1) = before[name], after[name]
        rss_bound = RSS_GROWTH_PER_10K * max(1.0, measured / 10_000)
        print(f"{name + ' RSS':28s} {_mb(rss0)} → {_mb(rss1)}  (bound +{_mb(int(rss_bound))})")
        print(f"{name + ' fds':28s} {fd0:7d} → {fd1:d}  (bound +{FD_GROWTH})")
        print(f"{name + ' CPU':28s} {cpu[name]:7.1f} s")
        if fd1 - fd0 > FD_GROWTH or rss1 - rss0 > rss_bound:
            grown.append(name)
    print(f"{'wall (after warm-up)':28s} {wall:7.0f} s")
    print(f"{'throughput':28s} {measured / wall:7.2f} calls/s")
    print(
        f"controller log: {log.count('Traceback')} tracebacks, {log.count(' ERROR ')} errors, "
        f"{log.count(' WARNING ')} warnings; logs: {directory}"
    )
    # The recordings are silence; at 16 kB/s they would fill the disk over a few runs.
    shutil.rmtree(local.paths.recordings, ignore_errors=True)
    failed = bool(count.lost or count.stuck or grown)
    print("FAIL" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=50, help="calls on the line at most")
    parser.add_argument("--sip-share", type=float, default=0.02, help="fraction via SIP phones")
    parser.add_argument("--desks", type=int, default=4, help="queue members that answer")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="seconds for the run")
    args = parser.parse_args()
    sys.exit(run_bounded("soak", main(args), args.timeout))
