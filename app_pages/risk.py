"""Risk: the 7 limits against what the book uses, the risk budget and capacity, the correlation
matrix, recent decisions, and the limits form (human labels, percent for the ``_pct`` limits).

Every number comes from ``hx.risk`` (``utilisation``, ``capacity``, ``market_stats``,
``decisions``, ``get_limits``, ``limit_history``); a change of the limits goes through
``hx.risk.update_limits`` (validated there, versioned with who and when); loosening one needs a
second click.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import ui
from helios.errors import InvalidInput
from helios.risk.limits import LIMIT_RULES, LimitRule, loosened
from helios.risk.volatility import EWMA_MIN_OBS

hx = ui.helios_or_stop()

MEANING = {
    "drawdown": "1 - equity / peak equity. Above the limit every opening trade is refused.",
    "daily_loss": "1 - equity / equity at the start of the trading day.",
    "risk_capacity": "Sum of notional x daily volatility over open positions, as a share of "
    "equity: the ZAR the book could lose on a 1-sigma day.",
    "single_position": "The largest pair's notional as a share of equity.",
    "sector_exposure": "The largest sector's notional as a share of equity.",
    "correlation": "Judged per trade: a new position's correlation with the open book.",
    "leverage": "Total notional / equity.",
}

# Why each limit exists: the limits form's tooltips (what it means comes from LIMIT_RULES).
WHY = {
    "max_drawdown_pct": "Caps the fall from the best equity reached; above it trading halts and, "
    "by default, every position is closed.",
    "daily_loss_limit_pct": "Stops a bad day from becoming a bad month; above it trading halts "
    "until a person resumes.",
    "max_portfolio_risk_exposure_pct": "The risk budget: what the whole book may lose on an "
    "ordinary bad day. It limits how many positions fit, instead of a fixed count.",
    "max_single_position_pct": "No single pair can sink the account.",
    "max_sector_exposure_pct": "Crypto pairs move together; this caps the whole sector's weight.",
    "max_correlation_threshold": "A new position almost identical to the open book adds risk, "
    "not diversification; above this correlation it is refused.",
    "max_leverage": "Leverage multiplies losses as well as gains; this caps the book's notional "
    "as a multiple of equity.",
    "min_position_size_pct": "The smallest position worth opening: the unit in which the risk "
    "budget's remaining room is counted. It refuses no trade by itself.",
}


GAUGES_A_ROW = 4


def gauge(col: DeltaGenerator, row: dict) -> None:
    """One limit's gauge (or, for the per-trade correlation, a metric) in ``col``, in a
    container named after its number (``st-key-limit_gauge_<n>``: the browser test finds it)."""
    col = col.container(key=f"limit_gauge_{row['number']}")
    value, limit = row["value"], row["limit"]
    if value is None:
        col.metric(
            f"{row['number']}. {row['check']}",
            "per trade",
            help=MEANING[row["check"]],
            border=True,
        )
        return
    scale = 1 if row["check"] == "leverage" else 100
    figure = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=value * scale,
            number={"suffix": "x" if row["check"] == "leverage" else "%"},
            title={"text": f"{row['number']}. {row['check']}"},
            gauge={
                "axis": {"range": [0, limit * scale * 1.25]},
                "threshold": {"line": {"color": "red", "width": 3}, "value": limit * scale},
                "bar": {"color": "firebrick" if value > limit else "steelblue"},
            },
        ),
        layout={"height": 210, "margin": {"t": 60, "b": 0, "l": 20, "r": 20}},
    )
    col.plotly_chart(figure, width="stretch", key=f"gauge_{row['check']}")
    shown = ui.fmt_limit_value(row["limit_name"], limit)
    col.caption(f"{MEANING[row['check']]} Limit {shown}.")


@st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
def gauges() -> None:
    st.subheader("The 7 limits")
    rows = hx.risk.utilisation()
    # Row by row (a new set of columns per row), never column by column: on a phone the columns
    # stack, and they then read 1, 2, 3, ... 7 (filled column-major they read 1, 5, 2, 6, ...).
    for start in range(0, len(rows), GAUGES_A_ROW):
        for col, row in zip(
            st.columns(GAUGES_A_ROW), rows[start : start + GAUGES_A_ROW], strict=False
        ):
            gauge(col, row)

    capacity = hx.risk.capacity()
    st.subheader("Risk budget")
    c1, c2, c3 = st.columns(3)
    c1.metric(
        "Budget",
        ui.fmt_zar(capacity["risk_budget_zar"]),
        help="The risk-capacity limit x equity: the most the open book may be expected to lose "
        "on a 1-sigma day. Positions are limited by this budget, not by a count.",
        border=True,
    )
    c2.metric(
        "Used",
        ui.fmt_zar(capacity["risk_used_zar"]),
        help="Sum of notional x daily volatility of the open positions.",
        border=True,
    )
    c3.metric(
        "Left",
        ui.fmt_zar(capacity["risk_left_zar"]),
        help="Budget - used: the room for new positions before check 3 (risk capacity) refuses.",
        border=True,
    )
    fits = capacity["min_positions_that_fit"]
    known = {pair: n for pair, n in fits.items() if n is not None}
    unknown = [pair for pair, n in fits.items() if n is None]
    if known:
        st.caption(
            "Room for "
            + ", ".join(f"{n} more {pair}" for pair, n in known.items())
            + f" minimum-size positions ({ui.fmt_zar(capacity['min_position_notional_zar'])} "
            "notional each, at 1x): what all 7 checks and the buying power accept, one after "
            "another."
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Pair": pair,
                        "More that fit": n,
                        "The next one is refused by": capacity["next_refused_by"][pair],
                    }
                    for pair, n in known.items()
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if unknown:
        reasons = dict.fromkeys(capacity["next_refused_by"][pair] for pair in unknown)
        st.caption(
            f"No capacity figure for {', '.join(unknown)}: {'; '.join(reasons)}. The checks "
            f"fail closed until then (a volatility estimate needs {EWMA_MIN_OBS} completed "
            "daily returns)."
        )


gauges()

st.subheader("Correlation of daily returns")
matrix = hx.risk.market_stats().correlation_matrix()
if matrix.empty:
    st.info("Not enough daily history yet for a correlation matrix (30 aligned days are needed).")
else:
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            text=matrix.round(2).to_numpy(),
            texttemplate="%{text}",
        ),
        layout={"height": 320, "margin": {"t": 10, "b": 10}},
    )
    st.plotly_chart(figure, width="stretch")

st.subheader("Recent decisions")
decisions = hx.risk.decisions(limit=50)
if decisions.empty:
    st.info("No risk decision yet: each signal, preview execution or opened position makes one.")
else:
    zone = hx.settings.trading_day_timezone
    shown = pd.DataFrame(
        {
            "Decision": decisions["id"],
            "When": [ui.fmt_time(t, zone) for t in decisions["ts"]],
            "Pair": decisions["pair"],
            "Side": decisions["side"],
            "Verdict": ["passed" if p else "REFUSED" for p in decisions["passed"]],
            "Limits failed": decisions["violated_limits"],
            "Why": decisions["reason"],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={"Why": st.column_config.TextColumn("Why", width="large")},
    )

st.subheader("Limits")
limits = hx.risk.get_limits()
zone = hx.settings.trading_day_timezone
st.caption(
    f"Version {limits.version}, set by {limits.changed_by} at "
    f"{ui.fmt_time(limits.changed_at, zone)}. Percentages are of equity (15.00 = 15%); hover a "
    "limit's ? for its key and what it does."
)
DONE = "limits_done"  # the confirmation of the last change: stays until the next review
done_slot = st.empty()  # filled below, once this run's review (if any) has cleared it
NAMES = list(LIMIT_RULES)


def unit_label(rule: LimitRule) -> str:
    return f"{rule.label} ({rule.unit})" if rule.unit else rule.label


with st.form("limits"):
    typed = {}
    for start in range(0, len(NAMES), 4):  # row by row, so a phone stacks them in order
        for col, name in zip(st.columns(4), NAMES[start : start + 4], strict=False):
            rule = LIMIT_RULES[name]
            typed[name] = col.number_input(
                unit_label(rule),
                value=float(rule.shown(getattr(limits, name))),
                step=0.5 if rule.percent else 0.05,
                format="%.2f",
                key=f"limit_{name}",
                help=f"Key: `{name}`. {WHY[name]} Allowed: {rule.allowed_shown()}.",
            )
    who = ui.who_input("limits_who", help="Recorded with the change of limits.")
    note = st.text_input("Why", key="limits_note")
    submitted = st.form_submit_button("Review the change")
if submitted:
    st.session_state.pop(DONE, None)  # a new action: the last confirmation has been read
    st.session_state["armed_limits"] = None
    proposed, problems = {}, []
    for name, shown in typed.items():
        try:  # percent -> the stored fraction, exactly (helios.limit_rules)
            proposed[name] = LIMIT_RULES[name].from_shown(repr(shown))
        except InvalidInput as exc:
            problems.append(str(exc))
    for problem in problems:
        st.error(problem, icon=":material/error:")
    changes = {n: v for n, v in proposed.items() if v != getattr(limits, n)}
    if not problems:
        st.session_state["armed_limits"] = (changes, who, note) if changes else None
        if not changes:
            st.info("Nothing changed.")
if st.session_state.get(DONE):
    done_slot.success(st.session_state[DONE], icon=":material/check_circle:")
pending = st.session_state.get("armed_limits")
if pending:
    changes, who, note = pending
    st.markdown(
        "**Proposed change**: "
        + ", ".join(
            f"{LIMIT_RULES[n].label} {LIMIT_RULES[n].fmt(getattr(limits, n))} → "
            f"{LIMIT_RULES[n].fmt(v)}"
            for n, v in changes.items()
        )
    )
    try:
        looser = loosened(limits, limits.from_values({**limits.values(), **changes}))
    except InvalidInput as exc:
        st.error(str(exc))
        looser = None
    if looser is not None:
        if looser:
            named = ", ".join(f"{LIMIT_RULES[n].label} ({n})" for n in looser)
            st.warning(f"This LOOSENS {named}: trades the limits refuse now would pass.")
        if st.button("Confirm the change", key="limits_confirm", type="primary"):
            try:
                after = hx.risk.update_limits(changes, changed_by=who, note=note)
            except InvalidInput as exc:
                st.error(str(exc))
            else:
                st.session_state["armed_limits"] = None
                st.session_state.pop("limits_note", None)  # the next change gives its own why
                st.session_state[DONE] = (
                    f"Limits updated: version {after.version}, set by {after.changed_by} at "
                    f"{ui.fmt_time(after.changed_at, zone)}: "
                    + ", ".join(
                        f"{LIMIT_RULES[n].label} {LIMIT_RULES[n].fmt(getattr(limits, n))} → "
                        f"{LIMIT_RULES[n].fmt(getattr(after, n))}"
                        for n in changes
                    )
                    + "."
                )
                st.rerun()

history = hx.risk.limit_history()
if len(history) > 1:
    st.markdown("**Every version, newest first**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Version": h.version,
                    "Set by": h.changed_by,
                    "When": ui.fmt_time(h.changed_at, zone),
                    **{LIMIT_RULES[n].label: LIMIT_RULES[n].fmt(v) for n, v in h.values().items()},
                }
                for h in history
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "Version": st.column_config.NumberColumn("Version", pinned=True),
            "When": st.column_config.TextColumn("When", width="medium"),
        },
    )
