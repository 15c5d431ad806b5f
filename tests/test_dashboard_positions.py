"""The Positions page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL."""

from __future__ import annotations

import helios
from tests.dashboard_support import click, open_page, statuses
from tests.factories import PRICES, SEED_REASONING, SEED_TRADE, give_market

PAGE = "app_pages/positions.py"


def table_with(at, column: str):  # type: ignore[no-untyped-def]
    """The one table on the page with ``column`` (the story's checks, fills, stop moves...)."""
    [frame] = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def pick(at, position_id: int) -> str:  # type: ignore[no-untyped-def]
    """Choose ``position_id`` in the Position picker; returns the text drawn for it, which a
    browser then holds."""
    at.selectbox(key="close_id").set_value(position_id).run()
    box = at.selectbox(key="close_id")
    return str(box.options[box.index])


def as_a_browser(at, shown: str):  # type: ignore[no-untyped-def]
    """Make the next run send the picker's choice as a browser does: ``shown``, the text of the
    option it was given when the operator picked. (A browser keeps that text until the page
    sends it another; AppTest would format the value anew with the newest labels, hiding a label
    that changed since, as one with the position's P&L does at every price.) Returns ``at``."""
    box = at.selectbox(key="close_id")
    if shown not in box.options:
        box.options.append(shown)  # not among the labels drawn now; the browser still holds it
    box.set_value(shown)
    return at


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

    assert at.selectbox(key="close_id").value is None  # nothing chosen until the operator picks
    click(at, "close_arm")
    assert any("Pick the position to close first" in e.value for e in at.error)
    pick(at, opened["position_id"])
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
    checks = table_with(at, "Check")
    assert len(checks) == 7  # all 7 checks of the decision
    assert any("No signal: opened by hand" in c.value for c in at.caption)
    fills = table_with(at, "Filled")
    assert len(fills) == 1 and fills["Price"][0].startswith("R")
    at.number_input(key="story_id").set_value(999).run()
    assert any("There is no position 999" in e.value for e in at.error)


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
    at.selectbox(key="closed_page_size").set_value(100).run()
    table = next(df.value for df in at.dataframe if "Exit reason" in df.value.columns)
    assert len(table) == 100 and table["ID"].iloc[0] == max(ids)
    at.number_input(key="closed_page").set_value(2).run()
    table = next(df.value for df in at.dataframe if "Exit reason" in df.value.columns)
    assert sorted(table["ID"]) == sorted(ids)[:5]


def open_ids(at) -> list[int]:  # type: ignore[no-untyped-def]
    """The IDs in the open-positions table as drawn ([] when it says there are none)."""
    if any("No open positions" in i.value for i in at.info):
        return []
    table = next(df.value for df in at.dataframe if "Time left" in df.value.columns)
    return sorted(int(i) for i in table["ID"])


def test_a_confirmed_close_redraws_the_page_and_a_second_close_works(seeded: helios.Helios):
    """After Confirm the same run shows the page as the database now is: no confirmation left,
    the result at the top (once), the position gone from the open table; the next close works."""
    hx = seeded
    give_market(hx)
    first, second = (
        hx.positions.open_position(pair, "BUY", SEED_TRADE, SEED_REASONING)["position_id"]
        for pair in ("BTCZAR", "ETHZAR")
    )
    at = open_page(PAGE)
    at.text_input(key="close_who").input("thandi").run()
    at.selectbox(key="close_id").set_value(first).run()
    click(at, "close_arm")
    assert any(f"Close position {first} at market" in w.value for w in at.warning)

    click(at, "close_confirm")
    assert hx.positions.closed_positions()["position_id"].tolist() == [first]
    assert not any("at market now" in w.value for w in at.warning)  # the confirmation is gone
    assert not [b for b in at.button if b.key in ("close_confirm", "close_cancel")]
    assert [s.value for s in at.success if f"Position {first} closed at" in s.value]
    assert open_ids(at) == [second]
    [option] = at.selectbox(key="close_id").options  # what never changes for a position
    assert option == f"{second} · ETHZAR BUY · margin R903.00", option
    assert at.selectbox(key="close_id").value is None  # the closed one is not replaced
    assert not any("no longer open" in w.value for w in at.warning)  # closed here, as asked

    at.run()  # the message is shown once
    assert not any("closed at" in s.value for s in at.success)

    at.selectbox(key="close_id").set_value(second).run()
    click(at, "close_arm")
    click(at, "close_confirm")  # a second action works the same way
    assert sorted(hx.positions.closed_positions()["position_id"]) == sorted([first, second])
    assert [s.value for s in at.success if f"Position {second} closed at" in s.value]
    assert open_ids(at) == []
    assert any("Nothing to close" in c.value for c in at.caption)


def test_a_refused_close_says_why_and_disarms(seeded: helios.Helios, monkeypatch):
    """The monitor closes the position between the Confirm and the page's close (the race the
    one-winner rule settles): the refusal is shown with its reason, nothing is left armed, and
    the page shows the position as closed."""
    from helios.positions.manager import PositionManager

    hx = seeded
    give_market(hx)
    opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    at = open_page(PAGE)
    at.text_input(key="close_who").input("thandi").run()
    pick(at, opened["position_id"])
    click(at, "close_arm")
    real = PositionManager.close_position

    def monitor_first(self, position_id, reason="CLOSED", **kwargs):  # type: ignore[no-untyped-def]
        assert real(self, position_id, "TAKE_PROFIT", actor="monitor")["success"]
        return real(self, position_id, reason, **kwargs)

    monkeypatch.setattr(PositionManager, "close_position", monitor_first)
    click(at, "close_confirm")
    assert [e.value for e in at.error if "Not closed" in e.value and "already" in e.value]
    assert not any("at market now" in w.value for w in at.warning)
    assert at.session_state["armed_close"] is None
    assert open_ids(at) == []
    assert hx.positions.closed_positions()["status"].tolist() == ["TAKE_PROFIT"]


def test_a_positions_story_tells_its_signal_fills_and_stop_moves(seeded: helios.Helios):
    """The story of a position opened from a signal: the signal, the decision, the order and its
    fill, and each stop move (here the trailing stop's, recorded as STOP_MOVED)."""
    hx = seeded
    give_market(hx)
    hx.signals.submit(
        "BTCZAR",
        "BUY",
        confidence=0.85,
        llm_approved=True,
        llm_reasoning="breakout confirmed",
        predicted_return=0.03,
        trade_params={
            "position_size_zar": 903,
            "trailing_activation_pct": 0.01,
            "trailing_distance_pct": 0.005,
        },
    )
    [outcome] = hx.signals.process_pending()
    assert outcome.status == "EXECUTED", outcome
    hx.market.set_price("BTCZAR", str(int(PRICES["BTCZAR"]) * 103 // 100))  # +3%: trails
    hx.positions.monitor_positions()
    story = hx.positions.position_history(outcome.position_id)
    assert any(e["kind"] == "STOP_MOVED" for e in story["events"]), story["events"]

    at = open_page(PAGE)
    at.number_input(key="story_id").set_value(outcome.position_id).run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "confidence 0.85" in text and "LLM approved" in text and "EXECUTED" in text
    assert len(table_with(at, "Check")) == 7
    assert len(table_with(at, "Filled")) == 1
    [move] = table_with(at, "From").to_dict("records")
    assert (
        move["From"].startswith("R") and move["To"].startswith("R") and move["From"] != move["To"]
    )


def test_a_close_stays_on_the_chosen_position_while_others_open_and_close(seeded: helios.Helios):
    """Issue 14, item 11: between choosing, Close and Confirm, positions open and close and
    prices move (as the demo trading does); the picker keeps the position chosen, the
    confirmation names it, and Confirm closes exactly that one."""
    hx = seeded
    give_market(hx)
    first, second, chosen, third = (
        hx.positions.open_position(pair, "BUY", SEED_TRADE, SEED_REASONING)["position_id"]
        for pair in ("BTCZAR", "SOLZAR", "ETHZAR", "SOLZAR")
    )
    at = open_page(PAGE)
    at.text_input(key="close_who").input("thandi").run()
    shown = pick(at, chosen)  # the third in the list

    # chosen, not armed: a position opens, the first in the list closes, the price moves
    added = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert added["success"], added
    assert hx.positions.close_position(first, "CLOSED", actor="other")["success"]
    hx.market.set_price("ETHZAR", "60300")
    as_a_browser(at, shown).run()
    assert not at.exception
    assert at.selectbox(key="close_id").value == chosen
    click(as_a_browser(at, shown), "close_arm")
    armed = [w.value for w in at.warning if "at market now" in w.value]
    assert [w for w in armed if f"Close position {chosen} at market" in w] == armed != [], armed
    assert at.button(key="close_confirm").label == f"Confirm: close position {chosen}"

    # armed: another opens, another closes, the price moves again
    later = hx.positions.open_position("SOLZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert later["success"], later
    assert hx.positions.close_position(third, "CLOSED", actor="other")["success"]
    hx.market.set_price("ETHZAR", "60600")
    as_a_browser(at, shown).run()
    assert at.selectbox(key="close_id").value == chosen
    assert at.button(key="close_confirm").label == f"Confirm: close position {chosen}"
    before = statuses(hx)
    click(as_a_browser(at, shown), "close_confirm")

    after = statuses(hx)
    assert (before[chosen], after[chosen]) == ("OPEN", "CLOSED")
    assert {i: s for i, s in after.items() if i != chosen} == {
        i: s for i, s in before.items() if i != chosen
    }
    assert after == {
        first: "CLOSED",
        second: "OPEN",
        chosen: "CLOSED",
        third: "CLOSED",
        added["position_id"]: "OPEN",
        later["position_id"]: "OPEN",
    }
    assert [s.value for s in at.success if f"Position {chosen} closed at" in s.value]
    story = hx.positions.position_history(chosen)
    assert any("requested by thandi" in e["message"] for e in story["events"])


def test_a_chosen_position_closed_elsewhere_disarms_with_a_message(seeded: helios.Helios):
    """Issue 14, item 11: the position chosen and armed is closed by someone else; the next run
    (here the operator's Confirm) closes nothing, disarms and says so, naming it; the picker
    shows no choice instead of another position, so the Close shown next closes nothing."""
    hx = seeded
    give_market(hx)
    first, chosen = (
        hx.positions.open_position(pair, "BUY", SEED_TRADE, SEED_REASONING)["position_id"]
        for pair in ("BTCZAR", "ETHZAR")
    )
    at = open_page(PAGE)
    at.text_input(key="close_who").input("thandi").run()
    shown = pick(at, chosen)
    click(as_a_browser(at, shown), "close_arm")
    assert at.button(key="close_confirm").label == f"Confirm: close position {chosen}"

    assert hx.positions.close_position(chosen, "CLOSED", actor="other")["success"]
    before = statuses(hx)
    click(as_a_browser(at, shown), "close_confirm")
    assert statuses(hx) == before  # nothing closed
    [notice] = [w.value for w in at.warning if f"Position {chosen} is no longer open" in w.value]
    assert "CLOSED" in notice and "other" in notice and "nothing was closed" in notice, notice
    assert at.session_state["armed_close"] is None
    assert not [b for b in at.button if b.key in ("close_confirm", "close_cancel")]
    assert at.selectbox(key="close_id").value is None  # not moved to the other position

    click(at, "close_arm")  # whatever is shown: nothing chosen, so nothing to arm
    assert any("Pick the position to close first" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "close_confirm"]
    at.run()
    assert statuses(hx) == before
    assert before[first] == "OPEN"
    assert any(f"Position {chosen} is no longer open" in w.value for w in at.warning)  # kept

    pick(at, first)  # picking again clears the notice
    assert not any("is no longer open" in w.value for w in at.warning)
    click(at, "close_arm")
    assert at.button(key="close_confirm").label == f"Confirm: close position {first}"
