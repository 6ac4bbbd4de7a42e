"""Checks across sections, made once the file and the environment are read; and the stricter
checks of the commands that run the centre (real secrets, every emergency routed)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..telephony import dialplan
from .model import CALLTAKER, DIAL_TARGET_RE, MIN_SECRET_LENGTH, NAME_RE, Config, ConfigError


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
    for agency in config.agencies:
        if agency.webhook_url and len(agency.webhook_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                config.source,
                f"webhook secret of agency {agency.id}",
                f"missing or shorter than {MIN_SECRET_LENGTH} characters "
                f"(set {agency.webhook_secret_env})",
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


def validate(config: Config) -> None:
    """Everything that needs more than one section, or the whole file, to check."""
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
    _validate_media_timeouts(config)
    _validate_shared_group(config)
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
    if not 0.1 <= c.deadline_check <= 300:
        raise ConfigError(
            src, "controller.deadline_check", f"must be 0.1-300, got {c.deadline_check}"
        )
    _validate_ivr(config)
    _validate_speech(config)
    _validate_supervision(config)
    _validate_web(config)
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


def _validate_web(config: Config) -> None:
    src, w = config.source, config.web
    if w.public_origin:
        parts = urlsplit(w.public_origin)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigError(
                src,
                "web.public_origin",
                f"scheme://host[:port] only, like https://112.malangkota.go.id; "
                f"got {w.public_origin[:80]!r}",
            )
        try:
            parts.port  # noqa: B018 (raises on a port that is not one)
        except ValueError:
            raise ConfigError(
                src, "web.public_origin", "the port is not a number 0-65535"
            ) from None
    if not 1 <= w.login_free_tries <= w.login_free_tries_per_address <= 10_000:
        raise ConfigError(
            src,
            "web.login_free_tries_per_address",
            "need 1 <= login_free_tries <= login_free_tries_per_address <= 10000 (an address "
            "may carry a whole centre's typing errors)",
        )
    if not 0 < w.login_first_delay <= w.login_longest_delay <= 86400:
        raise ConfigError(
            src,
            "web.login_longest_delay",
            "need 0 < login_first_delay <= login_longest_delay <= 86400",
        )


def _validate_speech(config: Config) -> None:
    # A missing model is not a config error (start-up degrades to DTMF-only and says so), but a
    # nonsensical limit is.
    if not 1 <= config.speech.max_seconds <= 24 * 3600:
        raise ConfigError(config.source, "speech.max_seconds", "must be between 1 and 86400")


def _validate_shared_group(config: Config) -> None:
    group = config.asterisk.shared_group
    if group and not NAME_RE.fullmatch(group):
        raise ConfigError(config.source, "asterisk.shared_group", f"not a group name: {group!r}")


def _validate_media_timeouts(config: Config) -> None:
    src, a = config.source, config.asterisk
    # Below a few seconds a lost packet or two would cut a live caller off.
    if not 2 <= a.rtp_timeout <= 3600:
        raise ConfigError(src, "asterisk.rtp_timeout", f"must be 2-3600, got {a.rtp_timeout}")
    if not a.rtp_timeout <= a.rtp_timeout_hold <= 7200:
        raise ConfigError(
            src,
            "asterisk.rtp_timeout_hold",
            f"must be between asterisk.rtp_timeout ({a.rtp_timeout}) and 7200, "
            f"got {a.rtp_timeout_hold}",
        )
    # 90 s is the shortest interval RFC 4028 lets either side ask for (Min-SE).
    if not 90 <= a.session_expires <= 86400:
        raise ConfigError(
            src, "asterisk.session_expires", f"must be 90-86400, got {a.session_expires}"
        )


def _validate_ivr(config: Config) -> None:
    src, ivr = config.source, config.ivr
    for choice in ivr.menu:
        if choice != CALLTAKER and choice not in config.categories:
            known = ", ".join([*config.categories, CALLTAKER])
            raise ConfigError(src, f"ivr.menu.{choice}", f"unknown category (known: {known})")
    for key, value, low, high in (
        ("ivr.silent_priority", ivr.silent_priority, 0, 100),
        ("ivr.max_wait", ivr.max_wait, 0, 3600),
    ):
        if not low <= value <= high:
            raise ConfigError(src, key, f"must be {low}-{high}, got {value}")
    # Every caller joins the queue at JOIN_PRIORITY; a key must move them up, and "cannot talk"
    # above everyone.
    join = int(dialplan.JOIN_PRIORITY)
    for each in config.categories.values():
        if each.emergency and each.priority <= join:
            raise ConfigError(
                src,
                f"categories.{each.id}.priority",
                f"an emergency category must be above {join}, the priority every caller joins with",
            )
    if any(ivr.silent_priority <= c.priority for c in config.categories.values()):
        raise ConfigError(src, "ivr.silent_priority", "must be above every category's priority")
    # ASCII digits only: str.isdigit() also takes "²", which no phone can press.
    if not re.fullmatch(r"[0-9]{1,4}", ivr.silent_key):
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
