"""The ledger: cash, equity, peak equity and start-of-day equity, kept exactly (DESIGN.md).

Definitions (DESIGN.md, "Definitions"):

- A position of margin S (``position_size_zar``) at leverage L has notional N = S x L and quantity
  N / entry price.
- Opening moves S (margin) and the entry fee out of cash. Closing returns S + gross P&L - exit fee.
- Unrealized P&L of an open position at mark price m: BUY (m - entry) x qty; SELL (entry - m) x qty.
  Exit fees are not anticipated in it.
- Equity = cash + sum over open positions of (S + unrealized P&L).
- Drawdown = 1 - equity / peak equity. Daily loss = 1 - equity / start-of-day equity, where the day
  is the trading day in the configured time zone.
- A position's ``realized_pnl`` is net: gross P&L minus its entry and exit fees.

Every cash movement is one ``ledger_entries`` row, so cash is also the sum of the entries;
``check_invariants`` proves the books agree with themselves after every operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from helios.clock import ensure_utc, trading_day, trading_day_start
from helios.db.models import Candle, LatestPrice, LedgerEntry, Order, PortfolioState, Position
from helios.equity_marks import EquityMarks, updated_marks
from helios.errors import HeliosError, InvalidInput
from helios.money import ZAR_EXP, ZERO, price, qty, zar

# statuses whose margin is still out of cash (open, or closing but not yet filled)
MARGIN_HELD_STATUSES = ("OPEN", "CLOSING")
DAY_SECONDS = 86_400
# how old the last bar before a trading day's start may be to price a held pair at the boundary
BOUNDARY_PRICE_WINDOW = timedelta(days=1)
STATE_ID = 1
SIDES = ("BUY", "SELL")


class LedgerInvariantError(HeliosError):
    """The books disagree with themselves. Never expected; always a bug worth stopping for."""


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


def unrealized(side: str, entry_price: Decimal, mark: Decimal, quantity: Decimal) -> Decimal:
    """The P&L of ``quantity`` at ``mark`` (exact Decimals in, 8 places out, half-even: what
    ``zar`` does, without its checks of what it is given: this runs for every position of every
    valuation)."""
    move = mark - entry_price if side == "BUY" else entry_price - mark
    return (move * quantity).quantize(ZAR_EXP, rounding=ROUND_HALF_EVEN)


def ensure_account(session: Session, initial_capital: Decimal, now: datetime, zone: str) -> bool:
    """Create the account (state row and the initial-capital entry) once. True if created."""
    if session.get(PortfolioState, STATE_ID) is not None:
        return False
    capital = zar(initial_capital, "initial_capital_zar")
    session.add(
        PortfolioState(
            id=STATE_ID,
            initial_capital=capital,
            cash=capital,
            peak_equity=capital,
            start_of_day_equity=capital,
            trading_day=trading_day(now, zone),
            updated_at=now,
        )
    )
    session.add(LedgerEntry(ts=now, kind="INITIAL_CAPITAL", amount=capital, note="initial capital"))
    session.flush()
    return True


def account_state(session: Session, *, for_update: bool = False) -> PortfolioState:
    """The account row. ``for_update`` locks it until the transaction ends (PostgreSQL
    ``SELECT ... FOR UPDATE``; SQLite's write transactions hold the database lock already), so
    two processes booking at once add to the cash one after the other instead of both writing
    ``old cash + their amount`` and losing one of them."""
    if for_update:
        state = session.get(PortfolioState, STATE_ID, with_for_update=True, populate_existing=True)
    else:
        state = session.get(PortfolioState, STATE_ID)
    if state is None:
        raise LedgerInvariantError("no account: the database was not initialised by connect()")
    return state


def open_positions(session: Session) -> list[Position]:
    return list(
        session.scalars(
            select(Position).where(Position.status.in_(MARGIN_HELD_STATUSES)).order_by(Position.id)
        )
    )


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


def value_account(
    session: Session,
    prices: dict[str, Decimal],
    now: datetime | None = None,
    zone: str | None = None,
) -> Valuation:
    """Mark every open position to ``prices`` and add up the account. With ``now`` and ``zone``
    the start-of-day equity is the current trading day's even before the day roll."""
    state = account_state(session)
    marks: list[PositionMark] = []
    missing: list[str] = []
    for position in open_positions(session):
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
    equity = state.cash + margin + upnl
    sod, unknown = state.start_of_day_equity, ""
    if now is not None and zone is not None:
        estimate, unknown = day_start(session, state.trading_day, sod, now, zone)
        sod = estimate if estimate is not None else equity  # shown as unknown (daily loss 0)
    return Valuation(
        cash=state.cash,
        margin=margin,
        unrealized_pnl=upnl,
        equity=equity,
        gross_exposure=sum((m.notional for m in marks), ZERO),
        peak_equity=state.peak_equity,
        start_of_day_equity=sod,
        initial_capital=state.initial_capital,
        positions=marks,
        missing_prices=sorted(set(missing)),
        start_of_day_unknown=unknown,
    )


def _move_cash(
    session: Session,
    state: PortfolioState,
    now: datetime,
    kind: str,
    amount: Decimal,
    position: Position | None,
    order: Order | None,
    note: str = "",
) -> None:
    state.cash = state.cash + amount
    state.updated_at = now
    state.version += 1
    session.add(
        LedgerEntry(
            ts=now,
            kind=kind,
            amount=amount,
            position_id=position.id if position else None,
            order_id=order.id if order else None,
            note=note,
        )
    )


def book_open(
    session: Session,
    position: Position,
    *,
    fill_price: Decimal,
    quantity: Decimal,
    fee: Decimal,
    now: datetime,
    order: Order | None = None,
) -> None:
    """Record an opening fill: margin and entry fee leave cash; the position gets its entry.

    Runs in the caller's transaction together with the position's status change.
    """
    fill_price, quantity, fee = _fill(fill_price, quantity, fee)
    if quantity <= 0:
        raise InvalidInput("fill.quantity", quantity, "a quantity > 0")
    _check_side(position)
    if position.entry_price is not None or position.entry_fee is not None:
        # booking one fill twice would post the margin twice: never expected, always a bug
        raise LedgerInvariantError(
            f"position {position.id} already has an entry booked (price {position.entry_price});"
            " an opening fill is booked once"
        )
    margin = zar(position.position_size_zar, "position_size_zar")
    if margin <= 0:
        raise InvalidInput("position_size_zar", position.position_size_zar, "a ZAR amount > 0")
    state = account_state(session, for_update=True)
    # the margin as it left cash (8 places) is the margin the position holds: equity adds back
    # exactly what was taken out
    position.position_size_zar = margin
    position.entry_price = fill_price
    position.quantity = quantity
    position.notional = zar(fill_price * quantity)
    position.entry_fee = zar(fee)
    _move_cash(session, state, now, "MARGIN_LOCK", -margin, position, order, "margin posted")
    _move_cash(session, state, now, "FEE", -position.entry_fee, position, order, "entry fee")
    session.flush()


def book_close(
    session: Session,
    position: Position,
    *,
    fill_price: Decimal,
    fee: Decimal,
    now: datetime,
    order: Order | None = None,
) -> Decimal:
    """Record a closing fill: margin + gross P&L - exit fee return to cash. Returns the net
    realized P&L (gross minus entry and exit fees), which is also stored on the position."""
    if position.entry_price is None or position.quantity is None:
        raise LedgerInvariantError(f"position {position.id} has no entry to close")
    if position.exit_price is not None or position.realized_pnl is not None:
        # booking a close twice would return the margin twice: never expected, always a bug
        raise LedgerInvariantError(
            f"position {position.id} already has its exit booked (price {position.exit_price});"
            " a closing fill is booked once"
        )
    fill_price, _quantity, fee = _fill(fill_price, position.quantity, fee)
    _check_side(position)
    state = account_state(session, for_update=True)
    gross = unrealized(position.side, position.entry_price, fill_price, position.quantity)
    position.exit_price = fill_price
    position.exit_fee = zar(fee)
    position.realized_pnl = gross - (position.entry_fee or ZERO) - position.exit_fee
    _move_cash(
        session,
        state,
        now,
        "MARGIN_RELEASE",
        zar(position.position_size_zar),
        position,
        order,
        "margin returned",
    )
    _move_cash(session, state, now, "REALIZED_PNL", gross, position, order, "gross P&L")
    _move_cash(session, state, now, "FEE", -position.exit_fee, position, order, "exit fee")
    session.flush()
    return position.realized_pnl


def _fill(fill_price: Any, quantity: Any, fee: Any) -> tuple[Decimal, Decimal, Decimal]:
    """A fill as the ledger stores it: price 8 places, quantity 12, fee 8; floats refused."""
    for name, value in (("price", fill_price), ("quantity", quantity), ("fee", fee)):
        if not isinstance(value, Decimal | int | str) or isinstance(value, bool):
            raise InvalidInput(f"fill.{name}", value, "a Decimal (floats never enter the ledger)")
    checked_price = price(fill_price, "fill.price")
    if checked_price <= 0:
        raise InvalidInput("fill.price", fill_price, "a price > 0")
    checked_fee = zar(fee, "fill.fee")
    if checked_fee < 0:
        raise InvalidInput("fill.fee", fee, "a fee >= 0")
    return checked_price, qty(quantity, "fill.quantity"), checked_fee


def _check_side(position: Position) -> None:
    if position.side not in SIDES:
        raise InvalidInput("position.side", position.side, "BUY or SELL")


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


CENT = Decimal("0.01")
# A venue truncates a bought quantity to its decimals (VALR: baseDecimalPlaces): at most this
# share of the notional is lost that way on any pair worth trading.
QUANTITY_DECIMALS_SHARE = Decimal("0.001")


def check_invariants(session: Session, prices: dict[str, Decimal]) -> Valuation:
    """Prove the books agree; raise LedgerInvariantError listing every disagreement.

    1. cash = sum of ledger entries;
    2. equity = cash + margin + unrealized P&L, and equally initial capital + net realized P&L of
       closed positions - entry fees of open positions + unrealized P&L (two independent paths);
    3. margin held = sum of MARGIN_LOCK - MARGIN_RELEASE entries;
    4. open positions have an entry price, quantity and notional = S x leverage (to the cent), or
       less by what a venue keeps of the quantity: its fee when paid in the coin bought (VALR's
       taker fee on a BUY) and the quantity's decimals (at most 0.1% of the notional);
    5. cash, peak and start-of-day equity are not negative;
    6. a position's status agrees with what was booked: OPEN/CLOSING exactly while its entry is
       booked and its exit is not.
    """
    problems: list[str] = []
    state = account_state(session)
    entries = list(session.scalars(select(LedgerEntry)))
    entry_sum = sum((entry.amount for entry in entries), ZERO)
    if entry_sum != state.cash:
        problems.append(f"cash {state.cash} != sum of ledger entries {entry_sum}")
    valuation = value_account(session, prices)
    if valuation.equity != valuation.cash + valuation.margin + valuation.unrealized_pnl:
        problems.append("equity != cash + margin + unrealized P&L")
    # closed = the ledger booked the exit (realized_pnl is set), whatever else the row says
    closed = list(session.scalars(select(Position).where(Position.realized_pnl.is_not(None))))
    realized = sum((p.realized_pnl or ZERO for p in closed), ZERO)
    held = open_positions(session)
    for position in closed:
        if position.status in MARGIN_HELD_STATUSES:
            problems.append(f"position {position.id} is {position.status} but its exit is booked")
    booked_not_closed = session.scalars(
        select(Position).where(
            Position.entry_fee.is_not(None),
            Position.realized_pnl.is_(None),
            Position.status.not_in(MARGIN_HELD_STATUSES),
        )
    )
    for position in booked_not_closed:
        problems.append(
            f"position {position.id} is {position.status} but its margin is still posted "
            "(entry booked, exit not booked)"
        )
    open_fees = sum((p.entry_fee or ZERO for p in held), ZERO)
    via_history = state.initial_capital + realized - open_fees + valuation.unrealized_pnl
    if via_history != valuation.equity:
        problems.append(
            f"equity {valuation.equity} != initial {state.initial_capital} + realized {realized}"
            f" - open entry fees {open_fees} + unrealized {valuation.unrealized_pnl}"
        )
    locked = sum((e.amount for e in entries if e.kind in ("MARGIN_LOCK", "MARGIN_RELEASE")), ZERO)
    if -locked != valuation.margin:
        problems.append(f"margin held {valuation.margin} != margin entries {-locked}")
    for position in held:
        expected = zar(position.position_size_zar * position.leverage)
        kept = (position.entry_fee or ZERO) + max(CENT, expected * QUANTITY_DECIMALS_SHARE)
        if not expected - kept <= (position.notional or ZERO) <= expected + CENT:
            problems.append(
                f"position {position.id} notional {position.notional} != S x L {expected} "
                f"(allowed: down to {expected - kept}, what the venue keeps of the quantity)"
            )
    for name in ("cash", "peak_equity", "start_of_day_equity"):
        if getattr(state, name) < 0:
            problems.append(f"{name} is negative: {getattr(state, name)}")
    if problems:
        raise LedgerInvariantError("; ".join(problems))
    return valuation
