"""``hx.reports``: the daily and weekly reports, read once and shown everywhere.

- ``daily(day)``: the seed's daily checks for one trading day (default: today so far);
- ``weekly(week_ending, first=None)``: the seed's weekly checks over the seven trading days
  ending ``week_ending`` (default: today), or from ``first`` (the Review page's period),
  with the equity curve as a PNG; ``weekly_review`` the same period and ``hx.metrics.review``
  over it (the weekly notebook's figures);
- ``deliver_due(now)``: at the day roll, queue as alerts (``hx.alerts.record``) the daily report
  of the trading day that just ended and, when the new day is a Monday, the weekly report of the
  seven days before (Monday to Sunday) with its chart attached.

The rules: trading days are in ``TRADING_DAY_TIMEZONE`` (as the day roll and the daily loss
limit count them); the statistics are ``hx.metrics.review``'s, never computed again here; the
figures are read by ``helios.reports.reads`` and written out by the pure ``text`` and ``chart``.
Delivery is idempotent: each report's alert has the dedup key ``report:<kind>:<day>`` (the
outbox queues a key once, and a key already queued is not composed again), so calling
``deliver_due`` twice, from two schedulers or after a restart, queues each report once.
``ALERT_REPORTS=false`` queues nothing; a report below ``ALERT_MIN_SEVERITY`` (they are info)
is not queued either. A day before the first snapshot has nothing to report and is skipped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Protocol

from helios.alerts.rules import INFO, Alert
from helios.clock import Clock, trading_day
from helios.config import Settings
from helios.db.engine import Database
from helios.errors import InvalidInput
from helios.reports import reads
from helios.reports.chart import equity_png
from helios.reports.figures import (
    DAILY,
    TREND_DAYS,
    WEEKLY,
    DailyFigures,
    Limits,
    Period,
    Report,
    WeeklyFigures,
    checked_day,
    parse_day,
    period_of,
    sizing_by_pair,
    trades_of,
    weekly_figures,
)
from helios.reports.text import daily_text, daily_title, weekly_text, weekly_title
from helios.risk.limits import RiskLimits

MICROSECOND = timedelta(microseconds=1)


class Review(Protocol):
    """What the reports need of ``hx.metrics``."""

    def review(self, start: Any, end: Any = None) -> dict[str, Any]: ...

    def sizes_and_volatility(self, start: Any, end: Any = None, limit: int = 500) -> Any: ...


class Recorder(Protocol):
    """What the reports need of ``hx.alerts``."""

    policy: Any

    def record(self, alert: Alert, *, force: bool = False) -> int | None: ...


class LimitsInForce(Protocol):
    def get_limits(self) -> RiskLimits: ...


class Reports:
    """The daily and weekly reports (``hx.reports``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        metrics: Review,
        alerts: Recorder,
        limits: LimitsInForce,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._alerts = alerts
        self._limits = limits  # hx.risk.limit_store
        self._zone = settings.trading_day_timezone

    # --- the reports ----------------------------------------------------------------------
    def today(self) -> date:
        return trading_day(self._clock.now(), self._zone)

    def first_day(self) -> date | None:
        """The trading day of the first snapshot (None: none yet): the earliest report day."""
        with self._db.read() as session:
            first = reads.first_snapshot_at(session)
        return trading_day(first, self._zone) if first is not None else None

    def daily(self, day: date | str | None = None, *, chart: bool = True) -> Report:
        """The daily report of ``day`` (default today, so far); ``chart``: the day's curve."""
        now = self._clock.now()
        chosen = self._checked(day, "day", now)
        return self._daily(chosen, now, chart)

    def weekly(
        self,
        week_ending: date | str | None = None,
        *,
        first: date | str | None = None,
        chart: bool = True,
    ) -> Report:
        """The weekly report of the seven trading days ending ``week_ending`` (default today,
        so far), or of ``first`` to ``week_ending`` when ``first`` is given."""
        now = self._clock.now()
        start, last = self._weekly_days(week_ending, first, now)
        return self._weekly(start, last, now, chart)

    def weekly_review(
        self, week_ending: date | str | None = None, *, first: date | str | None = None
    ) -> tuple[Period, dict[str, Any]]:
        """The period ``weekly`` reports on (same arguments) and ``hx.metrics.review`` over it:
        every figure of the Review page and the weekly report, for one period."""
        now = self._clock.now()
        start, last = self._weekly_days(week_ending, first, now)
        period = period_of(start, last, self._zone, now)
        return period, self._metrics.review(*_inclusive(period))

    def _weekly_days(
        self, week_ending: date | str | None, first: date | str | None, now: datetime
    ) -> tuple[date, date]:
        last = self._checked(week_ending, "week_ending", now)
        start = last - timedelta(days=6)
        if first is not None:
            allowed = f"a date YYYY-MM-DD on or before the period's last day ({last})"
            start = parse_day(first, "first", allowed)
            if start > last:
                raise InvalidInput("first", first, allowed)
        return start, last

    # --- delivery at the day roll ---------------------------------------------------------------
    def deliver_due(self, now: datetime | None = None) -> list[int]:
        """Queue the reports due at ``now`` (default: the clock): the daily report of the trading
        day before ``now``'s and, when ``now``'s day is a Monday, the weekly report of the seven
        days before it. The ids of the alerts queued by this call (none when already queued,
        ``ALERT_REPORTS`` is false or the reports are filtered out)."""
        if not self._settings.alert_reports:
            return []
        moment = now if now is not None else self._clock.now()
        today = trading_day(moment, self._zone)
        ended = today - timedelta(days=1)
        due = [(DAILY, ended)]
        if today.weekday() == 0:  # Monday: the week Monday to Sunday that just ended
            due.append((WEEKLY, ended))
        earliest = self.first_day()
        queued = []
        for kind, day in due:
            key = f"report:{kind}:{day}"
            probe = Alert(INFO, f"REPORT_{kind.upper()}", "", "", key)
            if earliest is None or day < earliest or not self._alerts.policy.wanted(probe):
                continue
            with self._db.read() as session:
                if reads.alert_recorded(session, key):
                    continue
            if kind == DAILY:
                report = self._daily(day, moment, chart=False)
            else:
                report = self._weekly(day - timedelta(days=6), day, moment, chart=True)
            alert_id = self._alerts.record(
                Alert(
                    INFO,
                    probe.kind,
                    report.title,
                    report.text,
                    key,
                    attachment_name=report.attachment_name if report.png else None,
                    attachment=report.png,
                )
            )
            if alert_id is not None:
                queued.append(alert_id)
        return queued

    # --- reading the figures ---------------------------------------------------------------
    def _checked(self, value: date | str | None, field: str, now: datetime) -> date:
        today = trading_day(now, self._zone)
        if value is None:
            return today
        return checked_day(value, field, self.first_day(), today)

    def daily_figures(self, day: date, now: datetime) -> DailyFigures:
        period = period_of(day, day, self._zone, now)
        trend = period_of(day - timedelta(days=TREND_DAYS - 1), day, self._zone, now)
        with self._db.read() as session:
            state = reads.day_state(session, period.start, period.end)
            days = [trend.first + timedelta(days=i) for i in range(TREND_DAYS)]
            closes = reads.closes(session, days, self._zone, period.end)
            holdings = reads.holdings_at(session, period.as_of)
        sizes = self._metrics.sizes_and_volatility(*_inclusive(period), limit=10_000)
        return DailyFigures(
            period=period,
            limits=Limits.of(self._limits.get_limits()),
            state=state,
            closes=closes,
            holdings=holdings,
            today=trades_of(self._metrics.review(*_inclusive(period))),
            trend=trades_of(self._metrics.review(*_inclusive(trend))),
            sizing=sizing_by_pair(sizes.to_dict("records")),
        )

    def weekly_figures(self, first: date, last: date, now: datetime) -> WeeklyFigures:
        period = period_of(first, last, self._zone, now)
        review = self._metrics.review(*_inclusive(period))
        with self._db.read() as session:
            start = reads.equity_before(session, period.start)
            if start is None:
                start = reads.first_equity(session, period.start, period.end)
            last_row = reads.last_snapshot(session, period.start, period.end)
        end = last_row.equity if last_row is not None else None
        limits = Limits.of(self._limits.get_limits())
        return weekly_figures(period, limits, review, start, end)

    def _daily(self, day: date, now: datetime, chart: bool) -> Report:
        figures = self.daily_figures(day, now)
        title = daily_title(figures)
        png = self._chart(figures.period, f"Equity, {day:%a} {day}") if chart else None
        return Report(DAILY, title, daily_text(figures), png, figures.period)

    def _weekly(self, first: date, last: date, now: datetime, chart: bool) -> Report:
        figures = self.weekly_figures(first, last, now)
        title = weekly_title(figures)
        png = self._chart(figures.period, f"Equity, {first} to {last}") if chart else None
        return Report(WEEKLY, title, weekly_text(figures), png, figures.period)

    def _chart(self, period: Period, title: str) -> bytes | None:
        with self._db.read() as session:
            times, equity = reads.equity_curve(session, period.start, period.end)
        return equity_png(times, equity, f"{title} ({self._zone})", self._zone)


def _inclusive(period: Period) -> tuple[datetime, datetime]:
    """``[start, end)`` as the inclusive ``[start, end]`` ``hx.metrics`` takes (one microsecond
    off the end; never an empty period, which it refuses)."""
    return period.start, max(period.end - MICROSECOND, period.start + MICROSECOND)
