"""The Locks section of the Controls page (``ui/locks.py``), headless with Streamlit's AppTest on
SQLite and PostgreSQL: locking a pair needs a name and records it, the table shows the lock in
the trading-day zone with its reason, Lift lifts it, bad input is refused naming the field."""

from __future__ import annotations

import helios
from tests.dashboard_support import click, open_page, table_with

PAGE = "app_pages/controls.py"


def test_lock_a_pair_see_it_and_lift_it(seeded: helios.Helios):
    at = open_page(PAGE)
    assert any(i.value == "No pair is locked." for i in at.info)
    at.selectbox(key="locks_pair").set_value("ETHZAR")
    at.number_input(key="locks_hours").set_value(2.5)
    at.text_input(key="locks_reason").input("funding rate spike")
    click(at, "locks_submit")
    assert any("Enter your name first" in e.value for e in at.error)
    assert seeded.locks.active() == []  # nothing written without a name

    at.text_input(key="locks_who").input("lerato")
    at.selectbox(key="locks_pair").set_value("ETHZAR")
    at.number_input(key="locks_hours").set_value(2.5)
    at.text_input(key="locks_reason").input("funding rate spike")
    click(at, "locks_submit")
    [lock] = seeded.locks.active()
    assert (lock["pair"], lock["by"], lock["reason"]) == ("ETHZAR", "lerato", "funding rate spike")
    assert (lock["ends_at"] - lock["starts_at"]).total_seconds() == 2.5 * 3600
    assert any("ETHZAR locked until" in s.value and "SAST" in s.value for s in at.success)

    table = table_with(at, "Reason")
    assert list(table.columns) == ["ID", "Pair", "Ends in", "Until", "Reason", "By"]
    row = table.iloc[0]
    assert (row["ID"], row["Pair"], row["Reason"], row["By"]) == (
        lock["id"],
        "ETHZAR",
        "funding rate spike",
        "lerato",
    )
    assert row["Until"].endswith("SAST")
    assert row["Ends in"] in ("2 h 29 min", "2 h 30 min")

    click(at, "locks_lift")
    assert seeded.locks.active() == []
    [lifted] = seeded.locks.history()
    assert (lifted["status"], lifted["lifted_by"]) == ("lifted", "lerato")
    assert any("lifted by lerato" in s.value for s in at.success)
    assert any(i.value == "No pair is locked." for i in at.info)


def test_a_lock_without_a_reason_is_refused_naming_the_field(seeded: helios.Helios):
    at = open_page(PAGE)
    at.text_input(key="locks_who").input("lerato")
    click(at, "locks_submit")
    assert any("Not locked: reason=''" in e.value for e in at.error)
    assert seeded.locks.history() == []
