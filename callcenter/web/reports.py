"""Reports for supervisors: JSON, CSV exports (per dimension, and the national 112 monitoring's
call types per day), the report page with charts, and the printable periodic evaluation."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aiohttp import web

from ..tickets.edits import OUTCOMES
from ..tickets.reports import (
    ANSWER_BUCKETS,
    ANSWER_WITHIN,
    LOOP_STEPS,
    NOT_CLOSED,
    ReportError,
    day_range,
)
from .access import OVERSEERS
from .auth import requires
from .pages import render, supervisor_user
from .requests import error
from .services import SERVICES

DIMENSION_NAMES = {
    "category": "Kategori",
    "agency": "Instansi",
    "kecamatan": "Kecamatan",
    "hour": "Jam",
    "day": "Hari",
}


async def _summary(request: web.Request, by: str | None = None) -> dict[str, Any]:
    reports = request.app[SERVICES].reports
    try:
        first, last = day_range(request.query.get("from"), request.query.get("to"), reports.today())
        return await reports.summary(first, last, by or request.query.get("by", "category"))
    except ReportError as e:
        raise error(web.HTTPBadRequest, str(e)) from None


@requires(*OVERSEERS)
async def get_summary(request: web.Request) -> web.Response:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD&by=category|agency|kecamatan|hour|day. Answer times twice:
    `answer_*` from the call answered by the system, `queue_answer_*` from entering the queue."""
    return web.json_response(await _summary(request))


BUCKETS = (*(f"<={b}" for b in ANSWER_BUCKETS), f">{ANSWER_BUCKETS[-1]}")


def _answer_columns(prefix: str) -> tuple[str, ...]:
    """One measure's columns: `prefix` "" runs from the call answered by the system, "queue_"
    from entering the queue."""
    return (
        *(f"{prefix}answered_within_{s}" for s in ANSWER_WITHIN),
        *(f"{prefix}answered_within_{s}_pct" for s in ANSWER_WITHIN),
        f"{prefix}answer_p50",
        f"{prefix}answer_p90",
        *(f"{prefix}answer_{b}" for b in BUCKETS),
    )


CSV_COLUMNS = (
    "tickets",
    "offered",
    "answered",
    "abandoned",
    *_answer_columns(""),
    *_answer_columns("queue_"),
    "dispatched",
    "dispatch_p50",
    "dispatch_p90",
    *(f"outcome_{o}" for o in (*OUTCOMES, NOT_CLOSED)),
    "prank",
    "silent",
    "prank_share",
    "silent_share",
)


def _flat(figures: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in figures.items() if not isinstance(v, dict)}
    for prefix in ("", "queue_"):
        for s in ANSWER_WITHIN:
            flat[f"{prefix}answered_within_{s}"] = figures[f"{prefix}answered_within"][str(s)]
            flat[f"{prefix}answered_within_{s}_pct"] = figures[f"{prefix}answered_within_pct"][
                str(s)
            ]
        for bucket, n in figures[f"{prefix}answer_buckets"].items():
            flat[f"{prefix}answer_{bucket}"] = n
    for outcome, n in figures["outcomes"].items():
        flat[f"outcome_{outcome}"] = n
    return flat


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        # Spreadsheets run a cell that starts with = + - @ as a formula: never a text of ours.
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@" else v for v in row])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@requires(*OVERSEERS)
async def get_summary_csv(request: web.Request) -> web.Response:
    report = await _summary(request)
    rows = [[g["key"], *(_flat(g).get(c) for c in CSV_COLUMNS)] for g in report["groups"]]
    rows.append(["total", *(_flat(report["total"]).get(c) for c in CSV_COLUMNS)])
    name = f"ngalam112-{report['by']}-{report['from']}-{report['to']}.csv"
    return _csv(name, [report["by"], *CSV_COLUMNS], rows)


async def _national(request: web.Request) -> tuple[str, str, list[dict[str, Any]]]:
    reports = request.app[SERVICES].reports
    try:
        first, last = day_range(request.query.get("from"), request.query.get("to"), reports.today())
    except ReportError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    return first.isoformat(), last.isoformat(), await reports.national(first, last)


@requires(*OVERSEERS)
async def get_national(request: web.Request) -> web.Response:
    first, last, days = await _national(request)
    return web.json_response({"from": first, "to": last, "days": days})


@requires(*OVERSEERS)
async def get_national_csv(request: web.Request) -> web.Response:
    """Per day, the call types the national 112 monitoring counts (no answer times)."""
    first, last, days = await _national(request)
    columns = ["day", *OUTCOMES, NOT_CLOSED, "total"]
    return _csv(
        f"ngalam112-nasional-{first}-{last}.csv", columns, [[d[c] for c in columns] for d in days]
    )


# The agency loop's CSV: per agency and category, each step's p50/p90 and share within deadline.
LOOP_COLUMNS = (
    "agency",
    "category",
    "assignments",
    "declined",
    "cleared",
    *(
        f"{step}_{figure}"
        for step in LOOP_STEPS
        for figure in ("p50", "p90", "deadline", "within", "within_pct")
    ),
)


@requires(*OVERSEERS)
async def get_agency_loop_csv(request: web.Request) -> web.Response:
    """Per agency and category: seconds from assignment to acknowledged, on scene and cleared
    (p50/p90), and the share within each of the agency's deadlines."""
    reports = request.app[SERVICES].reports
    try:
        first, last = day_range(request.query.get("from"), request.query.get("to"), reports.today())
    except ReportError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    rows = await reports.agency_loop(first, last)
    return _csv(
        f"ngalam112-instansi-{first}-{last}.csv",
        list(LOOP_COLUMNS),
        [[r[c] for c in LOOP_COLUMNS] for r in rows],
    )


def _page_context(request: web.Request, report: dict[str, Any]) -> dict[str, Any]:
    config = request.app[SERVICES].config
    names = {c.id: c.name for c in config.categories.values()}
    names.update({a.id: a.name for a in config.agencies})
    total = report["total"]
    groups = report.get("groups", [])
    charts = {
        "groups": [(names.get(g["key"], g["key"]), g["tickets"]) for g in groups],
        "within15": [
            (names.get(g["key"], g["key"]), g["answered_within_pct"]["15"]) for g in groups
        ],
        "buckets": list(total["answer_buckets"].items()),
        "queue_buckets": list(total["queue_answer_buckets"].items()),
        "outcomes": list(total["outcomes"].items()),
    }
    return {
        "report": report,
        "charts": charts,
        "names": names,
        "dimensions": DIMENSION_NAMES,
        "within": [str(s) for s in ANSWER_WITHIN],
        "outcomes": [*OUTCOMES, NOT_CLOSED],
        "query": request.query_string,
    }


async def get_reports_page(request: web.Request) -> web.Response:
    user = await supervisor_user(request)
    try:
        report = await _summary(request)
    except web.HTTPBadRequest as e:
        return render(
            "reports.html",
            status=400,
            user=user,
            error=json.loads(e.text or "{}")["error"],
            report=None,
            names={},
            dimensions=DIMENSION_NAMES,
            within=[],
            outcomes=[],
            query="",
        )
    return render("reports.html", user=user, error="", **_page_context(request, report))


async def get_evaluation_page(request: web.Request) -> web.Response:
    """The periodic evaluation (the city reviews its complaint channels every two months): every
    dimension of the range on one printable page."""
    user = await supervisor_user(request)
    reports = request.app[SERVICES].reports
    try:
        first, last = day_range(request.query.get("from"), request.query.get("to"), reports.today())
    except ReportError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    report = await reports.evaluation(first, last)
    return render("evaluation.html", user=user, **_page_context(request, report))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/summary", get_summary)
    app.router.add_get("/api/reports/summary.csv", get_summary_csv)
    app.router.add_get("/api/reports/national", get_national)
    app.router.add_get("/api/reports/national.csv", get_national_csv)
    app.router.add_get("/api/reports/agency-loop.csv", get_agency_loop_csv)
    app.router.add_get("/reports", get_reports_page)
    app.router.add_get("/reports/evaluation", get_evaluation_page)
