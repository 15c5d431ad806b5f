"""What one watchdog pass reads, and the rule that judges it (pure).

A pass of the watchdog (``hx.halts.check``) reads the account marked at the latest prices, the
limits in force, when each pair's latest price was observed, the exchange errors of the window,
the stored reconciliation result, the acknowledgements of resumes and the halt flag. Live, it
reads them from the database in one read transaction (``Halts.reads_in``); a replay's light
step builds the same value from the book it holds in memory (``helios.replay.memory_book``).
``watchdog_reads`` is the one place the figures are assembled from what was read, and
``judge`` the one place they are turned into breaches (each trigger's rule is its function in
``helios.halt_triggers``), so the two sources cannot judge differently; ``Halts.act`` then
acts on them the same way whichever source gave them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import helios.halt_triggers as halt_triggers
from helios.accounts.valuation import Valuation
from helios.halt_triggers import AccountFigures, Breach, PriceObservations
from helios.trading_state import HaltState


@dataclass(frozen=True)
class WatchdogReads:
    """One pass's reads, with the thresholds they are judged by (the settings')."""

    account: AccountFigures
    max_drawdown_pct: float
    daily_loss_limit_pct: float
    prices: PriceObservations
    errors: int  # EXCHANGE_ERROR events in the last ``error_window_seconds``
    error_limit: int
    error_window_seconds: float
    reconciliation: tuple[str, Mapping[str, Any]] | None  # the stored LIVE breach, if any
    acknowledged: Mapping[str, datetime]  # trigger -> the resume that acknowledged it
    state: HaltState


@dataclass(frozen=True)
class Judged:
    """What a pass found: the breaches in force, and the stale-feed warning (half the stale
    price halt's threshold) when prices are going stale."""

    found: list[Breach]
    early: Breach | None


def account_figures(valuation: Valuation) -> AccountFigures:
    """The account as the triggers judge it: the valuation's figures (drawdown and daily loss
    as the valuation defines them), as floats."""
    return AccountFigures(
        equity=float(valuation.equity),
        peak_equity=float(valuation.peak_equity),
        start_of_day_equity=float(valuation.start_of_day_equity),
        drawdown=float(valuation.drawdown),
        daily_loss=float(valuation.daily_loss),
    )


def watchdog_reads(
    *,
    valuation: Valuation,
    limits: Any,
    observed: Iterable[tuple[str, datetime]],
    errors: int,
    reconciliation: tuple[str, Mapping[str, Any]] | None,
    acknowledged: Mapping[str, datetime],
    state: HaltState,
    now: datetime,
    settings: Any,
    feed_started_at: datetime | None,
) -> WatchdogReads:
    """The pass's reads assembled (``limits``: the ``RiskLimits`` in force; ``observed``: each
    pair's latest price's observation time; ``settings``: the configured pairs and thresholds)."""
    return WatchdogReads(
        account=account_figures(valuation),
        max_drawdown_pct=limits.max_drawdown_pct,
        daily_loss_limit_pct=limits.daily_loss_limit_pct,
        prices=PriceObservations(
            now=now,
            pairs=tuple(settings.pairs),
            observed=dict(observed),
            feed_started_at=feed_started_at,
            limit_seconds=settings.halt_stale_price_seconds,
        ),
        errors=errors,
        error_limit=settings.halt_exchange_errors,
        error_window_seconds=float(settings.halt_exchange_error_window_seconds),
        reconciliation=reconciliation,
        acknowledged=dict(acknowledged),
        state=state,
    )


def judge(reads: WatchdogReads) -> Judged:
    """Every automatic-halt condition in force (database loss aside: the scheduler judges it
    when nothing can be read), in the triggers' order, and the stale-feed warning."""
    judged = (
        halt_triggers.drawdown(reads.account, reads.max_drawdown_pct),
        halt_triggers.daily_loss(reads.account, reads.daily_loss_limit_pct),
        halt_triggers.stale_price(reads.prices),
        halt_triggers.exchange_errors(reads.errors, reads.error_limit, reads.error_window_seconds),
        halt_triggers.reconciliation(reads.reconciliation),
    )
    return Judged(
        [breach for breach in judged if breach is not None],
        halt_triggers.stale_warning(reads.prices),
    )
