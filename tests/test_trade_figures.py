"""The closed trades list's pure rules (helios.positions.trade_figures): duration, net P&L % of
the margin, the exit reason (trailing stop told apart), slippage to the trigger level (positive =
worse for us), the filter's refusals and the CSV's exact strings."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from helios.errors import InvalidInput
from helios.positions.trade_figures import (
    CSV_COLUMNS,
    ClosedTrade,
    TradeFilter,
    TradePage,
    csv_name,
    duration_text,
    figures,
    slippage,
    trades_csv,
)

D = Decimal
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def trade(**changes: object) -> ClosedTrade:
    """A long BTCZAR, R1,000 margin x 2 entered at R1,200,000 (stop 2%: R1,176,000; target 6%:
    R1,272,000), stopped out at its stop and filled R600 below it."""
    base = ClosedTrade(
        position_id=7,
        pair="BTCZAR",
        side="BUY",
        status="STOPPED_OUT",
        mode="PAPER",
        opened_at=T0,
        closed_at=T0 + timedelta(hours=3, minutes=12, seconds=59),
        entry_price=D("1200000"),
        exit_price=D("1175400"),
        exit_trigger_price=D("1176000"),
        stop_loss_pct=D("0.02"),
        take_profit_pct=D("0.06"),
        quantity=D("0.001666666667"),
        position_size_zar=D("1000"),
        leverage=D("2"),
        entry_fee=D("7"),
        exit_fee=D("6.86"),
        realized_pnl=D("-54.86"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("held", "text"),
    [
        (timedelta(seconds=40), "40 s"),
        (timedelta(minutes=12, seconds=59), "12 min"),
        (timedelta(hours=3, minutes=12, seconds=30), "3 h 12 min"),
        (timedelta(hours=1), "1 h 0 min"),
        (timedelta(days=2, hours=5, minutes=59), "2 d 5 h"),
        (timedelta(seconds=-5), "0 s"),
        (None, "-"),
    ],
)
def test_duration_is_human_and_rounded_down(held: timedelta | None, text: str) -> None:
    assert duration_text(held) == text


def test_a_stop_out_filled_below_its_stop_is_positive_slippage() -> None:
    fig = figures(trade())
    assert fig.duration == timedelta(hours=3, minutes=12, seconds=59)
    assert fig.duration_text == "3 h 12 min"
    assert fig.fees == D("13.86")
    assert fig.net_pnl_ratio == D("-0.05486")  # -54.86 of a R1,000 margin
    assert fig.exit_label == "Stop loss"
    # R600 worse a unit over 0.001666666667 BTC, and 600 / 1,176,000 of the level
    assert fig.slippage_zar == D("1.00000000")
    assert fig.slippage_ratio == D("0.00051020")


def test_slippage_sign_by_side_positive_is_worse_for_us() -> None:
    # a long closes by selling: below the level is worse; a short closes by buying: above is
    assert slippage("BUY", D("99"), D("100"), D("2")) == (D("2"), D("0.01"))
    assert slippage("BUY", D("101"), D("100"), D("2")) == (D("-2"), D("-0.01"))
    assert slippage("SELL", D("101"), D("100"), D("2")) == (D("2"), D("0.01"))
    assert slippage("SELL", D("99"), D("100"), D("2")) == (D("-2"), D("-0.01"))
    assert slippage("BUY", D("99"), None, D("2")) is None
    assert slippage("BUY", None, D("100"), D("2")) is None


@pytest.mark.parametrize(
    ("changes", "label", "slip"),
    [
        # a target filled above its level: better for us, negative
        (
            {
                "status": "TAKE_PROFIT",
                "exit_trigger_price": D("1272000"),
                "exit_price": D("1272600"),
            },
            "Take profit",
            D("-1.00000000"),
        ),
        # the trailing stop had moved the stop up to 1,230,000: a stop-out there is "Trailing stop"
        (
            {"exit_trigger_price": D("1230000"), "exit_price": D("1229400")},
            "Trailing stop",
            D("1.00000000"),
        ),
        # a timeout's trigger is the price the monitor saw
        (
            {"status": "TIMEOUT", "exit_trigger_price": D("1210000"), "exit_price": D("1209400")},
            "Timeout",
            D("1.00000000"),
        ),
        # no trigger level: blank
        # a stop-out with no level recorded (closed by hand as STOPPED_OUT): nothing says the
        # stop had moved, a stop loss (the chart says the same: one rule)
        ({"exit_trigger_price": None}, "Stop loss", None),
        ({"status": "CLOSED", "exit_trigger_price": None}, "Manual close", None),
        ({"status": "EMERGENCY_CLOSE", "exit_trigger_price": None}, "Emergency close", None),
    ],
)
def test_exit_reason_and_slippage_by_exit(
    changes: dict[str, object], label: str, slip: Decimal | None
) -> None:
    fig = figures(trade(**changes))
    assert fig.exit_label == label
    assert fig.slippage_zar == slip


def test_a_short_stopped_above_its_stop() -> None:
    short = trade(
        side="SELL",
        exit_trigger_price=D("1224000"),  # 2% above the entry: the entry's stop, not trailed
        exit_price=D("1224600"),
    )
    fig = figures(short)
    assert fig.exit_label == "Stop loss"
    assert fig.slippage_zar == D("1.00000000")


def test_a_failed_open_has_no_duration_pnl_or_slippage() -> None:
    failed = trade(
        status="FAILED",
        opened_at=None,
        closed_at=None,
        entry_price=None,
        exit_price=None,
        exit_trigger_price=None,
        quantity=None,
        entry_fee=None,
        exit_fee=None,
        realized_pnl=None,
    )
    fig = figures(failed)
    assert (fig.duration, fig.duration_text, fig.net_pnl_ratio, fig.slippage_zar) == (
        None,
        "-",
        None,
        None,
    )
    assert fig.fees == D("0")
    assert fig.exit_label == "Failed open"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": True}, "page"),
        ({"page": 1.5}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"reasons": ("LOST",)}, "reasons"),
        ({"reasons": ["CLOSED"]}, "reasons"),
        ({"start": datetime(2026, 1, 1)}, "start"),  # naive
        ({"start": T0, "end": T0}, "end"),
    ],
)
def test_a_bad_filter_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        TradeFilter(**changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_paging_arithmetic() -> None:
    wanted = TradeFilter(page=3, page_size=25)
    assert wanted.offset == 50
    assert TradePage((), total=0, page=1, page_size=25).pages == 1
    assert TradePage((), total=51, page=1, page_size=25).pages == 3


def test_the_csv_has_exact_decimal_strings_and_blanks() -> None:
    rows = [
        (t, figures(t))
        for t in (trade(), trade(position_id=8, status="CLOSED", exit_trigger_price=None))
    ]
    parsed = list(csv.DictReader(io.StringIO(trades_csv(rows))))
    assert list(parsed[0]) == list(CSV_COLUMNS)
    first, manual = parsed
    assert first["entry_price"] == "1200000"
    assert first["exit_price"] == "1175400"
    assert first["fees_zar"] == "13.86"
    assert first["net_pnl_zar"] == "-54.86"
    assert first["net_pnl_pct"] == "-5.486"
    assert first["slippage_zar"] == "1"
    assert first["slippage_pct"] == "0.05102"
    assert first["quantity"] == "0.001666666667"
    assert first["duration_seconds"] == str(3 * 3600 + 12 * 60 + 59)
    assert first["entry_time"] == "2026-11-26T08:00:00+00:00"
    assert first["exit_reason"] == "Stop loss" and first["exit_status"] == "STOPPED_OUT"
    assert manual["slippage_zar"] == "" and manual["trigger_price"] == ""
    assert manual["exit_reason"] == "Manual close"
    assert csv_name(T0.date(), T0.date()) == "helios-trades-2026-11-26-to-2026-11-26.csv"
