"""A watchdog pass's reads are a value (``helios.watchdog_reads``): the database's reader
(``Halts.reads_in``) and a replay's book held in memory (``MemoryBook.watchdog``) give the same
value, and ``Halts.act`` judges and acts on either the same way (docs/replay.md, step 4: the
watchdog on the book in memory).

The reads are compared whole (the account valued at the latest prices, the limits, the prices'
observation times, the exchange errors in the window, the reconciliation result, the
acknowledgements and the halt flag), before and after the prices move and the error window
passes; a pass with nothing to act on does no I/O; one with a breach halts.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import helios
from helios.events import EXCHANGE_ERROR, record_event
from helios.halt_triggers import DAILY_LOSS, DRAWDOWN
from helios.replay.memory_book import BookCheck, BookMismatch, MemoryBook
from helios.watchdog_reads import judge
from tests.factories import booked_position, transactions


def memory_of(hx: helios.Helios) -> MemoryBook:
    window = timedelta(seconds=hx.settings.halt_exchange_error_window_seconds)
    memory = MemoryBook(hx.settings.trading_day_timezone, error_window=window)
    with hx.db.read() as session:
        memory.load(session, hx.clock.now())
    return memory


def stored_reads(hx: helios.Helios) -> object:
    with hx.db.read() as session:
        return hx.halts.reads_in(session, None)


def an_exchange_error(hx: helios.Helios) -> None:
    with hx.db.write() as session:
        record_event(
            session,
            ts=hx.clock.now(),
            kind=EXCHANGE_ERROR,
            message="timeout",
            severity="ERROR",
            actor="test",
        )


def test_the_book_in_memory_reads_what_the_watchdog_reads(priced_hx: helios.Helios) -> None:
    hx = priced_hx
    limits = hx.risk.limit_store.get_limits()
    booked_position(hx, "BTCZAR", "BUY", "40000", "2")
    booked_position(hx, "ETHZAR", "SELL", "5000", "1")
    an_exchange_error(hx)
    memory = memory_of(hx)
    reads = memory.watchdog(hx.clock.now(), limits, hx.settings)
    assert reads is not None
    assert reads == stored_reads(hx)
    assert reads.errors == 1 and judge(reads).found == []

    # the prices move (the engine tells the book what it writes) and the error leaves the window
    hx.clock.advance(timedelta(seconds=90))
    for pair, value in {"BTCZAR": "900000", "ETHZAR": "61000"}.items():
        observed = hx.clock.now()
        hx.market.set_price(pair, value)
        memory.priced(pair, Decimal(value), observed)
    reads = memory.watchdog(hx.clock.now(), limits, hx.settings)
    assert reads is not None
    assert reads == stored_reads(hx)
    assert reads.errors == 0
    assert reads.account.drawdown > 0.15  # 25% on 80,000 of BTC: a fifth of the equity
    assert [b.trigger for b in judge(reads).found] == [DRAWDOWN, DAILY_LOSS]

    # what the book cannot know it does not guess: stale, or a trading day not rolled into
    memory.stale = True
    assert memory.watchdog(hx.clock.now(), limits, hx.settings) is None
    memory = memory_of(hx)
    assert memory.watchdog(hx.clock.now() + timedelta(days=1), limits, hx.settings) is None


def test_a_quiet_pass_on_memory_reads_does_no_io_and_a_breach_halts(
    priced_hx: helios.Helios,
) -> None:
    hx = priced_hx
    limits = hx.risk.limit_store.get_limits()
    booked_position(hx, "BTCZAR", "BUY", "40000", "2")
    memory = memory_of(hx)
    quiet = memory.watchdog(hx.clock.now(), limits, hx.settings)
    assert quiet is not None and hx.halts.quiet(quiet)
    with transactions(hx) as begun:
        assert hx.halts.act(quiet) == []
    assert begun == []  # nothing to act on: not a statement

    hx.clock.advance(timedelta(seconds=30))
    hx.market.set_price("BTCZAR", "850000")
    memory.priced("BTCZAR", Decimal("850000"), hx.clock.now())
    falling = memory.watchdog(hx.clock.now(), limits, hx.settings)
    assert falling is not None and falling == stored_reads(hx)
    assert not hx.halts.quiet(falling)
    acted = hx.halts.act(falling)
    assert [b.trigger for b in acted] == [DRAWDOWN, DAILY_LOSS]
    state = hx.controls.halt_state()
    assert state.halted and state.cause == DRAWDOWN
    # the same pass read from the database finds the same breaches
    assert [b.trigger for b in hx.halts.breaches()] == [DRAWDOWN, DAILY_LOSS]


def test_a_book_that_misses_a_price_fails_the_check(priced_hx: helios.Helios) -> None:
    """``verify_book``'s comparison can fail: a price written to the database that the book was
    not told about is named, and the run's verdict raises."""
    hx = priced_hx
    limits = hx.risk.limit_store.get_limits()
    booked_position(hx, "BTCZAR", "BUY", "40000", "2")
    memory = memory_of(hx)
    check = BookCheck(memory)
    check.check_watchdog(hx, memory.watchdog(hx.clock.now(), limits, hx.settings))
    assert check.verdict()["watchdog_compared"] == 1
    hx.clock.advance(timedelta(seconds=30))
    hx.market.set_price("BTCZAR", "1100000")  # the book is not told
    check.check_watchdog(hx, memory.watchdog(hx.clock.now(), limits, hx.settings))
    with pytest.raises(BookMismatch, match=r"watchdog at .*account: stored AccountFigures"):
        check.verdict()


def test_a_pass_is_quiet_only_with_nothing_to_act_on(priced_hx: helios.Helios) -> None:
    """``Halts.quiet`` (a replay writes behind while passes are quiet): a breach, an
    acknowledgement to re-arm, a stale-feed warning or a close-out under way each make a pass
    act (read the flags, write); a halt without a close-out with nothing else does not."""
    from dataclasses import replace

    from helios.config import HaltAction
    from helios.trading_state import HaltState

    hx = priced_hx
    memory = memory_of(hx)
    quiet = memory.watchdog(hx.clock.now(), hx.risk.limit_store.get_limits(), hx.settings)
    assert quiet is not None and hx.halts.quiet(quiet)
    now = hx.clock.now()
    halted = HaltState(True, "by hand", now, "ops", "", HaltAction.HALT_ONLY)
    assert hx.halts.quiet(replace(quiet, state=halted))
    closing_out = replace(halted, action=HaltAction.CLOSE_ALL)
    going_stale = replace(
        quiet.prices, now=now + timedelta(seconds=hx.settings.halt_stale_price_seconds * 0.6)
    )
    for loud in (
        replace(quiet, state=closing_out),
        replace(quiet, acknowledged={DRAWDOWN: now}),
        replace(quiet, prices=going_stale),  # past half the stale-price threshold: a warning
        replace(quiet, errors=quiet.error_limit + 1),
    ):
        assert not hx.halts.quiet(loud), loud
