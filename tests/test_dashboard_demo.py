"""DEMO positions are labelled on the Positions page (AppTest, SQLite and PostgreSQL): the open
and closed lists carry a Demo column saying DEMO for a position opened from a demo signal and
nothing for any other; the time left reads in hours and minutes."""

from __future__ import annotations

import re

import helios
from helios.demo_levels import REASONING
from tests.dashboard_support import open_page
from tests.factories import SEED_REASONING, SEED_TRADE, give_market

PAGE = "app_pages/positions.py"


def test_demo_positions_say_DEMO_in_the_open_and_closed_lists(seeded: helios.Helios):
    give_market(seeded)
    demo = seeded.positions.open_position("BTCZAR", "BUY", SEED_TRADE, REASONING)
    manual = seeded.positions.open_position("ETHZAR", "BUY", SEED_TRADE, SEED_REASONING)
    old_demo = seeded.positions.open_position("SOLZAR", "BUY", SEED_TRADE, REASONING)
    assert demo["success"] and manual["success"] and old_demo["success"]
    assert seeded.positions.close_position(old_demo["position_id"], "CLOSED", actor="t")["success"]

    at = open_page(PAGE)
    open_table = next(df.value for df in at.dataframe if "Time left" in df.value.columns)
    tags = dict(zip(open_table["ID"], open_table["Demo"], strict=True))
    assert tags == {demo["position_id"]: "DEMO", manual["position_id"]: ""}
    # SEED_TRADE's 72 h, just opened: hours and minutes, never "72.0 h" or "0.0 h"
    assert all(re.fullmatch(r"\d+ h( \d+ min)?|\d+ min", t) for t in open_table["Time left"])
    closed = next(df.value for df in at.dataframe if "Exit reason" in df.value.columns)
    assert dict(zip(closed["ID"], closed["Demo"], strict=True)) == {old_demo["position_id"]: "DEMO"}
