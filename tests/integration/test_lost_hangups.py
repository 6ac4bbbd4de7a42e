"""A call whose hangup the controller never heard of is closed; a call that is up never is."""

from __future__ import annotations

import time

from callcenter.live.facts import CHANNEL_GONE
from tests.centre import local_caller_hangs_up, place_local_112_call, record_a_call


def test_a_call_without_a_channel_is_closed_and_a_live_call_is_left_alone(asterisk, admin_api):
    # A real caller who stays on the line through several sweeps (the test centre sweeps every
    # second, and a call is only swept once it is 10 s old), until the test hangs up below.
    place_local_112_call(asterisk.config, '"Masih Di Sini" <0341777001>', seconds=90)
    try:
        live = admin_api.wait_for_ticket(lambda t: t["caller_number"] == "0341777001")
        # A call in the centre's records that Asterisk does not have: as if its Hangup had been
        # lost in an AMI outage and no CDR line named it.
        unique_id = f"gone.{time.monotonic_ns()}"
        record_a_call(asterisk.config, unique_id, "0341777002")

        gone = admin_api.wait_for_ticket(
            lambda t: t["calls"][0]["unique_id"] == unique_id and t["calls"][0]["ended_at"],
            timeout=40,
        )
        assert gone["calls"][0]["hangup_cause"] == CHANNEL_GONE
        # Nobody answered it: it is on the callback list like any abandoned call.
        assert gone["status"] == "abandoned"

        # The sweep that closed it looked at the real call too (older, so past its grace as well).
        status, still = admin_api.request("GET", f"/api/tickets/{live['id']}")
        assert status == 200
        assert still["calls"][0]["ended_at"] is None, still["calls"][0]
        assert not any(e["kind"] == "ended" for e in still["events"])

        # When the real caller hangs up, the call ends with Asterisk's own cause.
    finally:
        local_caller_hangs_up(asterisk.config, "0341777001")
    ended = admin_api.wait_for_ticket(
        lambda t: t["id"] == live["id"] and t["calls"][0]["ended_at"], timeout=40
    )
    assert ended["calls"][0]["hangup_cause"] not in (None, CHANNEL_GONE)
