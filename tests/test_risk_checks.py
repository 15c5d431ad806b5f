"""The 7 risk checks as one pure function: ``helios.risk.checks.evaluate``.

No database here: the portfolio, the limits, the trade and the market statistics are built by
hand, so every figure below is checked against a value worked out in the docstring or comment.
The same function runs behind ``hx.risk.check_trade_risk`` (tests/test_risk_service.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helios.risk.checks import (
    CHECK_LIMITS,
    MIN_CORRELATION_OBS,
    MarketStats,
    OpenExposure,
    PortfolioState,
    ProposedTrade,
    RiskResult,
    evaluate,
)
from helios.risk.limits import LIMIT_RULES, RiskLimits

SEED_LIMITS = RiskLimits()  # the seed's 8 defaults
SECTORS = {"BTCZAR": "crypto", "ETHZAR": "crypto", "SOLZAR": "crypto", "ADAZAR": "crypto"}
SECTORS |= {"USDTZAR": "stablecoin"}
PRICES = {"BTCZAR": 1_200_000.0, "ETHZAR": 60_000.0, "SOLZAR": 2_500.0, "ADAZAR": 15.0}
PRICES |= {"USDTZAR": 18.0}


# --- helpers: a book, a market and a trade, by hand --------------------------------------------


def market(
    vols: dict[str, float], correlations: dict[tuple[str, str], float] | None = None, obs=365
) -> MarketStats:
    """Daily vols, and a covariance matrix with those vols on the diagonal and the given
    correlations off it (pairs not named are uncorrelated)."""
    rho = correlations or {}
    pairs = tuple(vols)

    def corr(a: str, b: str) -> float:
        return 1.0 if a == b else rho.get((a, b), rho.get((b, a), 0.0))

    cov = tuple(tuple(vols[a] * vols[b] * corr(a, b) for b in pairs) for a in pairs)
    return MarketStats(daily_vol=dict(vols), pairs=pairs, covariance=cov, aligned_obs=obs)


def held(pair: str, notional: float, side: str = "BUY") -> OpenExposure:
    return OpenExposure(pair, side, notional, SECTORS[pair])


def book(
    equity: float = 100_000.0,
    peak: float | None = None,
    start_of_day: float | None = None,
    positions: tuple[OpenExposure, ...] = (),
) -> PortfolioState:
    return PortfolioState(
        equity=equity,
        peak_equity=equity if peak is None else peak,
        start_of_day_equity=equity if start_of_day is None else start_of_day,
        positions=positions,
    )


def buy(pair: str, size: float, leverage: float = 1.0, side: str = "BUY") -> ProposedTrade:
    return ProposedTrade(pair, side, size, leverage, SECTORS[pair], PRICES[pair])


def check(result: RiskResult, name: str):
    [found] = [c for c in result.checks if c.name == name]
    return found


def failed_names(result: RiskResult) -> list[str]:
    return [c.name for c in result.checks if not c.passed]


# --- the seed's Tier 5 example ---------------------------------------------------------------


def seed_tier5() -> tuple[PortfolioState, MarketStats]:
    """The seed's book: R100,000 equity, 2% below its peak, 1% down today, R450 at risk, 30%
    crypto, leverage 1.2x, and a BTC buy correlated 0.75 with what is open.

    Those numbers only fit together with a second sector: 30% crypto and 1.2x leverage mean
    R30,000 of crypto plus R90,000 of something else. So the book holds
        ETHZAR  R30,000 long (crypto,     daily vol 1.2%: R360 at risk)
        USDTZAR R90,000 long (stablecoin, daily vol 0.1%: R90 at risk)   -> R450 at risk.
    Peak = 100,000 / 0.98 (2% drawdown); start of day = 100,000 / 0.99 (1% down today).

    The covariance matrix keeps those vols on its diagonal (BTC 4%), leaves USDT uncorrelated
    with both, and picks cov(BTC, ETH) so that the correlation of BTC's returns with the book's
    returns is exactly 0.75. With weights w = (0, 30,000, 90,000) the book's rand volatility is
    sd_p = sqrt((30,000 x 0.012)^2 + (90,000 x 0.001)^2) = sqrt(360^2 + 90^2) = 371.08, and
        corr = 30,000 x cov(BTC, ETH) / (0.04 x sd_p) = 0.75
        =>  cov(BTC, ETH) = 0.75 x 0.04 x sd_p / 30,000 = 3.7108e-4 (a BTC-ETH correlation of
            0.773: the USDT leg dilutes it to 0.75 for the book as a whole).
    """
    vol = {"BTCZAR": 0.04, "ETHZAR": 0.012, "USDTZAR": 0.001}
    sd_book = math.sqrt((30_000 * 0.012) ** 2 + (90_000 * 0.001) ** 2)
    rho_btc_eth = 0.75 * 0.04 * sd_book / 30_000 / (0.04 * 0.012)
    stats = market(vol, {("BTCZAR", "ETHZAR"): rho_btc_eth})
    state = book(
        equity=100_000.0,
        peak=100_000 / 0.98,
        start_of_day=100_000 / 0.99,
        positions=(held("ETHZAR", 30_000.0), held("USDTZAR", 90_000.0)),
    )
    return state, stats


def test_the_seeds_R903_BTCZAR_buy_on_a_R100k_book_passes_all_7_checks():
    state, stats = seed_tier5()
    result = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0), stats)

    assert result.passed is True
    assert result.reason == "All 7 checks passed"
    assert result.violated_limits == []
    assert result.halted is False
    assert [(c.number, c.name, c.limit_name) for c in result.checks] == [
        (1, "drawdown", "max_drawdown_pct"),
        (2, "daily_loss", "daily_loss_limit_pct"),
        (3, "risk_capacity", "max_portfolio_risk_exposure_pct"),
        (4, "single_position", "max_single_position_pct"),
        (5, "sector_exposure", "max_sector_exposure_pct"),
        (6, "correlation", "max_correlation_threshold"),
        (7, "leverage", "max_leverage"),
    ]
    assert all(c.passed for c in result.checks)
    values = {c.name: c.value for c in result.checks}
    assert values == {
        "drawdown": pytest.approx(0.02, abs=1e-12),
        "daily_loss": pytest.approx(0.01, abs=1e-12),
        # R450 open + 903 x 0.04 = R36.12 new = R486.12 of R100,000
        "risk_capacity": pytest.approx(0.0048612, abs=1e-12),
        "single_position": pytest.approx(0.00903, abs=1e-12),  # 0.9%
        "sector_exposure": pytest.approx(0.30903, abs=1e-12),  # 30% + 0.9% = 30.9%
        "correlation": pytest.approx(0.75, abs=1e-12),
        "leverage": pytest.approx(1.20903, abs=1e-12),  # 1.2x + 0.01x = 1.21x
    }
    assert [c.limit for c in result.checks] == [0.15, 0.05, 0.15, 0.20, 0.60, 0.90, 3.0]
    assert [c.message for c in result.checks] == [
        "Drawdown 2.00% <= 15.00% limit",
        "Daily loss 1.00% <= 5.00% limit",
        "Risk at stake R486.12 (open R450.00 + new R36.12 at 4.00% daily vol) <= R15,000.00 budget",
        "BTCZAR position R903.00 = 0.90% of equity <= 20.00% limit",
        "Sector 'crypto' exposure 30.90% <= 60.00% limit",
        "Correlation with the open portfolio 0.75 <= 0.90 limit",
        "Leverage after trade 1.21x <= 3.00x limit",
    ]


def test_the_seeds_buy_at_3x_leverage_is_still_within_every_limit():
    """R903 at 3x is a R2,709 notional: R108.36 more at risk, 2.71% of equity, 1.23x."""
    state, stats = seed_tier5()
    result = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0, leverage=3.0), stats)
    assert result.passed is True
    assert check(result, "risk_capacity").value == pytest.approx((450 + 108.36) / 100_000)
    assert check(result, "single_position").value == pytest.approx(0.02709)
    assert check(result, "leverage").value == pytest.approx(1.22709)


def test_a_BTC_short_against_a_long_ETH_book_is_negatively_correlated_and_passes():
    """Sign-adjusted for side: selling BTC (correlation 0.95 with ETH) hedges an ETH long."""
    stats = market({"BTCZAR": 0.04, "ETHZAR": 0.05}, {("BTCZAR", "ETHZAR"): 0.95})
    state = book(positions=(held("ETHZAR", 10_000.0),))
    long = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0), stats)
    short = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0, side="SELL"), stats)
    assert check(long, "correlation").value == pytest.approx(0.95, abs=1e-12)
    assert long.violated_limits == ["max_correlation_threshold"]
    assert check(short, "correlation").value == pytest.approx(-0.95, abs=1e-12)
    assert short.passed is True


def test_with_no_open_positions_the_correlation_check_passes_at_zero():
    result = evaluate(book(), SEED_LIMITS, buy("BTCZAR", 903.0), market({"BTCZAR": 0.04}, obs=0))
    corr = check(result, "correlation")
    assert (corr.passed, corr.value) == (True, 0.0)
    assert corr.message == "No open positions: nothing to be correlated with"
    assert result.passed is True


# --- each check: just under passes, at the limit passes, just over fails ----------------------
#
# Each scenario moves one lever (equity, a correlation, a trade size) so that one check sits
# exactly on its limit while every other check has room; the default limits are the seed's
# except where a scenario says otherwise.

VOL = {"BTCZAR": 0.04, "ETHZAR": 0.04, "SOLZAR": 0.04, "ADAZAR": 0.04, "USDTZAR": 0.001}
MODERATE = {("BTCZAR", "ETHZAR"): 0.5, ("BTCZAR", "SOLZAR"): 0.5, ("ETHZAR", "SOLZAR"): 0.5}
MODERATE |= {("BTCZAR", "ADAZAR"): 0.5, ("ETHZAR", "ADAZAR"): 0.5, ("SOLZAR", "ADAZAR"): 0.5}
Scenario = Callable[[float], tuple[PortfolioState, RiskLimits, ProposedTrade, MarketStats]]


def drawdown_at(equity: float):
    """R100,000 peak; the book is worth ``equity`` (flat today): 15% drawdown at R85,000."""
    return (
        book(equity=equity, peak=100_000.0, start_of_day=equity),
        SEED_LIMITS,
        buy("BTCZAR", 903.0),
        market(VOL),
    )


def daily_loss_at(equity: float):
    """Started the day (and peaked) at R100,000: 5% down today at R95,000."""
    return (
        book(equity=equity, peak=100_000.0, start_of_day=100_000.0),
        SEED_LIMITS,
        buy("BTCZAR", 903.0),
        market(VOL),
    )


def risk_capacity_at(notional: float):
    """A 1% risk budget (R1,000): an ETH long of R15,000 at 4% holds R600 at risk, so a BTC buy
    of R10,000 at 4% (R400) uses the budget exactly."""
    return (
        book(positions=(held("ETHZAR", 15_000.0),)),
        replace(SEED_LIMITS, max_portfolio_risk_exposure_pct=0.01),
        buy("BTCZAR", notional),
        market(VOL, MODERATE),
    )


def single_position_at(notional: float):
    """An empty R100,000 book; a BTC buy at 2x leverage: R20,000 notional is 20%."""
    return book(), SEED_LIMITS, buy("BTCZAR", notional / 2, leverage=2.0), market(VOL)


def sector_at(notional: float):
    """R50,000 of crypto open (ETH 20k, SOL 20k, ADA 10k) and R30,000 of USDT, which is another
    sector and does not count: a R10,000 BTC buy takes crypto to 60%."""
    positions = (
        held("ETHZAR", 20_000.0),
        held("SOLZAR", 20_000.0),
        held("ADAZAR", 10_000.0),
        held("USDTZAR", 30_000.0),
    )
    return book(positions=positions), SEED_LIMITS, buy("BTCZAR", notional), market(VOL, MODERATE)


def correlation_at(rho: float):
    """One ETH long open; BTC's correlation with ETH is the correlation with the book."""
    return (
        book(positions=(held("ETHZAR", 10_000.0),)),
        SEED_LIMITS,
        buy("BTCZAR", 903.0),
        market({"BTCZAR": 0.04, "ETHZAR": 0.05}, {("BTCZAR", "ETHZAR"): rho}),
    )


def leverage_at(notional: float):
    """R250,000 of USDT and R40,000 of ETH open on R100,000: a R10,000 BTC buy makes 3.00x
    (each pair and the crypto sector stay within their own limits)."""
    positions = (held("USDTZAR", 250_000.0), held("ETHZAR", 40_000.0))
    return book(positions=positions), SEED_LIMITS, buy("BTCZAR", notional), market(VOL, MODERATE)


BOUNDARIES = [
    # check, scenario, (just under, at the limit, just over), expected value at the limit,
    # the failing message of the "just over" case
    (
        "drawdown",
        drawdown_at,
        (85_001.0, 85_000.0, 84_999.0),
        0.15,
        "Drawdown 15.001% > 15.000% limit",
    ),
    (
        "daily_loss",
        daily_loss_at,
        (95_001.0, 95_000.0, 94_999.0),
        0.05,
        "Daily loss 5.001% > 5.000% limit",
    ),
    (
        "risk_capacity",
        risk_capacity_at,
        (9_999.0, 10_000.0, 10_001.0),
        0.01,
        "Risk at stake R1,000.04 (open R600.00 + new R400.04 at 4.00% daily vol) "
        "> R1,000.00 budget (1.00% of equity)",
    ),
    (
        "single_position",
        single_position_at,
        (19_999.0, 20_000.0, 20_001.0),
        0.20,
        "BTCZAR position R20,001.00 = 20.001% of equity > 20.000% limit",
    ),
    (
        "sector_exposure",
        sector_at,
        (9_999.0, 10_000.0, 10_001.0),
        0.60,
        "Sector 'crypto' exposure 60.001% > 60.000% limit",
    ),
    (
        "correlation",
        correlation_at,
        (0.8999, 0.90, 0.9001),
        0.90,
        "Correlation with the open portfolio 0.9001 > 0.9000 limit",
    ),
    (
        "leverage",
        leverage_at,
        (9_999.0, 10_000.0, 10_001.0),
        3.0,
        "Leverage after trade 3.00001x > 3.00000x limit",
    ),
]


@pytest.mark.parametrize(
    ("name", "scenario", "levers", "at_value", "over_message"),
    BOUNDARIES,
    ids=[b[0] for b in BOUNDARIES],
)
def test_a_trade_just_under_or_at_a_limit_passes_and_just_over_fails_naming_only_that_check(
    name: str, scenario: Scenario, levers, at_value: float, over_message: str
):
    under, at, over = (evaluate(*scenario(lever)) for lever in levers)
    number = next(i for i, (n, _) in enumerate(CHECK_LIMITS, 1) if n == name)
    limit_name = dict(CHECK_LIMITS)[name]

    assert under.passed is True, under.reason
    assert at.passed is True, at.reason
    assert check(at, name).value == pytest.approx(at_value, abs=1e-12)
    assert check(under, name).value < check(at, name).value < check(over, name).value

    assert over.passed is False
    assert failed_names(over) == [name]
    assert over.violated_limits == [limit_name]
    assert check(over, name).message == over_message
    assert over.reason == f"CHECK {number} {name}: {over_message}"


def test_a_R350000_BTC_buy_on_a_R100k_book_breaks_three_limits_and_lists_all_three():
    """R116,666.67 at 3x = R350,000: 350% in one pair and in crypto, 3.5x leverage; R14,000 at
    4% is still inside the R15,000 risk budget, so exactly three checks fail."""
    trade = buy("BTCZAR", 350_000 / 3, leverage=3.0)
    result = evaluate(book(), SEED_LIMITS, trade, market(VOL))
    assert result.passed is False
    assert result.violated_limits == [
        "max_single_position_pct",
        "max_sector_exposure_pct",
        "max_leverage",
    ]
    assert failed_names(result) == ["single_position", "sector_exposure", "leverage"]
    assert result.reason == (
        "CHECK 4 single_position: BTCZAR position R350,000.00 = 350.00% of equity > "
        "20.00% limit; "
        "CHECK 5 sector_exposure: Sector 'crypto' exposure 350.00% > 60.00% limit; "
        "CHECK 7 leverage: Leverage after trade 3.50x > 3.00x limit"
    )
    assert check(result, "risk_capacity").value == pytest.approx(0.14)
    assert len(result.checks) == 7


# --- missing inputs fail closed ---------------------------------------------------------------


def test_a_trade_in_a_pair_without_a_current_price_fails_closed():
    trade = replace(buy("BTCZAR", 903.0), price=None)
    result = evaluate(book(), SEED_LIMITS, trade, market(VOL))
    assert result.passed is False
    assert failed_names(result) == [
        "risk_capacity",
        "single_position",
        "sector_exposure",
        "leverage",
    ]
    for name in failed_names(result):
        assert check(result, name).message == "no current price for BTCZAR"
        assert check(result, name).value is None
    assert "no current price for BTCZAR" in result.reason


def test_a_trade_without_a_volatility_estimate_fails_the_risk_capacity_check():
    stats = market({"ETHZAR": 0.04})  # BTC has too little history for an estimate
    result = evaluate(book(), SEED_LIMITS, buy("BTCZAR", 903.0), stats)
    assert result.violated_limits == ["max_portfolio_risk_exposure_pct"]
    risk = check(result, "risk_capacity")
    assert (risk.passed, risk.value) == (False, None)
    assert risk.message == "no volatility estimate for BTCZAR"


@pytest.mark.parametrize("vol", [0.0, float("nan"), -0.01])
def test_a_zero_or_meaningless_volatility_is_no_estimate_and_fails_closed(vol: float):
    """A feed stuck at one price gives a volatility of 0: any size would look riskless."""
    stats = market({"BTCZAR": 0.04})
    stats = replace(stats, daily_vol={"BTCZAR": vol})
    result = evaluate(book(), SEED_LIMITS, buy("BTCZAR", 903.0), stats)
    assert result.violated_limits == ["max_portfolio_risk_exposure_pct"]
    assert check(result, "risk_capacity").message == "no volatility estimate for BTCZAR"


def test_an_open_position_without_a_volatility_estimate_fails_the_risk_capacity_check():
    stats = market({"BTCZAR": 0.04, "ETHZAR": 0.04}, obs=365)
    state = book(positions=(held("ETHZAR", 5_000.0), held("SOLZAR", 5_000.0)))
    result = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0), stats)
    assert check(result, "risk_capacity").message == "no volatility estimate for SOLZAR"
    assert "max_portfolio_risk_exposure_pct" in result.violated_limits


@pytest.mark.parametrize("aligned", [0, 1, MIN_CORRELATION_OBS - 1])
def test_too_little_aligned_history_for_the_correlation_fails_closed_while_positions_are_open(
    aligned: int,
):
    stats = market({"BTCZAR": 0.04, "ETHZAR": 0.05}, {("BTCZAR", "ETHZAR"): 0.2}, obs=aligned)
    result = evaluate(
        book(positions=(held("ETHZAR", 10_000.0),)), SEED_LIMITS, buy("BTCZAR", 903.0), stats
    )
    assert result.violated_limits == ["max_correlation_threshold"]
    corr = check(result, "correlation")
    assert corr.value is None
    assert corr.message == (
        f"too little history for the correlation: {aligned} aligned daily returns < 30"
    )


def test_thirty_aligned_returns_are_enough_for_the_correlation():
    stats = market({"BTCZAR": 0.04, "ETHZAR": 0.05}, {("BTCZAR", "ETHZAR"): 0.2}, obs=30)
    result = evaluate(
        book(positions=(held("ETHZAR", 10_000.0),)), SEED_LIMITS, buy("BTCZAR", 903.0), stats
    )
    assert result.passed is True
    assert check(result, "correlation").value == pytest.approx(0.2, abs=1e-12)


def test_a_trade_in_a_pair_missing_from_the_covariance_fails_the_correlation_check():
    """The service leaves pairs with fewer than 30 daily returns out of the matrix."""
    stats = market({"ETHZAR": 0.05}, obs=365)
    stats = replace(stats, daily_vol={"BTCZAR": 0.04, "ETHZAR": 0.05})
    result = evaluate(
        book(positions=(held("ETHZAR", 10_000.0),)), SEED_LIMITS, buy("BTCZAR", 903.0), stats
    )
    assert result.violated_limits == ["max_correlation_threshold"]
    assert check(result, "correlation").message == (
        "too little history for the correlation: BTCZAR has fewer than 30 daily returns"
    )


def test_an_open_position_without_a_price_fails_every_check_that_needs_its_value():
    state = book(positions=(held("ETHZAR", float("nan")),))
    result = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0), market(VOL, MODERATE))
    assert failed_names(result) == [
        "risk_capacity",
        "single_position",
        "sector_exposure",
        "correlation",
        "leverage",
    ]
    for name in failed_names(result):
        assert check(result, name).message == "no current price for open position(s) in ETHZAR"
        assert check(result, name).value is None


@pytest.mark.parametrize("equity", [0.0, -5_000.0, float("nan")])
def test_a_book_without_positive_equity_fails_every_check_that_divides_by_it(equity: float):
    state = PortfolioState(equity, 100_000.0, 100_000.0, (held("ETHZAR", 10_000.0),))
    result = evaluate(state, SEED_LIMITS, buy("BTCZAR", 903.0), market(VOL, MODERATE))
    assert result.passed is False
    for name in ("drawdown", "daily_loss", "risk_capacity", "single_position", "leverage"):
        assert check(result, name).passed is False
        assert check(result, name).value is None
        assert "is not positive" in check(result, name).message


# --- property tests: random books, limits and trades ------------------------------------------

PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR", "USDTZAR")
TOL = 1e-9


def _limit_values():
    """Any valid set of limits: each one the seed's default times a factor of 0.3 to 3, kept
    inside its documented range (so books near and far from every limit both come up)."""
    values = {}
    for name, rule in LIMIT_RULES.items():
        lowest = rule.low if rule.low_inclusive else math.nextafter(rule.low, math.inf)
        values[name] = st.floats(0.3, 3.0).map(
            lambda f, rule=rule, lowest=lowest: min(rule.high, max(lowest, rule.default * f))
        )
    return st.fixed_dictionaries(values).map(lambda v: RiskLimits(**v))


@st.composite
def scenarios(draw):
    """A random (book, limits, trade, market) within the function's contract.

    Half the books are calm (near their peak, a few small positions, a small trade, every input
    present), so many trades pass; the other half are stormy: equity of any sign, up to 6
    positions, trades up to 20% of equity at any allowed leverage, and now and then a missing
    price, volatility, mark or history."""
    calm = draw(st.booleans())
    if calm:
        equity = draw(st.floats(1e3, 1e7))
    else:
        equity = draw(st.one_of(st.floats(1e3, 1e7), st.sampled_from([0.0, -1_000.0])))
    scale = abs(equity) or 1e5

    def odd(one_in: int) -> bool:  # a rare event, never in a calm book
        return not calm and draw(st.integers(1, one_in)) == 1

    # a peak below equity happens too: the stored peak is raised only by valuations
    peak = abs(equity) * draw(st.floats(0.98, 1.05) if calm else st.floats(0.9, 1.3))
    start_of_day = abs(equity) * draw(st.floats(0.99, 1.02) if calm else st.floats(0.95, 1.1))
    sector_of = {p: draw(st.sampled_from(["crypto", "stablecoin", "defi"])) for p in PAIRS}
    positions = []
    for pair in draw(st.lists(st.sampled_from(PAIRS), max_size=3 if calm else 6)):
        size = draw(st.floats(0.001, 0.05) if calm else st.floats(0.001, 0.3))
        notional = float("nan") if odd(20) else scale * size  # NaN: no mark for it
        side = draw(st.sampled_from(["BUY", "SELL"]))
        positions.append(OpenExposure(pair, side, notional, sector_of[pair]))
    limits = draw(_limit_values())
    pair = draw(st.sampled_from(PAIRS))
    trade = ProposedTrade(
        pair=pair,
        side=draw(st.sampled_from(["BUY", "SELL"])),
        position_size_zar=scale * draw(st.floats(1e-4, 0.03) if calm else st.floats(1e-4, 0.2)),
        leverage=draw(
            st.floats(1.0, min(2.0, limits.max_leverage) if calm else limits.max_leverage)
        ),
        sector=sector_of[pair],
        price=draw(st.one_of(st.none(), st.floats(0.01, 2e6))) if odd(10) else PRICES[pair],
    )
    vols = {p: draw(st.floats(0.001, 0.12)) for p in PAIRS}
    if odd(10):  # one pair has no volatility estimate
        del vols[draw(st.sampled_from(PAIRS))]
    # a covariance matrix from two random factors plus noise (always positive semi-definite)
    loadings = np.array([[draw(st.floats(-1, 1)) for _ in range(2)] for _ in PAIRS])
    noise = np.diag([draw(st.floats(0.05, 1.0)) ** 2 for _ in PAIRS])
    corr = loadings @ loadings.T + noise
    scale_corr = np.sqrt(np.diag(corr))
    corr = corr / np.outer(scale_corr, scale_corr)
    sample_vol = np.array([0.04 * draw(st.floats(0.1, 3.0)) for _ in PAIRS])
    cov = corr * np.outer(sample_vol, sample_vol)
    stats = MarketStats(
        daily_vol=vols,
        pairs=PAIRS,
        covariance=tuple(tuple(float(x) for x in row) for row in cov),
        aligned_obs=365 if calm else draw(st.sampled_from([0, 12, 29, 30, 60, 365])),
    )
    return PortfolioState(equity, peak, start_of_day, tuple(positions)), limits, trade, stats


def independent_post_trade_figures(state, trade, stats) -> dict[str, float]:
    """What the book looks like once ``trade`` is open, computed here from the definitions in
    DESIGN.md (not through the function under test)."""
    equity = state.equity
    new_notional = trade.position_size_zar * trade.leverage
    after = [*state.positions, OpenExposure(trade.pair, trade.side, new_notional, trade.sector)]
    figures = {
        "drawdown": 1 - equity / max(state.peak_equity, equity),
        "daily_loss": max(0.0, 1 - equity / state.start_of_day_equity),
        "risk_capacity": sum(p.notional * stats.daily_vol[p.pair] for p in after) / equity,
        "single_position": sum(p.notional for p in after if p.pair == trade.pair) / equity,
        "sector_exposure": sum(p.notional for p in after if p.sector == trade.sector) / equity,
        "leverage": sum(p.notional for p in after) / equity,
    }
    if state.positions:
        cov = np.array(stats.covariance)
        index = {p: i for i, p in enumerate(stats.pairs)}
        w = np.zeros(len(stats.pairs))
        for p in state.positions:
            w[index[p.pair]] += p.notional if p.side == "BUY" else -p.notional
        k = index[trade.pair]
        sign = 1.0 if trade.side == "BUY" else -1.0
        book_var = float(w @ cov @ w)
        figures["correlation"] = (
            0.0 if book_var <= 0 else sign * float(cov[k] @ w) / math.sqrt(cov[k, k] * book_var)
        )
    else:
        figures["correlation"] = 0.0
    return figures


# deterministic (the same 200 examples on every run and in CI) and fast; no example database
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(scenarios())
def test_on_any_valid_input_there_are_always_7_checks_and_passed_means_none_failed(scenario):
    limits = scenario[1]
    result = evaluate(*scenario)  # never raises on valid input
    assert [(c.number, c.name, c.limit_name) for c in result.checks] == [
        (i, name, limit) for i, (name, limit) in enumerate(CHECK_LIMITS, 1)
    ]
    failed = [c for c in result.checks if not c.passed]
    assert result.passed is (not failed)
    assert result.violated_limits == [c.limit_name for c in failed]
    assert result.halted is False
    if result.passed:
        assert result.reason == "All 7 checks passed"
    else:
        assert result.reason == "; ".join(f"CHECK {c.number} {c.name}: {c.message}" for c in failed)
    for c in result.checks:
        assert c.message
        assert c.limit == getattr(limits, c.limit_name)
        # a verdict is either measured (a value, failing only above the limit) or fail-closed
        if c.value is None:
            assert c.passed is False
        else:
            assert math.isfinite(c.value)
            assert c.passed is (c.value <= c.limit + TOL * max(1.0, c.limit))


@PROPERTY_SETTINGS
@given(scenarios())
def test_any_trade_that_passes_leaves_every_limit_within_its_bound_once_opened(scenario):
    state, limits, trade, stats = scenario
    result = evaluate(state, limits, trade, stats)
    if not result.passed:
        return
    # a pass needs every input: a price, positive equity, vols, marks, enough history
    assert trade.price is not None and trade.price > 0
    assert state.equity > 0
    assert all(math.isfinite(p.notional) for p in state.positions)
    assert {p.pair for p in state.positions} | {trade.pair} <= set(stats.daily_vol)
    assert not state.positions or stats.aligned_obs >= MIN_CORRELATION_OBS

    figures = independent_post_trade_figures(state, trade, stats)
    bound = {name: getattr(limits, limit_name) for name, limit_name in CHECK_LIMITS}
    for name, value in figures.items():
        assert value <= bound[name] + TOL * max(1.0, bound[name]), (name, value, bound[name])


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_measured_value_agrees_with_an_independent_computation(scenario):
    state, limits, trade, stats = scenario
    result = evaluate(state, limits, trade, stats)
    if state.equity <= 0 or any(not math.isfinite(p.notional) for p in state.positions):
        return  # nothing is measured on a book without equity or marks (tested above)
    vols_known = {p.pair for p in state.positions} | {trade.pair} <= set(stats.daily_vol)
    figures = independent_post_trade_figures(
        state, trade, stats if vols_known else replace(stats, daily_vol=dict.fromkeys(PAIRS, 1.0))
    )
    for c in result.checks:
        if c.value is None or (c.name == "risk_capacity" and not vols_known):
            continue
        assert c.value == pytest.approx(figures[c.name], rel=1e-9, abs=1e-12), c.name


def test_the_property_strategy_produces_both_passing_and_failing_trades():
    """Guard against a strategy that never reaches the interesting half: with the seeded
    generator a fair share of random trades pass all 7 checks."""
    outcomes: list[bool] = []

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(scenarios())
    def collect(scenario):
        outcomes.append(evaluate(*scenario).passed)

    collect()
    assert 20 <= outcomes.count(True) <= len(outcomes) - 20


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_limit_set_to_the_measured_value_passes_and_a_hair_below_it_fails_that_check(scenario):
    """Moving one limit onto the value the trade would reach lets it through (failing only when
    strictly above); a millionth below, that check and no other changes its verdict."""
    state, limits, trade, stats = scenario
    result = evaluate(state, limits, trade, stats)
    for c in result.checks:
        rule = LIMIT_RULES[c.limit_name]
        hair = c.value * (1 - 1e-6) - 1e-8 if c.value is not None else None
        if hair is None or not (rule.low < hair and c.value <= rule.high):
            continue
        if c.value < 1.0 and c.limit_name == "max_leverage":
            continue  # a leverage limit cannot go below 1x
        at = evaluate(state, replace(limits, **{c.limit_name: c.value}), trade, stats)
        below = evaluate(state, replace(limits, **{c.limit_name: hair}), trade, stats)
        assert check(at, c.name).passed is True, c.name
        assert check(below, c.name).passed is False, c.name
        others = [(x.name, x.passed) for x in result.checks if x.name != c.name]
        assert [(x.name, x.passed) for x in at.checks if x.name != c.name] == others
        assert [(x.name, x.passed) for x in below.checks if x.name != c.name] == others
