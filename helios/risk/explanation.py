"""Why a trade was refused or sized so: one stored risk decision read back as a story (L2, pure).

The rules:

- a story is built only from what the decision recorded (``risk_decisions``: the 7 checks with
  their values and limits, the pre-checks, the trade asked for, the inputs the checks saw, and
  the sizing when the size came from the sizing rule); nothing is recomputed, so it says what the
  guardian saw at the time (``hx.risk.replay`` re-judges the same inputs with today's rules);
- the sizing steps are the sizing rule's own (``helios.risk.sizing``), in its order: the win
  probability and reward/risk, full Kelly, fractional Kelly, the volatility scalar, the target
  notional, the margin at the leverage, the cap and the limit behind it, the optimizer's cap
  under ``SIZING_METHOD=optimizer_capped``, then the size; a size given with the trade (a
  signal's ``position_size_zar``, the Trade preview) has no steps (``sized_by`` is ``given``);
- a decision taken while trading was halted judged nothing else: it has no checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GIVEN = "given"  # sized_by of a trade whose size was asked for, not computed


@dataclass(frozen=True)
class Step:
    """One step of the sizing: its figure (``unit``: ``ZAR``, ``fraction``, ``pct`` or ``x``;
    None when the step had no figure) and how it was reached, with the numbers."""

    name: str
    value: float | None
    unit: str
    how: str


@dataclass(frozen=True)
class DecisionStory:
    """One stored risk decision: the verdict, what was asked, the checks and the sizing."""

    decision_id: int
    ts: datetime
    pair: str
    side: str
    passed: bool
    halted: bool
    reason: str
    violated_limits: tuple[str, ...]
    limits_version: int | None
    signal_id: int | None
    position_id: int | None  # the position it opened (None: refused, or opened none)
    mode: str
    equity: float | None  # the equity the checks judged against
    daily_vol: float | None  # the pair's daily volatility the checks saw
    trade: dict[str, Any]  # the trade parameters judged (size, leverage, stop, target)
    checks: tuple[dict[str, Any], ...]  # number, name, limit_name, passed, value, limit, message
    pre_checks: tuple[dict[str, Any], ...]  # name, passed, value, limit, message
    sized_by: str  # kelly_vol, optimizer_capped or GIVEN
    sizing_steps: tuple[Step, ...]
    sizing_explanation: str

    @property
    def failed_checks(self) -> tuple[dict[str, Any], ...]:
        return tuple(c for c in self.checks if not c["passed"])


def story_of(row: Mapping[str, Any], position_id: int | None) -> DecisionStory:
    """The story of a stored decision (``row``: the ``risk_decisions`` columns as a mapping)."""
    inputs = row.get("inputs") or {}
    sizing = inputs.get("sizing")
    state = inputs.get("state") or {}
    vols = (inputs.get("stats") or {}).get("daily_vol") or {}
    checks = tuple(row.get("checks") or ())
    trade = dict(row.get("trade_params") or {})
    return DecisionStory(
        decision_id=int(row["id"]),
        ts=row["ts"],
        pair=str(row["pair"]),
        side=str(row["side"]),
        passed=bool(row["passed"]),
        halted=bool(inputs.get("halted")) and not checks,
        reason=str(row["reason"]),
        violated_limits=tuple(row.get("violated_limits") or ()),
        limits_version=row.get("limits_version"),
        signal_id=row.get("signal_id"),
        position_id=position_id,
        mode=str(inputs.get("mode", "PAPER")),
        equity=state.get("equity"),
        daily_vol=vols.get(str(row["pair"])),
        trade=trade,
        checks=checks,
        pre_checks=tuple(row.get("pre_checks") or ()),
        sized_by=str(sizing.get("sizing_method", "kelly_vol")) if sizing else GIVEN,
        sizing_steps=sizing_steps(sizing) if sizing else (),
        sizing_explanation=str(sizing.get("explanation", "")) if sizing else _given(trade),
    )


def sizing_steps(s: Mapping[str, Any]) -> tuple[Step, ...]:
    """The sizing rule's steps from its stored result (``SizingResult.to_dict()``)."""
    p, b = _float(s["win_probability"]), _float(s["reward_risk"])
    fraction = _float(s["kelly_fraction"])
    leverage = _float(s["leverage"]) or 1.0
    equity = _float(s["equity"])
    periods = s.get("periods_per_year")
    steps = [
        Step("win probability p", p, "fraction", "the signal's ML confidence"),
        Step("reward/risk b", b, "fraction", "take profit / stop loss"),
        Step(
            "full Kelly f",
            _float(s["full_kelly"]),
            "fraction",
            f"(p x b - (1 - p)) / b = ({p:.4f} x {b:.4f} - {1 - p:.4f}) / {b:.4f}",
        ),
        Step(
            "fractional Kelly",
            _float(s["fractional_kelly"]),
            "fraction",
            f"max(0, f) x {fraction:g} (KELLY_FRACTION); f <= 0 is no edge: no trade",
        ),
        Step(
            "daily volatility",
            s.get("daily_vol"),
            "pct",
            "the pair's estimate (GARCH or EWMA); none: no size (fail closed)",
        ),
        Step("annual volatility", s.get("annual_vol"), "pct", f"daily x sqrt({periods})"),
        Step(
            "volatility scalar",
            s.get("vol_scalar"),
            "fraction",
            f"target {_float(s['vol_target_annual']):g} / annual volatility",
        ),
        Step(
            "target notional",
            _float(s["target_notional_zar"]),
            "ZAR",
            f"fractional Kelly x scalar x equity R{equity:,.2f}",
        ),
        Step(
            "margin before the caps",
            _float(s["uncapped_size_zar"]),
            "ZAR",
            f"target notional / leverage {leverage:g}x",
        ),
        Step(
            "cap",
            _float(s["cap_zar"]),
            "ZAR",
            f"the largest margin {s['cap_limit']} allows"
            + (": it bound" if s.get("capped") else ": not reached"),
        ),
    ]
    cap = s.get("optimizer_cap")
    if cap:
        steps.append(
            Step(
                "optimizer cap",
                _float(cap.get("cap_zar")),
                "ZAR",
                f"(weight {_float(cap.get('target_weight')):.4f} x {cap.get('sector')} sleeve "
                f"R{_float(cap.get('sleeve_zar')):,.2f} - "
                f"R{_float(cap.get('pair_notional_zar')):,.2f} held) / leverage"
                + (": it bound" if cap.get("binding") else ": not reached"),
            )
        )
    steps += [
        Step(
            "size (margin)",
            _float(s["position_size_zar"]),
            "ZAR",
            "the cap" if s.get("capped") else "the margin before the caps, to the cent",
        ),
        Step("notional", _float(s["notional_zar"]), "ZAR", f"margin x leverage {leverage:g}x"),
    ]
    return tuple(steps)


def _given(trade: Mapping[str, Any]) -> str:
    margin = _float(trade.get("position_size_zar"))
    return f"the size was given with the trade: margin R{margin:,.2f}, not sized by the rule"


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0
