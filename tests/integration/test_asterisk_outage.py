"""Asterisk dying is an outage everyone sees, and it ends by itself: the controller that started
Asterisk (`callcenter run --local-asterisk`, as `make run` does) logs the exit, tells the board
and the consoles, answers desk actions with 503 at once (not after ten minutes), starts Asterisk
again, reconnects AMI, clears the outage and steers desks again. An Asterisk that hangs (SIGSTOP:
still running, its connections open, answering nothing) is an AMI outage too, found by the AMI
client's Pings, over once it answers again.

A private centre (its own Asterisk, controller and ports) beside the shared one, which other
tests need alive."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.telephony.asterisk import LocalAsterisk, instance_paths
from tests import centre as centres
from tests.centre import Api, Console, Controller, cli, load_config, private_instance_toml
from tests.waiting import wait_until

# Every emergency category needs an agency before the centre starts; nobody answers this one.
ROUTING = """
[ivr]
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "ambulance", "electricity", "public-order", "fire"]
primary = "PJSIP/7009"
ring_timeout = 3

[[supervisor_phones]]
extension = "2009"
name = "Penyelia Uji"
username = "penyelia"
secret = "{secret}"
"""

RUNNING = re.compile(r"Asterisk running \(pid (\d+)\)")


class SupervisingController(Controller):
    """The real controller, running its own Asterisk as `make run` does."""

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callcenter",
                "-c",
                str(self.centre.config_path),
                "run",
                "--local-asterisk",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_until(self._healthy, 90, 0.2, "the controller and its Asterisk never became healthy")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def asterisk_pids(self) -> list[int]:
        """Each Asterisk the controller started, in order."""
        return [int(pid) for pid in RUNNING.findall(self.log())]


@dataclass
class SupervisedCentre:
    controller: SupervisingController
    base_url: str
    passwords: dict[str, str]

    def api(self, username: str) -> Api:
        return Api.login(self.base_url, username, self.passwords[username])

    def kill_asterisk(self) -> int:
        """kill -9 of the running Asterisk; its pid."""
        pid = self.controller.asterisk_pids()[-1]
        os.kill(pid, signal.SIGKILL)
        return pid

    @contextmanager
    def asterisk_stopped(self) -> Iterator[int]:
        """SIGSTOP of the running Asterisk (its pid) for the with-block; SIGCONT after it, always:
        a stopped Asterisk would outlive the test and hold its ports."""
        pid = self.controller.asterisk_pids()[-1]
        os.kill(pid, signal.SIGSTOP)
        try:
            yield pid
        finally:
            os.kill(pid, signal.SIGCONT)

    def healthz(self) -> tuple[int, Any]:
        return Api(self.base_url, None).request("GET", "/healthz")

    def wait_restarted(self, killed: int, timeout: float = 90) -> int:
        """Until the controller has started a new Asterisk; its pid."""
        pids: list[int] = wait_until(
            lambda: [p for p in self.controller.asterisk_pids() if p != killed],
            timeout,
            0.2,
            "the controller did not start Asterisk again",
        )
        return pids[-1]


@contextmanager
def supervised_centre(directory: Path) -> Iterator[SupervisedCentre]:
    """A centre of its own whose controller runs (and keeps running) its Asterisk, with a
    call-taker `petugas` (desk 2001) and a supervisor `penyelia`."""
    rtp = 45000 + (os.getpid() % 90) * 100  # no calls here: only kept apart from other centres
    controller_keys = "ami_reconnect_min = 0.2\nami_reconnect_max = 1.0\n"
    text = private_instance_toml(f"outage-{os.getpid()}", rtp, directory, controller_keys)
    config_path = directory / "callcenter.toml"
    config_path.write_text(text + ROUTING.format(secret=secrets.token_urlsafe(16)))
    config = load_config(config_path)
    passwords = {}
    for username, role in (("petugas", "call-taker"), ("penyelia", "supervisor")):
        passwords[username] = secrets.token_urlsafe(12)
        cli(
            config_path,
            "create-user",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=passwords[username] + "\n",
        )
    centre = centres.TestCentre(
        config_path=config_path,
        config=config,
        admin_password="",
        calltaker_password=passwords["petugas"],
        asterisk=LocalAsterisk(config),
        passwords=passwords,
    )
    controller = SupervisingController(centre, directory / "controller.log")
    try:
        controller.start()
        yield SupervisedCentre(controller, centre.base_url, passwords)
    finally:
        controller.stop()  # Ctrl-C of `make run`: it stops its Asterisk too
        # Its Asterisk outlives a controller that was killed or never became healthy: a test
        # must not leave one running (it would hold its ports for the rest of the suite).
        conf = str(config.asterisk.seen_by_asterisk(instance_paths(config).asterisk_conf))
        for pid in controller.asterisk_pids():
            with contextlib.suppress(OSError):
                # Only if that pid is still this centre's Asterisk, not a process that reused it.
                if conf in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    os.kill(pid, signal.SIGKILL)


def down_parts(message: dict[str, Any]) -> list[str]:
    return [d["part"] for d in message["down"]] if message["type"] == "outage" else []


def test_asterisk_killed_is_an_outage_until_the_controller_has_it_back(tmp_path):
    with supervised_centre(tmp_path) as centre:
        calltaker, supervisor = centre.api("petugas"), centre.api("penyelia")
        console, board = Console.of(calltaker), Console.of(supervisor)
        try:
            # All is well, and each feed says so first.
            for feed in (console, board):
                first = feed.wait_for(lambda m: m["seq"] == 1)
                assert (first["type"], first["down"]) == ("outage", [])
            calltaker.desk("2001", "available")
            status, events = calltaker.request("GET", "/api/agents/2001/events")
            assert status == 200, events

            killed = centre.kill_asterisk()

            # The controller noticed, said how it ended, and both feeds are told.
            wait_until(
                lambda: f"Asterisk (pid {killed}) killed by SIGKILL" in centre.controller.log(),
                30,
                0.1,
                "the controller did not log Asterisk's exit",
            )
            assert re.search(
                rf"ERROR .*Asterisk \(pid {killed}\) killed by SIGKILL", centre.controller.log()
            )
            outage = {}
            for name, feed in (("console", console), ("board", board)):
                outage[name] = feed.wait_for(lambda m: "asterisk" in down_parts(m))
                banner = next(d for d in outage[name]["down"] if d["part"] == "asterisk")
                assert banner["text"].startswith("GANGGUAN: Asterisk mati sejak ")
                assert banner["text"].endswith("panggilan 112 tidak masuk")

            # A desk action now is answered at once with 503 (the HTTP client gives up after
            # 10 s: a hang fails here), and nothing is recorded for it.
            status, body = calltaker.request(
                "POST", "/api/agents/2001/state", {"state": "paused", "reason": "istirahat"}
            )
            assert status == 503, body
            assert "telephony unavailable" in body["error"]
            assert calltaker.request("GET", "/api/agents/2001/events") == (200, events)

            # Asterisk is started again, AMI logs in again, and the outage is over.
            restarted = centre.wait_restarted(killed)
            for name, feed in (("console", console), ("board", board)):
                feed.wait_for(
                    lambda m, after=outage[name]["seq"]: (
                        m["type"] == "outage" and m["seq"] > after and m["down"] == []
                    ),
                    timeout=90,
                )
            log = centre.controller.log()
            assert "OUTAGE: asterisk is down: Asterisk killed by SIGKILL" in log
            assert "outage over: asterisk is back" in log
            assert "outage over: ami is back" in log
            assert restarted != killed

            # The desk is steered again, and Asterisk's word of it reaches the console.
            desk = calltaker.desk("2001", "paused", "istirahat")
            assert desk["extension"] == "2001"
            console.wait_for(
                lambda m: m["type"] == "desk" and m["desk"]["state"] == "paused", timeout=30
            )
        finally:
            console.close()
            board.close()


def test_asterisk_hung_is_an_ami_outage_until_it_answers_again(tmp_path):
    with supervised_centre(tmp_path) as centre:
        calltaker, supervisor = centre.api("petugas"), centre.api("penyelia")
        console, board = Console.of(calltaker), Console.of(supervisor)
        try:
            for feed in (console, board):
                first = feed.wait_for(lambda m: m["seq"] == 1)
                assert (first["type"], first["down"]) == ("outage", [])
            calltaker.desk("2001", "available")
            status, events = calltaker.request("GET", "/api/agents/2001/events")
            assert status == 200, events

            with centre.asterisk_stopped():
                # Connected but answering nothing: before, AMI stayed "ok" for as long as it
                # lasted. Now a few unanswered Pings make it an outage both feeds are told of.
                outage = {}
                for name, feed in (("console", console), ("board", board)):
                    outage[name] = feed.wait_for(lambda m: "ami" in down_parts(m), timeout=45)
                    # Asterisk itself has not exited: only AMI is down.
                    assert down_parts(outage[name]) == ["ami"]
                    banner = outage[name]["down"][0]
                    assert banner["reason"] == "AMI not answering"
                    assert banner["text"].startswith("GANGGUAN: Sambungan ke Asterisk (AMI) putus")
                assert "Asterisk answered none of the last 3 Pings" in centre.controller.log()
                status, health = centre.healthz()
                assert status == 503, health
                assert health["parts"]["ami"] == "not answering"

                # A desk action is answered 503 at once: the hung session was dropped, so it
                # is not sent to wait for an answer (the HTTP client gives up after 10 s).
                status, body = calltaker.request(
                    "POST", "/api/agents/2001/state", {"state": "paused", "reason": "istirahat"}
                )
                assert status == 503, body
                assert "telephony unavailable" in body["error"]
                assert calltaker.request("GET", "/api/agents/2001/events") == (200, events)

            # Asterisk runs again: a new AMI session logs in, resyncs, and the outage is over.
            for name, feed in (("console", console), ("board", board)):
                feed.wait_for(
                    lambda m, after=outage[name]["seq"]: (
                        m["type"] == "outage" and m["seq"] > after and m["down"] == []
                    ),
                    timeout=60,
                )
            assert "outage over: ami is back" in centre.controller.log()
            assert centre.healthz()[1]["parts"]["ami"] == "ok"

            # The same Asterisk (never restarted) is steered again.
            assert len(centre.controller.asterisk_pids()) == 1
            assert calltaker.desk("2001", "paused", "istirahat")["extension"] == "2001"
            console.wait_for(
                lambda m: m["type"] == "desk" and m["desk"]["state"] == "paused", timeout=30
            )
        finally:
            console.close()
            board.close()
