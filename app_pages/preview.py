"""Trade preview: a proposed trade against the 7 checks before it is made.

The inputs go to ``hx.risk.preview`` (the 7 checks and the headroom on each limit, nothing
stored), ``hx.risk.size_position`` (the size the sizing rule suggests) and, on Execute,
``hx.positions.open_position`` (which checks again and stores the decision). Nothing is computed
here but the stop and target prices shown from the latest price, for reading only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from helios.errors import InvalidInput
from ui.status import flash, show_flash

hx = ui.helios_or_stop()
show_flash("preview")  # the outcome of the Execute just clicked, once
limits = hx.risk.get_limits()
settings = hx.settings

c1, c2, c3 = st.columns(3)
pair = c1.selectbox("Pair", settings.pairs, key="pv_pair")
side = c2.radio("Side", ["BUY", "SELL"], horizontal=True, key="pv_side")
confidence = c3.slider(
    "ML confidence",
    0.05,
    0.95,
    0.75,
    0.05,
    key="pv_confidence",
    help="The win probability the sizing rule (fractional Kelly) uses.",
)
c1, c2, c3, c4 = st.columns(4)
size = c1.number_input(
    "Margin (ZAR)",
    min_value=1.0,
    max_value=1e9,
    value=903.0,
    step=100.0,
    key="pv_size",
    help="position_size_zar: the cash the position ties up; notional = margin x leverage.",
)
leverage = c2.slider(
    "Leverage", 1.0, float(limits.max_leverage), 1.0, 0.5, key="pv_leverage", help="1 = no margin."
)
stop = c3.slider("Stop loss %", 0.5, 20.0, settings.default_stop_loss_pct * 100, 0.5, key="pv_stop")
target = c4.slider(
    "Take profit %", 0.5, 50.0, settings.default_take_profit_pct * 100, 0.5, key="pv_target"
)
params = {
    "position_size_zar": size,
    "leverage": leverage,
    "stop_loss_pct": stop / 100,
    "take_profit_pct": target / 100,
}

try:
    preview = hx.risk.preview(pair, side, params)
    suggested = hx.risk.size_position(pair, side, confidence, stop / 100, target / 100, leverage)
except InvalidInput as exc:
    st.error(str(exc))
    st.stop()

result = preview.result
if result.passed:
    st.success(
        "**All 7 checks pass**, and both pre-checks (buying power, price age): this trade may be "
        "made.",
        icon=":material/check_circle:",
    )
else:
    st.error(f"**Refused**: {result.reason}", icon=":material/block:")

levels = preview.levels
assert levels is not None  # hx.risk.preview always measures them
cols = st.columns(3)
cols[0].metric("Notional", ui.fmt_zar(levels.notional_zar), help="Margin x leverage.", border=True)
cols[1].metric(
    "Suggested margin",
    ui.fmt_zar(suggested.position_size_zar),
    help=f"The sizing rule ({suggested.sizing_method}): {suggested.explanation}",
    border=True,
)
cols[2].metric(
    "ZAR at risk at the stop",
    ui.fmt_zar(levels.zar_at_risk),
    help="Notional x stop distance, before fees and slippage.",
    border=True,
)
if levels.reference_price is not None:
    # Two prices side by side do not fit a metric at 1400 px: a caption under the metrics.
    st.caption(
        f"Stop at **{ui.fmt_zar(levels.stop_loss_price)}**, target at "
        f"**{ui.fmt_zar(levels.take_profit_price)}** from the latest price "
        f"{ui.fmt_zar(levels.reference_price)} (the position's own levels follow its fill price)."
    )
else:
    st.caption(f"No price for {pair} yet: no stop and target levels to show.")

rows = []
room = {h.check: h for h in preview.headroom}
for check in result.checks:
    head = room.get(check.name)
    rows.append(
        {
            "#": check.number,
            "Check": check.name,
            "Passed": "yes" if check.passed else "NO",
            "Value": ui.fmt_limit_value(check.limit_name, check.value),
            "Limit": ui.fmt_limit_value(check.limit_name, check.limit),
            "Headroom": ui.fmt_limit_value(check.limit_name, head.headroom if head else None),
            "More notional that fits": ui.fmt_zar(head.max_additional_notional_zar)
            if head and head.max_additional_notional_zar is not None
            else "-",
            "Why": check.message,
        }
    )
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    width="stretch",
    column_config={"Why": st.column_config.TextColumn("Why", width="large")},
)

st.markdown("**Pre-checks** (judged before the 7, like the halt)")
st.dataframe(
    pd.DataFrame(
        [
            {
                "Pre-check": ui.PRE_CHECK_LABELS.get(p.name, p.name),
                "Passed": "yes" if p.passed else "NO",
                "Needs / age": ui.fmt_pre_check_value(p.name, p.value),
                "Free / allowed": ui.fmt_pre_check_value(p.name, p.limit),
                "Why": p.message,
            }
            for p in result.pre_checks
        ]
    ),
    hide_index=True,
    width="stretch",
    column_config={"Why": st.column_config.TextColumn("Why", width="large")},
)

who = ui.who_input("pv_who", help="Recorded with the position.")
if st.button("Execute", key="pv_execute", type="primary", disabled=not who.strip()):
    try:
        opened = hx.positions.open_position(
            pair, side, params, f"manual trade from the dashboard by {who.strip()}"
        )
    except InvalidInput as exc:
        opened = {"success": False, "reason": str(exc)}
    if opened.get("success"):
        flash(
            "preview",
            "success",
            f"Position {opened['position_id']} opened at {ui.fmt_zar(opened['entry_price'])}",
        )
    else:
        flash("preview", "error", f"Not opened: {opened.get('reason')}")
    # The checks, the headroom and the frame above were drawn before the trade: draw them again
    # from the database, the outcome on top.
    st.rerun()
