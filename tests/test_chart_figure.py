"""The price chart's figure (``ui.candles``), built without a browser; and the exit reasons
(``helios.positions.exit_reasons``, the closed trades list's too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from helios.positions.exit_reasons import EXIT_REASONS, exit_reason
from helios.positions.trade_marks import TradeMark
from ui.candles import (
    ENTRY_NAME,
    EXIT_COLOURS,
    STOP_NAME,
    TARGET_NAME,
    build_figure,
    exit_trace_name,
    marker_count,
    selected_position,
    story_link,
)

D = Decimal
T0 = datetime(2026, 11, 26, 6, tzinfo=UTC)  # 08:00 in Johannesburg
ZONE = "Africa/Johannesburg"


def candles(hours: int = 12) -> pd.DataFrame:
    stamps = pd.date_range(T0, periods=hours, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "open": 100.0,
            "high": 102.0,
            "low": 98.0,
            "close": 101.0,
            "volume": 1.0,
        }
    )


def mark(pid: int, hour: int, reason: str | None, side: str = "BUY") -> TradeMark:
    open_ = reason is None
    return TradeMark(
        position_id=pid,
        pair="BTCZAR",
        side=side,
        status="OPEN" if open_ else "CLOSED",
        margin=D("903"),
        leverage=D("2"),
        quantity=D("0.0015"),
        entry_time=T0 + timedelta(hours=hour),
        entry_price=D("100"),
        exit_time=None if open_ else T0 + timedelta(hours=hour + 1),
        exit_price=None if open_ else D("101.5"),
        exit_reason=reason,
        pnl=D("-12.34") if open_ else D("5.5"),
        stop=D("98") if open_ else None,
        target=D("106") if open_ else None,
    )


def trace(figure, name: str):  # type: ignore[no-untyped-def]
    [found] = [t for t in figure.data if t.name == name]
    return found


def test_one_entry_per_position_one_exit_per_closed_one_coloured_by_reason() -> None:
    trades = [mark(i + 1, i, reason) for i, reason in enumerate(EXIT_REASONS)]
    trades += [mark(7, 8, None), mark(8, 9, None, side="SELL")]
    figure = build_figure(candles(), trades, pair="BTCZAR", interval="1h", end=T0, zone=ZONE)
    assert marker_count(figure) == 8 + 6
    entries = trace(figure, ENTRY_NAME)
    assert [c[0] for c in entries.customdata] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert entries.marker.symbol == "triangle-up"  # turned down for a SELL
    assert [a % 360 for a in entries.marker.angle] == [0] * 7 + [180]
    for number, reason in enumerate(EXIT_REASONS, start=1):
        exits = trace(figure, exit_trace_name(reason))
        assert exits.marker.color == EXIT_COLOURS[reason]
        assert [c[0] for c in exits.customdata] == [number]
        assert exits.y == (101.5,)
    assert len(set(EXIT_COLOURS.values())) == len(EXIT_REASONS)  # each reason its own colour


def test_open_positions_draw_their_stop_and_target_to_the_end_of_the_range() -> None:
    end = T0 + timedelta(hours=12)
    trades = [mark(1, 0, "Take profit"), mark(7, 3, None)]
    figure = build_figure(candles(), trades, pair="BTCZAR", interval="1h", end=end, zone=ZONE)
    stop, target = trace(figure, STOP_NAME), trace(figure, TARGET_NAME)
    assert list(stop.y) == [98.0, 98.0, None] and list(target.y) == [106.0, 106.0, None]
    # from the entry to the end, on the trading-day zone's clock (UTC+2)
    assert list(stop.x)[:2] == [datetime(2026, 11, 26, 11), datetime(2026, 11, 26, 20)]
    assert [c[0] for c in stop.customdata[:2]] == [7, 7]
    assert marker_count(figure) == 3  # two entries, one exit: lines are not markers


def test_no_positions_no_markers_and_no_lines() -> None:
    figure = build_figure(candles(), [], pair="BTCZAR", interval="1h", end=T0, zone=ZONE)
    assert [t.type for t in figure.data] == ["candlestick"]
    assert marker_count(figure) == 0
    assert len(figure.data[0].x) == 12
    assert figure.data[0].x[0] == pd.Timestamp("2026-11-26 08:00")  # SAST wall clock


def test_the_hover_names_the_position_its_size_and_pnl() -> None:
    figure = build_figure(
        candles(), [mark(42, 1, "Stop loss")], pair="BTCZAR", interval="1h", end=T0, zone=ZONE
    )
    entry = trace(figure, ENTRY_NAME).text[0]
    assert "Position 42" in entry and "Margin R903.00" in entry and "2x" in entry
    assert "Net P&L R5.50" in entry and "(Stop loss)" in entry
    assert "Entry R100.00 at 2026-11-26 09:00" in entry  # 07:00 UTC in SAST
    open_one = build_figure(
        candles(), [mark(7, 1, None)], pair="BTCZAR", interval="1h", end=T0, zone=ZONE
    )
    text = trace(open_one, ENTRY_NAME).text[0]
    assert "Unrealized P&L -R12.34" in text and "Stop R98.00" in text and "target R106.00" in text


def test_a_selected_marker_gives_its_position_and_its_story_link() -> None:
    point = {"curve_number": 1, "point_index": 0, "x": "2026-11-26", "customdata": [17]}
    assert selected_position({"points": [point], "box": [], "lasso": []}) == 17
    assert selected_position({"points": [{"curve_number": 0, "x": 1}, point]}) == 17
    assert selected_position({"points": [], "box": [], "lasso": []}) is None
    assert selected_position(None) is None
    assert selected_position({"points": [{"customdata": [True]}]}) is None
    assert story_link(17) == "/positions?position=17"


@pytest.mark.parametrize(
    ("status", "trigger", "reason"),
    [
        ("STOPPED_OUT", D("98"), "Stop loss"),  # the stop it opened with: 100 x (1 - 2%)
        ("STOPPED_OUT", D("99.5"), "Trailing stop"),  # moved in its favour
        ("STOPPED_OUT", None, "Stop loss"),  # no level recorded: nothing says it was trailed
        ("TAKE_PROFIT", D("106"), "Take profit"),
        ("TIMEOUT", D("101"), "Timeout"),
        ("CLOSED", None, "Manual close"),
        ("EMERGENCY_CLOSE", None, "Emergency close"),
        ("FAILED", None, "Failed open"),
        ("OPEN", None, None),
        ("CLOSING", D("98"), None),
    ],
)
def test_exit_reasons(status: str, trigger: Decimal | None, reason: str | None) -> None:
    assert exit_reason(status, "BUY", D("100"), D("0.02"), D("0.06"), trigger) == reason


def test_a_short_stopped_at_its_first_stop_is_a_stop_loss() -> None:
    assert exit_reason("STOPPED_OUT", "SELL", D("100"), D("0.02"), D("0.06"), D("102")) == (
        "Stop loss"
    )
    assert exit_reason("STOPPED_OUT", "SELL", D("100"), D("0.02"), D("0.06"), D("100.5")) == (
        "Trailing stop"
    )
    # a failed open has no entry price: its label, never a comparison with a stop
    assert exit_reason("STOPPED_OUT", "SELL", None, D("0.02"), D("0.06"), D("100.5")) == (
        "Stop loss"
    )
