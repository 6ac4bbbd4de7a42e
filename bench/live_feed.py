"""The live feed's own cost: controller CPU per message delivered to a console.

The real /ws/live handler, bus and session repository on a loopback server; N consoles (aiohttp
clients, in a separate process so their CPU is not counted) each receive M ticket changes of a
realistic size. Baseline, in the same run: the least a WebSocket fan-out can cost in aiohttp, a
handler that only takes pre-encoded text off its own queue and sends it. Both run with and without
permessage-deflate (browsers ask for it; aiohttp grants it by default). It prints CPU µs per
message for each, and the ratio of ours to the baseline. Run:
`.venv/bin/python bench/live_feed.py [--consoles 100] [--events 300]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from callcenter.live.bus import Bus  # noqa: E402
from callcenter.live.messages import TicketChanged  # noqa: E402
from callcenter.web import live  # noqa: E402
from callcenter.web.access import Role  # noqa: E402
from callcenter.web.auth import ACCOUNTS_KEY, hash_password, login  # noqa: E402
from callcenter.web.services import SERVICES  # noqa: E402
from tests.records import sqlite_records  # noqa: E402
from tests.unit.fakes import routing_config  # noqa: E402

# A queued ticket as the lists show it, with a filled-in form: about what a busy feed carries.
TICKET = {
    "id": 4182,
    "status": "queued",
    "category": "ambulance",
    "priority": 2,
    "flags": ["silent-but-present"],
    "caller_number": "081234567890",
    "caller_name": "Penelepon",
    "arrived_at": "2026-11-26T20:01:02.123456+00:00",
    "queued_at": "2026-11-26T20:01:09.654321+00:00",
    "answered_at": None,
    "ended_at": None,
    "what": "Pengendara motor jatuh, kaki berdarah, masih sadar",
    "kecamatan": "Lowokwaru",
    "kelurahan": "Dinoyo",
    "address": "Jl. MT Haryono 150",
    "landmark": "depan minimarket, seberang kampus",
    "who": "Penelepon saksi, korban laki-laki sekitar 30 tahun",
    "agency": None,
    "outcome": None,
    "transcript": "ada kecelakaan di depan kampus motor jatuh " * 4,
}


async def floor_handler(request: web.Request) -> web.StreamResponse:
    """The baseline: a queue of ready text per socket, sent as it comes."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    queue: asyncio.Queue[str] = asyncio.Queue()
    request.app[FLOOR].add(queue)
    try:
        while True:
            await ws.send_str(await queue.get())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        request.app[FLOOR].discard(queue)
    return ws


FLOOR: web.AppKey[set[asyncio.Queue[str]]] = web.AppKey("floor")


async def consoles_connected(url: str, token: str, count: int, events: int, compress: int) -> None:
    """The client side (run in its own process): connect, say so, read every message, exit."""
    async with aiohttp.ClientSession() as http:
        sockets = [
            await http.ws_connect(
                url, headers={"Authorization": f"Bearer {token}"}, compress=compress
            )
            for _ in range(count)
        ]
        print("connected", flush=True)

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            for _ in range(events):
                message = await ws.receive(timeout=120)
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"the feed closed early: {message}")

        # Then the process ends, and its sockets with it (the baseline never reads a close).
        await asyncio.gather(*(read(ws) for ws in sockets))


async def run_round(
    base: str, path: str, token: str, consoles: int, events: int, compress: int, publish: Any
) -> float:
    """Server CPU µs per message delivered."""
    clients = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        base.replace("http", "ws") + path,
        token,
        str(consoles),
        str(events),
        str(compress),
        stdout=subprocess.PIPE,
    )
    assert clients.stdout is not None
    await asyncio.wait_for(clients.stdout.readline(), 60)
    await asyncio.sleep(0.2)  # the last socket's handler is subscribed
    started = time.process_time()
    for n in range(events):
        publish(n)
        # A busy centre's pace, not a flood: the sockets keep up and none is dropped.
        await asyncio.sleep(0.002)
    if await asyncio.wait_for(clients.wait(), 120) != 0:
        raise RuntimeError("the consoles did not receive every message")
    return (time.process_time() - started) * 1e6 / (consoles * events)


async def main(consoles: int, events: int) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-feed-"))
    bus = Bus()
    records = await sqlite_records(directory, bus)
    await records.accounts.add_user("penyelia", hash_password("bench-password-1"), Role.SUPERVISOR)
    result = await login(records.accounts, "penyelia", "bench-password-1")
    assert result is not None
    token = result[1]
    app = web.Application()
    app[ACCOUNTS_KEY] = records.accounts
    app[SERVICES] = SimpleNamespace(
        config=routing_config(directory), accounts=records.accounts, bus=bus
    )  # type: ignore[assignment]
    app[FLOOR] = set()
    live.add_routes(app)
    app.router.add_get("/ws/floor", floor_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"

    def ours(n: int) -> None:
        bus.publish(TicketChanged(TICKET["id"], "edited", "queued", dict(TICKET, priority=n)))

    def floor(n: int) -> None:
        text = json.dumps({"seq": n + 1, "type": "ticket", "ticket": dict(TICKET, priority=n)})
        for queue in app[FLOOR]:
            queue.put_nowait(text)

    print(f"{consoles} consoles, {events} ticket changes each ({len(json.dumps(TICKET))} B)")
    try:
        for compress, label in ((15, "permessage-deflate"), (0, "uncompressed")):
            floor_us = await run_round(base, "/ws/floor", token, consoles, events, compress, floor)
            ours_us = await run_round(base, "/ws/live", token, consoles, events, compress, ours)
            print(
                f"{label:>18}: /ws/live {ours_us:6.1f} µs CPU per message, baseline "
                f"{floor_us:6.1f} µs; ratio {ours_us / floor_us:.2f}x",
                flush=True,
            )
    finally:
        await runner.cleanup()
        await records.engine.dispose()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        url, token, count, events, compress = sys.argv[2:7]
        asyncio.run(consoles_connected(url, token, int(count), int(events), int(compress)))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.consoles, args.events)))
