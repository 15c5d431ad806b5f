"""The closed trades list, the deep link to a position's story and the event log, rendered
headless with Streamlit's AppTest on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

import helios
from helios.event_log import EventFilter
from helios.events import record_event
from helios.money import fmt_zar
from tests.dashboard_support import APP, open_page, table_with
from tests.test_trade_queries import closed

POSITIONS = "app_pages/positions.py"
CONTROLS = "app_pages/controls.py"


def trades_table(at: AppTest) -> Any:
    return table_with(at, "Exit reason")


def book_of_trades(hx: helios.Helios) -> dict[str, int]:
    """Three closed trades in the last days (a stop-out with slippage, a target, a manual close)
    and one 40 days ago."""
    now = hx.clock.now()
    return {
        "stop": closed(
            hx, "BTCZAR", "STOPPED_OUT", now - timedelta(days=1), "-16.965", "99", "98.9"
        ),
        "target": closed(hx, "ETHZAR", "TAKE_PROFIT", now - timedelta(days=2), "23.1", "103"),
        "manual": closed(hx, "SOLZAR", "CLOSED", now - timedelta(days=3), "-16.965", None),
        "old": closed(hx, "BTCZAR", "CLOSED", now - timedelta(days=40), "-5", None),
    }


def test_the_closed_list_reads_as_a_trader_reads_it_and_filters(seeded: helios.Helios) -> None:
    ids = book_of_trades(seeded)
    at = open_page(POSITIONS)
    table = trades_table(at)
    assert list(table["ID"]) == [ids["stop"], ids["target"], ids["manual"]]  # last 30 days
    stop = table.iloc[0]
    assert stop["Pair"] == "BTCZAR" and stop["Exit reason"] == "Stop loss"
    assert stop["Net P&L"] == zar_text("-16.965")
    assert stop["Net %"] == "-1.70%"
    assert stop["Duration"] == "2 h 0 min"
    assert stop["Slippage"] == zar_text("1") and stop["Slippage %"] == "0.10%"
    assert stop["Fees"] == zar_text("6.965")
    assert stop["Entry time"].endswith("SAST") and stop["Exit time"].endswith("SAST")
    assert stop["Story"] == f"/positions?position={ids['stop']}"
    manual = table.iloc[2]
    assert manual["Exit reason"] == "Manual close" and manual["Slippage"] == ""
    assert any("Trades 1-3 of 3" in c.value for c in at.caption)

    at.selectbox(key="closed_pair").set_value("ETHZAR").run()
    assert list(trades_table(at)["ID"]) == [ids["target"]]
    at.selectbox(key="closed_pair").set_value("All pairs").run()
    at.multiselect(key="closed_reasons").set_value(["Manual close"]).run()
    assert list(trades_table(at)["ID"]) == [ids["manual"]]
    at.date_input(key="closed_from").set_value(seeded.clock.now().date() - timedelta(days=60)).run()
    assert list(trades_table(at)["ID"]) == [ids["manual"], ids["old"]]
    at.date_input(key="closed_to").set_value(seeded.clock.now().date() - timedelta(days=70)).run()
    assert any("To=" in e.value and "on or after From" in e.value for e in at.error)


def zar_text(value: str) -> str:
    return fmt_zar(Decimal(value))


def test_the_csv_holds_every_filtered_trade_with_exact_strings(
    seeded: helios.Helios, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download's data is made on click (a callable Streamlit registers): the test takes the
    callable the page registered and calls it, as Streamlit's server does on a click."""
    ids = book_of_trades(seeded)
    registered: list[Callable[[], Any]] = []
    real = MediaFileManager.add_deferred

    def spy(self: MediaFileManager, data_callable: Callable[[], Any], *a: Any, **k: Any) -> str:
        registered.append(data_callable)
        return real(self, data_callable, *a, **k)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    at = open_page(POSITIONS)
    at.multiselect(key="closed_reasons").set_value(["Stop loss", "Take profit"]).run()
    at.selectbox(key="closed_page_size").set_value(25).run()
    rows = list(csv.DictReader(io.StringIO(registered[-1]())))
    assert [int(r["position_id"]) for r in rows] == [ids["stop"], ids["target"]]
    stop = rows[0]
    assert (stop["net_pnl_zar"], stop["fees_zar"], stop["exit_price"]) == (
        "-16.965",
        "6.965",
        "98.9",
    )
    assert (stop["slippage_zar"], stop["trigger_price"], stop["exit_reason"]) == (
        "1",
        "99",
        "Stop loss",
    )


def app_with_link(value: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page(POSITIONS)
    at.query_params["position"] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_deep_link_opens_the_positions_story_first(seeded: helios.Helios) -> None:
    ids = book_of_trades(seeded)
    at = app_with_link(str(ids["target"]))
    assert at.number_input(key="story_id").value == ids["target"]
    headers = [h.value for h in at.subheader]
    assert headers.index("A position's story") < headers.index("Open positions")  # first
    assert any("BUY ETHZAR" in m.value and "TAKE_PROFIT" in m.value for m in at.markdown)
    # another id typed into the story's box: the address follows, the story stays first
    at.number_input(key="story_id").set_value(ids["stop"]).run()
    assert at.query_params["position"] == str(ids["stop"])
    assert any("BUY BTCZAR" in m.value for m in at.markdown)
    headers = [h.value for h in at.subheader]
    assert headers.index("A position's story") < headers.index("Open positions")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc', which is not a position id"),
        ("-3", "'-3', which is not a position id"),
        ("99999999999", "which is not a position id: a whole number from 1 to 2147483647"),
        ("987654", "There is no position 987654 in this database (the link names one"),
    ],
)
def test_a_bad_deep_link_says_why(seeded: helios.Helios, value: str, message: str) -> None:
    at = app_with_link(value)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_without_a_link_the_story_is_last(seeded: helios.Helios) -> None:
    at = open_page(POSITIONS)
    headers = [h.value for h in at.subheader]
    assert headers[-1] == "A position's story" and not at.error


# --- the event log on the Controls page -------------------------------------------------------


def test_the_event_log_filters_searches_and_pages(seeded: helios.Helios) -> None:
    now = seeded.clock.now()
    with seeded.db.write() as session:
        for i in range(60):
            record_event(
                session, ts=now, kind="NOTE_TEST", message=f"note {i} about BTCZAR", actor="tester"
            )
        record_event(
            session,
            ts=now,
            kind="HALT",
            severity="CRITICAL",
            actor="watchdog",
            message="A very long explanation " * 12 + "END-OF-TEXT",
        )
    total = seeded.events.query(EventFilter()).total
    at = open_page(CONTROLS)
    assert any(f"Events 1-50 of {total}" in c.value for c in at.caption)
    [shown] = [t.value for t in at.table if "What" in t.value.columns]
    assert len(shown) == 50 and shown["What"].iloc[0].endswith("END-OF-TEXT")  # whole text
    at.text_input(key="events_text").input("note 1").run()  # note 1, note 10..19
    [shown] = [t.value for t in at.table if "What" in t.value.columns]
    assert len(shown) == 11 and any("Events 1-11 of 11" in c.value for c in at.caption)
    at.text_input(key="events_text").input("").run()
    at.multiselect(key="events_kinds").set_value(["NOTE_TEST"]).run()
    at.selectbox(key="events_page_size").set_value(25).run()
    at.number_input(key="events_page").set_value(3).run()
    [shown] = [t.value for t in at.table if "What" in t.value.columns]
    assert list(shown["What"]) == [f"note {i} about BTCZAR" for i in range(9, -1, -1)]
    assert any("Events 51-60 of 60 (page 3 of 3)" in c.value for c in at.caption)
    at.multiselect(key="events_severities").set_value(["CRITICAL"]).run()  # back to page 1
    assert at.number_input(key="events_page").value == 1
    assert any("No event matches these filters" in c.value for c in at.caption)
    at.multiselect(key="events_kinds").set_value([]).run()
    at.text_input(key="events_who").input("WATCH").run()
    [shown] = [t.value for t in at.table if "What" in t.value.columns]
    assert list(shown["Event"]) == ["HALT"]
