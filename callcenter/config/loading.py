"""Reading `callcenter.toml`: each section checked for unknown keys and wrong types as it is read,
then the environment's secrets, then the checks across sections (`validation`)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

from .model import (
    CALLTAKER,
    DIAL_TARGET_RE,
    EXTENSION_RE,
    NAME_RE,
    USERNAME_RE,
    WEBHOOK_URL_RE,
    Agency,
    Category,
    Config,
    ConfigError,
    Phone,
)
from .validation import validate


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
    plain = (
        "asterisk",
        "controller",
        "database",
        "queue",
        "speech",
        "prank_policy",
        "callbacks",
        "web",
    )
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
    validate(config)
    return config


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
            priority=_typed(item.get("priority", 2), int, source, f"{key}.priority"),
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


def _agencies(values: Any, source: str) -> list[Agency]:
    if not isinstance(values, list):
        raise ConfigError(source, "agencies", "must be an array of tables ([[agencies]])")
    agencies: list[Agency] = []
    for i, item in enumerate(values):
        key = f"agencies[{i}]"
        allowed = {"id", "name", "categories", "primary", "backup", "ring_timeout"}
        allowed |= {*DEADLINE_KEYS, "escalate_after", "show_caller_number", "webhook_url"}
        allowed.add("callout")
        _table(item, key, source)
        if "webhook_secret" in item:
            raise ConfigError(
                source,
                f"{key}.webhook_secret",
                "secrets come from the environment: set NGALAM_WEBHOOK_SECRET_<AGENCY ID>",
            )
        _only(item, allowed, key, source)
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
            show_caller_number=_typed(
                item.get("show_caller_number", False), bool, source, f"{key}.show_caller_number"
            ),
            webhook_url=_typed(item.get("webhook_url", ""), str, source, f"{key}.webhook_url"),
            callout=_typed(item.get("callout", True), bool, source, f"{key}.callout"),
        )
        for k in (*DEADLINE_KEYS, "escalate_after"):
            if k in item:
                setattr(agency, k, _typed(item[k], int, source, f"{key}.{k}"))
        _check_agency_loop(agency, key, source)
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


# An agency's deadlines (seconds from the assignment), in the order its statuses come.
DEADLINE_KEYS = ("acknowledge_within", "on_scene_within", "cleared_within")
# At most a day: a deadline is for chasing a response, not a reminder for next week.
LONGEST_DEADLINE = 24 * 3600


def _check_agency_loop(agency: Agency, key: str, source: str) -> None:
    previous = 0
    for k in DEADLINE_KEYS:
        seconds = getattr(agency, k)
        if not 1 <= seconds <= LONGEST_DEADLINE:
            raise ConfigError(source, f"{key}.{k}", f"must be 1-{LONGEST_DEADLINE} seconds")
        if seconds < previous:
            raise ConfigError(
                source, f"{key}.{k}", "must not be shorter than an earlier deadline of the agency"
            )
        previous = seconds
    if not 1 <= agency.escalate_after <= 3600:
        raise ConfigError(source, f"{key}.escalate_after", "must be 1-3600 seconds")
    url = agency.webhook_url
    if url and not WEBHOOK_URL_RE.fullmatch(url):
        raise ConfigError(
            source, f"{key}.webhook_url", f"must be an http(s):// URL, got {url[:80]!r}"
        )


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
    for agency in config.agencies:
        agency.webhook_secret = env.get(agency.webhook_secret_env, "")


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
