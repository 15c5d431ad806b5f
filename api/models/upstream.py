"""The upstream tiers' models: a signal for the trading loop and its receipt, and an optimizer
run (the ranges are those ``helios.signals`` and ``hx.optimizer`` enforce)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    Field,
)

from api.models.common import IsoTime, NoHostileText, Pair, Side, Strict
from api.models.risk import TradeParamsIn


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
