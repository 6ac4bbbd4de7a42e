"""A local Asterisk: render its configuration from callcenter.toml, start it, keep it running,
stop it.

Asterisk may live in a chroot (a Debian sid root carrying Asterisk 22 on a Debian 12 host): then
every file it touches (config, prompts, recordings) lives inside that root, and the controller reads
them through the host path. `InstancePaths` keeps both views of each directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ..config import Config, require_secrets
from . import dialplan
from .ami import RECEIVED_EVENTS, Backoff

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = PACKAGE_ROOT / "asterisk-conf"
PROMPTS_DIR = PACKAGE_ROOT / "ivr-prompts"

# Asterisk unique ids look like "1732261234.12", optionally prefixed by the system name.
_UNIQUE_ID = re.compile(r"^[A-Za-z0-9_-]{0,40}[0-9]+\.[0-9]+$")


@dataclass(frozen=True)
class InstancePaths:
    host: Path  # the instance directory as the controller sees it

    @property
    def etc(self) -> Path:
        return self.host / "etc"

    @property
    def recordings(self) -> Path:
        return self.host / "recordings"

    @property
    def prompts(self) -> Path:
        # Asterisk's sounds directory (astdatadir/sounds): so Queue's position announcements and
        # SayNumber find our Indonesian id/digits/*.wav by language, not only by full path.
        return self.host / "data" / "sounds"

    def recording(self, unique_id: str) -> Path | None:
        """Where this call's recording is written (MixMonitor, extensions.conf.j2); None for an id
        that is not Asterisk's (AGI and AMI input is untrusted: no path tricks)."""
        if not _UNIQUE_ID.fullmatch(unique_id):
            return None
        return self.recordings / f"{unique_id}.wav"

    @property
    def cdr_csv(self) -> Path:
        return self.host / "log" / "cdr-custom" / "Master.csv"

    @property
    def asterisk_conf(self) -> Path:
        return self.etc / "asterisk.conf"


def instance_paths(config: Config) -> InstancePaths:
    return InstancePaths(config.asterisk.host_instance_dir())


def prompts_source(config: Config) -> Path:
    return Path(config.prompts_dir) if config.prompts_dir else PROMPTS_DIR


def _dialplan_value(name: str) -> str:
    """`{{ dialplan.X | var }}` in a template: the variable's value, as the dialplan reads it."""
    return f"${{{name}}}"


def _template_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - Asterisk config, not HTML; values are validated in config.py
    )
    env.filters["var"] = _dialplan_value
    return env


def render_config(config: Config, out_dir: Path | None = None) -> InstancePaths:
    """Write Asterisk's configuration for this centre; copy prompts where Asterisk can read them."""
    require_secrets(config)
    paths = instance_paths(config)
    etc = out_dir or paths.etc
    for sub in ("lib", "spool", "run", "log/cdr-custom", "recordings"):
        (paths.host / sub).mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    # Recordings, call records and the config's secrets: Asterisk's and the controller's only.
    # The instance directory closes them all, whatever modes the files inside got.
    _close_to_others(config, (paths.host, etc, paths.recordings, paths.host / "log"))
    _copy_prompts(prompts_source(config), paths.prompts)
    _link_asterisk_data(config, paths)
    for name, text in render_templates(config, etc).items():
        target = etc / name
        target.write_text(text)
        # Secrets live in manager.conf and pjsip.conf: readable by the owner only.
        target.chmod(0o600)
    return paths


def _close_to_others(config: Config, directories: tuple[Path, ...]) -> None:
    """The owner alone (0700) when Asterisk and the controller are one user (make run, the
    compose file); with `asterisk.shared_group`, that group may read too (2750: new files and
    directories inherit the group; Asterisk's umask 0027 keeps them from everyone else)."""
    group = config.asterisk.shared_group
    for directory in directories:
        if group:
            shutil.chown(directory, group=group)
            directory.chmod(0o2750)
        else:
            directory.chmod(0o700)


def render_templates(config: Config, etc: Path) -> dict[str, str]:
    """Asterisk's configuration files for this centre, by file name, as they are to be in `etc`
    (writes nothing)."""
    paths = instance_paths(config)
    seen = config.asterisk.seen_by_asterisk
    env = _template_env()
    context = {
        "source": config.source,
        "instance": config.asterisk.instance,
        "asterisk": config.asterisk,
        "controller": config.controller,
        "queue": config.queue,
        "calltakers": config.calltakers,
        "phones": [(p, dialplan.CALLTAKERS_CONTEXT) for p in config.calltakers]
        + [(p, dialplan.PUBLIC_CONTEXT) for p in config.test_callers]
        + [(p, dialplan.AGENCIES_CONTEXT) for p in config.agency_phones]
        + [(p, dialplan.SUPERVISORS_CONTEXT) for p in config.supervisor_phones],
        # The names the controller shares with the dialplan, so both sides spell them alike.
        "dialplan": dialplan.names(),
        "old_emergency_numbers": dialplan.OLD_EMERGENCY_NUMBERS,
        "ivr": config.ivr,
        "fallback": _fallback_targets(config),
        # AMI may only be used from where the controller runs.
        "ami_events": RECEIVED_EVENTS,
        "ami_permit": f"{config.asterisk.agi_host}/255.255.255.255",
        "dirs": {
            "etc": seen(etc),
            "lib": seen(paths.host / "lib"),
            "spool": seen(paths.host / "spool"),
            "run": seen(paths.host / "run"),
            "log": seen(paths.host / "log"),
            "data": seen(paths.host / "data"),
        },
        "prompts_dir": seen(paths.prompts),
        "recordings_dir": seen(paths.recordings),
    }
    return {
        template.name.removesuffix(".j2"): env.get_template(template.name).render(context)
        for template in sorted(TEMPLATES_DIR.glob("*.conf.j2"))
    }


def _fallback_targets(config: Config) -> list[tuple[str, int]]:
    """Whom the dialplan rings on overflow when the controller cannot say: the default agency."""
    agency = config.agency(config.ivr.default_agency)
    return [(t, agency.ring_timeout) for t in agency.targets()] if agency else []


# Where Debian (and source builds) keep Asterisk's data: XML docs it needs to start, sounds, keys.
_DATA_DIRS = ("/usr/share/asterisk", "/var/lib/asterisk")


def _link_asterisk_data(config: Config, paths: InstancePaths) -> None:
    """The instance's astdatadir is ours (so sounds/id/ holds our prompts), but Asterisk still needs
    its own data (documentation, other languages' sounds): link each entry, as Asterisk sees it."""
    root = Path(config.asterisk.root)
    system = next(
        (d for d in _DATA_DIRS if (root / d.lstrip("/") / "documentation").is_dir()), None
    )
    if system is None:
        # Asterisk runs on another host or container (docker-compose renders config in its own
        # image): link Debian's layout; the links resolve where Asterisk runs.
        log.info("no Asterisk data under %s; linking Debian's %s", root, _DATA_DIRS[0])
        system, entries = _DATA_DIRS[0], _DEBIAN_DATA
    else:
        entries = {
            sub: [e.name for e in (root / system.lstrip("/") / sub).iterdir()]
            for sub in ("", "sounds")
        }
    data = paths.host / "data"
    for sub, ours in (("", "sounds"), ("sounds", "id")):
        for name in entries[sub]:
            link = data / sub / name
            if name == ours or link.exists() or link.is_symlink():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f"{system}/{sub}/{name}".replace("//", "/"))


_DEBIAN_DATA = {
    "": ["documentation", "keys", "firmware", "phoneprov", "rest-api", "static-http", "agi-bin"],
    "sounds": ["en", "en_US", "custom"],
}


def _copy_prompts(source: Path, target: Path) -> None:
    if not source.is_dir():
        raise FileNotFoundError(f"prompts directory {source} does not exist")
    for wav in source.rglob("*.wav"):
        dest = target / wav.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.stat().st_mtime < wav.stat().st_mtime:
            shutil.copy2(wav, dest)


def _die_with_parent() -> None:
    """In the child before exec: a test's or bench's Asterisk must not outlive the process that
    started it."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def how_it_ended(returncode: int) -> str:
    """An exit status as the log and the outage banner say it."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class RestartDelays:
    """How long to wait before starting Asterisk again after it exited: `low` at first, doubling
    up to `high` while it keeps dying soon after each start, `low` again once a run lasted
    `stable` seconds (a crash a day is not a crash loop)."""

    def __init__(self, low: float = 1.0, high: float = 60.0, stable: float = 120.0):
        self._backoff = Backoff(low, high)
        self.stable = stable

    def after(self, ran: float) -> float:
        """The delay before the next start, after a run of `ran` seconds (0: it never booted)."""
        if ran >= self.stable:
            self._backoff.reset()
        return self._backoff.take()


# How often an adopted Asterisk (not our child: nothing to wait() on) is looked for in /proc.
ADOPTED_POLL = 0.5
# How long an Asterisk left running may take to answer on its control socket before it is taken
# for hung, killed, and a new one started.
ADOPT_TIMEOUT = 15.0
# What a controller that adopts a running Asterisk applies of the configuration it renders again:
# the dialplan, the AMI users and the SIP endpoints, none of which drops a call. The rest
# (asterisk.conf, modules, SIP transport and RTP ports, queues, conferences, waiting music, call
# records, logging) takes effect at Asterisk's next start.
APPLIED_ON_ADOPTION = ("dialplan reload", "manager reload", "module reload res_pjsip.so")


@dataclass(frozen=True)
class LeftRunning:
    """An Asterisk that an earlier controller started and left running: its pid, and its start
    time (clock ticks after boot), since a pid alone may name another process once it exited."""

    pid: int
    started: str

    @classmethod
    def of(cls, pid: int) -> LeftRunning | None:
        stat = _proc_stat(pid)
        return cls(pid, stat[19]) if stat is not None and stat[0] != "Z" else None

    def alive(self) -> bool:
        stat = _proc_stat(self.pid)
        return stat is not None and stat[0] != "Z" and stat[19] == self.started


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from its third field (the state) on; None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields follow its last ")".
    return text.rsplit(")", 1)[1].split()


class LocalAsterisk:
    """Runs Asterisk in the foreground (-f) as a child process, chrooted when root is not /;
    `keep_running` restarts it whenever it exits.

    `outlive_parent`: Asterisk is the centre's, not this process's (`run --local-asterisk`): a
    controller that dies leaves it running, so callers keep reaching the queue, and the next one
    adopts it instead of starting another. Without it (tests, benches) Asterisk dies with the
    process that started it. Either way stop() stops it."""

    def __init__(
        self, config: Config, restarts: RestartDelays | None = None, *, outlive_parent: bool = False
    ):
        self.config = config
        self.paths = instance_paths(config)
        self.process: asyncio.subprocess.Process | None = None
        # The Asterisk an earlier controller left running, once adopted; None while ours runs.
        self.adopted: LeftRunning | None = None
        self.outlive_parent = outlive_parent
        self.restarts = restarts or RestartDelays()
        # How the last run ended while it is not running again; None while it runs.
        self.down_because: str | None = None
        self.exits = 0
        self._keeper: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """The running Asterisk's pid (adopted or started), or of the last one started."""
        if self.adopted is not None:
            return self.adopted.pid
        return self.process.pid if self.process is not None else None

    def _asterisk(self, *args: str) -> list[str]:
        command = ["asterisk", "-C", self._conf(), *args]
        root = self.config.asterisk.root
        if Path(root).resolve() != Path("/"):
            return ["chroot", root, *command]
        return command

    def _conf(self) -> str:
        return self.config.asterisk.seen_by_asterisk(self.paths.asterisk_conf)

    def command(self) -> list[str]:
        return self._asterisk("-f", "-U", "root")

    async def cli(self, command: str, timeout: float = 30.0) -> str:
        """Run one Asterisk CLI command on the running instance (through its control socket)."""
        proc = await asyncio.create_subprocess_exec(
            *self._asterisk("-rx", command),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            # An Asterisk that hangs must not leave its remote consoles behind, one per try.
            proc.kill()
            await proc.wait()
            raise
        return out.decode(errors="replace")

    def _exited(self) -> str | None:
        """How the Asterisk being started or adopted ended, or None while it runs."""
        if self.adopted is not None:
            return None if self.adopted.alive() else "exited"
        if self.process is not None and self.process.returncode is not None:
            return f"exited with {self.process.returncode}"
        return None

    async def wait_booted(self, timeout: float = 30.0) -> None:
        """Return once Asterisk has loaded its modules; raise if it died or took too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            exited = self._exited()
            if exited is not None:
                raise RuntimeError(
                    f"Asterisk {exited}; see {self.paths.host / 'log' / 'console.log'}"
                )
            if (self.paths.host / "run" / "asterisk.ctl").exists():
                left = max(1.0, deadline - loop.time())
                if "fully booted" in (await self.cli("core waitfullybooted", left)).lower():
                    return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"Asterisk not booted after {timeout:.0f} s")

    async def start(self) -> None:
        """Start Asterisk, or with `outlive_parent` adopt the one of this instance an earlier
        controller left running (its config rendered again and APPLIED_ON_ADOPTION)."""
        if self.outlive_parent:
            left = self._left_running()
            if left is not None and await self._adopt(left):
                return
        render_config(self.config)
        # A stale control socket from a killed instance would make the new one refuse to start.
        (self.paths.host / "run" / "asterisk.ctl").unlink(missing_ok=True)
        log_path = self.paths.host / "log" / "console.log"
        with log_path.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # Ctrl-C reaches the controller, which stops Asterisk in order
                # What Asterisk writes (recordings, call records, its control socket): the owner's.
                umask=0o077,
                preexec_fn=None if self.outlive_parent else _die_with_parent,
            )
        await self.wait_booted()
        log.info("Asterisk running (pid %d), log in %s", self.process.pid, log_path)

    def _left_running(self) -> LeftRunning | None:
        """This instance's Asterisk, if one runs: the process its pid file names, or failing
        that any process, that is `asterisk -C <this instance's asterisk.conf>`."""
        try:
            named = [int((self.paths.host / "run" / "asterisk.pid").read_text().strip())]
        except (OSError, ValueError):
            named = []
        others = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
        for pid in (*named, *others):
            if self._is_ours(pid):
                return LeftRunning.of(pid)
        return None

    def _is_ours(self, pid: int) -> bool:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return False
        ours = ["-C", self._conf()]
        runs_ours = any(argv[i : i + 2] == ours for i in range(1, len(argv) - 1))
        return Path(argv[0]).name == "asterisk" and runs_ours and "-f" in argv

    async def _adopt(self, left: LeftRunning) -> bool:
        """Take over the Asterisk `left` running, unless it does not answer (then it is killed
        and False returned, for a new one to be started)."""
        self.adopted = left
        try:
            render_config(self.config)
            await self.wait_booted(ADOPT_TIMEOUT)
            for command in APPLIED_ON_ADOPTION:
                await self.cli(command, ADOPT_TIMEOUT)
        except (OSError, RuntimeError, TimeoutError) as e:
            log.error(
                "Asterisk pid %d left running by a previous controller cannot be adopted (%s); "
                "killing it and starting a new one",
                left.pid,
                e,
            )
            await self._end_adopted(signal.SIGKILL, ADOPT_TIMEOUT)
            self.adopted = None
            return False
        log.warning(
            "adopted Asterisk pid %d left running by a previous controller (its calls go on); "
            "applied from the config: %s; other changes take effect when Asterisk next starts "
            "(stop the controller with Ctrl-C and run it again)",
            left.pid,
            ", ".join(APPLIED_ON_ADOPTION),
        )
        return True

    async def _end_adopted(self, how: signal.Signals, timeout: float) -> bool:
        """Signal the adopted Asterisk and wait (polling /proc) until it is gone; False if it is
        still there after `timeout` s."""
        adopted = self.adopted
        if adopted is None:
            return True
        if adopted.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(adopted.pid, how)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while adopted.alive():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.1)
        self.adopted = None
        return True

    def keep_running(self, on_exit: Callable[[str], None], on_running: Callable[[], None]) -> None:
        """From now until stop(): notice each exit of the started (or adopted) Asterisk (logged,
        and told to `on_exit` with how it ended) and start it again after a backoff
        (`on_running` once it has booted)."""
        self._keeper = asyncio.create_task(
            self._keep_running(on_exit, on_running), name="asterisk-keeper"
        )

    async def _until_exit(self) -> str:
        """Until the running Asterisk exits; how it ended."""
        if self.adopted is not None:
            # Not our child: no exit status to read, only its disappearance from /proc.
            adopted = self.adopted
            while adopted.alive():  # noqa: ASYNC110 - no exit to await: only /proc to poll
                await asyncio.sleep(ADOPTED_POLL)
            self.adopted = None
            return "exited (adopted: how it ended is not known)"
        assert self.process is not None, "keep_running() needs a started Asterisk"
        return how_it_ended(await self.process.wait())

    async def _keep_running(
        self, on_exit: Callable[[str], None], on_running: Callable[[], None]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pid = self.pid
            started = loop.time()
            self.down_because = await self._until_exit()
            ran = loop.time() - started
            self.exits += 1
            log.error(
                "Asterisk (pid %d) %s after %.0f s; 112 calls cannot come in until it is back "
                "(exit %d since the controller started; see %s)",
                pid,
                self.down_because,
                ran,
                self.exits,
                self.paths.host / "log" / "console.log",
            )
            on_exit(self.down_because)
            while True:
                delay = self.restarts.after(ran)
                log.warning("starting Asterisk again in %.1f s", delay)
                await asyncio.sleep(delay)
                try:
                    await self.start()
                    break
                except Exception as e:
                    log.error("Asterisk did not start again: %s", e)
                    await self._kill()
                    ran = 0.0
            self.down_because = None
            on_running()

    async def _kill(self) -> None:
        """A start that failed half-way must not leave an Asterisk holding the ports."""
        if self.adopted is not None:
            await self._end_adopted(signal.SIGKILL, ADOPT_TIMEOUT)
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self, timeout: float = 10.0) -> None:
        if self._keeper is not None:
            # Not restarted once we are stopping it.
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        if self.adopted is not None:
            if not await self._end_adopted(signal.SIGTERM, timeout):
                log.warning("Asterisk did not stop in %.0f s, killing it", timeout)
                await self._end_adopted(signal.SIGKILL, timeout)
            log.info("Asterisk stopped")
            return
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            log.warning("Asterisk did not stop in %.0f s, killing it", timeout)
            self.process.kill()
            await self.process.wait()
        log.info("Asterisk stopped")
