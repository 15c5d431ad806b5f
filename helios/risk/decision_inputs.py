"""A decision's inputs from what it read: the pure half of ``InputReader.read_inputs``.

The rule: the account head (cash, peak and start-of-day equity, the trading day and mode, the
halt flag, the pair's price and when it was observed), the exposed positions at their marks, the
trading day's start (or why it is unknown) and the pair's lock in force, read in one
transaction (``DecisionReads``), become ``Inputs`` here, with nothing read and nothing written:
the account as the checks see it (``book.portfolio``, the LIVE capital cap), whether the
valuation moves the account's marks (a new peak, a day to roll), the proposed trade at the
pair's price, the cash an opening trade may use (PAPER: the ledger's cash less what the
positions being opened will take; LIVE: the lesser of that, capped, and VALR's available ZAR),
the price's age and the lock or the pair's fullness. The database reader
(``helios.risk.input_reader``) and a book held in memory (a replay's, ``docs/replay.md`` step 2)
give the same reads, so they decide alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.clock import trading_day
from helios.config import Settings, TradingMode
from helios.equity_marks import EquityMarks, updated_marks
from helios.pair_locks import refusal
from helios.risk.book import Book, portfolio
from helios.risk.checks import ProposedTrade
from helios.risk.inputs import Inputs, checks_enforced
from helios.risk.limits import RiskLimits
from helios.risk.prechecks import free_cash, live_free_cash, pair_full
from helios.trade import TradeParams


@dataclass(frozen=True)
class VenueCash:
    """LIVE: what the venue says the account may spend now (VALR's available ZAR) and the taker
    fee it charges on the pair; ``available_zar`` None when it could not be asked (``note``).
    Asked outside any transaction by ``helios.risk.venue``."""

    available_zar: Decimal | None
    fee_pct: Decimal
    note: str = ""


@dataclass(frozen=True)
class DecisionReads:
    """What one decision read, as read: ``head`` (``risk.statements.CHECK_HEAD``'s columns),
    the exposed ``positions`` (``OPEN_POSITIONS``: pair, side, quantity, entry, margin,
    leverage, mark), the trading day's start (None: unknown, ``start_unknown`` says why) and
    the pair's ``lock`` in force (None: none)."""

    head: Any
    positions: Sequence[Any]
    start_of_day: Decimal | None
    start_unknown: str
    lock: Any | None


def inputs_of(
    reads: DecisionReads,
    *,
    pair: str,
    side: str,
    params: TradeParams,
    limits: RiskLimits,
    stats: Any,
    now: datetime,
    settings: Settings,
    venue: VenueCash | None,
) -> tuple[Inputs, Book]:
    """The decision's ``Inputs`` and the ``Book`` it valued (see the module's rule)."""
    head = reads.head
    mode = head.trading_mode or TradingMode.PAPER.value
    zone = settings.trading_day_timezone
    start_of_day = reads.start_of_day
    book = portfolio(head, list(reads.positions), settings, start_of_day, reads.start_unknown)
    stored = EquityMarks(head.peak_equity, head.trading_day, head.start_of_day_equity)
    marks = updated_marks(
        stored, book.equity, book.fully_priced, trading_day(now, zone), start_of_day
    )
    book = replace(book, day_start=start_of_day, marks_due=marks != stored, read_at=now)
    trade = ProposedTrade(
        pair=pair,
        side=side,
        position_size_zar=params.position_size_zar,
        leverage=params.leverage,
        sector=settings.sector_of(pair),
        price=float(head.price) if head.price is not None else None,
    )
    free, source, fee = opening_cash(head.cash, book, mode, venue, settings)
    observed = head.price_observed_at
    is_halted = head.halted == "true"
    reason = head.halt_reason
    lock = reads.lock
    inputs = Inputs(
        book.state,
        limits,
        trade,
        stats,
        is_halted,
        reason if reason and is_halted else "",
        mode,
        book.cap,
        free_cash=str(free) if free is not None else None,
        free_cash_source=source,
        fee_pct=str(fee),
        price_age_seconds=(now - observed).total_seconds() if observed is not None else None,
        max_price_age_seconds=settings.price_max_age_seconds,
        lock_refusal=(
            refusal(lock, zone)
            if lock
            else pair_full(
                sum(1 for p in book.state.positions if p.pair == pair),
                pair,
                settings.max_positions_per_pair,
            )
        ),
        lock_id=lock.id if lock else None,
        # LIVE always enforces the 7 checks, whatever the setting says
        checks_enforced=checks_enforced(settings.risk_checks_enforced, mode),
        lock_ends_at=lock.ends_at.isoformat() if lock else None,
    )
    return inputs, book


def opening_cash(
    cash: Decimal, book: Book, mode: str, venue: VenueCash | None, settings: Settings
) -> tuple[Decimal | None, str, Decimal]:
    """The cash an opening trade may use (``prechecks.free_cash``), where the figure comes
    from, and the fee rate. PAPER: the ledger's cash less what the positions being opened
    will take. LIVE: the lesser of that (scaled like equity by the capital cap) and VALR's
    available ZAR, with VALR's taker fee; unknown when VALR could not be asked."""
    if mode != TradingMode.LIVE.value:
        fee = settings.paper_fee_pct
        return free_cash(cash, book.reserved, fee), "the ledger's cash", fee
    if venue is None:
        venue = VenueCash(None, settings.paper_fee_pct, "no venue to ask")
    live = live_free_cash(
        venue.available_zar,
        cash,
        book.reserved,
        venue.fee_pct,
        book.equity,
        settings.live_capital_cap_zar,
        venue.note,
    )
    return live.free, live.source, venue.fee_pct
