"""A trade's preview: the decision it would get, without storing it, and how far each limit is.

The rule: a preview is the same decision on the same inputs as ``check_trade_risk`` (so the
page never says "would pass" of a trade the check refuses), plus, for each of the 7 checks, its
headroom (limit - value, in the check's own unit) and how much more notional of this trade's
kind still fits under it (the exposure checks: headroom x equity; the risk capacity: headroom
x equity / the pair's daily volatility), and what the trade puts at stake: its notional, the
ZAR at risk to its stop (notional x stop distance, before fees and slippage), and its stop and
target prices measured from the latest price (the position's own follow its fill). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from helios.money import ZERO, zar
from helios.money import price as to_price
from helios.risk.checks import RiskResult
from helios.risk.inputs import Inputs
from helios.trade import TradeParams, entry_levels


@dataclass(frozen=True)
class Headroom:
    check: str
    limit_name: str
    value: float | None
    limit: float
    headroom: float | None  # limit - value, in the check's own unit
    max_additional_notional_zar: float | None  # more notional of this trade's kind that fits


@dataclass(frozen=True)
class PreviewLevels:
    """What the trade would put at stake (ZAR), and its stop and target prices measured from the
    latest price (None without one; the position's own levels follow its fill price)."""

    notional_zar: Decimal
    zar_at_risk: Decimal  # notional x stop distance, before fees and slippage
    reference_price: Decimal | None
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None


@dataclass(frozen=True)
class Preview:
    result: RiskResult
    headroom: list[Headroom]
    capacity: dict[str, Any]
    trade: TradeParams
    inputs: dict[str, Any] = field(repr=False)
    levels: PreviewLevels | None = None

    @property
    def passed(self) -> bool:
        return self.result.passed


def build_preview(
    inputs: Inputs,
    params: TradeParams,
    result: RiskResult,
    capacity: dict[str, Any],
    tick: Decimal = ZERO,
) -> Preview:
    """The preview of the decision ``result`` taken on ``inputs`` (``params``: the trade as
    parsed), with the book's ``capacity`` beside it; ``tick``: the grid stops lie on
    (``PRICE_TICK``), as the fill places them."""
    return Preview(
        result,
        headroom(inputs, result),
        capacity,
        params,
        inputs.to_dict(),
        levels(inputs, params, tick),
    )


def levels(inputs: Inputs, params: TradeParams, tick: Decimal = ZERO) -> PreviewLevels:
    """The notional, the ZAR at risk to the stop, and the stop and target prices from the
    latest price read with the decision (None without one)."""
    notional = zar(Decimal(str(params.position_size_zar)) * Decimal(str(params.leverage)))
    reference = (
        to_price(Decimal(str(inputs.trade.price))) if inputs.trade.price is not None else None
    )
    stop, target = (
        entry_levels(
            inputs.trade.side, reference, params.stop_loss_pct, params.take_profit_pct, tick
        )
        if reference is not None
        else (None, None)
    )
    return PreviewLevels(
        notional_zar=notional,
        zar_at_risk=zar(notional * Decimal(str(params.stop_loss_pct))),
        reference_price=reference,
        stop_loss_price=stop,
        take_profit_price=target,
    )


def headroom(inputs: Inputs, result: RiskResult) -> list[Headroom]:
    """How far each limit is from binding, and how much more notional of this trade fits."""
    state, trade, stats = inputs.state, inputs.trade, inputs.stats
    equity = state.equity
    rows = []
    for check in result.checks:
        room = None if check.value is None else check.limit - check.value
        extra: float | None = None
        if room is not None and equity > 0:
            if check.name in ("single_position", "sector_exposure", "leverage"):
                extra = max(0.0, room * equity)
            elif check.name == "risk_capacity" and stats.daily_vol.get(trade.pair):
                extra = max(0.0, room * equity / stats.daily_vol[trade.pair])
        rows.append(Headroom(check.name, check.limit_name, check.value, check.limit, room, extra))
    return rows
