"""``helios report daily|weekly [--date YYYY-MM-DD] [--png PATH]``: the reports in the terminal.

A thin call into ``hx.reports`` (the same reports the day roll sends and the Review page
offers): prints the title and the text; ``--png`` writes the equity chart. ``--date`` is the
trading day (daily) or the week's last day (weekly), default today so far; a bad one exits 2
naming ``--date``, the value and the allowed range; nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helios.cli.controls import quiet_connect
from helios.errors import InvalidInput
from helios.launch import fail


def cmd_report(args: argparse.Namespace) -> int:
    hx = quiet_connect()
    try:
        chart = args.png is not None
        try:
            if args.kind == "daily":
                report = hx.reports.daily(args.date, chart=chart)
            else:
                report = hx.reports.weekly(args.date, chart=chart)
        except InvalidInput as exc:
            fail(f"--date {exc.value!r} is not allowed: {exc.allowed}")
        print(report.title)
        print()
        print(report.text)
        if chart:
            if report.png is None:
                fail(f"no chart written to {args.png}: no snapshot in the period", 1)
            try:
                Path(args.png).write_bytes(report.png)
            except OSError as exc:
                fail(f"--png {args.png!r}: cannot write the chart there ({exc.strerror})")
            print(f"\nchart written to {args.png} ({len(report.png):,} bytes)")
        return 0
    finally:
        hx.close()


def add(commands: Any) -> None:
    """Register ``helios report`` on the ``helios`` parser's subcommands."""
    report = commands.add_parser(
        "report", help="the daily or weekly report (the seed's checks) in the terminal"
    )
    report.add_argument("kind", choices=("daily", "weekly"), help="which report")
    report.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="daily: the trading day; weekly: the week's last day (default: today, so far)",
    )
    report.add_argument("--png", metavar="PATH", help="also write the equity chart (PNG) here")
    report.set_defaults(func=cmd_report)
