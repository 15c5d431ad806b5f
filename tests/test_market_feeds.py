"""The four market feeds, each driven through ``hx.market`` into a real database.

- replay: real Binance candles (``shared/data``), converted to ZAR with a fixed rate;
- sim: the seeded, correlated random walk (history and live minute candles);
- valr: VALR's public candles, served by a fake VALR on 127.0.0.1 (``tests/fakes/valr.py``);
- manual: nothing arrives by itself.

No test touches the internet. DB tests run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from conftest import SHARED_DATA, START
from factories import stored_candles as stored
from fakes.valr import FakeValr, random_walk_candles
from sqlalchemy import delete, func, select

import helios
from helios.clock import ManualClock
from helios.config import TradingMode, load_settings
from helios.db.models import Candle, Event, LatestPrice
from helios.market.feeds import (
    SIM_ASSETS,
    SIM_CORRELATIONS,
    FeedError,
    ManualFeed,
    ReplayFeed,
    SimFeed,
    ValrPublicFeed,
    build_feed,
)

DAY = timedelta(days=1)
TODAY = datetime(2026, 11, 26, tzinfo=UTC)  # the UTC day of the test clock (START = 08:00)
PAIRS = ["BTCZAR", "ETHZAR", "SOLZAR"]
BINANCE = SHARED_DATA / "binance_spot"
# The shared data are Binance prices in USDT. Helios trades ZAR pairs, so the replay multiplies by
# a FIXED 18.0 ZAR per USD(T): an approximation for tests, not a historical exchange rate.
ZAR_PER_USDT = 18


Connect = Callable[..., helios.Helios]


@pytest.fixture
def connect(database_url: str, clock: ManualClock) -> Iterator[Connect]:
    """``connect(**settings)`` opens Helios on the test's database (again, after a close)."""
    opened: list[helios.Helios] = []

    def _connect(**overrides: Any) -> helios.Helios:
        instance = helios.connect(database_url, clock=clock, **overrides)
        opened.append(instance)
        return instance

    yield _connect
    for instance in opened:
        instance.close()


def row_counts(hx: helios.Helios) -> tuple[int, int]:
    with hx.db.read() as session:
        candles = session.scalar(select(func.count()).select_from(Candle))
        latest = session.scalar(select(func.count()).select_from(LatestPrice))
    return int(candles or 0), int(latest or 0)


def exact(value: Any) -> Decimal:
    """The Decimal a float (or numpy float) stands for, as Helios stores it."""
    return Decimal(repr(float(value)))


def epoch(when: datetime) -> int:
    return int(when.timestamp())


# --- replay: real Binance candles ----------------------------------------------------------------
def need_binance_data() -> None:
    if not (BINANCE / "BTC-USDT_1h.csv").is_file():
        pytest.skip(f"the real price data are not at {BINANCE} (shared/data beside the checkout)")


def write_replay(
    folder: Path, rows: int | None, bases: tuple[str, ...] = ("BTC", "ETH", "SOL")
) -> Path:
    """The first ``rows`` hourly candles of each base asset as ``<BASE>ZAR.csv`` (text copied
    as it is: the prices stay in USDT, the feed scales them)."""
    folder.mkdir(exist_ok=True)
    for base in bases:
        lines = (BINANCE / f"{base}-USDT_1h.csv").read_text().splitlines(keepends=True)
        chosen = lines if rows is None else lines[: rows + 1]
        (folder / f"{base}ZAR.csv").write_text("".join(chosen))
    return folder


def binance(base: str, rows: int) -> pd.DataFrame:
    """The source rows as text, for exact Decimal hand computations."""
    return pd.read_csv(BINANCE / f"{base}-USDT_1h.csv", dtype=str, nrows=rows)


def zar(text: str) -> Decimal:
    return Decimal(text) * ZAR_PER_USDT


@pytest.fixture
def replay_folder(tmp_path: Path) -> Path:
    need_binance_data()
    return write_replay(tmp_path / "replay", rows=12 * 24)  # 12 days of hourly candles


def test_replay_backfill_stores_n_days_of_hourly_candles_rolled_up_into_days(
    connect: Connect, replay_folder: Path
) -> None:
    hx = connect(
        market_feed="replay",
        replay_path=str(replay_folder),
        replay_history_days=10,
        replay_price_scale=ZAR_PER_USDT,
    )
    feed = hx.build_feed()
    assert isinstance(feed, ReplayFeed)

    assert hx.market.backfill(feed, hx.settings.replay_history_days) == dict.fromkeys(PAIRS, 240)

    source = binance("BTC", 240)
    hourly = stored(hx, "BTCZAR", 3600)
    assert len(hourly) == 240
    assert hourly[0].ts == datetime(2023, 12, 31, tzinfo=UTC)
    assert (hourly[0].open, hourly[0].close) == (zar(source.open[0]), zar(source.close[0]))
    assert hourly[0].volume == Decimal(source.volume[0])  # base-asset units: not scaled
    daily = stored(hx, "BTCZAR", 86400)
    assert [candle.ts for candle in daily] == [
        datetime(2023, 12, 31, tzinfo=UTC) + day * DAY for day in range(10)
    ]
    for day, candle in enumerate(daily):  # each day by hand from its 24 source hours
        hours = source.iloc[day * 24 : (day + 1) * 24]
        assert candle.open == zar(hours.open.iloc[0])
        assert candle.high == max(zar(value) for value in hours.high)
        assert candle.low == min(zar(value) for value in hours.low)
        assert candle.close == zar(hours.close.iloc[-1])
        assert candle.volume == sum(Decimal(value) for value in hours.volume)
    assert hx.market.latest_price("BTCZAR") == zar(source.close[239])
    assert hx.market.history_days("ETHZAR") == 10

    # the stored hourly returns are the source's (a fixed rate does not change log returns)
    stored_returns = hx.market.returns_frame(["BTCZAR", "ETHZAR"], "1h")
    by_hand = pd.DataFrame(
        {
            base: np.diff(np.log(binance(base, 240).close.astype(float).to_numpy()))
            for base in ("BTC", "ETH")
        }
    )
    assert stored_returns.to_numpy() == pytest.approx(by_hand.to_numpy(), abs=1e-12)
    assert stored_returns.corr().iloc[0, 1] == pytest.approx(by_hand.corr().iloc[0, 1], abs=1e-12)

    assert hx.market.backfill(feed, 10) == {}  # enough history already: nothing re-read


def test_replay_pull_emits_exactly_the_next_bar_each_call_and_continues_after_a_reconnect(
    connect: Connect, replay_folder: Path
) -> None:
    settings = {
        "market_feed": "replay",
        "replay_path": str(replay_folder),
        "replay_history_days": 10,
        "replay_price_scale": ZAR_PER_USDT,
    }
    hx = connect(**settings)
    feed = hx.build_feed()
    hx.market.backfill(feed, 10)
    source = binance("ETH", 12 * 24)
    times = pd.to_datetime(source.timestamp, utc=True)

    for bar in (240, 241):
        assert hx.market.pull(feed) == dict.fromkeys(PAIRS, 1)
        assert hx.market.newest_candle_times("ETHZAR")[3600] == times[bar]
        assert hx.market.latest_price("ETHZAR") == zar(source.close[bar])
    hx.close()

    # a new process: the cursor is the newest stored candle, not a counter in memory
    again = connect(**settings, replay_bars_per_poll=5)
    feed = again.build_feed()
    assert again.market.pull(feed) == dict.fromkeys(PAIRS, 5)
    assert [c.ts for c in stored(again, "ETHZAR", 3600)][-6:] == list(times[241:247])
    assert len(stored(again, "ETHZAR", 3600)) == 247
    assert again.market.latest_price("ETHZAR") == zar(source.close[246])

    again.market.pull(build_feed(again.settings.model_copy(update={"replay_bars_per_poll": 100})))
    assert len(stored(again, "ETHZAR", 3600)) == 12 * 24  # the file is used up ...
    assert again.market.pull(feed) == {}  # ... and then nothing arrives
    assert len(stored(again, "ETHZAR", 86400)) == 12


def test_replay_hourly_btc_eth_correlation_over_2024_matches_the_data_readme(
    connect: Connect, tmp_path: Path
) -> None:
    """The README of shared/data gives 0.811 for the 1h log-return correlation over the whole
    file (8,762 hours) and 0.53 / 0.64 for the annualised vols. Log returns do not change with
    a fixed ZAR rate and prices are stored exactly, so the stored data must reproduce the
    README's rounded figures: tolerance 0.001 (correlation, printed to 3 places) and 0.006
    (vols, printed to 2). Fewer rows would not do: the first 240 hours give 0.70 and the first
    1,000 give 0.72, so only the full year is compared with the README."""
    need_binance_data()
    folder = write_replay(tmp_path / "year", rows=None, bases=("BTC", "ETH"))
    hx = connect(
        market_feed="replay",
        pairs="BTCZAR,ETHZAR",
        replay_path=str(folder),
        replay_history_days=366,
        replay_price_scale=ZAR_PER_USDT,
    )

    assert hx.market.backfill(hx.build_feed(), 366) == {"BTCZAR": 8762, "ETHZAR": 8762}

    returns = hx.market.returns_frame(interval="1h")
    assert len(returns) == 8761
    assert returns.corr().loc["BTCZAR", "ETHZAR"] == pytest.approx(0.811, abs=0.001)
    vols = returns.std() * math.sqrt(24 * 365)
    assert vols["BTCZAR"] == pytest.approx(0.53, abs=0.006)
    assert vols["ETHZAR"] == pytest.approx(0.64, abs=0.006)
    assert hx.market.history_days("BTCZAR") == 366  # 2023-12-31 to 2024-12-30


def test_replay_without_a_pairs_file_or_with_a_bad_one_raises_feed_error_naming_it(
    connect: Connect, tmp_path: Path
) -> None:
    folder = tmp_path / "replay"
    folder.mkdir()
    good = (
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,100,101,99,100.5,3\n"
        "2024-01-01T01:00:00Z,100.5,102,100,101,2\n"
    )
    (folder / "BTCZAR.csv").write_text(good)
    (folder / "ETHZAR.csv").write_text(good + "2024-01-01T02:00:00Z,100,98,99,100.5,3\n")
    hx = connect(market_feed="replay", replay_path=str(folder))
    feed = hx.build_feed()

    with pytest.raises(FeedError, match=r"ETHZAR\.csv") as bad:
        feed.backfill("ETHZAR", START, 10)
    assert "high" in str(bad.value)
    with pytest.raises(FeedError, match=r"SOLZAR\.csv not found"):
        feed.backfill("SOLZAR", START, 10)
    with pytest.raises(FeedError) as failed:
        hx.market.pull(feed)
    assert "ETHZAR.csv" in str(failed.value)
    assert "SOLZAR.csv not found" in str(failed.value)
    # BTCZAR is still fed: its first bar arrived
    assert [c.close for c in stored(hx, "BTCZAR", 3600)] == [Decimal("100.5")]


# --- sim: the seeded random walk -----------------------------------------------------------------
def sim_settings(**overrides: Any) -> Any:
    """Settings without a database (the feeds themselves never touch one)."""
    return load_settings(
        **{"database_url": "sqlite:///unused.db", "market_feed": "sim", **overrides}
    )


def test_the_sim_history_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    first = SimFeed(sim_settings()).daily_history(START, 400)
    second = SimFeed(sim_settings()).daily_history(START, 400)
    other = SimFeed(sim_settings(sim_seed=7)).daily_history(START, 400)

    for pair in PAIRS:
        pd.testing.assert_frame_equal(first[pair], second[pair])
        assert not np.allclose(first[pair].close[:-1], other[pair].close[:-1])
        assert first[pair].close.iloc[-1] == other[pair].close.iloc[-1]  # both end at the start


def test_a_long_sim_history_has_the_configured_correlations_and_volatilities() -> None:
    """3,650 daily returns (the longest backfill allowed). Over 100 seeds the sample correlation
    had a standard deviation of 0.006 (BTC-ETH) to 0.010 and the sample annualised vol one of
    5.4% (GARCH volatility clustering makes it wider than iid returns would): the tolerances
    0.04 and 20% are about 4 standard deviations, and miss a sqrt(252) annualisation (17% off)
    only narrowly, so that one is checked on the live walk below."""
    history = SimFeed(sim_settings()).daily_history(START, 3650)
    returns = pd.DataFrame({pair: np.log(history[pair].close).diff() for pair in PAIRS}).dropna()

    correlation = returns.corr()
    for a, b in combinations(PAIRS, 2):
        configured = SIM_CORRELATIONS[frozenset({a[:-3], b[:-3]})]
        assert correlation.loc[a, b] == pytest.approx(configured, abs=0.04), (a, b)
    for pair in PAIRS:
        vol = returns[pair].std() * math.sqrt(365)
        assert vol == pytest.approx(SIM_ASSETS[pair[:-3]][0], rel=0.20), pair


def test_the_live_sim_walk_has_the_configured_volatility_and_correlation() -> None:
    """24 hours of one-second steps read as 1,440 minute closes: the standard error of the
    annualised vol is 1/sqrt(2 x 1440) = 1.9% and of a 0.81 correlation (1 - 0.81^2)/sqrt(1440)
    = 0.009, so 8% and 0.04 are about 4 standard errors."""
    feed = SimFeed(sim_settings())
    closes: dict[str, dict[datetime, float]] = {pair: {} for pair in PAIRS}
    for hour in range(25):
        now = START + timedelta(hours=hour)
        for pair in PAIRS:
            for batch in feed.poll(pair, now, {}):
                assert batch.interval == 60
                closes[pair].update(zip(batch.candles.timestamp, batch.candles.close, strict=True))
    returns = np.log(pd.DataFrame(closes).sort_index()).diff().dropna()

    assert len(returns) == 24 * 60
    for pair in PAIRS:
        vol = returns[pair].std() * math.sqrt(365 * 24 * 60)
        assert vol == pytest.approx(SIM_ASSETS[pair[:-3]][0], rel=0.08), pair
    for a, b in combinations(PAIRS, 2):
        configured = SIM_CORRELATIONS[frozenset({a[:-3], b[:-3]})]
        assert returns[a].corr(returns[b]) == pytest.approx(configured, abs=0.04), (a, b)


def test_sim_backfill_stores_400_days_ending_yesterday_at_the_start_price(
    connect: Connect,
) -> None:
    """400 daily returns: over 300 seeds the sample correlation had a standard deviation of
    0.018-0.024 and the annualised vol one of 14%, hence 0.08 and 45% (about 3.5 and 3 standard
    deviations). The long-sample test above checks the same generator more tightly."""
    hx = connect(market_feed="sim")
    feed = hx.build_feed()
    assert isinstance(feed, SimFeed)

    days = hx.settings.sim_backfill_days
    assert hx.market.backfill(feed, days) == dict.fromkeys(PAIRS, 400)

    expected = SimFeed(hx.settings).daily_history(START, 400)  # same seed, same history
    for pair in PAIRS:
        daily = stored(hx, pair, 86400)
        assert len(daily) == 400
        assert daily[0].ts == TODAY - 400 * DAY
        assert daily[-1].ts == TODAY - DAY  # yesterday
        start_price = Decimal(str(SIM_ASSETS[pair[:-3]][1]))
        assert daily[-1].close == start_price
        assert hx.market.latest_price(pair) == start_price
        closes = [exact(value) for value in expected[pair].close]
        assert [candle.close for candle in daily] == closes
        assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in daily)

    returns = hx.market.returns_frame()
    assert len(returns) == 399
    for a, b in combinations(PAIRS, 2):
        configured = SIM_CORRELATIONS[frozenset({a[:-3], b[:-3]})]
        assert returns[a].corr(returns[b]) == pytest.approx(configured, abs=0.08), (a, b)
    for pair in PAIRS:
        vol = returns[pair].std() * math.sqrt(365)
        assert vol == pytest.approx(SIM_ASSETS[pair[:-3]][0], rel=0.45), pair
    assert hx.market.backfill(hx.build_feed(), days) == {}  # a restart does not rewrite history


def test_sim_polls_every_five_seconds_build_one_minute_candles(
    connect: Connect, clock: ManualClock
) -> None:
    hx = connect(market_feed="sim")
    feed = hx.build_feed()

    seen = []
    for _ in range(12):  # 08:00:00 to 08:00:55: one candle per pair, growing
        assert hx.market.pull(feed) == dict.fromkeys(PAIRS, 1)
        (candle,) = stored(hx, "BTCZAR", 60)
        assert candle.ts == START
        assert candle.high >= max(candle.open, candle.close)
        assert candle.low <= min(candle.open, candle.close)
        assert hx.market.latest_price("BTCZAR") == candle.close
        seen.append(candle)
        clock.advance(seconds=5)
    assert len({candle.open for candle in seen}) == 1  # the open stays
    highs = [candle.high for candle in seen]
    lows = [candle.low for candle in seen]
    assert highs == sorted(highs)
    assert lows == sorted(lows, reverse=True)
    assert len({candle.close for candle in seen}) > 6  # the price moves
    assert seen[0].open == Decimal("1200000")  # a fresh install starts at the start price

    hx.market.pull(feed)  # 08:01:00 opens the next minute
    assert [c.ts for c in stored(hx, "ETHZAR", 60)] == [START, START + timedelta(minutes=1)]

    clock.advance(minutes=2)  # a gap of two minutes: the walk fills it
    hx.market.pull(feed)
    for pair in PAIRS:
        candles = stored(hx, pair, 60)
        assert [c.ts for c in candles] == [START + timedelta(minutes=m) for m in range(4)]
        for before, after in pairwise(candles):
            assert after.open == before.close  # each minute opens where the last one closed
        assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)
        assert hx.market.latest_price(pair) == candles[-1].close
        assert stored(hx, pair, 86400)[0].ts == TODAY  # rolled up into today's candle


def test_a_restarted_sim_continues_from_the_stored_price_and_keeps_the_minute_range(
    connect: Connect, clock: ManualClock
) -> None:
    hx = connect(market_feed="sim")
    feed = hx.build_feed()
    for _ in range(4):
        hx.market.pull(feed)
        clock.advance(seconds=5)
    # the database's last price is far from the simulation's start: the restart must use it
    hx.market.set_price("BTCZAR", 1_500_000)
    (before,) = stored(hx, "BTCZAR", 60)
    hx.close()

    again = connect(market_feed="sim")
    restarted = again.build_feed()
    clock.advance(seconds=5)
    again.market.pull(restarted)

    (after,) = stored(again, "BTCZAR", 60)  # still the same minute
    one_second = SIM_ASSETS["BTC"][0] / math.sqrt(365 * 86400)  # log sigma of a step
    assert abs(math.log(after.close / Decimal(1_500_000))) < 6 * one_second
    assert after.open == before.open  # the minute's open and range survive the restart
    assert after.low == before.low
    assert after.high >= Decimal(1_500_000)
    for pair in ("ETHZAR", "SOLZAR"):
        latest = float(again.market.latest_price(pair))
        start = SIM_ASSETS[pair[:-3]][1]
        assert abs(math.log(latest / start)) < 6 * SIM_ASSETS[pair[:-3]][0] * math.sqrt(
            20 / (365 * 86400)
        )


# --- valr: the public candles, from a fake VALR --------------------------------------------------
@pytest.fixture
def fake_valr(clock: ManualClock) -> Iterator[FakeValr]:
    with FakeValr(clock=clock) as fake:
        yield fake


START_PRICES = {"BTCZAR": 1_200_000.0, "ETHZAR": 60_000.0, "SOLZAR": 2_500.0}


def valr(connect: Connect, fake: FakeValr, **overrides: Any) -> helios.Helios:
    return connect(market_feed="valr", valr_base_url=fake.url, **overrides)


def test_valr_backfill_of_400_days_takes_two_pages_per_pair(
    connect: Connect, fake_valr: FakeValr
) -> None:
    for seed, (pair, price) in enumerate(START_PRICES.items()):
        days = random_walk_candles(TODAY - 450 * DAY, 451, 86400, price, seed=seed)
        fake_valr.set_candles(pair, 86400, days)  # up to today's open bucket
    hx = valr(connect, fake_valr)
    assert hx.controls.trading_mode() is TradingMode.PAPER  # a real feed does not mean LIVE
    feed = hx.build_feed()
    assert isinstance(feed, ValrPublicFeed)

    assert hx.market.backfill(feed, 400) == dict.fromkeys(PAIRS, 400)

    for pair in PAIRS:
        pages = fake_valr.requests_to(f"/v1/public/{pair}/buckets")
        windows = [(page.int_param("startTime"), page.int_param("endTime")) for page in pages]
        assert windows == [
            (epoch(TODAY - 300 * DAY), epoch(TODAY)),
            (epoch(TODAY - 400 * DAY), epoch(TODAY - 300 * DAY)),
        ]
        assert {(page.query["periodSeconds"], page.query["limit"]) for page in pages} == {
            ("86400", "300")
        }
        daily = stored(hx, pair, 86400)
        assert [c.ts for c in daily] == [TODAY - (400 - d) * DAY for d in range(400)]
        served = fake_valr.candles(pair, 86400).set_index("timestamp")
        for candle in (daily[0], daily[99], daily[100], daily[101], daily[-1]):  # and the seam
            assert candle.close == exact(served.close[candle.ts])
            assert candle.high == exact(served.high[candle.ts])
        assert hx.market.latest_price(pair) == daily[-1].close  # yesterday's, not today's part


def test_valr_pull_stores_minute_candles_and_refreshes_the_open_one(
    connect: Connect, fake_valr: FakeValr, clock: ManualClock
) -> None:
    minutes = {
        pair: random_walk_candles(START - timedelta(hours=2), 131, 60, price, seed=seed)
        for seed, (pair, price) in enumerate(START_PRICES.items())
    }  # 06:00 to 08:10; the fake serves only the buckets that opened by its clock
    for pair, table in minutes.items():
        fake_valr.set_candles(pair, 60, table)
    hx = valr(connect, fake_valr)
    feed = hx.build_feed()

    assert hx.market.pull(feed) == dict.fromkeys(PAIRS, 31)  # 07:30 to 08:00
    (first,) = fake_valr.requests_to("/v1/public/BTCZAR/buckets")
    assert first.query == {
        "periodSeconds": "60",
        "startTime": str(epoch(START - timedelta(minutes=30))),
        "endTime": str(epoch(START + timedelta(minutes=1))),
        "limit": "300",
    }
    candles = stored(hx, "BTCZAR", 60)
    assert [c.ts for c in candles] == [START + timedelta(minutes=m) for m in range(-30, 1)]
    assert hx.market.latest_price("BTCZAR") == exact(minutes["BTCZAR"].close[120])

    clock.advance(minutes=2, seconds=30)  # 08:02:30
    fake_valr.reset_requests()
    assert hx.market.pull(feed) == dict.fromkeys(PAIRS, 3)  # 08:00 again (it was open), 01, 02
    (second,) = fake_valr.requests_to("/v1/public/ETHZAR/buckets")
    assert second.int_param("startTime") == epoch(START)  # from the newest stored candle
    assert len(stored(hx, "ETHZAR", 60)) == 33

    changed = minutes["ETHZAR"].copy()  # the open 08:02 bucket trades higher
    changed.loc[122, ["high", "close"]] = [70_000.0, 69_999.5]
    fake_valr.set_candles("ETHZAR", 60, changed)
    fake_valr.reset_requests()
    hx.market.pull(feed)  # the buckets were read 0 s ago: the summary's price extends the bar
    assert [r.path for r in fake_valr.requests] == ["/v1/public/marketsummary"]
    candles = stored(hx, "ETHZAR", 60)
    assert len(candles) == 33
    assert (candles[-1].high, candles[-1].close) == (Decimal("69999.5"), Decimal("69999.5"))
    assert candles[-1].open == exact(minutes["ETHZAR"].open[122])  # VALR's open is kept
    assert hx.market.latest_price("ETHZAR") == Decimal("69999.5")

    clock.advance(minutes=1)  # 08:03:30: a minute later VALR's own bar replaces it
    hx.market.pull(feed)
    candles = stored(hx, "ETHZAR", 60)
    assert len(candles) == 34
    assert (candles[-2].high, candles[-2].close) == (Decimal(70000), Decimal("69999.5"))
    assert stored(hx, "ETHZAR", 86400)[-1].high == Decimal(70000)


def test_valr_one_summary_call_per_poll_prices_every_pair_between_bucket_reads(
    connect: Connect, fake_valr: FakeValr, clock: ManualClock
) -> None:
    """Every poll asks for the all-pairs market summary once; each pair's minute buckets are
    read at most once a minute; between them the summary's price moves the bar."""
    minutes = {
        pair: random_walk_candles(START - timedelta(hours=1), 80, 60, price, seed=seed)
        for seed, (pair, price) in enumerate(START_PRICES.items())
    }
    for pair, table in minutes.items():
        fake_valr.set_candles(pair, 60, table)
    hx = valr(connect, fake_valr, price_interval_seconds=5)
    feed = hx.build_feed()

    polls = 36  # three minutes at one poll every 5 s
    for _ in range(polls):
        hx.market.pull(feed)
        clock.advance(seconds=5)

    assert len(fake_valr.requests_to("/v1/public/marketsummary")) == polls
    for pair in PAIRS:
        reads = fake_valr.requests_to(f"/v1/public/{pair}/buckets")
        assert len(reads) == 3  # 08:00:00, 08:01:00, 08:02:00
        assert [r.at for r in reads] == [START + timedelta(minutes=m) for m in range(3)]
        # every poll moved the latest price: it is the fake's close of the minute polled last
        last_poll = clock.now() - timedelta(seconds=5)
        close = minutes[pair].set_index("timestamp").close[pd.Timestamp(last_poll).floor("min")]
        assert hx.market.latest_price(pair) == exact(close)
        with hx.db.read() as session:
            row = session.get(LatestPrice, pair)
            assert row is not None and row.received_at == last_poll


FAILURES: dict[str, tuple[Callable[..., None], str]] = {
    "HTTP 500": (lambda fake, **aim: fake.fail_next(1, 500, **aim), "HTTP 500"),
    "HTTP 429": (lambda fake, **aim: fake.rate_limit_next(1, **aim), "HTTP 429 (rate limited"),
    "not JSON": (lambda fake, **aim: fake.malformed_next(1, **aim), "not JSON"),
    "not a list": (
        lambda fake, **aim: fake.fail_next(1, 200, {"code": 0}, **aim),
        "expected a list",
    ),
}


def test_a_failed_market_summary_fails_every_pair_and_stores_nothing(
    connect: Connect, fake_valr: FakeValr
) -> None:
    for pair, price in START_PRICES.items():
        fake_valr.set_candles(
            pair, 60, random_walk_candles(START - timedelta(hours=1), 61, 60, price)
        )
    hx = valr(connect, fake_valr)
    feed = hx.build_feed()

    problems = []
    for case, (inject, cause) in FAILURES.items():
        fake_valr.reset_requests()
        inject(fake_valr, path="/v1/public/marketsummary")
        try:
            hx.market.pull(feed)
        except FeedError as error:
            if cause not in str(error) or not all(pair in str(error) for pair in PAIRS):
                problems.append(f"{case}: message {error}")
        else:
            problems.append(f"{case}: no FeedError")
        if row_counts(hx) != (0, 0):
            problems.append(f"{case}: stored something")
        if [r.path for r in fake_valr.requests] != ["/v1/public/marketsummary"]:
            problems.append(f"{case}: asked for more than the summary")  # no buckets then
    assert problems == []

    assert hx.market.pull(feed) == dict.fromkeys(PAIRS, 31)  # the next poll works again


BUCKET_FAILURES = {
    **FAILURES,
    "bad item": (
        lambda fake, **aim: fake.fail_next(1, 200, [{"startTime": "x"}], **aim),
        "malformed item",
    ),
}


def test_a_failed_bucket_read_fails_its_pair_only(connect: Connect, fake_valr: FakeValr) -> None:
    for pair, price in START_PRICES.items():
        fake_valr.set_candles(
            pair, 60, random_walk_candles(START - timedelta(hours=1), 61, 60, price)
        )
    problems = []
    for case, (inject, cause) in BUCKET_FAILURES.items():
        hx = valr(connect, fake_valr)
        feed = hx.build_feed()  # a new feed: every pair's minute buckets are due
        with hx.db.write() as session:  # a fresh start for each case
            session.execute(delete(Candle))
            session.execute(delete(LatestPrice))
        inject(fake_valr, path="/v1/public/ETHZAR/buckets")
        try:
            hx.market.pull(feed)
        except FeedError as error:
            message = str(error)
            if cause not in message or "ETHZAR" not in message or "BTCZAR" in message:
                problems.append(f"{case}: message {message}")
        else:
            problems.append(f"{case}: no FeedError")
        if len(stored(hx, "BTCZAR", 60)) != 31 or stored(hx, "ETHZAR", 60):
            problems.append(f"{case}: stored {row_counts(hx)}")
        feed.close()
    assert problems == []


def test_valr_timeout_raises_feed_error_quickly_and_stores_nothing(
    connect: Connect, fake_valr: FakeValr
) -> None:
    fake_valr.set_candles(
        "BTCZAR", 60, random_walk_candles(START - timedelta(hours=1), 61, 60, 1e6)
    )
    hx = valr(connect, fake_valr, pairs="BTCZAR", valr_timeout_seconds=0.5)
    fake_valr.slow_next(1, seconds=3.0)

    began = time.monotonic()
    with pytest.raises(FeedError, match="Timeout"):
        hx.market.pull(hx.build_feed())
    assert time.monotonic() - began < 2.0
    assert row_counts(hx) == (0, 0)


def test_a_valr_failure_on_the_second_page_of_a_backfill_stores_nothing(
    connect: Connect, fake_valr: FakeValr
) -> None:
    fake_valr.set_candles("BTCZAR", 86400, random_walk_candles(TODAY - 450 * DAY, 451, 86400, 1e6))
    hx = valr(connect, fake_valr, pairs="BTCZAR")
    fake_valr.fail_next(1, 503, {"code": -1, "message": "Service Unavailable"}, after=1)

    with pytest.raises(FeedError, match=r"HTTP 503 \(code -1: Service Unavailable\)"):
        hx.market.backfill(hx.build_feed(), 400)
    assert len(fake_valr.requests_to("/v1/public/BTCZAR/buckets")) == 2
    assert row_counts(hx) == (0, 0)


def busiest_window(times: list[datetime], seconds: float = 60.0) -> int:
    """The most calls in any window of ``seconds`` (windows (t - seconds, t] end at a call)."""
    stamps = sorted(when.timestamp() for when in times)
    most, first = 0, 0
    for last, stamp in enumerate(stamps):
        while stamps[first] <= stamp - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_the_valr_feed_never_makes_more_than_30_public_calls_in_any_minute(
    connect: Connect, fake_valr: FakeValr, clock: ManualClock
) -> None:
    """A long simulated run from a cold start that needs 3,000 days of history per pair (30
    pages in all): the backfill spreads its pages over the minutes, one summary call every poll
    is kept, and no 60 s window ever holds more than the budget (VALR's 30)."""
    for seed, (pair, price) in enumerate(START_PRICES.items()):
        fake_valr.set_candles(
            pair, 86400, random_walk_candles(TODAY - 3100 * DAY, 3101, 86400, price, seed=seed)
        )
        fake_valr.set_candles(
            pair, 60, random_walk_candles(START - timedelta(hours=1), 200, 60, price, seed=seed)
        )
    hx = valr(connect, fake_valr, valr_feed_calls_per_minute=30, price_interval_seconds=5)
    feed = hx.build_feed()
    assert isinstance(feed, ValrPublicFeed)

    written = hx.market.backfill(feed, 3000)
    first_minute_pages = len([r for r in fake_valr.requests if "86400" in r.target])
    assert 0 < first_minute_pages < 30  # not all 30 pages at once
    polls = 0
    while clock.now() < START + timedelta(minutes=8):  # one poll every 5 s
        hx.market.pull(feed)
        polls += 1
        clock.advance(seconds=5)
    summaries = fake_valr.requests_to("/v1/public/marketsummary")
    assert len(summaries) == polls  # one per poll, never skipped at this pace
    assert all(hx.market.history_days(pair) >= 3000 for pair in PAIRS)  # backfill finished
    assert feed.backfill_pending == {}
    assert sum(written.values()) < 9000  # part of it came with the polls
    while clock.now() < START + timedelta(minutes=8, seconds=40):  # then far too fast: 1/s
        hx.market.pull(feed)  # no error: a summary without budget is skipped, not failed
        clock.advance(seconds=1)

    times = [request.at for request in fake_valr.requests if request.at is not None]
    assert len(times) == len(fake_valr.requests) > polls
    assert busiest_window(times) <= 30
    assert busiest_window(times) == 30  # the fast phase used the budget to the full
    assert len(fake_valr.requests_to("/v1/public/marketsummary")) < polls + 40  # some skipped
    # each pair's minute buckets at most once a minute
    for pair in PAIRS:
        reads = [
            r.at
            for r in fake_valr.requests_to(f"/v1/public/{pair}/buckets")
            if r.query.get("periodSeconds") == "60"
        ]
        assert busiest_window(reads, 59.999) <= 1


def test_a_new_leaders_feed_keeps_counting_the_calls_of_the_feed_it_replaces(
    fake_valr: FakeValr, clock: ManualClock
) -> None:
    fake_valr.set_candles(
        "BTCZAR", 60, random_walk_candles(START - timedelta(hours=1), 61, 60, 1e6)
    )
    settings = sim_settings(market_feed="valr", valr_base_url=fake_valr.url, pairs="BTCZAR")
    first = build_feed(settings)
    assert isinstance(first, ValrPublicFeed)
    assert [b.interval for b in first.poll("BTCZAR", clock.now(), {})] == [60]
    assert first.budget.used(clock.now()) == 2  # the summary and the minute buckets
    second = build_feed(settings)
    second.continue_from(first)
    assert isinstance(second, ValrPublicFeed) and second.budget.used(clock.now()) == 2
    elsewhere = build_feed(sim_settings(market_feed="valr", valr_base_url="https://valr.example"))
    elsewhere.continue_from(first)
    assert isinstance(elsewhere, ValrPublicFeed) and elsewhere.budget.used(clock.now()) == 0
    for feed in (first, second, elsewhere):
        feed.close()


def test_a_dead_valr_feed_leads_to_the_stale_price_halt(
    connect: Connect, fake_valr: FakeValr, clock: ManualClock
) -> None:
    """The scheduler's prices job on the valr feed keeps the latest prices fresh; when VALR stops
    answering, every poll fails (an exchange error each), the prices age, and an hour later the
    watchdog halts for stale prices."""
    from jobs.scheduler import Worker

    for seed, (pair, price) in enumerate(START_PRICES.items()):
        fake_valr.set_candles(
            pair, 60, random_walk_candles(START - timedelta(hours=1), 360, 60, price, seed=seed)
        )
    hx = valr(connect, fake_valr)
    worker = Worker(hx, hx.build_feed())
    for _ in range(14):  # 65 minutes of a working feed, a poll every 5 minutes
        worker.pull_prices()
        assert hx.halts.check(feed_started_at=START) == []
        clock.advance(minutes=5)
    worker.pull_prices()
    alive_until = clock.now()

    fake_valr.stop()  # VALR is gone: connections are refused
    failures = 0
    while clock.now() < alive_until + timedelta(minutes=65):
        clock.advance(minutes=5)
        with pytest.raises(FeedError, match="ConnectionError"):
            worker.pull_prices()
        failures += 1
        acted = hx.halts.check(feed_started_at=START)
        if clock.now() - alive_until <= timedelta(hours=1):
            assert acted == []
    assert [breach.trigger for breach in acted] == ["stale_price"]
    assert set(acted[0].figures["stale_seconds"]) == set(PAIRS)
    state = hx.controls.halt_state()
    assert (state.halted, state.cause) == (True, "stale_price")
    with hx.db.read() as session:
        errors = session.scalars(select(Event).where(Event.kind == "EXCHANGE_ERROR")).all()
    assert len(errors) == failures  # each failed poll counted once
    assert all("marketsummary" in e.message and e.actor == "valr-feed" for e in errors)


def test_an_unknown_pair_surfaces_valrs_message_and_the_other_pairs_still_arrive(
    connect: Connect, fake_valr: FakeValr
) -> None:
    fake_valr.set_candles(
        "BTCZAR", 60, random_walk_candles(START - timedelta(hours=1), 61, 60, 1e6)
    )
    hx = valr(connect, fake_valr, pairs="BTCZAR,DOGEZAR")

    with pytest.raises(FeedError) as failed:
        hx.market.pull(hx.build_feed())

    message = str(failed.value)
    assert "DOGEZAR" in message
    assert "HTTP 400 (code -21: Unsupported Currency Pair)" in message
    assert "BTCZAR" not in message
    assert len(stored(hx, "BTCZAR", 60)) == 31
    assert stored(hx, "DOGEZAR", 60) == []


def test_the_fake_valr_answers_the_public_routes_like_valr(fake_valr: FakeValr) -> None:
    fake_valr.set_candles(
        "BTCZAR", 60, random_walk_candles(START - timedelta(minutes=4), 10, 60, 1e6)
    )

    pairs = requests.get(f"{fake_valr.url}/v1/public/pairs", timeout=5).json()
    assert {"BTCZAR", "ETHZAR", "SOLZAR"} <= {item["symbol"] for item in pairs}
    btc = next(item for item in pairs if item["symbol"] == "BTCZAR")
    assert (btc["baseCurrency"], btc["quoteCurrency"], btc["active"]) == ("BTC", "ZAR", True)

    items = requests.get(
        f"{fake_valr.url}/v1/public/BTCZAR/buckets",
        params={"periodSeconds": 60, "limit": 3},
        timeout=5,
    ).json()
    assert [item["startTime"] for item in items] == [
        "2026-11-26T08:00:00Z",  # newest first, nothing after the clock
        "2026-11-26T07:59:00Z",
        "2026-11-26T07:58:00Z",
    ]
    assert all(isinstance(item[key], str) for item in items for key in ("open", "close"))
    assert items[0]["currencyPairSymbol"] == "BTCZAR"
    assert items[0]["bucketPeriodInSeconds"] == 60

    summary = requests.get(f"{fake_valr.url}/v1/public/BTCZAR/marketsummary", timeout=5).json()
    assert summary["lastTradedPrice"] == items[0]["close"]

    unknown = requests.get(f"{fake_valr.url}/v1/public/DOGEZAR/buckets", timeout=5)
    assert unknown.status_code == 400
    assert unknown.json() == {"code": -21, "message": "Unsupported Currency Pair"}
    too_many = requests.get(
        f"{fake_valr.url}/v1/public/BTCZAR/buckets", params={"limit": 301}, timeout=5
    )
    assert too_many.status_code == 400
    fake_valr.rate_limit_next()
    limited = requests.get(f"{fake_valr.url}/v1/public/pairs", timeout=5)
    assert (limited.status_code, limited.headers["x-valr-ratelimited"]) == (429, "true")


# --- manual ---------------------------------------------------------------------------------------
def test_the_manual_feed_brings_nothing_and_set_price_still_works(
    hx: helios.Helios, clock: ManualClock
) -> None:
    feed = hx.build_feed()
    assert isinstance(feed, ManualFeed)

    assert hx.market.backfill(feed, 400) == {}
    assert hx.market.pull(feed) == {}
    assert row_counts(hx) == (0, 0)

    hx.market.set_price("BTCZAR", "1200000")
    clock.advance(seconds=30)
    assert hx.market.pull(feed) == {}
    assert hx.market.latest_price("BTCZAR") == Decimal(1_200_000)
    assert hx.market.latest_prices() == {"BTCZAR": Decimal(1_200_000)}


@pytest.mark.parametrize(
    ("kind", "feed_class"),
    [("sim", SimFeed), ("replay", ReplayFeed), ("valr", ValrPublicFeed), ("manual", ManualFeed)],
)
def test_build_feed_makes_the_configured_feed(kind: str, feed_class: type) -> None:
    extra = {"replay_path": "/nowhere"} if kind == "replay" else {}
    feed = build_feed(sim_settings(market_feed=kind, **extra))
    assert type(feed) is feed_class
    feed.close()
