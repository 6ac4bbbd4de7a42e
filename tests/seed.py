"""A seeded history of tickets (the same every time) for the reports' tests and bench."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.tickets.models import Ticket

ZONE = ZoneInfo("Asia/Jakarta")
CATEGORIES = ["police", "ambulance", "electricity", "public-order", "fire", "informasi", None]
AGENCIES = {
    "police": "polresta",
    "ambulance": "pmi",
    "electricity": "pln",
    "public-order": "satpolpp",
    "fire": "bpbd",
}
KECAMATAN = ["Blimbing", "Klojen", "Kedungkandang", "Lowokwaru", "Sukun", None]
OUTCOMES = ["darurat", "informasi", "prank", "ghost", "tidak-tercatat", None]


async def seed_tickets(engine: AsyncEngine, count: int, first_day: date, days: int) -> None:
    """`count` tickets spread over `days` local days from `first_day`: categories, places,
    outcomes, flags and every step's time vary; answer and dispatch times are whole seconds plus
    a half, so no ticket sits exactly on a 10/15/20 s boundary."""
    rng = random.Random(112)
    rows = []
    for _ in range(count):
        day = first_day + timedelta(days=rng.randrange(days))
        local = datetime.combine(day, time(0), ZONE) + timedelta(seconds=rng.randrange(86400))
        arrived = local.astimezone(UTC)
        category = rng.choice(CATEGORIES)
        outcome = rng.choice(OUTCOMES)
        flags = rng.sample(["prank", "silent", "silent-but-present", "overflow"], rng.randrange(3))
        queued = arrived + timedelta(seconds=rng.randrange(5, 40)) if rng.random() < 0.9 else None
        answered = None
        status = "abandoned"
        if queued is not None and rng.random() < 0.8:
            answered = queued + timedelta(
                seconds=rng.choice([0, 3, 9, 12, 14, 19, 25, 44, 90]) + 0.5
            )
            status = "ended"
        dispatched = None
        if answered is not None and category in AGENCIES and rng.random() < 0.6:
            dispatched = answered + timedelta(seconds=rng.randrange(20, 300) + 0.5)
            status = "dispatched"
        rows.append(
            {
                "caller_number": f"0812{rng.randrange(10**7):07d}",
                "caller_name": "",
                "category": category,
                "priority": 1,
                "agency": AGENCIES.get(category or "") if dispatched else None,
                "status": status,
                "source": "ivr",
                "what": "",
                "where": "",
                "who": "",
                "kecamatan": rng.choice(KECAMATAN),
                "address": "",
                "landmark": "",
                "checklist": {},
                "transcript": "",
                "transcript_partial": "",
                "flags": flags,
                "outcome": outcome,
                "closed_at": (answered or arrived) + timedelta(minutes=5) if outcome else None,
                "arrived_at": arrived,
                "queued_at": queued,
                "answered_at": answered,
                "dispatched_at": dispatched,
                "ended_at": (answered or queued or arrived) + timedelta(minutes=3),
                "updated_at": arrived,
            }
        )
    async with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(insert(Ticket), rows[start : start + 1000])
