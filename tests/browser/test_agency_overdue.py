"""The supervisors' board in a real browser when an agency lets a ticket down: a deadline missed for
real (the controller's own deadline engine, seconds-long deadlines) shows its notice, marks the
ticket's row and sounds the alarm; the agency then declines, and the ticket waits in "perlu
ditugaskan ulang" with a sounding alert until the supervisor gives it to another agency from
that list.

A centre of this module's own (tests/centre.py `private_centre`, as the callout test has): its
deadlines would re-alert the shared centre's agencies in the middle of other tests."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import shot
from tests.browser.test_console import log_in
from tests.centre import Api, private_centre
from tests.integration.test_agency_callout import assign, police_ticket
from tests.waiting import wait_until

# Polresta must acknowledge within 3 s; 1 s after its re-alert the board is told. Nobody is
# called (callout = false): the ladder climbs all the same, and no phone is needed to see it.
CENTRE = """
[ivr]
default_agency = "lainnya"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "public-order"]
primary = "PJSIP/7001"
callout = false
acknowledge_within = 3
escalate_after = 1

[[agencies]]
id = "lainnya"
name = "Instansi Lain"
categories = ["ambulance", "electricity", "fire"]
primary = "PJSIP/7009"
callout = false
"""
# Unlike the shared centre's (20000-39999), the outage test's (45000-53999) and the callout
# test's (54000-62999).
RTP = 40000 + (os.getpid() % 50) * 100

# What the page did to be heard: every tone it started through Web Audio, counted as it starts
# (the page sounds only once a supervisor has clicked, which a test does not; the attempt is
# what the board decides, and what is asserted).
COUNT_TONES = """() => {
  window.tones = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.tones += 1;
    return start.apply(this, args);
  };
}"""


@pytest.fixture(scope="module")
async def centre(tmp_path_factory):
    users = {
        "admin": "admin",
        "petugas": "call-taker",
        "penyelia": "supervisor",
        "polisi": "agency:polresta",
    }
    directory = tmp_path_factory.mktemp("overdue")
    controller = "deadline_check = 1\n"  # the engine looks for passed deadlines every second
    instance = f"overdue-{os.getpid()}"
    async with private_centre(directory, instance, RTP, CENTRE, users, controller) as (centre, _):
        yield centre


@pytest.fixture(scope="module")
def apis(centre):
    return {
        name: Api.login(centre.base_url, name, centre.passwords[name]) for name in centre.passwords
    }


def tones(page: Page) -> int:
    return int(page.evaluate("() => window.tones"))


# `centre` before `browser` (through `page`): the centre is started before Playwright runs a loop
# on this thread, and stopped after it has.
def test_the_board_sounds_an_overdue_ticket_and_keeps_a_declined_one_until_reassigned(
    centre, apis, page: Page
):
    page.add_init_script(f"({COUNT_TONES})()")
    log_in(page, centre.base_url, "penyelia", centre.passwords["penyelia"])
    page.goto(centre.base_url + "/board")
    expect(page.locator("#link")).to_have_attribute("data-up", "yes")
    expect(page.locator("#reassign-none")).to_be_visible()
    assert tones(page) == 0

    # A real call's ticket, assigned to Polresta, which never acknowledges it.
    ticket_id = police_ticket(centre, apis, "0811000101")
    assignment = assign(apis, ticket_id)
    row = page.locator(f'#assignments tr[data-assignment="{assignment["id"]}"]')
    expect(row).to_have_attribute("data-status", "assigned")

    # Re-alerted, then raised on the board: the notice names the ticket, the row is marked, and
    # the alarm sounds.
    notice = page.locator("#notice")
    expect(notice).to_have_text(
        f"Polresta Malang Kota terlambat menerima untuk tiket #{ticket_id}", timeout=40_000
    )
    expect(notice).to_have_class("notice bad")
    expect(row).to_have_attribute("data-overdue", "raised")
    expect(row).to_contain_text("TERLAMBAT menerima")
    wait_until(lambda: tones(page) >= 2, 10, 0.1, "the overdue alarm never sounded")
    overdue_tones = tones(page)
    shot(page, "board-agency-overdue")

    # Polresta declines: the ticket is back with the centre, in the list, with a sounding alert.
    status, body = apis["polisi"].request(
        "POST",
        f"/api/assignments/{assignment['id']}/status",
        {"status": "declined", "text": "bukan wilayah kami"},
    )
    assert status == 200, body
    said = (
        "Ditolak oleh Polresta Malang Kota: bukan wilayah kami"
        f" — tiket #{ticket_id} perlu instansi lain"
    )
    expect(notice).to_have_text(said)
    waiting = page.locator(f'#reassign li[data-ticket="{ticket_id}"]')
    expect(waiting.locator(".what")).to_have_text(said)
    expect(page.locator("#reassign-none")).to_be_hidden()
    expect(row).to_have_count(0)  # a declined assignment is no longer an agency's open one
    wait_until(lambda: tones(page) > overdue_tones, 10, 0.1, "the decline never sounded")
    shot(page, "board-declined")

    # A board opened now finds it waiting too.
    page.reload()
    expect(page.locator("#link")).to_have_attribute("data-up", "yes")
    expect(waiting.locator(".what")).to_have_text(said)

    # The supervisor gives it to another agency from its row. No agency picked, or one that is
    # not the centre's (a tampered page): a clear refusal, and the ticket still waits.
    agencies = waiting.get_by_role("combobox")
    expect(agencies.locator("option")).to_have_text(
        ["(pilih instansi)", "Polresta Malang Kota", "Instansi Lain"]
    )
    waiting.get_by_role("button", name="Tugaskan").click()
    expect(notice).to_have_text(f"Pilih instansi untuk tiket #{ticket_id}")
    agencies.evaluate("select => select.append(new Option('Palsu', 'palsu<b>'))")
    agencies.select_option("palsu<b>")
    waiting.get_by_role("button", name="Tugaskan").click()
    expect(notice).to_have_text("Gagal: agency must be an agency id (polresta, lainnya)")
    expect(waiting).to_have_count(1)
    assert assigned_to(apis, "lainnya", ticket_id) == []

    # Given to another agency, it leaves the list; the assignment is the supervisor's.
    agencies.select_option("lainnya")
    waiting.get_by_role("button", name="Tugaskan").click()
    expect(notice).to_have_text(f"Tiket #{ticket_id} ditugaskan ke Instansi Lain")
    expect(waiting).to_have_count(0)
    expect(page.locator("#reassign-none")).to_be_visible()
    shot(page, "board-reassigned")
    [given] = assigned_to(apis, "lainnya", ticket_id)
    assert (given["status"], given["moved_by"]) == ("assigned", "penyelia")
    assert not page.errors  # type: ignore[attr-defined]


def assigned_to(apis, agency: str, ticket_id: int) -> list[dict]:
    """The agency's open assignments of the ticket, as the API gives them to a supervisor."""
    status, body = apis["penyelia"].request("GET", f"/api/agency/assignments?agency={agency}")
    assert status == 200, body
    return [
        item["assignment"]
        for item in body["assignments"]
        if item["assignment"]["ticket_id"] == ticket_id
    ]
