"""The agency loop's report figures (per agency and category: time to acknowledge, on scene,
cleared, and the share within each deadline) over generated assignments on a real SQLite file,
checked against SQL written here, independently of the report code (which counts in Python)."""

from __future__ import annotations

import math
import random
import sqlite3
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from callcenter.tickets.db import create_engine
from callcenter.tickets.migrations import migrate
from callcenter.tickets.models import Assignment, Ticket
from callcenter.tickets.reports import DEFAULT_DEADLINES, Reports
from tests.seed import AGENCIES, ZONE, seed_tickets

FIRST = date(2026, 9, 1)
DAYS = 61
# Polresta's deadlines are shortened in its configuration; the others keep the defaults.
POLRESTA = {"acknowledge": 60, "on_scene": 300, "cleared": 1800}
STEPS = {
    "acknowledge": ("acknowledged_at", "en_route_at", "on_scene_at", "cleared_at"),
    "on_scene": ("on_scene_at", "cleared_at"),
    "cleared": ("cleared_at",),
}


def deadlines(agency: str) -> dict[str, int]:
    return POLRESTA if agency == "polresta" else DEFAULT_DEADLINES


async def seed_assignments(engine, rng: random.Random) -> None:
    """One or two assignments for most tickets with an agency's category, at every stage, some
    skipping steps, some declined; times in whole seconds plus a half (never on a deadline)."""
    async with engine.connect() as conn:
        tickets = (await conn.execute(select(Ticket.id, Ticket.category, Ticket.arrived_at))).all()
    rows = []
    for ticket_id, category, arrived in tickets:
        agencies = [AGENCIES[category]] if category in AGENCIES else []
        if category == "fire" and rng.random() < 0.3:
            agencies.append("pmi")  # a fire with casualties: two agencies
        for agency in agencies:
            if rng.random() < 0.2:
                continue
            at = arrived + timedelta(seconds=rng.randrange(30, 600))
            row = {
                "ticket_id": ticket_id,
                "agency": agency,
                "assigned_by": "petugas",
                "assigned_at": at,
                "moved_by": "piket",
                "moved_at": at,
                "escalation_step": 0,
                **dict.fromkeys(
                    ("acknowledged_at", "en_route_at", "on_scene_at", "cleared_at", "declined_at")
                ),
                "decline_reason": None,
            }
            t = at
            reached = "assigned"
            for status, column, top in (
                ("acknowledged", "acknowledged_at", 240),
                ("en-route", "en_route_at", 300),
                ("on-scene", "on_scene_at", 900),
                ("cleared", "cleared_at", 5400),
            ):
                if rng.random() < 0.12:
                    break  # still open at this step
                if rng.random() < 0.15 and status != "cleared":
                    continue  # skipped: no stamp
                t = t + timedelta(seconds=rng.randrange(top) + 0.5)
                row[column] = t
                reached = status
            if reached in ("assigned", "acknowledged") and rng.random() < 0.1:
                reached = "declined"
                row["declined_at"] = t + timedelta(seconds=30)
                row["decline_reason"] = "bukan wilayah kami"
            row["status"] = reached
            rows.append(row)
    async with engine.begin() as conn:
        await conn.execute(insert(Assignment), rows)


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("agency-reports") / "tickets.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await seed_tickets(engine, 3000, FIRST, DAYS)
    await seed_assignments(engine, random.Random(14))
    yield Reports(engine, ZONE, deadlines), sqlite3.connect(path)
    await engine.dispose()


def seconds_sql(step: str) -> str:
    """Seconds from the assignment to the first stamp that meets the step, in SQL (the stamps of
    one assignment follow the path in time, so the first present is the earliest)."""
    stamps = STEPS[step]
    first = f"COALESCE({', '.join(stamps)})" if len(stamps) > 1 else stamps[0]
    return f"(julianday({first}) - julianday(assigned_at)) * 86400"


def nearest_rank(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[math.ceil(pct / 100 * len(values)) - 1]


def expected(db: sqlite3.Connection, first: date, last: date) -> dict[tuple[str, str], dict]:
    start = f"{first - timedelta(days=1)} 17:00:00"  # local midnight (UTC+7), as stored
    end = f"{last} 17:00:00"
    out: dict[tuple[str, str], dict] = {}
    rows = db.execute(
        """
        SELECT a.agency, COALESCE(t.category, '(tidak ada)'), COUNT(*),
               SUM(a.status = 'declined'), SUM(a.status = 'cleared')
        FROM assignments a JOIN tickets t ON t.id = a.ticket_id
        WHERE a.assigned_at >= ? AND a.assigned_at < ?
        GROUP BY 1, 2
        """,
        (start, end),
    ).fetchall()
    for agency, category, count, declined, cleared in rows:
        out[agency, category] = {"assignments": count, "declined": declined, "cleared": cleared}
    for step in STEPS:
        measured = db.execute(
            f"""
            SELECT a.agency, COALESCE(t.category, '(tidak ada)'), {seconds_sql(step)}
            FROM assignments a JOIN tickets t ON t.id = a.ticket_id
            WHERE a.assigned_at >= ? AND a.assigned_at < ? AND a.status != 'declined'
            """,  # noqa: S608 - names from this file only
            (start, end),
        ).fetchall()
        per: dict[tuple[str, str], list[float | None]] = {}
        for agency, category, seconds in measured:
            per.setdefault((agency, category), []).append(seconds)
        for key, values in per.items():
            present = [v for v in values if v is not None]
            limit = deadlines(key[0])[step]
            within = sum(1 for v in present if v <= limit)
            out[key] |= {
                f"{step}_p50": nearest_rank(present, 50),
                f"{step}_p90": nearest_rank(present, 90),
                f"{step}_within": within,
                f"{step}_within_pct": round(100 * within / len(values), 1),
            }
    return out


async def test_the_agency_loop_figures_match_independent_sql(seeded):
    reports, db = seeded
    first, last = FIRST + timedelta(days=3), FIRST + timedelta(days=40)
    got = {(r["agency"], r["category"]): r for r in await reports.agency_loop(first, last)}
    want = expected(db, first, last)
    assert set(got) == set(want) and len(want) >= 5
    assert sum(w["declined"] for w in want.values()) > 0  # the seed covers declines
    for key, figures in want.items():
        for name, value in figures.items():
            if isinstance(value, float):
                assert got[key][name] == pytest.approx(value, abs=1e-3), (key, name)
            else:
                assert got[key][name] == value, (key, name)
    # Each agency is measured against its own deadlines.
    assert got["polresta", "police"]["acknowledge_deadline"] == 60
    assert got["pmi", "ambulance"]["acknowledge_deadline"] == 120


async def test_the_summary_and_the_evaluation_carry_the_agency_loop(seeded):
    reports, _db = seeded
    first, last = FIRST, FIRST + timedelta(days=DAYS - 1)
    loop = await reports.agency_loop(first, last)
    assert (await reports.summary(first, last, "agency"))["agency_loop"] == loop
    assert (await reports.evaluation(first, last))["agency_loop"] == loop
