"""The Positions page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL."""

from __future__ import annotations

import helios
from tests.dashboard_support import click, open_page
from tests.factories import PRICES, SEED_REASONING, SEED_TRADE, give_market

PAGE = "pages/positions.py"


def test_no_positions_explains_itself(seeded: helios.Helios):
    at = open_page(PAGE)
    assert any("No open positions" in i.value for i in at.info)
    assert any("No closed position matches" in i.value for i in at.info)


def test_open_positions_show_pnl_and_a_close_needs_a_name_and_a_confirmation(
    seeded: helios.Helios,
):
    hx = seeded
    give_market(hx)
    opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    hx.market.set_price("BTCZAR", str(int(PRICES["BTCZAR"]) + 12000))  # +1%
    at = open_page(PAGE)
    [row] = at.dataframe[0].value.to_dict("records")
    assert (row["ID"], row["Pair"], row["Side"], row["Status"]) == (
        opened["position_id"],
        "BTCZAR",
        "BUY",
        "OPEN",
    )
    assert row["Unrealized P&L"].startswith("R") and row["To stop"].endswith("%")

    click(at, "close_arm")
    assert any("Enter your name" in e.value for e in at.error)
    at.text_input(key="close_who").input("thandi").run()
    click(at, "close_arm")
    assert hx.positions.get_open_positions()[0]["status"] == "OPEN"  # armed only
    click(at, "close_confirm")
    assert any(f"Position {opened['position_id']} closed" in s.value for s in at.success)
    [closed] = hx.positions.closed_positions().to_dict("records")
    assert closed["status"] == "CLOSED"
    story = hx.positions.position_history(opened["position_id"])
    assert any("thandi" in e["message"] for e in story["events"])


def test_a_positions_story_shows_its_decision_and_events(seeded: helios.Helios):
    hx = seeded
    give_market(hx)
    opened = hx.positions.open_position("ETHZAR", "SELL", SEED_TRADE, SEED_REASONING)
    at = open_page(PAGE)
    at.number_input(key="story_id").set_value(opened["position_id"]).run()
    assert not at.exception
    assert any("SELL ETHZAR" in m.value for m in at.markdown)
    checks = at.dataframe[-3].value
    assert len(checks) == 7  # all 7 checks of the decision
    at.number_input(key="story_id").set_value(999).run()
    assert any("position_id=999" in e.value for e in at.error)


def test_closed_positions_page_through_a_long_history(seeded: helios.Helios):
    from decimal import Decimal

    from sqlalchemy import update

    from helios.db.models import Position
    from tests.factories import booked_position

    hx = seeded
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    ids = [booked_position(hx, "BTCZAR", "BUY", "903", "1") for _ in range(105)]
    with hx.db.write() as session:
        session.execute(
            update(Position)
            .where(Position.id.in_(ids))
            .values(status="TIMEOUT", realized_pnl=Decimal("-1"), closed_at=hx.clock.now())
        )
    at = open_page(PAGE)
    table = next(df.value for df in at.dataframe if "Held (h)" in df.value.columns)
    assert len(table) == 100 and table["ID"].iloc[0] == max(ids)
    at.number_input(key="closed_page").set_value(2).run()
    table = next(df.value for df in at.dataframe if "Held (h)" in df.value.columns)
    assert sorted(table["ID"]) == sorted(ids)[:5]
