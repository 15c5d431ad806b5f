"""The API's request and response models: every field with its unit and limits, so ``/docs`` and
``/openapi.json`` describe the API completely.

Units: money in ZAR, sent back as exact decimal strings ("1250.50000000"); prices in ZAR per
coin; fractions are plain numbers (0.02 = 2%); times in ISO 8601 with their zone (UTC). The
ranges here are the ones helios enforces (``helios.trade``, ``helios.risk.limits``,
``helios.signals``); helios checks again and has the last word.

Hostile text (``helios.text``: a control character other than TAB/LF/CR, an unpaired surrogate,
a bidi override) is refused with 422 naming the field, its value escaped (so the answer itself
is valid JSON) and what it allows, anywhere in a body, keys included; with one exception. The
emergency controls (emergency stop, close-all, resume) take any text in ``by`` and their reason
or note: helios cleans it (``helios.controls``, the one place every entry point goes through)
and stores it cleaned, because a stop must never fail on the words that came with it. Their
``by`` must still hold something visible once cleaned (422 naming ``by`` otherwise).
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
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from helios.positions.lifecycle import ALL_STATUSES
from helios.risk.limits import LIMIT_RULES
from helios.text import NAME_LIMIT, TEXT_LIMIT, clean_text, hostile_character
from helios.trade import MAX_POSITION_SIZE_ZAR


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


def _someone(value: str | None) -> str | None:
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
    AfterValidator(_someone),
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


# --- portfolio -----------------------------------------------------------------------------
class HaltOut(BaseModel):
    halted: bool = Field(description="true: no new position opens until a person resumes")
    reason: str = Field(description="why trading is halted (empty when not halted)")
    cause: str = Field(description="manual, emergency_stop or an automatic trigger")
    by: str = Field(description="who halted")
    since: datetime | None = Field(description="when the halt began (UTC)")
    action: str | None = Field(description="close_all or halt_only")


class SummaryOut(BaseModel):
    mode: str = Field(description="PAPER or LIVE")
    halted: bool = Field(description="trading halted")
    total_value: Money = Field(description="equity: cash + margin + unrealized P&L, ZAR")
    cash: Money
    initial_capital: Money
    pnl: Money = Field(description="equity - initial capital, ZAR")
    pnl_pct: float | None = Field(description="pnl / initial capital (fraction, 0.02 = 2%)")
    realized_pnl: Money = Field(description="P&L of every closed position, ZAR")
    unrealized_pnl: Money = Field(description="P&L of the open positions at the latest prices")
    daily_pnl: Money = Field(description="equity - start-of-day equity (trading day), ZAR")
    drawdown: float = Field(ge=0, le=1, description="1 - equity / peak equity (fraction)")
    win_rate: float | None = Field(description="closed positions with a profit (fraction)")
    sharpe: float | None = Field(description="annualised Sharpe of daily returns (None < 2)")
    closed_positions: int = Field(ge=0)
    open_positions: int = Field(ge=0, description="positions OPENING, OPEN or CLOSING")


class PositionOut(BaseModel):
    """One position; open ones carry live figures, closed ones their outcome."""

    position_id: int
    pair: str
    side: str
    status: str = Field(description=f"one of {', '.join(ALL_STATUSES)}")
    position_size_zar: Money | None = Field(default=None, description="margin, ZAR")
    leverage: Decimal | None = Field(default=None, description="multiple, 1 to the limit")
    entry_price: Money | None = Field(default=None, description="fill price, ZAR per coin")
    mode: str | None = None
    notional: Money | None = Field(default=None, description="margin x leverage, ZAR")
    quantity: Decimal | None = Field(default=None, description="coins")
    price: Money | None = Field(default=None, description="latest price, ZAR per coin")
    unrealized_pnl: Money | None = None
    unrealized_pnl_pct: float | None = Field(default=None, description="of notional (fraction)")
    stop_loss_price: Money | None = None
    take_profit_price: Money | None = None
    distance_to_stop_pct: float | None = Field(
        default=None, description="signed fraction of the price; negative: already past it"
    )
    distance_to_target_pct: float | None = None
    time_left_hours: float | None = Field(default=None, description="before the timeout")
    strategic_reasoning: str | None = None
    exit_price: Money | None = None
    realized_pnl: Money | None = None
    fees: Money | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    holding_hours: float | None = None
    error: str | None = None


class ValuationOut(BaseModel):
    cash: Money
    margin: Money = Field(description="margin locked in open positions, ZAR")
    unrealized_pnl: Money
    equity: Money
    gross_exposure: Money = Field(description="sum of |notional| of open positions, ZAR")
    peak_equity: Money
    start_of_day_equity: Money
    initial_capital: Money
    drawdown: float = Field(ge=0, le=1, description="fraction of peak equity")
    daily_pnl: Money
    daily_loss: float = Field(ge=0, le=1, description="fraction of start-of-day equity")
    leverage: float = Field(ge=0, description="gross exposure / equity (multiple)")
    missing_prices: list[str] = Field(description="pairs held without a latest price")


class StateOut(BaseModel):
    mode: str
    halt: HaltOut
    valuation: ValuationOut
    positions: list[PositionOut] = Field(description="open positions (OPENING/OPEN/CLOSING)")
    latest_prices: dict[str, Money] = Field(description="pair -> latest price, ZAR per coin")


class MetricsOut(BaseModel):
    """The seed's weekly checks over [start, end] (``hx.metrics.review``)."""

    start: datetime
    end: datetime
    closed_positions: int
    exits: dict[str, int] = Field(
        description="closed positions per exit status; TAKE_PROFIT_AT_A_LOSS: the target was "
        "touched but the position closed at a loss (below its entry, or not covering its fees; "
        "not counted as TAKE_PROFIT)"
    )
    hit_rates: dict[str, float | None] = Field(description="share of each exit (fraction)")
    win_rate: float | None = Field(description="fraction of closed positions with a profit")
    realized_pnl: Money
    pnl_by_pair: dict[str, Any]
    pnl_by_exit: dict[str, Any]
    slippage_by_exit: dict[str, Any] = Field(
        description="per exit reason, each fill against the level that triggered it: positions, "
        "slippage_zar (in the position's favour; negative: worse than the level), mean_pct and "
        "worst_pct (fractions of the level)"
    )
    average_position_size_zar: Money | None
    average_position_size_by_pair: dict[str, Money]
    risk_limit_violations: dict[str, int] = Field(description="snapshots over each limit")
    risk_limit_violations_total: int
    emergency_stops: int
    automatic_halts: int
    daily_returns: int = Field(description="daily returns behind Sharpe and Sortino")
    sharpe: float | None = Field(description="annualised; None below 2 returns")
    sortino: float | None = Field(description="annualised; None below 2 returns")
    max_drawdown: float | None = Field(description="deepest fall from a peak (fraction)")


class PositionDetailOut(BaseModel):
    position: dict[str, Any] = Field(description="the position row (decimals as strings)")
    decision: dict[str, Any] | None = Field(description="its risk decision: the 7 checks")
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    events: list[dict[str, Any]] = Field(description="its story, oldest first")


# --- writes on positions and controls ---------------------------------------------------
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
    by: Annotated[str, AfterValidator(_someone)] = Field(
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


# --- risk ----------------------------------------------------------------------------------
class RiskLimitsOut(BaseModel):
    version: int | None
    changed_by: str | None
    changed_at: datetime | None
    max_drawdown_pct: float = Field(description=LIMIT_RULES["max_drawdown_pct"].meaning)
    daily_loss_limit_pct: float = Field(description=LIMIT_RULES["daily_loss_limit_pct"].meaning)
    max_portfolio_risk_exposure_pct: float = Field(
        description=LIMIT_RULES["max_portfolio_risk_exposure_pct"].meaning
    )
    max_single_position_pct: float = Field(
        description=LIMIT_RULES["max_single_position_pct"].meaning
    )
    max_sector_exposure_pct: float = Field(
        description=LIMIT_RULES["max_sector_exposure_pct"].meaning
    )
    max_correlation_threshold: float = Field(
        description=LIMIT_RULES["max_correlation_threshold"].meaning
    )
    max_leverage: float = Field(description=LIMIT_RULES["max_leverage"].meaning)
    min_position_size_pct: float = Field(description=LIMIT_RULES["min_position_size_pct"].meaning)


def _limit_field(name: str) -> Any:
    rule = LIMIT_RULES[name]
    bound = {"ge": rule.low} if rule.low_inclusive else {"gt": rule.low}
    return (
        float | None,
        Field(default=None, le=rule.high, description=f"{rule.allowed()}", **bound),
    )


RiskLimitsIn: type[Strict] = create_model(  # type: ignore[call-overload]
    "RiskLimitsIn",
    __base__=Strict,
    __doc__="The limits to change (at least one); the others stay as they are. "
    "Loosening a limit while positions are open is allowed and recorded as a warning event.",
    by=(
        Annotated[str, NoHostileText],
        Field(min_length=1, max_length=100, pattern=r"\S", description="who (required)"),
    ),
    note=(
        Annotated[str, NoHostileText],
        Field(default="", max_length=500, description="why (recorded)"),
    ),
    **{name: _limit_field(name) for name in LIMIT_RULES},
)


class UtilisationOut(BaseModel):
    number: int = Field(description="the check's number, 1-7")
    check: str
    limit_name: str
    value: float | None = Field(description="what the open book uses, in the limit's unit")
    limit: float
    used: float | None = Field(description="value / limit (fraction of the limit)")


class RiskMetricsOut(BaseModel):
    equity: Money
    drawdown: float = Field(description="fraction of peak equity")
    daily_loss: float = Field(description="fraction of start-of-day equity")
    leverage: float = Field(description="gross exposure / equity (multiple)")
    gross_exposure: Money
    margin: Money
    open_positions: int
    halted: bool
    limits: list[UtilisationOut] = Field(description="the 7 limits and what the book uses")
    capacity: dict[str, Any] = Field(
        description="risk budget used and left (ZAR) and minimum-size positions that still fit"
    )


class TradeParamsIn(Strict):
    """The seed's trade_params (fractions: 0.02 = 2%)."""

    position_size_zar: float | None = Field(
        default=None,
        gt=0,
        le=MAX_POSITION_SIZE_ZAR,
        description="margin in ZAR; a signal may leave it to the sizing rule",
    )
    leverage: float | None = Field(
        default=None, ge=1, le=10, description="multiple, 1 to the max_leverage limit (default 1)"
    )
    stop_loss_pct: float | None = Field(
        default=None, gt=0, lt=1, description="fraction below/above entry (default 0.02)"
    )
    take_profit_pct: float | None = Field(
        default=None, gt=0, le=10, description="fraction (default 0.06)"
    )
    trailing_activation_pct: float | None = Field(
        default=None, gt=0, le=10, description="profit fraction that starts the trailing stop"
    )
    trailing_distance_pct: float | None = Field(
        default=None, gt=0, lt=1, description="trailing distance, fraction of the best price"
    )
    max_holding_hours: float | None = Field(
        default=None, gt=0, le=24 * 90, description="hours before the timeout (default 72)"
    )


class RiskCheckIn(Strict):
    pair: Pair
    signal: Side
    trade_params: TradeParamsIn = Field(description="position_size_zar is required here")


class RiskCheckOut(BaseModel):
    passed: bool = Field(
        description="the trade would pass both pre-checks and all 7 checks now (not halted)"
    )
    reason: str
    violated_limits: list[str]
    halted: bool
    pre_checks: list[dict[str, Any]] = Field(
        description="judged before the 7: buying_power (value: margin + fee needed, limit: free "
        "cash, ZAR as exact decimal strings) and price_age (value: seconds since the price was "
        "observed, limit: PRICE_MAX_AGE_SECONDS)"
    )
    checks: list[dict[str, Any]] = Field(description="all 7 checks: value, limit, passed")
    headroom: list[dict[str, Any]] = Field(description="room left under each limit")
    capacity: dict[str, Any]
    trade: dict[str, Any] = Field(description="the trade with the defaults applied")
    levels: dict[str, Any] | None = Field(
        description="notional and ZAR at risk, stop and target prices from the latest price"
    )


# --- signals -------------------------------------------------------------------------------
class SignalIn(Strict):
    """A signal from the upstream tiers, queued for the trading loop."""

    pair: Pair
    side: Side
    confidence: float = Field(ge=0, le=1, description="the ML model's confidence, 0 to 1")
    llm_approved: bool = Field(description="the LLM tier's approval")
    llm_reasoning: Annotated[str, NoHostileText] = Field(
        default="", max_length=5000, description="the LLM tier's why"
    )
    predicted_return: float | None = Field(
        default=None, ge=-1, le=10, description="fraction over the horizon (0.03 = +3%)"
    )
    trade_params: TradeParamsIn | None = Field(
        default=None, description="the trade's parameters; absent: sizing and the defaults"
    )
    created_at: IsoTime | None = Field(default=None, description="default: now")
    expires_at: IsoTime | None = Field(
        default=None, description="default: created_at + SIGNAL_EXPIRY_SECONDS; at most 7 days"
    )
    source: Annotated[str, NoHostileText] = Field(
        default="upstream",
        min_length=1,
        max_length=36,
        pattern=r"\S",
        description="who sent it (stored as 'api:<source>')",
    )
    dedup_key: Annotated[
        str | None,
        Field(max_length=120, description="the upstream id; a resend is refused"),
        NoHostileText,
    ] = None


class SignalOut(BaseModel):
    accepted: bool = Field(description="true: PENDING, the trading loop will take it")
    signal_id: int | None
    status: str = Field(description="PENDING or REJECTED")
    reason: str


# --- optimizer -----------------------------------------------------------------------------
class OptimizerIn(Strict):
    pairs: list[Pair] = Field(min_length=2, max_length=50, description="at least 2 pairs")
    ml_predictions: dict[str, float] = Field(
        default_factory=dict,
        description="pair -> predicted return over the horizon (0.05 = +5%), > -1",
    )
    confidence_scores: dict[str, float] = Field(
        default_factory=dict, description="pair -> confidence in [0, 1] (Idzorek)"
    )
    max_weight: float | None = Field(default=None, gt=0, le=1, description="largest weight")
    risk_free_rate: float | None = Field(default=None, ge=-0.05, le=1, description="annual")
    tau: float | None = Field(default=None, gt=0, le=1, description="Black-Litterman tau")
    risk_aversion: float | None = Field(default=None, gt=0, le=100, description="delta")
    prediction_horizon_days: float | None = Field(
        default=None, gt=0, le=3650, description="days the predictions cover (default 3)"
    )
    lookback_days: int | None = Field(
        default=None, ge=2, le=100_000, description="daily returns for the covariance (365)"
    )


class OptimizerOut(BaseModel):
    weights: dict[str, float] = Field(description="pair -> weight (>= 0, summing to 1)")
    method: str = Field(description="max_sharpe, min_volatility or equal_weights")
    fallback: list[dict[str, str]] = Field(description="fallbacks taken, each kind and reason")
    warnings: list[str]
    expected_return: float | None = Field(description="annual (fraction)")
    volatility: float | None = Field(description="annual (fraction)")
    sharpe: float | None
    prior_weights: dict[str, float] | None = Field(description="market-cap weights")
    posterior_returns: dict[str, float] | None = Field(description="annual (fraction)")
