"""A caller whose phone vanishes without hanging up (no BYE: a mobile network dropping them) is hung
up by Asterisk once their audio stops, lands on the callback list, and is never handed to a
call-taker."""

from __future__ import annotations

import pytest

from callcenter.live.facts import MEDIA_LOST
from callcenter.tickets.lifecycle import MEDIA_LOST_FLAG
from tests.centre import (
    TEST_RTP_TIMEOUT,
    Api,
    hear_the_welcome,
    live_channels,
    local_caller_hangs_up,
    phone,
    place_local_112_call,
    run_async,
)
from tests.integration.test_callbacks_and_restrictions import callback_entry
from tests.waiting import wait_until


@pytest.fixture
def petugas2_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas2", asterisk.passwords["petugas2"])


def channel_names(asterisk) -> set[str]:
    return {c["Channel"] for c in run_async(live_channels(asterisk.config))}


def test_a_caller_whose_phone_vanishes_is_hung_up_and_called_back_not_answered(
    asterisk, admin_api, supervisor_api, calltaker_api, petugas2_api
):
    # A call-taker is logged in but their phone only rings: the caller waits in the queue.
    ringing_desk = phone(asterisk, "2001", answer=False)
    calltaker_api.desk("2001", "available")
    caller = phone(asterisk, "9002")
    try:
        before = {t["id"] for t in admin_api.tickets(limit="500")}
        hear_the_welcome(caller.dial("112"))
        ringing_desk.wait_rang(timeout=20)
        waiting = admin_api.wait_for_ticket(
            lambda t: t["id"] not in before and t["caller_number"] == "9002" and t["queued_at"]
        )
        channel = waiting["calls"][0]["channel"]
        assert channel in channel_names(asterisk)

        caller.vanish()

        # No BYE ever comes: only the silence tells Asterisk the caller is gone.
        wait_until(
            lambda: channel not in channel_names(asterisk),
            4 * TEST_RTP_TIMEOUT,
            0.2,
            f"{channel} is still up after its phone vanished",
        )
        gone = admin_api.wait_for_ticket(
            lambda t: t["id"] == waiting["id"] and t["calls"][0]["ended_at"]
        )
        assert gone["calls"][0]["hangup_cause"] == MEDIA_LOST
        ended = [e for e in gone["events"] if e["kind"] == "ended"]
        assert [e["data"]["cause"] for e in ended] == [MEDIA_LOST]
        assert MEDIA_LOST_FLAG in gone["flags"]
        # Nobody answered them: they are called back like any caller who was cut off waiting.
        assert gone["status"] == "abandoned"
        entry = callback_entry(supervisor_api, "9002")
        assert entry is not None
        assert waiting["id"] in [c["ticket_id"] for c in entry["calls"]]
    finally:
        calltaker_api.desk("2001", "logged-out")
        ringing_desk.stop()
        caller.stop()

    # A call-taker who logs in now gets the next caller; the vanished one is not waiting any more.
    desk = phone(asterisk, "2002", answer=True)
    petugas2_api.desk("2002", "available")
    try:
        place_local_112_call(asterisk.config, '"Penelepon Berikut" <0341555112>', seconds=60)
        desk.wait_answered(timeout=30)
        admin_api.wait_for_ticket(
            lambda t: t["caller_number"] == "0341555112" and t["status"] == "answered"
        )
        assert desk.rang == 1
        status, dead = admin_api.request("GET", f"/api/tickets/{waiting['id']}")
        assert status == 200
        assert not any(e["kind"] == "answered" for e in dead["events"])
    finally:
        local_caller_hangs_up(asterisk.config, "0341555112")
        petugas2_api.desk("2002", "logged-out")
        desk.stop()
