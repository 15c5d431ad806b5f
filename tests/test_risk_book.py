"""The pure rules under ``hx.risk``'s reads, table-driven, no database: the account as the checks
see it with the LIVE capital cap (``risk.book``), the risk budget and the gauges
(``risk.utilisation``), and a preview's headroom and levels (``risk.preview``).

``hx.risk`` runs them on the database's rows (tests/test_risk_service.py, tests/test_sizing.py).
"""

from __future__ import annotations

import math
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from helios.risk.book import portfolio
from helios.risk.checks import (
    CheckResult,
    MarketStats,
    OpenExposure,
    PortfolioState,
    ProposedTrade,
    RiskResult,
)
from helios.risk.inputs import Inputs, decide
from helios.risk.limits import RiskLimits
from helios.risk.preview import headroom, levels
from helios.risk.utilisation import budget, held_notional, utilisation
from helios.trade import TradeParams

D = Decimal
NAN = float("nan")
SETTINGS: Any = SimpleNamespace(
    sector_of=lambda pair: "defi" if pair == "SOLZAR" else "crypto",
    live_capital_cap_zar=D("5000"),
)


def account(cash: str, peak: str, mode: str = "PAPER") -> SimpleNamespace:
    return SimpleNamespace(cash=D(cash), peak_equity=D(peak), trading_mode=mode)


def row(pair: str, side: str, qty: str | None, entry: str | None, margin: str, lev: str, mark):
    """An exposed position as ``statements.OPEN_POSITIONS`` reads it."""
    return (
        pair,
        side,
        D(qty) if qty is not None else None,
        D(entry) if entry is not None else None,
        D(margin),
        D(lev),
        D(mark) if mark is not None else None,
    )


@pytest.mark.parametrize(
    ("cash", "positions", "equity", "notionals", "fully_priced", "reserved"),
    [
        ("1000", [], D("1000"), [], True, []),  # cash alone
        (  # a long of 0.1 at 100 with R5 margin (2x), marked at 110: +R1
            "1000",
            [row("BTCZAR", "BUY", "0.1", "100", "5", "2", "110")],
            D("1006"),
            [11.0],
            True,
            [],
        ),
        (  # a short marked against it: -R1
            "1000",
            [row("ETHZAR", "SELL", "0.1", "100", "5", "2", "110")],
            D("1004"),
            [11.0],
            True,
            [],
        ),
        (  # no mark: carried at its margin, exposure unknown (NaN)
            "1000",
            [row("BTCZAR", "BUY", "0.1", "100", "5", "2", None)],
            D("1005"),
            [NAN],
            False,
            [],
        ),
        (  # being opened: its intended notional counts, its margin is still cash (reserved)
            "1000",
            [row("SOLZAR", "BUY", None, None, "50", "3", "10")],
            D("1000"),
            [150.0],
            True,
            [(D("50"), D("3"))],
        ),
    ],
)
def test_the_book_the_checks_see(
    cash: str,
    positions: list[tuple[Any, ...]],
    equity: Decimal,
    notionals: list[float],
    fully_priced: bool,
    reserved: list[tuple[Decimal, Decimal]],
):
    book = portfolio(account(cash, "2000"), positions, SETTINGS, D("900"))
    assert book.equity == equity
    assert book.state.equity == float(equity)
    got = [p.notional for p in book.state.positions]
    assert [math.isnan(n) for n in got] == [math.isnan(n) for n in notionals]
    assert [n for n in got if not math.isnan(n)] == [n for n in notionals if not math.isnan(n)]
    assert [p.sector for p in book.state.positions] == [SETTINGS.sector_of(p[0]) for p in positions]
    assert (book.fully_priced, book.reserved, book.cap) == (fully_priced, reserved, None)
    assert book.state.start_of_day_equity == 900.0


@pytest.mark.parametrize(
    ("cash", "peak", "start", "equity", "scale"),
    [
        ("4000", "4000", "4000", 4000.0, 1.0),  # under the cap: unchanged
        ("10000", "12000", "11000", 5000.0, 0.5),  # twice the cap: equity, peak, start halved
    ],
)
def test_live_sees_the_capital_cap(cash: str, peak: str, start: str, equity: float, scale: float):
    book = portfolio(account(cash, peak, "LIVE"), [], SETTINGS, D(start))
    assert book.state.equity == equity
    assert book.state.peak_equity == float(peak) * scale
    assert book.state.start_of_day_equity == float(start) * scale
    assert book.equity == D(cash)  # the ledger's own, uncapped
    assert book.cap is not None
    assert (book.cap.cap_zar, book.cap.ledger_equity, book.cap.scale) == (
        5000.0,
        float(cash),
        scale,
    )


def test_an_unknown_day_start_lets_the_equity_stand_in_with_the_reason():
    book = portfolio(account("1000", "1000"), [], SETTINGS, None, "no price at midnight")
    assert book.state.start_of_day_equity == 1000.0
    assert book.state.marks_unknown == "no price at midnight"


LIMITS = RiskLimits(max_portfolio_risk_exposure_pct=0.1, min_position_size_pct=0.05)


def state(*positions: OpenExposure, equity: float = 1000.0, peak: float = 1000.0, start=1000.0):
    return PortfolioState(equity, peak, start, tuple(positions))


def stats(**vols: float) -> MarketStats:
    return MarketStats(daily_vol=vols, pairs=(), covariance=(), aligned_obs=0)


@pytest.mark.parametrize(
    ("book", "vols", "used", "left", "share"),
    [
        (state(), {}, 0.0, 100.0, 0.0),  # budget 0.1 x 1000, nothing used
        (  # 200 x 4% + 100 x 2% = 10 of 100
            state(
                OpenExposure("BTCZAR", "BUY", 200.0, "crypto"),
                OpenExposure("ETHZAR", "SELL", 100.0, "crypto"),
            ),
            {"BTCZAR": 0.04, "ETHZAR": 0.02},
            10.0,
            90.0,
            0.1,
        ),
        (  # a pair without a volatility: used is NaN, never guessed
            state(OpenExposure("BTCZAR", "BUY", 200.0, "crypto")),
            {},
            NAN,
            NAN,
            NAN,
        ),
    ],
)
def test_the_risk_budget(book: PortfolioState, vols: dict[str, float], used, left, share):
    out = budget(book, LIMITS, stats(**vols))
    assert out["risk_budget_zar"] == 100.0
    assert out["min_position_notional_zar"] == 50.0
    for key, want in (("risk_used_zar", used), ("risk_left_zar", left)):
        assert math.isnan(out[key]) if math.isnan(want) else out[key] == pytest.approx(want)
    got = out["risk_used_pct_of_budget"]
    assert math.isnan(got) if math.isnan(share) else got == pytest.approx(share)


def test_the_gauges_of_the_open_book():
    book = state(
        OpenExposure("BTCZAR", "BUY", 200.0, "crypto"),
        OpenExposure("BTCZAR", "SELL", 50.0, "crypto"),
        OpenExposure("SOLZAR", "BUY", 100.0, "defi"),
        equity=900.0,
        peak=1000.0,
        start=1000.0,
    )
    rows = {r["check"]: r for r in utilisation(book, LIMITS, stats(BTCZAR=0.02), SETTINGS)}
    assert [r["number"] for r in rows.values()] == [1, 2, 3, 4, 5, 6, 7]
    expected = {
        "drawdown": 0.1,  # 1 - 900 / 1000
        "daily_loss": 0.1,
        "risk_capacity": None,  # SOLZAR has no volatility: NaN used, no value
        "single_position": 250 / 900,  # BTCZAR's gross notional
        "sector_exposure": 250 / 900,  # crypto
        "correlation": None,  # judges a new trade, not the book
        "leverage": 350 / 900,
    }
    for name, value in expected.items():
        got = rows[name]["value"]
        assert got is None if value is None else got == pytest.approx(value), name
    assert rows["drawdown"]["used"] == pytest.approx(0.1 / LIMITS.max_drawdown_pct)
    assert rows["correlation"]["used"] is None


@pytest.mark.parametrize(
    ("positions", "expected"),
    [
        ((), {}),
        (
            (
                OpenExposure("BTCZAR", "BUY", 200.0, "crypto"),
                OpenExposure("BTCZAR", "SELL", 50.0, "crypto"),
                OpenExposure("ETHZAR", "SELL", 30.0, "crypto"),
                OpenExposure("SOLZAR", "BUY", NAN, "defi"),  # no mark: left out
            ),
            {"BTCZAR": 150.0, "ETHZAR": -30.0},
        ),
    ],
)
def test_held_notional_is_signed(positions: tuple[OpenExposure, ...], expected: dict[str, float]):
    assert held_notional(state(*positions)) == expected


def inputs(price: float | None, *, halted: bool = False) -> Inputs:
    trade = ProposedTrade("BTCZAR", "BUY", 100.0, 2.0, "crypto", price)
    return Inputs(state(), LIMITS, trade, stats(BTCZAR=0.04), halted, "stop" if halted else "")


def check(name: str, value: float | None, limit: float) -> CheckResult:
    return CheckResult(1, name, f"{name}_limit", True, value, limit, "")


@pytest.mark.parametrize(
    ("result_check", "room", "extra"),
    [
        (
            check("single_position", 0.05, 0.2),
            pytest.approx(0.15),
            pytest.approx(150.0),
        ),  # 0.15 x 1000
        (check("leverage", 2.5, 3.0), 0.5, 500.0),
        (check("sector_exposure", 0.7, 0.6), pytest.approx(-0.1), 0.0),  # over: no more fits
        (check("risk_capacity", 0.06, 0.1), pytest.approx(0.04), pytest.approx(1000.0)),  # / 4%
        (check("drawdown", 0.05, 0.15), pytest.approx(0.1), None),  # not a notional limit
        (check("correlation", None, 0.9), None, None),  # no value: no headroom
    ],
)
def test_a_previews_headroom(result_check: CheckResult, room: Any, extra: Any):
    result = RiskResult(True, "", [], [result_check])
    (row_,) = headroom(inputs(100.0), result)
    assert (row_.check, row_.limit_name, row_.limit) == (
        result_check.name,
        result_check.limit_name,
        result_check.limit,
    )
    assert row_.headroom == room
    assert row_.max_additional_notional_zar == extra


@pytest.mark.parametrize(
    ("price", "stop", "target"),
    [
        (100.0, D("95"), D("110")),  # 5% under, 10% over the latest price for a long
        (None, None, None),  # no price: no levels, the stake is still known
    ],
)
def test_a_previews_levels(price: float | None, stop: Decimal | None, target: Decimal | None):
    params = TradeParams(
        position_size_zar=100.0,
        leverage=2.0,
        stop_loss_pct=0.05,
        take_profit_pct=0.1,
        max_holding_hours=24.0,
    )
    got = levels(inputs(price), params)
    assert got.notional_zar == D("200")
    assert got.zar_at_risk == D("10")  # 200 x 5%
    assert (got.stop_loss_price, got.take_profit_price) == (stop, target)


def test_a_halted_decision_judges_nothing_else():
    result = decide(inputs(100.0, halted=True))
    assert not result.passed
    assert result.halted
    assert "stop" in result.reason
