"""Volatility and correlation: GARCH(1,1) with an EWMA fallback, on real candles.

The real data are Binance spot daily candles of BTC, ETH and SOL against USDT (2023-2024, in
``shared/data/binance_spot``). They enter Helios as BTCZAR, ETHZAR and SOLZAR with every price
multiplied by a fixed 18.0 ZAR per USDT: an approximation (the rand moved between about R17 and
R19.5 to the dollar then), good enough here because log returns, and so volatility and
correlation, do not change when every price is scaled by the same constant.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA

import helios
from helios.risk.volatility import (
    EWMA_LAMBDA,
    GARCH_MIN_OBS,
    estimate_vol,
    ewma_vol,
)

ZAR_PER_USDT = 18.0  # an approximation, see the module docstring
SOURCE = SHARED_DATA / "binance_spot"
PAIRS = {"BTCZAR": "BTC-USDT_1d.csv", "ETHZAR": "ETH-USDT_1d.csv", "SOLZAR": "SOL-USDT_1d.csv"}


def real_candles(pair: str) -> pd.DataFrame:
    path: Path = SOURCE / PAIRS[pair]
    if not path.is_file():
        pytest.skip(f"real candles not available: {path} is missing (shared/data not laid out)")
    frame = pd.read_csv(path)
    for column in ("open", "high", "low", "close"):
        frame[column] = (frame[column] * ZAR_PER_USDT).round(8)
    return frame


def ingest(hx: helios.Helios, pair: str, frame: pd.DataFrame) -> None:
    hx.market.ingest(pair, frame, "1d", source="binance x18")


@pytest.fixture
def real_hx(hx: helios.Helios) -> Iterator[helios.Helios]:
    """Two years of real daily candles for the three pairs (the clock is in 2026, so all of them
    are completed days)."""
    for pair in PAIRS:
        ingest(hx, pair, real_candles(pair))
    yield hx


# --- the estimators on their own ---------------------------------------------------------------


def test_ewma_of_returns_of_constant_size_is_that_size():
    returns = np.array([0.03, -0.03] * 30)
    assert ewma_vol(returns) == pytest.approx(0.03, rel=1e-12)


def test_ewma_weighs_the_latest_day_by_1_minus_lambda():
    """Seeded with the mean square of the first 20 returns (1% a day), then one 5% day:
    sigma^2 = 0.94 x 0.0001 + 0.06 x 0.0025 = 0.000244, sigma = 1.562%."""
    returns = np.array([0.01, -0.01] * 10 + [0.05])
    expected = math.sqrt(EWMA_LAMBDA * 0.0001 + (1 - EWMA_LAMBDA) * 0.0025)
    assert ewma_vol(returns) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0156205, abs=1e-7)


@pytest.mark.parametrize(
    ("count", "method", "reason"),
    [
        (0, "none", "only 0 daily returns (< 10): no estimate"),
        (9, "none", "only 9 daily returns (< 10): no estimate"),
        (10, "ewma", "EWMA: 10 daily returns < 100 needed for GARCH"),
        (99, "ewma", "EWMA: 99 daily returns < 100 needed for GARCH"),
    ],
)
def test_the_method_depends_on_how_much_history_there_is(count: int, method: str, reason: str):
    estimate = estimate_vol("BTCZAR", pd.Series([0.02, -0.02] * 50).iloc[:count])
    assert (estimate.method, estimate.reason, estimate.observations) == (method, reason, count)
    if method == "ewma":
        assert estimate.daily_vol == pytest.approx(0.02, rel=1e-12)
    else:
        assert estimate.daily_vol is None


@pytest.mark.parametrize("count", [50, 200])
def test_a_price_that_never_moves_gives_no_estimate_not_a_zero_volatility(count: int):
    """A stuck feed: 0 volatility would make any position look riskless (GARCH cannot fit it
    either, and its EWMA fallback is 0)."""
    estimate = estimate_vol("BTCZAR", pd.Series(np.zeros(count)))
    assert (estimate.method, estimate.daily_vol) == ("none", None)
    assert estimate.reason == f"{count} daily returns without any price movement: no estimate"


# --- real data ---------------------------------------------------------------------------------


def test_two_years_of_real_candles_give_plausible_garch_vols_close_to_ewma(
    real_hx: helios.Helios,
):
    hx = real_hx
    stats = hx.risk.market_stats()
    bands = {"BTCZAR": (0.01, 0.06), "ETHZAR": (0.015, 0.08), "SOLZAR": (0.02, 0.10)}
    for pair, (low, high) in bands.items():
        estimate = stats.vols[pair]
        assert estimate.method == "garch", estimate.reason
        assert estimate.reason == "GARCH(1,1) on 728 daily returns"
        assert estimate.observations == 728
        assert estimate.daily_vol is not None
        assert low < estimate.daily_vol < high, (pair, estimate.daily_vol)
        # the fallback on the same returns agrees within a factor of two
        returns = hx.market.returns(pair, "1d").to_numpy()
        assert len(returns) == 728
        ewma = ewma_vol(returns)
        assert 0.5 < estimate.daily_vol / ewma < 2.0, (pair, estimate.daily_vol, ewma)
        assert stats.stats.daily_vol[pair] == estimate.daily_vol
        assert hx.risk.volatility(pair) == estimate
    # the vols rank as the market does: BTC calmest, SOL wildest
    vol = {pair: stats.vols[pair].daily_vol for pair in PAIRS}
    assert vol["BTCZAR"] < vol["ETHZAR"] < vol["SOLZAR"]


def test_on_real_candles_BTC_and_ETH_are_strongly_positively_correlated(real_hx: helios.Helios):
    stats = real_hx.risk.market_stats()
    assert stats.stats.pairs == ("BTCZAR", "ETHZAR", "SOLZAR")
    assert stats.stats.aligned_obs == 728
    corr = stats.correlation_matrix()
    assert corr.loc["BTCZAR", "ETHZAR"] > 0.6
    assert corr.loc["BTCZAR", "SOLZAR"] > 0.4
    assert corr.loc["ETHZAR", "SOLZAR"] > 0.4
    assert np.allclose(np.diag(corr.to_numpy()), 1.0)
    # the same number pandas gets from the aligned log returns
    frame = real_hx.market.returns_frame(list(PAIRS))
    assert corr.loc["BTCZAR", "ETHZAR"] == pytest.approx(
        frame["BTCZAR"].corr(frame["ETHZAR"]), rel=1e-9
    )


def test_short_real_histories_fall_back_to_ewma_or_to_no_estimate_and_say_why(
    hx: helios.Helios,
):
    """BTC: the last 50 days (49 returns) -> EWMA; ETH: 11 days (10 returns) -> EWMA;
    SOL: 10 days (9 returns) -> no estimate."""
    keep = {"BTCZAR": 50, "ETHZAR": 11, "SOLZAR": 10}
    for pair, days in keep.items():
        ingest(hx, pair, real_candles(pair).tail(days))
    vols = hx.risk.market_stats().vols
    btc, eth, sol = vols["BTCZAR"], vols["ETHZAR"], vols["SOLZAR"]
    assert (btc.method, btc.observations) == ("ewma", 49)
    assert btc.reason == f"EWMA: 49 daily returns < {GARCH_MIN_OBS} needed for GARCH"
    assert btc.daily_vol == pytest.approx(
        ewma_vol(hx.market.returns("BTCZAR", "1d").to_numpy()), rel=1e-12
    )
    assert 0.005 < btc.daily_vol < 0.08  # type: ignore[operator]
    assert (eth.method, eth.observations) == ("ewma", 10)
    assert (sol.method, sol.daily_vol, sol.observations) == ("none", None, 9)
    assert sol.reason == "only 9 daily returns (< 10): no estimate"
    # too short for the covariance (fewer than 30 returns): only BTC is in the matrix
    assert hx.risk.market_stats().stats.pairs == ("BTCZAR",)


# --- the cache ---------------------------------------------------------------------------------


def test_the_statistics_are_refitted_only_when_a_new_daily_candle_completes(
    real_hx: helios.Helios,
):
    hx = real_hx
    first = hx.risk.market_stats()
    assert hx.risk.market_stats() is first  # no refit

    hx.market.set_price("BTCZAR", "1700000")  # an intraday price today: today is not complete
    hx.clock.advance(timedelta(hours=3))  # type: ignore[attr-defined]
    hx.market.set_price("BTCZAR", "1650000")
    assert hx.risk.market_stats() is first

    # a completed day arrives (the day after the data ends): refit, one more return for BTC
    last = real_candles("BTCZAR").tail(1).copy()
    last["timestamp"] = pd.Timestamp("2024-12-30T00:00:00Z")
    ingest(hx, "BTCZAR", last)
    second = hx.risk.market_stats()
    assert second is not first
    assert second.vols["BTCZAR"].observations == 729
    assert second.vols["ETHZAR"].observations == 728
    assert hx.risk.market_stats() is second

    # midnight UTC passes: today's candle (from the prices above) is complete now
    hx.clock.set(pd.Timestamp("2026-11-27T00:00:01Z").to_pydatetime())  # type: ignore[attr-defined]
    third = hx.risk.market_stats()
    assert third is not second
    assert third.vols["BTCZAR"].observations == 730


def test_a_corrected_completed_candle_triggers_a_refit(real_hx: helios.Helios):
    """A backfill that replaces a completed day (a bad print corrected) changes the returns."""
    hx = real_hx
    first = hx.risk.market_stats()
    corrected = real_candles("BTCZAR").tail(1).copy()
    corrected["close"] = (corrected["close"] * 1.10).round(8)
    corrected["high"] = corrected[["high", "close"]].max(axis=1)
    ingest(hx, "BTCZAR", corrected)
    second = hx.risk.market_stats()
    assert second is not first
    assert second.vols["BTCZAR"].daily_vol != first.vols["BTCZAR"].daily_vol


_ARCH_PROBE = """
import sys, threading
import numpy as np
from datetime import UTC, datetime, timedelta
from decimal import Decimal
if sys.argv[1] == "threads":
    gate = threading.Event()
    threading.Thread(target=gate.wait, daemon=True).start()
from helios.risk.volatility import garch_vol
vol, why = garch_vol(np.random.default_rng(7).normal(0.0, 0.03, 400))
assert vol is not None and 0.01 < vol < 0.06, (vol, why)
print("matplotlib" in sys.modules)
from helios.reports.chart import equity_png
start = datetime(2026, 1, 1, tzinfo=UTC)
png = equity_png([start, start + timedelta(days=1)], [Decimal(100), Decimal(101)], "t")
assert png is not None and png.startswith(b"\\x89PNG"), png
"""


@pytest.mark.parametrize("threads", ["one", "threads"])
def test_the_garch_fit_leaves_matplotlib_out_yet_charts_still_draw(threads: str) -> None:
    """arch imports matplotlib.figure for plots Helios never draws (27 MiB of the replay's
    memory); with one thread it is loaded without it, and a chart drawn after still works. With
    other threads running, arch is imported the ordinary way (no thread is refused matplotlib)."""
    done = subprocess.run(
        [sys.executable, "-c", _ARCH_PROBE, threads],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False" if threads == "one" else "True"], done.stdout
