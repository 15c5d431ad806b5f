"""``helios replay``: history through the same code as live (``hx.replay``), in the terminal.

    helios replay --strategy ema-cross --candles BTCZAR=PATH ... --from 2023-01-01
                  --to 2024-01-01 --rules freqtrade --trades-csv trades.csv
    helios replay --signals recorded --from 2026-11-01 --to 2026-12-01 --limit max_drawdown_pct=0.10
    helios replay --signals signals.csv --candles ... --sweep max_drawdown_pct=0.10,0.15,0.20
    helios replay --list | --show RUN [--json]

A thin shell: every input is checked by the library (a bad one exits 2 naming the option, the
value and what is allowed, and no run is started); a run prints a progress bar with candles per
second on stderr, then its figures (``--json``: one JSON document, ``_pct`` figures in percent as
in every ``helios`` command). ``--sweep`` runs every combination in parallel processes (one per
core) and prints one table.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from helios.cli.console import percent
from helios.cli.controls import quiet_connect
from helios.errors import InvalidInput
from helios.launch import fail
from helios.replay.progress import ProgressMeter
from helios.replay.service import RECORDED, ReplayRequest, RunSummary
from helios.replay.spec import parse_sweep


class ProgressBar:
    """A terminal progress bar on stderr: done/total candles and candles per second."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.meter = ProgressMeter()

    def __call__(self, done: int, total: int) -> None:
        reading = self.meter.reading(done, total)
        if reading is None:
            return
        filled = int(reading.share * self.width)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {reading.share:6.1%} {reading.text()}"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _when(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not allowed: a date or time in ISO 8601 (2023-01-01)")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _pairs_of(items: list[str], option: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            out[name.strip()] = float(raw)
        except ValueError:
            fail(f"{option} {item!r} is not allowed: NAME=NUMBER")
        if not sep:
            fail(f"{option} {item!r} is not allowed: NAME=NUMBER")
    return out


def request_from(args: argparse.Namespace) -> ReplayRequest:
    if args.start is None or args.end is None:
        fail("--from and --to are required: the period to replay (ISO 8601 dates)")
    try:
        capital = Decimal(args.capital)
    except InvalidOperation:
        fail(f"--capital {args.capital!r} is not allowed: an amount in ZAR > 0")
    return ReplayRequest(
        start=_when(args.start, "--from"),
        end=_when(args.end, "--to"),
        candles=tuple(args.candles or ()),
        interval=args.interval,
        signals=args.signals or "",
        strategy=args.strategy or "",
        profile=args.rules,
        limits=_pairs_of(args.limit or [], "--limit"),
        initial_capital=capital,
        name=args.name or "",
    )


def figures_document(run: RunSummary, rejections: dict[str, int]) -> dict[str, Any]:
    figures = run.figures or {}
    return {
        "run": run.id,
        "name": run.name,
        "status": run.status,
        "error": run.error,
        "candles": run.candles,
        "steps": run.steps,
        "light_steps": run.light_steps,
        "wall_seconds": run.wall_seconds,
        "candles_per_second": run.candles_per_second,
        "trades": figures.get("closed_positions"),
        "realized_pnl": figures.get("realized_pnl"),
        "win_rate_pct": percent(figures.get("win_rate")),
        "sharpe": figures.get("sharpe"),
        "sortino": figures.get("sortino"),
        "max_drawdown_pct": percent(figures.get("max_drawdown")),
        "exits": figures.get("exits"),
        "exit_rates_pct": {k: percent(v) for k, v in (figures.get("hit_rates") or {}).items()},
        "pnl_by_pair": figures.get("pnl_by_pair"),
        "pnl_by_exit": figures.get("pnl_by_exit"),
        "automatic_halts": figures.get("automatic_halts"),
        "rejections": rejections,
        "spec": run.spec,
    }


def _number(value: Any, spec: str = ",.2f") -> str:
    return "-" if value is None else format(float(value), spec)


def figures_lines(doc: dict[str, Any]) -> list[str]:
    exits = doc.get("exits") or {}
    lines = [
        f"Run {doc['run']} ({doc['status']}): {doc['candles']:,} candles, {doc['steps']:,} steps "
        f"({doc['light_steps']:,} light), {_number(doc['wall_seconds'], '.1f')} s, "
        f"{_number(doc['candles_per_second'], ',.0f')} candles/s",
        f"Trades {doc['trades']}  P&L R{_number(doc['realized_pnl'])}  "
        f"win rate {_number(doc['win_rate_pct'], '.1f')}%  Sharpe {_number(doc['sharpe'])}  "
        f"Sortino {_number(doc['sortino'])}  max drawdown "
        f"{_number(doc['max_drawdown_pct'], '.2f')}%  automatic halts {doc['automatic_halts']}",
        "Exits: " + ", ".join(f"{k} {v}" for k, v in exits.items() if v),
        "Rejected: " + (", ".join(f"{k} {v}" for k, v in doc["rejections"].items()) or "nothing"),
    ]
    for pair, row in (doc.get("pnl_by_pair") or {}).items():
        lines.append(
            f"  {pair}: {row['positions']} trades, R{_number(row['realized_pnl'])}, "
            f"{row['wins']} wins"
        )
    for pair, gaps in ((doc.get("spec") or {}).get("gaps") or {}).items():
        holes = ", ".join(f"{g['bars']} bar(s) from {g['start']}" for g in gaps)
        lines.append(f"  {pair}: gaps filled flat at the previous close: {holes}")
    if doc.get("error"):
        lines.append(f"Error: {doc['error']}")
    return lines


def sweep_lines(rows: list[tuple[dict[str, float], dict[str, Any]]]) -> list[str]:
    names = list(rows[0][0]) if rows else []
    head = "  ".join(f"{n:>22}" for n in names)
    lines = [
        f"{head}  {'trades':>6}  {'P&L (R)':>14}  {'win %':>6}  {'max DD %':>8}  {'Sharpe':>7}  "
        f"{'rejected':>8}  run"
    ]
    for combo, doc in rows:
        values = "  ".join(f"{combo[n]:>22g}" for n in names)
        lines.append(
            f"{values}  {doc['trades'] or 0:>6}  {_number(doc['realized_pnl']):>14}  "
            f"{_number(doc['win_rate_pct'], '.1f'):>6}  "
            f"{_number(doc['max_drawdown_pct'], '.2f'):>8}  {_number(doc['sharpe']):>7}  "
            f"{sum(doc['rejections'].values()):>8}  {doc['run']}"
        )
    return lines


def sweep_table(rows: list[tuple[dict[str, float], dict[str, Any]]]) -> pd.DataFrame:
    """The sweep's one table as a DataFrame (``notebooks/replay_sweep.ipynb``): the figures of
    ``sweep_lines`` and the rejections by limit. One row per combination, in the grid's order,
    indexed by run id: the limits swept, the status, trades, P&L (R), win %, Sharpe, Sortino,
    max drawdown %, automatic halts, the rejections in all, then one ``rejected NAME`` column
    per limit (or reason) that refused a signal in any run (0 where it refused none). Rounded
    as the CLI prints them; a figure that does not exist (Sharpe of a run shorter than two
    days) is NaN."""
    reasons = sorted({name for _c, doc in rows for name in doc["rejections"]})

    def rounded(value: Any, places: int) -> float:
        return float("nan") if value is None else round(float(value), places)

    records = []
    for combo, doc in rows:
        record: dict[str, Any] = dict(combo)
        record.update(
            {
                "status": doc["status"],
                "trades": doc["trades"] or 0,
                "P&L (R)": rounded(doc["realized_pnl"], 2),
                "win %": rounded(doc["win_rate_pct"], 1),
                "Sharpe": rounded(doc["sharpe"], 2),
                "Sortino": rounded(doc["sortino"], 2),
                "max DD %": rounded(doc["max_drawdown_pct"], 2),
                "halts": doc["automatic_halts"] or 0,
                "rejected": sum(doc["rejections"].values()),
            }
        )
        record.update({f"rejected {name}": doc["rejections"].get(name, 0) for name in reasons})
        records.append(record)
    table = pd.DataFrame(records, index=pd.Index([doc["run"] for _c, doc in rows], name="run"))
    return table


def cmd_replay(args: argparse.Namespace) -> int:
    hx = quiet_connect()
    try:
        if args.list:
            runs = hx.replay.runs()
            if args.json:
                print(json.dumps([_listed(r) for r in runs], indent=2, default=str))
            else:
                for r in runs:
                    print(
                        f"{r.id}  {r.status:<8}  {r.candles:>9,} candles  "
                        f"{_number(r.wall_seconds, '.1f'):>7} s  {r.name}"
                    )
            return 0
        try:
            if args.show:
                run = hx.replay.get(args.show)
                return _print_run(hx, run, args)
            request = request_from(args)
            if args.sweep:
                grid = parse_sweep(args.sweep)
                runs = hx.replay.sweep(request, grid, workers=args.workers)
                rows = [
                    (combo, figures_document(run, hx.replay.rejections(run.id)))
                    for combo, run in zip(grid, runs, strict=True)
                ]
                if args.json:
                    print(json.dumps([doc for _c, doc in rows], indent=2, default=str))
                else:
                    print("\n".join(sweep_lines(rows)))
                return 0
            progress = None if args.quiet else ProgressBar()
            run = hx.replay.run(request, progress)
        except InvalidInput as exc:
            fail(f"{exc.field} {exc.value!r} is not allowed: {exc.allowed}")
        return _print_run(hx, run, args)
    finally:
        hx.close()


def _print_run(hx: Any, run: RunSummary, args: argparse.Namespace) -> int:
    doc = figures_document(run, hx.replay.rejections(run.id))
    if args.trades_csv:
        hx.replay.trades(run.id).drop(columns=["position_id", "side"]).to_csv(
            args.trades_csv, index=False
        )
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print("\n".join(figures_lines(doc)))
    return 0 if run.complete else 1


def _listed(run: RunSummary) -> dict[str, Any]:
    return {
        "run": run.id,
        "name": run.name,
        "status": run.status,
        "candles": run.candles,
        "wall_seconds": run.wall_seconds,
        "started_at": run.started_at,
        "error": run.error,
    }


def add(commands: Any) -> None:
    """Register ``helios replay`` on the ``helios`` parser's subcommands."""
    p = commands.add_parser(
        "replay", help="replay history through the same code as live (what would it have done?)"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--strategy", help="a built-in strategy (ema-cross) or a .py file")
    source.add_argument(
        "--signals", help=f"'{RECORDED}' (this database's signals) or a CSV of signals"
    )
    p.add_argument(
        "--candles",
        action="append",
        metavar="PAIR=PATH[*FACTOR]",
        help="a CSV or Parquet of OHLCV candles per pair (default: the stored candles)",
    )
    p.add_argument("--interval", default="1m", help="stored candles' interval (default 1m)")
    p.add_argument("--from", dest="start", help="first day (ISO 8601, UTC)")
    p.add_argument("--to", dest="end", help="end, exclusive (ISO 8601, UTC)")
    p.add_argument("--rules", default="helios", choices=["helios", "freqtrade"])
    p.add_argument("--limit", action="append", metavar="NAME=VALUE", help="a risk limit")
    p.add_argument("--sweep", action="append", metavar="NAME=V1,V2", help="limits to sweep")
    p.add_argument("--workers", type=int, help="sweep processes (default: one per core)")
    p.add_argument("--capital", default="100000", help="initial capital in ZAR")
    p.add_argument("--name", help="a name for the run")
    p.add_argument("--trades-csv", help="write one row per position to this CSV")
    p.add_argument("--list", action="store_true", help="list the runs")
    p.add_argument("--show", metavar="RUN", help="show a run's figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_replay)
