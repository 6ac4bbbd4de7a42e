"""With the controller down, 112 calls still reach the call-takers' queue and no ticket is lost."""

from __future__ import annotations

import asyncio
import re

from callcenter.telephony.asterisk import instance_paths
from callcenter.telephony.cdr import parse_lines
from tests.centre import (
    ami_action,
    call_record_written,
    call_records_handled,
    local_caller_hangs_up,
    phone,
    place_local_112_call,
)
from tests.waiting import wait_until

RESYNC = re.compile(r"AMI resync: (\d+) 112 calls ended while away")


async def queue_entries(config) -> list[dict[str, str]]:
    reply = await ami_action(config, {"Action": "QueueStatus", "Queue": config.queue.name})
    messages = reply if isinstance(reply, list) else [reply]
    return [dict(m) for m in messages if m.get("Event") == "QueueEntry"]


def test_call_is_queued_and_ticketed_while_controller_is_down(
    asterisk, running_controller, admin_api, calltaker_api
):
    # A call-taker is logged in but busy elsewhere (the phone rings unanswered): callers wait in
    # the queue rather than overflow to an agency. Asterisk keeps them in the queue while the
    # controller is down.
    desk = phone(asterisk, "2001", answer=False)
    calltaker_api.desk("2001", "available")
    cdr_csv = instance_paths(asterisk.config).cdr_csv
    try:
        # Two calls end while the controller runs; its sweeps (every second here) handle their
        # call records and save the place, so the restart below must not take them up again.
        for number in ("9003", "9004"):
            place_local_112_call(asterisk.config, f'"Selesai" <{number}>', seconds=1)
        for number in ("9003", "9004"):
            unique_id = admin_api.wait_for_ticket(
                lambda t, n=number: t["caller_number"] == n and t["ended_at"] is not None
            )["calls"][0]["unique_id"]
            call_record_written(asterisk.config, lambda e, u=unique_id: e.call.unique_id == u)
        call_records_handled(asterisk)
        settled = len(parse_lines(cdr_csv.read_text().splitlines()))
        assert settled >= 2
        log_before = running_controller.log_path.read_text()
        running_controller.kill()  # hard: no goodbye to Asterisk

        # A caller who waits in the queue during the outage…
        # (it hears the welcome, ~7 s, and "connecting you to a call-taker" before it queues; it
        # stays until the test hangs up for it below).
        place_local_112_call(asterisk.config, '"Penelepon Satu" <9001>', seconds=120)
        entries = wait_until(
            lambda: [
                e for e in asyncio.run(queue_entries(asterisk.config)) if e["CallerIDNum"] == "9001"
            ],
            30,
            0.2,
            "the caller did not reach the call-takers' queue without the controller",
        )
        waiting_id = entries[0]["Uniqueid"]

        # …and one who gives up and hangs up before the controller is back (Asterisk places it,
        # and writes its call record at the hangup).
        def records_of_9002() -> set[str]:
            lines = cdr_csv.read_text().splitlines()
            return {e.call.unique_id for e in parse_lines(lines) if e.call.caller_number == "9002"}

        earlier = records_of_9002()
        place_local_112_call(asterisk.config, '"Penelepon Dua" <9002>', seconds=2)
        call_record_written(
            asterisk.config,
            lambda e: e.call.caller_number == "9002" and e.call.unique_id not in earlier,
        )

        running_controller.start()

        ticket = admin_api.wait_for_ticket(lambda t: t["calls"][0]["unique_id"] == waiting_id)
        assert ticket["source"] == "reconciled"
        assert ticket["status"] == "queued"
        assert ticket["caller_number"] == "9001"

        ended = admin_api.wait_for_ticket(
            lambda t: t["caller_number"] == "9002" and t["source"] == "reconciled"
        )
        assert ended["status"] == "abandoned"
        assert ended["ended_at"] is not None
        assert ended["arrived_at"] < ended["ended_at"]
        # The restart took up the call records where the last run saved its place: 9002's and
        # whatever ended after the sweeps above, not the records already handled.
        total = len(parse_lines(cdr_csv.read_text().splitlines()))
        resync = RESYNC.findall(running_controller.log_path.read_text()[len(log_before) :])
        assert resync and 1 <= int(resync[0]) <= total - settled, (resync, settled, total)

        # The waiting caller hangs up without a call-taker, once the desk has rung for them: the
        # live ticket follows.
        desk.wait_rang(timeout=30)
        local_caller_hangs_up(asterisk.config, "9001")
        admin_api.wait_for_ticket(
            lambda t: t["calls"][0]["unique_id"] == waiting_id and t["status"] == "abandoned",
            timeout=40,
        )
        assert desk.rang > 0 and not desk.answered
    finally:
        # A desk left in the queue would keep later tests' queue from ever being empty; the
        # test's own AMI session, since the controller may be what failed. Nor may a caller stay.
        local_caller_hangs_up(asterisk.config, "9001")
        asyncio.run(
            ami_action(
                asterisk.config,
                {"Action": "QueueRemove", "Queue": "calltakers", "Interface": "PJSIP/2001"},
            )
        )
        desk.stop()
