"""The rules a single setting's value must follow, beyond its type and range.

Each rule is a pure function of the value that returns it (normalised) or raises ``ValueError``
with what is allowed; ``Settings``' validators call them, so ``load_settings`` names the key.
Pairs are ZAR pairs spelled as VALR does (``BTCZAR``), without repeats; market caps are finite
and positive (only their ratios matter); the database is a file or a server (an in-memory
SQLite is not shared between connections or processes); VALR is reached over https (signed
order requests must not travel in clear text); the API token is long enough to guard real
money; the dashboard stores a password hash, never the password.
"""

from __future__ import annotations

import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

PAIR_PATTERN = re.compile(r"^[A-Z0-9]{2,12}ZAR$")
DATABASE_URL_PATTERN = re.compile(r"^(sqlite(\+pysqlite)?|postgres|postgresql(\+psycopg)?)://")
API_TOKEN_MIN_LENGTH = 24  # HELIOS_API_TOKEN: a guessable token would guard real money


def empty_secret_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def strong_token(value: SecretStr | None) -> SecretStr | None:
    token = value.get_secret_value() if value is not None else None
    if token is not None and (
        len(token) < API_TOKEN_MIN_LENGTH
        or token != token.strip()
        or not token.isascii()
        or not token.isprintable()
    ):
        raise ValueError(
            f"at least {API_TOKEN_MIN_LENGTH} printable ASCII characters without spaces at "
            "either end (make one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        )
    return value


def password_hash(value: SecretStr | None) -> SecretStr | None:
    from helios.auth import is_password_hash

    if value is not None and not is_password_hash(value.get_secret_value().strip()):
        raise ValueError(
            "a hash made by `helios hash-password` (scrypt$n$r$p$salt$hash), never the "
            "password itself"
        )
    return value


def upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def normalise_cap_pairs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            (str(k).strip().upper().replace("/", "").replace("-", "")): v for k, v in value.items()
        }
    return value


def check_caps(value: dict[str, float]) -> dict[str, float]:
    bad = [pair for pair in value if not PAIR_PATTERN.fullmatch(pair)]
    if bad:
        raise ValueError(f"market caps for {bad}: keys must be ZAR pairs such as BTCZAR")
    wrong = [pair for pair, cap in value.items() if not (math.isfinite(cap) and cap > 0)]
    if wrong:
        raise ValueError(
            f"market caps of {', '.join(wrong)}: each must be a finite number > 0 (ZAR), "
            'as JSON: {"BTCZAR": 3.49e13, "ETHZAR": 7.56e12}'
        )
    return value


def split_pairs(value: Any) -> Any:
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, list | tuple):
        return [str(part).strip().upper().replace("/", "").replace("-", "") for part in value]
    return value


def check_pairs(value: list[str]) -> list[str]:
    bad = [pair for pair in value if not PAIR_PATTERN.fullmatch(pair)]
    if bad:
        raise ValueError(
            f"pairs {bad} are not ZAR pairs: each must look like BTCZAR "
            "(2-12 letters or digits followed by ZAR)"
        )
    repeated = sorted({pair for pair in value if value.count(pair) > 1})
    if repeated:
        raise ValueError(f"pairs must not repeat: {', '.join(repeated)} appears more than once")
    return value


def check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    # a folder of the zone database ("America") raises IsADirectoryError, an OSError
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("must be an IANA time zone such as Africa/Johannesburg") from None
    return value


def sqlite_in_memory(url: str) -> bool:
    path = url.split("://", 1)[1].split("?", 1)[0]
    return path in ("", "/", "/:memory:") or "mode=memory" in url


def check_database_url(value: str) -> str:
    if not DATABASE_URL_PATTERN.match(value):
        raise ValueError("must start with sqlite:/// or postgresql:// (or postgresql+psycopg://)")
    if value.startswith("sqlite") and sqlite_in_memory(value):
        raise ValueError(
            "must name an SQLite file (sqlite:///path/to/helios.db): an in-memory database "
            "is not shared between connections or processes"
        )
    return value


def check_base_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http(s) URL such as https://api.valr.com")
    host = re.sub(r"^https?://(\[[^\]]*\]|[^:/]*).*$", r"\1", value).lower()
    if value.startswith("http://") and host not in ("127.0.0.1", "localhost", "[::1]"):
        # signed order requests must not travel in clear text
        raise ValueError(
            "must be an https URL such as https://api.valr.com (plain http only for a "
            "test server on this machine: 127.0.0.1 or localhost)"
        )
    return value.rstrip("/")
