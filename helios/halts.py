"""``hx.halts``: the seed's automatic emergency stops, and the close-out that follows them.

The seed's list ("Automatic Emergency Stops"), each with a configured action whose default is the
seed's (``close_all``: halt trading and close every open position as EMERGENCY_CLOSE;
``halt_only``: stop opening, leave open positions under their stops):

- ``drawdown``: drawdown above the ``max_drawdown_pct`` limit in force (15%);
- ``daily_loss``: daily loss above ``daily_loss_limit_pct`` (5%);
- ``stale_price``: a configured pair without a price observed at its source for
  ``HALT_STALE_PRICE_SECONDS`` (1 hour), counted from the feed's start when its last price is
  older than that (never priced, history only, a restart after a pause);
- ``exchange_errors``: more than ``HALT_EXCHANGE_ERRORS`` (10) exchange errors within
  ``HALT_EXCHANGE_ERROR_WINDOW_SECONDS`` (1 minute), counted from the ``EXCHANGE_ERROR`` events
  every process records (so the dashboard's failures count too);
- ``database_lost``: the database unreachable for ``HALT_DATABASE_LOST_SECONDS``. Nothing can
  be read then, so the scheduler handles it itself (``helios.closeout``): the close-out goes
  through the journal and is replayed into the database when it returns;
- ``reconciliation`` (LIVE only, not one of the seed's): VALR's balances or open orders differ
  from the ledger by more than ``LIVE_RECONCILE_HALT_ZAR`` (``helios.reconciliation``). Asking
  VALR takes the network, so the reconciliation pass judges it and stores its result; the
  breach here is read from that stored result (so a resume acknowledges it as any other), and
  the pass itself reports it, when it finds it, through the callable ``helios.connect`` gives
  it (``trigger`` here). Its action defaults to ``halt_only`` (``HALT_ACTION_RECONCILIATION``).

Each rule is a pure function of ``helios.halt_triggers`` (L2), applied to one pass's reads by
``helios.watchdog_reads.judge``; this service (L4e) reads the figures they judge (or is given
them: a replay's book in memory), halts through the trading state (``helios.trading_state``)
and closes through the positions it is given.

A halt stays until a person resumes. Resuming acknowledges the episode in force (each breach
present at that moment, with its time): a trigger re-arms as soon as its condition clears, and a
time-based one (stale price, exchange errors) still true a full trigger period after the resume
halts again as a new episode (``helios.rearm`` holds the rule). The close-out of a
``close_all`` halt is retried with backoff (doubling up to ``CLOSEOUT_RETRY_MAX_SECONDS``) while
the exchange fails, until every position is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

import helios.halt_triggers as halt_triggers
from helios.clock import Clock
from helios.config import HaltAction, Settings
from helios.db.engine import Database
from helios.db.models import Event, Heartbeat, LatestPrice, Position
from helios.events import EXCHANGE_ERROR, record_event
from helios.halt_triggers import TRIGGERS, WATCHDOG, Breach
from helios.ledger import Ledger
from helios.money import fmt_zar
from helios.positions.lifecycle import CLOSING, OPEN
from helios.rearm import rearm, rearm_periods
from helios.reconciliation import stored_breach
from helios.risk.limits import RiskLimits
from helios.trading_state import HaltState, TradingState, acknowledgements_in, halt_state_in
from helios.watchdog_reads import WatchdogReads, judge, watchdog_reads

__all__ = ["TRIGGERS", "WATCHDOG", "Breach", "Halts", "PositionsCloseout"]

log = logging.getLogger("helios.halts")


# read at every pass (built once: their compiled form is reused)
_OBSERVED = select(LatestPrice.pair, LatestPrice.ts)
_ERRORS = (
    select(func.count())
    .select_from(Event)
    .where(Event.kind == EXCHANGE_ERROR, Event.ts > bindparam("since"))
)


class PositionsCloseout(Protocol):
    """What the close-out of a ``close_all`` halt needs from the positions (``hx.positions``):
    close every open one, and settle the closes the exchange did not answer."""

    def close_all(self, reason: Any = ..., *, actor: str = ...) -> list[dict[str, Any]]: ...

    def reconcile(self, grace: timedelta = ..., statuses: tuple[str, ...] = ...) -> Any: ...


@dataclass
class CloseoutTally:
    """What a close-out episode has closed so far (its result's figures)."""

    closed: int = 0
    realized: Decimal = Decimal(0)
    failed: set[int] = field(default_factory=set)

    def add(self, closes: list[dict[str, Any]]) -> None:
        for close in closes:
            pid = close.get("position_id")
            if close.get("success"):
                self.closed += 1
                if close.get("realized_pnl") is not None:
                    self.realized += Decimal(str(close["realized_pnl"]))
                self.failed.discard(pid)
            elif isinstance(pid, int):
                self.failed.add(pid)


def _new_episode(breach: Breach, acknowledged_at: datetime, now: datetime) -> Breach:
    """``breach``, acknowledged by a resume at ``acknowledged_at`` and still true a full
    period later: a new episode, said so in its message and figures."""
    held = (now - acknowledged_at).total_seconds()
    return Breach(
        breach.trigger,
        f"{breach.message}; still true {held:,.0f} s after the resume at "
        f"{acknowledged_at:%Y-%m-%d %H:%M:%S} UTC that acknowledged it: a new episode",
        {**breach.figures, "episode": "new", "acknowledged_at": acknowledged_at.isoformat()},
    )


class Halts:
    """``hx.halts``: reads the figures, judges them with ``helios.halt_triggers``, halts through
    the trading state and carries on a ``close_all`` halt's close-out through the positions."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        ledger: Ledger,
        limits: Callable[[Session], RiskLimits],
        state: TradingState,
        positions: PositionsCloseout,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._ledger = ledger
        self._limits = limits
        self._state = state
        self._positions = positions
        self._retry_at: datetime | None = None
        self._retry_delay = 0.0
        self._tally = CloseoutTally()
        self._stale_told: frozenset[str] = frozenset()

    # --- the conditions -----------------------------------------------------------------
    def breaches(self, feed_started_at: datetime | None = None) -> list[Breach]:
        """Every automatic-halt condition in force now (database loss aside: see the module).

        ``feed_started_at``: when the price feed started in this process; a pair whose last
        price was observed before that (or never) is judged from then (None: never-priced pairs
        are not judged, the others from their last observation). The figures are read in one
        read transaction (``reads_in``) and judged by ``helios.watchdog_reads.judge``."""
        with self._db.read() as session:
            return judge(self.reads_in(session, feed_started_at)).found

    def reads_in(self, session: Session, feed_started_at: datetime | None) -> WatchdogReads:
        """What a watchdog pass reads, in the caller's transaction (on SQLite one snapshot; on
        PostgreSQL each statement sees what committed before it)."""
        now = self._clock.now()
        window = timedelta(seconds=self._settings.halt_exchange_error_window_seconds)
        return watchdog_reads(
            valuation=self._ledger.valuation_in(session),
            limits=self._limits(session),
            # the time each price was observed at its source (not when it reached us: ingested
            # history arrives now but is as old as its bars)
            observed=session.execute(_OBSERVED).all(),
            errors=int(session.scalar(_ERRORS, {"since": now - window}) or 0),
            reconciliation=stored_breach(session),
            acknowledged=acknowledgements_in(session),
            state=halt_state_in(session),
            now=now,
            settings=self._settings,
            feed_started_at=feed_started_at,
        )

    def feed_started_at(self) -> datetime | None:
        """When the leading scheduler's feed started (its heartbeat says), so a process other
        than the scheduler judges never-priced pairs as the watchdog does."""
        with self._db.read() as session:
            row = session.get(Heartbeat, "scheduler")
        value = (row.details or {}).get("feed_started_at") if row is not None else None
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    # --- the watchdog pass --------------------------------------------------------------
    def check(self, feed_started_at: datetime | None = None) -> list[Breach]:
        """One watchdog pass: the reads (``reads_in``, one read transaction), then ``act``."""
        with self._db.read() as session:  # the figures, the acknowledgements and the flag
            reads = self.reads_in(session, feed_started_at)
        return self.act(reads)

    def quiet(self, reads: WatchdogReads) -> bool:
        """Whether a pass on ``reads`` has nothing to act on, so ``act`` reads and writes
        nothing: no breach, no acknowledgement to re-arm, no stale-feed warning, and no
        close-out under way (a replay writes behind until a pass is not quiet)."""
        judged = judge(reads)
        state = reads.state
        closing_out = state.halted and state.action is HaltAction.CLOSE_ALL
        return not (judged.found or reads.acknowledged or judged.early or closing_out)

    def act(self, reads: WatchdogReads) -> list[Breach]:
        """The watchdog pass on what it read: halt for every breach not acknowledged by a
        resume, then carry on with the close-out a ``close_all`` halt asks for. Returns the
        breaches acted on. ``check`` reads the database; a replay's light step gives the same
        reads from the book it holds in memory (``helios.replay.memory_book``). A pass with
        nothing to act on does no I/O here."""
        judged = judge(reads)
        found = judged.found
        acknowledged: Mapping[str, datetime] = reads.acknowledged
        state: HaltState | None = reads.state
        if found or acknowledged:  # something to act on: judged on the flags as they are now
            acknowledged, state = self._state.acknowledgements(), None
        now = self._clock.now()
        rearming = rearm(
            acknowledged, {b.trigger for b in found}, now, rearm_periods(self._settings)
        )
        if rearming.acknowledged != acknowledged:
            self._state.set_acknowledged(rearming.acknowledged)
            state = None  # written since: read again
        acted = []
        for breach in found:
            if breach.trigger in rearming.new_episodes:
                acted.append(_new_episode(breach, rearming.new_episodes[breach.trigger], now))
            elif breach.trigger not in rearming.acknowledged:
                acted.append(breach)
        for breach in acted:
            self.trigger(breach)
        self._warn_stale(found, judged.early)
        self.continue_closeout(None if acted else state)
        return acted

    def _warn_stale(self, found: list[Breach], early: Breach | None) -> None:
        """A ``STALE_FEED`` warning (``early``) when prices pass half the stale-price halt's
        threshold, once per episode (until the feed is fresh again); not when the halt itself
        fires."""
        pairs = frozenset((early.figures.get("stale_seconds") or {}) if early else ())
        if early is None or any(b.trigger == halt_triggers.STALE_PRICE for b in found):
            self._stale_told = pairs if early else frozenset()
            return
        if pairs <= self._stale_told:
            return
        self._stale_told = pairs
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind="STALE_FEED",
                severity="WARNING",
                actor=WATCHDOG,
                message=early.message,
                details={"pairs": ", ".join(sorted(pairs)), **early.figures},
            )

    def trigger(self, breach: Breach) -> None:
        """Halt for ``breach`` with its configured action (idempotent while halted)."""
        action = self._settings.halt_action(breach.trigger)
        state = self._state.halt_state()
        if state.halted and (state.action is HaltAction.CLOSE_ALL or action is state.action):
            return
        self._state.halt(
            f"automatic: {breach.message}",
            WATCHDOG,
            cause=breach.trigger,
            action=action,
            details=breach.figures,
        )

    # --- the close-out ------------------------------------------------------------------
    def continue_closeout(self, state: HaltState | None = None) -> dict[str, Any] | None:
        """Under a ``close_all`` halt, close every open position as EMERGENCY_CLOSE and settle
        closes the exchange did not answer; while positions remain, retry with backoff.
        Returns what this call did (None: nothing to do or not yet time to retry). ``state``:
        the halt flag as the caller's pass read it, enough to see there is nothing to do (not
        halted, or halted without a close-out); otherwise it is read again here, so a resume
        committed since stops the close-out."""
        if state is None or (state.halted and state.action is HaltAction.CLOSE_ALL):
            state = self._state.halt_state()  # about to act: the flag as it is now (a resume)
        if not state.halted or state.action is not HaltAction.CLOSE_ALL:
            self._retry_at, self._retry_delay = None, 0.0
            return None
        now = self._clock.now()
        if self._retry_at is not None and now < self._retry_at:
            return None
        if not self._remaining():
            self._retry_at, self._retry_delay = None, 0.0
            return None
        first = self._retry_delay == 0.0
        closed = self._positions.close_all("EMERGENCY_CLOSE", actor=WATCHDOG)
        self._tally.add(closed)
        try:
            # closes older than two exchange timeouts: a close another thread or process has
            # just begun is still on its way and must not be sent again
            grace = timedelta(seconds=2 * self._settings.valr_timeout_seconds)
            settled = self._positions.reconcile(grace=grace, statuses=(CLOSING,))
        except Exception as exc:  # the exchange is failing: the next attempt asks again
            log.warning("settling closes failed: %s", exc)
            settled = []
        remaining = self._remaining()
        if remaining:
            ceiling = self._settings.closeout_retry_max_seconds
            self._retry_delay = min(max(self._retry_delay * 2, 1.0), ceiling)
            self._retry_at = self._clock.now() + timedelta(seconds=self._retry_delay)
            if first:  # told once: what the first attempt closed, and what is still open
                self._record_closeout("CLOSEOUT_RESULT", state, remaining)
            log.warning(
                "emergency close-out: %d position(s) still open or closing; retry in %.0f s",
                remaining,
                self._retry_delay,
            )
        else:
            self._retry_at, self._retry_delay = None, 0.0
            self._record_closeout("CLOSEOUT_DONE", state, 0)
        return {"closed": closed, "settled": settled, "remaining": remaining}

    def _record_closeout(self, kind: str, state: HaltState, remaining: int) -> None:
        """The close-out's result as one event (a critical alert): how many closed, their
        realized P&L, how many are not closed yet."""
        tally = self._tally
        done = kind == "CLOSEOUT_DONE"
        message = (
            f"emergency close-out {'complete: every position closed' if done else 'under way'}"
            f": {tally.closed} closed, realized {fmt_zar(tally.realized)}"
            + ("" if done else f", {remaining} not closed yet (retrying)")
            + f" (halt: {state.reason})"
        )
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind=kind,
                severity="WARNING" if done else "ERROR",
                actor=WATCHDOG,
                message=message,
                details={
                    "closed": tally.closed,
                    "realized_pnl": str(tally.realized),
                    "not_closed": remaining,
                    "failed": sorted(tally.failed),
                    "halt_since": state.since.isoformat() if state.since else None,
                },
            )
        if done:
            self._tally = CloseoutTally()

    def _remaining(self) -> int:
        with self._db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Position)
                    .where(Position.status.in_((OPEN, CLOSING)))
                )
                or 0
            )
