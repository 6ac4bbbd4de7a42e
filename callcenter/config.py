"""Configuration: typed defaults, then `callcenter.toml`, then the environment for secrets.

Every value read from the file is checked here, so a bad file stops start-up with a message naming
the file and the key instead of failing later in the middle of a call.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_SECRET_LENGTH = 12
EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the file and the key."""

    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key


@dataclass
class AsteriskConfig:
    # Filesystem root Asterisk runs in: "/" for a system install, else a chroot (Debian sid root).
    root: str = "/"
    # Name of this Asterisk instance; its files live in <root>/var/lib/ngalam112/<instance>.
    instance: str = "ngalam112"
    # Host Asterisk's AMI and SIP listen on. Loopback unless a deployment says otherwise.
    bind: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcenter"
    ami_secret: str = ""  # env NGALAM_AMI_SECRET
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10999
    # Where Asterisk reaches the controller's FastAGI server.
    agi_host: str = "127.0.0.1"
    # Where rendered config, recordings, logs live. Empty: derived from root and instance.
    instance_dir: str = ""

    def host_instance_dir(self) -> Path:
        if self.instance_dir:
            return Path(self.instance_dir)
        return Path(self.root) / "var/lib/ngalam112" / self.instance

    def seen_by_asterisk(self, host_path: Path) -> str:
        """The path Asterisk (possibly chrooted) uses for a file the controller sees at host_path."""
        root = Path(self.root).resolve()
        resolved = host_path.resolve()
        if root == Path("/"):
            return str(resolved)
        return "/" + str(resolved.relative_to(root))


@dataclass
class ControllerConfig:
    agi_bind: str = "127.0.0.1"
    agi_port: int = 4573
    http_bind: str = "127.0.0.1"
    http_port: int = 8112
    # Seconds between AMI reconnect attempts grow from the first value up to the second.
    ami_reconnect_min: float = 0.5
    ami_reconnect_max: float = 30.0


@dataclass
class DatabaseConfig:
    # SQLAlchemy async URL; env DATABASE_URL overrides (postgresql://… is accepted as is).
    url: str = "sqlite+aiosqlite:///var/callcenter.db"


@dataclass
class QueueConfig:
    name: str = "calltakers"
    # Seconds a call-taker's phone rings before the next one is tried.
    ring_timeout: int = 15
    # Seconds after a call before the call-taker gets the next one.
    wrapup_time: int = 5


@dataclass
class Phone:
    """A SIP account Asterisk serves: a call-taker's softphone or a test caller's phone."""

    extension: str
    name: str
    secret: str = ""  # env NGALAM_SIP_SECRET_<extension>
    # Codec negotiation stays on u-law/a-law: what carriers and pyVoIP speak, no transcoding.
    dtmf_mode: str = "rfc4733"


@dataclass
class Config:
    source: str = "<defaults>"
    asterisk: AsteriskConfig = field(default_factory=AsteriskConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    calltakers: list[Phone] = field(default_factory=list)
    # SIP accounts in the public-caller context; in production callers arrive on a carrier trunk.
    test_callers: list[Phone] = field(default_factory=list)
    prompts_dir: str = ""  # default: the ivr-prompts/ shipped with the package checkout

    def all_phones(self) -> list[Phone]:
        return [*self.calltakers, *self.test_callers]


def load(path: str | os.PathLike[str] | None, env: dict[str, str] | None = None) -> Config:
    """Read the TOML file (defaults only if path is None) and apply environment overrides."""
    env = dict(os.environ if env is None else env)
    if path is None:
        raw: dict[str, Any] = {}
        source = "<defaults>"
    else:
        source = str(path)
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise ConfigError(source, "-", "file not found") from None
        except UnicodeDecodeError as e:
            raise ConfigError(
                source, "-", f"not UTF-8 text ({e.reason} at byte {e.start})"
            ) from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(source, "-", f"not valid TOML: {e}") from None
    config = Config(source=source)
    for section in ("asterisk", "controller", "database", "queue"):
        _fill(config, section, raw.pop(section, {}), source)
    config.calltakers = _phones(raw.pop("calltakers", []), "calltakers", source)
    config.test_callers = _phones(raw.pop("test_callers", []), "test_callers", source)
    prompts_dir = raw.pop("prompts_dir", "")
    if not isinstance(prompts_dir, str):
        raise ConfigError(source, "prompts_dir", "must be a string")
    config.prompts_dir = prompts_dir
    for unknown in raw:
        raise ConfigError(source, unknown, "unknown key")
    _apply_env(config, env)
    _validate(config)
    return config


def require_secrets(config: Config) -> None:
    """Refuse to run Asterisk or the controller without real secrets: there are no defaults."""
    if len(config.asterisk.ami_secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            config.source,
            "asterisk.ami_secret",
            f"missing or shorter than {MIN_SECRET_LENGTH} characters (set NGALAM_AMI_SECRET)",
        )
    for phone in config.all_phones():
        if len(phone.secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                config.source,
                f"secret of extension {phone.extension}",
                f"missing or shorter than {MIN_SECRET_LENGTH} characters "
                f"(set NGALAM_SIP_SECRET_{phone.extension})",
            )


def _fill(config: Config, section: str, values: Any, source: str) -> None:
    if not isinstance(values, dict):
        raise ConfigError(source, section, "must be a table")
    target = getattr(config, section)
    known = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        name = f"{section}.{key}"
        if key not in known:
            raise ConfigError(source, name, "unknown key")
        setattr(target, key, _typed(value, type(getattr(target, key)), source, name))


def _typed(value: Any, kind: type, source: str, name: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(source, name, f"must be {kind.__name__}, got {type(value).__name__}")
    return value


def _phones(values: Any, section: str, source: str) -> list[Phone]:
    if not isinstance(values, list):
        raise ConfigError(source, section, "must be an array of tables ([[...]])")
    phones = []
    for i, item in enumerate(values):
        key = f"{section}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(source, key, "must be a table")
        allowed = {"extension", "name", "secret", "dtmf_mode"}
        for k in item:
            if k not in allowed:
                raise ConfigError(source, f"{key}.{k}", "unknown key")
        for k in ("extension", "name"):
            if k not in item:
                raise ConfigError(source, f"{key}.{k}", "required")
        phone = Phone(
            extension=_typed(item["extension"], str, source, f"{key}.extension"),
            name=_typed(item["name"], str, source, f"{key}.name"),
            secret=_typed(item.get("secret", ""), str, source, f"{key}.secret"),
            dtmf_mode=_typed(item.get("dtmf_mode", "rfc4733"), str, source, f"{key}.dtmf_mode"),
        )
        if not EXTENSION_RE.match(phone.extension):
            raise ConfigError(source, f"{key}.extension", "must be 2 to 8 digits")
        if phone.extension == "112":
            raise ConfigError(source, f"{key}.extension", "112 is the emergency number itself")
        if phone.dtmf_mode not in ("rfc4733", "inband", "info", "auto"):
            raise ConfigError(source, f"{key}.dtmf_mode", "must be rfc4733, inband, info or auto")
        if any(c in phone.name for c in '\r\n"<>;'):
            raise ConfigError(source, f"{key}.name", "must not contain quotes, <, >, ; or newlines")
        phones.append(phone)
    return phones


def _apply_env(config: Config, env: dict[str, str]) -> None:
    if "NGALAM_AMI_SECRET" in env:
        config.asterisk.ami_secret = env["NGALAM_AMI_SECRET"]
    if "NGALAM_ASTERISK_ROOT" in env:
        config.asterisk.root = env["NGALAM_ASTERISK_ROOT"]
    if env.get("DATABASE_URL"):
        config.database.url = normalise_database_url(env["DATABASE_URL"])
    for phone in config.all_phones():
        secret = env.get(f"NGALAM_SIP_SECRET_{phone.extension}")
        if secret is not None:
            phone.secret = secret


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs operators write and pick the asyncio driver we ship."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _validate(config: Config) -> None:
    src = config.source
    a, c = config.asterisk, config.controller
    for key, value in (
        ("asterisk.bind", a.bind),
        ("asterisk.agi_host", a.agi_host),
        ("controller.agi_bind", c.agi_bind),
        ("controller.http_bind", c.http_bind),
    ):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(src, key, f"must be an IP address, got {value!r}") from None
    for key, port in (
        ("asterisk.ami_port", a.ami_port),
        ("asterisk.sip_port", a.sip_port),
        ("controller.agi_port", c.agi_port),
        ("controller.http_port", c.http_port),
        ("asterisk.rtp_start", a.rtp_start),
        ("asterisk.rtp_end", a.rtp_end),
    ):
        if not 1 <= port <= 65535:
            raise ConfigError(src, key, f"must be a port number 1-65535, got {port}")
    if a.rtp_end - a.rtp_start < 10:
        raise ConfigError(src, "asterisk.rtp_end", "RTP range must span at least 10 ports")
    if not NAME_RE.match(a.instance):
        raise ConfigError(src, "asterisk.instance", "letters, digits, - and _ only")
    if not NAME_RE.match(a.ami_user):
        raise ConfigError(src, "asterisk.ami_user", "letters, digits, - and _ only")
    if not NAME_RE.match(config.queue.name):
        raise ConfigError(src, "queue.name", "letters, digits, - and _ only")
    if not c.ami_reconnect_min > 0 or c.ami_reconnect_max < c.ami_reconnect_min:
        raise ConfigError(src, "controller.ami_reconnect_max", "need 0 < min <= max")
    seen: dict[str, str] = {}
    for section, phones in (
        ("calltakers", config.calltakers),
        ("test_callers", config.test_callers),
    ):
        for phone in phones:
            if phone.extension in seen:
                raise ConfigError(
                    src,
                    f"{section} extension {phone.extension}",
                    f"duplicate: already used in {seen[phone.extension]}",
                )
            seen[phone.extension] = section
    # Secrets end up inside Asterisk config files; a newline there would inject config lines.
    for key, secret in [("asterisk.ami_secret", a.ami_secret)] + [
        (f"secret of extension {p.extension}", p.secret) for p in config.all_phones()
    ]:
        if any(ch in secret for ch in "\r\n;[]") or secret != secret.strip():
            raise ConfigError(src, key, "must not contain newlines, ';', '[', ']' or edge spaces")
