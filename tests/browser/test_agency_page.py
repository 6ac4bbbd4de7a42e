"""The agency's page in a real browser against the real centre: Polresta's officer logs in, sees
only the tickets assigned to Polresta, and moves one through en-route → on-scene → cleared while
the call-taker who took the call watches each change arrive on their console."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, shot
from tests.browser.test_console import join_queue, log_in
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


@pytest.fixture
def agency_page(browser: Browser, request):
    """A second browser, the agency's, beside the call-taker's."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000}, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-agency-last.png"), full_page=True)
    context.close()


def agency_logs_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(base_url + "/agency")  # an agency lands on its own page
    expect(page.locator("#link")).to_have_attribute("data-up", "yes")


def assign(api, ticket_id: int, agency: str) -> dict:
    status, body = api.request("POST", f"/api/tickets/{ticket_id}/assignments", {"agency": agency})
    assert status == 200, body
    assignment: dict = body["assignment"]
    return assignment


def test_an_agency_follows_its_ticket_to_the_end_and_the_console_sees_it(
    asterisk, running_controller, admin_api, calltaker_api, pmi_api, page, agency_page, desk_phone
):
    # Another agency's ticket: a caller who hung up before anyone answered, assigned to PMI.
    other_number = "0341555014"
    place_local_112_call(asterisk.config, f'"Lain Instansi" <{other_number}>', seconds=2)
    other = wait_until(
        lambda: next(
            (t for t in admin_api.tickets(caller_number=other_number) if t["ended_at"]), None
        ),
        40,
        0.3,
        "the other ticket never ended",
    )
    assign(calltaker_api, other["id"], "pmi")

    # The call-taker answers a real call on the console.
    log_in(page, asterisk.base_url, "petugas", asterisk.calltaker_password)
    join_queue(page)
    number = "0341555114"
    place_scripted_112_call(asterisk.config, f'"Korban Jambret" <{number}>', keys="1", stay=120)
    try:
        expect(page.locator("#pop-stage")).to_have_attribute(
            "data-stage", "answered", timeout=60_000
        )
        ticket_id = int(page.text_content("#ticket-id") or "0")
        page.fill("#f-what", "Tas dijambret di depan pasar, pelaku naik motor ke arah selatan")
        page.fill("#f-address", "Jl. Pasar Besar 1")
        page.fill("#f-landmark", "depan toko emas")
        page.click("#btn-save")
        expect(page.locator("#saved")).to_contain_text("Tersimpan")
        assign(calltaker_api, ticket_id, "polresta")
        row = page.locator("#assignments li[data-agency=polresta]")
        expect(row).to_have_attribute("data-status", "assigned")
        # A note for the agency: in the ticket's log at once.
        page.fill("#f-note", "Korban trauma, minta polwan <jika ada>")
        page.click("#btn-note")
        expect(page.locator("#events li[data-kind='note']", has_text="catatan:")).to_contain_text(
            "Korban trauma, minta polwan <jika ada>"
        )
        expect(page.locator("#f-note")).to_have_value("")

        # Polresta's officer: its ticket, not PMI's; no caller's number (Polresta's config).
        agency_logs_in(agency_page, asterisk.base_url, "polresta1", asterisk.passwords["polresta1"])
        card = agency_page.locator(f".card[data-ticket='{ticket_id}']")
        expect(card).to_be_visible()
        expect(card.locator(".what")).to_have_text(
            "Tas dijambret di depan pasar, pelaku naik motor ke arah selatan"
        )
        expect(card.locator(".address")).to_have_text("Jl. Pasar Besar 1")
        expect(card.locator(".caller")).to_have_count(0)
        expect(card.locator(".notes li")).to_have_text(
            [re.compile(r"petugas: Korban trauma, minta polwan <jika ada>$")]
        )
        # The agency's own note: on its card, and live in the console's log.
        card.locator(".note").fill("Unit menuju lokasi")
        card.get_by_role("button", name="Tambah catatan").click()
        expect(card.locator(".notes li")).to_have_count(2)
        expect(card.locator(".notes li").nth(1)).to_contain_text("polresta1: Unit menuju lokasi")
        expect(
            page.locator("#events li[data-kind='note']", has_text="catatan instansi:")
        ).to_contain_text("Unit menuju lokasi")
        expect(agency_page.locator(f".card[data-ticket='{other['id']}']")).to_have_count(0)
        assert number not in agency_page.content()
        shot(agency_page, "20-agency-assigned")

        # En route, on scene, cleared: each shows on the console as it happens.
        for button, status, said in (
            ("Berangkat", "en-route", "berangkat"),
            ("Tiba di lokasi", "on-scene", "tiba di lokasi"),
        ):
            card.get_by_role("button", name=button).click()
            expect(card).to_have_attribute("data-status", status)
            expect(row).to_have_attribute("data-status", status)
            expect(
                page.locator("#events li[data-kind='agency-status']", has_text=said)
            ).to_have_count(1)
        shot(agency_page, "21-agency-on-scene")
        shot(page, "22-console-agency-on-scene")

        card.locator(".text").fill("Pelaku diamankan, tas dikembalikan ke korban")
        card.get_by_role("button", name="Selesai").click()
        expect(card).to_have_count(0)  # closed: off the agency's open list
        expect(row).to_have_attribute("data-status", "cleared")
        expect(
            page.locator("#events li[data-kind='agency-status']", has_text="selesai")
        ).to_contain_text("Pelaku diamankan")
        shot(page, "23-console-agency-cleared")
        shot(agency_page, "24-agency-cleared")

        # PMI, assigned too, declines: the console that took the call is told to find another.
        pmi = assign(calltaker_api, ticket_id, "pmi")
        status, body = pmi_api.request(
            "POST",
            f"/api/assignments/{pmi['id']}/status",
            {"status": "declined", "text": "bukan medis"},
        )
        assert status == 200, body
        said = f"Ditolak oleh PMI Kota Malang: bukan medis — tiket #{ticket_id} perlu instansi lain"
        expect(page.locator("#notice")).to_have_text(said)
        expect(page.locator("#alert")).to_have_text(said)
        shot(page, "25-console-agency-declined")
    finally:
        local_caller_hangs_up(asterisk.config, number)

    # What the pages showed is what was stored: three moves by the officer.
    status, detail = admin_api.request("GET", f"/api/tickets/{ticket_id}")
    moves = [
        e["data"]
        for e in detail["events"]
        if e["kind"] == "agency-status" and e["data"]["agency"] == "polresta"
    ]
    assert [(m["from"], m["to"], m["actor"]) for m in moves] == [
        (None, "assigned", "petugas"),
        ("assigned", "en-route", "polresta1"),
        ("en-route", "on-scene", "polresta1"),
        ("on-scene", "cleared", "polresta1"),
    ]
    assert not page.errors  # type: ignore[attr-defined]
    assert not agency_page.errors  # type: ignore[attr-defined]


def test_a_calltaker_assigns_an_agency_from_the_console_after_the_caller_hung_up(
    asterisk, running_controller, admin_api, calltaker_api, page, desk_phone
):
    log_in(page, asterisk.base_url, "petugas", asterisk.calltaker_password)
    join_queue(page)
    number = "0341555214"
    place_scripted_112_call(asterisk.config, f'"Pohon Tumbang" <{number}>', keys="1", stay=120)
    try:
        expect(page.locator("#pop-stage")).to_have_attribute(
            "data-stage", "answered", timeout=60_000
        )
        ticket_id = int(page.text_content("#ticket-id") or "0")
    finally:
        local_caller_hangs_up(asterisk.config, number)
    # The caller is gone; the call-taker finishes the ticket on the screen.
    expect(page.locator("#events li[data-kind='ended']")).to_have_count(1)

    # An agency the centre does not have (a tampered page): the server's refusal is shown and
    # nothing is assigned.
    page.locator("#agency").evaluate("select => select.append(new Option('Palsu', 'palsu<b>'))")
    page.select_option("#agency", "palsu<b>")
    page.click("#btn-assign")
    expect(page.locator("#notice")).to_have_text(
        "agency must be an agency id (polresta, pmi, lainnya)"
    )
    expect(page.locator("#assignments li")).to_have_count(0)

    page.select_option("#agency", "pmi")
    page.click("#btn-assign")
    given = page.locator("#assignments li[data-agency=pmi]")
    expect(given).to_have_text("PMI Kota Malang: ditugaskan")
    expect(given).to_have_attribute("data-status", "assigned")
    expect(page.locator("#notice")).to_be_hidden()
    shot(page, "26-console-assigned-without-bridge")

    status, detail = admin_api.request("GET", f"/api/tickets/{ticket_id}")
    assert status == 200, detail
    moves = [
        e["data"]
        for e in detail["events"]
        if e["kind"] == "agency-status" and e["data"]["agency"] == "pmi"
    ]
    assert [(m["from"], m["to"], m["actor"]) for m in moves] == [(None, "assigned", "petugas")]
    assert not [e for e in detail["events"] if e["kind"] == "dispatch-requested"]
    assert not page.errors  # type: ignore[attr-defined]
