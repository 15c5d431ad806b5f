"""The unattended scheduler: an APScheduler BlockingScheduler in its own process.

Jobs (intervals from configuration, the schedule kept in code: STACK_NOTES section 2), each a
thin call into ``helios``:

- ``leader`` (every LEADER_POLL_SECONDS): take or renew leadership (``helios.leader``). Only the
  leader runs the jobs marked (L); a second scheduler waits as a standby and takes over when the
  leader stops or dies;
- ``prices`` (L): one poll of the market feed (``hx.market.pull``); a failing VALR feed counts
  as an exchange error;
- ``trading`` (L): the trading loop, ``hx.signals.process_pending``: pending signals are sized,
  risk-checked and opened, or rejected or expired, each with a decision log line;
- ``demo`` (L, PAPER only): the demo momentum signals (``helios.demo``), when enabled;
- ``monitor`` (L): one stop-monitor pass (stop loss, take profit, trailing stop, timeout);
- ``snapshot`` (L): ``hx.take_snapshot`` (equity, cash, exposure, drawdown, leverage, risk used);
- ``day_roll`` (L, 00:00:05 in the trading-day zone): marks to market so the new day's
  start-of-day equity is set at the day's start, then queues the day's report and on Mondays
  the week's (``hx.reports.deliver_due``; a new leader queues those a missed roll left);
- ``watchdog``: the database probe and close-out journal (``helios.closeout``), then (L) the
  automatic halts and their close-out (``hx.halts.check``) and, unless halted, the settling of
  positions a killed process left OPENING or CLOSING (``hx.positions.reconcile``, after its grace);
- ``live_reconcile`` (L, LIVE only, every LIVE_RECONCILE_SECONDS): VALR's balances and open
  orders against the ledger (``hx.reconciliation.check``): a difference is an event, a large one
  a halt (cause ``reconciliation``), VALR unreachable an exchange error;
- ``heartbeat``: a row the dashboard reads (``scheduler`` for the leader, ``scheduler-standby``);
- ``prune`` (L): drops intraday candles older than the retention;
- ``alerts`` (every ALERT_SEND_INTERVAL_SECONDS, in every scheduler: a channel is claimed for
  each pass, so leader and standby never send one alert twice): one delivery pass of the alert
  outbox (``hx.alerts.send_pending``); a dead channel delays nothing else (its own job);
- ``ping`` (L, every HEARTBEAT_PING_SECONDS, when HEARTBEAT_PING_URL is set): the dead-man's
  switch, ``<url>/fail`` when a job failed since the last ping or the database is unreachable
  (it runs while the database is away: that is when the ping matters).

``max_instances=1``, coalescing and a misfire grace stop a slow job from piling up. A job that
raises is recorded as a JOB_ERROR event with how many times in a row it failed (the alert
rules warn at ALERT_JOB_ERRORS) and the scheduler carries on. While the database is
unreachable the jobs that need it wait (the watchdog handles the outage).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

import helios
from helios.closeout import DatabaseWatch
from helios.config import FeedKind, TradingMode
from helios.demo import MomentumDemo
from helios.errors import Fenced
from helios.events import record_event, record_exchange_error
from helios.heartbeat import beat, forget
from helios.leader import Leadership, Takeover
from helios.market.feeds import FeedError, MarketFeed
from helios.reconciliation import ReconcileReport
from helios.signals import SignalOutcome
from jobs.startup import once_the_database_answers, start_reads

log = logging.getLogger("helios.scheduler")
PROCESS_NAME = "scheduler"
STANDBY_NAME = "scheduler-standby"


@dataclass
class Worker:
    """The scheduler's jobs, bound to one Helios instance and one feed."""

    hx: helios.Helios
    feed: MarketFeed
    started_at: datetime = field(init=False)
    last_prices_at: datetime | None = field(default=None, init=False)
    feed_started_at: datetime | None = field(default=None, init=False)
    leadership: Leadership = field(init=False)
    database: DatabaseWatch = field(init=False)
    demo: MomentumDemo | None = field(default=None, init=False)
    active: bool = field(default=False, init=False)  # leading, and the take-over is done
    beat_as_leader: bool = field(default=False, init=False)
    last_trading: list[SignalOutcome] = field(default_factory=list, init=False)
    # each job's failures in a row (JOB_ERROR's ``consecutive``), and whether one failed since
    # the last dead-man's ping
    failures: dict[str, int] = field(default_factory=dict, init=False)
    failed_since_ping: bool = field(default=False, init=False)
    # the trading mode read at start (``run``); None: read it here
    mode: TradingMode | None = None

    def __post_init__(self) -> None:
        self.started_at = self.hx.clock.now()
        self.leadership = Leadership(
            self.hx.db, self.hx.clock, self.hx.settings.leader_lease_seconds
        )
        self.database = DatabaseWatch(self.hx)
        mode = self.mode if self.mode is not None else self.hx.controls.trading_mode()
        if self.hx.settings.demo_signals_wanted(mode):
            self.demo = MomentumDemo(self.hx)

    @property
    def leading(self) -> bool:
        return self.active

    # --- leadership -------------------------------------------------------------------------
    def lead(self) -> bool:
        """Take or renew leadership; on taking it, settle what a previous leader left."""
        was = self.active
        try:
            now_leading = self.leadership.try_lead()
        except Exception as exc:  # the database is failing: keep the role, the watchdog acts
            log.warning("leadership check failed: %s", exc)
            return was
        if now_leading and not was:
            try:
                self.became_leader(self.leadership.takeover)
            except Exception as exc:  # never hold the lead without acting on it
                log.exception("taking over failed: stepping down")
                self.leadership.release()
                self._event(
                    "LEADER_FAILED",
                    f"taking over failed ({type(exc).__name__}: {exc}); stepped down",
                    "ERROR",
                )
                return False
            self.active = True
        elif was and not now_leading:
            self.step_down(self.leadership.lost_reason or "leadership lost to another scheduler")
        return now_leading

    def step_down(self, reason: str) -> None:
        """Stop acting as leader (another scheduler took over, or this one was fenced)."""
        if not self.active:
            return
        self.active = False
        self.leadership.leading = False
        log.error("not leading any more (%s): standing by", reason)
        self._event("LEADER_LOST", f"scheduler {self.leadership.identity}: {reason}", "WARNING")

    def became_leader(self, takeover: Takeover | None = None) -> None:
        """Take over (the claim recorded why, in its own transaction): settle at once the orders
        only the previous leader could still be sending (it is dead or fenced now), the rest
        after their grace; then the feed."""
        identity = self.leadership.identity
        log.info("leading (%s)", identity)
        if takeover is None:  # the claim records a take-over in its own transaction
            self._event("LEADER", f"scheduler {identity} leads")
        previous = takeover.previous if takeover is not None else None
        with self.hx.db.fenced(self.leadership.check):
            self.hx.reconcile_at_start(settle_now_from=previous)
        previous_feed, self.feed = self.feed, self.hx.build_feed()  # from the prices stored last
        self.feed.continue_from(previous_feed)  # the valr feed keeps counting its public calls
        previous_feed.close()
        self.backfill()
        self.feed_started_at = self.hx.clock.now()
        self.database.remember()
        try:  # a day roll missed while no scheduler led: its reports now (queued once)
            self.hx.reports.deliver_due(self.hx.clock.now())
        except Exception:
            log.exception("the reports due could not be queued")

    # --- jobs -------------------------------------------------------------------------------
    def backfill(self) -> dict[str, int]:
        """History at start so a new install can size and check trades at once."""
        settings = self.hx.settings
        days = (
            settings.replay_history_days
            if settings.market_feed is FeedKind.REPLAY
            else settings.sim_backfill_days
        )
        try:
            written = self.hx.market.backfill(self.feed, days)
        except FeedError as exc:
            self.feed_failed(exc)
            self.record_error("backfill", exc)
            return {}
        if written:
            log.info("backfilled history: %s", written)
        return written

    def pull_prices(self) -> dict[str, int]:
        try:
            written = self.hx.market.pull(self.feed)
        except FeedError as exc:
            self.feed_failed(exc)
            raise
        self.last_prices_at = self.hx.clock.now()
        return written

    def feed_failed(self, exc: Exception) -> None:
        """A failed call to the exchange's market data is an exchange error (halt rule)."""
        if self.feed.kind is FeedKind.VALR:
            record_exchange_error(self.hx.db, self.hx.clock.now(), "valr-feed", str(exc))

    def trade(self) -> list[SignalOutcome]:
        if not self.leadership.still_leading():
            log.warning("not the leader any more: the trading pass is skipped")
            return []
        self.last_trading = self.hx.signals.process_pending(
            keep_going=self.leadership.still_leading
        )
        return self.last_trading

    def demo_signals(self) -> None:
        if self.demo is not None and self.hx.controls.trading_mode() is TradingMode.PAPER:
            self.demo.run()

    def monitor(self) -> None:
        self.hx.positions.monitor_positions()

    def snapshot(self) -> None:
        self.hx.take_snapshot()

    def day_roll(self) -> None:
        snapshot = self.hx.take_snapshot()
        self._event(
            "DAY_ROLL",
            f"trading day rolled ({self.hx.settings.trading_day_timezone}): start-of-day equity "
            f"R{snapshot.start_of_day_equity:,.2f} (the equity at the day's start, rebuilt from "
            "the ledger and the last prices before it)",
        )
        # the day's report, and on Mondays the week's (info alerts; docs/reports.md)
        self.hx.reports.deliver_due(self.hx.clock.now())

    def watchdog(self) -> None:
        """The database first (probe, journal), then the automatic halts (leader only) and the
        positions a killed process left OPENING or CLOSING: reconcile settles those older than
        its grace (a take-over happens well within it); under a halt it sends no opening
        order (one the exchange never saw ends FAILED)."""
        if not self.database.tick(leading=self.leading):
            return
        self.guarded(self.leader_watch)()

    def leader_watch(self) -> None:
        self.hx.halts.check(feed_started_at=self.feed_started_at)
        self.hx.positions.reconcile()  # sends no opening order under a halt

    def reconcile_live(self) -> ReconcileReport | None:
        """In LIVE: one reconciliation pass (``hx.reconciliation.check``); in PAPER nothing (the
        mode is read on every pass, so a switch needs no restart)."""
        if self.hx.controls.trading_mode() is not TradingMode.LIVE:
            return None
        report = self.hx.reconciliation.check()
        if not report.matches:
            log.warning("live reconciliation: %s", report.message)
        return report

    def heartbeat(self) -> None:
        if self.leading and not self.beat_as_leader:
            forget(self.hx.db, STANDBY_NAME, self.leadership.identity)
            self.beat_as_leader = True
        beat(
            self.hx.db,
            PROCESS_NAME if self.leading else STANDBY_NAME,
            self.hx.clock.now(),
            self.started_at,
            {
                "role": "leader" if self.leading else "standby",
                "identity": self.leadership.identity,
                "feed": self.hx.settings.market_feed.value,
                "last_prices_at": self.last_prices_at.isoformat() if self.last_prices_at else None,
                "feed_started_at": (
                    self.feed_started_at.isoformat() if self.feed_started_at else None
                ),
                "demo_signals": self.demo is not None,
            },
        )

    def prune(self) -> None:
        self.hx.market.prune_intraday()

    def send_alerts(self) -> None:
        self.hx.alerts.send_pending()

    def ping(self) -> str | None:
        """The dead-man's switch (leader only; runs while the database is away too)."""
        if not self.leading:
            return None
        failed, self.failed_since_ping = self.failed_since_ping or self.database.down, False
        return self.hx.alerts.ping(failed)

    # --- plumbing ---------------------------------------------------------------------------
    def guarded(self, job: Callable[[], Any], *, leader_only: bool = True) -> Callable[[], Any]:
        """Run ``job`` only while the database answers and (``leader_only``) this process
        leads: a standby and an outage leave it idle. A leader-only job's writes are fenced
        (``helios.leader``): when another scheduler has taken over, the first write raises
        ``Fenced`` before it changes anything, and this process stands by."""

        def run() -> Any:
            if self.database.down or (leader_only and not self.leading):
                return None
            if not leader_only:
                return job()
            try:
                with self.hx.db.fenced(self.leadership.check):
                    return job()
            except Fenced as exc:
                self.step_down(str(exc))
                return None

        run.__name__ = getattr(job, "__name__", "job")
        return run

    def _event(self, kind: str, message: str, severity: str = "INFO") -> None:
        try:
            with self.hx.db.write() as session:
                record_event(
                    session,
                    ts=self.hx.clock.now(),
                    kind=kind,
                    severity=severity,
                    actor=PROCESS_NAME,
                    message=message,
                )
        except Exception:
            log.exception("could not record %s", kind)

    def succeeded(self, job: str) -> None:
        self.failures.pop(job, None)

    def record_error(self, job: str, exc: BaseException) -> None:
        log.error("job %s failed: %s", job, exc)
        self.failures[job] = count = self.failures.get(job, 0) + 1
        self.failed_since_ping = True
        try:
            with self.hx.db.write() as session:
                record_event(
                    session,
                    ts=self.hx.clock.now(),
                    kind="JOB_ERROR",
                    severity="ERROR",
                    actor=PROCESS_NAME,
                    message=f"job {job} failed: {type(exc).__name__}: {exc}"[:2000],
                    details={"job": job, "consecutive": count},
                )
        except Exception:  # the database itself may be the problem: the log line stays
            log.exception("could not record the failure of job %s", job)

    def stop(self) -> None:
        self.leadership.release()
        self.feed.close()


def build_scheduler(worker: Worker) -> BlockingScheduler:
    settings = worker.hx.settings
    scheduler = BlockingScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    now = datetime.now().astimezone()
    leader = worker.guarded

    def up(job: Callable[[], Any]) -> Callable[[], Any]:
        return worker.guarded(job, leader_only=False)

    jobs: list[tuple[str, Callable[[], Any], float, timedelta]] = [
        ("leader", up(worker.lead), settings.leader_poll_seconds, timedelta(0)),
        ("prices", leader(worker.pull_prices), settings.price_interval_seconds, timedelta(0)),
        ("trading", leader(worker.trade), settings.trading_interval_seconds, timedelta(seconds=1)),
        ("monitor", leader(worker.monitor), settings.monitor_interval_seconds, timedelta(0)),
        ("watchdog", worker.watchdog, settings.watchdog_interval_seconds, timedelta(seconds=1)),
        ("heartbeat", up(worker.heartbeat), settings.heartbeat_interval_seconds, timedelta(0)),
        (
            "snapshot",
            leader(worker.snapshot),
            settings.snapshot_interval_seconds,
            timedelta(seconds=2),
        ),
        ("prune", leader(worker.prune), 3600.0, timedelta(minutes=5)),
        ("alerts", up(worker.send_alerts), settings.alert_send_interval_seconds, timedelta(0)),
        (
            "live_reconcile",
            leader(worker.reconcile_live),
            settings.live_reconcile_seconds,
            timedelta(seconds=10),
        ),
    ]
    if settings.heartbeat_ping_url is not None:
        jobs.append(("ping", worker.ping, settings.heartbeat_ping_seconds, timedelta(seconds=5)))
    if worker.demo is not None:
        jobs.append(
            (
                "demo",
                leader(worker.demo_signals),
                settings.demo_signal_interval_seconds,
                timedelta(seconds=5),
            )
        )
    for job_id, func, seconds, delay in jobs:
        scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            next_run_time=now + delay,
            replace_existing=True,
        )
    scheduler.add_job(
        leader(worker.day_roll),
        CronTrigger(hour=0, minute=0, second=5, timezone=settings.trading_day_timezone),
        id="day_roll",
        name="day_roll",
        replace_existing=True,
        misfire_grace_time=3600,
    )

    def on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR and event.exception is not None:
            worker.record_error(event.job_id, event.exception)
        elif event.code == EVENT_JOB_EXECUTED:
            worker.succeeded(event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)

    scheduler.add_listener(on_event, EVENT_JOB_ERROR | EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    return scheduler


def stopper(scheduler: BaseScheduler) -> Callable[[int | None, FrameType | None], None]:
    """The scheduler's stop (the SIGINT/SIGTERM handler, and ``run``'s ``stop``), done once.
    A second signal can arrive while the first waits for the running jobs (``helios up`` sends
    SIGTERM after the terminal's SIGINT; Ctrl-C pressed twice): it is logged and ignored, since
    a second ``shutdown`` would raise ``SchedulerNotRunningError`` through the first. The lock
    is taken without blocking, so the handler never waits on itself in the main thread."""
    once = threading.Lock()

    def shutdown(signum: int | None, _frame: FrameType | None) -> None:
        name = f"signal {signal.Signals(signum).name}" if signum is not None else "stop"
        if not once.acquire(blocking=False):
            log.info("%s: the scheduler is already stopping", name)
            return
        log.info("%s: stopping the scheduler", name)
        scheduler.shutdown(wait=True)

    return shutdown


def run(hx: helios.Helios, stop: threading.Event | None = None) -> None:
    """Run the jobs until SIGINT/SIGTERM (or ``stop`` is set); lead or stand by."""
    mode, feed = once_the_database_answers(hx, lambda: start_reads(hx), stop)
    worker = Worker(hx, feed, mode=mode)  # reads nothing more: the reads are above
    scheduler = build_scheduler(worker)

    shutdown = stopper(scheduler)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, shutdown)
        signal.signal(signal.SIGTERM, shutdown)
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), shutdown(None, None)), daemon=True).start()
    worker._event(
        "SCHEDULER_START",
        f"scheduler started (feed {hx.settings.market_feed.value}, database "
        f"{hx.db.display_url}, demo signals {'on' if worker.demo else 'off'})",
    )
    log.info(
        "scheduler running: feed=%s database=%s mode=%s demo=%s identity=%s",
        hx.settings.market_feed.value,
        hx.db.display_url,
        mode.value,
        "on" if worker.demo else "off",
        worker.leadership.identity,
    )
    try:
        scheduler.start()
    finally:
        worker.stop()
        worker._event("SCHEDULER_STOP", "scheduler stopped")
        log.info("scheduler stopped")


def main() -> int:
    from helios.launch import connect_or_exit
    from helios.logs import configure_logging

    hx = connect_or_exit(reconcile=False)  # the leader reconciles when it takes over
    configure_logging(hx.settings.log_level, hx.settings.project_path(hx.settings.log_file))
    run(hx)
    hx.close()
    return 0
