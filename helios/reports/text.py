"""The daily and the weekly report's text (L2, pure): frozen figures in, lines out.

Plain text that reads the same in a Telegram message, an e-mail, a terminal and a ``.md`` file:
one fact a line, ``label: value``, indented detail lines, no tables or markup a channel might
mangle. The first line is the verdict (every limit held, or which was over), so a phone's
notification preview says what matters.

The rules (the seed's lists; ``helios.reports.figures`` holds the shared ones):

- daily: the portfolio value and its trend (the closes of the last seven trading days that have
  a snapshot, the change first to last); the day's P&L against the day's start, and the worst
  daily loss of the day against the daily loss limit (the halt acts on the worst, not the
  close); the drawdown at the close and the deepest of the day against the maximum drawdown
  limit; the positions open at the day's end with the exposure and the leverage; the win rate
  of the day's closes and of the trend's days; the average size of the day's new positions per
  pair beside the daily volatility their sizing saw (the seed: size should vary with it);
- weekly: the risk-limit violations per limit (should be zero), the emergency stops (should be
  rare) and automatic halts, the stop-loss / take-profit / timeout hit rates with their counts,
  the win rate and realized P&L, Sharpe and Sortino (n/a below two daily returns), the maximum
  drawdown against its limit, the P&L by pair, and the equity at the period's start and end;
- a figure that was not recorded says why rather than show a zero.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from helios.money import fmt_zar
from helios.reports.figures import (
    DailyFigures,
    Limits,
    Period,
    WeeklyFigures,
    over,
)

EXIT_LABELS = {
    "STOPPED_OUT": "Stop loss",
    "TAKE_PROFIT": "Take profit",
    "TAKE_PROFIT_AT_A_LOSS": "Target touched, closed at a loss",
    "TIMEOUT": "Timeout",
    "EMERGENCY_CLOSE": "Emergency close",
    "CLOSED": "Closed by hand",
}
LIMIT_LABELS = {
    "max_drawdown_pct": "drawdown",
    "daily_loss_limit_pct": "daily loss",
    "max_leverage": "leverage",
}
NO_SNAPSHOT = (
    "No portfolio snapshot in this period: the value, P&L, drawdown and exposure come from the "
    "scheduler's snapshots (every SNAPSHOT_INTERVAL_SECONDS while it runs)."
)


def daily_title(figures: DailyFigures) -> str:
    return f"Helios daily report {_day(figures.period.first, year=True)}"


def weekly_title(figures: WeeklyFigures) -> str:
    p = figures.period
    kind = "weekly report" if p.days == 7 else f"review ({p.days} days)"
    return f"Helios {kind} {p.first} to {p.last}"


def daily_text(f: DailyFigures) -> str:
    state = f.state
    lines = [_daily_verdict(f), _when(f.period, state.mode if state else None), ""]
    if state is None:
        lines += [NO_SNAPSHOT, "", f"Open positions: {len(f.holdings)}"]
    else:
        limits = f.limits
        lines += [f"Portfolio value: {fmt_zar(state.equity)}", *_trend(f), ""]
        pnl = f"Daily P&L: {_signed(state.daily_pnl)}"
        day_pct = _ratio(state.daily_pnl, state.start_of_day_equity)
        if day_pct is not None:
            pnl += f" ({day_pct:+.2%} of the day's start, {fmt_zar(state.start_of_day_equity)})"
        lines += [
            pnl,
            "  worst daily loss in the day: "
            + _limit_use(state.worst_daily_loss, limits.daily_loss, "daily loss"),
            f"Drawdown: {float(state.drawdown):.2%} at the close",
            "  deepest in the day: "
            + _limit_use(state.worst_drawdown, limits.drawdown, "max drawdown"),
        ]
        if state.halted:
            lines.append("Trading was HALTED at the last snapshot (see the Controls page).")
        leverage = f"{float(state.leverage):.2f}x against the {limits.leverage:.2f}x limit"
        if over(state.leverage, limits.leverage):
            leverage += ", OVER THE LIMIT"
        lines += [
            "",
            f"Open positions: {len(f.holdings)}, exposure {fmt_zar(state.gross_exposure)}, "
            f"leverage {leverage}",
        ]
    lines += [
        f"  {h.pair} {h.side} #{h.position_id}: margin {fmt_zar(h.margin)}, "
        f"notional at entry {fmt_zar(h.notional)}"
        for h in f.holdings
    ]
    lines += ["", _win_rate(f), "", "Position size against volatility (opened in the day):"]
    if not f.sizing:
        lines.append("  no position opened in the day")
    for s in f.sizing:
        vol = (
            f"{s.average_daily_vol:.2%} daily volatility"
            if s.average_daily_vol is not None
            else "no volatility estimate"
        )
        lines.append(
            f"  {s.pair}: {s.opened} opened, average margin {fmt_zar(s.average_margin)}, "
            f"notional {fmt_zar(s.average_notional)}, at {vol}"
        )
    return "\n".join(lines)


def weekly_text(f: WeeklyFigures) -> str:
    lines = [_weekly_verdict(f), _when(f.period, None), ""]
    if f.equity_end is None:
        lines += [NO_SNAPSHOT, ""]
    else:
        shown = f"Equity: {fmt_zar(f.equity_end)} at the end"
        if f.equity_start is not None:
            shown = f"Equity: {fmt_zar(f.equity_start)} -> {fmt_zar(f.equity_end)}, "
            shown += _change(f.equity_end - f.equity_start, f.equity_start)
        lines += [shown, ""]
    total = f.violations_total
    lines.append(f"Risk-limit violations: {total} (should be zero)")
    limits = _limit_values(f.limits)
    lines += [
        f"  {LIMIT_LABELS.get(name, name)} over {limits.get(name, '?')}: {n} snapshot(s)"
        for name, n in f.violations
        if n
    ]
    lines.append(
        f"Emergency stops: {f.emergency_stops} (should be rare); automatic halts: "
        f"{f.automatic_halts}"
    )
    lines += ["", f"Exits ({f.trades.closed} closed position(s)):"]
    closed = f.trades.closed
    order = list(EXIT_LABELS)
    for kind, count in sorted(f.exits, key=lambda e: order.index(e[0]) if e[0] in order else 99):
        rate = f"{count / closed:.2%}" if closed else "n/a"
        lines.append(f"  {EXIT_LABELS.get(kind, kind)}: {count} ({rate})")
    rate = f"{f.trades.win_rate:.2%}" if f.trades.win_rate is not None else "n/a (none closed)"
    lines.append(f"Win rate: {rate}; realized P&L {_signed(f.trades.realized_pnl)}")
    lines += [
        "",
        f"Sharpe: {_stat(f.sharpe)}; Sortino: {_stat(f.sortino)} "
        f"(from {f.daily_returns} daily return(s); n/a below 2 or when they never vary)",
        "Max drawdown: "
        + (
            _limit_use(f.max_drawdown, f.limits.drawdown, "max drawdown")
            if f.equity_end is not None
            else "n/a (no snapshot)"
        ),
        "",
        "P&L by pair:",
    ]
    if not f.pnl_by_pair:
        lines.append("  no position closed in the period")
    lines += [
        f"  {p.pair}: {p.positions} closed, {p.wins} won, {_signed(p.realized_pnl)}"
        for p in f.pnl_by_pair
    ]
    return "\n".join(lines)


# --- the verdicts --------------------------------------------------------------------------
def _daily_verdict(f: DailyFigures) -> str:
    if f.state is None:
        return "Checks: no snapshot in the day, nothing to judge."
    broken = [
        name
        for name, value, limit in (
            ("daily loss", f.state.worst_daily_loss, f.limits.daily_loss),
            ("drawdown", f.state.worst_drawdown, f.limits.drawdown),
            ("leverage", f.state.leverage, f.limits.leverage),
        )
        if over(value, limit)
    ]
    if broken:
        return f"Checks: OVER THE LIMIT: {', '.join(broken)}."
    return "Checks: every limit held (daily loss, drawdown, leverage)."


def _weekly_verdict(f: WeeklyFigures) -> str:
    broken = [LIMIT_LABELS.get(name, name) for name, n in f.violations if n]
    if broken:
        return f"Checks: LIMITS VIOLATED: {', '.join(broken)} ({f.violations_total} snapshot(s))."
    if f.equity_end is None:
        return "Checks: no snapshot in the period, nothing to judge."
    return "Checks: no risk-limit violation."


# --- formatting ----------------------------------------------------------------------------
def _when(period: Period, mode: str | None) -> str:
    zone = period.zone
    if period.first == period.last:
        span = f"Trading day {_day(period.first, year=True)} ({zone})"
    else:
        span = f"{_day(period.first)} to {_day(period.last, year=True)} ({zone})"
    local = period.as_of.astimezone(ZoneInfo(zone))
    status = "complete" if period.complete else f"so far, at {local:%H:%M} local time"
    return f"{span}, {status}" + (f", {mode}" if mode else "")


def _trend(f: DailyFigures) -> list[str]:
    closes = f.closes
    if len(closes) < 2:
        return ["Trend: only this day has a snapshot in the last 7 days"]
    first, last = closes[0], closes[-1]
    change = _change(last.equity - first.equity, first.equity)
    lines = [f"Trend: {change} since {_day(first.day)}'s close"]
    lines += [f"  {_day(c.day)}: {fmt_zar(c.equity)}" for c in closes]
    return lines


def _win_rate(f: DailyFigures) -> str:
    today, trend = f.today, f.trend
    if today.closed:
        shown = f"{today.win_rate:.2%} today ({today.wins} of {today.closed} closed won"
        shown += f", realized {_signed(today.realized_pnl)})"
    else:
        shown = "n/a today (no position closed)"
    if trend.closed:
        shown += f"; {trend.win_rate:.2%} over 7 days ({trend.wins} of {trend.closed})"
    else:
        shown += "; none closed over 7 days"
    return f"Win rate: {shown}"


def _limit_use(value: float | Decimal, limit: float, name: str) -> str:
    """``2.10% of the 15.00% max drawdown limit (14% of it), within`` (or OVER)."""
    figure = float(value)
    share = f" ({figure / limit:.0%} of it)" if limit > 0 else ""
    verdict = "OVER THE LIMIT" if over(figure, limit) else "within"
    return f"{figure:.2%} against the {limit:.2%} {name} limit{share}, {verdict}"


def _limit_values(limits: Limits) -> dict[str, str]:
    return {
        "max_drawdown_pct": f"{limits.drawdown:.2%}",
        "daily_loss_limit_pct": f"{limits.daily_loss:.2%}",
        "max_leverage": f"{limits.leverage:.2f}x",
    }


def _ratio(part: Decimal, whole: Decimal) -> float | None:
    return float(part / whole) if whole > 0 else None


def _signed(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + fmt_zar(amount)


def _change(delta: Decimal, base: Decimal) -> str:
    """``up R1,234.56 (+1.23%)``, ``down ...`` or ``unchanged``."""
    if delta == 0:
        return "unchanged"
    pct = _ratio(delta, base)
    shown = f"{'up' if delta > 0 else 'down'} {fmt_zar(abs(delta))}"
    return shown + (f" ({pct:+.2%})" if pct is not None else "")


def _stat(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _day(day: date, year: bool = False) -> str:
    return f"{day:%a} {day.day} {day:%b}" + (f" {day.year}" if year else "")
