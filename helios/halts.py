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
  the pass itself halts through ``trigger`` when it finds it. Its action defaults to
  ``halt_only`` (``HALT_ACTION_RECONCILIATION``).

A halt stays until a person resumes. Resuming acknowledges the episode in force (each breach
present at that moment, with its time): a trigger re-arms as soon as its condition clears, and a
time-based one (stale price, exchange errors) still true a full trigger period after the resume
halts again as a new episode (``helios.rearm`` holds the rule). The close-out of a
``close_all`` halt is retried with backoff (doubling up to ``CLOSEOUT_RETRY_MAX_SECONDS``) while
the exchange fails, until every position is closed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from helios.clock import Clock
from helios.config import HaltAction, Settings
from helios.db.engine import Database
from helios.db.models import Event, Heartbeat, LatestPrice, Position
from helios.events import EXCHANGE_ERROR, record_event
from helios.halt_triggers import RECONCILIATION, TRIGGERS, WATCHDOG, Breach

__all__ = ["TRIGGERS", "WATCHDOG", "Breach", "Halts"]
from helios.ledger import Ledger
from helios.positions.lifecycle import CLOSING, OPEN
from helios.rearm import rearm, rearm_periods
from helios.reconciliation import stored_breach
from helios.risk.service import RiskManager

if TYPE_CHECKING:
    from helios.controls import Controls
    from helios.positions.manager import PositionManager

log = logging.getLogger("helios.halts")


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
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        ledger: Ledger,
        risk: RiskManager,
        controls: Controls,
        positions: PositionManager,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._ledger = ledger
        self._risk = risk
        self._controls = controls
        self._positions = positions
        self._retry_at: datetime | None = None
        self._retry_delay = 0.0

    # --- the conditions -----------------------------------------------------------------
    def breaches(self, feed_started_at: datetime | None = None) -> list[Breach]:
        """Every automatic-halt condition in force now (database loss aside: see the module).

        ``feed_started_at``: when the price feed started in this process; a pair whose last
        price was observed before that (or never) is judged from then (None: never-priced pairs
        are not judged, the others from their last observation)."""
        now = self._clock.now()
        settings = self._settings
        found: list[Breach] = []
        valuation = self._ledger.valuation()
        limits = self._risk.get_limits()
        drawdown, daily_loss = float(valuation.drawdown), float(valuation.daily_loss)
        equity, peak = float(valuation.equity), float(valuation.peak_equity)
        if drawdown > limits.max_drawdown_pct:
            found.append(
                Breach(
                    "drawdown",
                    f"drawdown {drawdown:.2%} > limit {limits.max_drawdown_pct:.2%} "
                    f"(equity R{equity:,.2f}, peak R{peak:,.2f})",
                    {
                        "drawdown": drawdown,
                        "limit": limits.max_drawdown_pct,
                        "equity": equity,
                        "peak_equity": peak,
                    },
                )
            )
        if daily_loss > limits.daily_loss_limit_pct:
            start = float(valuation.start_of_day_equity)
            found.append(
                Breach(
                    "daily_loss",
                    f"daily loss {daily_loss:.2%} > limit {limits.daily_loss_limit_pct:.2%} "
                    f"(equity R{equity:,.2f}, start of day R{start:,.2f})",
                    {
                        "daily_loss": daily_loss,
                        "limit": limits.daily_loss_limit_pct,
                        "equity": equity,
                        "start_of_day_equity": start,
                    },
                )
            )
        window = timedelta(seconds=settings.halt_exchange_error_window_seconds)
        with self._db.read() as session:
            # the time each price was observed at its source (not when it reached us: ingested
            # history arrives now but is as old as its bars)
            observed = {
                pair: at for pair, at in session.execute(select(LatestPrice.pair, LatestPrice.ts))
            }
            errors = int(
                session.scalar(
                    select(func.count())
                    .select_from(Event)
                    .where(Event.kind == EXCHANGE_ERROR, Event.ts > now - window)
                )
                or 0
            )
            reconciliation = stored_breach(session)
        stale_after = settings.halt_stale_price_seconds
        stale: dict[str, float] = {}
        for pair in settings.pairs:
            # from the later of its last observation and the feed's start: a feed that has just
            # started (a new install over its backfilled history, a restart after a pause) has
            # a full period to deliver before its old prices halt; the price-age pre-check
            # already refuses every opening trade on them meanwhile
            seen = [at for at in (observed.get(pair), feed_started_at) if at is not None]
            last = max(seen) if seen else None
            if last is not None and (now - last).total_seconds() > stale_after:
                stale[pair] = round((now - last).total_seconds(), 1)
        if stale:
            listed = ", ".join(f"{pair} {age:,.0f} s" for pair, age in sorted(stale.items()))
            found.append(
                Breach(
                    "stale_price",
                    f"no price update for more than {stale_after:,.0f} s: {listed}",
                    {"stale_seconds": stale, "limit_seconds": stale_after},
                )
            )
        if errors > settings.halt_exchange_errors:
            found.append(
                Breach(
                    "exchange_errors",
                    f"{errors} exchange errors in the last {window.total_seconds():,.0f} s "
                    f"(more than {settings.halt_exchange_errors})",
                    {
                        "errors": errors,
                        "limit": settings.halt_exchange_errors,
                        "window_seconds": window.total_seconds(),
                    },
                )
            )
        if reconciliation is not None:
            message, figures = reconciliation
            found.append(Breach(RECONCILIATION, message, figures))
        return found

    def feed_started_at(self) -> datetime | None:
        """When the leading scheduler's feed started (its heartbeat says), so a process other
        than the scheduler judges never-priced pairs as the watchdog does."""
        with self._db.read() as session:
            row = session.get(Heartbeat, "scheduler")
        value = (row.details or {}).get("feed_started_at") if row is not None else None
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    # --- the watchdog pass --------------------------------------------------------------
    def check(self, feed_started_at: datetime | None = None) -> list[Breach]:
        """One watchdog pass: halt for every breach not acknowledged by a resume, then carry
        on with the close-out a ``close_all`` halt asks for. Returns the breaches acted on."""
        found = self.breaches(feed_started_at)
        acknowledged = self._controls.acknowledgements()
        now = self._clock.now()
        rearming = rearm(
            acknowledged, {b.trigger for b in found}, now, rearm_periods(self._settings)
        )
        if rearming.acknowledged != acknowledged:
            self._controls.set_acknowledged(rearming.acknowledged)
        acted = []
        for breach in found:
            if breach.trigger in rearming.new_episodes:
                acted.append(_new_episode(breach, rearming.new_episodes[breach.trigger], now))
            elif breach.trigger not in rearming.acknowledged:
                acted.append(breach)
        for breach in acted:
            self.trigger(breach)
        self.continue_closeout()
        return acted

    def trigger(self, breach: Breach) -> None:
        """Halt for ``breach`` with its configured action (idempotent while halted)."""
        action = self._settings.halt_action(breach.trigger)
        state = self._controls.halt_state()
        if state.halted and (state.action is HaltAction.CLOSE_ALL or action is state.action):
            return
        self._controls.halt(
            f"automatic: {breach.message}",
            WATCHDOG,
            cause=breach.trigger,
            action=action,
            details=breach.figures,
        )

    # --- the close-out ------------------------------------------------------------------
    def continue_closeout(self) -> dict[str, Any] | None:
        """Under a ``close_all`` halt, close every open position as EMERGENCY_CLOSE and settle
        closes the exchange did not answer; while positions remain, retry with backoff.
        Returns what this call did (None: nothing to do or not yet time to retry)."""
        state = self._controls.halt_state()
        if not state.halted or state.action is not HaltAction.CLOSE_ALL:
            self._retry_at, self._retry_delay = None, 0.0
            return None
        now = self._clock.now()
        if self._retry_at is not None and now < self._retry_at:
            return None
        if not self._remaining():
            self._retry_at, self._retry_delay = None, 0.0
            return None
        closed = self._positions.close_all("EMERGENCY_CLOSE", actor=WATCHDOG)
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
            log.warning(
                "emergency close-out: %d position(s) still open or closing; retry in %.0f s",
                remaining,
                self._retry_delay,
            )
        else:
            self._retry_at, self._retry_delay = None, 0.0
            with self._db.write() as session:
                record_event(
                    session,
                    ts=self._clock.now(),
                    kind="CLOSEOUT_DONE",
                    severity="WARNING",
                    actor=WATCHDOG,
                    message=f"emergency close-out complete: every position closed "
                    f"(halt: {state.reason})",
                )
        return {"closed": closed, "settled": settled, "remaining": remaining}

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
