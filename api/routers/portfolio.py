"""The seed's portfolio and position endpoints (reads, and the closes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, Path, Query

import helios
from api.deps import get_hx
from api.errors import ApiError
from api.models import (
    ActorIn,
    CloseAllOut,
    CloseIn,
    CloseOut,
    ErrorOut,
    MetricsOut,
    Pair,
    PositionDetailOut,
    PositionOut,
    StateOut,
    Status,
    SummaryOut,
)
from api.security import actor, require_writer
from helios.errors import InvalidInput
from helios.positions.lifecycle import CLOSING, OPEN, OPENING
from helios.positions.records import MAX_POSITION_ID

router = APIRouter(prefix="/api/portfolio", tags=["portfolio"])
Hx = Annotated[helios.Helios, Depends(get_hx)]
# the whole history (the summary's win rate and Sharpe): before any Helios database existed
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
LIVE_STATUSES = (OPENING, OPEN, CLOSING)
PositionId = Annotated[
    int, Path(ge=1, le=MAX_POSITION_ID, description="the position's id (a 32-bit database key)")
]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or wrong bearer token: nothing changed"},
    403: {"model": ErrorOut, "description": "HELIOS_API_TOKEN not set: the API is read-only"},
    422: {"model": ErrorOut, "description": "invalid input: field, value, rule"},
}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A helios table as rows, missing values as None."""
    if frame.empty:
        return []
    return frame.astype(object).where(frame.notna(), None).to_dict("records")  # type: ignore[return-value]


def valuation_dict(hx: helios.Helios) -> dict[str, Any]:
    v = hx.ledger.valuation()
    return {
        "cash": v.cash,
        "margin": v.margin,
        "unrealized_pnl": v.unrealized_pnl,
        "equity": v.equity,
        "gross_exposure": v.gross_exposure,
        "peak_equity": v.peak_equity,
        "start_of_day_equity": v.start_of_day_equity,
        "initial_capital": v.initial_capital,
        "drawdown": float(v.drawdown),
        "daily_pnl": v.daily_pnl,
        "daily_loss": float(v.daily_loss),
        "leverage": float(v.leverage),
        "missing_prices": list(v.missing_prices),
    }


def halt_dict(hx: helios.Helios) -> dict[str, Any]:
    h = hx.controls.halt_state()
    return {
        "halted": h.halted,
        "reason": h.reason,
        "cause": h.cause,
        "by": h.by,
        "since": h.since,
        "action": h.action.value if h.action else None,
    }


@router.get("/summary", response_model=SummaryOut, summary="Total value, P&L, win rate, Sharpe")
def summary(hx: Hx) -> dict[str, Any]:
    v = hx.ledger.valuation()
    review = hx.metrics.review(BEGINNING)
    return {
        "mode": hx.controls.trading_mode().value,
        "halted": hx.controls.is_halted(),
        "total_value": v.equity,
        "cash": v.cash,
        "initial_capital": v.initial_capital,
        "pnl": v.total_pnl,
        "pnl_pct": float(v.total_pnl_pct) if v.total_pnl_pct is not None else None,
        "realized_pnl": review["realized_pnl"],
        "unrealized_pnl": v.unrealized_pnl,
        "daily_pnl": v.daily_pnl,
        "drawdown": float(v.drawdown),
        "win_rate": review["win_rate"],
        "sharpe": review["sharpe"],
        "closed_positions": review["closed_positions"],
        "open_positions": len(hx.positions.get_open_positions()),
    }


@router.get("/state/current", response_model=StateOut, summary="Positions, cash, exposure")
def current_state(hx: Hx) -> dict[str, Any]:
    return {
        "mode": hx.controls.trading_mode().value,
        "halt": halt_dict(hx),
        "valuation": valuation_dict(hx),
        "positions": hx.positions.get_open_positions(),
        "latest_prices": hx.market.latest_prices(),
    }


@router.get(
    "/performance/metrics",
    response_model=MetricsOut,
    responses={422: {"model": ErrorOut}},
    summary="Sharpe, Sortino, max drawdown, hit rates over a period",
)
def performance_metrics(
    hx: Hx,
    start: Annotated[
        datetime | None, Query(description="ISO 8601 with zone; default: the whole history")
    ] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601 with zone; default: now")] = None,
) -> dict[str, Any]:
    return hx.metrics.review(start if start is not None else BEGINNING, end)


@router.get(
    "/positions",
    response_model=list[PositionOut],
    responses={422: {"model": ErrorOut}},
    summary="All positions (open first, then closed, newest first), or those of one status",
)
def positions(
    hx: Hx,
    status: Annotated[Status | None, Query(description="only this status")] = None,
    pair: Annotated[Pair | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="closed positions at most")] = 1000,
    offset: Annotated[int, Query(ge=0, le=10**9, description="closed positions skipped")] = 0,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if status is None or status in LIVE_STATUSES:
        chosen = hx.market.check_pair(pair) if pair is not None else None
        rows += [
            p
            for p in hx.positions.get_open_positions()
            if (status is None or p["status"] == status) and chosen in (None, p["pair"])
        ]
    if status not in LIVE_STATUSES:
        frame = hx.positions.closed_positions(status=status, pair=pair, limit=limit, offset=offset)
        rows += records(frame)
    return rows


@router.get(
    "/positions/{position_id}",
    response_model=PositionDetailOut,
    responses={404: {"model": ErrorOut}},
    summary="One position: its row, risk decision, orders, fills and events",
)
def position(hx: Hx, position_id: PositionId) -> dict[str, Any]:
    try:
        return hx.positions.position_history(position_id)
    except InvalidInput as exc:
        raise _not_found(exc) from None


@router.post(
    "/positions/{position_id}/close",
    response_model=CloseOut,
    dependencies=[Depends(require_writer)],
    responses={**WRITE_ERRORS, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Close a position at market now (status CLOSED); 409 if it is not open",
)
def close_position(
    hx: Hx, position_id: PositionId, body: Annotated[CloseIn | None, Body()] = None
) -> dict[str, Any]:
    try:
        done = hx.positions.close_position(
            position_id, "CLOSED", actor=actor(body.by if body else None)
        )
    except InvalidInput as exc:
        if exc.field == "position_id":
            raise _not_found(exc) from None
        raise
    if not done.get("success"):
        raise ApiError(
            409,
            "refused",
            str(done.get("reason") or "not closed"),
            reason=str(done.get("reason") or "not closed"),
            position_id=position_id,
            status=done.get("status"),
        )
    return done


@router.post(
    "/positions/close-all",
    response_model=CloseAllOut,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Close every open position at market (status CLOSED), without halting",
)
def close_all(hx: Hx, body: Annotated[ActorIn | None, Body()] = None) -> dict[str, Any]:
    return hx.controls.close_all(actor(body.by if body else None), body.reason if body else "")


def _not_found(exc: InvalidInput) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no position {exc.value}",
        field=exc.field,
        value=exc.value if isinstance(exc.value, int) else None,
        allowed=exc.allowed,
    )
