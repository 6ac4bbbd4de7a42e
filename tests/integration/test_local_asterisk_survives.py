"""A controller killed under `callcenter run --local-asterisk` (what `make run` uses) does not take
Asterisk down with it: the callers stay in the queue, new ones still reach it, and the controller
started again adopts that Asterisk (no second one) and opens the tickets it missed. A clean stop
(Ctrl-C, SIGTERM) still stops Asterisk.

A private centre (its own Asterisk, controller and ports) beside the shared one."""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import suppress
from pathlib import Path

from callcenter.config import Config
from callcenter.telephony.asterisk import LocalAsterisk
from tests.centre import ami_action, local_caller_hangs_up, phone, place_local_112_call
from tests.integration.test_asterisk_outage import supervised_centre
from tests.waiting import wait_until


async def queue_entries(config: Config) -> list[dict[str, str]]:
    reply = await ami_action(config, {"Action": "QueueStatus", "Queue": config.queue.name})
    messages = reply if isinstance(reply, list) else [reply]
    return [dict(m) for m in messages if m.get("Event") == "QueueEntry"]


def waiting_numbers(config: Config) -> set[str]:
    """The callers in the call-takers' queue, as Asterisk itself says (AMI QueueStatus)."""
    return {e["CallerIDNum"] for e in asyncio.run(queue_entries(config))}


def asterisks_of(config: Config) -> list[int]:
    """Every Asterisk process running this centre's instance (`asterisk -C <its conf> -f`)."""
    conf = config.asterisk.seen_by_asterisk(LocalAsterisk(config).paths.asterisk_conf)
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if proc.name.isdigit() and Path(argv[0]).name == "asterisk" and conf in argv:
            if "-f" in argv:
                pids.append(int(proc.name))
    return pids


def test_asterisk_and_its_callers_outlive_a_killed_controller(tmp_path):
    with supervised_centre(tmp_path) as centre:
        controller = centre.controller
        config = controller.centre.config
        try:
            # A call-taker is logged in but does not pick up: callers wait in the queue.
            desk = phone(controller.centre, "2001", answer=False)
            try:
                centre.api("petugas").desk("2001", "available")
                [asterisk] = controller.asterisk_pids()
                place_local_112_call(config, '"Penelepon Satu" <9101>', seconds=180)
                wait_until(
                    lambda: "9101" in waiting_numbers(config),
                    30,
                    0.2,
                    "the first caller never reached the queue",
                )

                controller.kill()  # kill -9: no goodbye to Asterisk

                # Asterisk goes on: a new caller gets to the queue, where the first still waits.
                try:
                    place_local_112_call(config, '"Penelepon Dua" <9102>', seconds=180)
                except Exception as e:
                    raise AssertionError(f"no 112 call without the controller: {e!r}") from e
                wait_until(
                    lambda: {"9101", "9102"} <= waiting_numbers(config),
                    30,
                    0.2,
                    lambda: f"in the queue without the controller: {waiting_numbers(config)}",
                )
                assert asterisks_of(config) == [asterisk]

                # The same command again: it adopts that Asterisk rather than start another.
                controller.start()
                assert (
                    f"adopted Asterisk pid {asterisk} left running by a previous controller"
                    in controller.log()
                )
                assert controller.asterisk_pids() == [asterisk]
                assert asterisks_of(config) == [asterisk]
                # Both callers have their tickets, with their numbers, still waiting.
                supervisor = centre.api("penyelia")
                for number in ("9101", "9102"):
                    supervisor.wait_for_ticket(
                        lambda t, n=number: t["caller_number"] == n and t["status"] == "queued",
                        timeout=30,
                    )
                assert {"9101", "9102"} <= waiting_numbers(config)
                for number in ("9101", "9102"):
                    local_caller_hangs_up(config, number)
            finally:
                desk.stop()

            # A clean stop (Ctrl-C of `make run`) stops the adopted Asterisk too.
            controller.stop()
            wait_until(
                lambda: not asterisks_of(config),
                30,
                0.2,
                "Asterisk outlived a controller stopped cleanly",
            )
            assert "Asterisk stopped" in controller.log()
        finally:
            # Whatever failed above, no Asterisk of this centre is left behind.
            controller.kill()
            for pid in asterisks_of(config):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
