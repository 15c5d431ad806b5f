"""The automatic-halt triggers (L2, pure): one function per trigger, judging figures already read.

``Breach`` is what a trigger reports (the trigger, a message, the figures behind it); the
watchdog (``helios.halts``) reads the figures, calls these functions and acts on what they
return, and a service that finds a breach elsewhere (the LIVE reconciliation) reports it through
a callable it is given, never by importing the halts.

Each function takes frozen inputs (numbers, times, a frozen dataclass) and returns a ``Breach``
or None; none reads the database, the clock or the configuration, so each rule is tested on its
own (``tests/test_halt_triggers.py``) and a new trigger is one function more here plus one read
in ``Halts.breaches``. The limits are the seed's: drawdown and daily loss strictly above their
limit, a stale price strictly older than its limit, strictly more exchange errors than allowed,
and the database lost for at least its limit (a limit of 0 means at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

DRAWDOWN = "drawdown"
DAILY_LOSS = "daily_loss"
STALE_PRICE = "stale_price"
DATABASE_LOST = "database_lost"
EXCHANGE_ERRORS = "exchange_errors"
RECONCILIATION = "reconciliation"  # VALR's balances disagree with the ledger (LIVE)

TRIGGERS = (
    DRAWDOWN,
    DAILY_LOSS,
    STALE_PRICE,
    DATABASE_LOST,
    EXCHANGE_ERRORS,
    RECONCILIATION,
)
WATCHDOG = "watchdog"


@dataclass(frozen=True)
class Breach:
    """An automatic-halt condition in force, with the figures behind it."""

    trigger: str
    message: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class AccountFigures:
    """The account marked now (``hx.ledger.valuation()``), as the watchdog judges it.

    ``drawdown`` is the fall from the peak equity, ``daily_loss`` the fall from the trading
    day's starting equity, both fractions (0.15 is 15%) and never negative."""

    equity: float
    peak_equity: float
    start_of_day_equity: float
    drawdown: float
    daily_loss: float


@dataclass(frozen=True)
class PriceObservations:
    """When each configured pair's latest price was observed at its source.

    ``observed``: pair -> the observation time of its latest stored price (not when it reached
    us: ingested history arrives now but is as old as its bars); a pair never priced is absent.
    ``feed_started_at``: when the price feed started (None: not known)."""

    now: datetime
    pairs: tuple[str, ...]
    observed: Mapping[str, datetime] = field(default_factory=dict)
    feed_started_at: datetime | None = None
    limit_seconds: float = 3600.0


def drawdown(account: AccountFigures, limit: float) -> Breach | None:
    """Drawdown strictly above ``max_drawdown_pct`` (the seed's 15%) halts.

    Exactly at the limit is not a breach: the seed's rule is "above", and risk check 1 already
    refuses every opening trade from the limit on."""
    if not account.drawdown > limit:
        return None
    return Breach(
        DRAWDOWN,
        f"drawdown {account.drawdown:.2%} > limit {limit:.2%} "
        f"(equity R{account.equity:,.2f}, peak R{account.peak_equity:,.2f})",
        {
            "drawdown": account.drawdown,
            "limit": limit,
            "equity": account.equity,
            "peak_equity": account.peak_equity,
        },
    )


def daily_loss(account: AccountFigures, limit: float) -> Breach | None:
    """A loss since the trading day's start strictly above ``daily_loss_limit_pct`` (the seed's
    5%) halts; exactly at the limit is not a breach (the seed's "above")."""
    if not account.daily_loss > limit:
        return None
    return Breach(
        DAILY_LOSS,
        f"daily loss {account.daily_loss:.2%} > limit {limit:.2%} "
        f"(equity R{account.equity:,.2f}, start of day R{account.start_of_day_equity:,.2f})",
        {
            "daily_loss": account.daily_loss,
            "limit": limit,
            "equity": account.equity,
            "start_of_day_equity": account.start_of_day_equity,
        },
    )


def stale_price(prices: PriceObservations) -> Breach | None:
    """A configured pair without a price observed for strictly more than ``limit_seconds``
    (``HALT_STALE_PRICE_SECONDS``, 1 hour) halts; the breach names every such pair.

    The age counts from the later of the pair's last observation and the feed's start: a feed
    that has just started (a new install over its backfilled history, a restart after a pause)
    has a full period to deliver before its old prices halt, and a pair never priced is judged
    from the feed's start. A pair never priced while the feed's start is unknown is not judged
    here: the price-age pre-check already refuses every opening trade on it."""
    stale: dict[str, float] = {}
    for pair in prices.pairs:
        seen = [at for at in (prices.observed.get(pair), prices.feed_started_at) if at is not None]
        if not seen:
            continue
        age = (prices.now - max(seen)).total_seconds()
        if age > prices.limit_seconds:
            stale[pair] = round(age, 1)
    if not stale:
        return None
    listed = ", ".join(f"{pair} {age:,.0f} s" for pair, age in sorted(stale.items()))
    return Breach(
        STALE_PRICE,
        f"no price update for more than {prices.limit_seconds:,.0f} s: {listed}",
        {"stale_seconds": stale, "limit_seconds": prices.limit_seconds},
    )


def exchange_errors(errors: int, limit: int, window_seconds: float) -> Breach | None:
    """Strictly more than ``limit`` (``HALT_EXCHANGE_ERRORS``, 10) exchange errors within the
    last ``window_seconds`` (``HALT_EXCHANGE_ERROR_WINDOW_SECONDS``, 1 minute) halts: an
    exchange failing that often is not one to trade on. ``errors`` counts the
    ``EXCHANGE_ERROR`` events every process records (the dashboard's failures too)."""
    if not errors > limit:
        return None
    return Breach(
        EXCHANGE_ERRORS,
        f"{errors} exchange errors in the last {window_seconds:,.0f} s (more than {limit})",
        {"errors": errors, "limit": limit, "window_seconds": window_seconds},
    )


def describe_database_lost(
    lost_seconds: float, limit_seconds: float, open_positions: int
) -> Breach:
    """The ``database_lost`` breach for a database unreachable for ``lost_seconds`` (the
    message and figures the close-out journals, whatever the limit)."""
    return Breach(
        DATABASE_LOST,
        f"database unreachable for {lost_seconds:.0f} s (limit {limit_seconds:g} s)",
        {"lost_seconds": round(lost_seconds, 1), "open_positions": open_positions},
    )


def database_lost(
    lost_seconds: float | None, limit_seconds: float, open_positions: int = 0
) -> Breach | None:
    """The database unreachable for at least ``limit_seconds`` (``HALT_DATABASE_LOST_SECONDS``)
    halts: the seed's "can't track positions". At the limit is already a breach (a limit of 0:
    at once); ``lost_seconds`` None means the database answers. Nothing can be read then, so
    the scheduler's ``helios.closeout`` judges it and closes out through its journal."""
    if lost_seconds is None or lost_seconds < limit_seconds:
        return None
    return describe_database_lost(lost_seconds, limit_seconds, open_positions)


def reconciliation(stored: tuple[str, Mapping[str, Any]] | None) -> Breach | None:
    """LIVE only: VALR's balances or open orders differ from the ledger by more than
    ``LIVE_RECONCILE_HALT_ZAR``. Asking VALR takes the network, so the reconciliation pass
    judges it and stores its result (message, figures); a stored breach is in force until a
    later pass clears it, so a resume acknowledges it as any other trigger."""
    if stored is None:
        return None
    message, figures = stored
    return Breach(RECONCILIATION, message, dict(figures))


def stale_warning(prices: PriceObservations) -> Breach | None:
    """The stale-price rule at half its threshold: a warning before the halt (issue 17), so a
    person can look at the feed while trading still runs. Same pairs, same ages, half the
    limit; the watchdog tells it once per episode (``Halts.check``)."""
    early = stale_price(replace(prices, limit_seconds=prices.limit_seconds / 2))
    if early is None:
        return None
    return Breach(STALE_PRICE, f"price feed going stale (halts at {prices.limit_seconds:,.0f} s): "
                  + early.message, early.figures)  # fmt: skip
