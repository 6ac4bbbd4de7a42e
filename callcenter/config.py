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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_SECRET_LENGTH = 12
EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Web logins: what `create-user` accepts and what links a call-taker's softphone to the console.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


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
    # Where Asterisk streams a caller's description (AudioSocket) for live recognition.
    audiosocket_port: int = 4574
    http_bind: str = "127.0.0.1"
    http_port: int = 8112
    # Seconds between AMI reconnect attempts grow from the first value up to the second.
    ami_reconnect_min: float = 0.5
    ami_reconnect_max: float = 30.0
    # Seconds between checks of Asterisk's channel list, which close calls whose end went unheard.
    channel_sweep: float = 30.0


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
    # Why a call-taker may pause (the console offers these; reports count them).
    pause_reasons: list[str] = field(
        default_factory=lambda: ["istirahat", "salat", "toilet", "briefing", "pelatihan", "lainnya"]
    )


@dataclass
class Phone:
    """A SIP account Asterisk serves: a call-taker's softphone or a test caller's phone."""

    extension: str
    name: str
    secret: str = ""  # env NGALAM_SIP_SECRET_<extension>
    # Codec negotiation stays on u-law/a-law: what carriers and pyVoIP speak, no transcoding.
    dtmf_mode: str = "rfc4733"
    # Call-takers only: the web login whose console drives this softphone (queue login, pause,
    # screen-pop). Empty: the phone is in no console's hands.
    username: str = ""

    @property
    def interface(self) -> str:
        """How Asterisk names this phone as a queue member and in device state."""
        return f"PJSIP/{self.extension}"


@dataclass
class Category:
    """What a caller needs; decides the queue priority and which agency serves the call."""

    id: str
    name: str  # Indonesian, as call-takers and reports show it
    # Asterisk queue priority: higher is answered first; equal priorities in order of arrival.
    priority: int = 1
    # Non-emergency categories (informasi) never overflow to an agency.
    emergency: bool = True


def default_categories() -> dict[str, Category]:
    return {
        c.id: c
        for c in (
            Category("police", "Kepolisian (kejahatan, kecelakaan)", 1),
            Category("ambulance", "Ambulans dan kesehatan", 2),
            Category("electricity", "Listrik (PLN)", 1),
            Category("public-order", "Ketertiban umum (Satpol PP)", 1),
            Category("fire", "Kebakaran dan bencana", 2),
            Category("informasi", "Informasi (bukan darurat)", 0, emergency=False),
        )
    }


# The menu choice that means "let me talk to a person" rather than a category.
CALLTAKER = "calltaker"


def default_menu() -> dict[str, str]:
    return {
        "police": "1",
        "ambulance": "2",
        "electricity": "3",
        "public-order": "4",
        "fire": "5",
        "informasi": "9",
        CALLTAKER: "0",
    }


@dataclass
class IvrConfig:
    # Category id (or "calltaker") → the key that chooses it. The menu prompt must say the same.
    menu: dict[str, str] = field(default_factory=default_menu)
    # Seconds to wait for a key after the menu; a timeout or a wrong key gets one retry.
    menu_timeout: int = 5
    # Ask the caller to describe the emergency and the place after a tone (recorded, transcribed).
    describe: bool = True
    describe_seconds: int = 20  # longest description
    describe_silence: int = 3  # seconds of silence that end it
    # A caller who neither speaks nor presses is offered this key ("press 55" as in the UK).
    silent_key: str = "55"
    # Queue priority of a caller who pressed the silent key: they may be in danger.
    silent_priority: int = 3
    # Prompts (names in ivr-prompts/<lang>/) telling non-emergency callers where to go instead.
    information_prompts: list[str] = field(default_factory=lambda: ["informasi"])
    # Seconds a caller waits for a call-taker before the call overflows to the agency; 0: never.
    max_wait: int = 120
    # The agency that gets overflowing calls without a category (the caller chose none).
    default_agency: str = ""


@dataclass
class Agency:
    id: str
    name: str
    categories: list[str]
    # Dial strings: a PJSIP endpoint ("PJSIP/7001") or a number on a trunk ("PJSIP/110@telkom").
    primary: str
    backup: str = ""
    ring_timeout: int = 20

    def targets(self) -> list[str]:
        return [t for t in (self.primary, self.backup) if t]


@dataclass
class SpeechConfig:
    # A Vosk model directory (am/, conf/, graph/). Empty or missing: the IVR runs DTMF-only.
    model_path: str = ""
    # Longest recording transcribed after a call; longer audio is refused, not truncated silently.
    max_seconds: int = 4 * 3600


@dataclass
class PrankPolicyConfig:
    # Days each successive restriction of a number lasts; 0: until a supervisor lifts it. A
    # restriction never refuses a call: the caller hears `warning_prompt` and waits at `priority`.
    levels: list[int] = field(default_factory=lambda: [3, 30, 0])
    warning_prompt: str = "prank-warning"
    priority: int = 0
    # A number with this many prank tickets (flag or outcome) is shown on the board for review.
    review_after: int = 3


@dataclass
class CallbackConfig:
    # How Asterisk dials a caller back: a dial target with {number}. Development and tests ring
    # the SIP phone of that number; production goes out on the carrier trunk.
    dial: str = "PJSIP/{number}"
    # Abandoned calls of this many hours are on the callback list.
    window_hours: int = 24


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
    # Desk phones of agencies registered to this Asterisk (agencies on trunks need none).
    agency_phones: list[Phone] = field(default_factory=list)
    # Supervisors' softphones: they ring to listen in on (or whisper into, or barge into) a call.
    supervisor_phones: list[Phone] = field(default_factory=list)
    prompts_dir: str = ""  # default: the ivr-prompts/ shipped with the package checkout
    # The centre's local time (Kota Malang: WIB): "today" on the board, days and hours in reports.
    timezone: str = "Asia/Jakarta"
    ivr: IvrConfig = field(default_factory=IvrConfig)
    categories: dict[str, Category] = field(default_factory=default_categories)
    agencies: list[Agency] = field(default_factory=list)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    prank_policy: PrankPolicyConfig = field(default_factory=PrankPolicyConfig)
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)

    def all_phones(self) -> list[Phone]:
        return [*self.calltakers, *self.test_callers, *self.agency_phones, *self.supervisor_phones]

    def supervisor_phone_of(self, username: str) -> Phone | None:
        """The softphone a supervisor's login listens in with, if any."""
        return next(
            (p for p in self.supervisor_phones if username and p.username == username), None
        )

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calltaker_of(self, username: str) -> Phone | None:
        """The softphone a web login drives, if any."""
        return next((p for p in self.calltakers if username and p.username == username), None)

    def calltaker_at(self, interface: str) -> Phone | None:
        """The call-taker whose phone Asterisk names `interface` (e.g. PJSIP/2001)."""
        return next((p for p in self.calltakers if p.interface == interface), None)


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
    plain = ("asterisk", "controller", "database", "queue", "speech", "prank_policy", "callbacks")
    for section in plain:
        _fill(config, section, raw.pop(section, {}), source)
    config.calltakers = _phones(raw.pop("calltakers", []), "calltakers", source)
    config.test_callers = _phones(raw.pop("test_callers", []), "test_callers", source)
    config.agency_phones = _phones(raw.pop("agency_phones", []), "agency_phones", source)
    config.supervisor_phones = _phones(
        raw.pop("supervisor_phones", []), "supervisor_phones", source
    )
    if "categories" in raw:
        config.categories = _categories(raw.pop("categories"), source)
    ivr = raw.pop("ivr", {})
    if isinstance(ivr, dict) and "menu" in ivr:
        config.ivr.menu = _menu(ivr.pop("menu"), source)
    _fill(config, "ivr", ivr, source)
    config.agencies = _agencies(raw.pop("agencies", []), source)
    prompts_dir = raw.pop("prompts_dir", "")
    if not isinstance(prompts_dir, str):
        raise ConfigError(source, "prompts_dir", "must be a string")
    config.prompts_dir = prompts_dir
    timezone = raw.pop("timezone", config.timezone)
    if not isinstance(timezone, str):
        raise ConfigError(source, "timezone", "must be a string like Asia/Jakarta")
    config.timezone = timezone
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


def require_routing(config: Config) -> None:
    """Every emergency category must reach an agency, or an overflowing call would have nowhere to go."""
    served = {c for a in config.agencies for c in a.categories}
    for category in config.categories.values():
        if category.emergency and category.id not in served:
            raise ConfigError(
                config.source, f"categories.{category.id}", "no agency serves it (add it to one)"
            )
    if config.agency(config.ivr.default_agency) is None:
        known = ", ".join(a.id for a in config.agencies) or "none defined"
        raise ConfigError(
            config.source,
            "ivr.default_agency",
            f"must name an agency for calls without a category (agencies: {known})",
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
    phones: list[Phone] = []
    for i, item in enumerate(values):
        key = f"{section}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(source, key, "must be a table")
        allowed = {"extension", "name", "secret", "dtmf_mode"}
        if section in ("calltakers", "supervisor_phones"):
            allowed.add("username")
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
            username=_typed(item.get("username", ""), str, source, f"{key}.username"),
        )
        if not EXTENSION_RE.fullmatch(phone.extension):
            raise ConfigError(source, f"{key}.extension", "must be 2 to 8 digits")
        if phone.extension == "112":
            raise ConfigError(source, f"{key}.extension", "112 is the emergency number itself")
        if phone.dtmf_mode not in ("rfc4733", "inband", "info", "auto"):
            raise ConfigError(source, f"{key}.dtmf_mode", "must be rfc4733, inband, info or auto")
        if any(c in phone.name for c in '\r\n"<>;'):
            raise ConfigError(source, f"{key}.name", "must not contain quotes, <, >, ; or newlines")
        if phone.username and not USERNAME_RE.fullmatch(phone.username):
            raise ConfigError(source, f"{key}.username", "letters, digits and . _ @ - only (1-64)")
        if phone.username and any(p.username == phone.username for p in phones):
            raise ConfigError(
                source, f"{key}.username", f"{phone.username!r} already drives another phone"
            )
        phones.append(phone)
    return phones


def _table(values: Any, key: str, source: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ConfigError(source, key, "must be a table")
    return values


def _only(item: dict[str, Any], allowed: set[str], key: str, source: str) -> None:
    for k in item:
        if k not in allowed:
            raise ConfigError(source, f"{key}.{k}", "unknown key")


def _categories(values: Any, source: str) -> dict[str, Category]:
    categories = {}
    for cid, item in _table(values, "categories", source).items():
        key = f"categories.{cid}"
        if not NAME_RE.fullmatch(cid) or cid == CALLTAKER:
            raise ConfigError(source, key, "letters, digits, - and _ only; 'calltaker' is reserved")
        _only(_table(item, key, source), {"name", "priority", "emergency"}, key, source)
        category = Category(
            id=cid,
            name=_typed(item.get("name", cid), str, source, f"{key}.name"),
            priority=_typed(item.get("priority", 1), int, source, f"{key}.priority"),
            emergency=_typed(item.get("emergency", True), bool, source, f"{key}.emergency"),
        )
        if not 0 <= category.priority <= 100:
            raise ConfigError(source, f"{key}.priority", "must be 0-100")
        categories[cid] = category
    if not categories:
        raise ConfigError(source, "categories", "at least one category is needed")
    return categories


def _menu(values: Any, source: str) -> dict[str, str]:
    menu: dict[str, str] = {}
    for choice, digit in _table(values, "ivr.menu", source).items():
        key = f"ivr.menu.{choice}"
        digit = _typed(digit, str, source, key)
        if len(digit) != 1 or digit not in "0123456789":
            raise ConfigError(source, key, f"must be one key 0-9, got {digit[:10]!r}")
        taken = next((c for c, d in menu.items() if d == digit), None)
        if taken is not None:
            raise ConfigError(source, key, f"key {digit} is already ivr.menu.{taken}")
        menu[choice] = digit
    return menu


# Channel technology and a plain resource: no dialplan functions, options or separators can ride in.
DIAL_TARGET_RE = re.compile(
    r"^(PJSIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.+#*-]{1,64}(@[A-Za-z0-9_.-]{1,64})?$"
)


def _agencies(values: Any, source: str) -> list[Agency]:
    if not isinstance(values, list):
        raise ConfigError(source, "agencies", "must be an array of tables ([[agencies]])")
    agencies: list[Agency] = []
    for i, item in enumerate(values):
        key = f"agencies[{i}]"
        allowed = {"id", "name", "categories", "primary", "backup", "ring_timeout"}
        _only(_table(item, key, source), allowed, key, source)
        for k in ("id", "name", "primary"):
            if not item.get(k):
                what = "a dial target is required" if k == "primary" else "required"
                raise ConfigError(source, f"{key}.{k}", what)
        categories = item.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ConfigError(source, f"{key}.categories", "must be a list of category ids")
        agency = Agency(
            id=_typed(item["id"], str, source, f"{key}.id"),
            name=_typed(item["name"], str, source, f"{key}.name"),
            categories=categories,
            primary=_typed(item["primary"], str, source, f"{key}.primary"),
            backup=_typed(item.get("backup", ""), str, source, f"{key}.backup"),
            ring_timeout=_typed(item.get("ring_timeout", 20), int, source, f"{key}.ring_timeout"),
        )
        if not NAME_RE.fullmatch(agency.id):
            raise ConfigError(source, f"{key}.id", "letters, digits, - and _ only")
        if any(a.id == agency.id for a in agencies):
            raise ConfigError(source, f"{key}.id", f"duplicate agency {agency.id!r}")
        if any(c in agency.name for c in '\r\n"<>;'):
            raise ConfigError(source, f"{key}.name", "must not contain quotes, <, >, ; or newlines")
        for k, target in (("primary", agency.primary), ("backup", agency.backup)):
            if target and not DIAL_TARGET_RE.fullmatch(target):
                raise ConfigError(
                    source, f"{key}.{k}", f"not a dial target like PJSIP/7001, got {target[:80]!r}"
                )
        if not 3 <= agency.ring_timeout <= 120:
            raise ConfigError(source, f"{key}.ring_timeout", "must be 3-120 seconds")
        agencies.append(agency)
    return agencies


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
        ("controller.audiosocket_port", c.audiosocket_port),
        ("controller.http_port", c.http_port),
        ("asterisk.rtp_start", a.rtp_start),
        ("asterisk.rtp_end", a.rtp_end),
    ):
        if not 1 <= port <= 65535:
            raise ConfigError(src, key, f"must be a port number 1-65535, got {port}")
    if a.rtp_end - a.rtp_start < 10:
        raise ConfigError(src, "asterisk.rtp_end", "RTP range must span at least 10 ports")
    if not NAME_RE.fullmatch(a.instance):
        raise ConfigError(src, "asterisk.instance", "letters, digits, - and _ only")
    if not NAME_RE.fullmatch(a.ami_user):
        raise ConfigError(src, "asterisk.ami_user", "letters, digits, - and _ only")
    if not NAME_RE.fullmatch(config.queue.name):
        raise ConfigError(src, "queue.name", "letters, digits, - and _ only")
    reasons = config.queue.pause_reasons
    if not reasons or not all(isinstance(r, str) and NAME_RE.fullmatch(r) for r in reasons):
        raise ConfigError(src, "queue.pause_reasons", "a list of words (letters, digits, - and _)")
    for name, seconds, low, high in (
        ("queue.ring_timeout", config.queue.ring_timeout, 3, 120),
        ("queue.wrapup_time", config.queue.wrapup_time, 0, 600),
    ):
        if not low <= seconds <= high:
            raise ConfigError(src, name, f"must be {low}-{high}, got {seconds}")
    if not c.ami_reconnect_min > 0 or c.ami_reconnect_max < c.ami_reconnect_min:
        raise ConfigError(src, "controller.ami_reconnect_max", "need 0 < min <= max")
    if not 1 <= c.channel_sweep <= 3600:
        raise ConfigError(src, "controller.channel_sweep", f"must be 1-3600, got {c.channel_sweep}")
    _validate_ivr(config)
    _validate_speech(config)
    _validate_supervision(config)
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(src, "timezone", f"unknown time zone {config.timezone[:40]!r}") from None
    seen: dict[str, str] = {}
    for section, phones in (
        ("calltakers", config.calltakers),
        ("test_callers", config.test_callers),
        ("agency_phones", config.agency_phones),
        ("supervisor_phones", config.supervisor_phones),
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


def _validate_supervision(config: Config) -> None:
    src, policy = config.source, config.prank_policy
    if not policy.levels or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 3650 for d in policy.levels
    ):
        raise ConfigError(src, "prank_policy.levels", "a list of days (0-3650; 0: until lifted)")
    if not re.fullmatch(r"[a-z0-9_-]{1,64}", policy.warning_prompt):
        raise ConfigError(src, "prank_policy.warning_prompt", "not a prompt name")
    if not 0 <= policy.priority <= 100 or not 1 <= policy.review_after <= 100:
        raise ConfigError(src, "prank_policy.priority", "priority 0-100, review_after 1-100")
    dial = config.callbacks.dial
    if dial.count("{number}") != 1 or not DIAL_TARGET_RE.fullmatch(
        dial.replace("{number}", "0341")
    ):
        raise ConfigError(
            src,
            "callbacks.dial",
            f"a dial target with {{number}}, like PJSIP/{{number}}@trunk; got {dial[:80]!r}",
        )
    if not 1 <= config.callbacks.window_hours <= 24 * 14:
        raise ConfigError(src, "callbacks.window_hours", "must be 1-336")


def _validate_speech(config: Config) -> None:
    # A missing model is not a config error (start-up degrades to DTMF-only and says so), but a
    # nonsensical limit is.
    if not 1 <= config.speech.max_seconds <= 24 * 3600:
        raise ConfigError(config.source, "speech.max_seconds", "must be between 1 and 86400")


def _validate_ivr(config: Config) -> None:
    src, ivr = config.source, config.ivr
    for choice in ivr.menu:
        if choice != CALLTAKER and choice not in config.categories:
            known = ", ".join([*config.categories, CALLTAKER])
            raise ConfigError(src, f"ivr.menu.{choice}", f"unknown category (known: {known})")
    for key, value, low, high in (
        ("ivr.menu_timeout", ivr.menu_timeout, 1, 30),
        ("ivr.describe_seconds", ivr.describe_seconds, 3, 120),
        ("ivr.describe_silence", ivr.describe_silence, 1, 10),
        ("ivr.silent_priority", ivr.silent_priority, 0, 100),
        ("ivr.max_wait", ivr.max_wait, 0, 3600),
    ):
        if not low <= value <= high:
            raise ConfigError(src, key, f"must be {low}-{high}, got {value}")
    if not 1 <= len(ivr.silent_key) <= 4 or not ivr.silent_key.isdigit():
        raise ConfigError(src, "ivr.silent_key", "must be 1 to 4 digits")
    for prompt in ivr.information_prompts:
        if not isinstance(prompt, str) or not re.fullmatch(r"[a-z0-9_/-]{1,64}", prompt):
            raise ConfigError(src, "ivr.information_prompts", f"not a prompt name: {prompt!r}")
    for i, agency in enumerate(config.agencies):
        for category in agency.categories:
            if category not in config.categories:
                raise ConfigError(
                    src, f"agencies[{i}].categories", f"unknown category {category[:40]!r}"
                )
