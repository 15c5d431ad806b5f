"""``hx.reconciliation``: in LIVE, VALR's balances and open orders against the ledger (issue #8).

The ledger is our picture of the account; VALR holds the real one. Each pass (the scheduler's
``live_reconcile`` job, every ``LIVE_RECONCILE_SECONDS``, only in LIVE and only on the leader;
or anyone calling ``hx.reconciliation.check()``) reads the baseline, the ledger and VALR
(``reads``), then prices and fees, and compares expected against actual (``compare``, the rule:
baseline + our fills' movements per currency within a tolerance, and our orders).

**What follows.** A difference beyond the tolerance is a ``RECONCILE_MISMATCH`` event with the
figures per currency (recorded when the set of differences changes, not every pass;
``RECONCILE_OK`` when it clears). Their value in rand summed over the differences beyond the
tolerance; above ``LIVE_RECONCILE_HALT_ZAR`` it is an automatic halt with cause
``reconciliation``, reported through the ``report_breach`` callable the facade passes in (the
halts, ``helios.halts``), whose action is ``HALT_ACTION_RECONCILIATION`` (default ``halt_only``:
the close orders of a ``close_all`` are sized from the very ledger that is wrong, so they could
sell coins that are not ours or leave a short; a person decides). The last pass's result is
stored (``state``), so ``hx.halts.breaches()`` (and therefore a resume's acknowledgement and the
watchdog) sees the condition like any other trigger. An acknowledged difference halts again only
if it grows by more than the threshold after the resume (``halting``). A difference that is
understood (a deposit, say) is accepted with ``record_baseline(by, reason)``: VALR's balances now
become the baseline (``baseline``; an event with the differences accepted).

**VALR unreachable** during a pass: an ``EXCHANGE_ERROR`` event (it counts toward the "more than
10 in a minute" halt) and a report with status ``unreachable``; no mismatch is claimed and the
last stored result stands.

Known limits: interest VALR charges on margin borrowing is not in the ledger and shows as a
slowly growing shortfall; deposits and withdrawals show as differences until accepted; one
installation per VALR account (another installation's trades are differences here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import helios.reconciliation.baseline as stored
import helios.reconciliation.state as state
from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.errors import InvalidInput
from helios.events import record_event, record_exchange_error
from helios.exchange.valr import ValrError, ValrExchange
from helios.halt_triggers import RECONCILIATION, Breach
from helios.reconciliation.compare import Baseline, Book, Rules, Venue, compare, our_orders
from helios.reconciliation.halting import decide_halt
from helios.reconciliation.reads import Reads
from helios.reconciliation.report import (
    BASELINE_RECORDED,
    NOT_LIVE,
    UNREACHABLE,
    WAITING,
    ReconcileReport,
)
from helios.settings_store import HALTED_KEY, get_setting

if TYPE_CHECKING:
    from helios.market.store import MarketData

TRIGGER = RECONCILIATION  # the automatic-halt cause (helios.halts)
ACTOR = state.ACTOR
ERROR_SOURCE = "valr-reconcile"


class Reconciliation:
    """``hx.reconciliation``: ``check()``, ``last_report()``, ``baseline()``,
    ``record_baseline(by, reason)``.

    Collaborators passed in: ``installation_id`` (whose customerOrderIds are ours),
    ``acknowledged_triggers`` (the automatic triggers the last resume acknowledged) and
    ``report_breach`` (asks the halts to halt for a breach)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        exchange: ValrExchange,
        *,
        installation_id: Callable[[], str],
        acknowledged_triggers: Callable[[], set[str]],
        report_breach: Callable[[Breach], None],
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._acknowledged_triggers = acknowledged_triggers
        self._report_breach = report_breach
        self._installation_id = installation_id
        self._reads = Reads(db, settings, clock, market, exchange, installation_id)

    # --- public ---------------------------------------------------------------------------
    def check(self) -> ReconcileReport:
        """One reconciliation pass (see the module). Never raises for VALR's failures: they are
        an EXCHANGE_ERROR event and an ``unreachable`` report."""
        now = self._clock.now()
        threshold = self._settings.live_reconcile_halt_zar
        live_since = stored.live_since(self._db)
        if live_since is None:
            return ReconcileReport(now, NOT_LIVE, "not in LIVE mode: nothing to reconcile")
        try:
            read = self._reads.consistent(live_since)
        except ValrError as exc:
            return self._unreachable(now, exc)
        if read is None:
            return ReconcileReport(
                now,
                WAITING,
                "the ledger changed while VALR was asked (an order was being recorded): "
                "left to the next pass",
                threshold_zar=threshold,
            )
        baseline, book, venue = read
        if baseline is None:
            return self._first_pass(now, live_since, book, venue)
        report = self._compare(now, baseline, book, venue)
        return self._conclude(report, live_since)

    def last_report(self) -> dict[str, Any] | None:
        """The last stored pass (``ReconcileReport.to_dict()``), for the dashboard and the CLI;
        None before the first pass of this LIVE period."""
        with self._db.read() as session:
            return state.stored_report(session)

    def baseline(self) -> dict[str, Any] | None:
        """The baseline of the current LIVE period (balances as text), or None."""
        live_since = stored.live_since(self._db)
        if live_since is None:
            return None
        with self._db.read() as session:
            found = stored.read_baseline(session, live_since, self._clock)
        return None if found is None else stored.baseline_view(found)

    def record_baseline(self, by: str, reason: str = "") -> ReconcileReport:
        """A person accepts VALR's balances now as the new baseline (after a deposit, or a
        difference that is understood). Refused while an order of ours is in flight. Records a
        ``RECONCILE_BASELINE`` event with the differences accepted, then runs a pass."""
        if not isinstance(by, str) or not by.strip():
            raise InvalidInput("by", by, "who accepts VALR's balances (a non-empty name)")
        if not isinstance(reason, str):
            raise InvalidInput("reason", reason, "a text")
        live_since = stored.live_since(self._db)
        if live_since is None:
            raise InvalidInput("trading_mode", "PAPER", "LIVE (a baseline is of a LIVE account)")
        try:
            read = self._reads.consistent(live_since)
        except ValrError as exc:
            return self._unreachable(self._clock.now(), exc)
        if read is None or read[1].transitional or self._ours(read[2]):
            raise InvalidInput(
                "record_baseline",
                "now",
                "a moment when no order of ours is in flight (no position OPENING or CLOSING, "
                "no open order of ours on VALR): try again shortly",
            )
        previous, book, venue = read
        accepted = self._compare(self._clock.now(), previous, book, venue) if previous else None
        self._write_baseline(
            live_since, book, venue, by.strip(), replace=True, note=reason, accepted=accepted
        )
        return self.check()

    # --- judging --------------------------------------------------------------------------
    def _rules(self) -> Rules:
        settings = self._settings
        return Rules(
            pairs=tuple(settings.pairs),
            tolerance_steps=settings.live_reconcile_tolerance_steps,
            threshold_zar=settings.live_reconcile_halt_zar,
            grace_seconds=settings.live_reconcile_grace_seconds,
            installation=self._installation_id(),
        )

    def _compare(
        self, now: datetime, baseline: Baseline, book: Book, venue: Venue
    ) -> ReconcileReport:
        """Prices and fees read first, then the pure rule (``compare``)."""
        return compare(now, baseline, book, venue, self._reads.quotes(book), self._rules())

    def _ours(self, venue: Venue) -> bool:
        return bool(our_orders(venue.open_orders, self._installation_id()))

    # --- writing --------------------------------------------------------------------------
    def _first_pass(
        self, now: datetime, live_since: str, book: Book, venue: Venue
    ) -> ReconcileReport:
        threshold = self._settings.live_reconcile_halt_zar
        if book.transitional or self._ours(venue):
            return ReconcileReport(
                now,
                WAITING,
                "no baseline yet, and an order of ours is in flight: the baseline waits for a "
                "quiet moment",
                threshold_zar=threshold,
            )
        baseline = self._write_baseline(live_since, book, venue, ACTOR)
        report = self._compare(now, baseline, book, venue)
        report = ReconcileReport(
            checked_at=now,
            status=BASELINE_RECORDED,
            message="baseline recorded: VALR's balances now are the start of this LIVE period",
            currencies=report.currencies,
            threshold_zar=threshold,
            baseline_at=baseline.recorded_at,
        )
        state.store_state(self._db, live_since, report, None)
        return report

    def _write_baseline(
        self,
        live_since: str,
        book: Book,
        venue: Venue,
        by: str,
        *,
        replace: bool = False,
        note: str = "",
        accepted: ReconcileReport | None = None,
    ) -> Baseline:
        return stored.write_baseline(
            self._db,
            self._clock,
            self._settings.pairs,
            live_since,
            book,
            venue,
            by,
            replace=replace,
            note=note,
            accepted=accepted,
        )

    def _conclude(self, report: ReconcileReport, live_since: str) -> ReconcileReport:
        """Events when the differences change, the stored state, and the halt."""
        with self._db.read() as session:
            row = get_setting(session, stored.STATE_KEY)
            halted_row = get_setting(session, HALTED_KEY)
        previous_state = stored.load(row.value if row else None)
        if previous_state.get("live_since") != live_since:
            previous_state = {}
        signature = state.signature(report)
        previous = previous_state.get("signature")
        figures = state.figures(report)
        if report.mismatched and signature != previous:
            with self._db.write() as session:
                record_event(
                    session,
                    ts=report.checked_at,
                    kind="RECONCILE_MISMATCH",
                    actor=ACTOR,
                    severity="CRITICAL" if report.over_threshold else "WARNING",
                    message=report.message[:2000],
                    details=figures,
                )
        elif not report.mismatched and previous:
            with self._db.write() as session:
                record_event(
                    session,
                    ts=report.checked_at,
                    kind="RECONCILE_OK",
                    actor=ACTOR,
                    message="VALR agrees with the ledger again",
                )
        marker = halted_row.updated_at.isoformat() if halted_row is not None else ""
        decision = decide_halt(
            report,
            acknowledged=report.over_threshold and TRIGGER in self._acknowledged_triggers(),
            known_reference=stored.decimal_or_none(previous_state.get("ack_reference_zar")),
            reference_marker=previous_state.get("ack_marker"),
            marker=marker,
        )
        if decision.halt:
            report = replace(report, halted=True)
        state.store_state(
            self._db,
            live_since,
            report,
            signature if report.mismatched else None,
            breach_message=decision.message,
            figures=figures,
            ack_reference=decision.reference,
            ack_marker=marker if decision.reference is not None else None,
        )
        if decision.halt:
            self._report_breach(Breach(TRIGGER, decision.message, figures))
        return report

    def _unreachable(self, now: datetime, exc: ValrError) -> ReconcileReport:
        text = f"reconciliation could not read VALR: {exc}"
        record_exchange_error(self._db, now, ERROR_SOURCE, text)
        return ReconcileReport(
            now,
            UNREACHABLE,
            text + " (no difference claimed; the last result stands)",
            threshold_zar=self._settings.live_reconcile_halt_zar,
            error=str(exc),
        )


__all__ = ["ACTOR", "ERROR_SOURCE", "TRIGGER", "Reconciliation"]
