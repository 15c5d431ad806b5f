"""The live rules issue 19 added for replays, each a live rule (none exists only in replay): one
position per pair (MAX_POSITIONS_PER_PAIR), the 7 checks judged but not enforced
(RISK_CHECKS_ENFORCED=false, never in LIVE), stops on a price grid (PRICE_TICK), the bar that
made an exit (the monitor's verdict), the data's price grid, and the skip-ahead scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.db.models import RiskDecision
from helios.positions.exit_reasons import STOP_LOSS, TRAILING_STOP, exit_reason
from helios.positions.monitor import Bar, Levels, judge
from helios.replay.candles import from_frame
from helios.replay.skip import (
    Book,
    Held,
    equity_event,
    marks,
    next_instant,
    position_event,
)
from helios.replay.spec import parse_sweep, rules, take_profit_for_net
from helios.replay.ticks import data_tick
from helios.risk.inputs import checks_enforced
from helios.risk.prechecks import pair_full
from helios.trade import entry_levels
from tests.factories import connect_book, give_market

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# --- one position per pair -------------------------------------------------------------------


def test_a_full_pair_is_refused_naming_the_setting() -> None:
    assert pair_full(0, "BTCZAR", 1) == ""
    assert pair_full(3, "BTCZAR", 0) == ""  # 0: no such rule
    text = pair_full(1, "BTCZAR", 1)
    assert "BTCZAR already holds 1 open position" in text
    assert "MAX_POSITIONS_PER_PAIR=1" in text
    assert pair_full(1, "BTCZAR", 2) == ""


def test_a_second_signal_on_a_held_pair_opens_nothing(tmp_path) -> None:
    clock = ManualClock(T0)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with connect_book(url, clock, max_positions_per_pair=1) as hx:
        give_market(hx)
        params = {"position_size_zar": 1000, "stop_loss_pct": 0.02, "take_profit_pct": 0.06}
        for confidence in (0.8, 0.81):  # two signals (the same content would be a duplicate)
            hx.signals.submit("BTCZAR", "BUY", confidence, True, trade_params=params)
        hx.signals.submit("ETHZAR", "BUY", 0.8, True, trade_params=params)
        outcomes = hx.signals.process_pending()
        assert [o.status for o in outcomes] == ["EXECUTED", "REJECTED", "EXECUTED"]
        assert "MAX_POSITIONS_PER_PAIR=1" in outcomes[1].reason
        with hx.db.read() as session:
            refused = session.scalars(
                select(RiskDecision).where(RiskDecision.passed.is_(False))
            ).one()
        assert refused.checks == []  # refused before the 7, like a lock


# --- the 7 checks judged, not enforced -------------------------------------------------------


def test_only_paper_may_leave_the_checks_unenforced() -> None:
    assert checks_enforced(True, "PAPER") and checks_enforced(True, "LIVE")
    assert not checks_enforced(False, "PAPER")
    assert checks_enforced(False, "LIVE")


def test_unenforced_checks_are_stored_with_what_they_said(tmp_path) -> None:
    clock = ManualClock(T0)
    params = {"position_size_zar": 60000, "stop_loss_pct": 0.02, "take_profit_pct": 0.06}
    for enforced, status in ((True, "REJECTED"), (False, "EXECUTED")):
        url = f"sqlite:///{tmp_path / f'{enforced}.db'}"
        with connect_book(url, clock, risk_checks_enforced=enforced) as hx:
            give_market(hx)
            hx.signals.submit("BTCZAR", "BUY", 0.8, True, trade_params=params)
            (outcome,) = hx.signals.process_pending()
            assert outcome.status == status, outcome.reason
            with hx.db.read() as session:
                decision = session.scalars(select(RiskDecision)).one()
            failed = [c["name"] for c in decision.checks if not c["passed"]]
            assert "single_position" in failed  # R60,000 of R100,000 is over 20% either way
            if not enforced:
                assert decision.passed
                assert "RISK_CHECKS_ENFORCED=false" in decision.reason
                assert decision.inputs["checks_enforced"] is False


# --- stops on a price grid -------------------------------------------------------------------


def test_a_stop_on_the_grid_is_rounded_toward_the_entry() -> None:
    entry = Decimal("10.04")
    assert entry_levels("BUY", entry, 0.02, 0.06)[0] == Decimal("9.8392")
    assert entry_levels("BUY", entry, 0.02, 0.06, Decimal("0.01"))[0] == Decimal("9.84")
    assert entry_levels("SELL", entry, 0.02, 0.06, Decimal("0.01"))[0] == Decimal("10.24")
    assert entry_levels("SELL", Decimal("10.05"), 0.02, 0.06, Decimal("0.01"))[0] == Decimal(
        "10.25"
    )  # 10.251 down to the grid: nearer the entry
    assert entry_levels("BUY", Decimal("10"), 0.02, 0.06, Decimal("0.01"))[0] == Decimal("9.8")


def test_a_stop_on_the_grid_is_not_taken_for_a_trailing_stop() -> None:
    tick = Decimal("0.01")
    stop, _target = entry_levels("BUY", Decimal("10.04"), 0.02, 0.06, tick)
    args = ("STOPPED_OUT", "BUY", Decimal("10.04"), Decimal("0.02"), Decimal("0.06"), stop)
    assert exit_reason(*args, tick) == STOP_LOSS
    assert exit_reason(*args) == TRAILING_STOP  # without the grid it looks moved


def test_the_freqtrade_target_is_six_percent_net_of_both_fees() -> None:
    fee = 0.0035
    pct = take_profit_for_net(0.06, fee)
    entry, amount = 100.0, 1.0
    target = entry * (1 + pct)
    net = target * amount * (1 - fee) - entry * amount * (1 + fee)
    paid = entry * amount * (1 + fee)  # the stake and its opening fee: Freqtrade's ratio
    assert net / paid == pytest.approx(0.06, abs=1e-12)


# --- the bar that made an exit ---------------------------------------------------------------


def test_the_verdict_names_the_bar_that_made_the_exit() -> None:
    levels = Levels(
        side="BUY",
        entry_price=Decimal(100),
        stop_loss_price=Decimal(98),
        take_profit_price=Decimal(106),
        best_price=Decimal(100),
        trailing_activation_pct=None,
        trailing_distance_pct=None,
        opened_at=T0,
        max_holding_hours=Decimal(72),
    )
    bars = [
        Bar(T0, Decimal(101), Decimal(99)),
        Bar(T0 + timedelta(minutes=5), Decimal(100), Decimal(97)),
    ]
    now = T0 + timedelta(minutes=10)
    assert judge(levels, bars, Decimal(99), now).at == T0 + timedelta(minutes=5)
    timeout = judge(levels, bars[:1], Decimal(100), T0 + timedelta(hours=72))
    assert timeout.exit_status == "TIMEOUT" and timeout.at == T0 + timedelta(hours=72)
    assert judge(levels, bars[:1], Decimal(100), now).at is None


# --- the data's price grid -------------------------------------------------------------------


def test_the_data_s_grid_is_its_most_decimals() -> None:
    assert data_tick([np.array([16506.14, 16500.0])]) == Decimal("0.01")
    assert data_tick([np.array([0.6226, 2.1])]) == Decimal("0.0001")
    assert data_tick([np.array([10.0, 12.0])]) == Decimal("1")
    assert data_tick([np.array([1.5]), np.array([0.123])]) == Decimal("0.001")


# --- rules profiles and sweeps ---------------------------------------------------------------


def test_the_freqtrade_profile_and_bad_names() -> None:
    chosen = rules("freqtrade")
    assert chosen.settings["max_positions_per_pair"] == 1
    assert chosen.settings["risk_checks_enforced"] is False
    assert chosen.trade_params["position_size_zar"] == 10000
    with pytest.raises(helios.InvalidInput, match="rules"):
        rules("backtrader")
    with pytest.raises(helios.InvalidInput, match="settings"):
        rules("helios", settings={"initial_capital_zar": 5})
    with pytest.raises(helios.InvalidInput, match="max_drawdown_pct"):
        rules("helios", limits={"max_drawdown_pct": 3})


def test_a_sweep_is_every_combination_in_order() -> None:
    grid = parse_sweep(["max_drawdown_pct=0.10,0.15", "max_leverage=1,2"])
    assert grid == [
        {"max_drawdown_pct": 0.10, "max_leverage": 1.0},
        {"max_drawdown_pct": 0.10, "max_leverage": 2.0},
        {"max_drawdown_pct": 0.15, "max_leverage": 1.0},
        {"max_drawdown_pct": 0.15, "max_leverage": 2.0},
    ]
    for bad, named in (
        (["max_leverag=1"], "max_leverag"),
        (["max_leverage"], "NAME=V1"),
        (["max_leverage=1", "max_leverage=2"], "each limit once"),
        (["max_drawdown_pct=0.1,x"], "a number"),
        (["max_drawdown_pct=2"], "max_drawdown_pct"),
    ):
        with pytest.raises(helios.InvalidInput, match=named):
            parse_sweep(bad)


# --- the skip-ahead scan ---------------------------------------------------------------------


def _candles(lows: list[float], highs: list[float], opens: list[float]) -> object:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "timestamp": [T0 + timedelta(minutes=5 * i) for i in range(len(lows))],
            "open": opens,
            "high": highs,
            "low": lows,
            "close": opens,
            "volume": [1.0] * len(lows),
        }
    )
    return from_frame("BTCZAR", frame, source="test")


def _held(**changes: object) -> Held:
    base = {
        "pair": "BTCZAR",
        "long": True,
        "entry": 100.0,
        "quantity": 1.0,
        "margin": 100.0,
        "stop": 98.0,
        "target": 106.0,
        "best": 100.0,
        "activation": None,
        "timeout_at": int((T0 + timedelta(days=9)).timestamp()),
    }
    base.update(changes)
    return Held(**base)  # type: ignore[arg-type]


def test_the_scan_steps_at_the_close_of_the_bar_that_reaches_a_level() -> None:
    c = _candles([99, 99, 97.5, 99, 99], [101, 101, 101, 101, 101], [100, 100, 100, 100, 100])
    instants = np.append(c.ts, c.ts[-1] + 300)
    assert position_event(_held(), c, instants, 300, 0, 5) == 3  # bar 2 closes at instant 3
    # an open that gaps through the stop: the step at that open
    gap = _candles([99, 99, 96, 99], [101, 101, 97, 101], [100, 100, 96.5, 100])
    instants = np.append(gap.ts, gap.ts[-1] + 300)
    assert position_event(_held(), gap, instants, 300, 0, 4) == 2
    # the holding limit comes first
    limit = _held(timeout_at=int(c.ts[1]))
    assert position_event(limit, c, np.append(c.ts, c.ts[-1] + 300), 300, 0, 5) == 1
    # nothing before the bound: None (the bound is not an event); between two states: the next
    assert position_event(_held(), c, np.append(c.ts, c.ts[-1] + 300), 300, 0, 2) is None
    assert position_event(_held(settled=False), c, instants, 300, 0, 2) == 1


def test_the_scan_steps_where_equity_nears_a_limit_or_peaks() -> None:
    opens = [100, 104, 101, 100, 80]
    c = _candles(opens, opens, opens)
    instants = np.append(c.ts, c.ts[-1] + 300)
    at = marks(instants, {"BTCZAR": c}, 300)
    held = [_held(quantity=100.0, margin=1000.0)]
    # cash 9,000 + margin 1,000 = 10,000 at 100; the open of bar 1 (104) is a new peak
    assert equity_event(held, 9000.0, 10000.0, 10000.0, 0.5, 0.5, at, 0, 5) == 1
    # with the peak already at 10,400: the open of bar 4 (80) loses 20% of the day's 10,000
    assert equity_event(held, 9000.0, 10400.0, 10000.0, 0.5, 0.15, at, 0, 5) == 4
    # nothing near a limit, no new peak: None; an event on the bound itself counts
    assert equity_event(held, 9000.0, 10400.0, 10000.0, 0.5, 0.5, at, 0, 3) is None
    assert equity_event(held, 9000.0, 10400.0, 10000.0, 0.5, 0.15, at, 0, 4) == 4
    assert equity_event(held, 9000.0, 10000.0, 10000.0, 0.5, 0.5, at, 0, 1) == 1


def test_a_step_is_light_only_where_nothing_but_a_signal_can_act() -> None:
    """``next_instant``: the next step, and whether it is light (the monitor left out): only
    when a signal alone makes it, never on a day start, the end, a level or an equity event."""
    c = _candles([99] * 6, [101] * 6, [100] * 6)
    instants = np.append(c.ts, c.ts[-1] + 300)
    at = marks(instants, {"BTCZAR": c}, 300)
    pairs = {"BTCZAR": c}
    limits = (0.5, 0.5)
    empty = Book([], 10000.0, 10000.0, 10000.0)
    assert next_instant(empty, limits, pairs, instants, 300, at, 0, signal=2, day=9) == (2, True)
    # the signal on a new trading day: the day roll needs the full step
    assert next_instant(empty, limits, pairs, instants, 300, at, 0, signal=2, day=2) == (2, False)
    # no signal left: the end
    assert next_instant(empty, limits, pairs, instants, 300, at, 0, signal=7, day=9) == (6, False)
    # a position whose stop bar 2 reaches (the step at its close, instant 3)
    low = _candles([99, 99, 97.5, 99, 99, 99], [101] * 6, [100] * 6)
    held = Book([_held()], 9900.0, 10000.0, 10000.0)
    at_low = marks(instants, {"BTCZAR": low}, 300)
    pairs_low = {"BTCZAR": low}
    assert next_instant(held, limits, pairs_low, instants, 300, at_low, 0, signal=5, day=9) == (
        3,
        False,
    )
    # the same level at the signal's instant: a full step there
    assert next_instant(held, limits, pairs_low, instants, 300, at_low, 0, signal=3, day=9) == (
        3,
        False,
    )
    # the level after the signal: the signal's step is light
    assert next_instant(held, limits, pairs_low, instants, 300, at_low, 0, signal=2, day=9) == (
        2,
        True,
    )


# --- progress --------------------------------------------------------------------------------


def test_progress_is_redrawn_at_most_every_fifth_of_a_second_and_at_the_end() -> None:
    from helios.replay.progress import ProgressMeter

    now = [100.0]
    meter = ProgressMeter(every=0.2, clock=lambda: now[0])
    now[0] = 101.0
    first = meter.reading(5_000, 20_000)
    assert first is not None and first.share == 0.25 and first.rate == 5_000
    assert first.text() == "5,000/20,000 candles  5,000 candles/s"
    now[0] = 101.1
    assert meter.reading(6_000, 20_000) is None  # too soon
    assert meter.reading(20_000, 20_000) is not None  # the end is always drawn
    now[0] = 101.4
    assert meter.reading(7_000, 20_000) is not None


def test_the_preview_places_the_stop_on_the_grid_as_the_fill_does(tmp_path) -> None:
    clock = ManualClock(T0)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with connect_book(url, clock, price_tick="1") as hx:
        give_market(hx)
        # 2,500 x (1 - 0.0213) = 2,446.75: on a grid of 1, toward the entry, 2,447
        params = {"position_size_zar": 1000, "stop_loss_pct": 0.0213, "take_profit_pct": 0.06}
        preview = hx.risk.preview("SOLZAR", "BUY", params)
        hx.signals.submit("SOLZAR", "BUY", 0.8, True, trade_params=params)
        (outcome,) = hx.signals.process_pending()
        opened = hx.positions.position_history(outcome.position_id)
        stop = Decimal(str(opened["position"]["stop_loss_price"]))
    assert stop == Decimal("2447")
    assert preview.levels.stop_loss_price == stop
