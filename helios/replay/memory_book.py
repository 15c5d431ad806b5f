"""A decision's reads from a book held in memory: step 2 of ``docs/replay.md`` ("What meeting
it takes"), checked against the database's reads at every decision of a run.

The rule: what a risk decision reads of the book (``risk.decision_inputs.DecisionReads``) moves
between two of the replay's steps only where the engine knows it moves. After a step that
left it stale, or on a new UTC day (a completed daily bar moves the history epoch), the book is
read (``load``, in the step scan's read transaction): the account (cash, marks, trading day), the
settings a decision reads (the mode, the halt flag and its reason, the history epoch), the
exposed positions, the locks not ended and the latest prices. During the next step the engine
tells it the prices it writes (``priced``), and a decision that moves the account's marks (a new
peak, a day rolled) moves them here too (``decided``), as ``ledger.maintain_marks`` does in the
database. Anything else that writes the book (a position opened, a halt, a close) makes it stale
until the next ``load``; so does the skip scan's view of the book (``scan``: the positions'
levels and the account's marks, which only those writes move). ``reads(pair, now)`` gives the
reads the database would give at that instant, or None where it cannot know them (stale, or a
trading day the account has not rolled into: the day's start is then rebuilt from the ledger).

``BookCheck`` is the test of step 2: a run with ``verify_book`` builds every decision's
``Inputs`` from this book with the same pure ``inputs_of`` and compares them, field by field,
with the ``Inputs`` the live decision stored; ``helios.replay.refusals`` (step 3) decides the
refusals of light steps from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from helios.accounts.valuation import MARKED_POSITIONS, valuation_of
from helios.clock import ensure_utc, trading_day
from helios.db.models import (
    Event,
    LatestPrice,
    PairLock,
    RiskDecision,
    Signal,
)
from helios.equity_marks import EquityMarks, updated_marks
from helios.events import EXCHANGE_ERROR
from helios.pair_lock_store import view
from helios.pair_locks import LockView, lock_in_force
from helios.reconciliation.state import stored_breach
from helios.replay.book import read_book
from helios.risk.book import Book
from helios.risk.decision_inputs import DecisionReads
from helios.risk.statements import BOOK_HEAD, EXPOSED_POSITIONS
from helios.signals.rows import PENDING
from helios.trade import TradeParams
from helios.trading_state import HaltState, acknowledgements_in, halt_state_in
from helios.watchdog_reads import WatchdogReads, watchdog_reads

_PRICES = select(LatestPrice.pair, LatestPrice.price, LatestPrice.ts)
_PENDING = select(func.count()).select_from(Signal).where(Signal.status == PENDING)
_LOCKS = select(PairLock.__table__).where(
    PairLock.lifted_at.is_(None), PairLock.ends_at > bindparam("now")
)
_ERRORS = select(Event.ts).where(Event.kind == EXCHANGE_ERROR, Event.ts > bindparam("since"))


@dataclass(frozen=True)
class Head:
    """The account head as ``risk.statements.CHECK_HEAD`` reads it for one pair."""

    cash: Decimal
    peak_equity: Decimal
    start_of_day_equity: Decimal
    trading_day: date
    trading_mode: str | None
    halted: str | None
    halt_reason: str | None
    history_epoch: str | None
    price: Decimal | None
    price_observed_at: datetime | None


@dataclass
class MemoryBook:
    """The book as the last ``load`` read it, with the prices and marks moved since."""

    zone: str
    account: Any = None
    positions: list[tuple[Any, ...]] = field(default_factory=list)
    locks: list[LockView] = field(default_factory=list)
    prices: dict[str, tuple[Decimal, datetime]] = field(default_factory=dict)
    marks: EquityMarks | None = None
    stale: bool = True
    pending: int = 0  # signals PENDING in the database (a live pass takes them first)
    loaded_day: date | None = None  # the UTC day it was read on
    scan: Any = None  # what the skip scan reads of the book (``replay.book``), read with it
    # what a watchdog pass reads besides the account and the prices (``Halts.reads_in``)
    marked: list[Any] = field(default_factory=list)  # the positions holding margin
    errors: list[datetime] = field(default_factory=list)  # EXCHANGE_ERRORs in the window
    error_window: timedelta = timedelta(minutes=1)
    reconciliation: tuple[str, Mapping[str, Any]] | None = None
    acknowledged: Mapping[str, datetime] = field(default_factory=dict)
    halt: HaltState | None = None

    def due(self, now: datetime) -> bool:
        """Whether it must be read again: stale, or read on an earlier UTC day (a completed
        daily bar moves the history epoch the market statistics are keyed by)."""
        return self.stale or self.loaded_day != now.astimezone(UTC).date()

    def load(self, session: Session, now: datetime) -> None:
        """Read the book (in the caller's read transaction)."""
        self.scan = read_book(session)
        self.account = session.execute(BOOK_HEAD).one()
        self.positions = [tuple(row) for row in session.execute(EXPOSED_POSITIONS)]
        self.locks = [view(row) for row in session.execute(_LOCKS, {"now": now})]
        self.prices = {row.pair: (row.price, row.ts) for row in session.execute(_PRICES)}
        self.pending = int(session.execute(_PENDING).scalar_one())
        self.marked = session.execute(MARKED_POSITIONS).all()
        since = now - self.error_window
        self.errors = [ensure_utc(ts) for ts in session.scalars(_ERRORS, {"since": since})]
        self.reconciliation = stored_breach(session)
        self.acknowledged = acknowledgements_in(session)
        self.halt = halt_state_in(session)
        a = self.account
        self.marks = EquityMarks(a.peak_equity, a.trading_day, a.start_of_day_equity)
        self.stale = False
        self.loaded_day = now.astimezone(UTC).date()

    def priced(self, pair: str, price: Decimal, observed: datetime) -> None:
        """The engine wrote ``price`` as the pair's latest, observed at ``observed``."""
        held = self.prices.get(pair)
        if held is None or held[1] <= observed:
            self.prices[pair] = (price, observed)

    def reads(self, pair: str, now: datetime) -> DecisionReads | None:
        """What a decision on ``pair`` at ``now`` reads (None: not known here)."""
        if self.due(now) or self.account is None or self.marks is None:
            return None  # not read since the book moved, or since the UTC day changed
        marks = self.marks
        if marks.trading_day != trading_day(now, self.zone):
            return None  # the day's start is rebuilt from the ledger: the database's to say
        a = self.account
        price, observed = self.prices.get(pair, (None, None))
        head = Head(
            a.cash,
            marks.peak_equity,
            marks.start_of_day_equity,
            marks.trading_day,
            a.trading_mode,
            a.halted,
            a.halt_reason,
            a.history_epoch,
            price,
            observed,
        )
        positions = [
            (*row, self.prices[row[0]][0] if row[0] in self.prices else None)
            for row in self.positions
        ]
        lock = lock_in_force(self.locks, pair, now)
        return DecisionReads(head, positions, marks.start_of_day_equity, "", lock)

    def watchdog(
        self, now: datetime, limits: Any, settings: Any, feed_started_at: datetime | None = None
    ) -> WatchdogReads | None:
        """What a watchdog pass at ``now`` reads (``Halts.reads_in``), or None where this book
        cannot know it (as ``reads``): the account valued at the prices written since the load
        with the marks moved since (``valuation_of``, the database's rule), the observation
        times of those prices, the exchange errors still in the window, and the stored
        reconciliation result, acknowledgements and halt flag (only writes that make the book
        stale move those)."""
        if self.due(now) or self.account is None or self.marks is None or self.halt is None:
            return None
        marks = self.marks
        if marks.trading_day != trading_day(now, self.zone):
            return None  # the day's start is rebuilt from the ledger: the database's to say
        a = self.account
        prices = {pair: price for pair, (price, _observed) in self.prices.items()}
        since = now - self.error_window
        return watchdog_reads(
            valuation=valuation_of(
                a.cash,
                marks.peak_equity,
                a.initial_capital,
                self.marked,
                prices,
                marks.start_of_day_equity,
            ),
            limits=limits,
            observed=[(pair, observed) for pair, (_price, observed) in self.prices.items()],
            errors=sum(1 for ts in self.errors if ts > since),
            reconciliation=self.reconciliation,
            acknowledged=self.acknowledged,
            state=self.halt,
            now=now,
            settings=settings,
            feed_started_at=feed_started_at,
        )

    def decided(self, book: Book, now: datetime) -> None:
        """A decision valued ``book`` at ``now``: the marks it moved, as the database's."""
        if self.marks is None or not book.marks_due:
            return
        self.marks = updated_marks(
            self.marks,
            book.equity,
            book.fully_priced,
            trading_day(now, self.zone),
            book.day_start,
        )


class BookMismatch(AssertionError):
    """A decision's inputs from the memory book differ from the stored ones."""


@dataclass
class BookCheck:
    """Every decision's ``Inputs`` built from the memory book, compared with the stored ones
    (``verify_book``): the engine loads the book when it is due, tells it the prices it
    writes and what else wrote the book, and hands it each pass's outcomes; and every light
    step's watchdog reads (``MemoryBook.watchdog``) compared with the database's."""

    book: MemoryBook
    compared: int = 0
    unknown: int = 0  # decisions the book could not know (stale, a new trading day)
    mismatches: list[str] = field(default_factory=list)
    watchdog_compared: int = 0  # light steps' watchdog reads compared
    watchdog_unknown: int = 0

    def check_watchdog(self, hx: Any, reads: WatchdogReads | None) -> None:
        """A light step's watchdog reads from the book against the database's, equal field by
        field (before the live pass, which then runs)."""
        if reads is None:
            self.watchdog_unknown += 1
            return
        with hx.db.read() as session:
            stored = hx.halts.reads_in(session, None)
        self.watchdog_compared += 1
        if stored != reads:
            keys = [k for k in vars(stored) if getattr(stored, k) != getattr(reads, k)]
            self.mismatches.append(
                f"watchdog at {reads.prices.now.isoformat()}: "
                + "; ".join(
                    f"{k}: stored {getattr(stored, k)!r}, memory {getattr(reads, k)!r}"
                    for k in keys
                )
            )

    def check(self, hx: Any, outcomes: list[Any], now: datetime, limits: Any) -> None:
        """The pass's decisions, in the order made, against the book's ``Inputs``."""
        ids = [o.signal_id for o in outcomes]
        if not ids:
            return
        with hx.db.read() as session:
            stored = list(
                session.scalars(
                    select(RiskDecision)
                    .where(RiskDecision.signal_id.in_(ids))
                    .order_by(RiskDecision.id)
                )
            )
        for decision in stored:
            reads = self.book.reads(decision.pair, now)
            if reads is None:
                self.unknown += 1
                continue
            params = TradeParams.parse(
                decision.trade_params, hx.settings, limits.max_leverage, decision.side
            )
            inputs, valued = hx.risk.inputs_from(
                reads, decision.pair, decision.side, params, limits, now
            )
            self._compare(decision.id, decision.inputs, inputs.to_dict())
            self.book.decided(valued, now)
            if decision.passed:  # a position is being opened: the book moved
                self.book.stale = True

    def verdict(self) -> dict[str, int]:
        """The check's figures; raises ``BookMismatch`` naming the first disagreements."""
        if self.mismatches:
            raise BookMismatch(
                f"the memory book disagrees with the database {len(self.mismatches)} times in "
                f"{self.compared} decisions and {self.watchdog_compared} watchdog passes: "
                + " | ".join(self.mismatches[:3])
            )
        return {
            "compared": self.compared,
            "unknown": self.unknown,
            "watchdog_compared": self.watchdog_compared,
            "watchdog_unknown": self.watchdog_unknown,
        }

    def _compare(self, decision_id: int, expected: dict[str, Any], got: dict[str, Any]) -> None:
        stored = {k: v for k, v in expected.items() if k != "sizing"}
        # the limits' version as stored (its change time is not part of a decision's reads)
        got = {**got, "limits": {**got["limits"], "changed_at": stored["limits"]["changed_at"]}}
        self.compared += 1
        if stored != got:
            keys = sorted(k for k in stored.keys() | got.keys() if stored.get(k) != got.get(k))
            self.mismatches.append(
                f"decision {decision_id}: "
                + "; ".join(f"{k}: stored {stored.get(k)!r}, memory {got.get(k)!r}" for k in keys)
            )
