"""Report figures over 10 000 seeded tickets, checked against SQL written here, independently of
the report code (which counts in Python)."""

from __future__ import annotations

import math
import sqlite3
from datetime import date, datetime, time, timedelta

import pytest

from callcenter.tickets.db import create_engine
from callcenter.tickets.migrations import migrate
from callcenter.tickets.reports import ReportError, Reports, day_range
from tests.seed import ZONE, seed_tickets

FIRST = date(2026, 9, 1)
DAYS = 61  # two months: the city's periodic review
OUTCOMES = ("darurat", "informasi", "prank", "ghost", "tidak-tercatat")


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "tickets.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await seed_tickets(engine, 10_000, FIRST, DAYS)
    yield Reports(engine, ZONE), sqlite3.connect(path)
    await engine.dispose()


def utc_text(day: date) -> str:
    """How the database stores the instant a local day begins: UTC (WIB is UTC+7), as text."""
    return (datetime.combine(day, time(0)) - timedelta(hours=7)).strftime("%Y-%m-%d %H:%M:%S")


GROUP_SQL = {
    "category": "COALESCE(category, '(tidak ada)')",
    "agency": "COALESCE(agency, '(tidak ada)')",
    "kecamatan": "COALESCE(kecamatan, '(tidak ada)')",
    "hour": "strftime('%H', arrived_at, '+7 hours')",
    "day": "date(arrived_at, '+7 hours')",
}
# What the caller lived: from the call answered by the system (arrived_at) to a call-taker.
LIVED = "(julianday(answered_at) - julianday(arrived_at)) * 86400"
# The queue alone: from entering it to a call-taker.
WAITED = "(julianday(answered_at) - julianday(queued_at)) * 86400"


def expected_by(db: sqlite3.Connection, by: str, first: date, last: date) -> dict[str, dict]:
    key = GROUP_SQL[by]
    rows = db.execute(
        f"""
        SELECT {key},
               COUNT(*),
               SUM(queued_at IS NOT NULL),
               SUM(queued_at IS NOT NULL AND answered_at IS NOT NULL),
               SUM(status = 'abandoned'),
               SUM(queued_at IS NOT NULL AND {LIVED} <= 10),
               SUM(queued_at IS NOT NULL AND {LIVED} <= 15),
               SUM(queued_at IS NOT NULL AND {LIVED} <= 20),
               SUM(queued_at IS NOT NULL AND {WAITED} <= 10),
               SUM(queued_at IS NOT NULL AND {WAITED} <= 15),
               SUM(queued_at IS NOT NULL AND {WAITED} <= 20),
               SUM(dispatched_at IS NOT NULL),
               SUM(flags LIKE '%"prank"%' OR outcome = 'prank'),
               SUM(flags LIKE '%"silent"%' OR flags LIKE '%"silent-but-present"%' OR outcome = 'ghost'),
               {", ".join(f"SUM(outcome = '{o}')" for o in OUTCOMES)},
               SUM(outcome IS NULL)
        FROM tickets
        WHERE arrived_at >= ? AND arrived_at < ?
        GROUP BY 1
        """,  # noqa: S608 - names from this file only
        (utc_text(first), utc_text(last + timedelta(days=1))),
    ).fetchall()
    expected = {}
    for r in rows:
        expected[r[0]] = {
            "tickets": r[1],
            "offered": r[2],
            "answered": r[3],
            "abandoned": r[4],
            "answered_within": {"10": r[5], "15": r[6], "20": r[7]},
            "queue_answered_within": {"10": r[8], "15": r[9], "20": r[10]},
            "dispatched": r[11],
            "prank": r[12],
            "silent": r[13],
            "outcomes": {**dict(zip(OUTCOMES, r[14:19], strict=True)), "belum-ditutup": r[19]},
        }
    return expected


def nearest_rank(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[math.ceil(pct / 100 * len(values)) - 1]


@pytest.mark.parametrize("by", ["category", "agency", "kecamatan", "hour", "day"])
async def test_figures_match_independent_sql(seeded, by):
    reports, db = seeded
    last = FIRST + timedelta(days=DAYS - 1)
    report = await reports.summary(FIRST, last, by)
    expected = expected_by(db, by, FIRST, last)
    got = {g["key"]: g for g in report["groups"]}
    assert set(got) == set(expected)
    for key, want in expected.items():
        have = {k: got[key][k] for k in want}
        assert have == want, key
    assert report["total"]["tickets"] == 10_000


def seconds_of(db: sqlite3.Connection, measure: str, bounds: tuple[str, str]) -> list[float]:
    return [
        r[0]
        for r in db.execute(
            f"SELECT {measure} FROM tickets WHERE queued_at IS NOT NULL AND answered_at IS NOT NULL"  # noqa: S608
            " AND arrived_at >= ? AND arrived_at < ?",
            bounds,
        )
    ]


@pytest.mark.parametrize(("prefix", "measure"), [("", LIVED), ("queue_", WAITED)])
async def test_times_and_shares_match_independent_sql(seeded, prefix, measure):
    reports, db = seeded
    first, last = FIRST + timedelta(days=10), FIRST + timedelta(days=24)
    report = await reports.summary(first, last, "category")
    bounds = (utc_text(first), utc_text(last + timedelta(days=1)))
    waited = seconds_of(db, measure, bounds)
    to_dispatch = [
        r[0]
        for r in db.execute(
            "SELECT (julianday(dispatched_at) - julianday(arrived_at)) * 86400 FROM tickets"
            " WHERE dispatched_at IS NOT NULL AND arrived_at >= ? AND arrived_at < ?",
            bounds,
        )
    ]
    total = report["total"]
    assert total[f"{prefix}answer_p50"] == pytest.approx(nearest_rank(waited, 50), abs=0.01)
    assert total[f"{prefix}answer_p90"] == pytest.approx(nearest_rank(waited, 90), abs=0.01)
    assert total["dispatch_p50"] == pytest.approx(nearest_rank(to_dispatch, 50), abs=0.01)
    buckets = total[f"{prefix}answer_buckets"]
    assert sum(buckets.values()) == len(waited) == total["answered"]
    assert buckets["<=10"] == sum(1 for w in waited if w <= 10)
    assert buckets["<=30"] == sum(1 for w in waited if 20 < w <= 30)
    assert buckets[">60"] == sum(1 for w in waited if w > 60)
    count, offered = db.execute(
        "SELECT COUNT(*), SUM(queued_at IS NOT NULL) FROM tickets"
        " WHERE arrived_at >= ? AND arrived_at < ?",
        bounds,
    ).fetchone()
    assert total["tickets"] == count
    for s in (10, 15, 20):
        assert total[f"{prefix}answered_within_pct"][str(s)] == round(
            100 * sum(1 for w in waited if w <= s) / offered, 1
        )
    assert total["prank_share"] == round(100 * total["prank"] / count, 1)


async def test_time_to_answer_counts_what_the_caller_lived_before_the_queue(seeded):
    """The seeded callers spend 5-39 s before the queue: the lived time is the longer one, and the
    summary says where each measure starts."""
    reports, db = seeded
    report = await reports.summary(FIRST, FIRST + timedelta(days=DAYS - 1), "day")
    total = report["total"]
    assert total["answer_p50"] > total["queue_answer_p50"]
    assert total["answered_within"]["15"] < total["queue_answered_within"]["15"]
    assert report["measured_from"]["answer"].startswith("the call answered by the system")
    assert report["measured_from"]["queue_answer"].startswith("the caller entering the queue")
    # And ticket by ticket, from its own stamps.
    ticket_id, lived, queue = db.execute(
        f"SELECT id, {LIVED}, {WAITED} FROM tickets WHERE answered_at IS NOT NULL"  # noqa: S608
        " AND queued_at IS NOT NULL ORDER BY id LIMIT 1"
    ).fetchone()
    rows = {r.id: r for r in await reports.rows(FIRST, FIRST + timedelta(days=DAYS - 1))}
    assert rows[ticket_id].answer_seconds == pytest.approx(lived, abs=0.01)
    assert rows[ticket_id].queue_answer_seconds == pytest.approx(queue, abs=0.01)


async def test_the_national_export_counts_each_day(seeded):
    reports, db = seeded
    first, last = FIRST, FIRST + timedelta(days=6)
    days = await reports.national(first, last)
    assert [d["day"] for d in days] == [(first + timedelta(days=n)).isoformat() for n in range(7)]
    expected = {
        r[0]: r[1:]
        for r in db.execute(
            f"SELECT date(arrived_at, '+7 hours'), {', '.join(f'SUM(outcome = {o!r})' for o in OUTCOMES)},"  # noqa: S608
            " SUM(outcome IS NULL), COUNT(*) FROM tickets WHERE arrived_at >= ? AND arrived_at < ?"
            " GROUP BY 1",
            (utc_text(first), utc_text(last + timedelta(days=1))),
        )
    }
    for day in days:
        # Its meaning is the national format's: call types per day, no answer time in it.
        assert set(day) == {"day", *OUTCOMES, "belum-ditutup", "total"}
        want = expected.get(day["day"], (0,) * 7)
        assert (*(day[o] for o in OUTCOMES), day["belum-ditutup"], day["total"]) == tuple(want)


async def test_the_evaluation_reads_once_and_agrees_with_the_summaries(seeded):
    reports, _ = seeded
    last = FIRST + timedelta(days=DAYS - 1)
    evaluation = await reports.evaluation(FIRST, last)
    for by, groups in evaluation["sections"].items():
        assert groups == (await reports.summary(FIRST, last, by))["groups"]
    assert len(evaluation["national"]) == DAYS


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        ("2026-13-01", None, "dates like"),
        ("kemarin", None, "dates like"),
        ("2026-11-26", "2026-11-01", "before"),
        ("2020-01-01", "2026-01-01", "at most"),
        ("2026-11-26'; DROP TABLE tickets; --", None, "dates like"),
    ],
)
def test_bad_ranges_say_what_is_wrong(start, end, problem):
    with pytest.raises(ReportError, match=problem):
        day_range(start, end, date(2026, 11, 26))


async def test_an_unknown_dimension_is_refused(seeded):
    reports, _ = seeded
    with pytest.raises(ReportError, match="by must be one of"):
        await reports.summary(FIRST, FIRST, "caller_number")
