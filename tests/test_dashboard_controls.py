"""The Controls page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL:
every action needs a name, the closing ones a confirmation, and each changes the database
exactly as the Python call does."""

from __future__ import annotations

import helios
from tests.dashboard_support import click, open_page
from tests.factories import PRICES, booked_position

PAGE = "pages/controls.py"


def statuses(hx: helios.Helios) -> list[str]:
    frame = hx.positions.closed_positions()
    return sorted(frame["status"]) if len(frame) else []


def book(hx: helios.Helios) -> list[int]:
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    return [booked_position(hx, pair, "BUY", "903", "1") for pair in ("BTCZAR", "ETHZAR")]


def test_the_emergency_stop_needs_a_name_and_a_confirmation(seeded: helios.Helios):
    book(seeded)
    at = open_page(PAGE)
    click(at, "arm_emergency")
    assert any("Enter your name" in e.value for e in at.error)
    assert statuses(seeded) == []  # nothing happened

    at.text_input(key="controls_who").input("thandi")
    at.text_input(key="controls_why").input("drill")
    click(at.run(), "arm_emergency")
    assert any("closes EVERY open position" in w.value for w in at.warning)
    assert statuses(seeded) == []  # armed, not done
    click(at, "cancel_emergency")
    assert statuses(seeded) == []

    click(at, "arm_emergency")
    click(at, "confirm_emergency")
    assert statuses(seeded) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    state = seeded.controls.halt_state()
    assert (state.halted, state.cause, state.by) == (True, "emergency_stop", "thandi")


def test_close_all_closes_without_halting(seeded: helios.Helios):
    book(seeded)
    at = open_page(PAGE)
    at.text_input(key="controls_who").input("sipho").run()
    click(at, "arm_close_all")
    click(at, "confirm_close_all")
    assert statuses(seeded) == ["CLOSED", "CLOSED"]
    assert not seeded.controls.is_halted()
    assert any(
        e["kind"] == "CLOSE_ALL" and e["actor"] == "sipho" for e in seeded.controls.event_log()
    )


def test_halt_and_resume_record_who(seeded: helios.Helios):
    at = open_page(PAGE)
    at.text_input(key="controls_who").input("lerato")
    at.text_input(key="controls_why").input("news at 14:00").run()
    click(at, "halt")
    state = seeded.controls.halt_state()
    assert (state.halted, state.by, state.reason) == (True, "lerato", "news at 14:00")
    click(at, "resume")
    assert not seeded.controls.is_halted()
    [resume] = seeded.controls.event_log(kind="RESUME")
    assert resume["actor"] == "lerato"
    table = at.dataframe[-1].value
    assert {"HALT", "RESUME"} <= set(table["Event"])


def test_live_is_refused_with_the_reason_and_the_mode_stays_paper(seeded: helios.Helios):
    at = open_page(PAGE)
    at.text_input(key="controls_who").input("thandi").run()
    at.radio[0].set_value("LIVE").run()
    click(at, "switch_mode")
    assert any("issue #8" in e.value for e in at.error)
    assert seeded.controls.trading_mode().value == "PAPER"
