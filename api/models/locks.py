"""The pair locks' models (``hx.locks``, issue 18): lock a pair for some hours with a reason,
lift a lock, and a lock as the API shows it. The hours' bounds are helios's own
(``helios.pair_locks``: more than 0, at most 720); helios checks again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.models.common import NoHostileText, Pair, Strict, Who
from helios.pair_locks import MAX_LOCK_HOURS
from helios.text import TEXT_LIMIT


class LockIn(Strict):
    pair: Pair
    hours: float = Field(
        gt=0, le=MAX_LOCK_HOURS, description="how long the pair stays locked, hours (0 < h <= 720)"
    )
    by: Who
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=TEXT_LIMIT,
            pattern=r"\S",
            description="why it is locked (recorded, and named in every refusal it causes)",
        ),
        NoHostileText,
    ]


class LiftIn(Strict):
    by: Who


class LockOut(BaseModel):
    id: int = Field(description="the lock's id (DELETE /api/locks/{id} lifts it)")
    pair: str
    status: str = Field(description="active, lifted, expired or scheduled")
    starts_at: datetime = Field(description="from when it holds the pair (UTC, ISO 8601)")
    ends_at: datetime = Field(description="when it ends by itself (UTC, ISO 8601)")
    ends_in: str = Field(description="the time left, for a person ('5 h 20 min'); '' if over")
    remaining_seconds: float = Field(description="seconds until it ends (0 when not active)")
    reason: str
    by: str = Field(description="who locked it ('auto:stop-outs' for the automatic lock)")
    automatic: bool = Field(description="true: locked by the stop-out rule (LOCK_AFTER_STOPS)")
    lifted_at: datetime | None = None
    lifted_by: str | None = None
