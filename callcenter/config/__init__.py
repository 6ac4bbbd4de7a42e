"""Configuration: typed defaults, then `callcenter.toml`, then the environment for secrets.

Every value read from the file is checked here, so a bad file stops start-up with a message naming
the file and the key instead of failing later in the middle of a call. The shape lives in `model`,
the reading in `loading`, the checks across sections in `validation`; import from here.
"""

from .loading import load, normalise_database_url
from .model import (
    CALLTAKER,
    DIAL_TARGET_RE,
    EXTENSION_RE,
    MIN_SECRET_LENGTH,
    NAME_RE,
    USERNAME_RE,
    Agency,
    AsteriskConfig,
    CallbackConfig,
    Category,
    Config,
    ConfigError,
    ControllerConfig,
    DatabaseConfig,
    IvrConfig,
    Phone,
    PrankPolicyConfig,
    QueueConfig,
    SpeechConfig,
    WebConfig,
    default_categories,
    default_menu,
)
from .validation import require_routing, require_secrets

__all__ = [
    "CALLTAKER",
    "DIAL_TARGET_RE",
    "EXTENSION_RE",
    "MIN_SECRET_LENGTH",
    "NAME_RE",
    "USERNAME_RE",
    "Agency",
    "AsteriskConfig",
    "CallbackConfig",
    "Category",
    "Config",
    "ConfigError",
    "ControllerConfig",
    "DatabaseConfig",
    "IvrConfig",
    "Phone",
    "PrankPolicyConfig",
    "QueueConfig",
    "SpeechConfig",
    "WebConfig",
    "default_categories",
    "default_menu",
    "load",
    "normalise_database_url",
    "require_routing",
    "require_secrets",
]
