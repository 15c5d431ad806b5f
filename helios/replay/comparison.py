"""Replay runs side by side, and a recorded-signal replay beside what actually happened (pure).

The Replay page (``app_pages/replay.py``) shows two or more runs in one table; this module makes
that table from the figures, so the page only lays it out. No I/O: frozen inputs, frozen
outputs, the values already formatted as the dashboard shows them.

Rules:

- **Figures** are ``hx.metrics.review``'s (the Review page's), as a run stores them (JSON:
  amounts as exact strings) or as the operator's database returns them (``Decimal``, float):
  ``figures_of`` reads both the same way. A run that is not COMPLETE has no figures: each of its
  cells is ``-``.
- **Rows**, in order: trades (positions closed in the period), realized P&L (after fees, R),
  win rate, Sharpe, Sortino, max drawdown, the stop-loss, take-profit and timeout rates (shares
  of the closed positions; ``n/a`` when none closed, like the Review page), automatic halts,
  then the rejections: all of them, then one row per limit (or kind: a full pair, a lock, a
  halt) that any column names, labelled with the limit's label (``helios.limit_rules``); a column
  that has none of that kind shows ``0``, a column whose rejections are not known shows ``-``.
- **P&L by pair and by exit**: one row per pair (or exit) any column has, each cell
  ``R<P&L> (<positions>)``, ``-`` where the column has none.
- **Columns** are headed by the run's name; two runs with one name are told apart by their id.
- **Equity curve** (``equity_curve``): the capital at the start of the period, the run's
  snapshots (one per trading day: the day roll's), and at the end of the data the capital plus
  the realized P&L (every position still open there is closed at the last close, so nothing is
  left unrealized); a run without figures ends at its last snapshot.
- **Actual vs would have** (a replay of the recorded signals): the operator's own figures over
  the run's period and the run's, in two columns, the signals counted by what became of them
  (recorded status against replayed status), and a difference column (would have minus
  actually) for the counts and the P&L.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.clock import ensure_utc
from helios.limit_rules import LIMIT_RULES
from helios.money import fmt_zar

NONE = "-"
NA = "n/a"
EXIT_RATES = (
    ("STOPPED_OUT", "Stop-loss rate"),
    ("TAKE_PROFIT", "Take-profit rate"),
    ("TIMEOUT", "Timeout rate"),
)
# rejections without a limit (helios.replay.service.run_rejections names them)
KIND_LABELS = {
    "pair_full": "a position already open on the pair",
    "pair_lock": "pair locked",
    "halted": "trading halted",
}
ACTUAL = "What actually happened"


@dataclass(frozen=True)
class Breakdown:
    """One pair's (or exit's) closed positions: how many, their P&L, how many won."""

    positions: int
    realized_pnl: Decimal
    wins: int


@dataclass(frozen=True)
class Figures:
    """The figures a comparison shows, read from ``hx.metrics.review``'s dict."""

    trades: int
    realized_pnl: Decimal
    win_rate: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    hit_rates: Mapping[str, float] = field(default_factory=dict)
    exits: Mapping[str, int] = field(default_factory=dict)
    automatic_halts: int = 0
    pnl_by_pair: Mapping[str, Breakdown] = field(default_factory=dict)
    pnl_by_exit: Mapping[str, Breakdown] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """One column of a comparison: its heading, its figures (None: the run is not complete)
    and its rejections by limit (None: not known)."""

    label: str
    figures: Figures | None
    rejections: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Row:
    figure: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table to draw: ``columns`` head ``values`` (the first heading is the figures')."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def records(self) -> list[dict[str, str]]:
        """One dict per row, keyed by the headings (a DataFrame's records)."""
        return [dict(zip(self.columns, (r.figure, *r.values), strict=True)) for r in self.rows]

    def row(self, figure: str) -> tuple[str, ...]:
        for r in self.rows:
            if r.figure == figure:
                return r.values
        raise KeyError(figure)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _breakdowns(table: Mapping[str, Any] | None) -> dict[str, Breakdown]:
    return {
        str(key): Breakdown(
            int(row.get("positions") or 0),
            Decimal(str(row.get("realized_pnl") or "0")),
            int(row.get("wins") or 0),
        )
        for key, row in (table or {}).items()
    }


def figures_of(review: Mapping[str, Any]) -> Figures:
    """``hx.metrics.review``'s dict (live, or stored as JSON by a run) as ``Figures``."""
    return Figures(
        trades=int(review.get("closed_positions") or 0),
        realized_pnl=Decimal(str(review.get("realized_pnl") or "0")),
        win_rate=_float(review.get("win_rate")),
        sharpe=_float(review.get("sharpe")),
        sortino=_float(review.get("sortino")),
        max_drawdown=_float(review.get("max_drawdown")),
        hit_rates={
            str(k): float(v) for k, v in (review.get("hit_rates") or {}).items() if v is not None
        },
        exits={str(k): int(v) for k, v in (review.get("exits") or {}).items()},
        automatic_halts=int(review.get("automatic_halts") or 0),
        pnl_by_pair=_breakdowns(review.get("pnl_by_pair")),
        pnl_by_exit=_breakdowns(review.get("pnl_by_exit")),
    )


def fmt_share(value: float | None) -> str:
    return NA if value is None else f"{value:.2%}"


def fmt_ratio(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}"


def rejection_label(kind: str) -> str:
    rule = LIMIT_RULES.get(kind)
    return f"Rejected: {rule.label if rule else KIND_LABELS.get(kind, kind)}"


def unique_labels(runs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Headings for ``(id, name)`` runs: the name, or ``name (id)`` when names repeat."""
    names = [name or identity for identity, name in runs]
    return tuple(
        f"{name} ({identity})" if names.count(name) > 1 else name
        for (identity, _), name in zip(runs, names, strict=True)
    )


def _figure_rows(columns: Sequence[Column]) -> list[Row]:
    def each(show: Any) -> tuple[str, ...]:
        return tuple(NONE if c.figures is None else show(c.figures) for c in columns)

    def rate(status: str) -> Any:
        return lambda f: fmt_share(f.hit_rates.get(status, 0.0)) if f.trades else NA

    rows = [
        Row("Trades", each(lambda f: f"{f.trades:,}")),
        Row("Realized P&L", each(lambda f: fmt_zar(f.realized_pnl))),
        Row("Win rate", each(lambda f: fmt_share(f.win_rate))),
        Row("Sharpe", each(lambda f: fmt_ratio(f.sharpe))),
        Row("Sortino", each(lambda f: fmt_ratio(f.sortino))),
        Row("Max drawdown", each(lambda f: fmt_share(f.max_drawdown))),
        *(Row(label, each(rate(status))) for status, label in EXIT_RATES),
        Row("Automatic halts", each(lambda f: f"{f.automatic_halts:,}")),
    ]
    kinds = sorted({k for c in columns for k in (c.rejections or {})})
    rows.append(
        Row(
            "Rejected (all)",
            tuple(
                NONE if c.rejections is None else f"{sum(c.rejections.values()):,}" for c in columns
            ),
        )
    )
    for kind in kinds:
        rows.append(
            Row(
                rejection_label(kind),
                tuple(
                    NONE if c.rejections is None else f"{c.rejections.get(kind, 0):,}"
                    for c in columns
                ),
            )
        )
    return rows


def side_by_side(columns: Sequence[Column]) -> Table:
    """The figures of every column in one table (the module's rule)."""
    return Table(("Figure", *(c.label for c in columns)), tuple(_figure_rows(columns)))


def breakdown(columns: Sequence[Column], by: str) -> Table:
    """P&L ``by`` ``"pair"`` or ``"exit"``: one row per key any column has."""
    if by not in ("pair", "exit"):
        raise ValueError(f"by={by!r}: pair or exit")

    def table(f: Figures) -> Mapping[str, Breakdown]:
        return f.pnl_by_pair if by == "pair" else f.pnl_by_exit

    keys = sorted({k for c in columns if c.figures is not None for k in table(c.figures)})
    rows = []
    for key in keys:
        cells = []
        for c in columns:
            found = None if c.figures is None else table(c.figures).get(key)
            cells.append(
                NONE if found is None else f"{fmt_zar(found.realized_pnl)} ({found.positions})"
            )
        rows.append(Row(key, tuple(cells)))
    return Table(("Pair" if by == "pair" else "Exit", *(c.label for c in columns)), tuple(rows))


def _difference(actual: str, replayed: str, exact: tuple[Decimal, Decimal] | None) -> str:
    if exact is not None:
        return fmt_zar(exact[1] - exact[0])
    try:
        a, r = int(actual.replace(",", "")), int(replayed.replace(",", ""))
    except ValueError:
        return ""
    return f"{r - a:+,}"


def actual_vs_replay(
    actual: Figures,
    replayed: Column,
    actual_signals: Mapping[str, int] | None = None,
    replay_signals: Mapping[str, int] | None = None,
) -> Table:
    """What actually happened over the run's period beside what the run would have done (the
    module's rule). ``actual_signals`` and ``replay_signals``: signals counted by status."""
    columns = [Column(ACTUAL, actual, None), replayed]
    rows = _figure_rows(columns)
    statuses = sorted(set(actual_signals or {}) | set(replay_signals or {}))
    for status in statuses:
        rows.append(
            Row(
                f"Signals {status}",
                (
                    NONE if actual_signals is None else f"{actual_signals.get(status, 0):,}",
                    NONE if replay_signals is None else f"{replay_signals.get(status, 0):,}",
                ),
            )
        )
    out = []
    for row in rows:
        a, r = row.values
        exact = None
        if row.figure == "Realized P&L" and replayed.figures is not None:
            exact = (actual.realized_pnl, replayed.figures.realized_pnl)
        counted = row.figure == "Trades" or row.figure.startswith("Signals ")
        diff = _difference(a, r, exact) if (counted or exact) else ""
        out.append(Row(row.figure, (a, r, diff)))
    return Table(("Figure", ACTUAL, replayed.label, "Difference"), tuple(out))


@dataclass(frozen=True)
class Curve:
    """An equity curve to draw (times and equity as floats: a chart's, not the ledger's)."""

    ts: tuple[datetime, ...]
    equity: tuple[float, ...]


def _when(text: Any) -> datetime | None:
    return ensure_utc(datetime.fromisoformat(str(text))) if text else None


def equity_curve(
    spec: Mapping[str, Any],
    figures: Mapping[str, Any] | None,
    snapshots: Sequence[tuple[datetime, float]],
) -> Curve:
    """A run's equity curve (the module's rule): ``spec`` and ``figures`` as the run stores
    them (its start and capital; its end and realized P&L), ``snapshots`` its (ts, equity)."""
    points = sorted((ensure_utc(t), float(e)) for t, e in snapshots)
    start, end = _when(spec.get("start")), _when((figures or {}).get("end"))
    raw = spec.get("initial_capital")
    capital = None if raw is None else Decimal(str(raw))
    if start is not None and capital is not None and (not points or points[0][0] > start):
        points.insert(0, (start, float(capital)))
    late = end is not None and (not points or points[-1][0] < end)
    if late and capital is not None and figures and figures.get("realized_pnl") is not None:
        points.append((end, float(capital + Decimal(str(figures["realized_pnl"])))))
    return Curve(tuple(t for t, _ in points), tuple(e for _, e in points))
