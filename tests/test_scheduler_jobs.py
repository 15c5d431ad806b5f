"""The scheduler's jobs, called directly (no timers): thin calls into helios that keep working."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import helios
import jobs.startup as startup
from helios.db.models import Event, Heartbeat, PortfolioSnapshot
from helios.market.feeds import FeedError, ManualFeed
from jobs.scheduler import Worker, build_scheduler


def test_the_snapshot_job_stores_equity_and_the_risk_budget_in_use(priced_hx: helios.Helios):
    worker = Worker(priced_hx, ManualFeed())
    worker.snapshot()
    with priced_hx.db.read() as session:
        snapshot = session.scalars(select(PortfolioSnapshot)).one()
    assert snapshot.equity == 100000
    assert snapshot.mode == "PAPER"
    # no open positions: nothing at risk
    assert snapshot.risk_used == 0


def test_the_heartbeat_job_writes_one_row_that_moves_forward(hx: helios.Helios, clock):
    worker = Worker(hx, ManualFeed())
    worker.heartbeat()
    clock.advance(seconds=10)
    worker.heartbeat()
    with hx.db.read() as session:
        rows = list(session.scalars(select(Heartbeat)))
    assert len(rows) == 1
    assert rows[0].last_beat_at == clock.now()


class BrokenFeed(ManualFeed):
    def poll(self, pair, now, last):  # type: ignore[no-untyped-def]
        raise FeedError(f"{pair}: exchange unreachable")


def test_a_failing_job_is_recorded_as_an_event_and_the_scheduler_keeps_its_jobs(
    hx: helios.Helios,
):
    worker = Worker(hx, BrokenFeed())
    scheduler = build_scheduler(worker)
    assert {job.id for job in scheduler.get_jobs()} == {
        "leader",
        "prices",
        "trading",
        "monitor",
        "watchdog",
        "heartbeat",
        "snapshot",
        "prune",
        "day_roll",
        "live_reconcile",  # always scheduled; it does nothing unless the mode is LIVE
        "alerts",  # the outbox's delivery, in every scheduler (a channel is claimed per pass)
    }  # no "demo": the manual feed does not run the demo signals; no "ping": no URL set
    try:
        worker.pull_prices()
    except FeedError as exc:
        worker.record_error("prices", exc)
    with hx.db.read() as session:
        events = list(session.scalars(select(Event).where(Event.kind == "JOB_ERROR")))
    assert len(events) == 1
    assert "exchange unreachable" in events[0].message
    assert events[0].severity == "ERROR"


def test_the_prune_job_keeps_daily_candles(priced_hx: helios.Helios, clock):
    clock.advance(timedelta(days=40))
    priced_hx.market.set_price("BTCZAR", "1250000")
    Worker(priced_hx, ManualFeed()).prune()
    minute = priced_hx.market.candles("BTCZAR", "1m")
    daily = priced_hx.market.candles("BTCZAR", "1d")
    assert len(minute) == 1  # the 40-day-old minute candle is gone, today's stays
    assert len(daily) == 2


def test_the_monitor_job_stops_out_a_position_whose_stop_was_crossed(database_url: str, clock):
    from factories import SEED_REASONING, SEED_TRADE, connect_book, give_market

    with connect_book(database_url, clock) as hx:
        give_market(hx)
        opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
        clock.advance(seconds=30)
        hx.market.set_price("BTCZAR", "1175000")
        Worker(hx, ManualFeed()).monitor()
        [closed] = hx.positions.closed_positions().to_dict("records")
        assert (closed["position_id"], closed["status"]) == (opened["position_id"], "STOPPED_OUT")


def test_the_day_roll_job_starts_the_new_trading_day_at_midnight_in_johannesburg(
    database_url: str, clock
):
    """At 00:00:05 SAST (22:00:05 UTC) the job rolls the trading day: its start-of-day equity is
    the equity of the last snapshot before midnight (the ledger's rule), not the morning's."""
    from factories import SEED_REASONING, SEED_TRADE, connect_book, give_market

    from helios.db.models import PortfolioState

    def state() -> PortfolioState:
        with hx.db.read() as session:
            return session.scalars(select(PortfolioState)).one()

    with connect_book(database_url, clock) as hx:
        give_market(hx)
        hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
        worker = Worker(hx, ManualFeed())
        worker.day_roll()
        morning = state()
        # the clock starts at 10:00 SAST: 23:59 SAST, BTC +1%, the minute snapshot
        clock.advance(timedelta(hours=13, minutes=59))
        hx.market.set_price("BTCZAR", "1212000")
        worker.snapshot()
        at_midnight = hx.ledger.valuation().equity
        assert at_midnight != morning.start_of_day_equity
        # 00:00:05 SAST: BTC +2% more, then the roll
        clock.advance(timedelta(seconds=65))
        hx.market.set_price("BTCZAR", "1236000")
        worker.day_roll()
        rolled = state()
        assert rolled.trading_day == morning.trading_day + timedelta(days=1)
        assert rolled.start_of_day_equity == at_midnight
        assert hx.ledger.valuation().daily_pnl > 0  # the move after midnight is today's
        with hx.db.read() as session:
            events = list(session.scalars(select(Event).where(Event.kind == "DAY_ROLL")))
        assert len(events) == 2 and "Africa/Johannesburg" in events[-1].message


def test_the_day_roll_job_queues_the_days_report(priced_hx: helios.Helios, clock):
    """The scheduler's day roll (00:00:05 in Johannesburg) queues the report of the day that
    just ended (hx.reports.deliver_due); a second roll, or a new leader's catch-up, not again."""
    from helios.clock import trading_day_start
    from helios.db.models import Alert

    worker = Worker(priced_hx, ManualFeed())
    worker.snapshot()  # Thursday 26 November 2026, 10:00 in Johannesburg
    zone = priced_hx.settings.trading_day_timezone
    friday = trading_day_start(clock.now().date() + timedelta(days=1), zone)
    clock.advance(seconds=(friday - clock.now()).total_seconds() + 5)
    worker.day_roll()
    worker.day_roll()
    with priced_hx.db.read() as session:
        keys = list(session.scalars(select(Alert.dedup_key).where(Alert.kind == "REPORT_DAILY")))
    assert keys == ["report:daily:2026-11-26"]


def _refused() -> OperationalError:
    return OperationalError("SELECT 1", None, ConnectionRefusedError("connection refused"))


def test_the_start_waits_out_an_unavailable_database_and_no_more(
    hx: helios.Helios, monkeypatch
) -> None:
    """The start-up's reads, retried while the database is unavailable (a server restarting),
    return once it answers; a mistake (a missing table) or any other error propagates at once,
    since waiting would not mend it."""
    monkeypatch.setattr(startup, "START_RETRY_FIRST", 0.01)
    tries: list[int] = []

    def down_twice() -> str:
        tries.append(1)
        if len(tries) <= 2:
            raise _refused()
        return "read"

    assert startup.once_the_database_answers(hx, down_twice, None) == "read"
    assert len(tries) == 3

    for error in (
        OperationalError("SELECT x FROM y", None, Exception("no such table: y")),
        ValueError("a bug"),
    ):
        tries.clear()

        def mistaken(error: Exception = error) -> str:
            tries.append(1)
            raise error

        with pytest.raises(type(error)):
            startup.once_the_database_answers(hx, mistaken, None)
        assert len(tries) == 1, error

    def down() -> str:
        raise _refused()

    stopping = threading.Event()
    stopping.set()  # a stop while waiting ends the wait with the outage's error
    with pytest.raises(OperationalError):
        startup.once_the_database_answers(hx, down, stopping)
