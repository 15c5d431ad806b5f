"""The Trade preview page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL:
the 7 checks follow the inputs, and Execute goes through open_position."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

import helios
from tests.dashboard_support import open_page, table_with
from tests.factories import give_market

PAGE = "app_pages/preview.py"


def checks(at: AppTest) -> dict[str, str]:
    return {row["Check"]: row["Passed"] for row in table_with(at, "Check").to_dict("records")}


def pre_checks(at: AppTest) -> dict[str, str]:
    return {
        row["Pre-check"]: row["Passed"] for row in table_with(at, "Pre-check").to_dict("records")
    }


def test_the_seed_trade_passes_and_a_big_one_is_refused_as_the_inputs_move(seeded: helios.Helios):
    give_market(seeded)
    at = open_page(PAGE)
    assert len(checks(at)) == 7 and set(checks(at).values()) == {"yes"}
    assert pre_checks(at) == {"Price age": "yes", "Buying power": "yes"}
    assert any("All 7 checks pass" in s.value for s in at.success)
    decisions_before = len(seeded.risk.decisions())

    at.number_input(key="pv_size").set_value(60000.0).run()  # 60% of equity in one pair
    assert not at.exception
    assert checks(at)["single_position"] == "NO"
    assert any("Refused" in e.value and "single_position" in e.value for e in at.error)
    assert len(seeded.risk.decisions()) == decisions_before  # a preview stores nothing

    assert checks(at)["leverage"] == "yes"  # 0.6x
    at.number_input(key="pv_size").set_value(110000.0).run()
    at.slider(key="pv_leverage").set_value(3.0).run()  # 330,000 ZAR on 100,000: 3.3x > 3x
    assert checks(at)["leverage"] == "NO"
    # R110,000 of margin and its fee on R100,000 of cash: the buying power refuses it too
    assert pre_checks(at)["Buying power"] == "NO"
    assert any("PRE-CHECK buying_power" in e.value for e in at.error)


def execute(at: AppTest) -> AppTest:
    """Execute, then Confirm (the two steps)."""
    at.button(key="pv_execute").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="pv_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_execute_asks_to_confirm_naming_the_trade_then_opens_it(seeded: helios.Helios):
    """The first click opens nothing and names the trade (side, quantity, pair, price,
    notional, stop, target); Cancel disarms; Confirm opens exactly one position through the
    position manager, and the outcome stays (with the story's link) until the next action."""
    give_market(seeded)
    at = open_page(PAGE)
    assert at.button(key="pv_execute").disabled  # no name yet
    at.text_input(key="pv_who").input("thandi").run()
    at.button(key="pv_execute").click().run()
    assert seeded.positions.get_open_positions() == []  # armed, not done
    [ask] = [w.value for w in at.warning if "confirm?" in w.value]
    assert ask.startswith("**Buy 0.0007") and "BTCZAR at ~R1,200,000.00 (R903.00)" in ask, ask
    assert "stop R1,176,000.00, target R1,272,000.00" in ask, ask
    at.button(key="pv_cancel").click().run()
    assert not [w for w in at.warning if "confirm?" in w.value]
    assert seeded.positions.get_open_positions() == []

    at.button(key="pv_execute").click().run()
    at.button(key="pv_confirm").click().run()
    assert not at.exception
    [position] = seeded.positions.get_open_positions()
    assert position["pair"] == "BTCZAR" and "thandi" in position["strategic_reasoning"]
    pid = position["position_id"]
    [done] = [s.value for s in at.success if f"Position {pid} opened at" in s.value]
    assert "Buy 0.0007" in done
    [link] = at.get("page_link")
    assert (link.proto.page, link.proto.query_string) == ("positions", f"position={pid}")
    assert link.proto.label == f"Open position {pid}'s story"
    # the preview drawn after it counts the new position: a neutral note, not a red refusal
    assert [i.value for i in at.info if "now counts the position just opened" in i.value]
    assert not [e.value for e in at.error if "Refused" in e.value]
    assert not at.toast
    at.run()  # a rerun (a refresh, a slider) keeps the outcome: it lasts until the next action
    assert [s.value for s in at.success if f"Position {pid} opened at" in s.value]
    assert len(seeded.positions.get_open_positions()) == 1


def test_changing_an_input_disarms_the_confirmation(seeded: helios.Helios):
    give_market(seeded)
    at = open_page(PAGE)
    at.text_input(key="pv_who").input("thandi").run()
    at.button(key="pv_execute").click().run()
    assert [w for w in at.warning if "confirm?" in w.value]
    at.selectbox(key="pv_pair").set_value("ETHZAR").run()
    assert not [w for w in at.warning if "confirm?" in w.value]
    assert not [b for b in at.button if b.key == "pv_confirm"]
    assert seeded.positions.get_open_positions() == []


def test_a_refused_execute_shows_the_reason(seeded: helios.Helios):
    give_market(seeded)
    at = open_page(PAGE)
    at.text_input(key="pv_who").input("thandi").run()
    seeded.controls.halt("drill", "sipho")
    execute(at)
    assert any("Not opened" in e.value and "halted" in e.value for e in at.error)
    assert seeded.positions.get_open_positions() == []


def room(at: AppTest) -> dict[str, float]:
    """Each check's 'More notional that fits' as drawn (R1,234.56, or - when it has none)."""
    table = table_with(at, "Check")
    drawn = dict(zip(table["Check"], table["More notional that fits"], strict=True))
    return {
        check: float(text.removeprefix("R").replace(",", ""))
        for check, text in drawn.items()
        if text != "-"
    }


def test_execute_redraws_the_checks_and_the_frame_and_executes_again(seeded: helios.Helios):
    """The checks and headroom drawn after Execute count the new position (they were drawn
    before it), the outcome is shown once at the top; a second Execute opens a second position;
    a refusal is shown with its reason, the frame showing the halt that caused it."""
    give_market(seeded)
    at = open_page(PAGE)
    before = room(at)
    at.text_input(key="pv_who").input("thandi").run()
    execute(at)
    [first] = seeded.positions.get_open_positions()
    assert [s.value for s in at.success if f"Position {first['position_id']} opened" in s.value]
    assert room(at)["single_position"] < before["single_position"]  # the new position counted
    # the same trade again would now be one BTC position too many: the verdict says so at once,
    # as a neutral note beside the success
    assert checks(at)["correlation"] == "NO"
    assert any("just opened" in i.value and "correlation" in i.value for i in at.info)

    at.selectbox(key="pv_pair").set_value("ETHZAR").run()
    assert set(checks(at).values()) == {"yes"}
    at.button(key="pv_execute").click().run()  # a new action: the last outcome goes
    assert not any("opened at" in s.value for s in at.success)
    at.button(key="pv_confirm").click().run()  # a second Execute works
    assert sorted(p["pair"] for p in seeded.positions.get_open_positions()) == [
        "BTCZAR",
        "ETHZAR",
    ]
    assert any("opened at" in s.value for s in at.success)

    seeded.controls.halt("drill", "sipho")
    execute(at)
    assert [e.value for e in at.error if "Not opened" in e.value and "halted" in e.value]
    assert any("Halted:" in e.value for e in at.sidebar.error)  # the frame drawn after it
    assert len(seeded.positions.get_open_positions()) == 2
