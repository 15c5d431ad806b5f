"""The trading mode and the emergency controls: the seed's orchestrator and autonomous-engine
paths, over ``hx.controls``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

import helios
from api.deps import get_hx
from api.models import ActorIn, EmergencyStopOut, ErrorOut, ModeIn, ModeOut, ResumeIn, ResumeOut
from api.routers.portfolio import WRITE_ERRORS, halt_dict
from api.security import actor, require_writer

router = APIRouter(tags=["controls"])
Hx = Annotated[helios.Helios, Depends(get_hx)]


@router.get(
    "/api/orchestrator/system/trading/mode",
    response_model=ModeOut,
    summary="The trading mode (check it before any trade)",
)
def get_mode(hx: Hx) -> dict[str, Any]:
    return {"mode": hx.controls.trading_mode().value, "halted": hx.controls.is_halted()}


@router.put(
    "/api/orchestrator/system/trading/mode",
    response_model=ModeOut,
    dependencies=[Depends(require_writer)],
    responses={
        **WRITE_ERRORS,
        409: {"model": ErrorOut, "description": "LIVE refused: every missing checklist item"},
    },
    summary="Switch to PAPER (always, at once) or LIVE (only through the pre-live checklist)",
)
def set_mode(hx: Hx, body: ModeIn) -> dict[str, Any]:
    before = hx.controls.trading_mode()
    mode = hx.controls.set_mode(
        body.mode, actor(body.by), body.reason, confirmed_by=body.confirmed_by
    )
    return {"mode": mode.value, "halted": hx.controls.is_halted(), "changed": mode is not before}


@router.post(
    "/api/autonomous-engine/start",
    response_model=ResumeOut,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Resume trading after a halt (a person's decision: who is required)",
)
def start(hx: Hx, body: ResumeIn) -> dict[str, Any]:
    was_halted = hx.controls.is_halted()
    hx.controls.resume(actor(body.by), body.note)
    return {"resumed": was_halted and not hx.controls.is_halted(), "halt": halt_dict(hx)}


@router.post(
    "/api/autonomous-engine/emergency-stop",
    response_model=EmergencyStopOut,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Stop all trading now: halt, and close every position (EMERGENCY_CLOSE)",
)
def emergency_stop(hx: Hx, body: Annotated[ActorIn | None, Body()] = None) -> dict[str, Any]:
    done = hx.controls.emergency_stop(actor(body.by if body else None), body.reason if body else "")
    return {"closed": done["closed"], "failed": done["failed"], "halt": halt_dict(hx)}
