"""N simultaneous 112 calls into the real Asterisk: how soon the caller hears us, and what it costs.

For 1, 50 and 200 concurrent calls (Local channels; the far half presses 1 during the menu and hangs
up after 14 s) this prints, for our IVR (the dialplan plays the welcome, then FastAGI runs the menu)
and for the same menu written in pure dialplan, measured in the same run against the same Asterisk
from Asterisk's own event timestamps:

- answer → first prompt, p50/p95: from the step after Answer() to the first prompt starting
  (Newexten of Read/BackGround, or AGIExecStart of STREAM FILE/GET DATA). Answer() itself is left
  out: on a Local channel it waits 500 ms for a first media frame that never comes (a SIP caller's
  first RTP frame ends that wait within ~20 ms);
- welcome → menu, p50/p95: from the welcome ending to the menu prompt starting, the silence while
  the controller takes over (0 by construction in pure dialplan);
- errors (calls that never reached both prompts) and lost tickets (our calls without a ticket
  that says `police` once the calls are over);
- CPU per call of the controller and of Asterisk (from /proc, over the whole round; our calls go
  on to the queue and an overflow attempt, the dialplan baseline just waits).

Target (issue 3): p95 within 20 ms of pure dialplan; 200 calls with no errors and no lost tickets.
Run: `.venv/bin/python bench/ivr.py [--calls 1 50 200]` (BENCH_PROFILE=FILE: cProfile the
controller).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
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
    cpu_seconds,
    percentile,
)
from callcenter import config as config_mod  # noqa: E402
from callcenter.telephony.asterisk import LocalAsterisk  # noqa: E402

# The far half presses 1 at PRESS_AT s (during the menu: the welcome is 7.1 s) and hangs up at
# CALL_SECONDS.
PRESS_AT = 9
CALL_SECONDS = 14
BENCH_USER = "bench"

# The baseline: the same start as [public] (language, answer, recording), then the same menu with
# barge-in, in dialplan. The far half of each Local call runs [bench-caller].
BENCH_DIALPLAN = """
[bench-dialplan]
exten => 112,1,NoOp(bench ${UNIQUEID})
 same => n,Set(CHANNEL(language)=id)
 same => n,Answer()
 same => n,Set(NGALAM_RECORDING=${NGALAM_RECORDINGS}/${UNIQUEID}.wav)
 same => n,MixMonitor(${NGALAM_RECORDING})
 same => n,Set(NGALAM_OVERFLOW=yes)
 same => n,Set(NGALAM_MAX_WAIT=)
 same => n,Background(${NGALAM_PROMPTS}/id/welcome)
 same => n,Background(${NGALAM_PROMPTS}/id/menu)
 same => n,WaitExten(5)
exten => 1,1,Set(CDR(userfield)=police)
 same => n,Wait(30)

[bench-caller]
exten => s,1,Wait(PRESS_AT)
 same => n,SendDTMF(1)
 same => n,Wait(CALLER_WAIT)
 same => n,Hangup()
""".replace("PRESS_AT", str(PRESS_AT)).replace("CALLER_WAIT", str(CALL_SECONDS - PRESS_AT))

PROMPT_COMMANDS = ("STREAM FILE", "GET DATA")
PROMPT_APPS = ("background", "playback", "read")  # Asterisk spells it BackGround


@dataclass
class Leg:
    # (timestamp, "step" for a dialplan step, "prompt" when a prompt starts), from Answer() on.
    marks: list[tuple[float, str]] = field(default_factory=list)
    answering: bool = False
    hung_up: bool = False

    def _first(self, kind: str, after: float = 0.0) -> float | None:
        return next((t for t, k in self.marks if k == kind and t > after), None)

    def answer_to_first_prompt(self) -> float | None:
        """From Answer() returning (the first step after it) to the first prompt starting."""
        answered = self._first("step")
        prompt = self._first("prompt")
        return None if answered is None or prompt is None else prompt - answered

    def welcome_to_menu(self) -> float | None:
        """From the welcome ending (the next dialplan step starts) to the menu prompt starting: the
        silence a caller hears while the IVR takes over."""
        prompts = [t for t, k in self.marks if k == "prompt"]
        if len(prompts) < 2:
            return None
        welcome_end = next(t for t, k in self.marks if k == "step" and t > prompts[0])
        return prompts[1] - min(welcome_end, prompts[1])


@dataclass
class Round:
    variant: str
    calls: int
    legs: dict[str, Leg] = field(default_factory=dict)
    failed_originates: int = 0

    def on_event(self, event: dict[str, str]) -> None:
        channel = event.get("Channel", "")
        if not channel.endswith(";2"):
            if event.get("Event") == "OriginateResponse" and event.get("Response") != "Success":
                self.failed_originates += 1
            return
        leg = self.legs.setdefault(channel, Leg())
        stamp = float(event.get("Timestamp", "0") or 0)
        kind = event.get("Event")
        if kind == "Newexten":
            app = event.get("Application", "")
            if app == "Answer":
                leg.answering = True
            elif leg.answering:
                leg.marks.append((stamp, "step"))
                if app.lower() in PROMPT_APPS:
                    leg.marks.append((stamp, "prompt"))
        elif kind == "AGIExecStart" and event.get("Command", "").startswith(PROMPT_COMMANDS):
            leg.marks.append((stamp, "prompt"))
        elif kind == "Hangup":
            leg.hung_up = True

    def delays_ms(self, measure: str) -> list[float]:
        values = (getattr(leg, measure)() for leg in self.legs.values())
        return [v * 1000 for v in values if v is not None]

    def done(self) -> bool:
        return len(self.legs) >= self.calls and all(leg.hung_up for leg in self.legs.values())


class Bench:
    def __init__(self, local: LocalAsterisk, controller_pid: int, db: Path, manager: Manager):
        self.local = local
        self.controller_pid = controller_pid
        self.db = db
        self.current: Round | None = None
        self.manager = manager
        self.manager.register_event("*", self._event)

    def _event(self, _manager: Manager, event: dict[str, str]) -> None:
        if self.current is not None:
            self.current.on_event(dict(event))

    async def run(self, variant: str, calls: int, caller_base: int) -> dict[str, float]:
        context = "public" if variant == "fastagi" else "bench-dialplan"
        numbers = [str(caller_base + i) for i in range(calls)]
        self.current = Round(variant, calls)
        assert self.local.process is not None
        cpu_before = (cpu_seconds(self.controller_pid), cpu_seconds(self.local.process.pid))
        for number in numbers:
            await self.manager.send_action(
                {
                    "Action": "Originate",
                    "Channel": f"Local/112@{context}",
                    "Context": "bench-caller",
                    "Exten": "s",
                    "Priority": "1",
                    "CallerID": f'"Bench" <{number}>',
                    "Async": "true",
                    "Timeout": "30000",
                },
                as_list=False,
            )
        deadline = time.monotonic() + CALL_SECONDS + 60
        while not self.current.done() and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(0.2)
        lost = await self._lost_tickets(numbers) if variant == "fastagi" else 0
        cpu_after = (cpu_seconds(self.controller_pid), cpu_seconds(self.local.process.pid))
        delays = self.current.delays_ms("answer_to_first_prompt")
        gaps = self.current.delays_ms("welcome_to_menu")
        errors = calls - min(len(delays), len(gaps)) + self.current.failed_originates
        self.current = None
        return {
            "p50": statistics.median(delays) if delays else float("nan"),
            "p95": percentile(delays, 95),
            "gap50": statistics.median(gaps) if gaps else float("nan"),
            "gap95": percentile(gaps, 95),
            "errors": errors,
            "lost": lost,
            "controller_cpu_ms": (cpu_after[0] - cpu_before[0]) * 1000 / calls,
            "asterisk_cpu_ms": (cpu_after[1] - cpu_before[1]) * 1000 / calls,
        }

    async def _lost_tickets(self, numbers: list[str]) -> int:
        """Tickets are written when the IVR ends; give the controller a few seconds after the
        hang-ups, then count the calls without a `police` ticket."""
        missing = len(numbers)
        for _ in range(50):
            with sqlite3.connect(self.db) as db:
                marks = ",".join("?" * len(numbers))
                found = db.execute(
                    f"SELECT count(DISTINCT caller_number) FROM tickets "  # noqa: S608 - placeholders
                    f"WHERE category = 'police' AND caller_number IN ({marks})",
                    numbers,
                ).fetchone()[0]
            missing = len(numbers) - found
            if missing == 0:
                break
            await asyncio.sleep(0.2)
        return missing


def _ratio(ours: float, base: float) -> str:
    # Sub-millisecond baselines make ratios meaningless noise; say so instead of printing 40x.
    return f"{ours / base:9.2f}" if base >= 1.0 else "  (<1 ms)"


async def main(call_counts: list[int]) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-bench-"))
    config_path = bench_config(directory, "bench", 30000)
    config = config_mod.load(config_path)
    local = LocalAsterisk(config)
    await local.start()
    bench_secret = secrets.token_urlsafe(16)
    add_bench_parts(
        local,
        BENCH_DIALPLAN,
        BENCH_USER,
        bench_secret,
        read="all",
        write="system,call,originate",
        events="Newexten|AGIExecStart|Hangup|OriginateResponse",
    )
    print((await local.cli("dialplan reload")).strip())
    print((await local.cli("manager reload")).strip() or "manager reloaded")
    bench: Bench | None = None
    try:
        async with controller_running(config_path, config) as controller:
            manager = await ami_login(config, BENCH_USER, bench_secret)
            bench = Bench(local, controller.pid, directory / "tickets.db", manager)
            rows = []
            for n, calls in enumerate(call_counts):
                for variant in ("dialplan", "fastagi"):
                    result = await bench.run(variant, calls, caller_base=800000 + n * 10000)
                    rows.append((calls, variant, result))
                    print(_row(calls, variant, result), flush=True)
                    await asyncio.sleep(2)
        print()
        print("answer→first prompt, FastAGI IVR against pure dialplan (target: p95 within 20 ms)")
        print("calls  p95 difference  p95 ratio  welcome→menu p95 difference")
        for calls in call_counts:
            base = next(r for c, v, r in rows if c == calls and v == "dialplan")
            ours = next(r for c, v, r in rows if c == calls and v == "fastagi")
            print(
                f"{calls:5d}  {ours['p95'] - base['p95']:10.1f} ms  {_ratio(ours['p95'], base['p95'])}"
                f"  {ours['gap95'] - base['gap95']:22.1f} ms"
            )
        print(f"\nlogs: {directory}")
        return 0
    finally:
        if bench is not None:
            bench.manager.close()
        await local.stop()


def _row(calls: int, variant: str, r: dict[str, float]) -> str:
    return (
        f"{calls:5d}  {variant:8s}  answer→first prompt p50 {r['p50']:6.1f} p95 {r['p95']:6.1f} ms  "
        f"welcome→menu p50 {r['gap50']:6.1f} p95 {r['gap95']:6.1f} ms  "
        f"errors {int(r['errors'])}  lost tickets {int(r['lost'])}  "
        f"CPU/call: controller {r['controller_cpu_ms']:6.2f} ms, "
        f"Asterisk {r['asterisk_cpu_ms']:6.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 50, 200])
    sys.exit(asyncio.run(main(parser.parse_args().calls)))
