"""What a replay runs under: the rules profile, the limits, the sizing and the fees (pure).

A replay is history through the live code under a set of settings; this module names them and
checks them before anything runs, so a bad limit or an unknown profile is refused with the name,
the value and what is allowed, and no run is started.

- ``limits``: the 7 risk limits (and ``min_position_size_pct``) by their stored names and in
  their stored units (fractions: ``0.10`` for 10%), validated by the live ``validate_changes``.
- ``settings``: configuration keys in lower case that a replay may change (the paper venue's
  fee and slippage, the default levels, the holding limit, the automatic pair lock);
  validated by ``helios.config.load_settings`` when the run's database is opened.
- ``trade_params``: what every signal without its own values carries (a fixed stake
  ``position_size_zar``, ``stop_loss_pct``, ``take_profit_pct``, ``max_holding_hours``).
- The ``freqtrade`` profile (issue 19's parity rules): a fixed stake of R10,000, one position
  per pair, the limits out of the way, the stop 2% below the entry, the target 6% net of both
  fees (``take_profit_for_net``), a 72 h timeout, a 0.35% fee each side and no slippage.
- ``parse_sweep`` turns ``--sweep max_drawdown_pct=0.10,0.15`` into the grid of runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from helios.errors import InvalidInput
from helios.limit_rules import LIMIT_RULES
from helios.risk.limits import validate_changes

# configuration keys a replay may set (the rest is the operator's configuration)
SETTING_KEYS = (
    "paper_fee_pct",
    "paper_slippage_pct",
    "default_stop_loss_pct",
    "default_take_profit_pct",
    "max_position_holding_hours",
    "max_positions_per_pair",
    "risk_checks_enforced",
    "price_tick",
    "lock_after_stops",
    "lock_window_hours",
    "lock_hours",
    "trading_day_timezone",
)
TRADE_PARAM_KEYS = ("position_size_zar", "stop_loss_pct", "take_profit_pct", "max_holding_hours")
PROFILES = ("helios", "freqtrade")


def take_profit_for_net(net: float, fee: float) -> float:
    """The take-profit distance that earns ``net`` of what the entry cost after both fees
    (Freqtrade's profit ratio, its ROI): a long that buys at E paying E x fee and sells at T
    paying T x fee keeps T(1 - fee) - E(1 + fee) = E(1 + fee) x net, so
    T = E (1 + fee)(1 + net) / (1 - fee)."""
    return (1 + fee) * (1 + net) / (1 - fee) - 1


@dataclass(frozen=True)
class RunRules:
    """The settings a replay runs under (validated: ``rules``)."""

    profile: str = "helios"
    limits: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    trade_params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "limits": dict(self.limits),
            "settings": {k: str(v) for k, v in self.settings.items()},
            "trade_params": {k: str(v) for k, v in self.trade_params.items()},
        }


def _freqtrade() -> RunRules:
    fee = 0.0035
    loose = {name: rule.high for name, rule in LIMIT_RULES.items()}
    smallest = LIMIT_RULES["min_position_size_pct"]
    loose["min_position_size_pct"] = smallest.low if smallest.low_inclusive else 1e-6
    return RunRules(
        profile="freqtrade",
        limits=loose,
        settings={
            "paper_fee_pct": Decimal("0.0035"),
            "paper_slippage_pct": Decimal("0"),
            "max_positions_per_pair": 1,
            "risk_checks_enforced": False,
            "lock_after_stops": 0,
        },
        trade_params={
            "position_size_zar": 10000,
            "stop_loss_pct": 0.02,
            "take_profit_pct": take_profit_for_net(0.06, fee),
            "max_holding_hours": 72,
        },
    )


def rules(
    profile: str = "helios",
    limits: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    trade_params: Mapping[str, Any] | None = None,
) -> RunRules:
    """The profile's rules with ``limits``, ``settings`` and ``trade_params`` laid over them;
    every name and value checked (InvalidInput naming it)."""
    if profile not in PROFILES:
        raise InvalidInput("rules", profile, f"one of {', '.join(PROFILES)}")
    base = _freqtrade() if profile == "freqtrade" else RunRules()
    chosen_limits = {**base.limits, **(validate_changes(dict(limits)) if limits else {})}
    for key in settings or {}:
        if key not in SETTING_KEYS:
            raise InvalidInput("settings", key, f"one of {', '.join(SETTING_KEYS)}")
    for key in trade_params or {}:
        if key not in TRADE_PARAM_KEYS:
            raise InvalidInput("trade_params", key, f"one of {', '.join(TRADE_PARAM_KEYS)}")
    return RunRules(
        profile,
        chosen_limits,
        {**base.settings, **(settings or {})},
        {**base.trade_params, **(trade_params or {})},
    )


def parse_sweep(items: Sequence[str]) -> list[dict[str, float]]:
    """``["max_drawdown_pct=0.10,0.15", "max_leverage=1,2"]`` -> every combination, in order
    (the first name varies slowest). An unknown limit, a value out of its range, a name given
    twice or an empty list is refused naming it."""
    names: list[str] = []
    values: list[list[float]] = []
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not raw.strip():
            raise InvalidInput("--sweep", item, "NAME=V1,V2,... (a risk limit and its values)")
        if name not in LIMIT_RULES:
            raise InvalidInput("--sweep", name, f"a risk limit: {', '.join(LIMIT_RULES)}")
        if name in names:
            raise InvalidInput("--sweep", name, "each limit once")
        chosen = []
        for text in raw.split(","):
            try:
                number = float(text)
            except ValueError:
                raise InvalidInput(f"--sweep {name}", text, "a number") from None
            chosen.append(validate_changes({name: number})[name])
        names.append(name)
        values.append(chosen)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
