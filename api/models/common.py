"""What every API model shares: the field types (money, pair, side, status, who, time), the
request base ``Strict`` and its refusal of hostile text, the error shape and the halt.

``Strict`` refuses unknown keys and wrong JSON types (true is not a number, 1 is not true), and
marks every hostile text in a body (keys included) so the field it sits in fails, named, with
its value escaped; the emergency controls' text fields (``cleaned_by_helios``) pass as sent,
because helios cleans them itself and a stop must never fail on the words that came with it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from helios.positions.lifecycle import ALL_STATUSES
from helios.text import NAME_LIMIT, clean_text, hostile_character


class Refused:
    """A value that held hostile text (``helios.text``), standing in for it while the body is
    validated: its repr is the original escaped to ASCII, which is what an error echoes."""

    def __init__(self, value: Any, found: str) -> None:
        self.value = value
        self.found = found

    def __repr__(self) -> str:
        return ascii(self.value)


def _marked(value: Any) -> Any:
    """``value`` with every hostile text in it replaced by a ``Refused`` (a hostile key by its
    ASCII escape, its value refused), so the field it sits in fails and is named."""
    if isinstance(value, str):
        found = hostile_character(value)
        return value if found is None else Refused(value, found.describe())
    if isinstance(value, dict):
        marked: dict[Any, Any] = {}
        for key, item in value.items():
            found = hostile_character(key) if isinstance(key, str) else None
            if found is not None:
                marked[ascii(key)] = Refused(item, f"{found.describe()} in the key")
            else:
                marked[key] = _marked(item)
        return marked
    if isinstance(value, list):
        return [_marked(item) for item in value]
    return value


def _no_hostile_text(value: Any) -> Any:
    if isinstance(value, Refused):
        raise PydanticCustomError(
            "hostile_text",
            "text without control characters (TAB, LF and CR excepted), unpaired surrogates or "
            "bidi overrides; found {found}",
            {"found": value.found},
        )
    return value


NoHostileText = BeforeValidator(_no_hostile_text)

Money = Annotated[Decimal, Field(description="ZAR, exact (a decimal string in responses)")]
Pair = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9]{2,12}ZAR$",
        description="a configured ZAR pair, e.g. BTCZAR",
        examples=["BTCZAR"],
    ),
    NoHostileText,
]
Side = Annotated[Literal["BUY", "SELL"], Field(description="BUY (long) or SELL (short)")]
Status = Literal[ALL_STATUSES]  # type: ignore[valid-type]
Who = Annotated[
    str | None,
    Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"\S",
        description="who is doing this (recorded with the change as 'api:<by>'; absent: 'api')",
    ),
    NoHostileText,
]


def _time_as_text(value: Any) -> Any:
    """A time comes as ISO 8601 text; a JSON number or bool is not a time (no epoch seconds)."""
    if isinstance(value, str | datetime):
        return value
    raise PydanticCustomError("datetime_type", "Input should be a valid datetime")


# ISO 8601 text with its zone. Strict mode would only take a datetime object (FastAPI validates
# the parsed JSON as Python), so this field is lax for text and refuses every other JSON type.
IsoTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_time_as_text)]


class Strict(BaseModel):
    """A request body: unknown keys are refused, so a typo is never silently ignored, and every
    field takes only its own JSON type (pydantic's strict mode): true is not a number (not R1,
    not 1x leverage), 1 or "yes" is not true, 5 is not a text. A JSON integer is still a number
    where a number is expected (903 for 903.0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # top-level text fields helios cleans itself (the emergency controls): passed on as sent
    cleaned_by_helios: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_hostile_text(cls, data: Any) -> Any:
        if not isinstance(data, dict):  # not an object: refused as such (a marked text body
            return data  # standing in for the model once let an optional body through as None)
        marked = _marked(data)
        for key in cls.cleaned_by_helios:
            if isinstance(data.get(key), str):
                marked[key] = data[key]  # helios cleans it (helios.controls)
        return marked


def someone(value: str | None) -> str | None:
    """A ``by`` with nothing visible once cleaned names nobody: refused (never a silent
    'api')."""
    if value is not None and not clean_text(value, limit=NAME_LIMIT):
        raise PydanticCustomError(
            "no_name", "a name with at least one visible character (who is doing this)"
        )
    return value


CLEANED = (
    "any text: helios replaces control characters, unpaired surrogates and bidi overrides "
    "with U+FFFD and line breaks with a space, and cuts it to {limit} characters"
)
CleanedWho = Annotated[
    str | None,
    AfterValidator(someone),
    Field(
        default=None,
        description="who is doing this (recorded as 'api:<by>'; absent: 'api'); "
        + CLEANED.format(limit=NAME_LIMIT)
        + "; nothing visible left: 422",
    ),
]


# --- errors --------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    error: str = Field(
        description="invalid_input, not_found, refused, unauthorized, writes_disabled, "
        "method_not_allowed or internal_error"
    )
    message: str = Field(description="what went wrong, for a person")
    field: str | None = Field(default=None, description="the field at fault (dotted path)")
    value: Any = Field(default=None, description="the value received (bounded, JSON-safe)")
    allowed: str | None = Field(default=None, description="what the field accepts")
    rule: str | None = Field(default=None, description="the rule the value broke")


class HaltOut(BaseModel):
    halted: bool = Field(description="true: no new position opens until a person resumes")
    reason: str = Field(description="why trading is halted (empty when not halted)")
    cause: str = Field(description="manual, emergency_stop or an automatic trigger")
    by: str = Field(description="who halted")
    since: datetime | None = Field(description="when the halt began (UTC)")
    action: str | None = Field(description="close_all or halt_only")
