"""The guardian at its edges (issue 14): what it must never trust without checking.

Each test names the item it proves and fails on the main of before the issue:

1. buying power: an opening trade whose margin plus fee exceeds the free cash is refused before
   anything is written, with the figures; sizing never proposes more than fits;
2. price age: a price observed longer ago than PRICE_MAX_AGE_SECONDS refuses opening trades,
   and ingested history never looks fresh (to the checks or to the stale-price halt);
6. impossible levels: a short's target or trailing activation at 100% or more is refused.

Real SQLite and PostgreSQL databases, the paper venue with its default fee (0.35%) and
slippage (0.05%), the manual feed and a hand-moved clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from factories import new_position
from sqlalchemy import func, select

import helios
from helios.clock import ManualClock, trading_day, trading_day_start
from helios.db.models import Event, LedgerEntry, Order, PortfolioState, Position, RiskDecision
from helios.errors import ConfigError, InvalidInput
from helios.events import record_exchange_error
from helios.market.bar_time import floor_time
from helios.money import ZERO

D = Decimal
# six pairs in two sectors of three (the book), independent random walks (3% a day)
SIX = {
    "BTCZAR": 1_200_000.0,
    "ETHZAR": 60_000.0,
    "SOLZAR": 2_500.0,
    "XRPZAR": 40.0,
    "ADAZAR": 15.0,
    "DOTZAR": 120.0,
}
SECTORS = {
    "BTCZAR": "majors",
    "ETHZAR": "majors",
    "SOLZAR": "majors",
    "XRPZAR": "alts",
    "ADAZAR": "alts",
    "DOTZAR": "alts",
}
HISTORY_DAYS = 120


def history(pair: str, last_close: float, end: object, seed: int) -> pd.DataFrame:
    """``HISTORY_DAYS`` + 1 daily candles ending on ``end``'s UTC day at ``last_close``."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.03, HISTORY_DAYS)
    log_closes = np.log(last_close) - np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])
    closes = np.round(np.exp(log_closes), 4)
    opens = np.concatenate([[closes[0]], closes[:-1]])
    last_day = floor_time(end, 86400)  # type: ignore[arg-type]
    return pd.DataFrame(
        {
            "timestamp": [last_day - timedelta(days=HISTORY_DAYS - i) for i in range(len(closes))],
            "open": opens,
            "high": np.maximum(opens, closes) * 1.01,
            "low": np.minimum(opens, closes) * 0.99,
            "close": closes,
            "volume": 10.0,
        }
    )


def give_six(hx: helios.Helios) -> None:
    yesterday = hx.clock.now() - timedelta(days=1)
    for seed, (pair, value) in enumerate(SIX.items(), 100):
        hx.market.ingest(pair, history(pair, value, yesterday, seed), "1d", source="test")
        hx.market.set_price(pair, repr(value))


@pytest.fixture
def six(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """R100,000 with the default limits over six pairs in two sectors, priced now."""
    with helios.connect(
        database_url,
        clock=clock,
        market_feed="manual",
        pairs=list(SIX),
        sector_map=SECTORS,
    ) as hx:
        give_six(hx)
        yield hx


def count(hx: helios.Helios, model: type, *where: object) -> int:
    with hx.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def stored_decision(hx: helios.Helios, decision_id: int) -> RiskDecision:
    with hx.db.read() as session:
        row = session.get(RiskDecision, decision_id)
        assert row is not None
        return row


def money_in(text: str) -> list[Decimal]:
    return [D(m.replace(",", "")) for m in re.findall(r"R([\d,]+\.\d\d)", text)]


# --- 1. buying power ---------------------------------------------------------------------------


def test_item1_six_R19000_buys_the_sixth_is_refused_for_cash_before_anything_is_written(
    six: helios.Helios,
):
    """The issue's book: each R19,000 buy passes all 7 checks (19% of equity per pair, 57% per
    sector), but five of them take R95,332.50 of the R100,000: the sixth would leave the cash
    at about -R14,400. It is refused with the figures, and nothing but its decision is
    written."""
    hx = six
    buy = {"position_size_zar": 19_000, "leverage": 1}
    pairs = list(SIX)
    for pair in pairs[:5]:
        opened = hx.positions.open_position(pair, "BUY", buy)
        assert opened["success"] is True, opened
    cash = hx.ledger.valuation().cash
    assert D("4660") < cash < D("4670")  # 5 x (19,000 + about 66.50 of fee)
    positions, orders = count(hx, Position), count(hx, Order)

    refused = hx.positions.open_position(pairs[5], "BUY", buy)

    assert refused["success"] is False
    assert "PRE-CHECK buying_power" in refused["reason"]
    needs, *_rest = money_in(refused["reason"].split("needs", 1)[1])
    assert needs == D("19066.50")  # R19,000 margin + 0.35% of R19,000 fee
    assert f"{cash:,.2f} free" in refused["reason"]
    assert count(hx, Position) == positions and count(hx, Order) == orders
    decision = stored_decision(hx, refused["decision_id"])
    assert decision.passed is False
    # the seed's 7 stay the seed's 7: every one of them passed; the pre-check refused
    assert len(decision.checks) == 7 and all(c["passed"] for c in decision.checks)
    pre = {p["name"]: p for p in decision.pre_checks}
    assert pre["buying_power"]["passed"] is False
    assert D(pre["buying_power"]["value"]) == D("19066.50")
    assert D(pre["buying_power"]["limit"]) == cash
    assert pre["price_age"]["passed"] is True
    valuation = hx.ledger.check()  # the books agree, and the cash is not negative
    assert valuation.cash >= 0


def test_item1_positions_being_opened_hold_their_cash_for_the_next_decision(six: helios.Helios):
    """An OPENING position's margin and fee are not yet booked, but they are spoken for: the
    next decision sees the cash less them (the reserve is in the same transaction)."""
    hx = six
    new_position(hx, "BTCZAR", "BUY", "90000", "1")  # its order still on its way
    result = hx.risk.preview("ETHZAR", "BUY", {"position_size_zar": 9_700})
    buying = {p.name: p for p in result.result.pre_checks}["buying_power"]
    # 100,000 - (90,000 + 315 of fee) = 9,685 free; 9,700 + 33.95 needed
    assert buying.passed is False
    assert D(buying.limit) == D("9685")
    assert D(buying.value) == D("9733.95")


def test_item1_sizing_never_proposes_more_than_the_free_cash_pays_for(six: helios.Helios):
    hx = six
    pairs = list(SIX)
    for pair in pairs[:5]:  # 19.5% of equity each, 58.5% a sector: R2,158.75 left
        assert hx.positions.open_position(pair, "BUY", {"position_size_zar": 19_500})["success"]
    free = hx.ledger.valuation().cash
    assert D("2150") < free < D("2160")
    sized = hx.risk.size_position(pairs[5], "BUY", 0.95, 0.02, 0.10)
    assert sized.cap_limit == "buying_power" and sized.capped is True
    margin = D(repr(sized.position_size_zar))
    fee = (margin * D("0.0035")).quantize(D("1e-8"))
    assert margin + fee <= free < margin + fee + D("0.02")  # the most that fits, to the cent
    opened = hx.positions.open_position(pairs[5], "BUY", {"position_size_zar": margin})
    assert opened["success"] is True, opened
    assert hx.ledger.check().cash >= 0


def test_item1_the_preview_shows_the_pre_checks_beside_the_7(six: helios.Helios):
    preview = six.risk.preview("BTCZAR", "BUY", {"position_size_zar": 150_000})
    assert [p.name for p in preview.result.pre_checks] == ["price_age", "buying_power"]
    assert len(preview.result.checks) == 7
    assert preview.passed is False
    assert preview.result.reason.startswith("PRE-CHECK buying_power: Not enough free cash")
    as_dict = preview.result.to_dict()
    assert [p["name"] for p in as_dict["pre_checks"]] == ["price_age", "buying_power"]


# --- 2. price age ------------------------------------------------------------------------------


def test_item2_a_three_hour_old_price_refuses_an_opening_trade_with_its_age(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    clock.advance(timedelta(hours=3))
    result = hx.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 903})
    assert result.passed is False
    assert all(c.passed for c in result.checks)  # the 7 alone would have let it through
    assert "PRE-CHECK price_age: Price of BTCZAR is stale: observed 3.0 h ago" in result.reason
    age = {p.name: p for p in result.pre_checks}["price_age"]
    assert float(age.value) == pytest.approx(3 * 3600) and float(age.limit) == 60
    opened = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 903})
    assert opened["success"] is False and "stale" in opened["reason"]
    assert count(hx, Position) == 0


def test_item2_a_price_is_fresh_for_PRICE_MAX_AGE_SECONDS_and_not_a_second_longer(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    clock.advance(timedelta(seconds=60))
    assert hx.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 903}).passed
    clock.advance(timedelta(seconds=1))
    late = hx.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 903})
    assert late.passed is False and "observed 61 s ago" in late.reason


def test_item2_the_age_allowed_is_a_setting_with_its_range(database_url: str, clock: ManualClock):
    with helios.connect(
        database_url, clock=clock, market_feed="manual", price_max_age_seconds=300
    ) as hx:
        hx.market.set_price("BTCZAR", "1200000")
        clock.advance(timedelta(minutes=4))
        preview = hx.risk.preview("BTCZAR", "BUY", {"position_size_zar": 903})
        assert {p.name: p.passed for p in preview.result.pre_checks}["price_age"] is True
    with pytest.raises(ConfigError) as bad:
        helios.connect(database_url, clock=clock, market_feed="manual", price_max_age_seconds=0)
    assert "PRICE_MAX_AGE_SECONDS" in str(bad.value)
    with pytest.raises(ConfigError) as slow:  # the feed must refresh it in time
        helios.connect(
            database_url,
            clock=clock,
            market_feed="sim",
            price_interval_seconds=45,
            price_max_age_seconds=60,
        )
    assert "PRICE_MAX_AGE_SECONDS" in str(slow.value) and "PRICE_INTERVAL_SECONDS" in str(
        slow.value
    )


def test_item2_ingested_history_never_makes_an_old_price_look_fresh(
    database_url: str, clock: ManualClock
):
    """History ingested now is as old as its bars: the checks refuse to open on its last close
    and the stale-price halt counts its age, not the moment it was stored."""
    with helios.connect(database_url, clock=clock, market_feed="manual") as hx:
        yesterday = clock.now() - timedelta(days=1)
        for seed, pair in enumerate(hx.settings.pairs, 100):
            hx.market.ingest(pair, history(pair, SIX[pair], yesterday, seed), "1d")
        table = hx.market.price_table().set_index("pair")
        assert (table["age_seconds"] > 3600).all()  # the end of yesterday's UTC bar, or older
        result = hx.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 903})
        assert result.passed is False and "PRE-CHECK price_age" in result.reason
        # a feed that has just started over its backfilled history has a full period to deliver
        # (a new install must not halt at once), then the old prices halt
        started = clock.now()
        assert hx.halts.breaches(feed_started_at=started) == []
        clock.advance(seconds=3601)
        [stale] = hx.halts.breaches(feed_started_at=started)
        assert stale.trigger == "stale_price"
        assert set(stale.figures["stale_seconds"]) == set(hx.settings.pairs)
        # without a feed in this process, the age runs from the observation alone
        assert [b.trigger for b in hx.halts.breaches()] == ["stale_price"]
        # a live price (observed now) makes it fresh again
        hx.market.set_price("BTCZAR", "1200000")
        assert hx.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 903}).passed


def test_item2_a_price_stamped_in_the_future_is_refused_and_changes_nothing(
    six: helios.Helios, clock: ManualClock
):
    """Minute bars exported in local time (SAST, UTC+2) and read as UTC are two hours ahead:
    stored, they would look fresh until the clock caught up. They are refused, naming the field
    and the allowed range, and nothing changes."""
    hx = six
    before = hx.market.price_table().set_index("pair").loc["BTCZAR", "observed_at"]
    ahead = floor_time(clock.now(), 60) + timedelta(hours=2)
    bars = pd.DataFrame(
        {
            "timestamp": [ahead - timedelta(minutes=1), ahead],
            "open": [1.2e6, 1.2e6],
            "high": [1.2e6, 1.2e6],
            "low": [1.2e6, 1.2e6],
            "close": [1.2e6, 1.2e6],
            "volume": [1.0, 1.0],
        }
    )
    with pytest.raises(InvalidInput) as refused:
        hx.market.ingest("BTCZAR", bars, "1m")
    assert refused.value.field == "candles.timestamp"
    assert "not later than now" in refused.value.allowed
    with pytest.raises(InvalidInput) as stamped:
        hx.market.set_price("BTCZAR", "1200000", ts=clock.now() + timedelta(hours=2))
    assert stamped.value.field == "ts"
    with pytest.raises(InvalidInput) as observed:
        hx.market.ingest(
            "BTCZAR",
            bars.iloc[:1].assign(timestamp=[floor_time(clock.now(), 60)]),
            "1m",
            observed=clock.now() + timedelta(minutes=10),
        )
    assert observed.value.field == "observed"
    assert hx.market.price_table().set_index("pair").loc["BTCZAR", "observed_at"] == before
    clock.advance(seconds=4)  # a few seconds of skew between clocks is tolerated
    hx.market.set_price("BTCZAR", "1200000", ts=clock.now() + timedelta(seconds=4))


# --- 6. impossible levels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("take_profit_pct", 1.5),
        ("take_profit_pct", 2.0),
        ("take_profit_pct", 1.0),
        ("trailing_activation_pct", 1.0),
        ("trailing_activation_pct", 3.0),
    ],
)
def test_item6_a_short_with_a_level_at_or_below_zero_is_refused_naming_the_field(
    six: helios.Helios, key: str, value: float
):
    hx = six
    params = {"position_size_zar": 903, key: value}
    if key == "trailing_activation_pct":
        params["trailing_distance_pct"] = 0.01
    for call in (hx.risk.preview, hx.risk.check_trade_risk, hx.positions.open_position):
        with pytest.raises(InvalidInput) as refused:
            call("BTCZAR", "SELL", params)
        assert refused.value.field == f"trade_params.{key}"
        assert "< 1 for a SELL" in refused.value.allowed
    with pytest.raises(InvalidInput) as signal:
        hx.signals.submit("BTCZAR", "SELL", 0.8, True, trade_params=params)
    assert signal.value.field == f"trade_params.{key}"
    assert count(hx, RiskDecision) == 0 and count(hx, Position) == 0
    # a long's target may be far above its entry
    long = hx.risk.preview("BTCZAR", "BUY", params)
    assert long.levels is not None and long.levels.take_profit_price > 0


def test_item6_a_short_just_under_100_percent_has_a_positive_target(six: helios.Helios):
    preview = six.risk.preview("BTCZAR", "SELL", {"position_size_zar": 903, "take_profit_pct": 0.9})
    assert preview.levels is not None
    assert preview.levels.take_profit_price == D("120000.00000000")
    assert preview.levels.take_profit_price > ZERO


# --- 3. a resumed halt re-arms -----------------------------------------------------------------


def halts_of(hx: helios.Helios) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == "HALT").order_by(Event.id)))


@pytest.fixture
def watched(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """Three pairs priced now, a 2-minute stale-price halt that only halts (no close-out)."""
    with helios.connect(
        database_url,
        clock=clock,
        market_feed="manual",
        halt_stale_price_seconds=120,
        halt_action_stale_price="halt_only",
        halt_action_exchange_errors="halt_only",
    ) as hx:
        for pair in hx.settings.pairs:
            hx.market.set_price(pair, repr(SIX[pair]))
        yield hx


def test_item3_a_stale_feed_still_dead_a_full_period_after_the_resume_halts_again(
    watched: helios.Helios, clock: ManualClock
):
    hx = watched
    clock.advance(seconds=121)
    assert [b.trigger for b in hx.halts.check()] == ["stale_price"]
    clock.advance(seconds=30)
    hx.controls.resume("thandi", "looking at the feed")  # still stale: acknowledged
    assert hx.halts.check() == [] and not hx.controls.is_halted()
    # while it lasts, nothing opens on those prices (the price age), and the trigger waits ...
    refused = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 903})
    assert refused["success"] is False and "stale" in refused["reason"]
    clock.advance(seconds=119)
    assert hx.halts.check() == [] and not hx.controls.is_halted()
    # ... a full period (120 s) after the resume, still stale: a new episode
    clock.advance(seconds=1)
    [again] = hx.halts.check()
    assert again.trigger == "stale_price" and again.figures["episode"] == "new"
    assert hx.controls.halt_state().cause == "stale_price"
    first, second = halts_of(hx)
    assert "a new episode" in second.message and "a new episode" not in first.message
    assert second.details["acknowledged_at"] == (clock.now() - timedelta(seconds=120)).isoformat()


def test_item3_a_condition_that_clears_re_arms_at_once(watched: helios.Helios, clock: ManualClock):
    hx = watched
    clock.advance(seconds=121)
    hx.halts.check()
    hx.controls.resume("thandi")
    assert hx.controls.acknowledged_triggers() == {"stale_price"}
    for pair in hx.settings.pairs:  # the feed comes back: the acknowledgement is dropped
        hx.market.set_price(pair, repr(SIX[pair]))
    assert hx.halts.check() == [] and hx.controls.acknowledged_triggers() == set()
    clock.advance(seconds=121)  # and dies again: halts at once
    assert [b.trigger for b in hx.halts.check()] == ["stale_price"]
    assert len(halts_of(hx)) == 2


def test_item3_exchange_errors_that_go_on_after_the_resume_halt_again_a_window_later(
    watched: helios.Helios, clock: ManualClock
):
    hx = watched

    def errors(n: int) -> None:
        for _ in range(n):
            record_exchange_error(hx.db, clock.now(), "valr", "timeout")
            clock.advance(seconds=2)

    def fresh() -> None:
        for pair in hx.settings.pairs:
            hx.market.set_price(pair, repr(SIX[pair]))

    errors(11)
    assert [b.trigger for b in hx.halts.check()] == ["exchange_errors"]
    hx.controls.resume("thandi", "VALR says it is fixed")
    for _ in range(3):  # the errors go on: 11 or more in every minute after the resume
        errors(15)
        fresh()
        if hx.controls.is_halted():
            break
        hx.halts.check()
    assert hx.controls.is_halted(), "still failing a full window after the resume: halts again"
    assert hx.controls.halt_state().cause == "exchange_errors"
    assert halts_of(hx)[-1].details["episode"] == "new"


# --- 4. peak and start-of-day equity never depend on the snapshot job ----------------------------

LONG = {"position_size_zar": 19_000, "stop_loss_pct": 0.9, "take_profit_pct": 10.0}


def book_of_three(hx: helios.Helios, factor: float, at: object = None) -> None:
    for pair in ("BTCZAR", "ETHZAR", "SOLZAR"):
        hx.market.set_price(pair, repr(round(SIX[pair] * factor, 2)), ts=at)  # type: ignore[arg-type]


@pytest.mark.parametrize("valuation", ["risk check", "monitor pass", "fill"])
def test_item4_a_high_seen_by_any_valuation_is_the_peak_the_drawdown_falls_from(
    six: helios.Helios, valuation: str
):
    """Three R19,000 longs rise 50% (equity about R128,400) and fall back to +7% (about
    R104,000): no snapshot ever ran, yet the drawdown is measured from the high."""
    hx = six
    for pair in ("BTCZAR", "ETHZAR", "SOLZAR"):
        assert hx.positions.open_position(pair, "BUY", LONG)["success"]
    book_of_three(hx, 1.5)
    if valuation == "risk check":
        hx.risk.check_trade_risk("XRPZAR", "BUY", {"position_size_zar": 100})
    elif valuation == "monitor pass":
        assert all(r.action == "HOLD" for r in hx.positions.monitor_positions())
    else:
        assert hx.positions.open_position("XRPZAR", "BUY", {"position_size_zar": 100})["success"]
    high = hx.ledger.valuation()
    # the peak is the highest equity a valuation saw (a fill's own fee comes after its check)
    assert high.equity > D("128000") and D(0) <= high.peak_equity - high.equity < D("1")
    book_of_three(hx, 1.07)
    low = hx.ledger.valuation()
    assert D("103000") < low.equity < D("105000")
    assert low.drawdown > D("0.17")
    result = hx.risk.check_trade_risk("XRPZAR", "BUY", {"position_size_zar": 100})
    assert result.passed is False and result.violated_limits == ["max_drawdown_pct"]
    assert "Drawdown 1" in result.checks[0].message
    assert [b.trigger for b in hx.halts.breaches()] == ["drawdown"]


def test_item4_the_day_start_is_rebuilt_from_the_ledger_and_the_boundary_prices(
    six: helios.Helios, clock: ManualClock
):
    """Nothing runs across midnight (Johannesburg): the next morning the book is 7.2% below the
    equity it had when the day began; the first valuation of the day rebuilds that equity from
    the ledger and the last bars before midnight, instead of taking the equity it finds."""
    hx = six
    for pair in ("BTCZAR", "ETHZAR", "SOLZAR"):
        assert hx.positions.open_position(pair, "BUY", LONG)["success"]
    midnight = trading_day_start(clock.now().date() + timedelta(days=1), "Africa/Johannesburg")
    clock.advance(midnight - clock.now() - timedelta(minutes=5))  # 23:55 in Johannesburg
    book_of_three(hx, 1.02)
    at_midnight = hx.ledger.valuation().equity
    clock.advance(hours=10)  # 10:05 the next day: the process was down all night
    book_of_three(hx, 1.02 * (1 - 0.1267))
    for pair in ("XRPZAR", "ADAZAR", "DOTZAR"):
        hx.market.set_price(pair, repr(SIX[pair]))
    result = hx.risk.check_trade_risk("XRPZAR", "BUY", {"position_size_zar": 100})
    assert result.passed is False and result.violated_limits == ["daily_loss_limit_pct"]
    loss = result.checks[1].value
    assert loss == pytest.approx(float(1 - hx.ledger.valuation().equity / at_midnight), abs=1e-9)
    assert 0.072 < loss < 0.073
    with hx.db.read() as session:  # the check rolled the day with the rebuilt start
        account = session.get(PortfolioState, 1)
        assert account is not None
        assert account.trading_day == trading_day(clock.now(), "Africa/Johannesburg")
        assert account.start_of_day_equity == at_midnight
    assert float(hx.ledger.valuation().daily_loss) == pytest.approx(loss, abs=1e-9)


def test_item4_without_prices_at_the_boundary_checks_1_and_2_fail_closed(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    assert hx.positions.open_position("BTCZAR", "BUY", LONG)["success"]
    clock.advance(days=2)  # no BTC bar in the day before today's start
    for pair in SIX:
        hx.market.set_price(pair, repr(SIX[pair]))
    result = hx.risk.check_trade_risk("ETHZAR", "BUY", {"position_size_zar": 100})
    assert result.passed is False
    assert result.violated_limits == ["max_drawdown_pct", "daily_loss_limit_pct"]
    for check in result.checks[:2]:
        assert check.passed is False and check.value is None
        assert "start-of-day equity unknown: no price of BTCZAR" in check.message
    assert all(c.passed for c in result.checks[2:])
    with hx.db.read() as session:  # not rolled on a guess
        account = session.get(PortfolioState, 1)
        assert account is not None and account.trading_day < clock.now().date()


# --- 5. an exit is labelled by its trigger; the review shows the slippage ------------------------


def test_item5_a_target_touched_inside_a_bar_and_closed_below_entry_is_counted_apart(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    opened = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 10_000})
    entry, target = opened["entry_price"], opened["take_profit_price"]
    clock.advance(seconds=10)
    hx.market.set_price("BTCZAR", str(target + 100))  # the target touched ...
    clock.advance(seconds=10)
    hx.market.set_price("BTCZAR", str(entry - 3000))  # ... and left before the monitor looked
    clock.advance(seconds=10)
    [result] = hx.positions.monitor_positions()
    assert result.action == "TAKE_PROFIT" and result.close is not None
    assert result.close["realized_pnl"] < 0  # the market fill was below the entry
    story = hx.positions.position_history(opened["position_id"])["position"]
    assert D(story["exit_trigger_price"]) == target
    review = hx.metrics.review(clock.now() - timedelta(hours=1))
    assert review["exits"]["TAKE_PROFIT"] == 0
    assert review["exits"]["TAKE_PROFIT_AT_A_LOSS"] == 1
    assert review["hit_rates"]["TAKE_PROFIT_AT_A_LOSS"] == 1.0
    slip = review["slippage_by_exit"]["TAKE_PROFIT"]
    exit_price, quantity = D(story["exit_price"]), D(story["quantity"])
    assert slip["positions"] == 1
    assert slip["slippage_zar"] == ((exit_price - target) * quantity).quantize(D("1e-8"))
    assert slip["mean_pct"] == pytest.approx(float((exit_price - target) / target))
    assert slip["worst_pct"] == slip["mean_pct"] < -0.05


def test_item5_a_stop_gapped_through_shows_its_slippage_and_a_clean_target_none(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    stopped = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 10_000})
    target = hx.positions.open_position("ETHZAR", "SELL", {"position_size_zar": 10_000})
    clock.advance(seconds=10)
    hx.market.set_price("BTCZAR", "1080000")  # 10% down: through the 2% stop
    hx.market.set_price("ETHZAR", str(target["take_profit_price"]))  # exactly at the target
    clock.advance(seconds=10)
    hx.positions.monitor_positions()
    review = hx.metrics.review(clock.now() - timedelta(hours=1))
    stop = review["slippage_by_exit"]["STOPPED_OUT"]
    # the paper fill of a stop: the worse of the stop and the market, less the slippage
    assert stop["mean_pct"] == pytest.approx(
        1080000 * 0.9995 / float(stopped["stop_loss_price"]) - 1
    )
    take = review["slippage_by_exit"]["TAKE_PROFIT"]
    assert take["mean_pct"] == pytest.approx(-0.0005, rel=1e-6)  # the market fill's slippage
    assert review["exits"]["TAKE_PROFIT"] == 1 and review["exits"]["STOPPED_OUT"] == 1


# --- 9. a pass run for a given time records that time ------------------------------------------


def test_item9_a_timeout_found_by_a_pass_at_80_hours_records_80_hours_held(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    opened = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 903})
    start = clock.now()
    later = start + timedelta(hours=80)
    [result] = hx.positions.monitor_positions(now=later)
    assert result.action == "TIMEOUT" and result.close is not None
    assert result.close["holding_hours"] == pytest.approx(80.0)
    story = hx.positions.position_history(opened["position_id"])
    assert datetime.fromisoformat(story["position"]["closed_at"]) == later
    [close_order] = [o for o in story["orders"] if o["action"] == "CLOSE"]
    assert datetime.fromisoformat(close_order["created_at"]) == later
    assert [datetime.fromisoformat(f["ts"]) for f in story["fills"]] == [start, later]
    closing = [e for e in story["events"] if e["kind"] in ("CLOSE_REQUESTED", "CLOSED")]
    assert {datetime.fromisoformat(e["ts"]) for e in closing} == {later}
    assert "after 80.00 h" in closing[-1]["message"]
    with hx.db.read() as session:
        released = session.scalars(
            select(LedgerEntry.ts).where(LedgerEntry.kind == "MARGIN_RELEASE")
        ).all()
    assert released == [later]


# --- 10. a stop crossed just after the open, inside the entry's bar -----------------------------


def next_minute_prices(
    hx: helios.Helios, clock: ManualClock, pair: str
) -> Callable[[int, str], None]:
    """``at(second, price)``: the clock to that second of the next minute, and a price of
    ``pair`` observed then."""
    minute = floor_time(clock.now(), 60) + timedelta(minutes=1)

    def at(second: int, value: str) -> None:
        clock.advance(minute + timedelta(seconds=second) - clock.now())
        hx.market.set_price(pair, value)

    return at


def test_item10_a_dip_after_the_entry_inside_a_bar_with_a_deeper_earlier_low_stops_it_out(
    six: helios.Helios, clock: ManualClock
):
    """In one minute bar: 95 at :10 (before the entry), back to 100, the entry at :30 (stop 2%
    below), a dip to 97 at :40 (through the stop, not below the bar's low), back to 100 at :50.
    Only the prices after the entry count, and 97 is one of them."""
    hx = six
    at = next_minute_prices(hx, clock, "SOLZAR")
    at(5, "2500")
    at(10, "2375")  # the earlier, deeper dip (95%)
    at(20, "2500")
    clock.advance(seconds=10)  # :30
    opened = hx.positions.open_position("SOLZAR", "BUY", {"position_size_zar": 5_000})
    assert opened["success"] is True
    assert opened["stop_loss_price"] > D("2425")  # 2% under an entry near 2,500
    at(40, "2425")  # 97%: through the stop, inside the bar's earlier range
    at(50, "2500")
    clock.advance(seconds=5)
    [result] = hx.positions.monitor_positions()
    assert result.action == "STOPPED_OUT", result.explanation


def test_item10_a_dip_before_the_entry_in_the_same_bar_never_stops_it(
    six: helios.Helios, clock: ManualClock
):
    hx = six
    at = next_minute_prices(hx, clock, "SOLZAR")

    at(5, "2500")
    at(10, "2375")  # through where the stop will be, before the entry
    at(20, "2500")
    clock.advance(seconds=10)
    assert hx.positions.open_position("SOLZAR", "BUY", {"position_size_zar": 5_000})["success"]
    at(40, "2490")
    clock.advance(seconds=5)
    assert [r.action for r in hx.positions.monitor_positions()] == ["HOLD"]


# --- 8. capacity is what the whole rule set accepts --------------------------------------------


def test_item8_capacity_counts_what_all_7_checks_accept_not_the_risk_budget_alone(
    six: helios.Helios,
):
    """With one BTC position open, the risk budget (15% of R100,000 at about 3% daily
    volatility) has room for about 90 minimum-size (R5,000) positions of SOLZAR. The rules
    accept far fewer (the single-position and correlation limits); the capacity says how many,
    names what refuses the next one, and exactly that many open."""
    hx = six
    assert hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 19_000})["success"]
    capacity = hx.risk.capacity()
    budget_count = capacity["risk_left_zar"] / (capacity["min_position_notional_zar"] * 0.03)
    room = capacity["min_positions_that_fit"]["SOLZAR"]
    refused_by = capacity["next_refused_by"]["SOLZAR"]
    assert budget_count > 50 and room is not None and 0 < room <= 4
    size = {"position_size_zar": math.floor(capacity["min_position_notional_zar"] * 100) / 100}
    for _ in range(room):
        assert hx.positions.open_position("SOLZAR", "BUY", size)["success"]
    refused = hx.positions.open_position("SOLZAR", "BUY", size)
    assert refused["success"] is False
    assert refused_by.split(":")[0] in refused["reason"]


def test_item8_capacity_counts_the_free_cash_too(six: helios.Helios):
    hx = six
    for pair in list(SIX)[:5]:
        assert hx.positions.open_position(pair, "BUY", {"position_size_zar": 19_500})["success"]
    capacity = hx.risk.capacity()  # about R2,159 free, a minimum position is about R4,980
    assert capacity["min_positions_that_fit"]["DOTZAR"] == 0
    assert capacity["next_refused_by"]["DOTZAR"].startswith("PRE-CHECK buying_power")


def test_item10_a_dip_before_a_new_high_is_judged_against_the_stop_of_its_time(
    six: helios.Helios, clock: ManualClock
):
    """A trailing long: a small dip (above the stop), then a new high that trails the stop up,
    both between two passes. The dip came first: the position holds with its stop trailed, it
    is not stopped out at the trailed level (which the dip, judged after the high, would cross)."""
    hx = six
    at = next_minute_prices(hx, clock, "SOLZAR")

    at(5, "2500")
    clock.advance(seconds=10)
    trailing = {
        "position_size_zar": 5_000,
        "trailing_activation_pct": 0.01,
        "trailing_distance_pct": 0.01,
    }
    assert hx.positions.open_position("SOLZAR", "BUY", trailing)["success"]
    at(40, "2480")  # above the 2% stop (about 2,451)
    at(45, "2600")  # 4% up: the stop trails to 1% under it, 2,574
    clock.advance(seconds=5)
    [result] = hx.positions.monitor_positions()
    assert result.action == "STOP_MOVED", result.explanation
    assert result.stop_loss_price == D("2574")
