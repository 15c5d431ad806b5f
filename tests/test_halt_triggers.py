"""The automatic-halt rules (``helios.halt_triggers``), one table per trigger, without a database.

Each row is the figures the watchdog would have read and what the rule says: no breach, or a
breach with its message and figures. The boundaries are the seed's: drawdown and daily loss
strictly above their limit, a price strictly older than the stale limit, strictly more exchange
errors than allowed, the database lost for at least its limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helios import halt_triggers
from helios.halt_triggers import (
    DAILY_LOSS,
    DATABASE_LOST,
    DRAWDOWN,
    EXCHANGE_ERRORS,
    RECONCILIATION,
    STALE_PRICE,
    TRIGGERS,
    AccountFigures,
    Breach,
    PriceObservations,
)

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def account(
    *, drawdown: float = 0.0, daily_loss: float = 0.0, equity: float = 100_000.0
) -> AccountFigures:
    return AccountFigures(
        equity=equity,
        peak_equity=120_000.0,
        start_of_day_equity=105_000.0,
        drawdown=drawdown,
        daily_loss=daily_loss,
    )


def test_every_trigger_name_is_listed_once() -> None:
    assert TRIGGERS == (
        DRAWDOWN,
        DAILY_LOSS,
        STALE_PRICE,
        DATABASE_LOST,
        EXCHANGE_ERRORS,
        RECONCILIATION,
    )
    assert len(set(TRIGGERS)) == len(TRIGGERS)


# --- drawdown ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("drawdown", "limit", "breached"),
    [
        (0.0, 0.15, False),  # a healthy book
        (0.149999, 0.15, False),  # just under
        (0.15, 0.15, False),  # exactly at the limit: the seed's rule is "above"
        (0.150001, 0.15, True),  # just over
        (0.16, 0.15, True),
        (0.05, 0.04, True),  # a tighter limit in force
        (1.0, 0.15, True),  # everything lost
    ],
)
def test_drawdown(drawdown: float, limit: float, breached: bool) -> None:
    found = halt_triggers.drawdown(account(drawdown=drawdown), limit)
    assert (found is not None) is breached
    if found is not None:
        assert found.trigger == DRAWDOWN
        assert found.figures == {
            "drawdown": drawdown,
            "limit": limit,
            "equity": 100_000.0,
            "peak_equity": 120_000.0,
        }


def test_a_drawdown_breach_says_the_figures() -> None:
    found = halt_triggers.drawdown(account(drawdown=0.16), 0.15)
    assert found == Breach(
        DRAWDOWN,
        "drawdown 16.00% > limit 15.00% (equity R100,000.00, peak R120,000.00)",
        {"drawdown": 0.16, "limit": 0.15, "equity": 100_000.0, "peak_equity": 120_000.0},
    )


def test_the_daily_loss_does_not_count_as_drawdown() -> None:
    assert halt_triggers.drawdown(account(daily_loss=0.5), 0.15) is None


# --- daily loss ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("daily_loss", "limit", "breached"),
    [
        (0.0, 0.05, False),
        (0.049999, 0.05, False),  # just under
        (0.05, 0.05, False),  # exactly at the limit: "above" only
        (0.050001, 0.05, True),  # just over
        (0.06, 0.05, True),
        (0.03, 0.02, True),  # a tighter limit in force
    ],
)
def test_daily_loss(daily_loss: float, limit: float, breached: bool) -> None:
    found = halt_triggers.daily_loss(account(daily_loss=daily_loss), limit)
    assert (found is not None) is breached
    if found is not None:
        assert found.trigger == DAILY_LOSS
        assert found.figures == {
            "daily_loss": daily_loss,
            "limit": limit,
            "equity": 100_000.0,
            "start_of_day_equity": 105_000.0,
        }


def test_a_daily_loss_breach_says_the_figures() -> None:
    found = halt_triggers.daily_loss(account(daily_loss=0.06, equity=98_700.0), 0.05)
    assert found is not None
    assert found.message == (
        "daily loss 6.00% > limit 5.00% (equity R98,700.00, start of day R105,000.00)"
    )


def test_the_drawdown_does_not_count_as_daily_loss() -> None:
    assert halt_triggers.daily_loss(account(drawdown=0.5), 0.05) is None


# --- stale price ---------------------------------------------------------------------------------
def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("observed", "feed_started_at", "stale"),
    [
        ({"BTCZAR": ago(10)}, None, {}),  # fresh
        ({"BTCZAR": ago(HOUR)}, None, {}),  # exactly at the limit: not stale yet
        ({"BTCZAR": ago(HOUR + 0.1)}, None, {"BTCZAR": HOUR + 0.1}),  # just over
        ({"BTCZAR": ago(2 * HOUR)}, None, {"BTCZAR": 2 * HOUR}),
        # a feed that has just started has a full period to deliver before old prices halt
        ({"BTCZAR": ago(5 * HOUR)}, ago(60), {}),
        ({"BTCZAR": ago(5 * HOUR)}, ago(HOUR), {}),
        ({"BTCZAR": ago(5 * HOUR)}, ago(HOUR + 1), {"BTCZAR": HOUR + 1}),
        # a price newer than the feed's start counts from the price
        ({"BTCZAR": ago(HOUR + 5)}, ago(3 * HOUR), {"BTCZAR": HOUR + 5}),
        # never priced: judged from the feed's start (fail-closed once a period has passed) ...
        ({}, ago(HOUR + 1), {"BTCZAR": HOUR + 1}),
        ({}, ago(HOUR), {}),
        # ... and not judged when the feed's start is unknown (today's rule: the price-age
        # pre-check already refuses every opening trade on such a pair)
        ({}, None, {}),
        # a price stamped in the future (a clock ahead) is not stale
        ({"BTCZAR": NOW + timedelta(seconds=30)}, None, {}),
        # a price for a pair not configured is not judged
        ({"BTCZAR": ago(1), "DOGEZAR": ago(10 * HOUR)}, None, {}),
    ],
)
def test_stale_price(
    observed: dict[str, datetime], feed_started_at: datetime | None, stale: dict[str, float]
) -> None:
    prices = PriceObservations(
        now=NOW,
        pairs=("BTCZAR",),
        observed=observed,
        feed_started_at=feed_started_at,
        limit_seconds=HOUR,
    )
    found = halt_triggers.stale_price(prices)
    if not stale:
        assert found is None
        return
    assert found is not None and found.trigger == STALE_PRICE
    assert found.figures == {"stale_seconds": stale, "limit_seconds": HOUR}


def test_a_stale_price_breach_names_every_stale_pair_in_order() -> None:
    prices = PriceObservations(
        now=NOW,
        pairs=("SOLZAR", "BTCZAR", "ETHZAR"),
        observed={"SOLZAR": ago(2 * HOUR), "BTCZAR": ago(10), "ETHZAR": ago(5000.04)},
        limit_seconds=HOUR,
    )
    assert halt_triggers.stale_price(prices) == Breach(
        STALE_PRICE,
        "no price update for more than 3,600 s: ETHZAR 5,000 s, SOLZAR 7,200 s",
        {"stale_seconds": {"SOLZAR": 7200.0, "ETHZAR": 5000.0}, "limit_seconds": HOUR},
    )


# --- exchange errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("errors", "limit", "breached"),
    [
        (0, 10, False),
        (9, 10, False),
        (10, 10, False),  # exactly at the limit: "more than" only
        (11, 10, True),  # just over
        (2, 1, True),
        (1, 1, False),
    ],
)
def test_exchange_errors(errors: int, limit: int, breached: bool) -> None:
    found = halt_triggers.exchange_errors(errors, limit, 60.0)
    assert (found is not None) is breached
    if found is not None:
        assert found.trigger == EXCHANGE_ERRORS
        assert found.figures == {"errors": errors, "limit": limit, "window_seconds": 60.0}


def test_an_exchange_errors_breach_says_the_count_and_the_window() -> None:
    found = halt_triggers.exchange_errors(12, 10, 60.0)
    assert found is not None
    assert found.message == "12 exchange errors in the last 60 s (more than 10)"


# --- database lost -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lost_seconds", "limit", "breached"),
    [
        (None, 30.0, False),  # the database answers
        (0.0, 30.0, False),
        (29.9, 30.0, False),  # just under
        (30.0, 30.0, True),  # exactly at the limit: already lost
        (30.1, 30.0, True),
        (0.0, 0.0, True),  # a limit of 0: at once
        (None, 0.0, False),
    ],
)
def test_database_lost(lost_seconds: float | None, limit: float, breached: bool) -> None:
    found = halt_triggers.database_lost(lost_seconds, limit, 2)
    assert (found is not None) is breached
    if found is not None:
        assert found.trigger == DATABASE_LOST
        assert found.figures == {"lost_seconds": round(lost_seconds or 0.0, 1), "open_positions": 2}


def test_the_database_lost_breach_says_how_long_and_the_limit() -> None:
    assert halt_triggers.describe_database_lost(45.04, 30.0, 3) == Breach(
        DATABASE_LOST,
        "database unreachable for 45 s (limit 30 s)",
        {"lost_seconds": 45.0, "open_positions": 3},
    )


# --- reconciliation ------------------------------------------------------------------------------
RECONCILED: list[tuple[Any, Breach | None]] = [
    (None, None),  # no stored breach: the last pass found the books in agreement
    (
        ("ZAR differs by R120.00", {"difference_zar": "120.00"}),
        Breach(RECONCILIATION, "ZAR differs by R120.00", {"difference_zar": "120.00"}),
    ),
]


@pytest.mark.parametrize(("stored", "expected"), RECONCILED)
def test_reconciliation(stored: Any, expected: Breach | None) -> None:
    assert halt_triggers.reconciliation(stored) == expected


def test_the_triggers_read_nothing_but_their_inputs() -> None:
    """The module is pure: no database, clock or configuration import."""
    source = Path(halt_triggers.__file__).read_text(encoding="utf-8")
    for forbidden in ("sqlalchemy", "helios.db", "helios.clock", "helios.config", "Session"):
        assert forbidden not in source
