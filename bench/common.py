"""What the bench scripts share: a private centre to run against, percentiles, CPU time."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from panoramisk import Manager

from callcenter.config import Config
from callcenter.telephony.asterisk import LocalAsterisk

# BENCH_PROFILE=FILE: the controller runs under cProfile and writes its profile there.
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
)


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
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "ambulance", "electricity", "public-order", "fire"]
primary = "PJSIP/7009"
ring_timeout = 3
"""


def bench_config(
    directory: Path, name: str, rtp_base: int, extra: str = "", routing: str = NO_AGENCY
) -> Path:
    """A private centre for a bench run (own instance, ports, database in `directory`).
    `routing`: its [ivr] and [[agencies]] (by default every call overflows to NO_AGENCY)."""
    from tests.centre import private_instance_toml

    rtp = rtp_base + (os.getpid() % 100) * 100
    path = directory / "callcenter.toml"
    path.write_text(
        private_instance_toml(f"{name}-{os.getpid()}", rtp, directory) + extra + routing
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


async def login(http: aiohttp.ClientSession, base: str, username: str, password: str) -> str:
    """A login through the web API, as a console does; its bearer token."""
    async with http.post(
        f"{base}/api/login", json={"username": username, "password": password}
    ) as r:
        r.raise_for_status()
        token: str = (await r.json())["token"]
        return token


@asynccontextmanager
async def controller_running(
    config_path: Path,
    config: Config,
    need: Sequence[str] = ("database", "ami", "agi"),
    python_args: Sequence[str] = PROFILE,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`callcenter run` on the bench's config, as an operator starts it (its log beside the
    config), once /healthz says the parts the bench `need`s are up; stopped on the way out."""
    log_path = config_path.parent / "controller.log"
    with log_path.open("ab") as log:
        controller = await asyncio.create_subprocess_exec(
            sys.executable,
            *python_args,
            *("-m", "callcenter", "-c", str(config_path), "run"),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{config.controller.http_port}/healthz"
        parts: dict[str, str] = {}
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                if controller.returncode is not None:
                    raise RuntimeError(f"controller exited: {log_path.read_text()[-2000:]}")
                try:
                    async with http.get(url) as r:
                        parts = (await r.json())["parts"]
                    if all(parts.get(part) == "ok" for part in need):
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"controller not ready in 30 s: {parts}; log: {log_path}")
        yield controller
    finally:
        if controller.returncode is None:
            controller.terminate()
        await asyncio.wait_for(controller.wait(), 30)


async def ami_login(config: Config, user: str, secret: str) -> Manager:
    """The bench's own AMI connection (the user add_bench_parts made), logged in."""
    manager = Manager(
        host="127.0.0.1",
        port=config.asterisk.ami_port,
        username=user,
        secret=secret,
        loop=asyncio.get_running_loop(),
    )
    await manager.connect()
    for _ in range(100):
        if manager.authenticated:
            return manager
        await asyncio.sleep(0.05)
    manager.close()
    raise RuntimeError(f"the bench's AMI user {user} could not log in")
