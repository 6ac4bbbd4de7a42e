"""Which running process a controller adopts as its instance's Asterisk, and how it follows one it
cannot wait() on. Stand-in processes named `asterisk` (a shell) play the part: the real Asterisk
is in tests/integration/test_local_asterisk_survives.py."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path

from callcenter.telephony.asterisk import LeftRunning, LocalAsterisk, RestartDelays
from tests.unit.fakes import routing_config
from tests.waiting import until_async, wait_until


def local_asterisk(tmp_path: Path) -> LocalAsterisk:
    config = routing_config(tmp_path)
    asterisk = replace(config.asterisk, root="/", instance_dir=str(tmp_path / "instance"))
    local = LocalAsterisk(replace(config, asterisk=asterisk), outlive_parent=True)
    (local.paths.host / "run").mkdir(parents=True)
    return local


@contextmanager
def process_named_asterisk(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line reads `asterisk <args>` (a shell that waits)."""
    process = subprocess.Popen(
        ["asterisk", "-c", "sleep 60; :", *args], executable="/bin/sh", start_new_session=True
    )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_only_this_instances_asterisk_in_the_foreground_is_adopted(tmp_path):
    local = local_asterisk(tmp_path)
    conf = str(local.paths.asterisk_conf)
    with (
        process_named_asterisk("-C", str(tmp_path / "other" / "asterisk.conf"), "-f"),
        process_named_asterisk("-C", conf, "-rx", "core show version") as console,
    ):
        assert local._left_running() is None
        with process_named_asterisk("-C", conf, "-f") as ours:
            # A pid file naming a remote console of it (not Asterisk itself) is not believed.
            (local.paths.host / "run" / "asterisk.pid").write_text(f"{console.pid}\n")
            found = local._left_running()
            assert found is not None and found.pid == ours.pid
            (local.paths.host / "run" / "asterisk.pid").write_text(f"{ours.pid}\n")
            assert local._left_running() == found


def test_an_adopted_asterisk_that_is_gone_or_another_process_is_not_alive(tmp_path):
    with process_named_asterisk("-f") as process:
        left = LeftRunning.of(process.pid)
        assert left is not None and left.alive()
        # The same pid, started at another time, is another process.
        assert not replace(left, started=str(int(left.started) - 1)).alive()
        os.killpg(process.pid, signal.SIGKILL)
        # Dead but not yet reaped (a zombie) is dead.
        wait_until(lambda: not left.alive(), 10, 0.01, "a killed process still counts as alive")
        assert process.poll() == -signal.SIGKILL


async def test_the_keeper_notices_an_adopted_asterisk_exit_and_a_stop_ends_it(tmp_path):
    local = local_asterisk(tmp_path)
    local.restarts = RestartDelays(low=3600)  # no new Asterisk started in this test
    exits: list[str] = []
    with process_named_asterisk("-C", str(local.paths.asterisk_conf), "-f") as first:
        local.adopted = LeftRunning.of(first.pid)
        local.keep_running(on_exit=exits.append, on_running=lambda: None)
        assert local.pid == first.pid
        os.killpg(first.pid, signal.SIGKILL)

        async def told() -> list[str]:
            return exits

        await until_async(told, 10, 0.05, "the exit went unnoticed")
        assert exits == ["exited (adopted: how it ended is not known)"]
        assert local.down_because == exits[0] and local.adopted is None
        await local.stop()

    with process_named_asterisk("-C", str(local.paths.asterisk_conf), "-f") as second:
        local.adopted = LeftRunning.of(second.pid)
        await local.stop(timeout=10)  # SIGTERM, as a clean stop of the controller sends
        assert second.wait(timeout=10) == -signal.SIGTERM
        assert local.adopted is None
