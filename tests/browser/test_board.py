"""The supervisors' board and reports in a real browser: the board follows real calls live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.test_console import log_in
from tests.centre import (
    local_caller_hangs_up,
    phone,
    place_local_112_call,
    place_scripted_112_call,
)
from tests.waiting import wait_until


@pytest.fixture
def desk_phone(asterisk, calltaker_api):
    sip = phone(asterisk, "2001", answer=True)
    yield sip
    calltaker_api.desk("2001", "logged-out")
    sip.stop()


def test_the_board_follows_calls_live(
    asterisk, running_controller, calltaker_api, page, desk_phone
):
    log_in(page, asterisk.base_url, "penyelia", asterisk.passwords["penyelia"])
    page.goto(asterisk.base_url + "/board")
    expect(page.locator("#link")).to_have_attribute("data-up", "yes")
    expect(page.locator("#desks tr[data-extension='2001']")).to_be_visible()
    shot(page, "06-board-quiet")

    calltaker_api.desk("2001", "available")
    expect(page.locator("#desks tr[data-extension='2001']")).to_have_attribute(
        "data-state", "available"
    )
    place_scripted_112_call(asterisk.config, '"Penelepon Papan" <9077>', keys="1", stay=120)
    try:
        # The call appears while the caller is in the IVR, then moves on to the call-taker: all
        # pushed.
        live_row = page.locator("#live tbody tr", has_text="9077")
        expect(live_row).to_be_visible(timeout=20_000)
        expect(live_row).to_have_attribute("data-state", "calltaker", timeout=60_000)
        expect(page.locator("#kpi-calltaker")).to_have_text("1")
        expect(page.locator("#desks tr[data-extension='2001']")).to_have_attribute(
            "data-state", "on-call"
        )
        expect(live_row.locator("button[data-mode=listen]")).to_be_enabled()
        shot(page, "07-board-call-answered")
    finally:
        local_caller_hangs_up(asterisk.config, "9077")

    # The caller has hung up: the call leaves the board and today's count has it.
    expect(live_row).to_have_count(0, timeout=60_000)
    assert int(page.text_content("#kpi-tickets") or "0") >= 1
    assert not page.errors  # type: ignore[attr-defined]


def test_a_number_that_rang_twice_is_one_row_on_the_callback_list(
    asterisk, running_controller, supervisor_api, page
):
    number = "0341990113"
    for _ in range(2):  # nobody at a desk: the caller gives up twice
        place_local_112_call(asterisk.config, f'"Dua Kali" <{number}>', seconds=2)

    def listed() -> dict | None:
        entries = supervisor_api.request("GET", "/api/callbacks")[1]["callbacks"]
        return next((e for e in entries if e["number"] == number and e["count"] == 2), None)

    entry = wait_until(listed, 30, 0.3, "the number never had two calls on the list")
    log_in(page, asterisk.base_url, "penyelia", asterisk.passwords["penyelia"])
    page.goto(asterisk.base_url + "/board")
    rows = page.locator(f"#callbacks tbody tr[data-number='{number}']")
    expect(rows).to_have_count(1)
    expect(rows).to_have_attribute("data-count", "2")
    expect(rows).to_have_attribute("data-ticket", str(entry["ticket"]["id"]))
    expect(rows).to_contain_text("2×")
    expect(rows.get_by_role("button", name="Telepon balik")).to_be_visible()
    shot(page, "06b-board-callbacks")
    assert not page.errors  # type: ignore[attr-defined]


def test_the_reports_page(asterisk, running_controller, page):
    log_in(page, asterisk.base_url, "penyelia", asterisk.passwords["penyelia"])
    page.goto(asterisk.base_url + "/reports?by=hour")
    expect(page.locator("#totals")).to_be_visible()
    assert page.locator("svg.chart").count() == 5  # answer times twice: lived, and the queue
    shot(page, "08-reports")
    page.goto(asterisk.base_url + "/reports/evaluation")
    expect(page.locator("#national")).to_be_visible()
    shot(page, "09-evaluation")
    assert not page.errors  # type: ignore[attr-defined]
