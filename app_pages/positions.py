"""Positions: open ones with their entry time, live P&L, distance to stop and target and time
left, a Close for the position picked (bound to its id, with confirmation); the closed trades
list as a trader reads it (``ui/trades.py``: filters, paging, CSV); one position's full story,
opened by its id or by a link, ``/positions?position=ID`` (``ui/position_link.py``).

Everything comes from ``hx.positions`` (``get_open_positions``, ``closed_trades``,
``position_history``); closing goes through ``close_position``, as everywhere else.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

import ui
from helios.errors import InvalidInput
from ui.position_link import PARAM, Requested, requested_position
from ui.status import flash, show_flash
from ui.trades import closed_trades

hx = ui.helios_or_stop()
zone = hx.settings.trading_day_timezone
show_flash("positions")  # the outcome of the Close just confirmed, once


def money(value: object) -> str:
    return ui.fmt_zar(value) if value is not None else "-"


def pct(value: float | None) -> str:
    return ui.fmt_pct(value) if value is not None else "-"


def open_table(rows: list[dict]) -> None:
    st.subheader("Open positions")
    if not rows:
        st.info(
            "No open positions. They appear here when the trading loop opens one from a signal "
            "(or a trade preview is executed)."
        )
        return
    frame = pd.DataFrame(
        [
            {
                "ID": r["position_id"],
                "Pair": r["pair"],
                "Side": r["side"],
                "Status": r["status"],
                "Margin": money(r["position_size_zar"]),
                "Leverage": f"{float(r['leverage']):g}x",
                "Entry time": ui.fmt_time(r["opened_at"], zone),
                "Entry": money(r["entry_price"]),
                "Price": money(r["price"]),
                "Unrealized P&L": money(r["unrealized_pnl"]),
                "P&L %": pct(r["unrealized_pnl_pct"]),
                "To stop": pct(r["distance_to_stop_pct"]),
                "To target": pct(r["distance_to_target_pct"]),
                "Time left": ui.fmt_hours(r["time_left_hours"]),
                "Demo": ui.demo_tag(reasoning=r["strategic_reasoning"]),
            }
            for r in rows
        ]
    )
    pinned = {
        "ID": st.column_config.NumberColumn("ID", pinned=True, format="%d"),
        "Pair": st.column_config.TextColumn("Pair", pinned=True),
        "Unrealized P&L": st.column_config.TextColumn("Unrealized P&L", pinned=True),
        "Entry time": st.column_config.TextColumn("Entry time", width="medium"),
    }
    st.dataframe(frame, hide_index=True, width="stretch", column_config=pinned)
    st.caption(
        "To stop / to target: room left as a share of the price (negative: already crossed, the "
        "monitor acts on its next pass). Time left: until the maximum holding time closes it."
    )


# The Close is bound to a position id, kept in session state, never to the picker's place in a
# list that changes under the operator (the trading loop opens and closes positions): PICK is the
# id chosen, ARMED the id a first click armed (its name starts with ui.ARMED_PREFIX, so leaving
# the page disarms it), GONE the message left when the chosen id stopped being open.
PICK, ARMED, GONE = "close_pick", "armed_close", "close_gone"
PICKER = "close_id"  # the selectbox's key


def picked() -> None:
    """The operator chose in the picker (on_change, before the run): that id is the choice; a
    new choice disarms and clears the message about the one before."""
    value = st.session_state.get(PICKER)
    st.session_state[PICK] = value if isinstance(value, int) else None
    st.session_state[ARMED] = None
    st.session_state.pop(GONE, None)


def no_longer_open(position_id: int) -> str:
    """Why ``position_id`` left the closable ones: its status and the close asked for it."""
    try:
        story = hx.positions.position_history(position_id)
    except InvalidInput:
        fate = "not found"
    else:
        asked = [e["message"] for e in story["events"] if e["kind"] == "CLOSE_REQUESTED"]
        fate = story["position"]["status"] + (f": {asked[-1]}" if asked else "")
    return f"Position {position_id} is no longer open ({fate}): nothing was closed; pick again."


def close_one(rows: list[dict]) -> None:
    st.subheader("Close a position")
    closable = {r["position_id"]: r for r in rows if r["status"] == "OPEN"}
    pick, armed = st.session_state.get(PICK), st.session_state.get(ARMED)
    gone = next((i for i in (armed, pick) if i is not None and i not in closable), None)
    if gone is not None:  # closed (or closing) elsewhere: disarm, and no other takes its place
        st.session_state[GONE] = no_longer_open(gone)
        st.session_state[PICK] = st.session_state[ARMED] = pick = armed = None
    if st.session_state.get(GONE):
        st.warning(st.session_state[GONE], icon=":material/warning:")
    if armed is not None and armed != pick:  # never armed for another than the one shown
        st.session_state[ARMED] = armed = None
    if not closable:
        st.caption("Nothing to close.")
        return
    if st.session_state.get(PICKER) != pick:  # the picker shows the id chosen, or nothing
        st.session_state[PICKER] = pick

    def label(i: object) -> str:
        # Only what never changes for a position: a browser sends back the text of the option
        # it shows, so a label that moved (a P&L) would no longer name the position chosen.
        row = closable.get(i)
        if row is None:
            return str(i)
        return f"{i} · {row['pair']} {row['side']} · margin {money(row['position_size_zar'])}"

    shown = st.selectbox(
        "Position",
        list(closable),
        index=None,
        placeholder="Pick the position to close",
        key=PICKER,
        format_func=label,
        on_change=picked,
        help="Every open position can be closed here; the confirmation names the one chosen.",
    )
    who = ui.who_input("close_who", help="Recorded with the close.")
    if armed is None:
        if st.button("Close position", key="close_arm"):
            if pick is None or shown != pick:
                st.error("Pick the position to close first.")
            elif not who.strip():
                st.error("Enter your name first: every close records who asked for it.")
            else:
                st.session_state[ARMED] = pick
                st.session_state.pop(GONE, None)
                st.rerun()
        return
    row = closable[armed]
    st.warning(
        f"Close position {armed} at market now? {row['pair']} {row['side']}, margin "
        f"{money(row['position_size_zar'])}, unrealized P&L {money(row['unrealized_pnl'])}."
    )
    yes, no = st.columns(2)
    if no.button("Cancel", key="close_cancel"):
        st.session_state[ARMED] = None
        st.rerun()
    if yes.button(f"Confirm: close position {armed}", key="close_confirm", type="primary"):
        if not who.strip():  # cleared after arming: stays armed until a name is given
            st.error("Enter your name first: every close records who asked for it.")
            return
        # done or refused: disarmed either way, and nothing left chosen (the picker empty)
        st.session_state[ARMED] = st.session_state[PICK] = None
        if shown != armed:  # what the picker shows is what was armed, or nothing is closed
            flash("positions", "error", "Not closed: the position shown is not the one armed.")
            st.rerun()
        try:
            result = hx.positions.close_position(int(armed), "CLOSED", actor=who.strip())
        except InvalidInput as exc:
            result = {"success": False, "reason": str(exc)}
        if result.get("success"):
            flash(
                "positions",
                "success",
                f"Position {armed} closed at {money(result.get('exit_price'))}, "
                f"realized {money(result.get('realized_pnl'))}.",
            )
        else:
            flash("positions", "error", f"Not closed: {result.get('reason')}")
        # The frame (open table, sidebar, halt banner) was drawn before the close: draw it all
        # again from the database, the outcome on top.
        st.rerun()


@st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
def open_positions() -> None:
    """The open positions and the Close, from one read, refreshed on their own: the picker
    lists what the table shows, and a chosen position closed elsewhere is seen within a
    refresh."""
    rows = hx.positions.get_open_positions()
    open_table(rows)
    close_one(rows)


def when(iso: str | None) -> str:
    return ui.fmt_time(datetime.fromisoformat(iso), zone) if iso else "-"


def signal_story(signal_id: int | None) -> None:
    st.markdown("**Signal**")
    if signal_id is None:
        st.caption("No signal: opened by hand (trade preview, notebook or CLI).")
        return
    signal = hx.signals.get(int(signal_id))
    confidence = signal["confidence"]
    predicted = signal["predicted_return"]
    tag = f":orange-badge[{ui.DEMO}] " if ui.demo_tag(source=signal["source"]) else ""
    st.markdown(
        f"{tag}Signal {signal['id']} from `{signal['source']}`: {signal['side']} {signal['pair']}, "
        f"confidence {'-' if confidence is None else f'{confidence:.2f}'}, predicted return "
        f"{pct(predicted)}, LLM {'approved' if signal['llm_approved'] else 'not approved'}; "
        f"received {ui.fmt_time(signal['received_at'], zone)}, {signal['status']}"
        + (f" ({signal['status_reason']})" if signal["status_reason"] else "")
    )


def decision_story(decision: dict | None) -> None:
    st.markdown("**Risk decision**")
    if decision is None:
        st.caption("No risk decision recorded (opened outside the risk manager).")
        return
    st.markdown(
        f"Decision {decision['id']} at {when(decision['ts'])}: "
        f"{'passed' if decision['passed'] else 'refused'} - {decision['reason']}"
    )
    for pre in decision.get("pre_checks") or []:
        st.caption(
            f"Pre-check {ui.PRE_CHECK_LABELS.get(pre['name'], pre['name'])}: "
            f"{'passed' if pre['passed'] else 'FAILED'} - {pre['message']}"
        )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "#": c["number"],
                    "Check": c["name"],
                    "Passed": "yes" if c["passed"] else "NO",
                    "Value": ui.fmt_limit_value(c["limit_name"], c["value"]),
                    "Limit": ui.fmt_limit_value(c["limit_name"], c["limit"]),
                    "Why": c["message"],
                }
                for c in decision["checks"]
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def table_or_caption(title: str, rows: list[dict], columns: dict[str, str], empty: str) -> None:
    st.markdown(f"**{title}**")
    if not rows:
        st.caption(empty)
        return
    frame = pd.DataFrame(rows)[list(columns)].rename(columns=columns)
    st.dataframe(frame, hide_index=True, width="stretch")


def story_of(story: dict) -> None:
    position = story["position"]
    st.markdown(
        f"**{position['side']} {position['pair']}**, {position['status']}, margin "
        f"{money(position['position_size_zar'])} x {position['leverage']}; entry "
        f"{money(position['entry_price'])}, stop {money(position['stop_loss_price'])}, target "
        f"{money(position['take_profit_price'])}; exit {money(position['exit_price'])}, "
        f"realized {money(position['realized_pnl'])}"
        + (f" ({position['close_reason']})" if position["close_reason"] else "")
    )
    if ui.demo_tag(reasoning=position["strategic_reasoning"]):
        st.badge(ui.DEMO, icon=":material/science:", color="orange", help=ui.DEMO_HELP)
    if position["strategic_reasoning"]:
        st.caption(f"Reasoning: {position['strategic_reasoning']}")
    if position["error"]:
        st.error(position["error"])
    signal_story(position["signal_id"])
    decision_story(story["decision"])
    table_or_caption(
        "Orders",
        [
            {**o, "quote_amount": money(o["quote_amount"]), "created_at": when(o["created_at"])}
            for o in story["orders"]
        ],
        {
            "client_order_id": "Client order id",
            "action": "Action",
            "side": "Side",
            "quote_amount": "ZAR amount",
            "quantity": "Quantity",
            "status": "Status",
            "error": "Error",
            "created_at": "Sent",
        },
        "No order sent.",
    )
    table_or_caption(
        "Fills",
        [
            {**f, "price": money(f["price"]), "fee": money(f["fee"]), "ts": when(f["ts"])}
            for f in story["fills"]
        ],
        {
            "client_order_id": "Client order id",
            "price": "Price",
            "quantity": "Quantity",
            "fee": "Fee",
            "ts": "Filled",
        },
        "No fill.",
    )
    moves = [
        {
            "ts": when(e["ts"]),
            "from": money((e["details"] or {}).get("from")),
            "to": money((e["details"] or {}).get("to")),
            "message": e["message"],
        }
        for e in story["events"]
        if e["kind"] == "STOP_MOVED"
    ]
    table_or_caption(
        "Stop moves",
        moves,
        {"ts": "When", "from": "From", "to": "To", "message": "Why"},
        "The stop has not moved."
        + (
            " This position has no trailing stop."
            if position["trailing_activation_pct"] is None
            else " The trailing stop moves it once the price has run far enough."
        ),
    )
    table_or_caption(
        "Events",
        [{**e, "ts": when(e["ts"])} for e in story["events"]],
        {"ts": "When", "kind": "Event", "message": "What"},
        "No event.",
    )


def story_chosen() -> None:
    """The operator typed another id: the address follows (a link to share), or loses it."""
    chosen = st.session_state.get(STORY_KEY)
    st.session_state[LINK_KEY] = chosen  # typed here: not a new link, the story stays put
    if chosen is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = str(int(chosen))


def story_section(asked: Requested) -> None:
    """The story of the position typed in, or the one the address names (a deep link)."""
    st.subheader("A position's story")
    st.caption(
        "The signal it came from, the risk decision with all 7 checks, its orders and fills, "
        "every stop move and event, in order. Link to one: /positions?position=ID."
    )
    if asked.problem is not None:
        st.error(asked.problem, icon=":material/link_off:")
    story_id = st.number_input(
        "Position ID", min_value=1, step=1, value=None, key=STORY_KEY, on_change=story_chosen
    )
    if story_id is None:
        return
    try:
        story = hx.positions.position_history(int(story_id))
    except InvalidInput:
        st.error(
            f"There is no position {int(story_id)} in this database"
            + (" (the link names one it does not hold)." if story_id == asked.position_id else ".")
            + " The ids are in the position tables.",
            icon=":material/search_off:",
        )
    else:
        story_of(story)


# /positions?position=ID opens that story first (the chart's markers link here); a link with a
# value that is no id says so, also first. An id typed into the story's box goes into the
# address too (a link to share) without moving the story.
STORY_KEY, LINK_KEY, ON_TOP = "story_id", "story_linked", "story_on_top"
asked = requested_position(st.query_params)
if asked.position_id is not None and st.session_state.get(LINK_KEY) != asked.position_id:
    st.session_state[LINK_KEY] = st.session_state[STORY_KEY] = asked.position_id  # a new link
    st.session_state[ON_TOP] = True
elif asked.position_id is None:
    st.session_state[ON_TOP] = False
linked = asked.problem is not None or bool(st.session_state.get(ON_TOP))
if linked:
    story_section(asked)
open_positions()
closed_trades(hx, zone)
if not linked:
    story_section(asked)
