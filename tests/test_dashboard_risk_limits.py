"""The Risk page's limits form (issue 18), rendered headless with Streamlit's AppTest on SQLite
and PostgreSQL: human labels with the key in the help, percent inputs for the ``_pct`` limits
saved as the exact fraction, a confirmation that stays until the next action, and every time in
the trading-day zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import helios
from helios.limit_rules import LIMIT_RULES
from tests.dashboard_support import open_page, table_with

PAGE = "app_pages/risk.py"


def field(at, name: str):  # type: ignore[no-untyped-def]
    return at.number_input(key=f"limit_{name}")


def review(at, who: str = "thandi"):  # type: ignore[no-untyped-def]
    at.text_input(key="limits_who").input(who)
    at.button[0].click().run()  # the form's "Review the change"
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_form_shows_labels_with_the_key_as_help_and_percent(seeded: helios.Helios):
    at = open_page(PAGE)
    for name, rule in LIMIT_RULES.items():
        widget = field(at, name)
        assert widget.label.startswith(rule.label), (name, widget.label)
        assert name not in widget.label  # the raw key only in the help
        assert f"`{name}`" in widget.help
    exposure = field(at, "max_portfolio_risk_exposure_pct")
    assert exposure.label == "Max portfolio risk exposure (%)"
    assert exposure.value == 15.0 and exposure.format == "%.2f"  # 15.00 %, not 0.1500
    assert field(at, "max_drawdown_pct").value == 15.0
    assert field(at, "min_position_size_pct").value == 5.0
    assert field(at, "max_leverage").label == "Max leverage (x)"
    assert field(at, "max_leverage").value == 3.0
    assert field(at, "max_correlation_threshold").value == 0.9  # a correlation, not a percent


def test_a_percent_typed_is_saved_as_the_exact_fraction_and_confirmed(seeded: helios.Helios):
    at = open_page(PAGE)
    field(at, "max_portfolio_risk_exposure_pct").set_value(12.5)
    field(at, "max_drawdown_pct").set_value(7.0)
    at.text_input(key="limits_note").input("tighter before the news")
    review(at)
    proposal = " ".join(m.value for m in at.markdown)
    assert "Max portfolio risk exposure 15.00% → 12.50%" in proposal
    assert not at.warning  # both tighten: no loosening warning
    assert seeded.risk.get_limits().max_drawdown_pct == 0.15  # not yet
    at.button(key="limits_confirm").click().run()
    assert not at.exception
    limits = seeded.risk.get_limits()
    assert limits.max_portfolio_risk_exposure_pct == 0.125
    assert limits.max_drawdown_pct == 0.07  # exactly, through Decimal
    assert limits.changed_by == "thandi"
    # the Why and the name are not kept for the next change (issue 18: fields keeping their text)
    assert at.text_input(key="limits_note").value == ""
    # the confirmation, lasting (a message, not a toast), naming the version and the change
    [done] = [s.value for s in at.success]
    assert f"version {limits.version}" in done and "by thandi" in done
    assert "Max drawdown from peak 15.00% → 7.00%" in done
    assert not at.toast
    zone = seeded.settings.trading_day_timezone
    assert ZoneInfo(zone).key == "Africa/Johannesburg" and "SAST" in done
    # still there after other runs (the gauges refreshing, a rerun) ...
    at.run()
    assert [s.value for s in at.success] == [done]
    assert field(at, "max_portfolio_risk_exposure_pct").value == 12.5
    # ... until the next action
    review(at)
    assert [s.value for s in at.success] == []
    assert any("Nothing changed" in i.value for i in at.info)


def test_loosening_in_percent_names_the_label_and_needs_the_second_click(seeded: helios.Helios):
    at = open_page(PAGE)
    field(at, "max_single_position_pct").set_value(25.0)
    review(at, "sipho")
    [warning] = [w.value for w in at.warning]
    assert "LOOSENS Max single position (max_single_position_pct)" in warning
    assert seeded.risk.get_limits().max_single_position_pct == 0.2
    at.button(key="limits_confirm").click().run()
    assert seeded.risk.get_limits().max_single_position_pct == 0.25


def test_out_of_range_names_key_value_and_percent_range_and_changes_nothing(
    seeded: helios.Helios,
):
    before = seeded.risk.limit_history()
    at = open_page(PAGE)
    field(at, "max_portfolio_risk_exposure_pct").set_value(150.0)
    review(at)
    [error] = [e.value for e in at.error]
    assert "max_portfolio_risk_exposure_pct='150.0'" in error
    assert "a percentage > 0 and <= 100" in error
    assert "limits_confirm" not in [b.key for b in at.button]
    assert seeded.risk.limit_history() == before


def test_the_history_shows_versions_in_the_trading_day_zone(seeded: helios.Helios):
    seeded.risk.update_limits({"max_leverage": 2.0}, changed_by="lerato")
    at = open_page(PAGE)
    history = table_with(at, "Set by")
    assert list(history["Version"]) == [2, 1]
    assert list(history["Set by"]) == ["lerato", "configuration"]
    zone = ZoneInfo(seeded.settings.trading_day_timezone)
    changed = seeded.risk.get_limits().changed_at
    assert history["When"].iloc[0] == changed.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S SAST")
    assert list(history["Max leverage"]) == ["2.00x", "3.00x"]
    assert list(history["Max portfolio risk exposure"]) == ["15.00%", "15.00%"]
    caption = " ".join(c.value for c in at.caption)
    assert "set by lerato at" in caption and "SAST" in caption
