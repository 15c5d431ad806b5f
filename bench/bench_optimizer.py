"""Benchmark for issue 5 (the optimizer): how long ``hx.optimizer.calculate_optimal_weights``
takes, and what it costs over calling PyPortfolioOpt directly on the same inputs.

Two scenarios, each on a scratch database with the history ingested through ``hx.market.ingest``
(daily candles; the clock stands on the day after the data ends, so every day is completed):

- **3 pairs**: BTCZAR, ETHZAR, SOLZAR from the real Binance daily candles in
  ``../shared/data/binance_spot`` (USDT x 18.5 ZAR), the seed's call (BTC +5% at 85%, ETH +3% at
  75%, SOL +8% at 90%);
- **30 pairs**: the 10 real daily pairs of that folder (BTC ETH SOL XRP ADA AVAX LINK DOT LTC
  ATOM, 2024) and 20 synthetic ones (seeded correlated random walks: one market factor, daily
  vol 3-7%), a view on every pair (seeded predictions -3%..+8%, confidences 0.5..0.95), market
  caps passed as an option (the synthetic pairs have none configured).

Without the folder every pair is synthetic (said in the recorded section).

Measured (time.perf_counter, median/p90/p99 after a warm-up):

- the whole call from the database: history read and Ledoit-Wolf fitted once per completed day
  (cached), so a call is the history-epoch read plus the five steps (target: 3 pairs < 50 ms,
  30 pairs < 500 ms); the first call of a day (``clear_cache()`` before each) is measured too;
- the call with ``cov`` passed explicitly, and PyPortfolioOpt called directly on exactly those
  inputs (``market_implied_prior_returns``, ``BlackLittermanModel`` with Idzorek omega,
  ``bl_returns``, ``bl_cov``, ``EfficientFrontier(...).max_sharpe``, ``clean_weights``),
  measured interleaved in the same loop: the ratio of the two medians is the wrapper's overhead
  (target < 1.3x); the whole call is also compared with PyPortfolioOpt from the same returns
  (Ledoit-Wolf included), the work a notebook would do by hand;
- ``explain`` (adds the 20-point efficient frontier: 21 more solves).

Usage::

    python bench/bench_optimizer.py                  # a temporary SQLite file
    python bench/bench_optimizer.py --database-url postgresql://postgres@127.0.0.1:5432/test

Results are printed and appended to ``bench/results/optimizer.md``. Timings are reported, never
asserted.
"""

from __future__ import annotations

import argparse
import gc
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import (
    DEFAULT_DATA,
    Timing,
    append_results,
    database_version,
    fmt,
    measure,
    scratch_database,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "optimizer.md"
USDT_ZAR = 18.5  # fixed, approximate: log returns (so the covariance) ignore a constant scale
REAL = ("BTC", "ETH", "SOL", "XRP", "ADA", "AVAX", "LINK", "DOT", "LTC", "ATOM")
SEED_PREDICTIONS = {"BTCZAR": 0.05, "ETHZAR": 0.03, "SOLZAR": 0.08}
SEED_CONFIDENCES = {"BTCZAR": 0.85, "ETHZAR": 0.75, "SOLZAR": 0.90}
DAYS = 365
LAST_DAY = datetime(2024, 12, 29, tzinfo=UTC)  # the real files' last day


# --- the market --------------------------------------------------------------------------------


def real_daily(data_dir: Path, coin: str, days: int) -> pd.DataFrame | None:
    path = data_dir / f"{coin}-USDT_1d.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path).tail(days + 1).reset_index(drop=True)
    for column in ("open", "high", "low", "close"):
        frame[column] = (frame[column] * USDT_ZAR).round(8)
    return frame


def synthetic_daily(count: int, days: int, seed: int = 20261126) -> dict[str, pd.DataFrame]:
    """``count`` correlated daily random walks (one market factor), ending on LAST_DAY."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(end=LAST_DAY, periods=days + 1, freq="D")
    market = rng.standard_normal(days + 1)
    frames = {}
    for k in range(count):
        vol = rng.uniform(0.03, 0.07)
        beta = rng.uniform(0.5, 0.9)
        shocks = vol * (beta * market + np.sqrt(1 - beta**2) * rng.standard_normal(days + 1))
        shocks[0] = 0.0
        close = rng.uniform(1, 1000) * np.exp(np.cumsum(shocks))
        open_ = np.concatenate([[close[0]], close[:-1]])
        frames[f"SYN{k + 1:02d}ZAR"] = pd.DataFrame(
            {
                "timestamp": stamps,
                "open": open_.round(8),
                "high": np.maximum(open_, close).round(8),
                "low": np.minimum(open_, close).round(8),
                "close": close.round(8),
                "volume": 1.0,
            }
        )
    return frames


def build_market(data_dir: Path, size: int) -> tuple[dict[str, pd.DataFrame], str]:
    """``size`` pairs of daily candles: real ones first (up to 10), then synthetic."""
    frames: dict[str, pd.DataFrame] = {}
    days = 2 * DAYS if size <= 3 else DAYS  # the 3 big pairs have two years
    for coin in REAL[:size]:
        frame = real_daily(data_dir, coin, days)
        if frame is not None:
            frames[f"{coin}ZAR"] = frame
    real = len(frames)
    frames.update(synthetic_daily(size - real, DAYS))
    source = (
        f"{real} real daily pairs from {data_dir} (USDT x {USDT_ZAR} ZAR)"
        + (f" + {size - real} synthetic" if size > real else "")
        if real
        else f"{size} synthetic pairs ({data_dir} not found)"
    )
    return frames, source


def views_for(pairs: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    if pairs == list(SEED_PREDICTIONS):
        return dict(SEED_PREDICTIONS), dict(SEED_CONFIDENCES)
    rng = np.random.default_rng(7)
    predictions = {p: float(rng.uniform(-0.03, 0.08)) for p in pairs}
    return predictions, {p: float(rng.uniform(0.5, 0.95)) for p in pairs}


def market_caps_for(pairs: list[str]) -> dict[str, float]:
    from helios.config import DEFAULT_MARKET_CAPS_ZAR

    rng = np.random.default_rng(11)
    return {p: DEFAULT_MARKET_CAPS_ZAR.get(p, float(rng.uniform(1e10, 5e11))) for p in pairs}


# --- PyPortfolioOpt directly --------------------------------------------------------------------


def direct_call(
    cov: pd.DataFrame,
    caps: pd.Series,
    views: pd.Series,
    confidences: list[float],
    delta: float,
    tau: float,
    rf: float,
    max_weight: float,
    *,
    matrices: bool = False,
) -> dict[str, float]:
    """The five steps as a notebook would write them with PyPortfolioOpt: views as
    ``absolute_views``, or (``matrices``) as Q and P, the form Helios passes."""
    from pypfopt import EfficientFrontier, black_litterman

    pi = black_litterman.market_implied_prior_returns(caps, delta, cov)
    if matrices:
        picks = np.zeros((len(views), len(cov)))
        picks[np.arange(len(views)), [list(cov.columns).index(p) for p in views.index]] = 1.0
        given: dict[str, Any] = {"Q": views.to_numpy(), "P": picks}
    else:
        given = {"absolute_views": views}
    model = black_litterman.BlackLittermanModel(
        cov,
        pi=pi + rf,
        **given,
        omega="idzorek",
        view_confidences=confidences,
        tau=tau,
        risk_aversion=delta,
    )
    posterior = model.bl_returns()
    posterior_cov = model.bl_cov()
    frontier = EfficientFrontier(posterior, posterior_cov, weight_bounds=(0, max_weight))
    frontier.max_sharpe(risk_free_rate=rf)
    return dict(frontier.clean_weights())


def ledoit_wolf(returns: pd.DataFrame) -> pd.DataFrame:
    from pypfopt import risk_models

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return risk_models.CovarianceShrinkage(
            returns, returns_data=True, frequency=365
        ).ledoit_wolf()


def interleaved(calls: list[tuple[str, Callable[[], object]]], n: int, warmup: int) -> list[Timing]:
    """Several calls timed in one loop, rotating which goes first, so a change of load on the
    machine moves all of them: their ratios are measured in the same run."""
    for _ in range(warmup):
        for _, call in calls:
            call()
    gc.collect()
    samples = np.empty((len(calls), n))
    clock = time.perf_counter
    for i in range(n):
        for j in range(len(calls)):
            k = (i + j) % len(calls)
            began = clock()
            calls[k][1]()
            samples[k, i] = clock() - began
    timings = []
    for k, (name, _) in enumerate(calls):
        p50, p90, p99 = np.percentile(samples[k], [50, 90, 99])
        timings.append(
            Timing(name, n, float(p50), float(p90), float(p99), float(samples[k].mean()))
        )
    return timings


# --- one scenario ------------------------------------------------------------------------------


def scenario(url: str, data_dir: Path, size: int, n: int) -> dict[str, Any]:
    import helios

    frames, source = build_market(data_dir, size)
    pairs = list(frames)
    caps = market_caps_for(pairs)
    clock = helios.ManualClock(LAST_DAY + timedelta(days=1, hours=8))
    with helios.connect(
        url, clock=clock, market_feed="manual", pairs=pairs, market_caps_zar=caps
    ) as hx:
        for pair, frame in frames.items():
            hx.market.ingest(pair, frame, "1d", source="bench")
        predictions, confidences = views_for(pairs)

        def whole() -> dict[str, float]:
            return hx.optimizer.calculate_optimal_weights(pairs, predictions, confidences)

        def cold() -> dict[str, float]:
            hx.optimizer.clear_cache()
            return whole()

        first_began = time.perf_counter()
        whole()  # imports PyPortfolioOpt, cvxpy and scikit-learn, reads and fits the history
        first = time.perf_counter() - first_began
        inputs = hx.optimizer.explain(pairs, predictions, confidences, frontier_points=0)
        cov = pd.DataFrame(inputs["covariance"]).loc[pairs, pairs]
        returns = hx.market.returns_frame(pairs).tail(DAYS)
        caps_series = pd.Series(inputs["market_caps"])
        views = pd.Series(inputs["views"]["annual"])
        view_confidences = [confidences[p] for p in views.index]
        settings = hx.settings
        args = (
            caps_series,
            views,
            view_confidences,
            settings.bl_risk_aversion,
            settings.bl_tau,
            settings.risk_free_rate,
            settings.optimizer_max_weight,
        )

        def with_cov() -> dict[str, float]:
            return hx.optimizer.calculate_optimal_weights(pairs, predictions, confidences, cov=cov)

        def direct() -> dict[str, float]:
            return direct_call(cov, *args)

        def direct_matrices() -> dict[str, float]:
            return direct_call(cov, *args, matrices=True)

        def direct_from_returns() -> dict[str, float]:
            return direct_call(ledoit_wolf(returns), *args)

        agree = max(abs(with_cov()[p] - direct()[p]) for p in pairs)
        agree_returns = max(abs(whole()[p] - direct_from_returns()[p]) for p in pairs)
        ours, theirs, theirs_qp = interleaved(
            [
                (f"{size} pairs: calculate_optimal_weights(cov=...)", with_cov),
                (f"{size} pairs: PyPortfolioOpt directly, same cov (absolute_views)", direct),
                (f"{size} pairs: PyPortfolioOpt directly, same cov (Q, P)", direct_matrices),
            ],
            n,
            5,
        )
        whole_t, theirs_lw = interleaved(
            [
                (f"{size} pairs: calculate_optimal_weights (whole call, from the database)", whole),
                (
                    f"{size} pairs: PyPortfolioOpt directly from the returns (Ledoit-Wolf too)",
                    direct_from_returns,
                ),
            ],
            n,
            5,
        )
        timings = [
            whole_t,
            measure(
                f"{size} pairs: first call of a day (history read + Ledoit-Wolf)",
                cold,
                max(5, n // 10),
                1,
            ),
            ours,
            theirs,
            theirs_qp,
            theirs_lw,
            measure(
                f"{size} pairs: explain (20-point frontier)",
                lambda: hx.optimizer.explain(pairs, predictions, confidences),
                max(5, n // 10),
                1,
            ),
        ]
        return {
            "size": size,
            "source": source,
            "timings": timings,
            "ratio": ours.median / theirs.median,
            "ratio_qp": ours.median / theirs_qp.median,
            "ratio_whole": whole_t.median / theirs_lw.median,
            "first": first,
            "agree": agree,
            "agree_returns": agree_returns,
            "weights": {p: round(w, 4) for p, w in whole().items() if w > 1e-4},
            "method": inputs["method"],
            "db": database_version(hx),
        }


def run(args: argparse.Namespace) -> None:
    results = []
    with scratch_database(args.database_url) as (url, kind):
        print(f"database: {kind}")
        results.append(scenario(url, args.data_dir, 3, int(200 * args.scale)))
    with scratch_database(args.database_url) as (url, kind):
        results.append(scenario(url, args.data_dir, 30, int(60 * args.scale)))

    header = f"{'operation':78} {'n':>5} {'median':>11} {'p90':>11} {'p99':>11}"
    print()
    print(header)
    print("-" * len(header))
    for result in results:
        for t in result["timings"]:
            print(f"{t.name:78} {t.n:>5} {fmt(t.median):>11} {fmt(t.p90):>11} {fmt(t.p99):>11}")
    print()
    for result in results:
        size = result["size"]
        whole = result["timings"][0].median
        target = 50e-3 if size == 3 else 500e-3
        print(
            f"{size} pairs ({result['source']}): whole call median {fmt(whole)} "
            f"({'meets' if whole < target else 'MISSES'} < {fmt(target)}); overhead over "
            f"PyPortfolioOpt on the same cov {result['ratio']:.3f}x "
            f"({'meets' if result['ratio'] < 1.3 else 'MISSES'} < 1.3x), "
            f"{result['ratio_qp']:.3f}x over the Q, P form; whole call vs "
            f"PyPortfolioOpt from the returns {result['ratio_whole']:.3f}x; first call "
            f"{fmt(result['first'])}; weights agree to {result['agree']:.1e} "
            f"(same cov) / {result['agree_returns']:.1e} (from returns); {result['method']}: "
            f"{result['weights']}"
        )
    if not args.no_record:
        record(results, kind, args.note)
        print(f"recorded in {RESULTS.relative_to(HERE.parent)}")


def record(results: list[dict[str, Any]], kind: str, note: str) -> None:
    import cvxpy
    import pypfopt
    import sklearn

    facts = [f"- database: {results[0]['db']}"]
    for result in results:
        facts.append(
            f"- {result['size']} pairs: {result['source']}; last {DAYS} aligned daily returns; "
            f"views on {'the seed' if result['size'] == 3 else 'every pair'}; "
            f"{result['method']}: {result['weights']}"
        )
    facts.append(
        f"- pyportfolioopt {pypfopt.__version__}, cvxpy {cvxpy.__version__} (its default "
        f"solver for these quadratic programs, OSQP), scikit-learn {sklearn.__version__}"
    )
    footer = []
    for result in results:
        size = result["size"]
        target = 50e-3 if size == 3 else 500e-3
        whole = result["timings"][0].median
        footer.append(
            f"- {size} pairs: whole call {fmt(whole)} "
            f"({'meets' if whole < target else 'MISSES'} < {fmt(target)}); overhead over "
            f"PyPortfolioOpt on the same cov **{result['ratio']:.3f}x** "
            f"({'meets' if result['ratio'] < 1.3 else 'MISSES'} < 1.3x), "
            f"**{result['ratio_qp']:.3f}x** over PyPortfolioOpt given the views as Q and P "
            f"(the form Helios passes); whole call / "
            f"PyPortfolioOpt from the returns {result['ratio_whole']:.3f}x; the first call after "
            f"connect {fmt(result['first'])}"
            + (" (imports PyPortfolioOpt, cvxpy, scikit-learn)" if size == 3 else "")
            + f"; weights agree with PyPortfolioOpt's to "
            f"{result['agree']:.1e}."
        )
    footer.append("")
    append_results(
        RESULTS,
        "# Optimizer benchmark (issue 5)\n\n"
        "Produced by `python bench/bench_optimizer.py [--database-url URL]` (see the module "
        "docstring); each run appends a dated section, newest last. Targets: the whole "
        "`calculate_optimal_weights` call median < 50 ms for 3 pairs and < 500 ms for 30 pairs; "
        "overhead over PyPortfolioOpt called directly on the same inputs < 1.3x (ratio of "
        "medians measured interleaved in the same run).\n",
        kind,
        note,
        facts,
        [t for result in results for t in result["timings"]],
        footer,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: a temporary SQLite file; a PostgreSQL URL names the server on which a "
        "scratch database is created and dropped",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the iteration counts (default 1)"
    )
    parser.add_argument("--note", default="", help="a label for the recorded section")
    parser.add_argument(
        "--no-record", action="store_true", help=f"print only, do not append to {RESULTS.name}"
    )
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
