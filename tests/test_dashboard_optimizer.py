"""The Optimizer page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL.

As in ``test_dashboard.py`` the app connects itself from ``DATABASE_URL``; the tests store daily
candles per pair (``factories.daily_history``, a seeded walk ending yesterday) so the optimizer
has a history to fit, then read what the page shows.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

import helios
from tests.dashboard_support import metric, open_page
from tests.factories import PRICES, daily_history

PAGE = "app_pages/optimizer.py"
CONVENTION = (
    "A prediction r over h days becomes the annual view r x 365 / h; with 365 days it is used "
    "as given."
)


def give_history(hx: helios.Helios, days: int) -> None:
    yesterday = hx.clock.now() - timedelta(days=1)
    for pair in hx.settings.pairs:
        frame = daily_history(pair, float(PRICES[pair]), days, yesterday)
        hx.market.ingest(pair, frame, "1d", source="test")


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rows(at: AppTest) -> dict[str, dict[str, str]]:
    assert len(at.dataframe) == 2  # per pair, then the trades to the target
    return {row["Pair"]: row for row in at.dataframe[0].value.to_dict("records")}


def trades(at: AppTest) -> dict[str, dict[str, str]]:
    return {row["Pair"]: row for row in at.dataframe[1].value.to_dict("records")}


def chart_traces(at: AppTest) -> dict[str, dict]:
    traces = {}
    for chart in at.get("plotly_chart"):
        for trace in json.loads(chart.proto.spec)["data"]:
            traces[trace["name"]] = trace
    return traces


def test_the_page_shows_the_seed_example_weights_frontier_and_metrics(
    seeded: helios.Helios,
) -> None:
    give_history(seeded, 120)

    at = open_page(PAGE)

    # the frame is drawn here too: the mode is on every page
    assert str(at.main.info[0].value) == "**PAPER TRADING**"
    captions = [str(c.value) for c in at.caption]
    assert any("Sizing method in force: **kelly_vol**" in c for c in captions), captions
    assert CONVENTION in [str(m.value) for m in at.markdown]
    assert at.slider(key="confidence_BTCZAR").value == pytest.approx(0.85)
    assert at.slider(key="prediction_SOLZAR").value == pytest.approx(8.0)
    assert at.number_input(key="horizon_days").value == pytest.approx(3.0)
    assert any("BTCZAR 5.00% -> 608.33%" in str(c.value) for c in at.caption)

    traces = chart_traces(at)
    assert {"Prior", "Posterior", "Weight", "Efficient frontier", "Chosen portfolio"} <= set(traces)
    assert len(at.get("plotly_chart")) == 3

    expected = seeded.optimizer.explain(
        list(seeded.settings.pairs),
        {"BTCZAR": 0.05, "ETHZAR": 0.03, "SOLZAR": 0.08},
        {"BTCZAR": 0.85, "ETHZAR": 0.75, "SOLZAR": 0.90},
    )
    assert metric(at, "Expected return (annualised)") == f"{expected['expected_return']:.2%}"
    assert metric(at, "Volatility") == f"{expected['volatility']:.2%}"
    assert metric(at, "Sharpe (annualised)") == f"{expected['sharpe']:.2f}"
    # the large defaults are said to be the views' annualised figures, in the help and a caption
    [ret] = [m for m in at.metric if m.label == "Expected return (annualised)"]
    assert "Annualised from the views" in ret.proto.help
    assert any("the views' annualised figures" in str(c.value) for c in at.caption)
    shown = rows(at)
    for pair, weight in expected["weights"].items():
        assert shown[pair]["Weight"] == f"{weight:.2%}"
        assert shown[pair]["Posterior"] == f"{expected['posterior_returns'][pair]:.2%}"
    assert not at.warning
    assert any("No fallback" in str(s.value) for s in at.success)


def test_a_lower_confidence_moves_the_posterior_back_toward_the_prior(
    seeded: helios.Helios,
) -> None:
    give_history(seeded, 120)
    at = open_page(PAGE)
    before = rows(at)["SOLZAR"]
    before_return = metric(at, "Expected return (annualised)")

    at.slider(key="confidence_SOLZAR").set_value(0.1)
    after_at = rerun(at)
    after = rows(after_at)["SOLZAR"]

    assert after["Confidence"] == "0.10"
    assert after["Prior"] == before["Prior"]
    assert after["Posterior"] != before["Posterior"]
    as_number = lambda text: float(text.rstrip("%").replace(",", ""))  # noqa: E731
    assert abs(as_number(after["Posterior"]) - as_number(after["Prior"])) < abs(
        as_number(before["Posterior"]) - as_number(before["Prior"])
    )
    assert metric(after_at, "Expected return (annualised)") != before_return


def test_too_little_history_shows_the_equal_weights_fallback(seeded: helios.Helios) -> None:
    give_history(seeded, 10)

    at = open_page(PAGE)

    warnings = [str(w.value) for w in at.warning]
    assert len(warnings) == 2, warnings
    assert "not enough history" in warnings[0] and "equal weights" in warnings[0]
    # the trades to the target say they follow the fallback, not the views
    assert "come from a fallback" in warnings[1]
    assert metric(at, "Method") == "equal weights"
    assert metric(at, "Expected return (annualised)") == "-"
    assert CONVENTION in [str(m.value) for m in at.markdown]
    weights = chart_traces(at)["Weight"]
    assert weights["text"] == ["33.33%"] * 3
    assert {row["Weight"] for row in rows(at).values()} == {"33.33%"}


def test_an_invalid_input_shows_the_libraries_message(seeded: helios.Helios) -> None:
    give_history(seeded, 120)
    at = open_page(PAGE)

    at.number_input(key="horizon_days").set_value(0.0)
    at = rerun(at)

    errors = [str(e.value) for e in at.error]
    assert any("prediction_horizon_days=0.0 is not allowed" in text for text in errors), errors
    assert not at.get("plotly_chart")


def test_the_trades_to_the_target_split_the_sector_sleeve(seeded: helios.Helios):
    """Empty book, R100,000: the sleeve is 60% = R60,000; each pair's target is its weight of
    it, at most the 20% single-position limit (R20,000), all to BUY."""
    hx = seeded
    give_history(hx, 400)
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    at = open_page(PAGE)
    shown = trades(at)
    weights = {pair: float(row["Weight"].rstrip("%")) / 100 for pair, row in shown.items()}
    for pair, row in shown.items():
        target = min(weights[pair] * 60000, 20000)
        assert row["Trade"] in ("BUY", "HOLD")
        assert abs(float(row["Target"].lstrip("R").replace(",", "")) - target) < 60  # % rounding
        assert row["Held"] == "R0.00"
