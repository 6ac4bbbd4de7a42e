"""Figures over tickets for supervisors: the live board's day, reports over a date range, and the
national 112 monitoring export.

The rows of a range are read once and counted here, in Python: the same code on SQLite and
PostgreSQL, and independent of the SQL the tests check the figures with. Days and hours are the
centre's local time.

Time to answer is what the caller lived: from the moment Asterisk answered the call (the
ticket's `arrived_at`, stamped as the dialplan answers, within a fraction of a second) to a
call-taker answering, welcome and prompts included. The same calls are also measured from the
moment they entered the queue (`queue_answer_*`), which shows the queue apart from what comes
before it. Both count the calls that reached the queue (`offered`), so their shares compare.

The national export counts call types per day (the outcome a call-taker closed each ticket with,
by the local day it arrived): it carries no answer time, and this changes nothing in it.

The agency loop (`agency_loop`): per agency and the ticket's category, the assignments made in
the range, and from each assignment the seconds to acknowledge, to on scene and to cleared
(p50/p90), and the share within the agency's deadline for each. A later status meets an earlier
deadline (a patrol that reports on scene without pressing acknowledge has acknowledged then), as
the deadlines count it (routing/agency_loop.py). The share is of the assignments not declined; one
still open past its deadline, or never reaching the step, counts as not within.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..config import Config
from .edits import OUTCOMES
from .models import Assignment, Ticket

# Where each answer time starts (also in every summary, for whoever reads the JSON or CSV).
MEASURED_FROM = {
    "answer": "the call answered by the system (arrived_at)",
    "queue_answer": "the caller entering the queue (queued_at)",
}
# The standard emergency centres report: answered within 10, 15 and 20 seconds.
ANSWER_WITHIN = (10, 15, 20)
# The answer-time distribution's upper bounds in seconds (and "more").
ANSWER_BUCKETS = (10, 15, 20, 30, 60)
DIMENSIONS = ("category", "agency", "kecamatan", "hour", "day")
SILENT_FLAGS = ("silent", "silent-but-present")
NOT_CLOSED = "belum-ditutup"
# The group of tickets without a category, agency or kecamatan.
NONE = "(tidak ada)"
# Longest range one report covers (a year and a bit: the yearly review).
MAX_DAYS = 400


class ReportError(ValueError):
    """A report request is wrong; the message says how."""


@dataclass(frozen=True)
class TicketRow:
    """What the figures need of a ticket."""

    id: int
    arrived_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    dispatched_at: datetime | None
    status: str
    category: str | None
    agency: str | None
    kecamatan: str | None
    outcome: str | None
    flags: tuple[str, ...]

    @property
    def answer_seconds(self) -> float | None:
        """From the call answered by the system to a call-taker answering (None if not both, or
        if it never reached the queue: the same calls as `queue_answer_seconds`)."""
        if self.queued_at is None or self.answered_at is None:
            return None
        return max(0.0, (self.answered_at - self.arrived_at).total_seconds())

    @property
    def queue_answer_seconds(self) -> float | None:
        """From entering the queue to a call-taker answering."""
        if self.queued_at is None or self.answered_at is None:
            return None
        return max(0.0, (self.answered_at - self.queued_at).total_seconds())

    @property
    def dispatch_seconds(self) -> float | None:
        if self.dispatched_at is None:
            return None
        return max(0.0, (self.dispatched_at - self.arrived_at).total_seconds())

    @property
    def prank(self) -> bool:
        return "prank" in self.flags or self.outcome == "prank"

    @property
    def silent(self) -> bool:
        return any(f in self.flags for f in SILENT_FLAGS) or self.outcome == "ghost"


def percentile(values: list[float], pct: int) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-pct * len(ordered) // 100) - 1))]


def answer_figures(seconds: list[float], offered: int, prefix: str) -> dict[str, Any]:
    """The shares answered within 10/15/20 s of the `offered` calls, the distribution and the
    p50/p90 of one measure of answer times, its keys starting with `prefix` ("" or "queue_")."""
    buckets: Counter[str] = Counter()
    for value in seconds:
        bound = next((b for b in ANSWER_BUCKETS if value <= b), None)
        buckets[f"<={bound}" if bound else f">{ANSWER_BUCKETS[-1]}"] += 1
    within = {str(s): sum(1 for a in seconds if a <= s) for s in ANSWER_WITHIN}
    return {
        f"{prefix}answered_within": within,
        # Share of callers who reached the queue and were answered in time (None: nobody queued).
        f"{prefix}answered_within_pct": {
            s: (round(100 * n / offered, 1) if offered else None) for s, n in within.items()
        },
        f"{prefix}answer_buckets": {
            **{f"<={b}": buckets[f"<={b}"] for b in ANSWER_BUCKETS},
            f">{ANSWER_BUCKETS[-1]}": buckets[f">{ANSWER_BUCKETS[-1]}"],
        },
        f"{prefix}answer_p50": percentile(seconds, 50),
        f"{prefix}answer_p90": percentile(seconds, 90),
    }


def figures(rows: Iterable[TicketRow]) -> dict[str, Any]:
    """Counts and times of a set of tickets. `answer…` times run from the call answered by the
    system, `queue_answer…` from entering the queue (see MEASURED_FROM)."""
    rows = list(rows)
    offered = [r for r in rows if r.queued_at is not None]
    answer = [s for r in offered if (s := r.answer_seconds) is not None]
    queue_answer = [s for r in offered if (s := r.queue_answer_seconds) is not None]
    dispatch = [s for r in rows if (s := r.dispatch_seconds) is not None]
    outcomes = Counter(r.outcome or NOT_CLOSED for r in rows)
    total = len(rows)
    return {
        "tickets": total,
        "offered": len(offered),
        "answered": len(answer),
        "abandoned": sum(1 for r in rows if r.status == "abandoned"),
        **answer_figures(answer, len(offered), ""),
        **answer_figures(queue_answer, len(offered), "queue_"),
        "dispatched": len(dispatch),
        "dispatch_p50": percentile(dispatch, 50),
        "dispatch_p90": percentile(dispatch, 90),
        "outcomes": {o: outcomes[o] for o in (*OUTCOMES, NOT_CLOSED)},
        "prank": sum(1 for r in rows if r.prank),
        "silent": sum(1 for r in rows if r.silent),
        "prank_share": round(100 * sum(1 for r in rows if r.prank) / total, 1) if total else None,
        "silent_share": round(100 * sum(1 for r in rows if r.silent) / total, 1) if total else None,
    }


def key_of(by: str, zone: ZoneInfo) -> Callable[[TicketRow], str]:
    """How a ticket is grouped: its category, agency or kecamatan (NONE if unknown), or the local
    hour ("07") or day ("2026-11-26") it arrived."""
    if by == "hour":
        return lambda r: f"{r.arrived_at.astimezone(zone).hour:02d}"
    if by == "day":
        return lambda r: r.arrived_at.astimezone(zone).date().isoformat()
    if by in ("category", "agency", "kecamatan"):
        return lambda r: getattr(r, by) or NONE
    raise ReportError(f"by must be one of {', '.join(DIMENSIONS)}")


def grouped(rows: list[TicketRow], by: str, zone: ZoneInfo) -> list[dict[str, Any]]:
    key = key_of(by, zone)
    groups: dict[str, list[TicketRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return [{"key": k, **figures(groups[k])} for k in sorted(groups)]


def national(rows: list[TicketRow], days: list[date], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per local day a ticket arrived, the call types the national 112 monitoring counts (the
    outcome each ticket was closed with; NOT_CLOSED while open). No answer time is part of it."""
    per_day: dict[str, Counter[str]] = {d.isoformat(): Counter() for d in days}
    for row in rows:
        day = row.arrived_at.astimezone(zone).date().isoformat()
        if day in per_day:
            per_day[day][row.outcome or NOT_CLOSED] += 1
    return [
        {"day": day, **{o: c[o] for o in (*OUTCOMES, NOT_CLOSED)}, "total": sum(c.values())}
        for day, c in per_day.items()
    ]


# The days a report may cover: the centre's lifetime, with room on both sides.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def day_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """A report's first and last local day (inclusive), from YYYY-MM-DD texts; default: today."""
    try:
        first = date.fromisoformat(start) if start else today
        last = date.fromisoformat(end) if end else first
    except ValueError:
        raise ReportError("from and to must be dates like 2026-11-26") from None
    if not (EARLIEST_DAY <= first and last <= LATEST_DAY):
        # date arithmetic past year 9999 overflows: refused here, not as a server error
        raise ReportError(f"dates from {EARLIEST_DAY} to {LATEST_DAY}")
    if last < first:
        raise ReportError("to is before from")
    if (last - first).days >= MAX_DAYS:
        raise ReportError(f"at most {MAX_DAYS} days in one report")
    return first, last


# The steps of the agency loop a report measures, each with the stamps that meet it (the first
# of them counts), and the agency's deadlines when its configuration does not say.
LOOP_STEPS = {
    "acknowledge": ("acknowledged_at", "en_route_at", "on_scene_at", "cleared_at"),
    "on_scene": ("on_scene_at", "cleared_at"),
    "cleared": ("cleared_at",),
}
DEFAULT_DEADLINES = {"acknowledge": 120, "on_scene": 600, "cleared": 3600}


@dataclass(frozen=True)
class AssignmentRow:
    """What the agency loop's figures need of an assignment."""

    agency: str
    category: str | None
    status: str
    assigned_at: datetime
    stamps: dict[str, datetime | None]

    def seconds_to(self, step: str) -> float | None:
        """Seconds from the assignment to the first status that meets `step` (None: not yet)."""
        reached = [t for name in LOOP_STEPS[step] if (t := self.stamps.get(name)) is not None]
        if not reached:
            return None
        return max(0.0, (min(reached) - self.assigned_at).total_seconds())


def loop_figures(rows: list[AssignmentRow], deadlines: dict[str, int]) -> dict[str, Any]:
    """An agency's assignments: counts, p50/p90 of each step and the share within its deadline."""
    measured = [r for r in rows if r.status != "declined"]
    out: dict[str, Any] = {
        "assignments": len(rows),
        "declined": len(rows) - len(measured),
        "cleared": sum(1 for r in rows if r.status == "cleared"),
    }
    for step in LOOP_STEPS:
        seconds = [s for r in measured if (s := r.seconds_to(step)) is not None]
        within = sum(1 for s in seconds if s <= deadlines[step])
        out[f"{step}_p50"] = percentile(seconds, 50)
        out[f"{step}_p90"] = percentile(seconds, 90)
        out[f"{step}_deadline"] = deadlines[step]
        out[f"{step}_within"] = within
        out[f"{step}_within_pct"] = round(100 * within / len(measured), 1) if measured else None
    return out


def agency_loop(
    rows: list[AssignmentRow], deadlines: Callable[[str], dict[str, int]]
) -> list[dict[str, Any]]:
    """The loop's figures per agency and category (NONE for a ticket without one), each agency
    measured against its own deadlines."""
    groups: dict[tuple[str, str], list[AssignmentRow]] = {}
    for row in rows:
        groups.setdefault((row.agency, row.category or NONE), []).append(row)
    return [
        {
            "agency": agency,
            "category": category,
            **loop_figures(groups[agency, category], deadlines(agency)),
        }
        for agency, category in sorted(groups)
    ]


def configured_deadlines(config: Config) -> Callable[[str], dict[str, int]]:
    """Each agency's deadlines as its configuration sets them (the defaults for one no longer
    configured)."""

    def of(agency_id: str) -> dict[str, int]:
        agency = config.agency(agency_id)
        if agency is None:
            return DEFAULT_DEADLINES
        return {
            "acknowledge": agency.acknowledge_within,
            "on_scene": agency.on_scene_within,
            "cleared": agency.cleared_within,
        }

    return of


class Reports:
    def __init__(
        self,
        engine: AsyncEngine,
        zone: ZoneInfo,
        deadlines: Callable[[str], dict[str, int]] | None = None,
    ):
        """`deadlines`: an agency's deadlines in seconds by step (acknowledge, on_scene,
        cleared); DEFAULT_DEADLINES for every agency without it."""
        self._engine = engine
        self.zone = zone
        self._deadlines = deadlines or (lambda agency: DEFAULT_DEADLINES)

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """The instants the local days `first`..`last` begin and end."""
        start = datetime.combine(first, time(0), self.zone)
        return start, datetime.combine(last + timedelta(days=1), time(0), self.zone)

    async def rows(self, first: date, last: date) -> list[TicketRow]:
        start, end = self.bounds(first, last)
        columns = (
            Ticket.id,
            Ticket.arrived_at,
            Ticket.queued_at,
            Ticket.answered_at,
            Ticket.dispatched_at,
            Ticket.status,
            Ticket.category,
            Ticket.agency,
            Ticket.kecamatan,
            Ticket.outcome,
            Ticket.flags,
        )
        query = (
            select(*columns)
            .where(Ticket.arrived_at >= start, Ticket.arrived_at < end)
            .order_by(Ticket.id)
        )
        async with self._engine.connect() as conn:
            result = await conn.execute(query)
            return [
                TicketRow(
                    id=r.id,
                    arrived_at=r.arrived_at,
                    queued_at=r.queued_at,
                    answered_at=r.answered_at,
                    dispatched_at=r.dispatched_at,
                    status=r.status,
                    category=r.category,
                    agency=r.agency,
                    kecamatan=r.kecamatan,
                    outcome=r.outcome,
                    flags=tuple(r.flags or ()),
                )
                for r in result.all()
            ]

    async def assignment_rows(self, first: date, last: date) -> list[AssignmentRow]:
        """The assignments made in the local days `first`..`last`, with their ticket's category."""
        start, end = self.bounds(first, last)
        stamps = list(dict.fromkeys(s for step in LOOP_STEPS.values() for s in step))
        query = (
            select(
                Assignment.agency,
                Ticket.category,
                Assignment.status,
                Assignment.assigned_at,
                *(getattr(Assignment, n) for n in stamps),
            )
            .join(Ticket, Ticket.id == Assignment.ticket_id)
            .where(Assignment.assigned_at >= start, Assignment.assigned_at < end)
            .order_by(Assignment.id)
        )
        async with self._engine.connect() as conn:
            result = await conn.execute(query)
            return [
                AssignmentRow(
                    agency=r.agency,
                    category=r.category,
                    status=r.status,
                    assigned_at=r.assigned_at,
                    stamps={n: getattr(r, n) for n in stamps},
                )
                for r in result.all()
            ]

    async def agency_loop(self, first: date, last: date) -> list[dict[str, Any]]:
        return agency_loop(await self.assignment_rows(first, last), self._deadlines)

    async def summary(self, first: date, last: date, by: str) -> dict[str, Any]:
        key_of(by, self.zone)  # a wrong dimension is refused before any reading
        rows = await self.rows(first, last)
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "by": by,
            "timezone": str(self.zone),
            "measured_from": MEASURED_FROM,
            "total": figures(rows),
            "groups": grouped(rows, by, self.zone),
            "agency_loop": await self.agency_loop(first, last),
        }

    async def national(self, first: date, last: date) -> list[dict[str, Any]]:
        return national(await self.rows(first, last), _days(first, last), self.zone)

    async def evaluation(self, first: date, last: date) -> dict[str, Any]:
        """Every dimension of a range, and its national export, from one reading."""
        rows = await self.rows(first, last)
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "timezone": str(self.zone),
            "measured_from": MEASURED_FROM,
            "total": figures(rows),
            "sections": {by: grouped(rows, by, self.zone) for by in DIMENSIONS if by != "day"},
            "national": national(rows, _days(first, last), self.zone),
            "agency_loop": await self.agency_loop(first, last),
        }


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
