"""``helios report daily|weekly [--date YYYY-MM-DD] [--png PATH] [--html PATH]``: the reports.

A thin call into ``hx.reports`` (the same reports the day roll sends and the Review page
offers): prints the title and the text; ``--png`` writes the equity chart; ``--html`` runs the
matching notebook (``notebooks/daily_check.ipynb`` or ``weekly_review.ipynb``, with ``date``)
against the same database and writes it as one HTML page, its code left out
(``helios.cli.notebooks``; jupyter is imported only then). ``--date`` is the trading day (daily)
or the week's last day (weekly), default today so far; a bad one exits 2 naming ``--date``, the
value and the allowed range; nothing is written.
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
        if args.html is not None:
            html = _notebook_html(args.kind, args.date)
            try:
                Path(args.html).write_text(html, encoding="utf-8")
            except OSError as exc:
                fail(f"--html {args.html!r}: cannot write the page there ({exc.strerror})")
            print(f"\nnotebook written to {args.html} ({len(html):,} characters)")
        return 0
    finally:
        hx.close()


def _notebook_html(kind: str, day: str | None) -> str:
    """The matching notebook run on this database for ``day``, as HTML (read only: no
    reconcile, as every one-shot command)."""
    from helios.cli import notebooks

    path = notebooks.notebook_path(notebooks.REPORTS[kind])
    if not path.is_file():
        fail(f"--html: the notebook {path} is not there (it ships with the project's folder)")
    try:
        return notebooks.to_html(notebooks.execute(path, {"date": day, "reconcile": False}))
    except notebooks.NotebookFailed as exc:
        fail(f"--html: the {kind} notebook failed: {exc}", 1)


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
    report.add_argument(
        "--html",
        metavar="PATH",
        help="also run the matching notebook (notebooks/) for the date and write it as HTML here",
    )
    report.set_defaults(func=cmd_report)
