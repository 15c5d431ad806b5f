"""What a signal may hold: the one validator every intake path goes through (``parse_signal``).

A signal is the upstream tiers' proposal, so nothing in it is trusted: each field is checked for
its type and range and a malformed one is refused naming the field, the value and what is
allowed (``InvalidInput``); unknown keys are refused so a typo is never ignored; a signal
stamped in the future (beyond ``MAX_FUTURE_SKEW``) or living longer than ``MAX_LIFETIME`` is
refused (a signal is a view on the market now, not a standing order). Without a ``dedup_key``
the same content from the same source at the same time gets the same key, so a resend is seen
as a duplicate. Pure: no database, no clock (``now`` is passed in); the pair is checked by the
``PairChecker`` passed in (``hx.market``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from helios.clock import ensure_utc
from helios.config import Settings
from helios.errors import InvalidInput
from helios.text import hostile_character
from helios.trade import KNOWN_PARAMS, TradeParams, parse_side

SIGNAL_FIELDS = (
    "pair",
    "side",
    "confidence",
    "llm_approved",
    "llm_reasoning",
    "predicted_return",
    "trade_params",
    "created_at",
    "expires_at",
    "source",
    "dedup_key",
)
MAX_LIFETIME = timedelta(days=7)  # a signal is a view on the market now, not a standing order
MAX_FUTURE_SKEW = timedelta(seconds=60)  # a signal stamped later than this ahead is refused
MAX_TEXT = 5000


class PairChecker(Protocol):
    """What the validator needs of the market: the pair, checked against the traded pairs."""

    def check_pair(self, pair: Any) -> str: ...


class SignalRejected(InvalidInput):
    """A malformed signal: stored as REJECTED (``signal_id``), nothing else changed."""

    def __init__(self, error: InvalidInput, signal_id: int | None) -> None:
        super().__init__(error.field, error.value, error.allowed)
        self.signal_id = signal_id


@dataclass(frozen=True)
class SignalInput:
    """A validated signal, ready to store."""

    pair: str
    side: str
    confidence: float
    llm_approved: bool
    llm_reasoning: str
    predicted_return: float | None
    trade_params: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime
    source: str
    dedup_key: str


def _finite(raw: Mapping[str, Any], key: str, low: float, high: float, allowed: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidInput(key, value, allowed)
    try:
        number = float(value)
    except (ValueError, OverflowError):  # 10**400 does not fit a float
        raise InvalidInput(key, value, allowed) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(key, value, allowed)
    return number


def _text(raw: Mapping[str, Any], key: str, default: str, limit: int, required: bool) -> str:
    value = raw.get(key, default)
    if value is None:
        value = default
    allowed = (
        f"a text of {'1' if required else '0'} to {limit} characters, without control "
        "characters, unpaired surrogates or bidi overrides"
    )
    if (
        not isinstance(value, str)
        or len(value) > limit
        or (required and not value.strip())
        or hostile_character(value) is not None  # helios.text: refused, not altered
    ):
        raise InvalidInput(key, value, allowed)
    return value.strip() if required else value


def _time(raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    allowed = "a time with its zone (ISO 8601, e.g. 2026-11-26T08:00:00Z)"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(key, raw.get(key), allowed) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(key, raw.get(key), allowed)
    return ensure_utc(value)


def _approval(raw: Mapping[str, Any]) -> bool:
    value = raw.get("llm_approved")
    if not isinstance(value, bool):
        raise InvalidInput("llm_approved", value, "true or false (the LLM tier's approval)")
    return value


def parse_signal(
    raw: Any, settings: Settings, market: PairChecker, now: datetime, max_leverage: float
) -> SignalInput:
    """Validate a signal (a mapping of ``SIGNAL_FIELDS``); raises InvalidInput naming the field,
    the value and what is allowed. Unknown keys are refused so a typo is never ignored."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("signal", raw, "a mapping of " + ", ".join(SIGNAL_FIELDS))
    unknown = sorted(str(key) for key in raw if key not in SIGNAL_FIELDS)
    if unknown:
        raise InvalidInput("signal", unknown, "keys among " + ", ".join(SIGNAL_FIELDS))
    pair = market.check_pair(raw.get("pair"))
    side = parse_side(raw.get("side"), "side")
    confidence = _finite(raw, "confidence", 0.0, 1.0, "a number from 0 to 1 (the ML confidence)")
    approved = _approval(raw)
    reasoning = _text(raw, "llm_reasoning", "", MAX_TEXT, required=False)
    predicted = (
        None
        if raw.get("predicted_return") is None
        else _finite(
            raw,
            "predicted_return",
            -1.0,
            10.0,
            "a fraction from -1 to 10 (0.03 means +3% expected)",
        )
    )
    params = raw.get("trade_params")
    if params is not None:
        if not isinstance(params, Mapping):
            raise InvalidInput("trade_params", params, "a mapping of " + ", ".join(KNOWN_PARAMS))
        params = dict(params)
        # the ranges of every key; the size may be left to the sizing rule
        probe = dict(params)
        if probe.get("position_size_zar") is None:
            probe["position_size_zar"] = 1
        TradeParams.parse(probe, settings, max_leverage, side)
        params = {key: float(value) for key, value in params.items() if value is not None}
    created = _time(raw, "created_at") or now
    if created > now + MAX_FUTURE_SKEW:
        raise InvalidInput(
            "created_at",
            raw.get("created_at"),
            f"not later than {MAX_FUTURE_SKEW.seconds} s after now ({now.isoformat()})",
        )
    expires = _time(raw, "expires_at") or created + timedelta(
        seconds=settings.signal_expiry_seconds
    )
    if expires <= created or expires > created + MAX_LIFETIME:
        raise InvalidInput(
            "expires_at",
            raw.get("expires_at"),
            f"later than created_at and at most {MAX_LIFETIME.days} days after it",
        )
    source = _text(raw, "source", "python", 40, required=True)
    dedup = _text(raw, "dedup_key", "", 120, required=False).strip()
    if not dedup:  # the same content from the same source at the same time is a resend
        content = json.dumps([confidence, predicted, params, approved], sort_keys=True)
        digest = hashlib.sha256(content.encode()).hexdigest()[:12]
        dedup = f"{source[:30]}:{pair}:{side}:{created.isoformat()}:{digest}"[:120]
    return SignalInput(
        pair=pair,
        side=side,
        confidence=confidence,
        llm_approved=approved,
        llm_reasoning=reasoning,
        predicted_return=predicted,
        trade_params=params,
        created_at=created,
        expires_at=expires,
        source=source,
        dedup_key=dedup,
    )
