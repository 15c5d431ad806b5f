"""The stop monitor's rules as a table: ``helios.positions.monitor.judge`` is a pure function of a
position's levels and the bars seen since the last pass, so every rule is one row here.

Prices are round so every level is visible by eye. A long enters at 100 with the seed's 2% stop
(98) and 6% target (106); a short enters at 100 with its stop above (102) and target below (94).
Trailing rows activate 3% beyond the entry and trail 2% behind the best price.

A bar is (high, low); None means "no new extreme in this bar since the last pass". The latest
price is judged last, as a flat bar at ``now``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from helios.positions.monitor import Bar, LastLook, Levels, StoredBar, Verdict, bars_since, judge

D = Decimal
OPENED = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
HOLD = None
STOPPED, TARGET, TIMEOUT = "STOPPED_OUT", "TAKE_PROFIT", "TIMEOUT"


def levels(
    side: str,
    *,
    stop: str | None = None,
    best: str = "100",
    trailing: bool = False,
    hours: str = "72",
) -> Levels:
    long = side == "BUY"
    return Levels(
        side=side,
        entry_price=D("100"),
        stop_loss_price=D(stop or ("98" if long else "102")),
        take_profit_price=D("106" if long else "94"),
        best_price=D(best),
        trailing_activation_pct=D("0.03") if trailing else None,
        trailing_distance_pct=D("0.02") if trailing else None,
        opened_at=OPENED,
        max_holding_hours=D(hours),
    )


def bars(*ranges: tuple[str | None, str | None]) -> list[Bar]:
    return [
        Bar(
            OPENED + timedelta(minutes=i + 1),
            None if high is None else D(high),
            None if low is None else D(low),
        )
        for i, (high, low) in enumerate(ranges)
    ]


def run(
    position: Levels,
    seen: list[Bar],
    latest: str | None = None,
    held_hours: float = 1.0,
) -> Verdict:
    now = OPENED + timedelta(hours=held_hours)
    return judge(position, seen, None if latest is None else D(latest), now)


# (levels, bars, latest, hours held) -> (status, trigger price, stop after, best after, moved)
CASES = [
    # --- a long -------------------------------------------------------------------------------
    pytest.param(
        levels("BUY"),
        bars(("101", "99")),
        "100",
        1,
        (HOLD, None, "98", "101", False),
        id="a long between its stop and target holds and remembers its best price",
    ),
    pytest.param(
        levels("BUY"),
        bars(("100", "98")),
        "99",
        1,
        (STOPPED, "98", "98", "100", False),
        id="a long whose low touches the stop exactly is stopped out at the stop",
    ),
    pytest.param(
        levels("BUY"),
        bars(("100", "97")),
        "99.5",
        1,
        (STOPPED, "98", "98", "100", False),
        id="a long whose low crossed the stop and came back is still stopped out",
    ),
    pytest.param(
        levels("BUY"),
        bars(("106", "100")),
        "105",
        1,
        (TARGET, "106", "98", "100", False),
        id="a long whose high reaches the target takes profit at the target",
    ),
    pytest.param(
        levels("BUY"),
        bars(("107", "97")),
        "100",
        1,
        (STOPPED, "98", "98", "100", False),
        id="a long bar crossing both stop and target stops out (stop assumed first)",
    ),
    pytest.param(
        levels("BUY"),
        bars(("107", "100"), ("100", "97")),
        "99",
        1,
        (TARGET, "106", "98", "100", False),
        id="a long that reached the target a bar before the stop takes profit",
    ),
    pytest.param(
        levels("BUY"),
        [],
        "97.5",
        1,
        (STOPPED, "98", "98", "100", False),
        id="a long with no new bar is stopped out by the latest price alone",
    ),
    pytest.param(
        levels("BUY"),
        bars((None, None)),
        None,
        1,
        (HOLD, None, "98", "100", False),
        id="a long with no new extreme and no price never fires",
    ),
    pytest.param(
        levels("BUY"),
        bars((None, "99")),
        None,
        1,
        (HOLD, None, "98", "100", False),
        id="a long whose bar has only a new low above the stop holds",
    ),
    pytest.param(
        levels("BUY"),
        bars((None, "97")),
        None,
        1,
        (STOPPED, "98", "98", "100", False),
        id="a long whose bar has only a new low below the stop is stopped out",
    ),
    pytest.param(
        levels("BUY"),
        bars(("101", "99")),
        "100",
        72,
        (TIMEOUT, "100", "98", "101", False),
        id="a long held 72 hours times out at the latest price",
    ),
    pytest.param(
        levels("BUY"),
        bars(("101", "99")),
        "100",
        71.99,
        (HOLD, None, "98", "101", False),
        id="a long held just under 72 hours holds",
    ),
    pytest.param(
        levels("BUY", hours="4"),
        [],
        "100",
        4,
        (TIMEOUT, "100", "98", "100", False),
        id="a long with a 4 hour holding limit times out after 4 hours",
    ),
    pytest.param(
        levels("BUY"),
        bars(("100", "97")),
        "97",
        80,
        (STOPPED, "98", "98", "100", False),
        id="a long past its holding time whose stop was crossed is stopped out, not timed out",
    ),
    pytest.param(
        levels("BUY"),
        [],
        None,
        73,
        (TIMEOUT, None, "98", "100", False),
        id="a long past its holding time with no price still times out",
    ),
    # --- a short ------------------------------------------------------------------------------
    pytest.param(
        levels("SELL"),
        bars(("101", "99")),
        "100",
        1,
        (HOLD, None, "102", "99", False),
        id="a short between its stop and target holds and remembers its best (lowest) price",
    ),
    pytest.param(
        levels("SELL"),
        bars(("102", "100")),
        "101",
        1,
        (STOPPED, "102", "102", "100", False),
        id="a short whose high touches the stop above the entry is stopped out",
    ),
    pytest.param(
        levels("SELL"),
        bars(("103", "100")),
        "100.5",
        1,
        (STOPPED, "102", "102", "100", False),
        id="a short whose high crossed the stop and came back is still stopped out",
    ),
    pytest.param(
        levels("SELL"),
        bars(("100", "94")),
        "95",
        1,
        (TARGET, "94", "102", "100", False),
        id="a short whose low reaches the target below the entry takes profit",
    ),
    pytest.param(
        levels("SELL"),
        bars(("103", "93")),
        "100",
        1,
        (STOPPED, "102", "102", "100", False),
        id="a short bar crossing both stop and target stops out (stop assumed first)",
    ),
    pytest.param(
        levels("SELL"),
        bars((None, None)),
        None,
        1,
        (HOLD, None, "102", "100", False),
        id="a short with no new extreme and no price never fires",
    ),
    pytest.param(
        levels("SELL"),
        bars((None, "93")),
        None,
        1,
        (TARGET, "94", "102", "100", False),
        id="a short whose bar has only a new low past the target takes profit",
    ),
    pytest.param(
        levels("SELL"),
        bars(("101", "99")),
        "100",
        72,
        (TIMEOUT, "100", "102", "99", False),
        id="a short held 72 hours times out at the latest price",
    ),
    # --- trailing stops -----------------------------------------------------------------------
    pytest.param(
        levels("BUY", trailing=True),
        bars(("103", "100")),
        "102",
        1,
        (HOLD, None, "100.94", "103", True),
        id="a long 3pct up activates its trail: the stop moves to 2pct under the best price",
    ),
    pytest.param(
        levels("BUY", trailing=True),
        bars(("102.99", "100")),
        "102",
        1,
        (HOLD, None, "98", "102.99", False),
        id="a long just short of the activation keeps its original stop",
    ),
    pytest.param(
        levels("BUY", trailing=True, stop="100.94", best="103"),
        bars(("101.5", "101")),
        "101",
        1,
        (HOLD, None, "100.94", "103", False),
        id="a trailed long stop never moves back down when the price falls",
    ),
    pytest.param(
        levels("BUY", trailing=True, stop="100.94", best="103"),
        bars(("105", "101")),
        "104",
        1,
        (HOLD, None, "102.9", "105", True),
        id="a trailed long stop follows a new high up",
    ),
    pytest.param(
        levels("BUY", trailing=True),
        bars(("105", "101"), ("103", "102.5")),
        "103",
        1,
        (STOPPED, "102.9", "102.9", "105", True),
        id="a long trailed up in one bar is stopped out at the trailed level in the next",
    ),
    pytest.param(
        levels("BUY", trailing=True),
        bars(("105", "102")),
        None,
        1,
        (HOLD, None, "102.9", "105", True),
        id="a bar's own low never hits the stop that bar's high just trailed up",
    ),
    pytest.param(
        levels("BUY", trailing=True),
        bars(("105", "102")),
        "102.5",
        1,
        (STOPPED, "102.9", "102.9", "105", True),
        id="the latest price under the freshly trailed stop stops the long out",
    ),
    pytest.param(
        levels("BUY", trailing=True, stop="99", best="100"),
        bars(("103", "100")),
        "102",
        1,
        (HOLD, None, "100.94", "103", True),
        id="a trail above a manually raised stop still moves it up",
    ),
    pytest.param(
        levels("BUY", trailing=True, stop="101", best="103"),
        bars(("103", "101.5")),
        "102",
        1,
        (HOLD, None, "101", "103", False),
        id="a trail below the stop already in force leaves the stop where it is",
    ),
    pytest.param(
        levels("SELL", trailing=True),
        bars(("100", "97")),
        "98",
        1,
        (HOLD, None, "98.94", "97", True),
        id="a short 3pct down activates its trail: the stop moves to 2pct over the best price",
    ),
    pytest.param(
        levels("SELL", trailing=True, stop="98.94", best="97"),
        bars(("98.5", "98")),
        "98.5",
        1,
        (HOLD, None, "98.94", "97", False),
        id="a trailed short stop never moves back up when the price rises",
    ),
    pytest.param(
        levels("SELL", trailing=True),
        bars(("100", "95"), ("97", "96")),
        "96.5",
        1,
        (STOPPED, "96.9", "96.9", "95", True),
        id="a short trailed down in one bar is stopped out at the trailed level in the next",
    ),
]


@pytest.mark.parametrize(("position", "seen", "latest", "held", "expected"), CASES)
def test_the_monitor_rules(
    position: Levels,
    seen: list[Bar],
    latest: str | None,
    held: float,
    expected: tuple[str | None, str | None, str, str, bool],
):
    status, trigger, stop, best, moved = expected
    verdict = run(position, seen, latest, held)
    assert verdict.exit_status == status, verdict.explanation
    assert verdict.trigger_price == (None if trigger is None else D(trigger))
    assert verdict.stop_loss_price == D(stop)
    assert verdict.best_price == D(best)
    assert verdict.stop_moved is moved


def test_the_explanation_names_the_level_and_the_extreme_that_crossed_it():
    verdict = run(levels("BUY"), bars(("107", "97")), "100")
    assert verdict.explanation == "stop 98 crossed (low 97 at 2026-11-26 08:01 UTC)"
    verdict = run(levels("SELL"), bars(("100", "93")), "95")
    assert verdict.explanation == "target 94 reached (low 93 at 2026-11-26 08:01 UTC)"
    verdict = run(levels("BUY"), [], "100", 72.5)
    assert verdict.explanation == "held 72.5 h >= 72 h"


def test_a_trailing_long_stop_only_ever_rises_along_a_price_path():
    """Pass after pass, as the monitor feeds it: the stop is never lower than the pass before."""
    path = ["101", "103", "104", "102", "105", "104.5", "103.9", "102.8"]
    position = levels("BUY", trailing=True)
    stops: list[object] = []
    for step, price in enumerate(path):
        verdict = run(position, [], price, held_hours=step / 10)
        if verdict.exit_status is not None:
            stops.append((verdict.exit_status, verdict.trigger_price))
            break
        stops.append(verdict.stop_loss_price)
        position = replace(
            position, stop_loss_price=verdict.stop_loss_price, best_price=verdict.best_price
        )
    # 103 activates the trail (stop 100.94), 104 lifts it to 101.92, 102 leaves it, 105 lifts
    # it to 102.9, the dips to 104.5 and 103.9 leave it, 102.8 crosses it
    assert stops == [
        D("98"),
        D("100.94"),
        D("101.92"),
        D("101.92"),
        D("102.9"),
        D("102.9"),
        D("102.9"),
        ("STOPPED_OUT", D("102.9")),
    ]


# --- what happened since the last look: bars and the prices observed (issue 14, item 10) ---------

MINUTE0 = OPENED.replace(minute=1)


def tick(second: int, value: str) -> tuple[datetime, Decimal]:
    return MINUTE0 + timedelta(seconds=second), D(value)


def minute_bar(high: str, low: str, minute: int = 0) -> StoredBar:
    return StoredBar(MINUTE0 + timedelta(minutes=minute), 60, D(high), D(low))


ENTERED = LastLook(MINUTE0 + timedelta(seconds=30), MINUTE0, D("100"), D("95"))  # low 95 before


def test_bars_since_keeps_only_the_prices_observed_after_the_look():
    ticks = [tick(10, "95"), tick(20, "100"), tick(40, "97"), tick(50, "100")]
    bars = bars_since("BUY", [minute_bar("100", "95")], ticks, ENTERED)
    assert bars == [
        Bar(MINUTE0 + timedelta(seconds=40), D("97"), D("97")),
        Bar(MINUTE0 + timedelta(seconds=50), D("100"), D("100")),
    ]
    verdict = judge(levels("BUY"), bars, D("100"), MINUTE0 + timedelta(seconds=55))
    assert verdict.exit_status == STOPPED  # 97 < 98, though the bar's low (95) came before


def test_bars_since_judges_a_new_high_after_the_dips_before_it():
    """A dip, then a new high that trails the stop: the dip is judged against the stop as it was
    then, not against the trailed one (which would stop out a winning position)."""
    ticks = [tick(40, "99"), tick(45, "105")]
    bars = bars_since("BUY", [minute_bar("105", "95")], ticks, ENTERED)
    verdict = judge(levels("BUY", trailing=True), bars, D("105"), MINUTE0 + timedelta(seconds=50))
    assert verdict.exit_status is HOLD and verdict.stop_loss_price == D("102.9")  # 2% under 105
    # the other order (the high first, then the dip) is a stop: 99 is under the trailed 102.9
    turned = [tick(40, "105"), tick(45, "99")]
    bars = bars_since("BUY", [minute_bar("105", "95")], turned, ENTERED)
    assert judge(levels("BUY", trailing=True), bars, D("99"), MINUTE0).exit_status == STOPPED


def test_bars_since_an_extreme_no_observed_price_explains_is_judged_stop_first_trail_last():
    """A bar written without its ticks (history ingested by hand) widened both ways since the
    look: its low is judged first against the old stop, its high trails the stop last."""
    bars = bars_since(
        "BUY", [minute_bar("110", "97.5")], [], replace(ENTERED, bar_high=D("100"), bar_low=D("99"))
    )
    assert bars == [Bar(MINUTE0, None, D("97.5")), Bar(MINUTE0, D("110"), None)]
    assert judge(levels("BUY", trailing=True), bars, None, MINUTE0).exit_status == STOPPED
    short = bars_since(
        "SELL", [minute_bar("101", "90")], [], replace(ENTERED, bar_high=D("100"), bar_low=D("99"))
    )
    assert short == [Bar(MINUTE0, D("101"), None), Bar(MINUTE0, None, D("90"))]


def test_bars_since_takes_later_bars_whole_and_the_first_bar_without_a_range_by_its_ticks():
    later = minute_bar("104", "99", minute=1)
    bars = bars_since("BUY", [minute_bar("100", "95"), later], [], ENTERED)
    assert bars == [Bar(later.ts, D("104"), D("99"))]
    no_bar_yet = LastLook(MINUTE0 + timedelta(seconds=30))  # no bar existed at the entry
    ticks = [tick(10, "90"), tick(40, "97")]
    bars = bars_since("BUY", [minute_bar("100", "90")], ticks, no_bar_yet)
    assert bars == [Bar(MINUTE0 + timedelta(seconds=40), D("97"), D("97"))]
