"""Several moments' writes of candles as one (``helios.market.write_plan``, ``write_moments``)
leave exactly the rows the moments written one by one leave (``write_candle_batches`` each in
its own transaction): the candles with their ids, the daily bars rolled up, the latest prices
with their times, every tick with its id, the history epoch. This is what lets a replay write
the bars of several steps behind, at once (docs/replay.md, step 4).

The moments cover what the rule does: a bar written at its open then whole (an update of a bar
the same plan inserted, and of one stored before), new bars across two UTC midnights (daily bars
inserted and updated), writes that reach back into a completed day (the epoch bumped), a pair
priced for the first time, a late write of an older bar that must not move the latest price
back, history without an observation time, a feed's merge with its one tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

import helios
from helios.clock import ManualClock
from helios.db.models import Candle, LatestPrice, PriceTick, Setting
from helios.market.candles import CandleRow
from helios.market.history_epoch import HISTORY_EPOCH_KEY
from helios.market.write_plan import Moment
from helios.market.writes import write_candle_batches, write_moments

MINUTE = timedelta(minutes=1)
NIGHT = datetime(2026, 11, 21, 23, 57, tzinfo=UTC)  # three minutes before a UTC midnight


def bars(start: datetime, count: int, base: float, volume: str = "0.5") -> list[CandleRow]:
    out = []
    for i in range(count):
        o = Decimal(str(round(base + i, 2)))
        out.append(CandleRow(start + i * MINUTE, o, o + 2, o - 1, o + 1, Decimal(volume)))
    return out


def opening(at: datetime, price: int) -> CandleRow:
    return CandleRow(at, *[Decimal(price)] * 4, Decimal(0))


MOMENTS = [
    # a replay's step: the bar at its open (the open moment)
    Moment({"BTCZAR": [opening(NIGHT, 100)]}, NIGHT, NIGHT),
    # the next step's close: that bar now whole, and more, across midnight; ETH's first bars
    Moment(
        {"BTCZAR": bars(NIGHT, 5, 100), "ETHZAR": bars(NIGHT + MINUTE, 2, 50)},
        NIGHT + 5 * MINUTE - timedelta(microseconds=1),
        NIGHT + 5 * MINUTE - timedelta(microseconds=1),
    ),
    # its open: bars at their open, SOL priced for the first time
    Moment(
        {
            "BTCZAR": [opening(NIGHT + 5 * MINUTE, 105)],
            "ETHZAR": [opening(NIGHT + 5 * MINUTE, 53)],
            "SOLZAR": [opening(NIGHT + 5 * MINUTE, 7)],
        },
        NIGHT + 5 * MINUTE,
        NIGHT + 5 * MINUTE,
    ),
    # a late write of what was observed earlier never moves the latest price back
    Moment({"ETHZAR": bars(NIGHT - 10 * MINUTE, 1, 40)}, NIGHT, NIGHT + 6 * MINUTE),
    # history (no observation time): as old as its newest bar proves
    Moment({"SOLZAR": bars(NIGHT - 30 * MINUTE, 3, 6)}, None, NIGHT + 6 * MINUTE),
    # a feed's merge of one tick into the bar the plan inserted at its open
    Moment(
        {"BTCZAR": [CandleRow(NIGHT + 5 * MINUTE, *[Decimal(110)] * 4, Decimal(1))]},
        NIGHT + 5 * MINUTE + timedelta(seconds=20),
        NIGHT + 5 * MINUTE + timedelta(seconds=20),
        merge=True,
        tick=Decimal(110),
    ),
    # a day later: the open bars whole, a day of bars after them (the next midnight crossed)
    Moment(
        {
            "BTCZAR": bars(NIGHT + 5 * MINUTE, 3, 106, "0.25"),
            "ETHZAR": bars(NIGHT + 5 * MINUTE, 2, 54),
            "SOLZAR": bars(NIGHT + 5 * MINUTE + timedelta(days=1), 2, 8),
        },
        NIGHT + timedelta(days=1, minutes=8),
        NIGHT + timedelta(days=1, minutes=8),
    ),
]


def tables(hx: helios.Helios) -> dict[str, list[tuple[Any, ...]]]:
    """Every candle (with its id), latest price, tick (with its id) and the history epoch."""
    with hx.db.read() as session:
        return {
            "candles": [
                (
                    c.id,
                    c.pair,
                    c.interval_seconds,
                    c.ts,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.source,
                )
                for c in session.scalars(select(Candle).order_by(Candle.id))
            ],
            "latest": [
                (p.pair, p.price, p.ts, p.received_at, p.source)
                for p in session.scalars(select(LatestPrice).order_by(LatestPrice.pair))
            ],
            "ticks": [
                (t.id, t.pair, t.ts, t.price)
                for t in session.scalars(select(PriceTick).order_by(PriceTick.id))
            ],
            "epoch": [
                (s.value, s.updated_at, s.updated_by)
                for s in session.scalars(select(Setting).where(Setting.key == HISTORY_EPOCH_KEY))
            ],
        }


def history(hx: helios.Helios) -> None:
    """A daily bar stored before (the day's open must be kept) and a 1m bar of the night."""
    with hx.db.write() as session:
        write_moments(
            session,
            86400,
            "history",
            [Moment({"BTCZAR": bars(NIGHT.replace(hour=0, minute=0), 1, 90)}, None, NIGHT)],
        )
        write_moments(
            session, 60, "history", [Moment({"BTCZAR": bars(NIGHT - MINUTE, 1, 99)}, None, NIGHT)]
        )


def test_moments_written_at_once_leave_the_rows_of_each_written_alone(
    hx: helios.Helios, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(NIGHT + timedelta(days=2))
    alone = helios.connect(f"sqlite:///{tmp_path / 'alone.db'}", clock=clock, market_feed="manual")
    try:
        for target in (hx, alone):
            history(target)
        for moment in MOMENTS:  # each moment in its own transaction, by its clock
            clock.set(moment.now)
            with alone.db.write() as session:
                write_candle_batches(
                    session,
                    clock,
                    60,
                    {pair: list(rows) for pair, rows in moment.batches.items()},
                    "replay",
                    moment.observed,
                    merge=moment.merge,
                    tick=moment.tick,
                )
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
            statements.append(sql)

        event.listen(hx.db.engine, "before_cursor_execute", count)
        with hx.db.write() as session:
            written = write_moments(session, 60, "replay", MOMENTS)
        event.remove(hx.db.engine, "before_cursor_execute", count)
        assert written == {"BTCZAR": 3, "ETHZAR": 2, "SOLZAR": 2}
        mine, theirs = tables(hx), tables(alone)
        assert mine == theirs
        # what the moments did, so the comparison covers it
        assert mine["epoch"][0][0] == "4"  # four writes reached back into a completed day
        assert {c[1] for c in mine["candles"] if c[2] == 86400} == {"BTCZAR", "ETHZAR", "SOLZAR"}
        eth = dict((p[0], p) for p in mine["latest"])["ETHZAR"]
        assert eth[1] == Decimal(56)  # the last close, not the late bar's
        # one write: a handful of statements (14 here: the reads, a span per day, the writes),
        # not a handful per moment (the seven moments written alone run 79)
        assert len(statements) <= 16, statements
    finally:
        alone.close()


def replay_like() -> list[list[Moment]]:
    """Steps as a replay makes them, 1m bars of three pairs across a UTC midnight: at each
    step the bars closed since the last one, whole, then the bar opening, at its open; then a
    late write of an older bar."""
    pairs = {"BTCZAR": 100, "ETHZAR": 50, "SOLZAR": 7}
    steps: list[list[Moment]] = []
    written = NIGHT - 2 * MINUTE  # the next bar not yet written whole
    for k in range(1, 6):
        t = NIGHT + k * 3 * MINUTE
        closing = t - timedelta(microseconds=1)
        count = int((t - written) / MINUTE)
        whole = {p: bars(written, count, base + k) for p, base in pairs.items()}
        opened = {p: [opening(t, base + k)] for p, base in pairs.items()}
        steps.append([Moment(whole, closing, closing), Moment(opened, t, t)])
        written = t
    late = NIGHT + 20 * MINUTE
    steps.append([Moment({"ETHZAR": bars(NIGHT - 30 * MINUTE, 1, 40)}, late, late)])
    return steps


def test_a_writer_holding_what_it_wrote_leaves_the_same_rows(
    hx: helios.Helios, clock: ManualClock, tmp_path: Path
) -> None:
    """A writer that alone writes its candles (a replay in its own database) holds the stored
    state from one write to the next (``Stored``): the bars its earlier writes inserted are
    updated as stored rows, and a write it cannot answer (a bar older than it holds, a day it
    has not read) reads again. The rows are those of each moment written alone."""
    from helios.market.write_plan import Stored

    clock.set(NIGHT + timedelta(days=2))
    steps = replay_like()
    alone = helios.connect(f"sqlite:///{tmp_path / 'alone.db'}", clock=clock, market_feed="manual")
    try:
        for target in (hx, alone):
            history(target)
        for step in steps:
            for moment in step:
                with alone.db.write() as session:
                    write_moments(session, 60, "replay", [moment])
        held = Stored()
        reads = []
        for step in steps:
            reads.append(int(not held.covers(step, True)))
            with hx.db.write() as session:
                write_moments(session, 60, "replay", step, held)
        assert tables(hx) == tables(alone)
        # the first step reads (both days: it closes the old day's bars and opens the new
        # day's); the steps after write on what is held; the late bar, older than what is
        # held, reads again
        assert reads == [1, 0, 0, 0, 0, 1], reads
    finally:
        alone.close()


def test_a_volume_beyond_18_places_is_kept_as_the_column_stores_it(
    hx: helios.Helios, clock: ManualClock, tmp_path: Path
) -> None:
    """A volume with more than 18 decimal places (a float's shortest text, as a replay turns
    its files' volumes into Decimals) is stored rounded; a later moment in the same write adds
    to the day's volume as stored, as a write that read it back would: the day's volume is
    that of each moment written alone (round(round(a + b) + c), not round(a + b + c))."""
    from helios.market.write_plan import Stored

    volume = Decimal(repr(1 / 3 * 1e-3))  # 0.0003333333333333333: 19 places
    price = Decimal(100)
    moments = [
        Moment(
            {"BTCZAR": [CandleRow(NIGHT + k * MINUTE, price, price, price, price, volume)]},
            NIGHT + (k + 1) * MINUTE,
            NIGHT + (k + 1) * MINUTE,
        )
        for k in range(3)
    ]
    clock.set(NIGHT + timedelta(days=1))
    alone = helios.connect(f"sqlite:///{tmp_path / 'alone.db'}", clock=clock, market_feed="manual")
    held = helios.connect(f"sqlite:///{tmp_path / 'held.db'}", clock=clock, market_feed="manual")
    try:
        for moment in moments:
            with alone.db.write() as session:
                write_moments(session, 60, "replay", [moment])
        with hx.db.write() as session:
            write_moments(session, 60, "replay", moments)
        state = Stored()
        for moment in moments:
            with held.db.write() as session:
                write_moments(session, 60, "replay", [moment], state)
        expected = tables(alone)
        day = [c for c in expected["candles"] if c[2] == 86400]
        assert day[0][8] == Decimal("0.000999999999999999")  # each write rounded what it added
        assert tables(hx) == expected
        assert tables(held) == expected
    finally:
        alone.close()
        held.close()


def test_a_bar_the_session_holds_is_read_again_after_the_write(
    hx: helios.Helios, clock: ManualClock
) -> None:
    """The updates go by the bar's unique key, not its id: a ``Candle`` the writing session
    already holds (the bar and its day) is expired, so it shows what the write stored."""
    clock.set(NIGHT + timedelta(days=1))
    first = Moment({"BTCZAR": [opening(NIGHT, 100)]}, NIGHT, NIGHT)
    whole = Moment({"BTCZAR": bars(NIGHT, 1, 100)}, NIGHT + MINUTE, NIGHT + MINUTE)
    with hx.db.write() as session:
        write_moments(session, 60, "replay", [first])
    with hx.db.write() as session:
        held = {
            c.interval_seconds: c
            for c in session.scalars(select(Candle).where(Candle.pair == "BTCZAR"))
        }
        assert held[60].close == held[86400].close == Decimal(100)
        write_moments(session, 60, "replay", [whole])
        assert held[60].close == held[86400].close == Decimal(101)
        assert held[60].high == Decimal(102)
