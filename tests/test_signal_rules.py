"""The signals' pure rules, table-driven, without a database: what a signal may hold
(``parse_signal``), why a well-formed one is refused on arrival (``intake.refusal``) and how a
malformed payload is kept for the audit (``intake.jsonable``)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helios.config import Settings
from helios.errors import InvalidInput
from helios.signals import MAX_FUTURE_SKEW, MAX_LIFETIME, MAX_TEXT, parse_signal
from helios.signals.intake import jsonable, refusal

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SETTINGS = Settings(pairs=["BTCZAR", "ETHZAR"])
GOOD: dict[str, Any] = {"pair": "btczar", "side": "BUY", "confidence": 0.8, "llm_approved": True}


class Pairs:
    """The market's pair check, without a market."""

    def check_pair(self, pair: Any) -> str:
        if not isinstance(pair, str) or pair.upper() not in SETTINGS.pairs:
            raise InvalidInput("pair", pair, "a configured pair")
        return pair.upper()


def parse(**changes: Any) -> Any:
    return parse_signal({**GOOD, **changes}, SETTINGS, Pairs(), NOW, 3.0)


def test_a_good_signal_gets_its_defaults() -> None:
    parsed = parse()
    assert (parsed.pair, parsed.side, parsed.confidence) == ("BTCZAR", "BUY", 0.8)
    assert parsed.created_at == NOW
    assert parsed.expires_at == NOW + timedelta(seconds=SETTINGS.signal_expiry_seconds)
    assert parsed.source == "python" and parsed.trade_params is None
    assert parsed.dedup_key.startswith("python:BTCZAR:BUY:")
    assert parse().dedup_key == parsed.dedup_key  # a resend has the same key
    assert parse(confidence=0.7).dedup_key != parsed.dedup_key


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pair": "DOGEZAR"}, "pair"),
        ({"side": "HOLD"}, "side"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"confidence": math.nan}, "confidence"),
        ({"confidence": "10" * 400}, "confidence"),
        ({"llm_approved": "yes"}, "llm_approved"),
        ({"llm_reasoning": "x" * (MAX_TEXT + 1)}, "llm_reasoning"),
        ({"llm_reasoning": "bad\x00text"}, "llm_reasoning"),
        ({"predicted_return": -2}, "predicted_return"),
        ({"trade_params": [1]}, "trade_params"),
        ({"trade_params": {"leverage": 5}}, "trade_params.leverage"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": datetime(2026, 11, 26, 8, 0)}, "created_at"),  # naive
        ({"created_at": NOW + MAX_FUTURE_SKEW + timedelta(seconds=1)}, "created_at"),
        ({"expires_at": NOW}, "expires_at"),
        ({"expires_at": NOW + MAX_LIFETIME + timedelta(seconds=1)}, "expires_at"),
        ({"source": "  "}, "source"),
        ({"dedup_key": "k" * 121}, "dedup_key"),
        ({"colour": "red"}, "signal"),
    ],
)
def test_a_malformed_signal_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(**changes)
    assert caught.value.field == field


def test_a_signal_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_signal(["BTCZAR", "BUY"], SETTINGS, Pairs(), NOW, 3.0)
    assert caught.value.field == "signal"


def test_trade_params_may_leave_the_size_to_sizing() -> None:
    parsed = parse(trade_params={"stop_loss_pct": 0.03, "position_size_zar": None})
    assert parsed.trade_params == {"stop_loss_pct": 0.03}
    assert parse(created_at="2026-11-26T07:00:00Z").created_at == NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("approved", "reasoning", "expires", "expected"),
    [
        (True, "", NOW + timedelta(minutes=5), ""),
        (False, "", NOW + timedelta(minutes=5), "not approved by the LLM tier"),
        (False, "too risky", NOW, "not approved by the LLM tier: too risky"),
        (True, "", NOW, f"expired at {NOW.isoformat()}, before it arrived"),
    ],
)
def test_refusal(approved: bool, reasoning: str, expires: datetime, expected: str) -> None:
    parsed = replace(parse(), llm_approved=approved, llm_reasoning=reasoning, expires_at=expires)
    assert refusal(parsed, NOW) == expected


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (None, None),
        (True, True),
        (5, 5),
        ("x" * (MAX_TEXT + 10), "x" * MAX_TEXT),
        (1.5, 1.5),
        (math.inf, "inf"),
        ({1: [NOW]}, {"1": [NOW.isoformat()]}),
        ((1, 2), [1, 2]),
        (list(range(50)), list(range(40))),
        (
            {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}},
            {"a": {"b": {"c": {"d": {"e": "{'f': 1}"}}}}},
        ),
        (object, repr(object)),
    ],
)
def test_jsonable(sent: Any, kept: Any) -> None:
    assert jsonable(sent) == kept
