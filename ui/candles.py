"""The price chart's figure: candles with each position's entry and exit marked.

Presentation only: the candles come from ``hx.market.chart_candles`` and the positions from
``hx.positions.trades_in_range`` (``TradeMark``: entry, exit, the exit reason, stop and target);
this module draws them, so the figure is built and tested without a browser.

- One candlestick trace; one "Entry" marker per position (a triangle pointing up for a BUY,
  turned down, ``marker.angle`` 180, for a SELL) and one exit marker per closed position,
  coloured by its exit reason (``EXIT_COLOURS``: one trace per reason, so the legend names them).
- The stop and target of each open position as horizontal lines from its entry to the end of
  the range.
- Every marker carries its position id (``customdata``) and a hover with the id, side, margin,
  leverage, entry, exit and P&L; a click on one selects it (``selected_position``) and the page
  opens that position's story at ``story_link(id)``.
- Times are shown in the trading-day zone (the x axis holds that zone's wall-clock times).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from helios.money import fmt_zar
from helios.positions.exit_reasons import (
    EMERGENCY,
    EXIT_REASONS,
    MANUAL,
    STOP_LOSS,
    TAKE_PROFIT_EXIT,
    TIMEOUT_EXIT,
    TRAILING_STOP,
)
from helios.positions.trade_marks import TradeMark

EXIT_COLOURS = {
    STOP_LOSS: "#d62728",  # red
    TRAILING_STOP: "#ff7f0e",  # orange
    TAKE_PROFIT_EXIT: "#2ca02c",  # green
    TIMEOUT_EXIT: "#8c8c8c",  # grey
    MANUAL: "#1f77b4",  # blue
    EMERGENCY: "#9467bd",  # purple
}
ENTRY_COLOUR = "#17becf"
STOP_COLOUR = "#d62728"
TARGET_COLOUR = "#2ca02c"
ENTRY_NAME = "Entry"
STOP_NAME = "Stop (open positions)"
TARGET_NAME = "Target (open positions)"
MARKER_SIZE = 11


def story_link(position_id: int) -> str:
    """Where a position's story opens: the Positions page with the position chosen."""
    return f"/positions?position={int(position_id)}"


def exit_trace_name(reason: str) -> str:
    return f"Exit: {reason}"


def _local(when: datetime | pd.Series | pd.DatetimeIndex, zone: ZoneInfo) -> Any:
    """UTC times as the trading-day zone's wall-clock times (what the axis shows)."""
    if isinstance(when, datetime):
        return when.astimezone(zone).replace(tzinfo=None)
    return pd.DatetimeIndex(when).tz_convert(zone).tz_localize(None)


def _local_times(times: Sequence[datetime], zone: ZoneInfo) -> pd.DatetimeIndex:
    """Many UTC times on the zone's wall clock at once (one conversion, not one per marker)."""
    return _local(pd.DatetimeIndex(pd.to_datetime(list(times), utc=True)), zone)


def hover_text(mark: TradeMark, zone: ZoneInfo, local: Mapping[str, str] | None = None) -> str:
    """What a marker's hover says: id, side, size, entry, exit (and why) and P&L. ``local``:
    the entry and exit times already written on the zone's clock (``build_figure`` converts
    them all at once)."""
    label = "%Y-%m-%d %H:%M"
    if local is None:
        local = {"entry": f"{_local(mark.entry_time, zone):{label}}"}
        if mark.exit_time is not None:
            local["exit"] = f"{_local(mark.exit_time, zone):{label}}"
    lines = [
        f"<b>Position {mark.position_id}</b> · {mark.side} · {mark.status}",
        f"Margin {fmt_zar(mark.margin)} · {float(mark.leverage):g}x · qty {mark.quantity}",
        f"Entry {fmt_zar(mark.entry_price)} at {local['entry']}",
    ]
    if mark.exit_time is not None and mark.exit_price is not None:
        lines.append(f"Exit {fmt_zar(mark.exit_price)} at {local['exit']} ({mark.exit_reason})")
        lines.append(f"Net P&L {fmt_zar(mark.pnl) if mark.pnl is not None else '-'}")
    else:
        lines.append(
            f"Stop {fmt_zar(mark.stop) if mark.stop else '-'} · "
            f"target {fmt_zar(mark.target) if mark.target else '-'}"
        )
        lines.append(f"Unrealized P&L {fmt_zar(mark.pnl) if mark.pnl is not None else '-'}")
    lines.append("Click to open its story")
    return "<br>".join(lines)


def _objects(values: Sequence[Any], rows: bool = False) -> np.ndarray:
    """A numpy object array (Plotly checks it at once and sends it as a plain JSON list, where
    a Python list is checked value by value); ``rows``: one [value] row each (``customdata``)."""
    array = np.empty((len(values), 1) if rows else len(values), dtype=object)
    if rows:
        array[:, 0] = list(values)
    else:
        array[:] = list(values)
    return array


def _markers(
    name: str,
    ids: Sequence[int],
    x: pd.DatetimeIndex,
    y: Sequence[float],
    text: Sequence[str],
    **marker: Any,
) -> dict[str, Any]:
    """One marker trace (a plain dict: Plotly validates it once, in the figure)."""
    return {
        "type": "scatter",
        "name": name,
        "x": x,
        "y": np.asarray(y, dtype=float),
        "mode": "markers",
        "marker": {"size": MARKER_SIZE, "line": {"width": 1, "color": "#222222"}, **marker},
        "customdata": _objects(ids, rows=True),
        "text": _objects(text),
        "hovertemplate": "%{text}<extra></extra>",
    }


def _level_lines(
    name: str, marks: Sequence[TradeMark], level: str, end: datetime, zone: ZoneInfo, colour: str
) -> go.Scatter:
    """Horizontal segments from each open position's entry to ``end`` at its stop or target."""
    x: list[Any] = []
    y: list[float | None] = []
    ids: list[list[int] | None] = []
    for mark in marks:
        value = getattr(mark, level)
        if value is None:
            continue
        x += [_local(mark.entry_time, zone), _local(end, zone), None]
        y += [float(value), float(value), None]
        ids += [[mark.position_id], [mark.position_id], None]
    return go.Scatter(
        name=name,
        x=x,
        y=y,
        mode="lines",
        line={"color": colour, "width": 1.5, "dash": "dash"},
        customdata=ids,
        hovertemplate=f"{name.split(' ')[0]} %{{y:,.2f}} (position %{{customdata[0]}})"
        "<extra></extra>",
    )


def build_figure(
    candles: pd.DataFrame,
    trades: Sequence[TradeMark],
    *,
    pair: str,
    interval: str,
    end: datetime,
    zone: str,
) -> go.Figure:
    """The chart: ``candles`` (timestamp, open, high, low, close), the markers of ``trades``
    and the stop and target lines of the open ones up to ``end``; times in ``zone``.

    Built for a year of hourly candles and thousands of positions: every time converted to the
    zone in one go, each position's hover text written once (its entry and exit markers share
    it), the marker traces handed to Plotly as numpy arrays."""
    tz = ZoneInfo(zone)
    data: list[Any] = [
        go.Candlestick(
            name=f"{pair} {interval}",
            x=_local(candles["timestamp"], tz),
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=candles["close"],
            showlegend=False,
        )
    ]
    label = "%Y-%m-%d %H:%M"
    ended = [m for m in trades if m.exit_time is not None and m.exit_price is not None]
    entry_x = _local_times([m.entry_time for m in trades], tz)
    exit_x = _local_times([m.exit_time for m in ended if m.exit_time is not None], tz)
    entry_at = dict(zip((m.position_id for m in trades), entry_x.strftime(label), strict=True))
    exit_at = dict(zip((m.position_id for m in ended), exit_x.strftime(label), strict=True))
    texts = {
        m.position_id: hover_text(
            m, tz, {"entry": entry_at[m.position_id], "exit": exit_at.get(m.position_id, "")}
        )
        for m in trades
    }
    if trades:
        data.append(
            _markers(
                ENTRY_NAME,
                [m.position_id for m in trades],
                entry_x,
                [float(m.entry_price) for m in trades],
                [texts[m.position_id] for m in trades],
                color=ENTRY_COLOUR,
                symbol="triangle-up",
                angle=np.array([0 if m.side == "BUY" else 180 for m in trades]),
            )
        )
    by_reason = pd.Series([m.exit_reason for m in ended], dtype=object)
    for reason in EXIT_REASONS:
        rows = np.flatnonzero((by_reason == reason).to_numpy())
        if len(rows):
            chosen = [ended[i] for i in rows]
            data.append(
                _markers(
                    exit_trace_name(reason),
                    [m.position_id for m in chosen],
                    exit_x[rows],
                    [float(m.exit_price) for m in chosen if m.exit_price is not None],
                    [texts[m.position_id] for m in chosen],
                    color=EXIT_COLOURS[reason],
                    symbol="circle",
                )
            )
    still_open = [m for m in trades if m.is_open]
    if still_open:
        data.append(_level_lines(STOP_NAME, still_open, "stop", end, tz, STOP_COLOUR))
        data.append(_level_lines(TARGET_NAME, still_open, "target", end, tz, TARGET_COLOUR))
    figure = go.Figure(data=data)
    figure.update_layout(
        height=560,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        xaxis={"rangeslider": {"visible": False}, "title": f"Time ({zone})"},
        yaxis={"title": "Price (ZAR)", "tickformat": ",.2f"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="closest",
        clickmode="event+select",
    )
    return figure


def marker_count(figure: go.Figure) -> int:
    """The entry and exit markers drawn (one entry per position, one exit per closed one)."""
    return sum(
        len(trace.x)
        for trace in figure.data
        if trace.type == "scatter" and trace.mode == "markers" and trace.x is not None
    )


def selected_position(selection: Mapping[str, Any] | None) -> int | None:
    """The position id of the first marker or line chosen in a chart selection event
    (``st.plotly_chart(..., on_select="rerun")``'s ``selection``), or None."""
    if not selection:
        return None
    for point in selection.get("points") or []:
        data = point.get("customdata")
        if isinstance(data, list | tuple) and data:
            data = data[0]
        if isinstance(data, int | float) and not isinstance(data, bool) and data >= 1:
            return int(data)
        if isinstance(data, str) and data.isdigit():
            return int(data)
    return None
