"""A throwaway PostgreSQL server for the tests of the production database.

Debian's `postgresql` package (scripts/setup-system.sh) gives the binaries; the server here is
our own cluster in a temporary directory on a free loopback port, so the tests neither need nor
touch the machine's own cluster. PostgreSQL refuses to run as root, so as root it runs as the
`postgres` user the package created.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: run scripts/setup-system.sh (make test does)"
        )
    return found[-1].parent  # the newest major version


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    bin_dir: Path
    socket_dir: Path
    port: int
    user: str
    _as_server_user: list[str]

    def run(self, tool: str, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [*self._as_server_user, str(self.bin_dir / tool), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def sql(self, database: str, statements: str, **variables: int | str) -> str:
        """Run SQL through psql, a client that is not the one under test; `:name` in the
        statements is psql's variable `name`."""
        settings = [f"{name}={value}" for name, value in variables.items()]
        return self.run(
            "psql",
            *("-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user),
            *("-d", database, "-v", "ON_ERROR_STOP=1", "-qAt"),
            *(arg for setting in settings for arg in ("-v", setting)),
            stdin=statements,
        )

    def new_database(self, name: str) -> str:
        """An empty database; its SQLAlchemy URL (asyncpg over loopback TCP)."""
        self.sql("postgres", f'CREATE DATABASE "{name}"')
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{name}"


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="ngalam112-pg-"))
    as_server_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    server = Postgres(bin_dir, root, _free_port(), "ngalam112", as_server_user)
    data = root / "data"
    try:
        # trust on loopback only: a cluster that lives for one test run, reachable from nowhere else
        server.run("initdb", "-D", str(data), "-U", server.user, "-A", "trust", "-E", "UTF8")
        options = f"-k {root} -p {server.port} -c listen_addresses=127.0.0.1 -c fsync=off"
        server.run("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            server.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
