"""A risk decision's record as a value: the ``risk_decisions`` row, built by one pure function.

The rule: every decision on an opening trade is stored with what it judged (``Inputs.to_dict``,
with the sizing steps beside it when the trade was sized), what it found (the 7 checks and the
pre-checks, each as its record), the verdict, the limits' version and the signal it judged, at
the instant it was made. ``helios.risk.decisions`` writes what ``decision_row`` returns; a
second writer (a replay writing its records behind, ``docs/replay.md``) writes the same row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helios.risk.checks import RiskResult
from helios.risk.inputs import Inputs
from helios.trade import TradeParams


def decision_row(
    inputs: Inputs,
    params: TradeParams,
    result: RiskResult,
    signal_id: int | None,
    ts: datetime,
    sizing: Any = None,
) -> dict[str, Any]:
    """The audit row of one decision made at ``ts``. ``sizing``: how the size was chosen
    (``size_position``'s result or its dict: the method, Kelly, the vol scalar, the optimizer's
    cap), kept beside the inputs."""
    stored_inputs = inputs.to_dict()
    if sizing is not None:
        stored_inputs["sizing"] = sizing.to_dict() if hasattr(sizing, "to_dict") else sizing
    return {
        "ts": ts,
        "pair": inputs.trade.pair,
        "side": inputs.trade.side,
        "trade_params": params.to_dict(),
        "inputs": stored_inputs,
        "checks": [c.to_dict() for c in result.checks],
        "pre_checks": [p.to_dict() for p in result.pre_checks],
        "passed": result.passed,
        "reason": result.reason,
        "violated_limits": list(result.violated_limits),
        "limits_version": inputs.limits.version,
        "signal_id": signal_id,
    }
