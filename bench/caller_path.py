"""Time to a human: seconds from a 112 caller dialling to a call-taker's phone ringing.

For 1, 20 and 100 simultaneous callers (Asterisk-placed Local calls into the public 112 extension,
whatever dialplan and IVR the centre runs now) this prints, per kind of caller, p50/p95/max seconds
from dial to the queue ringing a call-taker for that caller, and the callers it never rang (lost):

- silent: presses nothing (sends silence, as a phone on a quiet line does);
- key-1: presses 1 (police) 2 s after the call is answered;
- key-0: presses 0 (a person) 2 s after the call is answered.

"Dial" is the Newchannel of the caller's 112 channel; "ringing" is the queue's AgentCalled for that
caller (both Asterisk's own event timestamps). The call-takers are queue members the bench adds with
AMI QueueAdd (`Local/<n>@bench-calltaker`, answering after 1 s), one per caller, so no caller waits
for a busy desk: the figures are the caller path, not the staffing.

Then, with nobody in the queue (overflow), the same table for dial → the agency being dialled (the
caller's DialBegin towards an agency target; agencies are `Local/70xx@bench-agency`, answering after
1 s), for silent callers (the default agency, 7001) and callers pressing 2 (ambulance: PMI, 7002).

Target (issue 13): p95 ≤ welcome length (measured from the welcome WAV) + 1 s for every kind.
Run: `.venv/bin/python bench/caller_path.py [--calls 1 20 100] [--overflow-calls 1 20]
[--kinds silent key-1 key-0]` (needs the Asterisk root `make test` builds, or
NGALAM_ASTERISK_ROOT). Each round ends once every caller rang (or after --round-timeout s); the
bench then hangs up every Local channel and waits for Asterisk to be empty before the next.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import secrets
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from panoramisk import Manager  # noqa: E402

from bench.common import (  # noqa: E402
    add_bench_parts,
    ami_login,
    bench_config,
    controller_running,
    percentile,
    run_bounded,
)
from callcenter import config as config_mod  # noqa: E402
from callcenter.config import Config  # noqa: E402
from callcenter.telephony import dialplan  # noqa: E402
from callcenter.telephony.asterisk import LocalAsterisk, prompts_source  # noqa: E402

BENCH_USER = "callerpath"
PRESS_AT = 2  # seconds after the call is answered, for callers who press a key
SILENCE_CHUNK = 10  # seconds of silence per Playback while a caller stays on the line
MAX_CHUNKS = 60  # a caller the bench forgot hangs up by itself after 10 minutes
MEMBER_BASE = 5000  # call-takers are Local/5000@bench-calltaker, 5001, …

# Kinds of caller: the keys they press PRESS_AT s after the answer ("" = none).
QUEUE_KINDS = {"silent": "", "key-1": "1", "key-0": "0"}
OVERFLOW_KINDS = {"silent": "", "key-2": "2"}

# The product's routing as shipped (callcenter.example.toml): max wait, default agency; agencies
# that answer (Local channels), every emergency category routed.
ROUTING = """
[ivr]
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "electricity", "public-order", "fire"]
primary = "Local/7001@bench-agency"
ring_timeout = 20

[[agencies]]
id = "pmi"
name = "PMI Kota Malang"
categories = ["ambulance"]
primary = "Local/7002@bench-agency"
ring_timeout = 20
"""

# The caller's half of each Local call sends silence (as a SIP phone's caller who says nothing
# would), presses KEYS after PRESS_AT s, and stays. Call-takers and agencies answer after 1 s.
BENCH_DIALPLAN = f"""
[bench-caller]
exten => s,1,Set(i=0)
 same => n,GotoIf($["${{KEYS}}" = ""]?stay)
 same => n,Playback(${{NGALAM_PROMPTS}}/bench/silence-{PRESS_AT})
 same => n,SendDTMF(${{KEYS}})
 same => n(stay),Playback(${{NGALAM_PROMPTS}}/bench/silence-{SILENCE_CHUNK})
 same => n,Set(i=$[${{i}} + 1])
 same => n,GotoIf($[${{i}} < {MAX_CHUNKS}]?stay)
 same => n,Hangup()

[bench-calltaker]
exten => _X.,1,Wait(1)
 same => n,Answer()
 same => n,Wait(600)
 same => n,Hangup()

[bench-agency]
exten => _X.,1,Wait(1)
 same => n,Answer()
 same => n,Wait(600)
 same => n,Hangup()
"""

CALLER_CHANNEL = f"Local/{dialplan.EMERGENCY_EXTEN}@{dialplan.PUBLIC_CONTEXT}"
AGENCY_MARK = "@bench-agency"


def welcome_seconds(config: Config) -> float:
    with wave.open(str(prompts_source(config) / "id" / "welcome.wav")) as w:
        return float(w.getnframes() / w.getframerate())


def write_silence(directory: Path, seconds: int) -> None:
    """8 kHz 16-bit mono silence, as format_wav plays it."""
    directory.mkdir(parents=True, exist_ok=True)
    with wave.open(str(directory / f"silence-{seconds}.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * seconds)


@dataclass
class Round:
    """One batch of simultaneous callers of one kind; `measure` is "ring" or "agency"."""

    kind: str
    calls: int
    measure: str
    created: dict[str, float] = field(default_factory=dict)  # caller unique id → Newchannel
    queued: dict[str, float] = field(default_factory=dict)  # → QueueCallerJoin
    reached: dict[str, float] = field(default_factory=dict)  # → AgentCalled / agency DialBegin
    targets: collections.Counter[str] = field(default_factory=collections.Counter)
    overflowed: int = 0  # queue rounds: callers who went to an agency instead
    failed_originates: int = 0

    def on_event(self, event: dict[str, str]) -> None:
        kind = event.get("Event")
        uid = event.get("Uniqueid", "")
        stamp = float(event.get("Timestamp", "0") or 0) or time.time()
        if kind == "Newchannel":
            channel = event.get("Channel", "")
            if channel.startswith(CALLER_CHANNEL + "-") and channel.endswith(";2"):
                self.created[uid] = stamp
        elif kind == "OriginateResponse":
            if event.get("Response") != "Success":
                self.failed_originates += 1
        elif uid not in self.created:
            return
        elif kind == "QueueCallerJoin":
            self.queued.setdefault(uid, stamp)
        elif kind == "AgentCalled" and self.measure == "ring":
            self.reached.setdefault(uid, stamp)
        elif kind == "DialBegin" and AGENCY_MARK in event.get("DialString", ""):
            if self.measure == "agency":
                if uid not in self.reached:
                    self.reached[uid] = stamp
                    self.targets[event["DialString"]] += 1
            else:
                self.overflowed += 1

    def done(self) -> bool:
        return len(self.reached) >= self.calls

    def delays(self, marks: dict[str, float]) -> list[float]:
        return [marks[u] - self.created[u] for u in marks if u in self.created]


class Bench:
    def __init__(self, local: LocalAsterisk, config: Config, manager: Manager, timeout: float):
        self.local = local
        self.config = config
        self.manager = manager
        self.round_timeout = timeout
        self.current: Round | None = None
        self.members: list[str] = []
        self.next_number = 810000
        manager.register_event("*", self._event)

    def _event(self, _manager: Manager, event: dict[str, str]) -> None:
        if self.current is not None:
            self.current.on_event(dict(event))

    async def _action(self, action: dict[str, str]) -> dict[str, str]:
        reply = await self.manager.send_action(action, as_list=False)
        return dict(reply)

    async def set_members(self, count: int) -> None:
        """Exactly `count` bench call-takers in the queue (AMI QueueAdd / QueueRemove)."""
        queue = self.config.queue.name
        while len(self.members) < count:
            interface = f"Local/{MEMBER_BASE + len(self.members)}@bench-calltaker"
            reply = await self._action(
                {
                    "Action": "QueueAdd",
                    "Queue": queue,
                    "Interface": interface,
                    "MemberName": f"bench {len(self.members)}",
                    "Penalty": "0",
                    "Paused": "false",
                }
            )
            if reply.get("Response") != "Success":
                raise RuntimeError(f"QueueAdd {interface}: {reply}")
            self.members.append(interface)
        while len(self.members) > count:
            interface = self.members.pop()
            await self._action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})

    async def run(self, kind: str, keys: str, calls: int, measure: str) -> Round:
        self.current = current = Round(kind, calls, measure)
        for _ in range(calls):
            self.next_number += 1
            await self._action(
                {
                    "Action": "Originate",
                    "Channel": CALLER_CHANNEL,
                    "Context": "bench-caller",
                    "Exten": "s",
                    "Priority": "1",
                    "Variable": f"KEYS={keys}",
                    "CallerID": f'"Bench" <0{self.next_number}>',
                    "Async": "true",
                    "Timeout": "30000",
                }
            )
        deadline = time.monotonic() + self.round_timeout
        while not current.done() and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(0.2)
        self.current = None
        await self.hang_up_all()
        return current

    async def hang_up_all(self) -> int:
        """Hang up every Local channel (callers, call-takers, agencies); wait until Asterisk has
        none left (at most 30 s), and until the call-takers' wrap-up is over. Channels left."""
        await self._action({"Action": "Hangup", "Channel": "/^Local/", "Cause": "16"})
        left = -1
        for _ in range(150):
            reply = await self.manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
            left = sum(1 for m in reply if m.get("Event") == "CoreShowChannel")
            if left == 0:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(self.config.queue.wrapup_time + 1)
        return left


def _row(r: Round, target: float) -> str:
    delays = r.delays(r.reached)
    queued = r.delays(r.queued)
    p95 = percentile(delays, 95)
    lost = r.calls - len(delays)
    verdict = "ok" if delays and lost == 0 and p95 <= target else "over"
    extra = ""
    if r.measure == "agency":
        extra = "  " + ", ".join(f"{t.split('@')[0]}×{n}" for t, n in sorted(r.targets.items()))
    else:
        extra = f"  {statistics.median(queued):8.1f}" if queued else f"  {'-':>8s}"
        if r.overflowed:
            extra += f"  (overflowed {r.overflowed})"
    if r.failed_originates:
        extra += f"  originate failures {r.failed_originates}"
    return (
        f"{r.kind:8s} {r.calls:5d}  {statistics.median(delays) if delays else float('nan'):6.1f}"
        f"  {p95:6.1f}  {max(delays) if delays else float('nan'):6.1f}  {lost:4d}  {verdict:4s}"
        + extra
    )


async def main(args: argparse.Namespace) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-callerpath-"))
    config_path = bench_config(directory, "callerpath", 40000, routing=ROUTING)
    config = config_mod.load(config_path)
    welcome = welcome_seconds(config)
    target = welcome + 1
    local = LocalAsterisk(config)
    await local.start()
    for seconds in (PRESS_AT, SILENCE_CHUNK):
        write_silence(local.paths.prompts / "bench", seconds)
    secret = secrets.token_urlsafe(16)
    add_bench_parts(
        local,
        BENCH_DIALPLAN,
        BENCH_USER,
        secret,
        read="all",
        write="system,call,originate,agent",
        events="Newchannel|AgentCalled|DialBegin|QueueCallerJoin|OriginateResponse",
    )
    await local.cli("dialplan reload")
    await local.cli("manager reload")
    manager: Manager | None = None
    try:
        async with controller_running(config_path, config):
            manager = await ami_login(config, BENCH_USER, secret)
            bench = Bench(local, config, manager, args.round_timeout)
            header = "kind     calls   p50 s   p95 s   max s  lost  p95≤target"
            print(f"welcome {welcome:.1f} s → target p95 ≤ {target:.1f} s\n")
            print("dial → the queue rings a call-taker (AgentCalled), a free call-taker per caller")
            print(header + "  queued p50 s", flush=True)
            for calls in args.calls:
                await bench.set_members(calls)
                for kind in args.kinds:
                    r = await bench.run(kind, QUEUE_KINDS[kind], calls, "ring")
                    print(_row(r, target), flush=True)
            if args.overflow_calls:
                await bench.set_members(0)
                print("\noverflow (nobody in the queue): dial → the agency is dialled (DialBegin)")
                print(header + "  agency dialled", flush=True)
                for calls in args.overflow_calls:
                    for kind, keys in OVERFLOW_KINDS.items():
                        r = await bench.run(kind, keys, calls, "agency")
                        print(_row(r, target), flush=True)
        log = (directory / "controller.log").read_text(errors="replace")
        print(
            f"\ncontroller log: {log.count('Traceback')} tracebacks, "
            f"{log.count(' ERROR ')} errors, {log.count(' WARNING ')} warnings"
        )
        print(f"logs: {directory}")
        return 0
    finally:
        if manager is not None:
            manager.close()
        await local.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--overflow-calls", type=int, nargs="*", default=[1, 20])
    parser.add_argument("--kinds", nargs="+", choices=list(QUEUE_KINDS), default=list(QUEUE_KINDS))
    parser.add_argument("--round-timeout", type=float, default=180.0, help="seconds per round")
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds for the whole run")
    args = parser.parse_args()
    sys.exit(run_bounded("caller_path", main(args), args.timeout))
