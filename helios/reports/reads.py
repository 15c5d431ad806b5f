"""The reports' reads (L4d): snapshots and positions of a period, in the caller's session.

``hx.metrics.review`` answers the weekly statistics; these are the few figures it does not: the
account at a period's last snapshot and the worst of the period, each trading day's close, the
positions open at an instant, the equity curve for the chart. Each is one or a few statements
through the ``ts`` index, so a day of minute snapshots or a year of them costs the same handful
of rows, except the curve, which is thinned to at most ``CURVE_POINTS`` points (every n-th row,
the last always in).

The rules: a period is ``[start, end)``; a trading day's close is its last snapshot (two at the
same time: the last written); a position is open at an instant when it was opened before it and
not closed by then (a FAILED open never held anything).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Float, cast, func, or_, select
from sqlalchemy.orm import Session

from helios.clock import trading_day_start
from helios.db.models import Alert, PortfolioSnapshot, Position
from helios.money import ZERO
from helios.reports.figures import Close, DayState, Holding

CURVE_POINTS = 1_000  # the chart is 800 pixels wide
S = PortfolioSnapshot


def _in(start: datetime, end: datetime) -> tuple[object, object]:
    return S.ts >= start, S.ts < end


def last_snapshot(session: Session, start: datetime, end: datetime) -> PortfolioSnapshot | None:
    return session.scalars(
        select(S).where(*_in(start, end)).order_by(S.ts.desc(), S.id.desc()).limit(1)
    ).first()


def first_snapshot_at(session: Session) -> datetime | None:
    return session.scalar(select(S.ts).order_by(S.ts, S.id).limit(1))


def equity_before(session: Session, moment: datetime) -> Decimal | None:
    """The equity of the last snapshot before ``moment`` (the close before a period)."""
    query = select(S.equity).where(S.ts < moment).order_by(S.ts.desc(), S.id.desc()).limit(1)
    return session.scalar(query)


def first_equity(session: Session, start: datetime, end: datetime) -> Decimal | None:
    return session.scalar(select(S.equity).where(*_in(start, end)).order_by(S.ts, S.id).limit(1))


def day_state(session: Session, start: datetime, end: datetime) -> DayState | None:
    """The account at the period's last snapshot, with the period's snapshot count and its worst
    daily loss and drawdown (the same floats ``hx.metrics`` compares); None without one."""
    last = last_snapshot(session, start, end)
    if last is None:
        return None
    count, worst_loss, worst_drawdown = session.execute(
        select(
            func.count(), func.max(cast(S.daily_loss, Float)), func.max(cast(S.drawdown, Float))
        ).where(*_in(start, end))
    ).one()
    return DayState(
        ts=last.ts,
        mode=last.mode,
        equity=last.equity,
        start_of_day_equity=last.start_of_day_equity,
        daily_pnl=last.daily_pnl,
        daily_loss=last.daily_loss,
        drawdown=last.drawdown,
        gross_exposure=last.gross_exposure,
        leverage=last.leverage,
        open_positions=last.open_positions,
        halted=bool(last.halted),
        snapshots=int(count),
        worst_daily_loss=float(worst_loss or 0.0),
        worst_drawdown=float(worst_drawdown or 0.0),
    )


def closes(session: Session, days: Sequence[date], zone: str, end: datetime) -> tuple[Close, ...]:
    """Each of ``days``' close (its last snapshot before ``end``), the days without one left
    out; oldest first."""
    found = []
    for day in sorted(days):
        start = trading_day_start(day, zone)
        day_end = min(trading_day_start(day + timedelta(days=1), zone), end)
        if day_end <= start:
            continue
        last = last_snapshot(session, start, day_end)
        if last is not None:
            found.append(Close(day, last.equity))
    return tuple(found)


def holdings_at(session: Session, moment: datetime) -> tuple[Holding, ...]:
    """The positions open at ``moment``: opened before it, not closed by then."""
    rows = session.execute(
        select(
            Position.id, Position.pair, Position.side, Position.position_size_zar, Position.notional
        )
        .where(
            Position.opened_at.is_not(None),
            Position.opened_at < moment,
            Position.status != "FAILED",
            or_(Position.closed_at.is_(None), Position.closed_at >= moment),
        )
        .order_by(Position.pair, Position.id)
    ).all()
    return tuple(
        Holding(pid, pair, side, margin, notional if notional is not None else ZERO)
        for pid, pair, side, margin, notional in rows
    )


def equity_curve(
    session: Session, start: datetime, end: datetime, points: int = CURVE_POINTS
) -> tuple[list[datetime], list[Decimal]]:
    """The snapshots' equity in ``[start, end)``, oldest first, at most about ``points`` of them
    (every n-th row by id, the last always in)."""
    total = int(session.scalar(select(func.count()).select_from(S).where(*_in(start, end))) or 0)
    if total == 0:
        return [], []
    query = select(S.ts, S.equity, S.id).where(*_in(start, end))
    step = -(-total // points)
    last = last_snapshot(session, start, end)
    if step > 1 and last is not None:
        query = query.where(or_(S.id % step == 0, S.id == last.id))
    rows = session.execute(query.order_by(S.ts, S.id)).all()
    return [r.ts for r in rows], [r.equity for r in rows]


def alert_recorded(session: Session, dedup_key: str) -> bool:
    """An alert with this dedup key is queued (or was delivered): a report already recorded."""
    return session.scalar(select(Alert.id).where(Alert.dedup_key == dedup_key)) is not None
