"""Refusals decided from the book in memory: step 3 of ``docs/replay.md`` ("What meeting it
takes").

The rule: at a step where only the signals act (a light step), the signals known by then are
taken in order. While the book in memory knows what a decision would read
(``MemoryBook.reads``), a signal the live trading loop would carry to the risk decision is
decided here by the same pure rules the live calls run, in their order: ``parse_signal`` and the
intake's ``refusal`` (the signal is accepted PENDING), the loop's pass (not halted, not expired,
sized by itself), ``inputs_of`` and ``decide``. If the decision refuses it without moving the
account's marks, its records are those the live code would leave (``signal_row`` settled
REJECTED with ``settle_values``, ``decision_row``, ``decision_event_values``), queued, and
written behind (``write_in``: the engine writes them with the bars held behind, before anything
reads the database), in the order the live code writes them, with the same log lines. The
first signal that is anything else (malformed, refused or a duplicate at intake, sized by the
risk manager, halted, passed, moving the marks, or with signals still pending in the database)
and every signal after it in the step go through the live calls (``hx.signals.submit_raw``,
``process_pending``), after the queue is written: the rows, their ids and their order are the
live code's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from helios.db.models import Event, Signal
from helios.errors import InvalidInput
from helios.events import log_event
from helios.replay.memory_book import MemoryBook
from helios.risk.checks import RiskResult
from helios.risk.decision_row import decision_row
from helios.risk.inputs import Inputs, decide
from helios.risk.statements import INSERT_DECISION
from helios.signals.intake import log_arrival, refusal
from helios.signals.rows import (
    PENDING,
    REJECTED,
    SignalOutcome,
    decision_event_values,
    settled_row,
    signal_row,
)
from helios.signals.validation import SignalInput, parse_signal
from helios.trade import TradeParams

_INSERT_SIGNAL = insert(Signal)
_INSERT_EVENT = insert(Event)


@dataclass(frozen=True)
class Refused:
    """One signal refused in memory, waiting to be written."""

    parsed: SignalInput
    inputs: Inputs
    params: TradeParams
    result: RiskResult
    size: float
    leverage: float
    mode: str
    now: datetime


@dataclass
class MemoryRefusals:
    """Decides refusals from ``book`` and writes their records behind (see the module's rule).
    ``taken``: the dedup keys the run's signals hold (a PENDING arrival takes its key for good:
    the column is unique), so a duplicate goes to the live intake, which refuses it."""

    book: MemoryBook
    taken: set[str] = field(default_factory=set)
    queue: list[Refused] = field(default_factory=list)
    decided: int = 0  # refusals decided here over the run

    def take(
        self,
        hx: Any,
        raws: Sequence[Mapping[str, Any]],
        now: datetime,
        limits: Any,
        *,
        decide: bool,
    ) -> list[Mapping[str, Any]]:
        """Decide in memory what can be (``decide``: at a light step) and queue it; the
        signals left for the live calls (the first that cannot be and every one after it).
        The caller writes the queue (``write_in``) before the live calls, so they find the
        database as the live code would have left it."""
        left = list(raws)
        if decide and len(left) <= hx.settings.trading_batch_size:
            while left:
                refused = self._refusal(hx, left[0], now, limits)
                if refused is None:
                    break
                self.queue.append(refused)
                left.pop(0)
        for raw in left:  # what the live intake will make of them: the keys they take
            self._note_key(hx, raw, now, limits)
        if left:
            self.book.stale = True  # the live calls write the book
        return left

    def _refusal(
        self, hx: Any, raw: Mapping[str, Any], now: datetime, limits: Any
    ) -> Refused | None:
        book = self.book
        if book.pending:
            return None  # the live pass takes the database's pending signals first
        try:
            parsed = parse_signal(raw, hx.settings, hx.market, now, float(limits.max_leverage))
        except InvalidInput:
            return None  # stored as malformed by the live intake
        if refusal(parsed, now) or parsed.dedup_key in self.taken:
            return None  # refused on arrival, or a duplicate: the live intake's to write
        trade = dict(parsed.trade_params or {})
        if trade.get("position_size_zar") is None:
            return None  # sized by the risk manager, which reads the database
        reads = book.reads(parsed.pair, now)
        if reads is None or reads.head.halted == "true":
            return None  # not known here, or halted: the loop settles it before any decision
        params = TradeParams.parse(trade, hx.settings, limits.max_leverage, parsed.side)
        inputs, valued = hx.risk.inputs_from(reads, parsed.pair, parsed.side, params, limits, now)
        if valued.marks_due:
            return None  # the decision writes the account's marks: the live call's to do
        result = decide(inputs)
        if result.passed:
            return None  # it opens a position: the live calls open it
        self.taken.add(parsed.dedup_key)
        return Refused(
            parsed,
            inputs,
            params,
            result,
            float(trade["position_size_zar"]),
            float(trade.get("leverage", 1.0)),
            reads.head.trading_mode or "PAPER",
            now,
        )

    def _note_key(self, hx: Any, raw: Mapping[str, Any], now: datetime, limits: Any) -> None:
        try:
            parsed = parse_signal(raw, hx.settings, hx.market, now, float(limits.max_leverage))
        except InvalidInput:
            return
        if not refusal(parsed, now):
            self.taken.add(parsed.dedup_key)

    def write_in(self, session: Any) -> list[tuple[int, Refused, dict[str, Any]]]:
        """The queued refusals' records, in the caller's write transaction, in the live code's
        order: each signal (its id), its decision, its decision line. Returns what ``log``
        writes once the transaction is committed."""
        queued, self.queue = self.queue, []
        lines: list[tuple[int, Refused, dict[str, Any]]] = []
        conn = session.connection()
        for r in queued:
            outcome = SignalOutcome(
                0,
                r.parsed.pair,
                r.parsed.side,
                REJECTED,
                r.result.reason,
                None,
                r.size,
                r.leverage,
                tuple(r.result.violated_limits),
                r.mode,
            )
            # as the live intake stores it (PENDING), then as the loop settles it
            row = settled_row(signal_row(r.parsed, r.now, PENDING, ""), outcome, r.now)
            signal_id = int(conn.execute(_INSERT_SIGNAL, row).inserted_primary_key[0])
            outcome = replace(outcome, signal_id=signal_id)
            conn.execute(
                INSERT_DECISION, decision_row(r.inputs, r.params, r.result, signal_id, r.now)
            )
            event = decision_event_values(outcome, r.now)
            conn.execute(_INSERT_EVENT, event)
            lines.append((signal_id, r, event))
        self.decided += len(queued)
        return lines

    @staticmethod
    def log(lines: Sequence[tuple[int, Refused, dict[str, Any]]]) -> None:
        """The log lines the live calls write for the refusals written: the arrivals, then the
        decisions."""
        for signal_id, r, _event in lines:
            log_arrival(signal_id, r.parsed, PENDING, "")
        for _signal_id, _r, event in lines:
            log_event(event)
