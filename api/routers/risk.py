"""The seed's risk endpoints: metrics, the limits (read and change), the dry-run check."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends

import helios
from api.deps import get_hx
from api.models import (
    ErrorOut,
    RiskCheckIn,
    RiskCheckOut,
    RiskLimitsIn,
    RiskLimitsOut,
    RiskMetricsOut,
)
from api.routers.portfolio import WRITE_ERRORS
from api.security import actor, require_writer
from helios.risk.limits import LIMIT_NAMES

router = APIRouter(prefix="/api/portfolio", tags=["risk"])
Hx = Annotated[helios.Helios, Depends(get_hx)]


@router.get(
    "/risk-metrics",
    response_model=RiskMetricsOut,
    summary="Drawdown, daily loss, leverage, exposure, and what the book uses of each limit",
)
def risk_metrics(hx: Hx) -> dict[str, Any]:
    v = hx.ledger.valuation()
    return {
        "equity": v.equity,
        "drawdown": float(v.drawdown),
        "daily_loss": float(v.daily_loss),
        "leverage": float(v.leverage),
        "gross_exposure": v.gross_exposure,
        "margin": v.margin,
        "open_positions": len(v.positions),
        "halted": hx.controls.is_halted(),
        "limits": hx.risk.utilisation(),
        "capacity": hx.risk.capacity(),
    }


@router.get("/risk/limits", response_model=RiskLimitsOut, summary="The risk limits in force")
def get_limits(hx: Hx) -> dict[str, Any]:
    return hx.risk.get_limits().to_dict()


@router.put(
    "/risk/limits",
    response_model=RiskLimitsOut,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Change risk limits (DANGEROUS): a new version with who and why",
)
def update_limits(hx: Hx, body: RiskLimitsIn) -> dict[str, Any]:  # type: ignore[valid-type]
    given = body.model_dump(exclude_none=True)  # type: ignore[attr-defined]
    changes = {name: given[name] for name in LIMIT_NAMES if name in given}
    return hx.risk.update_limits(changes, actor(given["by"]), given.get("note", "")).to_dict()


@router.post(
    "/risk/check",
    response_model=RiskCheckOut,
    responses={422: {"model": ErrorOut}},
    summary="The 7 risk checks on a proposed trade, as a dry run (nothing is stored)",
)
def risk_check(hx: Hx, body: RiskCheckIn) -> dict[str, Any]:
    preview = hx.risk.preview(
        body.pair, body.signal, body.trade_params.model_dump(exclude_none=True)
    )
    return {
        **preview.result.to_dict(),
        "headroom": [asdict(h) for h in preview.headroom],
        "capacity": preview.capacity,
        "trade": preview.trade.to_dict(),
        "levels": asdict(preview.levels) if preview.levels is not None else None,
    }
