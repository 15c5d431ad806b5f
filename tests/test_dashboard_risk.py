"""The Risk page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

import helios
from tests.dashboard_support import open_page, table_with
from tests.factories import SEED_REASONING, SEED_TRADE, give_market

PAGE = "app_pages/risk.py"


def test_utilisation_of_the_seed_trade_by_hand(seeded: helios.Helios):
    give_market(seeded)
    seeded.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    rows = {r["check"]: r for r in seeded.risk.utilisation()}
    assert [r["number"] for r in rows.values()] == [1, 2, 3, 4, 5, 6, 7]
    equity = float(seeded.ledger.valuation().equity)
    notional = float(seeded.positions.get_open_positions()[0]["notional"])
    assert rows["single_position"]["value"] == pytest.approx(notional / equity, rel=1e-3)
    assert rows["leverage"]["value"] == pytest.approx(notional / equity, rel=1e-3)
    assert rows["single_position"]["used"] == pytest.approx(notional / equity / 0.20, rel=1e-3)
    assert rows["correlation"]["value"] is None  # judged per trade
    capacity = seeded.risk.capacity()
    assert rows["risk_capacity"]["value"] == pytest.approx(capacity["risk_used_zar"] / equity)


def test_the_page_shows_the_limits_budget_and_decisions(seeded: helios.Helios):
    give_market(seeded)
    seeded.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    seeded.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 90000, "leverage": 3})
    at = open_page(PAGE)
    labels = [m.label for m in at.metric]
    assert "Budget" in labels and "6. correlation" in labels
    capacity = table_with(at, "More that fit")  # what the rules accept, and what stops it
    assert list(capacity.columns) == ["Pair", "More that fit", "The next one is refused by"]
    assert set(capacity["Pair"]) == set(seeded.settings.pairs)
    decisions = table_with(at, "Decision")
    assert list(decisions.columns) == [
        "Decision",
        "When",
        "Pair",
        "Side",
        "Verdict",
        "Limits failed",
        "Why",
    ]
    assert list(decisions["Verdict"]) == ["REFUSED", "passed"]  # newest first
    assert "max_single_position_pct" in decisions["Limits failed"].iloc[0]
    zone = seeded.settings.trading_day_timezone
    assert (
        decisions["When"]
        .iloc[0]
        .endswith(seeded.clock.now().astimezone(ZoneInfo(zone)).strftime("%Z"))
    )


def test_loosening_a_limit_needs_a_confirmation_and_records_who(seeded: helios.Helios):
    at = open_page(PAGE)
    at.number_input(key="limit_max_leverage").set_value(5.0)
    at.text_input(key="limits_who").input("thandi")
    at.text_input(key="limits_note").input("more room for hedges")
    at.button[0].click().run()  # the form's "Review the change"
    assert not at.exception
    assert any("LOOSENS Max leverage (max_leverage)" in w.value for w in at.warning)
    assert seeded.risk.get_limits().max_leverage == 3.0  # not yet
    at.button(key="limits_confirm").click().run()
    limits = seeded.risk.get_limits()
    assert (limits.max_leverage, limits.changed_by) == (5.0, "thandi")


def test_an_out_of_range_limit_is_refused_naming_it(seeded: helios.Helios):
    at = open_page(PAGE)
    at.number_input(key="limit_max_drawdown_pct").set_value(500.0)  # percent: 500%
    at.text_input(key="limits_who").input("thandi")
    at.button[0].click().run()
    assert any("max_drawdown_pct=" in e.value and "<= 100" in e.value for e in at.error)
    assert seeded.risk.get_limits().max_drawdown_pct == 0.15
