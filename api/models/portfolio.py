"""The portfolio's read models: the summary, positions, the valuation, the state, the weekly
metrics and one position's story (``/api/portfolio`` reads)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import (
    BaseModel,
    Field,
)

from api.models.common import HaltOut, Money
from helios.positions.lifecycle import ALL_STATUSES


class SummaryOut(BaseModel):
    mode: str = Field(description="PAPER or LIVE")
    halted: bool = Field(description="trading halted")
    total_value: Money = Field(description="equity: cash + margin + unrealized P&L, ZAR")
    cash: Money
    initial_capital: Money
    pnl: Money = Field(description="equity - initial capital, ZAR")
    pnl_pct: float | None = Field(description="pnl / initial capital (fraction, 0.02 = 2%)")
    realized_pnl: Money = Field(description="P&L of every closed position, ZAR")
    unrealized_pnl: Money = Field(description="P&L of the open positions at the latest prices")
    daily_pnl: Money = Field(description="equity - start-of-day equity (trading day), ZAR")
    drawdown: float = Field(ge=0, le=1, description="1 - equity / peak equity (fraction)")
    win_rate: float | None = Field(description="closed positions with a profit (fraction)")
    sharpe: float | None = Field(description="annualised Sharpe of daily returns (None < 2)")
    closed_positions: int = Field(ge=0)
    open_positions: int = Field(ge=0, description="positions OPENING, OPEN or CLOSING")


class PositionOut(BaseModel):
    """One position; open ones carry live figures, closed ones their outcome."""

    position_id: int
    pair: str
    side: str
    status: str = Field(description=f"one of {', '.join(ALL_STATUSES)}")
    position_size_zar: Money | None = Field(default=None, description="margin, ZAR")
    leverage: Decimal | None = Field(default=None, description="multiple, 1 to the limit")
    entry_price: Money | None = Field(default=None, description="fill price, ZAR per coin")
    mode: str | None = None
    notional: Money | None = Field(default=None, description="margin x leverage, ZAR")
    quantity: Decimal | None = Field(default=None, description="coins")
    price: Money | None = Field(default=None, description="latest price, ZAR per coin")
    unrealized_pnl: Money | None = None
    unrealized_pnl_pct: float | None = Field(default=None, description="of notional (fraction)")
    stop_loss_price: Money | None = None
    take_profit_price: Money | None = None
    distance_to_stop_pct: float | None = Field(
        default=None, description="signed fraction of the price; negative: already past it"
    )
    distance_to_target_pct: float | None = None
    time_left_hours: float | None = Field(default=None, description="before the timeout")
    strategic_reasoning: str | None = None
    exit_price: Money | None = None
    realized_pnl: Money | None = None
    fees: Money | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    holding_hours: float | None = None
    error: str | None = None


class ValuationOut(BaseModel):
    cash: Money
    margin: Money = Field(description="margin locked in open positions, ZAR")
    unrealized_pnl: Money
    equity: Money
    gross_exposure: Money = Field(description="sum of |notional| of open positions, ZAR")
    peak_equity: Money
    start_of_day_equity: Money
    initial_capital: Money
    drawdown: float = Field(ge=0, le=1, description="fraction of peak equity")
    daily_pnl: Money
    daily_loss: float = Field(ge=0, le=1, description="fraction of start-of-day equity")
    leverage: float = Field(ge=0, description="gross exposure / equity (multiple)")
    missing_prices: list[str] = Field(description="pairs held without a latest price")


class StateOut(BaseModel):
    mode: str
    halt: HaltOut
    valuation: ValuationOut
    positions: list[PositionOut] = Field(description="open positions (OPENING/OPEN/CLOSING)")
    latest_prices: dict[str, Money] = Field(description="pair -> latest price, ZAR per coin")


class MetricsOut(BaseModel):
    """The seed's weekly checks over [start, end] (``hx.metrics.review``)."""

    start: datetime
    end: datetime
    closed_positions: int
    exits: dict[str, int] = Field(
        description="closed positions per exit status; TAKE_PROFIT_AT_A_LOSS: the target was "
        "touched but the position closed at a loss (below its entry, or not covering its fees; "
        "not counted as TAKE_PROFIT)"
    )
    hit_rates: dict[str, float | None] = Field(description="share of each exit (fraction)")
    win_rate: float | None = Field(description="fraction of closed positions with a profit")
    realized_pnl: Money
    pnl_by_pair: dict[str, Any]
    pnl_by_exit: dict[str, Any]
    slippage_by_exit: dict[str, Any] = Field(
        description="per exit reason, each fill against the level that triggered it: positions, "
        "slippage_zar (in the position's favour; negative: worse than the level), mean_pct and "
        "worst_pct (fractions of the level)"
    )
    average_position_size_zar: Money | None
    average_position_size_by_pair: dict[str, Money]
    risk_limit_violations: dict[str, int] = Field(description="snapshots over each limit")
    risk_limit_violations_total: int
    emergency_stops: int
    automatic_halts: int
    daily_returns: int = Field(description="daily returns behind Sharpe and Sortino")
    sharpe: float | None = Field(description="annualised; None below 2 returns")
    sortino: float | None = Field(description="annualised; None below 2 returns")
    max_drawdown: float | None = Field(description="deepest fall from a peak (fraction)")


class PositionDetailOut(BaseModel):
    position: dict[str, Any] = Field(description="the position row (decimals as strings)")
    decision: dict[str, Any] | None = Field(description="its risk decision: the 7 checks")
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    events: list[dict[str, Any]] = Field(description="its story, oldest first")
