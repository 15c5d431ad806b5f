"""A risk decision's inputs, and the decision taken on them: the record that makes it replayable.

The rule: everything the pure function saw (the portfolio, the limits, the trade, the market
statistics, the halt flag, the pair's lock, the mode, the LIVE cap, the pre-checks' figures) is
stored with each
decision (``Inputs.to_dict``), passed or not, so ``Inputs.from_dict`` gives the same inputs back
and ``decide`` gives the same result, today or in a year (``hx.risk.replay``). ``decide``: a
halted system is refused before anything else is judged, then a locked pair
(``helios.pair_locks``: the lock's reason and end time); otherwise the 7 checks
(``checks.evaluate``) with the pre-checks (buying power, price age) beside them. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from helios.risk.book import CapitalCap
from helios.risk.checks import (
    MarketStats,
    OpenExposure,
    PortfolioState,
    ProposedTrade,
    RiskResult,
    evaluate,
    halted_result,
    locked_result,
)
from helios.risk.limits import RiskLimits
from helios.risk.prechecks import PreCheck, buying_power, opening_cost, price_age, with_pre_checks


@dataclass(frozen=True)
class Inputs:
    """Everything the pure function saw: stored with each decision, enough to replay it."""

    state: PortfolioState
    limits: RiskLimits
    trade: ProposedTrade
    stats: MarketStats
    halted: bool
    halt_reason: str
    mode: str = "PAPER"  # the trading mode in force when the decision was taken
    # LIVE: the capital cap behind ``state`` (``CapitalCap``); None in PAPER
    capital_cap: CapitalCap | None = None
    # the pre-checks' inputs (``risk.prechecks``). ``max_price_age_seconds`` None: a decision
    # stored before the pre-checks existed (its replay judges the 7 alone, as it was decided)
    free_cash: str | None = None  # exact ZAR text; None: not known (fails closed)
    free_cash_source: str = ""  # where the free cash figure came from, or why it is unknown
    fee_pct: str = "0"  # the opening fee rate the buying power adds to the margin
    price_age_seconds: float | None = None  # since the pair's price was observed (None: none)
    max_price_age_seconds: float | None = None
    # the lock holding the pair when decided (``helios.pair_locks.refusal``: its text, id and
    # end); "" / None: the pair was free (and in decisions stored before locks existed)
    lock_refusal: str = ""
    lock_id: int | None = None
    lock_ends_at: str | None = None  # ISO 8601, UTC
    # False: the 7 checks are judged and stored but do not refuse (RISK_CHECKS_ENFORCED=false,
    # PAPER only: a replay's "limits out of the way"); the halt, locks and pre-checks still do
    checks_enforced: bool = True

    def to_dict(self) -> dict[str, Any]:
        # _flat, not asdict: the same dict without asdict's recursive deep copy (0.13 ms of a
        # check with 20 positions, against 7 us); every field of these dataclasses is a plain value
        return {
            "state": {
                **_flat(self.state),
                # JSON has no NaN (PostgreSQL refuses it): a position without a mark is null
                "positions": [
                    {**_flat(p), "notional": p.notional if math.isfinite(p.notional) else None}
                    for p in self.state.positions
                ],
            },
            "limits": self.limits.to_dict(),
            "trade": _flat(self.trade),
            "stats": {
                "daily_vol": dict(self.stats.daily_vol),
                "pairs": list(self.stats.pairs),
                "covariance": [list(row) for row in self.stats.covariance],
                "aligned_obs": self.stats.aligned_obs,
            },
            "halted": self.halted,
            "halt_reason": self.halt_reason,
            "mode": self.mode,
            "capital_cap": _flat(self.capital_cap) if self.capital_cap is not None else None,
            "free_cash": self.free_cash,
            "free_cash_source": self.free_cash_source,
            "fee_pct": self.fee_pct,
            "price_age_seconds": self.price_age_seconds,
            "max_price_age_seconds": self.max_price_age_seconds,
            "lock_refusal": self.lock_refusal,
            "lock_id": self.lock_id,
            "lock_ends_at": self.lock_ends_at,
            "checks_enforced": self.checks_enforced,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inputs:
        state = data["state"]
        limits = {k: v for k, v in data["limits"].items() if k != "changed_at"}
        return cls(
            state=PortfolioState(
                equity=state["equity"],
                peak_equity=state["peak_equity"],
                start_of_day_equity=state["start_of_day_equity"],
                positions=tuple(
                    OpenExposure(**{**p, "notional": _nan_if_none(p["notional"])})
                    for p in state["positions"]
                ),
                marks_unknown=state.get("marks_unknown", ""),
            ),
            limits=RiskLimits(**limits),
            trade=ProposedTrade(**data["trade"]),
            stats=MarketStats(
                daily_vol=data["stats"]["daily_vol"],
                pairs=tuple(data["stats"]["pairs"]),
                covariance=tuple(tuple(row) for row in data["stats"]["covariance"]),
                aligned_obs=data["stats"]["aligned_obs"],
            ),
            halted=data["halted"],
            halt_reason=data["halt_reason"],
            mode=data.get("mode", "PAPER"),
            capital_cap=CapitalCap(**data["capital_cap"]) if data.get("capital_cap") else None,
            free_cash=data.get("free_cash"),
            free_cash_source=data.get("free_cash_source", ""),
            fee_pct=data.get("fee_pct", "0"),
            price_age_seconds=data.get("price_age_seconds"),
            max_price_age_seconds=data.get("max_price_age_seconds"),
            lock_refusal=data.get("lock_refusal", ""),
            lock_id=data.get("lock_id"),
            lock_ends_at=data.get("lock_ends_at"),
            checks_enforced=data.get("checks_enforced", True),
        )

    def pre_checks(self) -> list[PreCheck]:
        """Buying power and price age from the figures read with the decision (none for a
        decision stored before they existed)."""
        if self.max_price_age_seconds is None:
            return []
        trade = self.trade
        cost = opening_cost(trade.position_size_zar, trade.leverage, Decimal(self.fee_pct))
        free = Decimal(self.free_cash) if self.free_cash is not None else None
        return [
            price_age(trade.pair, self.price_age_seconds, self.max_price_age_seconds),
            buying_power(cost, free, self.free_cash_source),
        ]


def checks_enforced(setting: bool, mode: str) -> bool:
    """Do the 7 checks refuse? ``RISK_CHECKS_ENFORCED=false`` lets them only be judged and
    stored (a replay's "limits out of the way"), in PAPER only: LIVE always enforces them."""
    return setting or mode == "LIVE"


def decide(inputs: Inputs) -> RiskResult:
    """The halt first (nothing else is judged), then the pair's lock (likewise), then the 7
    checks with the pre-checks beside."""
    if inputs.halted:
        return halted_result(inputs.halt_reason or "no reason recorded")
    if inputs.lock_refusal:
        return locked_result(inputs.lock_refusal)
    result = evaluate(inputs.state, inputs.limits, inputs.trade, inputs.stats)
    if not inputs.checks_enforced and not result.passed:
        result = replace(
            result,
            passed=True,
            violated_limits=[],
            reason=f"the 7 checks are not enforced (RISK_CHECKS_ENFORCED=false); they said: "
            f"{result.reason}",
        )
    return with_pre_checks(result, inputs.pre_checks())


def _nan_if_none(value: float | None) -> float:
    """A stored null notional (no mark when decided) back to the NaN the checks expect."""
    return float("nan") if value is None else value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _flat(obj: Any) -> dict[str, Any]:
    """``asdict`` for a dataclass whose fields hold plain values (or are replaced by the
    caller): one level, no deep copy."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}
