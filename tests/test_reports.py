"""``hx.reports`` on SQLite and PostgreSQL: a week of real trading (positions opened through the
risk checks, snapshots taken by the ledger as the scheduler would), then the reports the day roll
queues as alerts.

- the daily report of a trading day reads that day in Africa/Johannesburg: its last snapshot
  (not the next day's roll), the closes of the days before, the positions open at its end, the
  day's closes and the sizes opened beside their volatility;
- ``deliver_due`` at the day roll queues one daily alert; on a Monday also the weekly one with
  the equity chart attached; a second call (or a second process) queues nothing more;
- ``ALERT_REPORTS=false`` queues nothing, nor does ``ALERT_MIN_SEVERITY=warning``; a day before
  the first snapshot is skipped; a bad day is refused naming the field.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select, update

import helios
from helios.clock import ManualClock, trading_day_start
from helios.db.models import Alert, AlertDelivery, PortfolioSnapshot, Position
from helios.errors import InvalidInput
from helios.money import fmt_zar
from tests.factories import connect_book, give_market
from tests.test_report_chart import PNG_MAGIC, ends, line_rows

D = Decimal
ZONE = "Africa/Johannesburg"
MONDAY = date(2026, 11, 23)
CHANNEL = "json://127.0.0.1:9/reports"  # never sent to here: the tests only queue


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """``hour:minute`` of trading day ``day`` in Johannesburg, as UTC."""
    return trading_day_start(day, ZONE) + timedelta(hours=hour, minutes=minute, seconds=second)


def day_roll(day: date) -> datetime:
    """The scheduler's day roll of ``day``: 00:00:05 local."""
    return local(day, 0, 0, 5)


class Week:
    """Monday 23 to Sunday 29 November 2026: BTC opened Monday and closed Thursday at its
    target, ETH opened Thursday and still open; prices rise 1% a day; two snapshots a day
    (10:00 and 23:59 local); Wednesday one snapshot over the daily loss limit."""

    def __init__(self, hx: helios.Helios, clock: ManualClock) -> None:
        self.hx, self.clock = hx, clock
        self.closes: dict[date, PortfolioSnapshot] = {}
        self.btc = self.eth = 0

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def prices(self, day: date, hour: int) -> None:
        step = D(1) + D("0.01") * ((day - MONDAY).days + D(hour) / 24)
        self.hx.market.set_price("BTCZAR", D(1_200_000) * step)
        self.hx.market.set_price("ETHZAR", D(60_000) * step)

    def open(self, pair: str, size: float) -> int:
        give_market(self.hx, [pair])  # the volatility estimate the sizing sees
        opened = self.hx.positions.open_position(pair, "BUY", {"position_size_zar": size})
        assert opened["success"], opened
        return int(opened["position_id"])

    def run(self) -> None:
        for offset in range(7):
            day = MONDAY + timedelta(days=offset)
            self.at(local(day, 10))
            if offset == 0:
                self.btc = self.open("BTCZAR", 900.0)
            if offset == 3:
                self.eth = self.open("ETHZAR", 700.0)
            self.prices(day, 10)
            if offset == 3:
                closed = self.hx.positions.close_position(self.btc, "TAKE_PROFIT")
                assert closed["success"], closed
            opening = self.hx.take_snapshot()
            if offset == 0:
                self.first = opening  # the week's first snapshot: its starting equity
            self.at(local(day, 23, 59))
            self.prices(day, 23)
            self.closes[day] = self.hx.take_snapshot()
            if offset == 2:  # a moment over the daily loss limit (the market, faster than a halt)
                self.at(local(day, 23, 59, 30))
                with self.hx.db.write() as session:
                    row = session.get(PortfolioSnapshot, self.closes[day].id)
                    assert row is not None
                    session.add(
                        PortfolioSnapshot(
                            **{
                                c.name: getattr(row, c.name)
                                for c in PortfolioSnapshot.__table__.columns
                                if c.name not in ("id", "ts", "daily_loss")
                            },
                            ts=self.clock.now(),
                            daily_loss=D("0.062"),
                        )
                    )
                    self.closes[day] = row


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(local(MONDAY, 10))


@pytest.fixture
def week(database_url: str, clock: ManualClock) -> Iterator[Week]:
    with connect_book(database_url, clock, alert_urls=CHANNEL) as hx:
        trading = Week(hx, clock)
        trading.run()
        yield trading


def reports(hx: helios.Helios) -> list[Alert]:
    with hx.db.read() as session:
        return list(
            session.scalars(select(Alert).where(Alert.kind.like("REPORT_%")).order_by(Alert.id))
        )


def test_the_daily_report_reads_its_trading_day(week: Week):
    hx, thursday = week.hx, MONDAY + timedelta(days=3)
    week.at(day_roll(thursday + timedelta(days=1)))  # Friday 00:00:05: the roll's own snapshot
    week.prices(thursday + timedelta(days=1), 0)
    roll = hx.take_snapshot()
    close = week.closes[thursday]
    assert roll.equity != close.equity

    report = hx.reports.daily(thursday)
    lines = report.text.splitlines()
    assert report.title == "Helios daily report Thu 26 Nov 2026"
    assert "Trading day Thu 26 Nov 2026 (Africa/Johannesburg), complete, PAPER" in lines
    assert f"Portfolio value: {fmt_zar(close.equity)}" in lines
    trend = [f"  {d:%a} {d.day} Nov: {fmt_zar(week.closes[d].equity)}" for d in week.closes]
    at = lines.index(trend[0])
    assert lines[at : at + 4] == trend[:4]  # Monday to Thursday's closes, not Friday's
    assert lines[at + 4] == ""
    assert any(line.startswith(f"Daily P&L: +{fmt_zar(close.daily_pnl)}") for line in lines)
    assert f"  ETHZAR BUY #{week.eth}: margin R700.00, notional at entry R700.00" in lines
    assert not any(f"#{week.btc}:" in line for line in lines)  # closed during the day
    btc = hx.positions.position_history(week.btc)["position"]
    pnl = D(str(btc["realized_pnl"]))
    assert pnl > 0
    won = f"Win rate: 100.00% today (1 of 1 closed won, realized +{fmt_zar(pnl)})"
    assert any(line.startswith(won) for line in lines), lines
    sized = hx.metrics.sizes_and_volatility(local(thursday, 0), local(thursday, 23, 59))
    vol = float(sized["daily_vol"].iloc[0])
    assert (
        f"  ETHZAR: 1 opened, average margin R700.00, notional R700.00, at {vol:.2%} daily "
        "volatility" in lines
    )
    assert lines[0] == "Checks: every limit held (daily loss, drawdown, leverage)."
    assert report.png is not None and report.png.startswith(PNG_MAGIC)

    wednesday = hx.reports.daily(thursday - timedelta(days=1), chart=False)
    assert wednesday.png is None
    assert wednesday.text.splitlines()[0] == "Checks: OVER THE LIMIT: daily loss."


def test_the_day_roll_queues_the_daily_report_once(week: Week):
    hx = week.hx
    friday = MONDAY + timedelta(days=4)
    queued = hx.reports.deliver_due(day_roll(friday))
    assert len(queued) == 1
    (alert,) = reports(hx)
    assert alert.id == queued[0]
    assert (alert.kind, alert.severity, alert.dedup_key) == (
        "REPORT_DAILY",
        "info",
        "report:daily:2026-11-26",
    )
    assert alert.title == "Helios daily report Thu 26 Nov 2026"
    assert alert.body == hx.reports.daily(date(2026, 11, 26), chart=False).text
    assert alert.attachment is None and alert.attachment_name is None
    with hx.db.read() as session:
        deliveries = session.scalars(
            select(AlertDelivery).where(AlertDelivery.alert_id == alert.id)
        ).all()
    assert [(d.status, d.channel) for d in deliveries] == [("PENDING", hx.alerts.channel_ids[0])]

    assert hx.reports.deliver_due(day_roll(friday)) == []
    assert hx.reports.deliver_due(day_roll(friday) + timedelta(hours=3)) == []  # a late call
    assert len(reports(hx)) == 1


def test_on_monday_the_weekly_report_comes_with_the_chart(week: Week, database_url: str):
    hx = week.hx
    monday = MONDAY + timedelta(days=7)
    queued = hx.reports.deliver_due(day_roll(monday))
    assert len(queued) == 2
    daily, weekly = reports(hx)
    assert daily.dedup_key == "report:daily:2026-11-29" and daily.attachment is None
    assert (weekly.kind, weekly.dedup_key) == ("REPORT_WEEKLY", "report:weekly:2026-11-29")
    assert weekly.title == "Helios weekly report 2026-11-23 to 2026-11-29"
    assert weekly.attachment_name == "equity-2026-11-23_2026-11-29.png"
    png = weekly.attachment
    assert png is not None and png.startswith(PNG_MAGIC)
    assert Image.open(io.BytesIO(png)).size == (800, 360)
    left, right = ends(line_rows(png))
    assert right < left  # the week's equity rose: the line ends higher than it starts

    review = hx.metrics.review(local(MONDAY, 0), local(monday, 0) - timedelta(microseconds=1))
    lines = weekly.body.splitlines()
    assert review["risk_limit_violations"]["daily_loss_limit_pct"] == 1
    assert "  daily loss over 5.00%: 1 snapshot(s)" in lines
    assert lines[0] == "Checks: LIMITS VIOLATED: daily loss (1 snapshot(s))."
    assert "Exits (1 closed position(s)):" in lines and "  Take profit: 1 (100.00%)" in lines
    last = week.closes[monday - timedelta(days=1)]
    equity = f"Equity: {fmt_zar(week.first.equity)} -> {fmt_zar(last.equity)}, up "
    assert any(line.startswith(equity) for line in lines), lines
    assert week.first.equity < last.equity

    # again, and from a second process on the same database: nothing more is queued
    assert hx.reports.deliver_due(day_roll(monday)) == []
    with connect_book(database_url, week.clock, alert_urls=CHANNEL) as other:
        assert other.reports.deliver_due(day_roll(monday)) == []
    assert len(reports(hx)) == 2


@pytest.mark.parametrize("setting", [{"alert_reports": False}, {"alert_min_severity": "warning"}])
def test_reports_switched_off_queue_nothing(database_url: str, clock: ManualClock, setting):
    with connect_book(database_url, clock, **setting) as hx:
        hx.take_snapshot()
        monday = MONDAY + timedelta(days=7)
        clock.set(day_roll(monday))
        assert hx.reports.deliver_due() == []
        assert reports(hx) == []


def test_a_day_before_the_first_snapshot_is_skipped(database_url: str, clock: ManualClock):
    with connect_book(database_url, clock) as hx:
        assert hx.reports.deliver_due(day_roll(MONDAY + timedelta(days=1))) == []  # none at all
        clock.set(day_roll(MONDAY + timedelta(days=1)))
        hx.take_snapshot()  # the first snapshot: Tuesday's
        assert hx.reports.deliver_due(day_roll(MONDAY + timedelta(days=1))) == []  # Monday: none
        assert len(hx.reports.deliver_due(day_roll(MONDAY + timedelta(days=2)))) == 1


def test_an_empty_day_and_a_bad_day(database_url: str, clock: ManualClock):
    with connect_book(database_url, clock) as hx:
        today = hx.reports.daily()  # no snapshot yet: today only, and it says so
        assert today.text.splitlines()[0] == "Checks: no snapshot in the day, nothing to judge."
        assert today.png is None
        with pytest.raises(InvalidInput) as caught:
            hx.reports.daily(MONDAY - timedelta(days=1))
        assert caught.value.field == "day"
        hx.take_snapshot()
        for bad in (MONDAY + timedelta(days=1), "23-11-2026", MONDAY - timedelta(days=1)):
            with pytest.raises(InvalidInput) as caught:
                hx.reports.weekly(bad)
            assert caught.value.field == "week_ending"
            assert "from 2026-11-23 (the first snapshot's trading day) to 2026-11-23" in str(
                caught.value
            )
        with pytest.raises(InvalidInput) as caught:
            hx.reports.weekly(MONDAY, first=MONDAY + timedelta(days=1))
        assert caught.value.field == "first"
        review = hx.reports.weekly(MONDAY, first=MONDAY - timedelta(days=30))
        assert review.period.days == 31 and review.png is not None


def test_positions_open_at_the_end_of_a_day_not_now(week: Week):
    """Thursday's report lists the position open at Thursday's end even after it closed."""
    hx = week.hx
    week.at(local(MONDAY + timedelta(days=8), 12))
    week.prices(MONDAY + timedelta(days=8), 12)
    assert hx.positions.close_position(week.eth, "CLOSED")["success"]
    text = hx.reports.daily(MONDAY + timedelta(days=3), chart=False).text
    assert f"#{week.eth}:" in text
    with hx.db.write() as session:  # a FAILED open never held anything
        session.execute(update(Position).where(Position.id == week.eth).values(status="FAILED"))
    assert f"#{week.eth}:" not in hx.reports.daily(MONDAY + timedelta(days=3), chart=False).text
