"""What the bench scripts share: a private centre to run against, percentiles, CPU time."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from callcenter.telephony.asterisk import LocalAsterisk


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Every call overflows to an agency nobody answers (then waits): the benches measure the
# controller, not an agency's phone.
NO_AGENCY = """
[ivr]
describe = false
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "ambulance", "electricity", "public-order", "fire"]
primary = "PJSIP/7009"
ring_timeout = 3
"""


def bench_config(directory: Path, name: str, rtp_base: int, extra: str = "") -> Path:
    """A private centre for a bench run (own instance, ports, database in `directory`)."""
    from tests.centre import private_instance_toml

    rtp = rtp_base + (os.getpid() % 100) * 100
    path = directory / "callcenter.toml"
    path.write_text(
        private_instance_toml(f"{name}-{os.getpid()}", rtp, directory) + extra + NO_AGENCY
    )
    return path


def add_bench_parts(
    local: LocalAsterisk, dialplan: str, user: str, secret: str, read: str, write: str, events: str
) -> None:
    """A bench's own dialplan and AMI user (seeing only `events`, a regex of event names), added
    to the instance's rendered config; reload the dialplan and manager afterwards."""
    etc = local.paths.etc
    with (etc / "extensions.conf").open("a") as f:
        f.write(dialplan)
    with (etc / "manager.conf").open("a") as f:
        f.write(
            f"""
[{user}]
secret = {secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = {read}
write = {write}
eventfilter = Event: ({events})
"""
        )


def create_user(config_path: Path, username: str, role: str) -> str:
    """A login on the bench's centre (through the CLI, as an operator would); its password."""
    password = secrets.token_urlsafe(12)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "-c",
            str(config_path),
            "create-user",
            username,
            "--role",
            role,
            "--password-stdin",
        ],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    return password
