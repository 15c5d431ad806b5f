"""Valuation of the account: equity, peak and start-of-day equity, kept exactly (DESIGN.md).

- Equity = cash + sum over open positions of (S + unrealized P&L).
- Drawdown = 1 - equity / peak equity. Daily loss = 1 - equity / start-of-day equity, where the day
  is the trading day in the configured time zone.

``held_equity`` is the one sum of equity over held positions (the risk checks, the marks and the
day-start rebuild use it); ``maintain_marks`` applies ``equity_marks.updated_marks`` under the
account lock; ``equity_at`` rebuilds the equity at a trading day's boundary from the ledger and
the stored candles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from helios.accounts.account import (
    MARGIN_HELD_STATUSES,
    STATE_ID,
    LedgerInvariantError,
    account_state,
    unrealized,
)
from helios.clock import ensure_utc, trading_day, trading_day_start
from helios.db.models import Candle, LatestPrice, LedgerEntry, PortfolioState, Position
from helios.equity_marks import EquityMarks, updated_marks
from helios.money import ZERO, zar

DAY_SECONDS = 86_400

# how old the last bar before a trading day's start may be to price a held pair at the boundary
BOUNDARY_PRICE_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class PositionMark:
    position_id: int
    pair: str
    side: str
    margin: Decimal
    notional: Decimal
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class Valuation:
    """The account at one instant, every figure exact."""

    cash: Decimal
    margin: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    gross_exposure: Decimal
    peak_equity: Decimal
    start_of_day_equity: Decimal
    initial_capital: Decimal
    positions: list[PositionMark] = field(default_factory=list)
    missing_prices: list[str] = field(default_factory=list)
    # why the day's start could not be known ("" when it is): the risk checks then fail closed
    start_of_day_unknown: str = ""

    @property
    def drawdown(self) -> Decimal:
        peak = max(self.peak_equity, self.equity)
        return ZERO if peak <= 0 else max(ZERO, 1 - self.equity / peak)

    @property
    def daily_pnl(self) -> Decimal:
        return self.equity - self.start_of_day_equity

    @property
    def total_pnl(self) -> Decimal:
        """Everything made or lost since the account began: equity - initial capital (ZAR)."""
        return self.equity - self.initial_capital

    @property
    def total_pnl_pct(self) -> Decimal | None:
        """``total_pnl`` as a fraction of the initial capital (None without capital)."""
        return self.total_pnl / self.initial_capital if self.initial_capital > 0 else None

    @property
    def daily_loss(self) -> Decimal:
        if self.start_of_day_equity <= 0:
            return ZERO
        return max(ZERO, 1 - self.equity / self.start_of_day_equity)

    @property
    def leverage(self) -> Decimal:
        return ZERO if self.equity <= 0 else self.gross_exposure / self.equity


def day_start(
    session: Session | Connection,
    stored_day: date,
    stored_equity: Decimal,
    now: datetime,
    zone: str,
) -> tuple[Decimal | None, str]:
    """Equity at the start of the current trading day: the stored value when the day has been
    rolled, else the equity at the day's boundary rebuilt from the ledger and the candles
    (``equity_at``), or None with the reason when that is impossible. Never yesterday's start,
    which would hide today's losses, nor the equity now. Returns (equity, "") when known."""
    today = trading_day(now, zone)
    if stored_day == today:
        return stored_equity, ""
    return equity_at(session, trading_day_start(today, zone))


def equity_at(session: Session | Connection, moment: datetime) -> tuple[Decimal | None, str]:
    """The account's equity at ``moment`` (a trading day's boundary), rebuilt exactly: cash then
    (the cash now less every ledger entry booked after ``moment``) plus, for each position whose
    margin was out then, its margin and its P&L at the boundary price: the close of the pair's
    newest intraday bar that ended by ``moment``, at most ``BOUNDARY_PRICE_WINDOW`` earlier.
    Returns (equity, "") or (None, why it cannot be known)."""
    moment = ensure_utc(moment)
    cash_now = session.execute(
        select(PortfolioState.cash).where(PortfolioState.id == STATE_ID)
    ).scalar_one_or_none()
    if cash_now is None:
        raise LedgerInvariantError("no account: the database was not initialised by connect()")
    later = session.execute(select(LedgerEntry.amount).where(LedgerEntry.ts > moment)).scalars()
    cash = cash_now - sum(later, ZERO)
    locked = select(LedgerEntry.position_id).where(
        LedgerEntry.kind == "MARGIN_LOCK", LedgerEntry.ts <= moment
    )
    released = select(LedgerEntry.position_id).where(
        LedgerEntry.kind == "MARGIN_RELEASE",
        LedgerEntry.ts <= moment,
        LedgerEntry.position_id.is_not(None),
    )
    held = session.execute(  # the positions whose margin was out of cash at ``moment``
        select(
            Position.id,
            Position.pair,
            Position.side,
            Position.position_size_zar,
            Position.quantity,
            Position.entry_price,
        )
        .where(Position.id.in_(locked), Position.id.not_in(released))
        .order_by(Position.id)
    ).all()
    marks: dict[str, Decimal | None] = {}
    for _id, pair, *_rest in held:
        if pair not in marks:
            marks[pair] = _boundary_price(session, pair, moment)
    equity, missing = held_equity(
        cash,
        ((pair, side, margin, q, entry, marks[pair]) for _i, pair, side, margin, q, entry in held),
    )
    if missing:
        return None, (
            f"start-of-day equity unknown: no price of {', '.join(sorted(set(missing)))} at the "
            f"trading day's start ({moment:%Y-%m-%d %H:%M} UTC) in the stored candles"
        )
    return equity, ""


def held_equity(
    cash: Decimal,
    held: Iterable[tuple[str, str, Decimal, Decimal | None, Decimal | None, Decimal | None]],
) -> tuple[Decimal, list[str]]:
    """Equity = cash + for each held position (pair, side, margin, quantity, entry, mark) its
    margin and its P&L at the mark, as ``value_account`` adds it up; a position without a mark
    (or an entry) is carried at its margin and its pair returned as unpriced."""
    equity = cash
    unpriced: list[str] = []
    for pair, side, margin, quantity, entry, mark in held:
        equity += margin
        if mark is None or quantity is None or entry is None:
            unpriced.append(pair)
        else:
            equity += unrealized(side, entry, mark, quantity)
    return equity, sorted(set(unpriced))


def _boundary_price(session: Session | Connection, pair: str, moment: datetime) -> Decimal | None:
    """The close of ``pair``'s newest intraday bar that ended by ``moment`` (at most a day
    before it): the price the market stood at when the trading day began."""
    rows = session.execute(
        select(Candle.ts, Candle.interval_seconds, Candle.close)
        .where(
            Candle.pair == pair,
            Candle.interval_seconds < DAY_SECONDS,
            Candle.ts < moment,
            Candle.ts >= moment - BOUNDARY_PRICE_WINDOW,
        )
        .order_by(Candle.ts.desc(), Candle.interval_seconds)
        .limit(10)
    ).all()
    for ts, interval, close in rows:
        if ensure_utc(ts) + timedelta(seconds=int(interval)) <= moment:
            return close
    return None


# the columns of the positions holding margin that a valuation marks (not whole ORM rows: every
# watchdog pass, monitor pass and snapshot values the account; a replay's book in memory holds
# the same rows)
MARKED_POSITIONS = (
    select(
        Position.id,
        Position.pair,
        Position.side,
        Position.status,
        Position.position_size_zar,
        Position.notional,
        Position.quantity,
        Position.entry_price,
    )
    .where(Position.status.in_(MARGIN_HELD_STATUSES))
    .order_by(Position.id)
)


def value_account(
    session: Session,
    prices: dict[str, Decimal],
    now: datetime | None = None,
    zone: str | None = None,
) -> Valuation:
    """Mark every open position to ``prices`` and add up the account (``valuation_of`` of what
    it reads). With ``now`` and ``zone`` the start-of-day equity is the current trading day's
    even before the day roll (``day_start``)."""
    state = account_state(session)
    rows = session.execute(MARKED_POSITIONS).all()
    start: Decimal | None = state.start_of_day_equity
    unknown = ""
    if now is not None and zone is not None:
        start, unknown = day_start(session, state.trading_day, state.start_of_day_equity, now, zone)
    return valuation_of(
        state.cash, state.peak_equity, state.initial_capital, rows, prices, start, unknown
    )


def valuation_of(
    cash: Decimal,
    peak_equity: Decimal,
    initial_capital: Decimal,
    rows: Iterable[Any],
    prices: Mapping[str, Decimal],
    start_of_day: Decimal | None,
    start_of_day_unknown: str = "",
) -> Valuation:
    """The account valued (pure): ``rows`` are the positions holding margin
    (``MARKED_POSITIONS``' columns), each marked to its pair's price in ``prices`` (a pair
    without one is carried at entry and reported missing). Equity = cash + margin + unrealized
    P&L. ``start_of_day``: the trading day's starting equity (None: not known,
    ``start_of_day_unknown`` says why; the equity now stands in, so the daily loss shows 0)."""
    marks: list[PositionMark] = []
    missing: list[str] = []
    for position in rows:
        if position.entry_price is None or position.quantity is None or position.notional is None:
            raise LedgerInvariantError(
                f"position {position.id} is {position.status} but has no entry booked "
                "(entry price, quantity and notional come from book_open)"
            )
        mark = prices.get(position.pair)
        if mark is None:
            missing.append(position.pair)
            pnl = ZERO  # no price: carried at entry, and reported as missing
        else:
            pnl = unrealized(position.side, position.entry_price, mark, position.quantity)
        notional_now = position.notional if mark is None else zar(position.quantity * mark)
        marks.append(
            PositionMark(
                position.id,
                position.pair,
                position.side,
                position.position_size_zar,
                notional_now,
                position.quantity,
                position.entry_price,
                mark,
                pnl,
            )
        )
    margin = sum((m.margin for m in marks), ZERO)
    upnl = sum((m.unrealized_pnl for m in marks), ZERO)
    equity = cash + margin + upnl
    return Valuation(
        cash=cash,
        margin=margin,
        unrealized_pnl=upnl,
        equity=equity,
        gross_exposure=sum((m.notional for m in marks), ZERO),
        peak_equity=peak_equity,
        start_of_day_equity=start_of_day if start_of_day is not None else equity,
        initial_capital=initial_capital,
        positions=marks,
        missing_prices=sorted(set(missing)),
        start_of_day_unknown=start_of_day_unknown,
    )


def mark_to_market(
    session: Session, prices: dict[str, Decimal], now: datetime, zone: str
) -> Valuation:
    """Value the account and maintain its marks (``maintain_marks``: the peak, the day roll).
    Returns the valuation after that."""
    account_state(session, for_update=True)  # the marks are read and written under the lock
    valuation = value_account(session, prices)
    if maintain_marks(session, valuation.equity, not valuation.missing_prices, now, zone):
        valuation = value_account(session, prices)
    return valuation


def maintain_marks_at(
    session: Session, prices: dict[str, Decimal] | None, now: datetime, zone: str
) -> bool:
    """The valuation a monitor pass or a fill makes, then ``maintain_marks``: the equity at
    ``prices`` (None: the latest stored prices) exactly as ``value_account`` adds it up, read
    lean (five columns of the held positions, their latest prices joined in the same
    statement), with the account row locked (a fill's booking holds it already: no second
    read). True if the marks changed."""
    state = session.get(PortfolioState, STATE_ID, with_for_update=True)
    if state is None:
        raise LedgerInvariantError("no account: the database was not initialised by connect()")
    rows = session.execute(_HELD).all()
    equity, unpriced = held_equity(
        state.cash,
        (
            (pair, side, margin, q, entry, latest if prices is None else prices.get(pair))
            for pair, side, margin, q, entry, latest in rows
        ),
    )
    # an unpriced position is carried at its margin: the peak is not raised on a guess
    return maintain_marks(session, equity, not unpriced, now, zone, state=state)


# the held positions as a valuation needs them, with their pair's latest price (built once: its
# compiled form is reused)
_HELD = (
    select(
        Position.pair,
        Position.side,
        Position.position_size_zar,
        Position.quantity,
        Position.entry_price,
        LatestPrice.price,
    )
    .outerjoin(LatestPrice, LatestPrice.pair == Position.pair)
    .where(Position.status.in_(MARGIN_HELD_STATUSES))
)


def maintain_marks(
    session: Session,
    equity: Decimal,
    fully_priced: bool,
    now: datetime,
    zone: str,
    day_start_equity: Decimal | None = None,
    *,
    state: PortfolioState | None = None,
) -> bool:
    """Raise the peak to ``equity`` and roll the trading day (``equity_marks.updated_marks``),
    with the account row locked; every valuation calls it (risk checks, monitor passes, fills,
    snapshots). ``day_start_equity``: the boundary's equity when the caller has rebuilt it
    already; ``state``: the account row when the caller holds it locked already. True if the
    marks changed."""
    if state is None:
        state = account_state(session, for_update=True)
    today = trading_day(now, zone)
    start = day_start_equity
    if today != state.trading_day and start is None:
        start, _why = equity_at(session, trading_day_start(today, zone))
    stored = EquityMarks(state.peak_equity, state.trading_day, state.start_of_day_equity)
    marks = updated_marks(stored, zar(equity), fully_priced, today, start)
    if marks == stored:
        return False
    state.peak_equity = zar(marks.peak_equity)
    state.trading_day = marks.trading_day
    state.start_of_day_equity = zar(marks.start_of_day_equity)
    state.updated_at = now
    state.version += 1
    session.flush()
    return True
