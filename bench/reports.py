"""How fast the reports render on a realistic history: 10 000 tickets over two months.

The real controller (`callcenter run`, its web part; no Asterisk is needed to read reports)
serves a seeded database; this times, over HTTP as a browser asks them, the report page for the
whole two months (by category and by hour), the printable evaluation (every dimension), the CSV
export and the national export, against a baseline measured in the same run: the newest 100
tickets (`GET /api/tickets`), a plain indexed read. Target (issue 6): the page in under a second.
Run: `.venv/bin/python bench/reports.py [--tickets 10000] [--repeat 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from bench.common import controller_running, create_user, login, percentile  # noqa: E402
from callcenter import config as config_mod  # noqa: E402
from callcenter.tickets.db import create_engine  # noqa: E402
from callcenter.tickets.migrations import migrate  # noqa: E402
from tests.centre import free_port  # noqa: E402
from tests.seed import seed_tickets  # noqa: E402

FIRST = date(2026, 9, 1)
DAYS = 61


def write_config(directory: Path) -> Path:
    path = directory / "callcenter.toml"
    path.write_text(
        f"""
[asterisk]
instance = "reports-bench"
instance_dir = "{directory / "asterisk"}"
ami_port = {free_port()}
ami_secret = "{secrets.token_urlsafe(16)}"

[controller]
agi_port = {free_port()}
audiosocket_port = {free_port()}
http_port = {free_port()}

[database]
url = "sqlite+aiosqlite:///{directory / "tickets.db"}"

[ivr]
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "ambulance", "electricity", "public-order", "fire"]
primary = "PJSIP/7001"
"""
    )
    return path


async def timed(http: aiohttp.ClientSession, url: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
            response.raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def main(tickets: int, repeat: int) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-reports-"))
    config_path = write_config(directory)
    config = config_mod.load(config_path)
    engine = create_engine(config.database.url)
    await migrate(engine)
    started = time.perf_counter()
    await seed_tickets(engine, tickets, FIRST, DAYS)
    await engine.dispose()
    print(f"seeded {tickets} tickets over {DAYS} days in {time.perf_counter() - started:.1f} s")
    password = create_user(config_path, "penyelia", "supervisor")
    base = f"http://127.0.0.1:{config.controller.http_port}"
    last = FIRST + timedelta(days=DAYS - 1)
    span = f"from={FIRST}&to={last}"
    pages = {
        "baseline: GET /api/tickets?limit=100": "/api/tickets?limit=100",
        "report page, by category": f"/reports?{span}&by=category",
        "report page, by hour": f"/reports?{span}&by=hour",
        "evaluation page (every dimension)": f"/reports/evaluation?{span}",
        "CSV by kecamatan": f"/api/reports/summary.csv?{span}&by=kecamatan",
        "national export CSV": f"/api/reports/national.csv?{span}",
    }
    # Reports need no telephony: the controller runs with no Asterisk to talk to.
    async with controller_running(config_path, config, need=("database",)):
        async with aiohttp.ClientSession() as anonymous:
            token = await login(anonymous, base, "penyelia", password)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            results = {}
            for name, path in pages.items():
                await timed(http, base + path, 1)  # warm: first-use imports and caches
                results[name] = await timed(http, base + path, repeat)
    baseline = statistics.median(results[next(iter(pages))])
    print(f"\n{'what':40s} {'p50':>9s} {'p95':>9s}  ratio to baseline p50")
    for name, times in results.items():
        p50 = statistics.median(times)
        print(f"{name:40s} {p50:7.1f} ms {percentile(times, 95):7.1f} ms  {p50 / baseline:6.1f}x")
    print("\ntarget: the report page in under 1000 ms on this data")
    print(f"logs: {directory}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.tickets, args.repeat)))
