"""``hx.metrics``: the seed's weekly checks, against numbers worked by hand."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from factories import PRICES, booked_position, connect_book
from sqlalchemy import Float, cast, select, text, update

import helios
from helios.clock import ManualClock
from helios.db.models import PortfolioSnapshot, Position
from helios.errors import InvalidInput
from helios.metrics_stats import (
    DayRange,
    daily_returns,
    max_drawdown,
    max_drawdown_by_day,
    sharpe,
    sortino,
)

D = Decimal


def test_daily_returns_take_the_last_equity_of_each_utc_day():
    ts = pd.to_datetime(
        ["2026-11-20 08:00", "2026-11-20 23:00", "2026-11-21 12:00", "2026-11-23 01:00"], utc=True
    )
    returns = daily_returns(ts, [100.0, 110.0, 99.0, 108.9])
    # days: 20th closes 110, 21st 99 (-10%), 23rd 108.9 (+10%); the 22nd had no snapshot
    assert list(returns.round(12)) == [-0.1, 0.1]


def test_sharpe_and_sortino_by_hand():
    returns = pd.Series([0.01, -0.02, 0.03, 0.0])
    rf = 0.0
    mean = 0.005
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 3)
    assert sharpe(returns, rf, 365) == pytest.approx(mean / std * math.sqrt(365))
    downside = math.sqrt((0.02**2) / 4)
    assert sortino(returns, rf, 365) == pytest.approx(mean / downside * math.sqrt(365))
    # no dispersion or no losing day: undefined, not infinite
    assert sharpe(pd.Series([0.01, 0.01]), 0.0, 365) is None
    assert sortino(pd.Series([0.01, 0.02]), 0.0, 365) is None
    assert sharpe(pd.Series([0.01]), 0.0, 365) is None


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak():
    assert max_drawdown([100, 120, 90, 130, 117]) == pytest.approx(0.25)
    assert max_drawdown([]) == 0.0


def test_the_weekly_review_of_a_week_of_trading(database_url: str, clock: ManualClock):
    """Four closed positions (one stop, two targets, one timeout) over a week of snapshots."""
    start = clock.now()
    with connect_book(database_url, clock) as hx:
        for pair, value in PRICES.items():
            hx.market.set_price(pair, value)
        closes = [
            ("BTCZAR", "STOPPED_OUT", "-18.06"),
            ("BTCZAR", "TAKE_PROFIT", "54.18"),
            ("ETHZAR", "TAKE_PROFIT", "20.00"),
            ("SOLZAR", "TIMEOUT", "-3.50"),
        ]
        ids = [booked_position(hx, pair, "BUY", "903", "1") for pair, _, _ in closes]
        # their ends, written as the position manager would record them (the ledger's own
        # arithmetic is tested elsewhere; here the review's sums are the point)
        for pid, (_, status, pnl) in zip(ids, closes, strict=True):
            clock.advance(hours=1)
            with hx.db.write() as session:
                session.execute(
                    update(Position)
                    .where(Position.id == pid)
                    .values(status=status, realized_pnl=D(pnl), closed_at=clock.now())
                )
        equities = [100000, 101000, 99990, 102000, 101000, 103000, 103000]
        for day, equity in enumerate(equities):
            with hx.db.write() as session:
                session.add(
                    PortfolioSnapshot(
                        ts=start + timedelta(days=day, hours=12),
                        mode="PAPER",
                        equity=D(equity),
                        cash=D(equity),
                        margin=D(0),
                        unrealized_pnl=D(0),
                        gross_exposure=D(0),
                        peak_equity=D(max(equities[: day + 1])),
                        start_of_day_equity=D(equity),
                        drawdown=D(1 - equity / max(equities[: day + 1])),
                        daily_pnl=D(0),
                        daily_loss=D("0.06") if day == 2 else D(0),  # one day over the 5% limit
                        leverage=D(0),
                        open_positions=0,
                        halted=False,
                    )
                )
        clock.advance(days=7)
        hx.controls.emergency_stop("thandi", "drill")
        review = hx.metrics.review(start, clock.now())

    assert review["closed_positions"] == 4
    assert review["exits"] == {
        "STOPPED_OUT": 1,
        "TAKE_PROFIT": 2,
        "TIMEOUT": 1,
        "EMERGENCY_CLOSE": 0,
        "CLOSED": 0,
        "TAKE_PROFIT_AT_A_LOSS": 0,  # every target here filled above its entry
    }
    assert review["hit_rates"]["TAKE_PROFIT"] == 0.5 and review["hit_rates"]["TIMEOUT"] == 0.25
    assert review["win_rate"] == 0.5
    assert review["realized_pnl"] == D("52.62")
    assert review["pnl_by_pair"]["BTCZAR"] == {
        "positions": 2,
        "realized_pnl": D("36.12"),
        "wins": 1,
    }
    assert review["pnl_by_exit"]["TAKE_PROFIT"]["realized_pnl"] == D("74.18")
    assert review["average_position_size_zar"] == D("903")
    assert review["risk_limit_violations"] == {
        "max_drawdown_pct": 0,
        "daily_loss_limit_pct": 1,
        "max_leverage": 0,
    }
    assert review["emergency_stops"] == 1
    assert review["daily_returns"] == 6
    returns = pd.Series(equities, dtype=float).pct_change().dropna()
    rf = 0.07 / 365
    expected = float((returns - rf).mean()) / float(returns.std(ddof=1)) * math.sqrt(365)
    assert review["sharpe"] == pytest.approx(expected)
    assert review["max_drawdown"] == pytest.approx(1 - 99990 / 101000)


def test_an_empty_period_says_none_rather_than_zero(hx: helios.Helios, clock: ManualClock):
    review = hx.metrics.review(clock.now() - timedelta(days=7))
    assert review["closed_positions"] == 0
    assert review["win_rate"] is None and review["hit_rates"]["STOPPED_OUT"] is None
    assert review["sharpe"] is None and review["sortino"] is None
    assert review["realized_pnl"] == 0


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("last week", None, "start"),
        ("2026-11-20T00:00:00", None, "start"),  # no zone
        ("2026-11-27T00:00:00Z", "2026-11-20T00:00:00Z", "end"),
    ],
)
def test_a_bad_period_is_refused_naming_the_field(hx: helios.Helios, start, end, field):
    with pytest.raises(InvalidInput) as caught:
        hx.metrics.review(start, end)
    assert caught.value.field == field


# --- the review reads per day in SQL: the same answers as reading every snapshot --------------


def by_day(values: list[float], sizes: list[int]) -> tuple[list[DayRange], dict[date, list[float]]]:
    """``values`` cut into consecutive days of ``sizes`` values: the summaries and the values."""
    days, store, at = [], {}, 0
    for i, size in enumerate(sizes):
        chunk = values[at : at + size]
        at += size
        day = date(2026, 1, 1) + timedelta(days=i)
        days.append(DayRange(day, min(chunk), max(chunk), chunk[-1]))
        store[day] = chunk
    return days, store


def reader(store: dict[date, list[float]], calls: list[tuple[date, date]]):  # type: ignore[no-untyped-def]
    def read(first: date, last: date) -> list[float]:
        calls.append((first, last))
        return [v for day, chunk in store.items() if first <= day <= last for v in chunk]

    return read


def test_max_drawdown_by_day_is_max_drawdown_over_every_value():
    rng = np.random.default_rng(7)
    shapes = {
        "walk": lambda n: 100_000 * np.exp(np.cumsum(rng.normal(0, 0.004, n))),
        "trend up": lambda n: 100_000 * np.exp(np.cumsum(rng.normal(0.002, 0.003, n))),
        "trend down": lambda n: 100_000 * np.exp(np.cumsum(rng.normal(-0.002, 0.003, n))),
        "swings": lambda n: 100_000 * (1 + 0.2 * np.sin(np.arange(n) / 3.0)),
        "steps": lambda n: np.round(100_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), -3),
    }
    for name, make in shapes.items():
        for _ in range(40):
            sizes = [int(x) for x in rng.integers(1, 12, int(rng.integers(1, 30)))]
            values = [float(v) for v in make(sum(sizes))]
            days, store = by_day(values, sizes)
            got = max_drawdown_by_day(days, reader(store, []))
            assert got == max_drawdown(values), (name, sizes)  # the same float, not just close


def test_max_drawdown_by_day_by_hand_and_what_it_reads():
    # the peak on day 1, the trough on day 3, a fall within day 4 that is not the deepest
    values = [100.0, 120.0, 110.0, 115.0, 90.0, 95.0, 130.0, 125.0, 129.0, 128.0]
    days, store = by_day(values, [2, 2, 2, 2, 2])
    calls: list[tuple[date, date]] = []
    assert max_drawdown_by_day(days, reader(store, calls)) == pytest.approx(0.25)
    # the floor is 1 - 90/120 (day 3's low under the peak before it); day 3 alone can reach it
    assert calls == [(date(2026, 1, 3), date(2026, 1, 3))]
    # within a day the order matters, which the summaries do not know: the high after the low
    days, store = by_day([100.0, 80.0, 120.0, 119.0], [4])
    assert max_drawdown_by_day(days, reader(store, [])) == pytest.approx(0.2)
    days, store = by_day([100.0, 120.0, 80.0, 119.0], [4])
    assert max_drawdown_by_day(days, reader(store, [])) == pytest.approx(1 - 80 / 120)
    assert max_drawdown_by_day([], reader({}, [])) == 0.0
    # a long walk: most days cannot hold the deepest fall and are not read
    rng = np.random.default_rng(3)
    values = [float(v) for v in 100_000 * np.exp(np.cumsum(rng.normal(0, 0.001, 365 * 24)))]
    days, store = by_day(values, [24] * 365)
    calls = []
    assert max_drawdown_by_day(days, reader(store, calls)) == max_drawdown(values)
    assert sum((last - first).days + 1 for first, last in calls) < 365 // 4


def snapshot(ts: datetime, equity: str, **values: str) -> PortfolioSnapshot:
    fields = {name: D(values.get(name, "0")) for name in ("drawdown", "daily_loss", "leverage")}
    return PortfolioSnapshot(
        ts=ts,
        mode="PAPER",
        equity=D(equity),
        cash=D(equity),
        margin=D(0),
        unrealized_pnl=D(0),
        gross_exposure=D(0),
        peak_equity=D(equity),
        start_of_day_equity=D(equity),
        daily_pnl=D(0),
        open_positions=0,
        halted=False,
        **fields,
    )


def row_by_row(hx: helios.Helios, start: datetime, end: datetime) -> dict[str, object]:
    """The review's snapshot answers the way it computed them before it read per day: every
    snapshot of the period as floats (the same CAST), in time order."""
    s = PortfolioSnapshot
    limits = hx.risk.get_limits()
    with hx.db.read() as session:
        rows = session.execute(
            select(
                s.ts,
                cast(s.equity, Float),
                cast(s.drawdown, Float),
                cast(s.daily_loss, Float),
                cast(s.leverage, Float),
            )
            .where(s.ts >= start, s.ts <= end)
            .order_by(s.ts, s.id)
        ).all()
    returns = daily_returns([r[0] for r in rows], [r[1] for r in rows])
    periods = hx.settings.periods_per_year
    rf = hx.settings.risk_free_rate / periods
    return {
        "risk_limit_violations": {
            "max_drawdown_pct": sum(r[2] > limits.max_drawdown_pct + 1e-12 for r in rows),
            "daily_loss_limit_pct": sum(r[3] > limits.daily_loss_limit_pct + 1e-12 for r in rows),
            "max_leverage": sum(r[4] > limits.max_leverage + 1e-12 for r in rows),
        },
        "daily_returns": len(returns),
        "sharpe": sharpe(returns, rf, periods),
        "sortino": sortino(returns, rf, periods),
        "max_drawdown": max_drawdown([r[1] for r in rows]),
    }


def snapshot_answers(review: dict[str, object]) -> dict[str, object]:
    return {
        key: review[key]
        for key in ("risk_limit_violations", "daily_returns", "sharpe", "sortino", "max_drawdown")
    }


def test_the_last_snapshot_of_each_utc_day_counts_and_limits_are_strictly_above(
    database_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    """By hand: several snapshots a day written out of time order, a day's last instant and the
    next day's first, and violations exactly at a limit, within its 1e-12 and just above it.
    On PostgreSQL the session's zone is UTC+14, where half of these times fall on another date:
    the days are UTC days all the same."""
    monkeypatch.setenv("PGTZ", "Pacific/Kiritimati")
    day = datetime(2026, 11, 26, tzinfo=UTC)
    with connect_book(database_url, clock) as hx:
        limits = hx.risk.get_limits()
        dd, loss, lev = (
            D(repr(limits.max_drawdown_pct)),
            D(repr(limits.daily_loss_limit_pct)),
            D(repr(limits.max_leverage)),
        )
        rows = [  # in the order written (ids): the day's last snapshot before its first
            snapshot(
                day + timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
                "101000",
                drawdown=str(dd),
            ),  # at the limit: not a violation
            snapshot(day + timedelta(hours=8), "100000", leverage=str(lev)),
            snapshot(day + timedelta(hours=12), "99000", drawdown=str(dd + D("1e-13"))),
            snapshot(day + timedelta(days=1, hours=18), "102000", daily_loss=str(loss)),
            snapshot(day + timedelta(days=1), "98000", drawdown=str(dd + D("1e-9"))),  # over
            snapshot(
                day + timedelta(days=1, hours=12),
                "103000",
                leverage=str(lev + D("1e-7")),
                daily_loss=str(loss + D("1e-8")),
            ),  # 2 over
            snapshot(day + timedelta(days=2, hours=1), "99960", leverage=str(lev)),
        ]
        with hx.db.write() as session:
            for row in rows:
                session.add(row)
                session.flush()  # ids in this order
        if hx.db.dialect == "postgresql":
            with hx.db.read() as session:  # the test tests what it says
                assert session.scalar(text("SHOW timezone")) == "Pacific/Kiritimati"
        review = hx.metrics.review(day, day + timedelta(days=3))
        reference = row_by_row(hx, day, day + timedelta(days=3))

    assert review["risk_limit_violations"] == {
        "max_drawdown_pct": 1,
        "daily_loss_limit_pct": 1,
        "max_leverage": 1,
    }
    assert review["risk_limit_violations_total"] == 3
    # closes: 26th 101,000 (23:59:59.999999), 27th 102,000 (18:00), 28th 99,960
    closes = pd.Series([101000.0, 102000.0, 99960.0])
    returns = closes.pct_change().dropna()
    assert review["daily_returns"] == 2
    rf = 0.07 / 365
    expected = float((returns - rf).mean()) / float(returns.std(ddof=1)) * math.sqrt(365)
    assert review["sharpe"] == pytest.approx(expected)
    # the deepest fall: 101,000 (the 26th's last) to 98,000 (the 27th's first)
    assert review["max_drawdown"] == pytest.approx(1 - 98000 / 101000)
    assert snapshot_answers(review) == reference


def test_the_review_per_day_equals_reading_every_snapshot(database_url: str, clock: ManualClock):
    """Three weeks of snapshots at random times (1 to 30 a day, some days empty, written in a
    shuffled order), equity, drawdown, daily loss and leverage around the limits: the review's
    answers are exactly (==) those of reading every row, over the whole and over parts."""
    rnd = random.Random(20261126)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows, equity = [], 100_000.0
    for d in range(21):
        if d in (5, 6, 13):
            continue
        for _ in range(rnd.randint(1, 30)):
            equity *= math.exp(rnd.gauss(0, 0.01))
            when = start + timedelta(days=d, seconds=rnd.randrange(86400))
            rows.append(
                snapshot(
                    when,
                    f"{equity:.2f}",
                    drawdown=f"{rnd.choice([0.1, 0.15, 0.150001, 0.2]) * rnd.random():.6f}"
                    if rnd.random() < 0.5
                    else rnd.choice(["0.15", "0.150001", "0.149999"]),
                    daily_loss=rnd.choice(["0.05", "0.050001", "0.01", "0.07"]),
                    leverage=rnd.choice(["3", "3.000001", "2.5", "1"]),
                )
            )
    rnd.shuffle(rows)
    with connect_book(database_url, clock) as hx:
        with hx.db.write() as session:
            session.add_all(rows)
        periods = [
            (start, start + timedelta(days=21)),
            (start + timedelta(days=2, hours=7), start + timedelta(days=9, hours=15)),
            (start + timedelta(days=4), start + timedelta(days=4, hours=23)),
        ]
        for begin, end in periods:
            review = hx.metrics.review(begin, end)
            assert snapshot_answers(review) == row_by_row(hx, begin, end), (begin, end)
        everything = hx.metrics.review(start, start + timedelta(days=21))
    assert sum(everything["risk_limit_violations"].values()) > 0
    assert everything["daily_returns"] == 17  # 18 days with snapshots


def test_more_days_than_one_statement_holds(database_url: str, clock: ManualClock):
    """The days' closes are looked up 500 to a statement: 600 days of one snapshot each."""
    start = datetime(2025, 1, 1, 6, tzinfo=UTC)
    with connect_book(database_url, clock) as hx:
        with hx.db.write() as session:
            session.add_all(
                snapshot(start + timedelta(days=d), f"{100000 + 37 * ((d * 7919) % 101) - d}")
                for d in range(600)
            )
        end = start + timedelta(days=600)
        review = hx.metrics.review(start, end)
        assert review["daily_returns"] == 599
        assert snapshot_answers(review) == row_by_row(hx, start, end)


def test_two_snapshots_at_a_days_last_time_the_last_written_counts(
    database_url: str, clock: ManualClock
):
    day = datetime(2026, 11, 26, tzinfo=UTC)
    with connect_book(database_url, clock) as hx:
        with hx.db.write() as session:
            for row in (
                snapshot(day + timedelta(hours=9), "100000"),
                snapshot(day + timedelta(hours=20), "90000"),
                snapshot(day + timedelta(hours=20), "110000"),  # same time, written after
                snapshot(day + timedelta(days=1, hours=9), "121000"),
                snapshot(day + timedelta(days=2, hours=9), "108900"),
            ):
                session.add(row)
                session.flush()
        review = hx.metrics.review(day, day + timedelta(days=3))
    # closes 110,000, 121,000, 108,900: +10% then -10%
    returns = pd.Series([0.1, -0.1])
    rf = 0.07 / 365
    expected = float((returns - rf).mean()) / float(returns.std(ddof=1)) * math.sqrt(365)
    assert review["daily_returns"] == 2
    assert review["sharpe"] == pytest.approx(expected)


# --- position size against the volatility it was sized with -----------------------------------


def test_sizes_carry_the_volatility_their_risk_decision_saw(hx: helios.Helios, clock: ManualClock):
    """Each opened position comes with its pair's daily volatility as recorded in its own risk
    decision (not today's estimate, which moves with new prices); oldest first; a period or a
    limit outside the allowed range is refused."""
    from factories import give_market

    give_market(hx)
    first = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 900.0})
    clock.advance(timedelta(minutes=5))
    hx.market.set_price("ETHZAR", "60000")  # a price of now: opening trades need a fresh one
    second = hx.positions.open_position("ETHZAR", "BUY", {"position_size_zar": 700.0})
    assert first["success"] and second["success"], (first, second)
    seen = {
        p: hx.risk.volatility(p).daily_vol for p in ("BTCZAR", "ETHZAR")
    }  # what the decisions saw
    assert all(v is not None and v > 0 for v in seen.values()), seen

    hx.market.ingest(  # a wild day afterwards: today's estimate moves, the record must not
        "BTCZAR",
        pd.DataFrame(
            {
                "timestamp": [pd.Timestamp(clock.now()).floor("D") - pd.Timedelta(days=1)],
                "open": [1_200_000.0],
                "high": [1_500_000.0],
                "low": [900_000.0],
                "close": [1_450_000.0],
                "volume": [1.0],
            }
        ),
        "1d",
        source="test",
    )
    sized = hx.metrics.sizes_and_volatility(clock.now() - timedelta(days=1))
    assert list(sized["position_id"]) == [first["position_id"], second["position_id"]]
    assert list(sized["pair"]) == ["BTCZAR", "ETHZAR"]
    assert [Decimal(str(v)) for v in sized["position_size_zar"]] == [Decimal("900"), Decimal("700")]
    assert list(sized["daily_vol"]) == pytest.approx([seen["BTCZAR"], seen["ETHZAR"]])
    assert sized["daily_vol"].iloc[0] != pytest.approx(hx.risk.volatility("BTCZAR").daily_vol)

    assert len(hx.metrics.sizes_and_volatility(clock.now() - timedelta(days=1), limit=1)) == 1
    assert hx.metrics.sizes_and_volatility(clock.now() - timedelta(days=1), limit=1)[
        "position_id"
    ].tolist() == [second["position_id"]]  # the newest
    with pytest.raises(InvalidInput) as caught:
        hx.metrics.sizes_and_volatility(clock.now() - timedelta(days=1), limit=0)
    assert caught.value.field == "limit"
