"""Screen-pop delay: from Asterisk's AgentConnect to the ticket on the call-taker's console.

A real Asterisk and the real controller; one call-taker desk (a real SIP phone that answers) logged
in through the API, its console's WebSocket open; 112 calls placed one after another by Asterisk
itself (a Local channel that presses 1 during the welcome). For each call this measures the time
from the AgentConnect event's own timestamp (Asterisk's clock, `timestampevents`; the same host
clock the bench reads) to the `screen-pop` message carrying the ticket arriving on the console.

It runs with 1 console connected, then with 100 (99 more consoles, supervisors', which receive
every ticket and desk change too, so the fan-out is real), and prints p50/p95 for both and their
ratio. Target (issue 5): p95 under 100 ms. Run:
`.venv/bin/python bench/screen_pop.py [--calls 20] [--consoles 1 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from panoramisk import Manager  # noqa: E402

from bench.common import (  # noqa: E402
    add_bench_parts,
    ami_login,
    bench_config,
    controller_running,
    cpu_seconds,
    create_user,
    login,
    percentile,
)
from callcenter import config as config_mod  # noqa: E402
from callcenter.telephony.asterisk import LocalAsterisk  # noqa: E402
from tests.centre import SipPhone  # noqa: E402

BENCH_USER = "bench"
# The far half of each call: press 1 during the welcome, stay long enough to be answered.
CALLER_DIALPLAN = """
[bench-caller]
exten => s,1,Wait(0.5)
 same => n,SendDTMF(1)
 same => n,Wait(STAY)
 same => n,Hangup()
"""
STAY = 10  # the IVR takes ~6 s (welcome interrupted, "connecting you"); then a few s talking


class Measure:
    """AgentConnect moments (Asterisk's clock) and screen-pop arrivals (ours), by call."""

    def __init__(self) -> None:
        self.connected: dict[str, float] = {}
        self.popped: dict[str, float] = {}
        self.ended: set[str] = set()
        self.fanned_out = 0

    def on_ami(self, _manager: Manager, event: Any) -> None:
        if event.get("Event") == "AgentConnect":
            self.connected[event.get("Uniqueid", "")] = float(event.get("Timestamp", "nan"))
        elif event.get("Event") == "Hangup":
            self.ended.add(event.get("Uniqueid", ""))

    def delays_ms(self, calls: list[str]) -> list[float]:
        return [
            (self.popped[c] - self.connected[c]) * 1000
            for c in calls
            if c in self.popped and c in self.connected
        ]


async def watch(ws: aiohttp.ClientWebSocketResponse, measure: Measure, measured: bool) -> None:
    async for message in ws:
        arrived = time.time()
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        data = message.json()
        measure.fanned_out += 1
        if measured and data["type"] == "screen-pop" and data["stage"] == "answered":
            measure.popped.setdefault(data["unique_id"], arrived)


async def run_round(
    http: aiohttp.ClientSession,
    ami: Manager,
    base: str,
    tokens: dict[str, str],
    consoles: int,
    calls: int,
    controller_pid: int,
) -> dict[str, float]:
    measure = Measure()
    ami.register_event("*", measure.on_ami)
    sockets = [
        await http.ws_connect(
            f"{base.replace('http', 'ws')}/ws/live",
            headers={"Authorization": f"Bearer {tokens['bench' if i == 0 else 'board']}"},
        )
        for i in range(consoles)
    ]
    readers = [asyncio.create_task(watch(ws, measure, i == 0)) for i, ws in enumerate(sockets)]
    cpu_before = cpu_seconds(controller_pid)
    placed: list[str] = []
    try:
        for n in range(calls):
            answered = len(measure.connected)
            reply = await ami.send_action(
                {
                    "Action": "Originate",
                    "Channel": "Local/112@public",
                    "Context": "bench-caller",
                    "Exten": "s",
                    "Priority": "1",
                    "CallerID": f'"Bench" <97{n:04d}>',
                    "Async": "true",
                    "Timeout": "30000",
                },
                as_list=False,
            )
            if not reply.success:
                raise RuntimeError(f"Asterisk refused the call: {reply}")
            # One call at a time: the next AgentConnect is this call's (its Uniqueid is the
            # caller's channel, the one the screen-pop names); then wait for it to hang up.
            deadline = time.monotonic() + STAY + 30
            while len(measure.connected) == answered and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if len(measure.connected) == answered:
                raise RuntimeError(f"call {n} was never answered; see the controller's log")
            unique_id = list(measure.connected)[-1]
            placed.append(unique_id)
            while unique_id not in measure.ended and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the desk's phone hangs up too
    finally:
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()
        ami.callbacks["*"].remove(measure.on_ami)
    delays = measure.delays_ms(placed)
    return {
        "p50": statistics.median(delays) if delays else float("nan"),
        "p95": percentile(delays, 95),
        "max": max(delays) if delays else float("nan"),
        "measured": len(delays),
        "messages": measure.fanned_out,
        "cpu_ms": (cpu_seconds(controller_pid) - cpu_before) * 1000 / calls,
    }


async def main(calls: int, console_counts: list[int]) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-pop-"))
    config_path = bench_config(directory, "pop", 31000, "\n[queue]\nwrapup_time = 0\n")
    config = config_mod.load(config_path)
    local = LocalAsterisk(config)
    await local.start()
    secret = secrets.token_urlsafe(16)
    add_bench_parts(
        local,
        CALLER_DIALPLAN.replace("STAY", str(STAY)),
        BENCH_USER,
        secret,
        read="agent,call",
        write="originate,call",
        events="AgentConnect|Hangup",
    )
    await local.cli("dialplan reload")
    await local.cli("manager reload")
    passwords = {
        "bench": create_user(config_path, "petugas", "call-taker"),
        "board": create_user(config_path, "penyelia", "supervisor"),
    }
    base = f"http://127.0.0.1:{config.controller.http_port}"
    desk = SipPhone(
        types.SimpleNamespace(config=config), "2001", config.calltakers[0].secret, answer=True
    )  # type: ignore[arg-type]
    ami: Manager | None = None
    try:
        async with (
            controller_running(config_path, config) as controller,
            aiohttp.ClientSession() as http,
        ):
            desk.register()
            ami = await ami_login(config, BENCH_USER, secret)
            tokens = {
                "bench": await login(http, base, "petugas", passwords["bench"]),
                "board": await login(http, base, "penyelia", passwords["board"]),
            }
            async with http.post(
                f"{base}/api/agents/2001/state",
                json={"state": "available"},
                headers={"Authorization": f"Bearer {tokens['bench']}"},
            ) as r:
                r.raise_for_status()
            await asyncio.sleep(1)
            results = {}
            for consoles in console_counts:
                results[consoles] = await run_round(
                    http, ami, base, tokens, consoles, calls, controller.pid
                )
                r = results[consoles]
                print(
                    f"{consoles:4d} consoles: AgentConnect → screen-pop p50 {r['p50']:6.1f} ms, "
                    f"p95 {r['p95']:6.1f} ms, max {r['max']:6.1f} ms ({int(r['measured'])}/{calls} "
                    f"calls), {int(r['messages'])} live messages delivered, controller CPU "
                    f"{r['cpu_ms']:.0f} ms per call",
                    flush=True,
                )
        first, last = results[console_counts[0]], results[console_counts[-1]]
        print(
            f"\np95 with {console_counts[-1]} consoles against {console_counts[0]}: "
            f"{last['p95'] / first['p95']:.2f}x (target: p95 under 100 ms)"
        )
        print(f"logs: {directory}")
        return 0
    finally:
        if ami is not None:
            ami.close()
        desk.stop()
        await local.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--consoles", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.calls, args.consoles)))
