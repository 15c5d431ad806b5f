"""From target weights to trade sizes: how SIZING_METHOD=optimizer_capped caps a trade.

DESIGN.md: the optimizer's weights sum to 1 across the pairs and split the sector's sleeve,
which is at most the sector limit of equity. So under ``optimizer_capped`` a pair may carry at
most

    cap (notional) = target weight of the pair x sleeve - notional the pair already holds
    sleeve         = max_sector_exposure_pct x equity           (the pair's sector)

and the trade is the Kelly x volatility size (``helios.risk.sizing``) or less: the margin is
min(Kelly x vol margin, cap / leverage), rounded down to a cent. The notional already held counts
both sides (gross, as the single-position check counts it), and the optimizer is long only, so
its weight caps a short as it caps a long: a pair the optimizer gives 0 is not traded either way.

``kelly_vol`` keeps issue 3's size unchanged; both return a ``PositionSize`` that says which
method was used (``sizing_method``) and, when the optimizer capped it, ``optimizer_cap``: the
weight, where it came from (an argument or ``hx.optimizer``, with its method and fallbacks), the
sleeve, what the pair holds and the cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from helios.config import Settings, SizingMethod
from helios.errors import InvalidInput
from helios.risk.sizing import SizingResult, cents_down

CAP_LIMIT = "optimizer_target_weight"  # cap_limit of a size the optimizer's weight capped


class ExplainsWeights(Protocol):
    """What ``target_weight`` needs of the optimizer (``hx.optimizer``, whose service lives a
    layer above this pure module): its ``explain`` (weights, method, fallback and views)."""

    def explain(
        self,
        pairs: Any,
        ml_predictions: Any = None,
        confidence_scores: Any = None,
        **options: Any,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PositionSize(SizingResult):
    """A ``SizingResult`` that says how it was sized: ``sizing_method`` and, when the optimizer
    capped the size, ``optimizer_cap`` (None otherwise); ``to_dict()`` always holds both."""

    sizing_method: str = SizingMethod.KELLY_VOL.value
    optimizer_cap: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kelly_vol(result: SizingResult) -> PositionSize:
    """Issue 3's size as it is."""
    return PositionSize(**asdict(result))


def capped_by_weight(
    result: SizingResult,
    *,
    weight: float,
    sector: str,
    sector_limit_pct: float,
    pair_notional: float,
    source: dict[str, Any],
) -> PositionSize:
    """``result`` capped at weight x sleeve - pair_notional of notional (see the module)."""
    equity = result.equity
    sleeve = sector_limit_pct * equity if equity > 0 else 0.0
    cap_notional = max(0.0, weight * sleeve - pair_notional)
    cap = cents_down(cap_notional / result.leverage)
    binding = result.position_size_zar > cap
    why = (
        f"{result.explanation}; optimizer cap: weight {weight:.4f} x {sector} sleeve "
        f"R{sleeve:,.2f} (max_sector_exposure_pct {sector_limit_pct:g} x equity) - "
        f"R{pair_notional:,.2f} held = R{cap_notional:,.2f} of notional"
    )
    details = {
        "target_weight": weight,
        "sector": sector,
        "sector_limit_pct": sector_limit_pct,
        "sleeve_zar": sleeve,
        "pair_notional_zar": pair_notional,
        "cap_notional_zar": cap_notional,
        "cap_zar": cap,
        "kelly_vol_size_zar": result.position_size_zar,
        "binding": binding,
        **source,
    }
    sized = PositionSize(
        **asdict(result),
        sizing_method=SizingMethod.OPTIMIZER_CAPPED.value,
        optimizer_cap=details,
    )
    if not binding:
        return replace(sized, explanation=why)
    return replace(
        sized,
        position_size_zar=cap,
        notional_zar=cap * result.leverage,
        cap_zar=cap,
        cap_limit=CAP_LIMIT,
        capped=True,
        explanation=f"{why}; capped at R{cap:,.2f} of margin by the optimizer's target weight",
    )


def target_weight(
    optimizer: ExplainsWeights,
    settings: Settings,
    pair: str,
    *,
    ml_predictions: Any = None,
    confidence_scores: Any = None,
    target_weights: Any = None,
) -> tuple[float, dict[str, Any]]:
    """The optimizer's weight for ``pair`` and where it came from.

    ``target_weights`` (the trading loop computes them once per cycle) win; otherwise
    ``hx.optimizer`` runs over the configured pairs of ``pair``'s sector with the predictions
    and confidences given for them (none: no views, so the weights are the market's). The only
    pair of its sector has weight 1 (there is nothing to split).
    """
    if target_weights is not None:
        return _given_weight(target_weights, pair), {"source": "target_weights argument"}
    sector = settings.sector_of(pair)
    members = [p for p in settings.pairs if settings.sector_of(p) == sector]
    if len(members) < 2:
        return 1.0, {"source": f"the only configured pair of the {sector} sector"}
    predictions = _only(ml_predictions, members, "ml_predictions")
    confidences = _only(confidence_scores, members, "confidence_scores")
    result = optimizer.explain(members, predictions, confidences, frontier_points=0)
    return result["weights"][pair], {
        "source": "hx.optimizer",
        "method": result["method"],
        "fallback": result["fallback"],
        "views": len(result["views"]["pairs"]),
        "weights": result["weights"],
    }


def _only(values: Any, members: list[str], field: str) -> dict[str, Any]:
    """The entries of ``values`` for ``members`` (the loop passes every pair's prediction)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidInput(field, values, "a dict of pair -> number")
    return {k: v for k, v in values.items() if isinstance(k, str) and k.upper() in members}


def _given_weight(weights: Any, pair: str) -> float:
    allowed = f"a dict of pair -> weight in [0, 1] that gives {pair} a weight"
    if not isinstance(weights, Mapping):
        raise InvalidInput("target_weights", weights, allowed)
    upper = {k.upper(): v for k, v in weights.items() if isinstance(k, str)}
    if pair not in upper:
        raise InvalidInput("target_weights", weights, allowed)
    value = upper[pair]
    if isinstance(value, bool):
        raise InvalidInput(f"target_weights.{pair}", value, "a weight in [0, 1]")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"target_weights.{pair}", value, "a weight in [0, 1]") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidInput(f"target_weights.{pair}", value, "a weight in [0, 1]")
    return number


def rebalance_trades(
    weights: Mapping[str, float],
    *,
    equity: float,
    sector_limit_pct: float,
    single_limit_pct: float,
    held_notional: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The notional trades that move the book to the optimizer's weights (DESIGN.md: weights
    split the sector sleeve, ``sector_limit_pct`` x equity; each pair capped at the
    single-position limit). ``held_notional``: signed ZAR per pair (longs +, shorts -).
    Returns one row per pair: target, held, the trade (BUY/SELL/HOLD) and its ZAR."""
    sleeve = sector_limit_pct * equity
    rows = []
    for pair, weight in weights.items():
        target = min(float(weight) * sleeve, single_limit_pct * equity)
        held = float(held_notional.get(pair, 0.0))
        change = target - held
        side = "HOLD" if abs(change) < 0.01 else ("BUY" if change > 0 else "SELL")
        rows.append(
            {
                "pair": pair,
                "weight": float(weight),
                "target_notional_zar": round(target, 2),
                "held_notional_zar": round(held, 2),
                "side": side,
                "trade_notional_zar": round(abs(change), 2),
                "capped": float(weight) * sleeve > single_limit_pct * equity,
            }
        )
    return rows
