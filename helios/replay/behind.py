"""What a replay writes behind: step 4 of ``docs/replay.md`` ("What meeting it takes").

The rule: while the book held in memory answers every read a step makes (the refusals decided
from it, the watchdog judged on it), what the step writes is held: the bars of each moment,
observed at that moment (``hold_bars``; the book is told the prices at once), and the refusals'
records (``helios.replay.refusals``). ``write_held`` writes them in one transaction before
anything reads the database (the monitor, a live pass, a watchdog pass with something to do,
the book read again, the end; and when the run fails, so its file traces it up to there):
first the moments' bars as one write (``hx.market.write_moments``: each moment applied at its
own instant by the live write's rule, the same rows as the moments written one by one; the run
writes its candles alone, so what those writes read is held from one write to the next,
``Stored``, and read again only for what it does not hold: a new day, a pair, an older bar),
then the refusals' records in the live code's order, then their log lines. Rows of different
tables do not depend on each other's ids, so the rows, their ids and their values are those of
an all-live run (``tests/test_replay_parity.py`` compares every table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from helios.market.write_plan import Moment, Stored
from helios.replay.bar_batches import Batches
from helios.replay.memory_book import MemoryBook
from helios.replay.refusals import MemoryRefusals


@dataclass
class WritesBehind:
    """The writes held for one run (see the module's rule) of ``interval``-long bars."""

    hx: Any
    interval: int
    memory: MemoryBook | None = None
    refusals: MemoryRefusals | None = None
    moments: list[Moment] = field(default_factory=list)
    # what the run's writes of candles left (``Stored``: the run is the only writer of its
    # candles); None: read at every write (``verify_book`` compares the two)
    stored: Stored | None = None

    def hold_bars(self, batches: Batches, observed: datetime) -> bool:
        """The bars of one moment, observed at ``observed`` (each pair's last close becomes
        its latest price), held; the book in memory is told the prices now. True if there
        were any."""
        if not batches:
            return False
        if self.memory is not None:
            for pair, rows in batches.items():
                self.memory.priced(pair, rows[-1].close, observed)
        self.moments.append(Moment(batches, observed, observed))
        return True

    def write_held(self) -> None:
        """Everything held, in one write transaction (the module's rule)."""
        hx, refusals = self.hx, self.refusals
        moments, self.moments = self.moments, []
        if not moments and (refusals is None or not refusals.queue):
            return
        with hx.db.write() as session:
            if moments:
                hx.market.write_moments(session, self.interval, moments, "replay", self.stored)
            lines = refusals.write_in(session) if refusals is not None else []
        if refusals is not None:
            refusals.log(lines)
