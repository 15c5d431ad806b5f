"""The Controls page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL:
every action needs a name, the closing ones a confirmation, and each changes the database
exactly as the Python call does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import helios
from tests.dashboard_support import click, open_page
from tests.factories import PRICES, booked_position
from tests.fakes.valr import FAKE_API_KEY, FAKE_API_SECRET, FakeValr
from tests.test_live_checklist import paper_snapshots, valr_prices

PAGE = "app_pages/controls.py"


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
    # the one primary action of the page's top (the CSS rule on its container makes it red)
    assert at.button(key="arm_emergency").proto.type == "primary"
    assert at.button(key="arm_close_all").proto.type == "secondary"
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
    assert at.button(key="confirm_emergency").proto.type == "primary"  # red by the CSS rule
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
    # the Reason is emptied after the action (the next one needs its own); the name stays
    assert at.text_input(key="controls_why").value == ""
    assert at.text_input(key="controls_who").value == "lerato"
    click(at, "resume")
    assert not seeded.controls.is_halted()
    [resume] = seeded.controls.event_log(kind="RESUME")
    assert resume["actor"] == "lerato"
    table = next(t.value for t in at.table if "What" in t.value.columns)  # ui/event_log.py
    assert {"HALT", "RESUME"} <= set(table["Event"])


TICK, CROSS = ":green[:material/check_circle:]", ":red[:material/cancel:]"


def checklist_lines(at) -> list[str]:  # type: ignore[no-untyped-def]
    """The pre-live checklist as drawn: one markdown line per item, a tick or a cross first
    (Material icons, never the emoji Debian's Chromium draws as empty boxes), as "+ ..." for a
    tick and "- ..." for a cross."""
    found = []
    for m in at.main.markdown:
        for icon, sign in ((TICK, "+"), (CROSS, "-")):
            # a checklist item is "icon **name**: detail" (the header's "Trading active" is not)
            if m.value.startswith(icon + " ") and "**: " in m.value:
                found.append(sign + m.value.removeprefix(icon))
    assert not [m.value for m in at.main.markdown if "✅" in m.value or "❌" in m.value]
    return found


def test_the_checklist_is_shown_and_LIVE_is_refused_with_every_missing_item(
    seeded: helios.Helios,
):
    at = open_page(PAGE)
    lines = checklist_lines(at)
    assert [line.split("**")[1] for line in lines] == [
        "7 days of PAPER trading",
        "VALR API key (Trade, no Withdraw or Transfer)",
        "Real prices from VALR",
        "Small LIVE capital (LIVE_CAPITAL_CAP_ZAR)",
        "A person monitoring closely",
    ]
    assert [line[0] for line in lines] == ["-", "-", "-", "+", "-"]
    assert "PAPER history: none yet" in lines[0]
    assert "VALR_API_KEY and VALR_API_SECRET not set" in lines[1]
    assert "cap R5,000.00" in lines[3]
    assert at.text_input(key="controls_monitor").label == "I will monitor closely (your name)"

    at.text_input(key="controls_who").input("thandi").run()
    at.radio[0].set_value("LIVE").run()
    click(at, "switch_mode")
    [error] = [e.value for e in at.error if "Mode not changed" in e.value]
    assert not at.toast  # a lasting message under the switch, no toast over the page
    assert at.text_input(key="controls_why").value == ""
    assert "LIVE refused (trading stays PAPER): 4 of the 5 pre-live checklist items" in error
    assert "A person monitoring closely: no name" in error
    assert seeded.controls.trading_mode().value == "PAPER"
    [refusal] = seeded.controls.event_log(kind="MODE_CHANGE_REFUSED")
    assert refusal["actor"] == "thandi"

    at.text_input(key="controls_monitor").input("sipho").run()  # the name ticks its item
    assert checklist_lines(at)[4] == (
        "+ **A person monitoring closely**: sipho confirms they will monitor closely"
    )


@pytest.fixture
def fake() -> Iterator[FakeValr]:
    with FakeValr() as server:
        yield server


def test_with_every_item_ready_the_page_switches_to_LIVE_and_back(
    seeded: helios.Helios, fake: FakeValr, monkeypatch: pytest.MonkeyPatch
):
    now = datetime.now(UTC)  # the dashboard runs on the real clock
    paper_snapshots(seeded, now)
    valr_prices(seeded, now)
    for key, value in {
        "MARKET_FEED": "valr",
        "VALR_BASE_URL": fake.url,
        "VALR_API_KEY": FAKE_API_KEY,
        "VALR_API_SECRET": FAKE_API_SECRET,
        "VALR_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(key, value)
    at = open_page(PAGE)
    at.text_input(key="controls_who").input("thandi")
    at.text_input(key="controls_monitor").input("sipho").run()
    lines = checklist_lines(at)
    assert len(lines) == 5 and all(line.startswith("+") for line in lines), lines
    assert "'helios-test'" in lines[1]
    at.radio[0].set_value("LIVE").run()
    click(at, "switch_mode")
    assert [s.value for s in at.success if s.value == "Trading mode is now LIVE."]
    assert seeded.controls.trading_mode().value == "LIVE"
    [change] = seeded.controls.event_log(kind="MODE_CHANGE")
    assert change["actor"] == "thandi" and "sipho monitors closely" in change["message"]
    # in LIVE: no checklist, the cap in force, and PAPER is one click away
    assert checklist_lines(at) == []
    assert any("at most R5,000.00 of equity" in w.value for w in at.warning)
    at.radio[0].set_value("PAPER").run()
    click(at, "switch_mode")
    assert seeded.controls.trading_mode().value == "PAPER"
    shown = [e.value for e in at.main.markdown] + [e.value for e in at.error]
    shown += [e.value for e in at.warning] + [e.value for e in at.success]
    assert not [text for text in shown if FAKE_API_KEY in text or FAKE_API_SECRET in text]


def sidebar_halted(at) -> bool:  # type: ignore[no-untyped-def]
    """The sidebar's trading line says halted (else it says active)."""
    halted = any("Halted:" in e.value for e in at.sidebar.error)
    active = any("Trading active" in m.value for m in at.sidebar.markdown)
    assert halted != active, "the sidebar shows neither or both"
    return halted


def banner(at) -> list[str]:  # type: ignore[no-untyped-def]
    """The halt banner under the page title."""
    return [e.value for e in at.main.error if "Trading halted" in e.value]


def test_the_emergency_stop_redraws_the_frame_in_the_same_click(seeded: helios.Helios):
    """After Confirm: the sidebar and the banner show the halt, the confirmation is gone, the
    result is at the top, the page offers Resume; Resume, then Halt, work at the first click."""
    book(seeded)
    at = open_page(PAGE)
    assert not sidebar_halted(at) and banner(at) == []
    at.text_input(key="controls_who").input("thandi")
    at.text_input(key="controls_why").input("drill").run()
    click(at, "arm_emergency")
    click(at, "confirm_emergency")
    assert seeded.controls.is_halted()
    assert sidebar_halted(at)
    assert [b for b in banner(at) if "emergency stop by thandi: drill" in b]
    assert not any("closes EVERY open position" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key in ("confirm_emergency", "cancel_emergency")]
    assert [s.value for s in at.success if s.value.startswith("2 position(s) closed")]
    assert [b for b in at.button if b.key == "resume"]
    at.run()
    assert not any("position(s) closed" in s.value for s in at.success)  # shown once

    click(at, "resume")
    assert not seeded.controls.is_halted()
    assert not sidebar_halted(at) and banner(at) == []
    assert [s.value for s in at.success if "resumed" in s.value.lower()]
    click(at, "halt")
    assert seeded.controls.is_halted()
    assert sidebar_halted(at) and banner(at)
    click(at, "arm_close_all")  # and a closing action works again after a stop
    click(at, "confirm_close_all")
    assert [s.value for s in at.success if s.value.startswith("0 position(s) closed")]
    assert not any("closes every open position now" in w.value for w in at.warning)


def test_a_refused_action_shows_the_reason_and_disarms(seeded: helios.Helios, monkeypatch):
    """An action the library refuses: the error with its message, nothing left armed."""
    from helios.errors import InvalidInput

    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise InvalidInput("reason", "x" * 3, "a shorter text")

    at = open_page(PAGE)
    at.text_input(key="controls_who").input("thandi").run()
    click(at, "arm_close_all")
    import helios.controls

    monkeypatch.setattr(helios.controls.Controls, "close_all", refuse)
    click(at, "confirm_close_all")
    assert [e.value for e in at.error if "a shorter text" in e.value]
    assert not any("closes every open position now" in w.value for w in at.warning)
    assert not at.session_state["armed_close_all"]


def test_leaving_the_page_disarms_and_the_name_follows_to_other_pages(seeded: helios.Helios):
    """An armed EMERGENCY STOP is disarmed by going to another page (coming back never finds a
    Confirm button waiting), and the name typed here fills "Your name" on the other pages."""
    book(seeded)
    at = open_page(PAGE)
    at.text_input(key="controls_who").input("thandi")
    click(at.run(), "arm_emergency")
    assert at.button(key="confirm_emergency")  # armed

    at.switch_page("app_pages/positions.py").run()
    assert not at.exception
    assert at.text_input(key="close_who").value == "thandi"
    at.switch_page("app_pages/preview.py").run()
    assert at.text_input(key="pv_who").value == "thandi"

    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.text_input(key="controls_who").value == "thandi"
    assert not [b for b in at.button if b.key == "confirm_emergency"]  # disarmed
    assert at.button(key="arm_emergency")
    assert statuses(seeded) == []  # nothing was closed on the way
    assert not seeded.controls.halt_state().halted


# what a browser can send (a lone surrogate cannot cross its UTF-8 websocket: the library and
# API tests in tests/test_hostile_text.py cover those)
CONSOLE_HOSTILE = {
    "nul": ("ops\x00", "exchange down\x00", "ops\ufffd", "exchange down\ufffd"),
    "c0_and_escape": ("o\x1b[31mps", "a\x07b", "o\ufffd[31mps", "a\ufffdb"),
    "bidi_override": ("ops\u202egnp", "why\u202e", "ops\ufffdgnp", "why\ufffd"),
    "line_breaks": ("ops\nteam", "one\ntwo", "ops team", "one two"),
}


@pytest.mark.parametrize("kind", sorted(CONSOLE_HOSTILE))
def test_the_console_emergency_stop_and_resume_act_whatever_text_is_typed(
    seeded: helios.Helios, kind: str
):
    """Issue 15 item 2 through the console: the stop halts and closes everything and the
    resume lifts it, with the text stored as ``helios.text`` cleans it (the one place)."""
    who, why, who_stored, why_stored = CONSOLE_HOSTILE[kind]
    book(seeded)
    at = open_page(PAGE)
    at.text_input(key="controls_who").input(who)
    at.text_input(key="controls_why").input(why).run()
    click(at, "arm_emergency")
    assert at.button(key="confirm_emergency").proto.type == "primary"  # red by the CSS rule
    click(at, "confirm_emergency")
    assert statuses(seeded) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    state = seeded.controls.halt_state()
    assert (state.halted, state.by) == (True, who_stored)
    assert why_stored in state.reason
    at = open_page(PAGE)
    at.text_input(key="controls_who").input(who)
    at.text_input(key="controls_why").input(why).run()
    click(at, "resume")
    assert not seeded.controls.is_halted()
    [resume] = seeded.controls.event_log(kind="RESUME")
    assert resume["actor"] == who_stored
