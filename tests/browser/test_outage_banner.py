"""The outage banner in a real browser: Asterisk killed under the real controller that runs it,
the board and a console show "GANGGUAN: Asterisk mati sejak …" (with a beep) until the
controller has Asterisk back, then the banner is gone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import shot
from tests.browser.test_console import log_in
from tests.integration.test_asterisk_outage import supervised_centre
from tests.waiting import wait_until

# Every state the banner takes, as the page drew it: the outage may be over within seconds (the
# controller restarts Asterisk at once), quicker than a test could look at the screen.
WATCH_BANNER = """() => {
  const banner = document.getElementById("outage");
  window.bannerStates = [];
  const note = () => window.bannerStates.push({
    shown: !banner.hidden && banner.offsetHeight > 0,
    text: banner.innerText,
    beeps: Number(banner.dataset.beeps || 0),
  });
  new MutationObserver(note).observe(banner, { attributes: true, childList: true, subtree: true });
}"""


def banner_states(page: Page) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = page.evaluate("() => window.bannerStates")
    return states


def test_the_board_and_the_console_show_an_asterisk_outage_until_it_is_over(
    tmp_path, browser: Browser, page: Page
):
    with supervised_centre(tmp_path) as centre:
        log_in(page, centre.base_url, "penyelia", centre.passwords["penyelia"])
        page.goto(centre.base_url + "/board")
        expect(page.locator("#link")).to_have_attribute("data-up", "yes")
        console_context = browser.new_context(viewport={"width": 1400, "height": 1000})
        console = console_context.new_page()
        console.set_default_timeout(15_000)
        errors: list[str] = []
        console.on("pageerror", lambda e: errors.append(str(e)))
        console.errors = errors  # type: ignore[attr-defined]
        try:
            log_in(console, centre.base_url, "petugas", centre.passwords["petugas"])
            for screen in (page, console):
                expect(screen.locator("#outage")).to_be_hidden()
                screen.evaluate(WATCH_BANNER)

            centre.kill_asterisk()

            for screen in (page, console):
                wait_until(
                    lambda s=screen: any(state["shown"] for state in banner_states(s)),
                    30,
                    0.1,
                    "the banner never showed",
                )
            shot(page, "outage-board")
            for screen in (page, console):
                expect(screen.locator("#outage")).to_be_hidden(timeout=90_000)
                states = banner_states(screen)
                lines = {line for s in states if s["shown"] for line in s["text"].splitlines()}
                asterisk = [line for line in lines if "Asterisk mati" in line]
                assert asterisk, states
                assert asterisk[0].startswith("GANGGUAN: Asterisk mati sejak "), asterisk
                assert asterisk[0].endswith("panggilan 112 tidak masuk"), asterisk
                assert max(s["beeps"] for s in states) >= 1
                assert not states[-1]["shown"]
                assert not screen.errors  # type: ignore[attr-defined]
        finally:
            console_context.close()
