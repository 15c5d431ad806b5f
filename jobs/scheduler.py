"""The unattended scheduler: an APScheduler BlockingScheduler in its own process.

Jobs (intervals from configuration, schedule kept in code: STACK_NOTES section 2):

- ``prices``: one poll of the market feed, stored through ``hx.market.pull``;
- ``monitor``: one stop-monitor pass (``hx.positions.monitor_positions``): stop loss, take
  profit, trailing stop, timeout;
- ``snapshot``: ``hx.ledger.take_snapshot`` (marks to market, raises the peak, rolls the day);
- ``heartbeat``: a row the dashboard reads to show the scheduler is alive;
- ``prune``: drops intraday candles older than the retention.

Every job is a thin call into ``helios``. A job that raises is recorded as an ERROR event and the
scheduler carries on. ``max_instances=1`` and coalescing stop a slow job from piling up.
At start, ``helios.connect`` has already reconciled positions a crash left between two states.
Issue #6 adds the trading loop, the day roll, halts and leader election.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler

import helios
from helios.config import FeedKind
from helios.events import record_event
from helios.heartbeat import beat
from helios.market.feeds import FeedError, MarketFeed

log = logging.getLogger("helios.scheduler")
PROCESS_NAME = "scheduler"


@dataclass
class Worker:
    """The scheduler's jobs, bound to one Helios instance and one feed."""

    hx: helios.Helios
    feed: MarketFeed
    started_at: datetime = field(init=False)
    last_prices_at: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.started_at = self.hx.clock.now()

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
            self.record_error("backfill", exc)
            return {}
        if written:
            log.info("backfilled history: %s", written)
        return written

    def pull_prices(self) -> dict[str, int]:
        written = self.hx.market.pull(self.feed)
        self.last_prices_at = self.hx.clock.now()
        return written

    def monitor(self) -> None:
        self.hx.positions.monitor_positions()

    def snapshot(self) -> None:
        self.hx.take_snapshot()

    def heartbeat(self) -> None:
        beat(
            self.hx.db,
            PROCESS_NAME,
            self.hx.clock.now(),
            self.started_at,
            {
                "feed": self.hx.settings.market_feed.value,
                "last_prices_at": self.last_prices_at.isoformat() if self.last_prices_at else None,
            },
        )

    def prune(self) -> None:
        self.hx.market.prune_intraday()

    def record_error(self, job: str, exc: BaseException) -> None:
        log.error("job %s failed: %s", job, exc)
        try:
            with self.hx.db.write() as session:
                record_event(
                    session,
                    ts=self.hx.clock.now(),
                    kind="JOB_ERROR",
                    severity="ERROR",
                    actor=PROCESS_NAME,
                    message=f"job {job} failed: {type(exc).__name__}: {exc}"[:2000],
                )
        except Exception:  # the database itself may be the problem: the log line stays
            log.exception("could not record the failure of job %s", job)


def build_scheduler(worker: Worker) -> BlockingScheduler:
    settings = worker.hx.settings
    scheduler = BlockingScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    now = datetime.now().astimezone()
    jobs: list[tuple[str, Any, float, timedelta]] = [
        ("prices", worker.pull_prices, settings.price_interval_seconds, timedelta(0)),
        ("monitor", worker.monitor, settings.monitor_interval_seconds, timedelta(seconds=1)),
        ("heartbeat", worker.heartbeat, settings.heartbeat_interval_seconds, timedelta(0)),
        ("snapshot", worker.snapshot, settings.snapshot_interval_seconds, timedelta(seconds=2)),
        ("prune", worker.prune, 3600.0, timedelta(minutes=5)),
    ]
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

    def on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR and event.exception is not None:
            worker.record_error(event.job_id, event.exception)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)

    scheduler.add_listener(on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def run(hx: helios.Helios, stop: threading.Event | None = None) -> None:
    """Backfill, then run the jobs until SIGINT/SIGTERM (or ``stop`` is set)."""
    worker = Worker(hx, hx.build_feed())
    worker.backfill()
    scheduler = build_scheduler(worker)

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping the scheduler", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, shutdown)
        signal.signal(signal.SIGTERM, shutdown)
    if stop is not None:
        threading.Thread(
            target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
        ).start()
    with hx.db.write() as session:
        record_event(
            session,
            ts=hx.clock.now(),
            kind="SCHEDULER_START",
            actor=PROCESS_NAME,
            message=f"scheduler started (feed {hx.settings.market_feed.value}, "
            f"database {hx.db.display_url})",
        )
    log.info(
        "scheduler running: feed=%s database=%s mode=%s",
        hx.settings.market_feed.value,
        hx.db.display_url,
        hx.controls.trading_mode().value,
    )
    try:
        scheduler.start()
    finally:
        worker.feed.close()
        with hx.db.write() as session:
            record_event(
                session,
                ts=hx.clock.now(),
                kind="SCHEDULER_STOP",
                actor=PROCESS_NAME,
                message="scheduler stopped",
            )
        log.info("scheduler stopped")


def main() -> int:
    from helios.cli import configure_logging, connect_or_exit

    hx = connect_or_exit()
    configure_logging(hx.settings.log_level)
    run(hx)
    hx.close()
    return 0
