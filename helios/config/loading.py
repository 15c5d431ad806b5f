"""From the environment, the ``.env`` file and keyword overrides to validated ``Settings``.

Every key is validated on start; a bad value stops start-up with one ``ConfigError`` naming every
bad key in its environment spelling, the value (secrets hidden) and the allowed range, derived
from the field's constraints (a fraction also says what the value would mean as a percentage).
Unknown override keys are errors too, so a typo is never silently ignored.
"""

from __future__ import annotations

import os
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from helios.config.paths import PROJECT_ROOT
from helios.config.redaction import shown_value
from helios.config.settings import Settings
from helios.errors import ConfigError


def env_file_path() -> Path | None:
    """The .env file to read: ``HELIOS_ENV_FILE`` if set (empty disables), else ./.env or the
    project's .env."""
    chosen = os.environ.get("HELIOS_ENV_FILE")
    if chosen is not None:
        return Path(chosen) if chosen else None
    for candidate in (Path.cwd() / ".env", PROJECT_ROOT / ".env"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and .env, with keyword overrides on top.

    Raises ConfigError naming every bad key (in its environment spelling), the value and the
    allowed range. Unknown override keys are errors too, so a typo is not silently ignored.
    """
    problems: list[tuple[str, Any, str]] = [
        (key.upper(), shown_value(key, overrides[key]), "unknown setting; see .env.example")
        for key in sorted(overrides)
        if key.lower() not in Settings.model_fields
    ]
    clean = {
        key.lower(): value
        for key, value in overrides.items()
        if value is not None and key.lower() in Settings.model_fields
    }
    env_file = env_file_path()
    if env_file is not None and not env_file.is_file():
        problems.append(("HELIOS_ENV_FILE", str(env_file), "must name an existing .env file"))
        env_file = None
    try:
        settings = Settings(_env_file=env_file, **clean)  # type: ignore[call-arg]
    except ValidationError as exc:
        for error in exc.errors():
            location = [str(part) for part in error["loc"]]
            name = location[0] if location else "settings"
            value = error.get("input")
            problems.append(
                (
                    name.upper(),
                    shown_value(name, value),
                    _allowed(name, error["type"], error["msg"], value),
                )
            )
        raise ConfigError(problems) from None
    problems.extend(settings.cross_check())
    if problems:
        raise ConfigError(problems)
    return settings


# Human-readable allowed ranges, derived from the field constraints, for error messages.
def _allowed(field_name: str, error_type: str, error_msg: str, value: Any = None) -> str:
    field = Settings.model_fields.get(field_name)
    if field is None:
        return error_msg
    message = error_msg.removeprefix("Value error, ")
    bounds: list[str] = []
    for meta in field.metadata:
        for attr, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                shown = format(bound, "f") if isinstance(bound, Decimal) else bound
                bounds.append(f"{symbol} {shown}")
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "one of " + ", ".join(member.value for member in annotation)
    if not bounds:
        if field_name == "pairs" and error_type in {"too_short", "too_long"}:
            return "1 to 50 ZAR pairs, comma separated (e.g. BTCZAR,ETHZAR,SOLZAR)"
        return message
    # a number out of range, not a number, NaN or infinity: always say the allowed range
    kind = "a whole number" if field.annotation is int else "a finite number"
    allowed = f"must be {kind} " + " and ".join(bounds)
    extra = field.json_schema_extra
    if isinstance(extra, dict) and extra.get("fraction"):
        allowed += " (a fraction: 0.15 means 15%"
        shown = _as_percent(value)
        allowed += f"; {value} would be {shown})" if shown else ")"
    return allowed


def _as_percent(value: Any) -> str | None:
    try:
        number = Decimal(str(value).strip())
    except (ArithmeticError, ValueError):
        return None
    if not number.is_finite():
        return None
    return f"{(number * 100).normalize():f}%"
