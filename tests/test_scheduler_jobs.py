"""The scheduler's jobs, called directly (no timers): thin calls into helios that keep working."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import helios
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
    }  # no "demo": the manual feed does not run the demo signals
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
