"""The write models of positions and the controls: closing one or all positions, the emergency
stop, the trading mode and resume. The emergency controls take any text in ``by`` and their
reason or note (helios cleans it: a stop must never fail on the words that came with it)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
)

from api.models.common import (
    CLEANED,
    CleanedWho,
    HaltOut,
    Money,
    NoHostileText,
    Strict,
    Who,
    someone,
)
from helios.text import NAME_LIMIT, TEXT_LIMIT


class ActorIn(Strict):
    """The emergency stop and close-all: they always act, whatever text comes with them."""

    cleaned_by_helios: ClassVar[frozenset[str]] = frozenset({"by", "reason"})
    by: CleanedWho
    reason: str = Field(
        default="", description="why (recorded); " + CLEANED.format(limit=TEXT_LIMIT)
    )


class CloseIn(Strict):
    by: Who


class CloseOut(BaseModel):
    success: bool
    position_id: int
    status: str | None = None
    realized_pnl: Money | None = None
    exit_price: Money | None = None
    entry_price: Money | None = None
    fees: Money | None = None
    holding_hours: float | None = None
    reason: str | None = None


class CloseAllOut(BaseModel):
    closed: list[CloseOut] = Field(description="every close asked for, with its outcome")
    failed: list[CloseOut] = Field(description="those not closed yet (the scheduler retries)")


class EmergencyStopOut(CloseAllOut):
    halt: HaltOut


class ModeOut(BaseModel):
    mode: Literal["PAPER", "LIVE"]
    halted: bool
    changed: bool | None = Field(default=None, description="PUT: whether the mode changed")


class ModeIn(Strict):
    mode: Literal["PAPER", "LIVE"] = Field(
        description="PAPER (always allowed, at once) or LIVE (only when the pre-live checklist "
        "holds; a refusal is 409 with every missing item)"
    )
    by: Who
    reason: Annotated[str, NoHostileText] = Field(
        default="", max_length=500, description="why (recorded)"
    )
    confirmed_by: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=120,
            description="LIVE: the person who will monitor it closely (a checklist item)",
        ),
        NoHostileText,
    ] = None


class ResumeIn(Strict):
    """Resume: it always acts, whatever text comes with it."""

    cleaned_by_helios: ClassVar[frozenset[str]] = frozenset({"by", "note"})
    by: Annotated[str, AfterValidator(someone)] = Field(
        description="who lifts the halt (required); "
        + CLEANED.format(limit=NAME_LIMIT)
        + "; nothing visible left: 422"
    )
    note: str = Field(
        default="", description="a note kept with the resume; " + CLEANED.format(limit=TEXT_LIMIT)
    )


class ResumeOut(BaseModel):
    resumed: bool = Field(description="false: trading was not halted, nothing changed")
    halt: HaltOut
