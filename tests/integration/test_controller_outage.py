"""With the controller down, 112 calls still reach the call-takers' queue and no ticket is lost."""

from __future__ import annotations

import asyncio
import re
import time

from callcenter.telephony.asterisk import instance_paths
from callcenter.telephony.cdr import parse_lines
from tests.centre import ami_action, phone, place_local_112_call

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
        # Two calls end while the controller runs; its sweeps (every 3 s here) handle their call
        # records and save the place, so the restart below must not take them up again.
        for number in ("9003", "9004"):
            place_local_112_call(asterisk.config, f'"Selesai" <{number}>', seconds=1)
        for number in ("9003", "9004"):
            admin_api.wait_for_ticket(
                lambda t, n=number: t["caller_number"] == n and t["ended_at"] is not None
            )
        time.sleep(10)
        settled = len(parse_lines(cdr_csv.read_text().splitlines()))
        assert settled >= 2
        log_before = running_controller.log_path.read_text()
        running_controller.kill()  # hard: no goodbye to Asterisk

        # A caller who waits in the queue during the outage…
        # (it hears the welcome, ~7 s, and "connecting you to a call-taker" before it queues).
        place_local_112_call(asterisk.config, '"Penelepon Satu" <9001>', seconds=35)
        entries: list[dict[str, str]] = []
        for _ in range(100):
            entries = [
                e for e in asyncio.run(queue_entries(asterisk.config)) if e["CallerIDNum"] == "9001"
            ]
            if entries:
                break
            time.sleep(0.2)
        assert entries, "the caller did not reach the call-takers' queue without the controller"
        waiting_id = entries[0]["Uniqueid"]

        # …and one who gives up and hangs up before the controller is back (Asterisk places it).
        place_local_112_call(asterisk.config, '"Penelepon Dua" <9002>', seconds=2)
        time.sleep(4)  # the Local call hangs up after 2 s; its CDR line is written at hangup

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

        # The waiting caller hangs up (after 35 s) without a call-taker: the live ticket follows.
        admin_api.wait_for_ticket(
            lambda t: t["calls"][0]["unique_id"] == waiting_id and t["status"] == "abandoned",
            timeout=40,
        )
        assert desk.rang > 0 and not desk.answered
    finally:
        # A desk left in the queue would keep later tests' queue from ever being empty; the
        # test's own AMI session, since the controller may be what failed.
        asyncio.run(
            ami_action(
                asterisk.config,
                {"Action": "QueueRemove", "Queue": "calltakers", "Interface": "PJSIP/2001"},
            )
        )
        desk.stop()
