"""``helios profit [--daily|--weekly|--monthly] [--count N] [--json]``: the profit tables in the
terminal (Freqtrade's ``/daily``, ``/weekly``, ``/monthly``).

A thin call into ``hx.metrics.profit`` (the same table as the Review page): the latest ``N``
periods in the trading-day zone, newest first, each with its net realized P&L, its share of the
period's starting equity, trades and win rate. ``--json`` prints one JSON document: money as exact
decimal strings, ``_pct`` keys as numbers in percent (``1.23`` = 1.23%, as in every ``helios``
command's ``--json``), times in ISO 8601 with the zone's offset. A bad ``--count`` exits 2
naming it, the value and the allowed range.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from zoneinfo import ZoneInfo

from helios.cli.console import percent
from helios.cli.controls import quiet_connect
from helios.errors import InvalidInput
from helios.launch import fail
from helios.money import fmt_zar
from helios.profit_periods import (
    DEFAULT_COUNTS,
    MAX_COUNT,
    PERIOD_NAMES,
    ProfitTable,
    period_label,
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def as_document(table: ProfitTable) -> dict[str, Any]:
    """The table as the ``--json`` document."""
    zone = ZoneInfo(table.zone)
    return {
        "period": table.period,
        "zone": table.zone,
        "count": len(table.rows),
        "total_pnl": str(table.total_pnl),
        "trades": table.trades,
        "rows": [
            {
                "period": period_label(table.period, row),
                "start": row.start.isoformat(),
                "end": row.end.isoformat(),
                "starts_at": row.starts_at.astimezone(zone).isoformat(),
                "starting_equity": str(row.starting_equity),
                "pnl": str(row.pnl),
                "pnl_pct": percent(row.pnl_pct),
                "trades": row.trades,
                "wins": row.wins,
                "win_rate_pct": percent(row.win_rate),
            }
            for row in table.rows
        ],
    }


def as_lines(table: ProfitTable) -> list[str]:
    """The table as text, newest first (the first period is the current one, so far)."""
    labels = [
        period_label(table.period, row) + (" (so far)" if number == 0 else "")
        for number, row in enumerate(table.rows)
    ]
    name = PERIOD_NAMES[table.period]
    width = max(len(name), *(len(label) for label in labels))
    money = [fmt_zar(row.pnl) for row in table.rows]
    cash = max(len("P&L"), *(len(m) for m in money))
    lines = [
        f"{table.period.capitalize()} profit, newest first (periods in {table.zone})",
        f"{name:<{width}}  {'P&L':>{cash}}  {'% of start':>10}  {'Trades':>6}  {'Win rate':>8}",
    ]
    for label, pnl, row in zip(labels, money, table.rows, strict=True):
        lines.append(
            f"{label:<{width}}  {pnl:>{cash}}  {_pct(row.pnl_pct):>10}  {row.trades:>6}  "
            f"{_pct(row.win_rate):>8}"
        )
    lines.append(f"Total {fmt_zar(table.total_pnl)} over {table.trades} closed position(s)")
    return lines


def cmd_profit(args: argparse.Namespace) -> int:
    hx = quiet_connect()
    try:
        try:
            table = hx.metrics.profit(args.period, args.count)
        except InvalidInput as exc:
            fail(f"--{exc.field} {exc.value!r} is not allowed: {exc.allowed}")
    finally:
        hx.close()
    if args.json:
        print(json.dumps(as_document(table), indent=2))
    else:
        print("\n".join(as_lines(table)))
    return 0


def add(commands: Any) -> None:
    """Register ``helios profit`` on the ``helios`` parser's subcommands."""
    profit = commands.add_parser(
        "profit", help="daily, weekly or monthly P&L in the trading-day zone (newest first)"
    )
    which = profit.add_mutually_exclusive_group()
    for period in ("daily", "weekly", "monthly"):
        which.add_argument(
            f"--{period}",
            dest="period",
            action="store_const",
            const=period,
            help=f"{period} periods (default: daily; {DEFAULT_COUNTS[period]} of them)",
        )
    profit.add_argument(
        "--count",
        type=int,
        metavar="N",
        help=f"how many periods, 1 to {MAX_COUNT} (default: 7 days, 8 weeks or 6 months)",
    )
    profit.add_argument("--json", action="store_true", help="print one JSON document")
    profit.set_defaults(func=cmd_profit, period="daily")
