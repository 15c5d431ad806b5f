"""For the upstream tiers: signals in, and the optimizer's weights."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

import helios
from api.deps import get_hx
from api.errors import error_response, invalid_input
from api.models import ErrorOut, OptimizerIn, OptimizerOut, SignalIn, SignalOut
from api.routers.portfolio import WRITE_ERRORS
from api.security import require_writer
from helios.signals import SignalRejected

router = APIRouter(tags=["upstream"])
Hx = Annotated[helios.Helios, Depends(get_hx)]
OPTIONS = (
    "max_weight",
    "risk_free_rate",
    "tau",
    "risk_aversion",
    "prediction_horizon_days",
    "lookback_days",
)


@router.post(
    "/api/signals",
    response_model=SignalOut,
    status_code=202,
    dependencies=[Depends(require_writer)],
    responses={
        **WRITE_ERRORS,
        409: {"model": SignalOut, "description": "stored but REJECTED (reason given)"},
    },
    summary="A trading signal for the trading loop (202: queued PENDING; 409: refused)",
)
def submit_signal(hx: Hx, body: SignalIn, request: Request) -> Any:
    raw = body.model_dump(exclude_none=True)
    raw["source"] = f"api:{body.source.strip()}"
    if body.trade_params is not None:
        raw["trade_params"] = body.trade_params.model_dump(exclude_none=True)
    try:
        receipt = hx.signals.submit_raw(raw)
    except SignalRejected as exc:  # malformed for helios: stored as REJECTED, field named
        return error_response(request, 422, invalid_input(exc, signal_id=exc.signal_id))
    if not receipt["accepted"]:
        return JSONResponse(SignalOut(**receipt).model_dump(mode="json"), status_code=409)
    return receipt


@router.post(
    "/api/portfolio/optimizer/weights",
    response_model=OptimizerOut,
    responses={422: {"model": ErrorOut}},
    summary="Black-Litterman + max Sharpe weights for the pairs (computes; stores nothing)",
)
def optimizer_weights(hx: Hx, body: OptimizerIn) -> dict[str, Any]:
    given = body.model_dump(exclude_none=True)
    options = {name: given[name] for name in OPTIONS if name in given}
    result = hx.optimizer.explain(
        body.pairs, body.ml_predictions, body.confidence_scores, frontier_points=0, **options
    )
    return {key: result.get(key) for key in OptimizerOut.model_fields}
