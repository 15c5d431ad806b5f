"""What every page owes the operator, checked page by page with AppTest on SQLite and PostgreSQL:
on an empty database (nothing traded, no prices, no scheduler) each page explains itself instead
of failing or drawing an empty chart, and every metric carries a tooltip saying what it means."""

from __future__ import annotations

import pytest

import helios
from tests.dashboard_support import open_page
from tests.factories import SEED_REASONING, SEED_TRADE, give_market
from ui.navigation import PAGE_FILES

PAGES = [path for path, _title, _icon in PAGE_FILES]


def texts(at, kind: str) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(element.value) for element in at.get(kind))


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_database_explains_itself_on_every_page(seeded: helios.Helios, page: str):
    at = open_page(page)  # no exception
    sidebar = "\n".join(str(m.value) for m in at.sidebar.markdown)
    assert "Scheduler not running" in sidebar
    for chart in at.get("plotly_chart"):  # a chart drawn must have data in it
        assert '"data":[]' not in chart.proto.spec.replace(" ", "")


def test_the_empty_summary_and_risk_pages_say_what_is_missing(seeded: helios.Helios):
    summary = open_page("app_pages/summary.py")
    info = texts(summary, "info")
    assert "No snapshots yet" in info
    assert "No prices yet for BTCZAR, ETHZAR, SOLZAR" in info
    assert not summary.dataframe  # not a table of dashes

    risk = open_page("app_pages/risk.py")
    captions = texts(risk, "caption")
    assert "? more" not in captions  # an unexplained question mark
    assert (
        "No capacity figure for BTCZAR, ETHZAR, SOLZAR: no current price for BTCZAR; no current "
        "price for ETHZAR; no current price for SOLZAR" in captions
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_metric_says_what_it_means(seeded: helios.Helios, page: str):
    give_market(seeded)
    opened = seeded.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    seeded.positions.open_position("ETHZAR", "SELL", SEED_TRADE, SEED_REASONING)
    seeded.positions.close_position(opened["position_id"], "CLOSED", actor="tester")
    seeded.ledger.take_snapshot()
    seeded.ledger.take_snapshot()

    at = open_page(page)

    missing = [m.label for m in at.metric if not (m.help or "").strip()]
    assert missing == [], f"metrics without a tooltip on {page}: {missing}"
    for field in at.number_input:  # the limits form (Risk): what each limit is for
        if str(field.key).startswith("limit_"):
            assert "Allowed:" in field.help and len(field.help) > 80, (field.label, field.help)
