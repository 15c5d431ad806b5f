"""Close every open position, and say in one event how many closed (L5 command).

``CloseAll`` closes with status CLOSED and leaves trading as it is (no halt); the emergency stop
(``helios.commands.emergency_stop``) closes the same way as EMERGENCY_CLOSE after halting. A
close the exchange does not answer stays CLOSING and is counted as not closed yet: the event
lists those positions, so a person sees at once what is still open.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from helios.money import fmt_zar
from helios.trading_state import TradingState, checked_name, checked_text


class ClosesAll(Protocol):
    """What closes every open position (``hx.positions``)."""

    def close_all(self, reason: Any = ..., *, actor: str = ...) -> list[dict[str, Any]]: ...


def close_everything(
    state: TradingState,
    positions: ClosesAll,
    status: str,
    by: str,
    kind: str,
    why: str,
    halt_since: datetime | None = None,
) -> dict[str, Any]:
    """Close every open position with ``status`` and record one event of ``kind`` (with the
    halt it belongs to, ``halt_since``: the operator is told both in one message)."""
    closes = positions.close_all(status, actor=by)
    failed = [c for c in closes if not c.get("success")]
    realized = sum((Decimal(str(c["realized_pnl"])) for c in closes if c.get("success")
                    and c.get("realized_pnl") is not None), Decimal(0))  # fmt: skip
    state.note(
        kind,
        by,
        f"{kind.lower().replace('_', ' ')}: {len(closes) - len(failed)} closed, "
        f"{len(failed)} not closed yet"
        + (f" (positions {', '.join(str(c.get('position_id')) for c in failed)})" if failed else "")
        + f", realized {fmt_zar(realized)}"
        + (f" ({why})" if why else ""),
        severity="CRITICAL" if status == "EMERGENCY_CLOSE" else "WARNING",
        details={
            "closed": len(closes) - len(failed),
            "realized_pnl": str(realized),
            "not_closed": len(failed),
            "failed": [c.get("position_id") for c in failed],
            **({"halt_since": halt_since.isoformat()} if halt_since is not None else {}),
        },
    )
    return {"closed": closes, "failed": failed}


class CloseAll:
    """Close every open position (status CLOSED) without halting."""

    def __init__(self, state: TradingState, positions: ClosesAll) -> None:
        self._state = state
        self._positions = positions

    def run(self, by: str, reason: str = "") -> dict[str, Any]:
        by, reason = checked_name(by, "who is closing"), checked_text("reason", reason)
        return close_everything(self._state, self._positions, "CLOSED", by, "CLOSE_ALL", reason)
