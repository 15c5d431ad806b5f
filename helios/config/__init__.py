"""Configuration: environment variables, a ``.env`` file, and ``helios.connect(**overrides)``.

Keys are upper case in the environment (``INITIAL_CAPITAL_ZAR``) and lower case as Python
keyword arguments (``initial_capital_zar=...``). Every key is validated on start; a bad value
stops start-up with a ``ConfigError`` naming the key, the value and the allowed range.

The ``.env`` file only seeds first-start values (trading mode, risk limits) and holds secrets. Once
a database exists, the database is the source of truth for the trading mode, the halt flag and the
risk limits (see ``helios.controls`` and, from issue #3, ``helios.risk``).

The package, one module per concept (every name is re-exported here, ``from helios.config
import ...`` is the way in): ``choices`` (the enums), ``settings`` (the ``Settings`` model and
its cross-key rules), ``rules`` (one value's rules), ``loading`` (``load_settings`` and its
errors), ``redaction`` (what of a value may be shown), ``paths`` (the project folder).
"""

from helios.config.channels import ChannelSpec, mask, parse_alert_urls, secret_parts
from helios.config.choices import (
    AlertSeverity,
    DemoSignals,
    FeedKind,
    HaltAction,
    SizingMethod,
    TradingMode,
)
from helios.config.loading import env_file_path, load_settings
from helios.config.paths import DEFAULT_DATABASE_URL, PROJECT_ROOT
from helios.config.redaction import SECRET_KEYS, describe, redact_url
from helios.config.rules import API_TOKEN_MIN_LENGTH, DATABASE_URL_PATTERN, PAIR_PATTERN
from helios.config.settings import DEFAULT_MARKET_CAPS_AS_OF, DEFAULT_MARKET_CAPS_ZAR, Settings
from helios.errors import ConfigError  # re-exported: callers catch it with the settings

__all__ = [
    "API_TOKEN_MIN_LENGTH",
    "DATABASE_URL_PATTERN",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_MARKET_CAPS_AS_OF",
    "DEFAULT_MARKET_CAPS_ZAR",
    "PAIR_PATTERN",
    "PROJECT_ROOT",
    "SECRET_KEYS",
    "AlertSeverity",
    "ChannelSpec",
    "ConfigError",
    "DemoSignals",
    "FeedKind",
    "HaltAction",
    "Settings",
    "SizingMethod",
    "TradingMode",
    "describe",
    "env_file_path",
    "load_settings",
    "mask",
    "parse_alert_urls",
    "redact_url",
    "secret_parts",
]
