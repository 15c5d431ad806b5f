"""The 7 risk checks: one pure function of (portfolio, limits, proposed trade, market statistics).

No I/O, no clock, no database: the trading loop, the what-if preview, tests, notebooks and the
audit replay all call ``evaluate`` with plain values and get the same answer. Definitions are
DESIGN.md's ("Definitions"); each check fails only when its value is strictly above its limit
(values within ``TOLERANCE`` of a limit count as at the limit, so float rounding of an exact
boundary never rejects).

Fail closed: a check whose inputs are missing (no price for the pair or for an open position, no
volatility estimate, too little aligned history for the correlation while positions are open,
equity not positive, a trading day whose start cannot be known: checks 1 and 2) fails with that
reason.

Conventions: notional N = position_size_zar x leverage; exposures are gross (longs and shorts both
count) at the current mark; ratios use the equity before the trade (the seed's arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from helios.risk.limits import RiskLimits

TOLERANCE = 1e-9
MIN_CORRELATION_OBS = 30

CHECK_LIMITS = (
    ("drawdown", "max_drawdown_pct"),
    ("daily_loss", "daily_loss_limit_pct"),
    ("risk_capacity", "max_portfolio_risk_exposure_pct"),
    ("single_position", "max_single_position_pct"),
    ("sector_exposure", "max_sector_exposure_pct"),
    ("correlation", "max_correlation_threshold"),
    ("leverage", "max_leverage"),
)


@dataclass(frozen=True)
class OpenExposure:
    """One open position as the checks see it."""

    pair: str
    side: str  # BUY (long) or SELL (short)
    notional: float  # ZAR at the current mark (gross, > 0); NaN when the pair has no price
    sector: str


@dataclass(frozen=True)
class PortfolioState:
    equity: float
    peak_equity: float
    start_of_day_equity: float
    positions: tuple[OpenExposure, ...] = ()
    # why the trading day's start is not known ("" when it is): checks 1 and 2 fail closed
    marks_unknown: str = ""


@dataclass(frozen=True)
class ProposedTrade:
    pair: str
    side: str  # BUY or SELL
    position_size_zar: float  # margin S
    leverage: float
    sector: str
    price: float | None  # current price of the pair (None = unknown: fail closed)

    @property
    def notional(self) -> float:
        return self.position_size_zar * self.leverage


@dataclass(frozen=True)
class MarketStats:
    """Daily volatility per pair and the daily-return covariance between pairs."""

    daily_vol: Mapping[str, float]  # pairs without an estimate are absent
    pairs: tuple[str, ...] = ()  # order of the covariance matrix
    covariance: tuple[tuple[float, ...], ...] = ()
    aligned_obs: int = 0  # number of aligned daily returns behind the covariance


@dataclass(frozen=True)
class CheckResult:
    number: int
    name: str
    limit_name: str
    passed: bool
    value: float | None
    limit: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreCheck:
    """One pre-check's verdict (``risk.prechecks``: buying power, price age) with its figures
    (ZAR for buying power, seconds for price age)."""

    name: str
    passed: bool
    value: str | None  # what the trade needs (ZAR, exact text) or the price's age (s)
    limit: str | None  # the free cash (ZAR, exact text) or the age allowed (s)
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RiskResult:
    passed: bool
    reason: str
    violated_limits: list[str]
    checks: list[CheckResult] = field(default_factory=list)
    halted: bool = False
    decision_id: int | None = None  # set when the decision was stored (check_trade_risk)
    # the pre-checks judged beside the 7 (buying power, price age: ``risk.prechecks``)
    pre_checks: list[PreCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "violated_limits": list(self.violated_limits),
            "halted": self.halted,
            "pre_checks": [p.to_dict() for p in self.pre_checks],
            "checks": [c.to_dict() for c in self.checks],
        }


def _over(value: float, limit: float) -> bool:
    return value > limit + TOLERANCE * max(1.0, abs(limit))


def _pct(x: float) -> str:
    return f"{x:.2%}"


def _apart(value: float | None, limit: float, unit: str = "%") -> tuple[str, str]:
    """``value`` and ``limit`` as a trader reads them (percent, ``x`` or plain), with as many
    decimals as it takes to tell them apart: "15.001% > 15.000%", never "15.00% > 15.00%"."""

    def shown(x: float, places: int) -> str:
        if unit == "%":
            return f"{x:.{places}%}"
        return f"{x:.{places}f}{unit}"

    if value is None or not math.isfinite(value):
        return "-", shown(limit, 2)
    for places in range(2, 7):
        if shown(value, places) != shown(limit, places):
            return shown(value, places), shown(limit, places)
    return shown(value, 2), shown(limit, 2)  # equal as far as anyone can read: at the limit


def _zar(x: float) -> str:
    return f"R{x:,.2f}"


def _result(
    number: int,
    value: float | None,
    limit: float,
    ok_text: str,
    bad_text: str,
    missing: str | None = None,
) -> CheckResult:
    name, limit_name = CHECK_LIMITS[number - 1]
    if missing is not None or value is None or not math.isfinite(value):
        return CheckResult(
            number,
            name,
            limit_name,
            False,
            None,
            limit,
            missing or f"{name}: value could not be computed",
        )
    failed = _over(value, limit)
    return CheckResult(
        number, name, limit_name, not failed, value, limit, bad_text if failed else ok_text
    )


def portfolio_correlation(
    trade: ProposedTrade, positions: Sequence[OpenExposure], stats: MarketStats
) -> tuple[float | None, str | None]:
    """Correlation of the new position's returns (sign-adjusted for side) with the
    notional-weighted returns of the open portfolio, from the pairs' covariance matrix.
    Returns (value, None) or (None, why it cannot be computed)."""
    index = {pair: i for i, pair in enumerate(stats.pairs)}
    if trade.pair not in index:  # the service leaves pairs with too short a history out
        return None, (
            f"too little history for the correlation: {trade.pair} has fewer than "
            f"{MIN_CORRELATION_OBS} daily returns"
        )
    if stats.aligned_obs < MIN_CORRELATION_OBS:
        return None, (
            f"too little history for the correlation: {stats.aligned_obs} aligned "
            f"daily returns < {MIN_CORRELATION_OBS}"
        )
    weights = [0.0] * len(stats.pairs)
    for position in positions:
        if position.pair not in index:
            return None, (
                f"too little history for the correlation: open position's pair "
                f"{position.pair} has fewer than {MIN_CORRELATION_OBS} daily returns"
            )
        sign = 1.0 if position.side == "BUY" else -1.0
        weights[index[position.pair]] += sign * position.notional
    cov = stats.covariance
    k = index[trade.pair]
    sigma_w = [
        sum(cov[i][j] * weights[j] for j in range(len(weights))) for i in range(len(weights))
    ]
    portfolio_var = sum(weights[i] * sigma_w[i] for i in range(len(weights)))
    new_var = cov[k][k]
    if new_var <= 0:
        return None, f"{trade.pair} has zero return variance"
    if portfolio_var <= 0:
        return 0.0, None  # open positions hedge each other exactly: nothing to correlate with
    sign_new = 1.0 if trade.side == "BUY" else -1.0
    value = sign_new * sigma_w[k] / math.sqrt(new_var * portfolio_var)
    return max(-1.0, min(1.0, value)), None


def evaluate(
    state: PortfolioState, limits: RiskLimits, trade: ProposedTrade, stats: MarketStats
) -> RiskResult:
    """Run all 7 checks and return every result (never only the first failure)."""
    equity = state.equity
    no_equity = None if equity > 0 else f"equity {_zar(equity)} is not positive"
    positions = state.positions
    unpriced = sorted({p.pair for p in positions if not math.isfinite(p.notional)})
    no_mark = (
        f"no current price for open position(s) in {', '.join(unpriced)}" if unpriced else None
    )
    new_notional = trade.notional
    no_price = (
        None
        if trade.price is not None and trade.price > 0
        else f"no current price for {trade.pair}"
    )
    results: list[CheckResult] = []

    # 1 drawdown
    limit = limits.max_drawdown_pct
    peak = max(state.peak_equity, equity)
    drawdown = (1 - equity / peak) if peak > 0 else None
    shown, bound = _apart(drawdown, limit)
    results.append(
        _result(
            1,
            drawdown,
            limit,
            f"Drawdown {shown} <= {bound} limit",
            f"Drawdown {shown} > {bound} limit",
            no_equity or state.marks_unknown or None,
        )
    )

    # 2 daily loss
    limit = limits.daily_loss_limit_pct
    sod = state.start_of_day_equity
    daily_loss = max(0.0, 1 - equity / sod) if sod > 0 else None
    shown, bound = _apart(daily_loss, limit)
    results.append(
        _result(
            2,
            daily_loss,
            limit,
            f"Daily loss {shown} <= {bound} limit",
            f"Daily loss {shown} > {bound} limit",
            no_equity or state.marks_unknown or (None if sod > 0 else "no start-of-day equity"),
        )
    )

    # 3 risk capacity: sum of N x daily vol, open positions plus the new one
    limit = limits.max_portfolio_risk_exposure_pct
    # a volatility that is absent, zero or not a number is no estimate: zero would make any
    # size look riskless
    usable_vol = {
        pair
        for pair, vol in stats.daily_vol.items()
        if vol is not None and math.isfinite(vol) and vol > 0
    }
    missing_vol = sorted({p.pair for p in positions} - usable_vol | ({trade.pair} - usable_vol))
    risk_missing = (
        no_equity
        or no_mark
        or (f"no volatility estimate for {', '.join(missing_vol)}" if missing_vol else None)
    )
    if risk_missing is None:
        open_risk = sum(p.notional * stats.daily_vol[p.pair] for p in positions)
        new_risk = new_notional * stats.daily_vol[trade.pair]
        total_risk = open_risk + new_risk
        budget = limit * equity
        ratio = total_risk / equity
        text = (
            f"Risk at stake {_zar(total_risk)} (open {_zar(open_risk)} + new "
            f"{_zar(new_risk)} at {_pct(stats.daily_vol[trade.pair])} daily vol)"
        )
        results.append(
            _result(
                3,
                ratio,
                limit,
                f"{text} <= {_zar(budget)} budget",
                f"{text} > {_zar(budget)} budget ({_pct(limit)} of equity)",
            )
        )
    else:
        results.append(_result(3, None, limit, "", "", risk_missing))

    # 4 single position: the pair's gross notional after the trade / equity
    limit = limits.max_single_position_pct
    missing4 = no_equity or no_mark
    if missing4 is None:
        pair_notional = sum(p.notional for p in positions if p.pair == trade.pair) + new_notional
        ratio = pair_notional / equity
        shown, bound = _apart(ratio, limit)
        results.append(
            _result(
                4,
                ratio,
                limit,
                f"{trade.pair} position {_zar(pair_notional)} = {shown} of equity <= {bound} limit",
                f"{trade.pair} position {_zar(pair_notional)} = {shown} of equity > {bound} limit",
            )
        )
    else:
        results.append(_result(4, None, limit, "", "", missing4))

    # 5 sector exposure after the trade / equity
    limit = limits.max_sector_exposure_pct
    if missing4 is None:
        sector_notional = (
            sum(p.notional for p in positions if p.sector == trade.sector) + new_notional
        )
        ratio = sector_notional / equity
        shown, bound = _apart(ratio, limit)
        results.append(
            _result(
                5,
                ratio,
                limit,
                f"Sector '{trade.sector}' exposure {shown} <= {bound} limit",
                f"Sector '{trade.sector}' exposure {shown} > {bound} limit",
            )
        )
    else:
        results.append(_result(5, None, limit, "", "", missing4))

    # 6 correlation with the open portfolio (no open positions: pass)
    limit = limits.max_correlation_threshold
    if not positions:
        results.append(
            CheckResult(
                6,
                "correlation",
                "max_correlation_threshold",
                True,
                0.0,
                limit,
                "No open positions: nothing to be correlated with",
            )
        )
    elif no_mark:
        results.append(_result(6, None, limit, "", "", no_mark))
    else:
        correlation, why = portfolio_correlation(trade, positions, stats)
        shown, bound = _apart(correlation, limit, "")
        results.append(
            _result(
                6,
                correlation,
                limit,
                f"Correlation with the open portfolio {shown} <= {bound} limit",
                f"Correlation with the open portfolio {shown} > {bound} limit",
                why,
            )
        )

    # 7 leverage: total gross notional after the trade / equity
    limit = limits.max_leverage
    if missing4 is None:
        gross = sum(p.notional for p in positions) + new_notional
        ratio = gross / equity
        shown, bound = _apart(ratio, limit, "x")
        results.append(
            _result(
                7,
                ratio,
                limit,
                f"Leverage after trade {shown} <= {bound} limit",
                f"Leverage after trade {shown} > {bound} limit",
            )
        )
    else:
        results.append(_result(7, None, limit, "", "", missing4))

    if no_price is not None:  # no trade without a price: every sizing check fails closed,
        # whatever its figures said (so the verdict and the reason do not depend on the limits)
        results = [
            r
            if r.number not in (3, 4, 5, 7)
            else CheckResult(r.number, r.name, r.limit_name, False, None, r.limit, no_price)
            for r in results
        ]
    failed = [r for r in results if not r.passed]
    return RiskResult(
        passed=not failed,
        reason="; ".join(f"CHECK {r.number} {r.name}: {r.message}" for r in failed)
        or "All 7 checks passed",
        violated_limits=[r.limit_name for r in failed],
        checks=results,
    )


def halted_result(reason: str) -> RiskResult:
    """The answer for an opening trade while trading is halted: rejected before any check."""
    return RiskResult(
        passed=False,
        reason=f"Trading is halted: {reason}",
        violated_limits=[],
        checks=[],
        halted=True,
    )


def locked_result(refusal: str) -> RiskResult:
    """The answer for an opening trade on a locked pair (``helios.pair_locks.refusal``: the
    lock's reason and end time): rejected before any check, like a halt."""
    return RiskResult(passed=False, reason=refusal, violated_limits=[], checks=[])
