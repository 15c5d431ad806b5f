"""``hx.ledger``: the account as the rest of the system sees it, and its snapshots.

The accounting rules live in ``helios.accounts`` (bookings, valuation, invariants); this service
opens the transactions, reads the latest prices from the market store and writes
``portfolio_snapshots``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helios.accounts.invariants import check_invariants
from helios.accounts.valuation import Valuation, mark_to_market, value_account
from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import LedgerEntry, PortfolioSnapshot
from helios.errors import InvalidInput
from helios.market.prices import latest_prices
from helios.money import ZERO, zar
from helios.settings_store import HALTED_KEY, MODE_KEY, get_setting


class Ledger:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    def valuation(self) -> Valuation:
        """The account now, marked to the latest stored prices (read only). Daily figures are the
        current trading day's even before the scheduler's day roll."""
        with self._db.read() as session:
            return self.valuation_in(session)

    def valuation_in(self, session: Session) -> Valuation:
        """``valuation``, read in the caller's transaction."""
        return value_account(
            session, latest_prices(session), self._clock.now(), self._settings.trading_day_timezone
        )

    def check(self) -> Valuation:
        """Run the ledger invariants; raises LedgerInvariantError if the books disagree. One
        snapshot: the trading goes on while it reads."""
        with self._db.snapshot() as session:
            return check_invariants(session, latest_prices(session))

    def entries(self, limit: int = 200) -> pd.DataFrame:
        with self._db.read() as session:
            rows = list(
                session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit))
            )
        return pd.DataFrame(
            [
                {
                    "id": r.id,
                    "ts": r.ts,
                    "kind": r.kind,
                    "amount": r.amount,
                    "position_id": r.position_id,
                    "note": r.note,
                }
                for r in rows
            ]
        )

    def take_snapshot(self, risk_used: Decimal | None = None) -> PortfolioSnapshot:
        """Mark to market (peak, day roll) and store one ``portfolio_snapshots`` row."""
        now = self._clock.now()
        with self._db.write() as session:
            valuation = mark_to_market(
                session, latest_prices(session), now, self._settings.trading_day_timezone
            )
            mode = get_setting(session, MODE_KEY)
            halted = get_setting(session, HALTED_KEY)
            snapshot = PortfolioSnapshot(
                ts=now,
                mode=mode.value if mode else "PAPER",
                equity=valuation.equity,
                cash=valuation.cash,
                margin=valuation.margin,
                unrealized_pnl=valuation.unrealized_pnl,
                gross_exposure=valuation.gross_exposure,
                peak_equity=valuation.peak_equity,
                start_of_day_equity=valuation.start_of_day_equity,
                drawdown=_ratio(valuation.drawdown),
                daily_pnl=valuation.daily_pnl,
                daily_loss=_ratio(valuation.daily_loss),
                leverage=_ratio(valuation.leverage),
                open_positions=len(valuation.positions),
                risk_used=risk_used,
                halted=bool(halted and halted.value == "true"),
            )
            session.add(snapshot)
            session.flush()
            return snapshot

    def snapshots(
        self, since: datetime | None = None, limit: int | None = None, points: int | None = None
    ) -> pd.DataFrame:
        """Snapshots oldest first, as floats for charts (the exact values stay stored).

        ``points``: at most about that many, evenly spread over the period (every n-th row by
        id), so a year of minute snapshots charts in one small read; the newest is always in."""
        query = select(PortfolioSnapshot).order_by(PortfolioSnapshot.ts.desc())
        if since is not None:
            query = query.where(PortfolioSnapshot.ts >= since)
        with self._db.read() as session:
            if points is not None:
                if isinstance(points, bool) or not isinstance(points, int) or points < 2:
                    raise InvalidInput("points", points, "a whole number >= 2")
                counted = select(func.count()).select_from(PortfolioSnapshot)
                if since is not None:
                    counted = counted.where(PortfolioSnapshot.ts >= since)
                total = int(session.scalar(counted) or 0)
                step = max(1, -(-total // points))
                if step > 1:
                    newest = session.scalar(select(func.max(PortfolioSnapshot.id)))
                    query = query.where(
                        (PortfolioSnapshot.id % step == 0) | (PortfolioSnapshot.id == newest)
                    )
            if limit is not None:
                query = query.limit(limit)
            rows = list(session.scalars(query))
        rows.reverse()
        columns = [
            "ts",
            "mode",
            "equity",
            "cash",
            "margin",
            "unrealized_pnl",
            "gross_exposure",
            "peak_equity",
            "drawdown",
            "daily_pnl",
            "daily_loss",
            "leverage",
            "open_positions",
            "halted",
        ]
        return pd.DataFrame(
            [
                {c: (float(v) if isinstance(v := getattr(r, c), Decimal) else v) for c in columns}
                for r in rows
            ],
            columns=columns,
        )


def _ratio(value: Decimal) -> Decimal:
    """Ratios are stored to 8 places like money (they are shown as percentages)."""
    return zar(value) if value else ZERO


# Deprecated (one release): the booking and valuation functions moved to ``helios.accounts``
# (``account``, ``book``, ``valuation``, ``invariants``); ``helios.ledger`` now holds ``Ledger``
# (``hx.ledger``). Import them from ``helios.accounts.*``.
from helios.accounts.account import (  # noqa: E402, F401
    MARGIN_HELD_STATUSES,
    SIDES,
    STATE_ID,
    LedgerInvariantError,
    account_state,
    ensure_account,
    open_positions,
    unrealized,
)
from helios.accounts.book import book_close, book_open  # noqa: E402, F401
from helios.accounts.invariants import (  # noqa: E402, F401
    CENT,
    QUANTITY_DECIMALS_SHARE,
)
from helios.accounts.valuation import (  # noqa: E402, F401
    BOUNDARY_PRICE_WINDOW,
    DAY_SECONDS,
    PositionMark,
    day_start,
    equity_at,
    held_equity,
    maintain_marks,
    maintain_marks_at,
)
