"""Controls: the trading mode and the halt flag live in the database, every change says who and
when, and a process whose configuration disagrees with the database refuses to start."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

import helios
from helios.clock import ManualClock
from helios.config import HaltAction, TradingMode
from helios.controls import HaltState
from helios.db.models import Event, Setting
from helios.errors import ConfigError, InvalidInput
from helios.live import LiveNotReady
from helios.settings_store import HALT_REASON_KEY, HALTED_KEY, MODE_KEY

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def settings_rows(hx: helios.Helios) -> dict[str, tuple[str, str, datetime]]:
    with hx.db.read() as session:
        return {
            row.key: (row.value, row.updated_by, row.updated_at)
            for row in session.scalars(select(Setting))
        }


def events(hx: helios.Helios) -> list[tuple[str, str, str, str]]:
    with hx.db.read() as session:
        return [
            (event.kind, event.severity, event.actor, event.message)
            for event in session.scalars(select(Event).order_by(Event.id))
        ]


def test_a_first_start_seeds_PAPER_and_not_halted(hx: helios.Helios):
    assert hx.controls.trading_mode() is TradingMode.PAPER
    assert hx.controls.halt_state() == HaltState(halted=False, reason="", since=None, by="")
    assert hx.controls.is_halted() is False
    rows = settings_rows(hx)
    installation = rows.pop("installation_id")  # part of every client order id
    assert re.fullmatch(r"[0-9a-f]{6}", installation[0])
    assert rows == {
        MODE_KEY: ("PAPER", "configuration", START),
        HALTED_KEY: ("false", "configuration", START),
        HALT_REASON_KEY: ("", "configuration", START),
    }
    assert events(hx) == [
        ("MODE_SET", "INFO", "configuration", "trading mode PAPER at first start")
    ]


def test_a_halt_stores_the_reason_who_and_when_and_writes_an_event(
    hx: helios.Helios, clock: ManualClock
):
    clock.advance(minutes=5)
    state = hx.controls.halt("drawdown 16.2% > limit 15%", by="scheduler")
    halted_at = START + timedelta(minutes=5)
    assert state == HaltState(
        halted=True,
        reason="drawdown 16.2% > limit 15%",
        since=halted_at,
        by="scheduler",
        cause="manual",
        action=HaltAction.HALT_ONLY,
    )
    assert hx.controls.is_halted() is True
    assert settings_rows(hx)[HALTED_KEY] == ("true", "scheduler", halted_at)
    assert events(hx)[-1] == (
        "HALT",
        "CRITICAL",
        "scheduler",
        "trading halted (manual, halt_only): drawdown 16.2% > limit 15%",
    )


def test_a_resume_lifts_the_halt_and_says_who_and_what_the_halt_was(
    hx: helios.Helios, clock: ManualClock
):
    hx.controls.halt("no price update for 1 hour", by="scheduler")
    clock.advance(hours=2)
    state = hx.controls.resume(by="thandi", note="VALR feed back")
    assert state == HaltState(halted=False, reason="", since=None, by="")
    assert settings_rows(hx)[HALTED_KEY] == ("false", "thandi", START + timedelta(hours=2))
    assert settings_rows(hx)[HALT_REASON_KEY][0] == ""
    with hx.db.read() as session:
        last = session.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
    assert (last.kind, last.actor, last.message, last.details) == (
        "RESUME",
        "thandi",
        "trading resumed (halt was: no price update for 1 hour)",
        {"note": "VALR feed back", "acknowledged": []},
    )
    assert last.ts == START + timedelta(hours=2)


def test_a_halt_in_force_keeps_its_first_reason_and_time(hx: helios.Helios, clock: ManualClock):
    hx.controls.halt("daily loss 5.4% > limit 5%", by="scheduler")
    clock.advance(seconds=5)
    state = hx.controls.halt("daily loss 5.6% > limit 5%", by="scheduler")
    assert state == HaltState(
        halted=True,
        reason="daily loss 5.4% > limit 5%",
        since=START,
        by="scheduler",
        cause="manual",
        action=HaltAction.HALT_ONLY,
    )
    assert [kind for kind, *_ in events(hx)].count("HALT") == 1


def test_resuming_when_not_halted_changes_nothing(hx: helios.Helios):
    before = settings_rows(hx)
    assert hx.controls.resume(by="thandi").halted is False
    assert settings_rows(hx) == before
    assert [kind for kind, *_ in events(hx)] == ["MODE_SET"]


def test_a_halt_survives_a_restart(database_url: str, clock: ManualClock):
    with helios.connect(database_url, clock=clock, market_feed="manual") as first:
        first.controls.halt("emergency stop", by="thandi")
    with helios.connect(database_url, clock=clock, market_feed="manual") as second:
        assert second.controls.halt_state() == HaltState(
            halted=True,
            reason="emergency stop",
            since=START,
            by="thandi",
            cause="manual",
            action=HaltAction.HALT_ONLY,
        )


def test_LIVE_without_the_pre_live_checklist_is_refused_and_only_the_refusal_is_recorded(
    hx: helios.Helios,
):
    """A new database has none of the checklist (tests/test_live_checklist.py has each item):
    the error names every missing item, the mode stays PAPER, the one write is the event."""
    before = settings_rows(hx)
    with pytest.raises(LiveNotReady) as caught:
        hx.controls.set_mode("LIVE", by="thandi", reason="ready")
    message = str(caught.value)
    assert message.startswith("LIVE refused (trading stays PAPER): 4 of the 5 pre-live")
    for missing in (
        "7 days of PAPER trading: PAPER history: none yet",
        "VALR_API_KEY and VALR_API_SECRET not set",
        "MARKET_FEED is manual: LIVE needs MARKET_FEED=valr",
        "A person monitoring closely: no name",
    ):
        assert missing in message
    assert "Small LIVE capital" not in message  # the cap (R5,000) holds
    assert hx.controls.trading_mode() is TradingMode.PAPER
    assert settings_rows(hx) == before
    assert [(kind, actor) for kind, _, actor, _ in events(hx)] == [
        ("MODE_SET", "configuration"),
        ("MODE_CHANGE_REFUSED", "thandi"),
    ]


def test_setting_PAPER_when_already_PAPER_writes_no_event(hx: helios.Helios):
    assert hx.controls.set_mode("paper", by="thandi") is TradingMode.PAPER
    assert [kind for kind, *_ in events(hx)] == ["MODE_SET"]


BAD_CALLS = [
    ("mode YOLO", lambda c: c.set_mode("YOLO", by="thandi"), "mode"),
    ("set_mode by empty", lambda c: c.set_mode("PAPER", by=""), "by"),
    ("set_mode by blank", lambda c: c.set_mode("PAPER", by="   "), "by"),
    ("LIVE by empty", lambda c: c.set_mode("LIVE", by=""), "by"),
    (
        "LIVE confirmed_by not text",
        lambda c: c.set_mode("LIVE", "x", confirmed_by=1),
        "confirmed_by",
    ),
    ("halt reason empty", lambda c: c.halt("", by="thandi"), "reason"),
    ("halt by empty", lambda c: c.halt("drawdown", by=""), "by"),
    ("halt by None", lambda c: c.halt("drawdown", by=None), "by"),
    ("resume by empty", lambda c: c.resume(by=""), "by"),
]


def test_bad_input_raises_InvalidInput_naming_the_field_and_changes_nothing(hx: helios.Helios):
    before = settings_rows(hx)
    for name, call, field in BAD_CALLS:
        with pytest.raises(InvalidInput) as caught:
            call(hx.controls)
        assert caught.value.field == field, name
    assert settings_rows(hx) == before
    assert [kind for kind, *_ in events(hx)] == ["MODE_SET"]


def test_the_mode_error_names_the_allowed_modes(hx: helios.Helios):
    with pytest.raises(InvalidInput) as caught:
        hx.controls.set_mode("YOLO", by="thandi")
    assert str(caught.value) == "mode='YOLO' is not allowed: PAPER or LIVE"


# --- the database wins over the configuration --------------------------------------------------


def make_database_live(database_url: str, clock: ManualClock) -> None:
    with (
        helios.connect(database_url, clock=clock, market_feed="manual") as hx,
        hx.db.write() as session,
    ):
        session.execute(
            update(Setting)
            .where(Setting.key == MODE_KEY)
            .values(value="LIVE", updated_by="thandi", updated_at=START)
        )


def test_an_explicit_TRADING_MODE_that_disagrees_with_the_database_refuses_to_start(
    database_url: str, clock: ManualClock
):
    make_database_live(database_url, clock)
    with pytest.raises(ConfigError) as caught:
        helios.connect(database_url, clock=clock, market_feed="manual", trading_mode="PAPER")
    assert caught.value.problems == [
        (
            "TRADING_MODE",
            "PAPER",
            "the database is in LIVE mode (changed by thandi at 2026-11-26 08:00 UTC); remove "
            "TRADING_MODE or change the mode with hx.controls.set_mode so the two agree",
        )
    ]


def test_TRADING_MODE_from_the_environment_counts_as_explicit(
    database_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    make_database_live(database_url, clock)
    monkeypatch.setenv("TRADING_MODE", "PAPER")
    with pytest.raises(ConfigError, match="TRADING_MODE='PAPER': the database is in LIVE mode"):
        helios.connect(database_url, clock=clock, market_feed="manual")


def test_without_an_explicit_mode_the_databases_mode_is_in_force(
    database_url: str, clock: ManualClock
):
    make_database_live(database_url, clock)
    with helios.connect(database_url, clock=clock, market_feed="manual") as hx:
        assert hx.controls.trading_mode() is TradingMode.LIVE
        assert hx.exchange is hx.valr_exchange


def test_a_configured_mode_only_seeds_a_new_database(tmp_path: Path, clock: ManualClock):
    url = f"sqlite:///{tmp_path / 'helios.db'}"
    with helios.connect(url, clock=clock, market_feed="manual", trading_mode="PAPER") as hx:
        assert hx.controls.trading_mode() is TradingMode.PAPER
    with helios.connect(url, clock=clock, market_feed="manual", trading_mode="paper") as hx:
        assert [kind for kind, *_ in events(hx)] == ["MODE_SET"]


def test_two_processes_halting_at_once_record_one_halt(database_url: str, clock: ManualClock):
    scheduler = helios.connect(database_url, clock=clock, market_feed="manual")
    dashboard = helios.connect(database_url, clock=clock, market_feed="manual")
    barrier = threading.Barrier(2)
    states: list[HaltState] = []

    def halt(hx: helios.Helios, reason: str, by: str) -> None:
        barrier.wait()
        states.append(hx.controls.halt(reason, by=by))

    threads = [
        threading.Thread(target=halt, args=(scheduler, "drawdown 16% > limit 15%", "scheduler")),
        threading.Thread(target=halt, args=(dashboard, "emergency stop", "thandi")),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(states) == 2
        assert states[0] == states[1]  # both report the one halt in force
        assert states[0].halted is True
        halts = [event for event in events(scheduler) if event[0] == "HALT"]
        assert halts == [
            (
                "HALT",
                "CRITICAL",
                states[0].by,
                f"trading halted (manual, halt_only): {states[0].reason}",
            )
        ]
    finally:
        scheduler.close()
        dashboard.close()
