"""Reports through the real controller: who may read them, the CSV exports, the pages, bad ranges."""

from __future__ import annotations

import csv
import io
import urllib.request

from tests.centre import Api


def get(api: Api, path: str) -> tuple[int, str, str]:
    request = urllib.request.Request(api.base_url + path)
    request.add_header("Authorization", f"Bearer {api.token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def test_supervisors_read_and_export_reports(asterisk, supervisor_api, calltaker_api, admin_api):
    status, body = supervisor_api.request("GET", "/api/reports/summary?by=hour")
    assert status == 200 and body["by"] == "hour" and body["timezone"] == "Asia/Jakarta"
    today = body["from"]
    tickets_today = body["total"]["tickets"]
    # Time to answer twice: what the caller lived, and the queue alone, over the same calls.
    assert set(body["measured_from"]) == {"answer", "queue_answer"}
    for prefix in ("", "queue_"):
        assert set(body["total"][f"{prefix}answered_within_pct"]) == {"10", "15", "20"}
        assert sum(body["total"][f"{prefix}answer_buckets"].values()) == body["total"]["answered"]
    assert tickets_today == sum(g["tickets"] for g in body["groups"])

    status, kind, text = get(supervisor_api, f"/api/reports/summary.csv?from={today}&by=category")
    assert status == 200 and kind.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["category", "tickets", "offered"]
    assert {"answer_p50", "queue_answer_p50", "answered_within_15_pct"} <= set(rows[0])
    assert "queue_answered_within_15_pct" in rows[0]
    assert rows[-1][0] == "total" and int(rows[-1][1]) >= tickets_today
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    status, kind, text = get(supervisor_api, f"/api/reports/national.csv?from={today}")
    assert status == 200
    header, day = list(csv.reader(io.StringIO(text)))[:2]
    assert header == [
        "day",
        "darurat",
        "informasi",
        "prank",
        "ghost",
        "tidak-tercatat",
        "belum-ditutup",
        "total",
    ]
    assert day[0] == today

    for path in ("/reports", f"/reports/evaluation?from={today}"):
        status, kind, html = get(supervisor_api, path)
        assert status == 200 and kind.startswith("text/html"), path
        assert "<svg" in html and 'id="total-tickets"' in html
        assert 'id="within-15"' in html and 'id="queue-within-15"' in html, path
        assert "sejak panggilan dijawab sistem" in html and "sejak masuk antrean" in html
    assert admin_api.request("GET", "/api/reports/national")[0] == 200


def test_reports_are_for_supervisors_and_refuse_bad_ranges(asterisk, calltaker_api, supervisor_api):
    for path in ("/api/reports/summary", "/api/reports/summary.csv", "/api/reports/national.csv"):
        assert calltaker_api.request("GET", path)[0] == 403, path
        assert Api(asterisk.base_url, None).request("GET", path)[0] == 401, path
    assert get(calltaker_api, "/reports")[0] == 403
    for query in (
        "from=2026-02-30",
        "by=caller_number",
        "from=2026-11-26&to=2026-01-01",
        "from=1900-01-01&to=2026-01-01",
    ):
        status, body = supervisor_api.request("GET", f"/api/reports/summary?{query}")
        assert status == 400 and "error" in body, query
    status, _, html = get(supervisor_api, "/reports?from=kemarin")
    assert status == 400 and "dates like" in html
