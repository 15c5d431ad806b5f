"""The equity curve as a PNG (L2, pure: points in, bytes out; no file, no database, no clock).

Drawn on a ``matplotlib.figure.Figure`` with its own Agg canvas, never through ``pyplot``: pyplot
keeps global state (a current figure, a backend chosen once per process), which two threads
rendering at once (the scheduler's day roll and a dashboard download) would share. matplotlib is
imported when a chart is drawn, not when Helios starts (it costs half a second to import).

The rules: the equity line in ``LINE_COLOR`` (tests find the curve by it), the running peak
behind it as a thin dashed grey line (the distance between the two is the drawdown), times on the
axis in the trading-day zone; no point, no chart (None), never an empty picture.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

LINE_COLOR = "#1f5fbf"
PEAK_COLOR = "#a0a4a8"
SIZE_INCHES = (8.0, 3.6)
DPI = 100


def equity_png(
    times: Sequence[datetime],
    equity: Sequence[Decimal | float],
    title: str,
    zone: str = "UTC",
) -> bytes | None:
    """The curve of ``equity`` at ``times`` (oldest first) as PNG bytes; None without a point."""
    if len(times) != len(equity):
        raise ValueError(f"{len(times)} times for {len(equity)} equity values")
    if not times:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    values = [float(v) for v in equity]
    peaks, top = [], float("-inf")
    for value in values:
        top = max(top, value)
        peaks.append(top)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    # fixed margins, room for "R1,000,049.50" and the date labels (a layout engine would draw
    # the figure twice to measure it); the title says it is the equity
    figure.subplots_adjust(left=0.16, right=0.97, top=0.9, bottom=0.2)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(times, peaks, color=PEAK_COLOR, linewidth=1.0, linestyle="--")
    axes.plot(
        times,
        values,
        color=LINE_COLOR,
        linewidth=1.8,
        marker="o" if len(values) == 1 else None,
    )
    locator = AutoDateLocator(tz=ZoneInfo(zone))
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=ZoneInfo(zone)))
    places = 0 if max(values) - min(values) >= 50 else 2  # cents when the curve is flat
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"R{v:,.{places}f}"))
    axes.set_title(title, fontsize=11)
    axes.grid(True, color="#e3e5e8", linewidth=0.6)
    # a note, not a legend: a legend's sample line would be the equity colour off the curve
    axes.set_xlabel("dashed: the running peak (the gap below it is the drawdown)", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Title": title, "Software": "Helios"})
    return buffer.getvalue()
