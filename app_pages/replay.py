"""Replay: what would the guardian have done? Run a replay (with its progress), list the runs,
and show two or more side by side; for a replay of the recorded signals, what actually happened
beside what would have.

Runs come from ``hx.replay`` (each its own SQLite file under ``REPLAY_DIR``), the comparison's
tables from ``helios.replay.comparison``; ``ui.replay`` draws the parts. A run that is not
COMPLETE (failed, or stopped part way) is marked INCOMPLETE and left out of the comparison
unless asked for.
"""

from __future__ import annotations

import streamlit as st

import ui
from helios.errors import InvalidInput
from helios.replay.comparison import breakdown, side_by_side
from ui import replay as parts

hx = ui.helios_or_stop()
today = hx.clock.now().date()
COMPARE = "replay_compare"

st.subheader("Run a replay")
st.caption(
    "History through the same code as live: the signals, sizing, pre-checks, the 7 checks, the "
    "paper fills, the stop monitor, the halts. Each run goes to its own database in "
    f"`{hx.replay.folder}`; nothing here touches this database."
)
values = parts.form(today)
if values is not None:
    try:
        request = parts.request_from(values)
        run = hx.replay.run(request, parts.Progress())
    except InvalidInput as exc:
        st.error(parts.invalid(exc), icon=":material/error:")
    except Exception as exc:  # the engine recorded the run FAILED: say so, not a traceback
        st.error(
            f"The replay failed: {type(exc).__name__}: {exc}. Its run is listed INCOMPLETE.",
            icon=":material/error:",
        )
    else:
        if run.complete:
            st.success(f"Run {run.id} ({run.name}) is complete.", icon=":material/check_circle:")
            chosen = [run.id, *st.session_state.get(COMPARE, [])]
            st.session_state[COMPARE] = list(dict.fromkeys(chosen))
        else:
            st.error(f"Run {run.id} did not complete: {run.error}")

st.subheader("Runs")
runs = hx.replay.runs()
if not runs:
    st.info("No replay yet: run one above (or `helios replay` in a terminal).")
    st.stop()
parts.runs_table(runs)
incomplete = [r for r in runs if not r.complete]
if incomplete:
    st.caption(
        f"{len(incomplete)} run(s) INCOMPLETE (failed, or stopped part way): their figures are "
        "not whole, so they are left out of the comparison unless you include them below."
    )

st.subheader("Compare")
include = st.checkbox(
    "Include incomplete runs", key="replay_include_incomplete", disabled=not incomplete
)
offered = [r for r in runs if r.complete or include]
labels = parts.labels_of(offered)
by_id = {r.id: r for r in offered}
if COMPARE not in st.session_state:
    st.session_state[COMPARE] = [r.id for r in offered if r.complete][:2]
st.session_state[COMPARE] = [i for i in st.session_state[COMPARE] if i in by_id]
picked = st.multiselect(
    "Runs to compare",
    list(by_id),
    format_func=lambda i: f"{labels[i]} ({i})" if labels[i] != i else i,
    key=COMPARE,
)
if not picked:
    st.info("Pick one or more runs to see their figures; two or more side by side.")
    st.stop()
chosen = [by_id[i] for i in picked]
columns = [parts.column_of(hx, r, labels[r.id]) for r in chosen]

st.markdown("**Equity**")
st.plotly_chart(parts.equity_figure(hx, chosen, labels), width="stretch", key="replay_equity")
st.markdown("**Figures**")
parts.draw_table(side_by_side(columns), "replay_figures")
by_pair, by_exit = st.columns(2)
with by_pair:
    st.markdown("**P&L by pair** (positions)")
    parts.draw_table(breakdown(columns, "pair"), "replay_by_pair")
with by_exit:
    st.markdown("**P&L by exit** (positions)")
    parts.draw_table(breakdown(columns, "exit"), "replay_by_exit")

for run in chosen:
    table = parts.actual_table(hx, run, labels[run.id])
    if table is None:
        continue
    st.markdown(f"**{labels[run.id]}: what actually happened beside what would have**")
    st.caption(
        "Left: this database's own positions closed in the run's period (the Review page's "
        "figures) and its signals by what became of them. Right: the same signals replayed "
        "under the run's rules."
    )
    parts.draw_table(table, f"replay_actual_{run.id}")
