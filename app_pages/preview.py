"""Trade preview: a proposed trade against the 7 checks before it is made.

The inputs go to ``hx.risk.preview`` (the 7 checks and the headroom on each limit, nothing
stored), ``hx.risk.size_position`` (the size the sizing rule suggests) and, on Execute,
``hx.positions.open_position`` (which checks again and stores the decision). Nothing is computed
here but the stop and target prices shown from the latest price, for reading only.

Execute is two steps: the first click arms it and names the trade ("Buy 0.00075 BTCZAR at
~R1,200,000.00 (R903.00), stop ..., target ...") with Confirm and Cancel; changing an input
disarms it. The outcome stays at the top until the next Execute, Confirm or Cancel (with a link to
the new position's story), and the preview below is drawn again from the database: the same trade
judged again now counts the position just opened, which is said in a neutral note rather than as
a red refusal beside the success.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from helios.errors import InvalidInput

ARMED = f"{ui.ARMED_PREFIX}preview"  # the trade a first click armed (leaving the page disarms)
OUTCOME = "pv_outcome"  # the last Execute's outcome, shown until the next action

hx = ui.helios_or_stop()
outcome = st.session_state.get(OUTCOME)
if outcome is not None:
    if outcome["ok"]:
        st.success(outcome["text"], icon=":material/check_circle:")
        st.page_link(
            "app_pages/positions.py",
            label=f"Open position {outcome['position_id']}'s story",
            icon=":material/open_in_new:",
            query_params={"position": str(outcome["position_id"])},
        )
    else:
        st.error(outcome["text"], icon=":material/error:")
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

trade = (pair, side, tuple(sorted(params.items())))
result = preview.result
just_opened = outcome is not None and outcome["ok"] and outcome["trade"] == trade
if result.passed:
    st.success(
        "**All 7 checks pass**, and both pre-checks (buying power, price age): this trade may be "
        "made.",
        icon=":material/check_circle:",
    )
elif just_opened:
    st.info(
        "The preview now counts the position just opened: the same trade again would be "
        f"refused ({result.reason}).",
        icon=":material/info:",
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
checks_frame = pd.DataFrame(rows)
st.dataframe(
    checks_frame,
    hide_index=True,
    width="stretch",
    column_config={
        "#": st.column_config.NumberColumn("#", width=40, pinned=True),
        "Check": st.column_config.TextColumn("Check", pinned=True),
        "Passed": st.column_config.TextColumn("Passed", width=70),
        "Why": st.column_config.TextColumn(
            "Why", width=ui.text_width([r["Why"] for r in rows], "Why")
        ),
    },
)

st.markdown("**Pre-checks** (judged before the 7, like the halt)")
pre_rows = [
    {
        "Pre-check": ui.PRE_CHECK_LABELS.get(p.name, p.name),
        "Passed": "yes" if p.passed else "NO",
        "Needs / age": ui.fmt_pre_check_value(p.name, p.value),
        "Free / allowed": ui.fmt_pre_check_value(p.name, p.limit),
        "Why": p.message,
    }
    for p in result.pre_checks
]
pre_frame = pd.DataFrame(pre_rows)
st.dataframe(
    pre_frame,
    hide_index=True,
    width="stretch",
    column_config={
        "Pre-check": st.column_config.TextColumn("Pre-check", pinned=True),
        "Why": st.column_config.TextColumn(
            "Why", width=ui.text_width([r["Why"] for r in pre_rows], "Why")
        ),
    },
)


def execute(armed: dict) -> None:
    """Open the armed trade (the 7 checks run again inside) and keep the outcome."""
    who_name = armed["who"]
    try:
        opened = hx.positions.open_position(
            armed["pair"],
            armed["side"],
            dict(armed["params"]),
            f"manual trade from the dashboard by {who_name}",
        )
    except InvalidInput as exc:
        opened = {"success": False, "reason": str(exc)}
    if opened.get("success"):
        st.session_state[OUTCOME] = {
            "ok": True,
            "position_id": opened["position_id"],
            "trade": armed["trade"],
            "text": f"Position {opened['position_id']} opened at "
            f"{ui.fmt_zar(opened['entry_price'])}: {armed['label']}.",
        }
    else:
        st.session_state[OUTCOME] = {
            "ok": False,
            "trade": armed["trade"],
            "text": f"Not opened: {opened.get('reason')}",
        }


who = ui.who_input("pv_who", help="Recorded with the position.")
armed = st.session_state.get(ARMED)
if armed is not None and (armed["trade"] != trade or armed["who"] != who.strip()):
    armed = None  # an input changed since the first click: that trade is no longer the one shown
    st.session_state.pop(ARMED, None)
if armed is None:
    if st.button("Execute", key="pv_execute", type="primary", disabled=not who.strip()):
        st.session_state.pop(OUTCOME, None)  # a new action: the last outcome is done with
        st.session_state[ARMED] = {
            "pair": pair,
            "side": side,
            "params": tuple(params.items()),
            "trade": trade,
            "who": who.strip(),
            "label": ui.fmt_trade(
                side,
                pair,
                levels.notional_zar,
                levels.reference_price,
                levels.stop_loss_price,
                levels.take_profit_price,
            ),
        }
        st.rerun()
else:
    with st.container(border=True, key="pv_confirmation"):
        st.warning(f"**{armed['label']}**: confirm?", icon=":material/help:")
        yes, no = st.columns(2)
        if no.button("Cancel", key="pv_cancel"):
            st.session_state.pop(ARMED, None)
            st.session_state.pop(OUTCOME, None)
            st.rerun()
        if yes.button("Confirm", key="pv_confirm", type="primary"):
            st.session_state.pop(ARMED, None)  # done or refused: disarmed either way
            execute(armed)
            # The checks, the headroom and the frame above were drawn before the trade: draw
            # them again from the database, the outcome on top.
            st.rerun()
