"""Display formatting. Formatting only: values arrive computed by ``helios``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from helios.clock import ensure_utc
from helios.money import fmt_zar

__all__ = ["fmt_age", "fmt_multiple", "fmt_pct", "fmt_time", "fmt_zar"]

Number = Decimal | float | int


def fmt_pct(fraction: Number | None) -> str:
    """A fraction as a percentage with 2 decimals: ``0.0231`` -> ``2.31%``."""
    if fraction is None:
        return "-"
    return f"{fraction:.2%}"


def fmt_multiple(ratio: Number | None) -> str:
    """A ratio such as leverage: ``1.5`` -> ``1.50x``."""
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x"


def fmt_age(seconds: float | None) -> str:
    """An age in seconds, compact: ``4 s``, ``3 min 20 s``, ``2 h 05 min``."""
    if seconds is None or seconds != seconds:  # None or NaN
        return "-"
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"


def fmt_time(when: datetime | None, zone: str) -> str:
    """A UTC time shown in the trading-day zone: ``2026-11-26 10:00:00 SAST``."""
    if when is None:
        return "-"
    return ensure_utc(when).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def fmt_limit_value(limit_name: str, value: Number | None) -> str:
    """A risk check's value or limit in its own unit: leverage as a multiple (``3.00x``), a
    correlation as a plain number (``0.90``), every other limit as a percentage of equity."""
    if value is None:
        return "-"
    if limit_name == "max_leverage":
        return fmt_multiple(value)
    if limit_name == "max_correlation_threshold":
        return f"{value:.2f}"
    return fmt_pct(value)


PRE_CHECK_LABELS = {"buying_power": "Buying power", "price_age": "Price age"}


def fmt_pre_check_value(name: str, value: str | None) -> str:
    """A pre-check's figure in its own unit: ZAR for buying power (exact text from the
    decision), the age in seconds for the price age."""
    if value is None:
        return "-"
    if name == "buying_power":
        return fmt_zar(value)
    return fmt_age(float(value))
