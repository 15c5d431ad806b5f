"""Pair locks (``hx.locks``): list them, lock a pair, lift a lock. Writes need the token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

import helios
from api.deps import get_hx
from api.errors import ApiError
from api.models import ErrorOut
from api.models.locks import LiftIn, LockIn, LockOut
from api.routers.portfolio import WRITE_ERRORS
from api.security import actor, require_writer
from helios.errors import InvalidInput
from helios.pair_lock_service import LockNotActive

router = APIRouter(tags=["locks"])
Hx = Annotated[helios.Helios, Depends(get_hx)]
LockId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the lock's id")]


@router.get(
    "/api/locks",
    response_model=list[LockOut],
    summary="The pair locks in force (all=true: every lock, newest first)",
)
def list_locks(
    hx: Hx, all: Annotated[bool, Query(description="every lock, not only those in force")] = False
) -> list[dict[str, Any]]:
    return hx.locks.history() if all else hx.locks.active()


@router.post(
    "/api/locks",
    response_model=LockOut,
    status_code=201,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Lock a pair from new positions for some hours (refused before the 7 checks)",
)
def lock_pair(hx: Hx, body: LockIn) -> dict[str, Any]:
    return hx.locks.lock(body.pair, body.hours, actor(body.by), body.reason)


@router.delete(
    "/api/locks/{lock_id}",
    response_model=LockOut,
    dependencies=[Depends(require_writer)],
    responses={**WRITE_ERRORS, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Lift a lock now; 409 if it no longer holds (lifted or expired)",
)
def lift_lock(
    hx: Hx, lock_id: LockId, body: Annotated[LiftIn | None, Body()] = None
) -> dict[str, Any]:
    try:
        [lifted] = hx.locks.lift(lock_id, actor(body.by if body else None))
    except InvalidInput as exc:
        if exc.field == "lock_id":
            raise ApiError(
                404, "not_found", f"no lock {lock_id}", field="lock_id", value=lock_id
            ) from None
        raise
    except LockNotActive as exc:
        raise ApiError(409, "refused", str(exc), reason=str(exc), lock_id=lock_id) from None
    return lifted
