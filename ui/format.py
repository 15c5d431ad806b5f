"""Display formatting. Formatting only: values arrive computed by ``helios``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from helios.clock import ensure_utc
from helios.demo_levels import is_demo
from helios.money import fmt_zar

__all__ = [
    "DEMO",
    "DEMO_HELP",
    "demo_tag",
    "fmt_age",
    "fmt_hours",
    "fmt_multiple",
    "fmt_pct",
    "fmt_quantity",
    "fmt_time",
    "fmt_trade",
    "fmt_zar",
    "text_width",
]

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


def fmt_hours(hours: Number | None) -> str:
    """A duration given in hours, in words a person reads at once: ``0.2`` -> ``12 min``,
    ``3.0833`` -> ``3 h 5 min``, ``3`` -> ``3 h``; nothing left (or less) -> ``0 min``."""
    if hours is None or hours != hours:  # None or NaN
        return "-"
    minutes = max(round(float(hours) * 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    whole, rest = divmod(minutes, 60)
    return f"{whole} h" if rest == 0 else f"{whole} h {rest} min"


def fmt_quantity(quantity: Number | None) -> str:
    """A base-asset quantity with four significant digits at least: ``0.000752``, ``12.35``."""
    if quantity is None:
        return "-"
    value = float(quantity)
    if value == 0:
        return "0"
    digits = max(4 - int(f"{abs(value):e}".split("e")[1]) - 1, 0)
    return f"{value:,.{digits}f}"


def fmt_trade(
    side: str,
    pair: str,
    notional: Number,
    price: Number | None,
    stop: Number | None,
    target: Number | None,
) -> str:
    """The trade a confirmation names: ``Buy 0.000752 BTCZAR at ~R1,200,000.00 (R903.00),
    stop R1,176,000.00, target R1,272,000.00`` (the quantity is notional / the latest price:
    the fill decides the real one)."""
    verb = "Buy" if side.upper() == "BUY" else "Sell"
    if price is None or float(price) <= 0:
        return f"{verb} {fmt_zar(notional)} of {pair} at market (no price yet)"
    quantity = float(notional) / float(price)
    return (
        f"{verb} {fmt_quantity(quantity)} {pair} at ~{fmt_zar(price)} ({fmt_zar(notional)}), "
        f"stop {fmt_zar(stop) if stop is not None else '-'}, "
        f"target {fmt_zar(target) if target is not None else '-'}"
    )


DEMO = "DEMO"
DEMO_HELP = (
    "Opened from a demo signal (the demo momentum rule on the simulated market, PAPER only), "
    "not from a model."
)


def demo_tag(*, source: str | None = None, reasoning: str | None = None) -> str:
    """``DEMO`` for a demo signal (its source) or position (its strategic reasoning), else
    ``""``: the one column value every table shows them by."""
    return DEMO if is_demo(source=source, reasoning=reasoning) else ""


CHAR_PX = 7.5  # an average character of the dataframe's 14 px font, with room to spare
CELL_PADDING_PX = 28


def text_width(values: Iterable[object], header: str = "", minimum: int = 60) -> int:
    """A text column's width in pixels that shows its longest value (or header) whole, for
    ``st.column_config.TextColumn(width=...)``: a wide table then scrolls sideways (its key
    columns pinned) rather than cutting the text off with an ellipsis."""
    longest = max((len(str(v)) for v in values), default=0)
    return max(minimum, int(max(longest, len(header)) * CHAR_PX) + CELL_PADDING_PX)
