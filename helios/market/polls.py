"""A feed's candles made ready to store, and one poll of every pair stored as one moment.

Two rules live here:

- **What a batch must be to be stored** (``checked_rows``): valid candles (``validate_candles``),
  an interval Helios keeps, every bar on that interval's epoch-aligned grid, no bar opening
  ahead of the clock and no observation after it. ``MarketData.ingest`` and a poll share it.
- **A poll is one moment of the market** (``store_polled``): the batches every pair's feed call
  returned are written in one transaction, each set of them through the statements of
  ``write_candle_batches`` shared by the pairs (a poll of three pairs was three read and three
  write transactions, one per pair; it is one of each). A pair whose feed call fails stores
  nothing, a batch that is refused stores nothing from it on (the pair's batches before it are
  stored), and the other pairs are stored (``MarketData.pull`` raises the failures afterwards):
  what one pair's source got wrong never stops the prices of the others. Every check that can
  refuse a batch is made before the write (``checked_rows``), so one pair's bad candles never
  roll back the others'.

A pair's batches keep their order (its first batch of a poll is written before its second: a
daily bar after the minutes that roll up into it replaces their roll-up, as it did when each
pair was written alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from helios.clock import Clock
from helios.db.engine import Database
from helios.errors import InvalidInput
from helios.market.bar_time import not_ahead
from helios.market.candles import (
    CandleRow,
    check_interval,
    infer_interval,
    parse_interval,
    to_rows,
    validate_candles,
)
from helios.market.writes import write_candle_batches


@dataclass(frozen=True)
class Polled:
    """One pair's candles of one interval from a poll, checked (``checked_rows``)."""

    pair: str
    seconds: int
    rows: list[CandleRow]
    observed: datetime | None


def checked_rows(
    candles: pd.DataFrame,
    interval: int | str | None,
    now: datetime,
    observed: datetime | None = None,
) -> tuple[int, list[CandleRow]]:
    """The interval in seconds and the rows of ``candles``, or ``InvalidInput`` naming what is
    wrong (the module's first rule). ``interval`` None: inferred from the timestamps."""
    table = validate_candles(candles)
    seconds = parse_interval(interval) if interval is not None else infer_interval(table)
    check_interval(seconds, "interval (inferred from the timestamps)")
    misaligned = [ts for ts in table["timestamp"] if int(ts.timestamp()) % seconds != 0]
    if misaligned:
        raise InvalidInput(
            "candles.timestamp",
            misaligned[0].isoformat(),
            f"bar open times on a {seconds}-second grid (UTC)",
        )
    rows = to_rows(table)
    if rows:
        not_ahead(rows[-1].ts, now, "candles.timestamp", "a bar that opens")
    if observed is not None:
        not_ahead(observed, now, "observed")
    return seconds, rows


def store_polled(
    db: Database, clock: Clock, polled: Sequence[Polled], source: str, *, merge: bool
) -> dict[str, int]:
    """Write a poll's checked batches in one transaction (the module's second rule); returns
    ``{pair: rows written}``. ``merge``: see ``write_candles`` (a feed that may have seen only
    part of a bar)."""
    writes: dict[tuple[int, int, datetime | None], dict[str, list[CandleRow]]] = {}
    rounds: dict[str, int] = {}
    for batch in polled:
        if not batch.rows:
            continue
        k = rounds.get(batch.pair, 0)  # the pair's k-th batch of the poll
        rounds[batch.pair] = k + 1
        writes.setdefault((k, batch.seconds, batch.observed), {})[batch.pair] = batch.rows
    written: dict[str, int] = {}
    if not writes:
        return written
    with db.write() as session:
        for (_k, seconds, observed), batches in sorted(writes.items(), key=lambda w: w[0][0]):
            counts = write_candle_batches(
                session, clock, seconds, batches, source, observed, merge=merge
            )
            for pair, count in counts.items():
                written[pair] = written.get(pair, 0) + count
    return written
