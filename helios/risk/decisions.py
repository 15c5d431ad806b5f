"""Risk decisions: judging an opening trade and recording the decision, passed or not.

The rule: every decision on an opening trade is stored in ``risk_decisions`` with its inputs
and all the results (the 7 checks, the pre-checks), passed or refused, so it can be replayed
(``replay``: the stored inputs through today's pure function) and explained later. A decision
that reserves its trade (``decide_and_reserve``) reads, judges, stores and writes the position
in one write transaction with the account locked: two processes opening at once are serialised
and the second sees the first's position (OPENING) in its exposure and its cash. The account's
marks (a new peak, a day to roll) the decision's valuation moves are written with it. Closing
reduces risk: never blocked, not even while halted (``check_close``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from helios.accounts.valuation import maintain_marks
from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import WRITE_OPTION, Database
from helios.db.models import Position, RiskDecision, Signal
from helios.errors import InvalidInput
from helios.risk.book import Book
from helios.risk.checks import RiskResult
from helios.risk.decision_row import decision_row
from helios.risk.explanation import DecisionStory, story_of
from helios.risk.input_reader import InputReader
from helios.risk.inputs import Inputs, decide
from helios.risk.statements import INSERT_DECISION, snapshot, store_decision
from helios.risk.venue import VenueCash, VenueCashSource
from helios.trade import TradeParams

T = TypeVar("T")


class Decisions:
    """Check, decide and reserve, replay, and the stored decisions."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        reader: InputReader,
        venue: VenueCashSource,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._reader = reader
        self._venue = venue

    def check_trade_risk(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        *,
        signal_id: int | None = None,
        venue: VenueCash | None = None,
    ) -> RiskResult:
        """Run the 7 checks (and the pre-checks) on an opening trade and store the decision."""
        return self._venue.run(
            venue, lambda v: self._check_trade_risk(pair, signal, trade_params, signal_id, v)
        )

    def _check_trade_risk(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        signal_id: int | None,
        venue: VenueCash | None,
    ) -> RiskResult:
        # one connection for the read and the write (each checkout from the pool costs a ping)
        with self._db.engine.connect() as conn:
            with snapshot(conn):
                inputs, params, book = self._reader.read_inputs(
                    conn, pair, signal, trade_params, venue=venue
                )
            result = decide(inputs)
            row = self._decision_row(inputs, params, result, signal_id)
            if book.marks_due:  # a new peak or a day to roll: with the decision, under the lock
                decision_id = self._store_with_marks(conn, row, book)
            else:
                decision_id = store_decision(conn, row)
        return replace(result, decision_id=decision_id)

    def _store_with_marks(self, conn: Connection, row: dict[str, Any], book: Book) -> int:
        """The decision and the account's marks (``ledger.maintain_marks``) in one write."""
        if conn.dialect.name == "sqlite":
            conn.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
        with conn.begin(), self._db.session_on(conn) as session:
            self._maintain_marks(session, book)
            return int(conn.execute(INSERT_DECISION, row).inserted_primary_key[0])

    def _maintain_marks(self, session: Session, book: Book) -> None:
        maintain_marks(
            session,
            book.equity,
            book.fully_priced,
            book.read_at or self._clock.now(),
            self._settings.trading_day_timezone,
            book.day_start,
        )

    def decide_and_reserve(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        reserve: Callable[[Session, RiskResult, TradeParams, Inputs], T],
        *,
        signal_id: int | None = None,
        sizing: Any = None,
        venue: VenueCash | None = None,
        refused: Callable[[Session, RiskResult], None] | None = None,
    ) -> tuple[RiskResult, T | None]:
        """Check an opening trade and, if it passes, ``reserve`` it in the same write
        transaction, with the account locked (see the module's rule). ``refused``: what a
        refusal settles, written in the decision's transaction too (the trading loop's signal
        outcome: a crash cannot leave a refused signal pending to be decided a second time)."""
        return self._venue.run(
            venue,
            lambda v: self._decide_and_reserve(
                pair, signal, trade_params, reserve, signal_id, sizing, v, refused
            ),
        )

    def _decide_and_reserve(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        reserve: Callable[[Session, RiskResult, TradeParams, Inputs], T],
        signal_id: int | None,
        sizing: Any,
        venue: VenueCash | None,
        refused: Callable[[Session, RiskResult], None] | None = None,
    ) -> tuple[RiskResult, T | None]:
        with self._db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
            # the session's first statement is the leader's fence (``session_on``), as in
            # every write: a process that no longer leads decides nothing
            with conn.begin(), self._db.session_on(conn) as session:
                inputs, params, book = self._reader.read_inputs(
                    conn, pair, signal, trade_params, lock=True, venue=venue
                )
                if book.marks_due:  # a new peak or a day to roll (the account is locked)
                    self._maintain_marks(session, book)
                result = decide(inputs)
                row = self._decision_row(inputs, params, result, signal_id, sizing)
                decision_id = int(conn.execute(INSERT_DECISION, row).inserted_primary_key[0])
                result = replace(result, decision_id=decision_id)
                reserved = None
                if result.passed:
                    reserved = reserve(session, result, params, inputs)
                elif refused is not None:
                    refused(session, result)
                session.flush()
        return result, reserved

    def _decision_row(
        self,
        inputs: Inputs,
        params: TradeParams,
        result: RiskResult,
        signal_id: int | None,
        sizing: Any = None,
    ) -> dict[str, Any]:
        """The audit row (``decision_row``), made now."""
        return decision_row(inputs, params, result, signal_id, self._clock.now(), sizing)

    def check_close(self, position_id: int) -> RiskResult:
        """Closing reduces risk: never blocked, not even while halted."""
        return RiskResult(
            passed=True,
            reason=f"closing position {position_id}: always allowed",
            violated_limits=[],
            checks=[],
        )

    def replay(self, decision_id: int) -> RiskResult:
        """Re-run a stored decision's inputs through today's pure function."""
        with self._db.read() as session:
            decision = session.get(RiskDecision, decision_id)
            if decision is None:
                raise InvalidInput("decision_id", decision_id, "the id of a stored decision")
            inputs = Inputs.from_dict(decision.inputs)
        return decide(inputs)

    def explain(
        self,
        decision_id: int | None = None,
        *,
        signal_id: int | None = None,
        position_id: int | None = None,
    ) -> DecisionStory | None:
        """The story of one stored decision (``helios.risk.explanation``), found by its id, the
        signal it judged (the newest decision of it) or the position it opened: exactly one.
        None when a known signal or position has no decision (a signal refused before the
        checks: its ``status_reason`` says why; a position opened outside the risk manager)."""
        given = {
            k: v
            for k, v in (
                ("decision_id", decision_id),
                ("signal_id", signal_id),
                ("position_id", position_id),
            )
            if v is not None
        }
        if len(given) != 1:
            raise InvalidInput(
                "decision_id/signal_id/position_id", given, "exactly one of the three ids"
            )
        ((field, value),) = given.items()
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(field, value, "a whole number from 1")
        with self._db.read() as session:
            if position_id is not None:
                position = session.get(Position, position_id)
                if position is None:
                    raise InvalidInput("position_id", position_id, "the id of a position")
                decision_id = position.risk_decision_id
            elif signal_id is not None:
                if session.get(Signal, signal_id) is None:
                    raise InvalidInput("signal_id", signal_id, "the id of a stored signal")
                decision_id = session.scalar(
                    select(RiskDecision.id)
                    .where(RiskDecision.signal_id == signal_id)
                    .order_by(RiskDecision.id.desc())
                    .limit(1)
                )
            if decision_id is None:
                return None
            decision = session.get(RiskDecision, decision_id)
            if decision is None:
                raise InvalidInput("decision_id", decision_id, "the id of a stored decision")
            opened = position_id or session.scalar(
                select(Position.id)
                .where(Position.risk_decision_id == decision.id, Position.status != "FAILED")
                .limit(1)
            )
            row = {c.name: getattr(decision, c.name) for c in RiskDecision.__table__.columns}
        return story_of(row, opened)

    def decisions(self, limit: int = 100, passed: bool | None = None) -> pd.DataFrame:
        """The newest stored decisions (``passed``: only those that passed, or failed)."""
        query = select(RiskDecision).order_by(RiskDecision.id.desc()).limit(limit)
        if passed is not None:
            query = query.where(RiskDecision.passed.is_(passed))
        with self._db.read() as session:
            rows = list(session.scalars(query))
        return pd.DataFrame(
            [
                {
                    "id": r.id,
                    "ts": r.ts,
                    "pair": r.pair,
                    "side": r.side,
                    "passed": r.passed,
                    "reason": r.reason,
                    "violated_limits": ", ".join(r.violated_limits),
                    "position_size_zar": r.trade_params.get("position_size_zar"),
                    "leverage": r.trade_params.get("leverage"),
                    "limits_version": r.limits_version,
                }
                for r in rows
            ]
        )
