"""The risk models: the limits in force and a change of them (each limit's range from
``helios.limit_rules``, the one place for them), the book's use of each limit, and the
what-if check of a trade with its trade parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    create_model,
)

from api.models.common import Money, NoHostileText, Pair, Side, Strict
from helios.limit_rules import LIMIT_RULES
from helios.trade import MAX_POSITION_SIZE_ZAR


class RiskLimitsOut(BaseModel):
    version: int | None
    changed_by: str | None
    changed_at: datetime | None
    max_drawdown_pct: float = Field(description=LIMIT_RULES["max_drawdown_pct"].describe())
    daily_loss_limit_pct: float = Field(description=LIMIT_RULES["daily_loss_limit_pct"].describe())
    max_portfolio_risk_exposure_pct: float = Field(
        description=LIMIT_RULES["max_portfolio_risk_exposure_pct"].describe()
    )
    max_single_position_pct: float = Field(
        description=LIMIT_RULES["max_single_position_pct"].describe()
    )
    max_sector_exposure_pct: float = Field(
        description=LIMIT_RULES["max_sector_exposure_pct"].describe()
    )
    max_correlation_threshold: float = Field(
        description=LIMIT_RULES["max_correlation_threshold"].describe()
    )
    max_leverage: float = Field(description=LIMIT_RULES["max_leverage"].describe())
    min_position_size_pct: float = Field(
        description=LIMIT_RULES["min_position_size_pct"].describe()
    )


def _limit_field(name: str) -> Any:
    rule = LIMIT_RULES[name]
    bound = {"ge": rule.low} if rule.low_inclusive else {"gt": rule.low}
    return (
        float | None,
        Field(default=None, le=rule.high, description=f"{rule.label}: {rule.allowed()}", **bound),
    )


RiskLimitsIn: type[Strict] = create_model(  # type: ignore[call-overload]
    "RiskLimitsIn",
    __base__=Strict,
    __doc__="The limits to change (at least one); the others stay as they are. "
    "Loosening a limit while positions are open is allowed and recorded as a warning event.",
    by=(
        Annotated[str, NoHostileText],
        Field(min_length=1, max_length=100, pattern=r"\S", description="who (required)"),
    ),
    note=(
        Annotated[str, NoHostileText],
        Field(default="", max_length=500, description="why (recorded)"),
    ),
    **{name: _limit_field(name) for name in LIMIT_RULES},
)


class UtilisationOut(BaseModel):
    number: int = Field(description="the check's number, 1-7")
    check: str
    limit_name: str
    value: float | None = Field(description="what the open book uses, in the limit's unit")
    limit: float
    used: float | None = Field(description="value / limit (fraction of the limit)")


class RiskMetricsOut(BaseModel):
    equity: Money
    drawdown: float = Field(description="fraction of peak equity")
    daily_loss: float = Field(description="fraction of start-of-day equity")
    leverage: float = Field(description="gross exposure / equity (multiple)")
    gross_exposure: Money
    margin: Money
    open_positions: int
    halted: bool
    limits: list[UtilisationOut] = Field(description="the 7 limits and what the book uses")
    capacity: dict[str, Any] = Field(
        description="risk budget used and left (ZAR) and minimum-size positions that still fit"
    )


class TradeParamsIn(Strict):
    """The seed's trade_params (fractions: 0.02 = 2%)."""

    position_size_zar: float | None = Field(
        default=None,
        gt=0,
        le=MAX_POSITION_SIZE_ZAR,
        description="margin in ZAR; a signal may leave it to the sizing rule",
    )
    leverage: float | None = Field(
        default=None, ge=1, le=10, description="multiple, 1 to the max_leverage limit (default 1)"
    )
    stop_loss_pct: float | None = Field(
        default=None, gt=0, lt=1, description="fraction below/above entry (default 0.02)"
    )
    take_profit_pct: float | None = Field(
        default=None, gt=0, le=10, description="fraction (default 0.06)"
    )
    trailing_activation_pct: float | None = Field(
        default=None, gt=0, le=10, description="profit fraction that starts the trailing stop"
    )
    trailing_distance_pct: float | None = Field(
        default=None, gt=0, lt=1, description="trailing distance, fraction of the best price"
    )
    max_holding_hours: float | None = Field(
        default=None, gt=0, le=24 * 90, description="hours before the timeout (default 72)"
    )


class RiskCheckIn(Strict):
    pair: Pair
    signal: Side
    trade_params: TradeParamsIn = Field(description="position_size_zar is required here")


class RiskCheckOut(BaseModel):
    passed: bool = Field(
        description="the trade would pass both pre-checks and all 7 checks now (not halted)"
    )
    reason: str
    violated_limits: list[str]
    halted: bool
    pre_checks: list[dict[str, Any]] = Field(
        description="judged before the 7: buying_power (value: margin + fee needed, limit: free "
        "cash, ZAR as exact decimal strings) and price_age (value: seconds since the price was "
        "observed, limit: PRICE_MAX_AGE_SECONDS)"
    )
    checks: list[dict[str, Any]] = Field(description="all 7 checks: value, limit, passed")
    headroom: list[dict[str, Any]] = Field(description="room left under each limit")
    capacity: dict[str, Any]
    trade: dict[str, Any] = Field(description="the trade with the defaults applied")
    levels: dict[str, Any] | None = Field(
        description="notional and ZAR at risk, stop and target prices from the latest price"
    )
