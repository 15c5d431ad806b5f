"""Optimizer: Black-Litterman weights from predicted returns and their confidences.

Every figure comes from ``hx.optimizer.explain(...)`` (prior and posterior returns, weights,
efficient frontier, expected return, volatility, Sharpe, fallbacks); this page only collects the
inputs, formats and lays the result out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from helios.errors import InvalidInput

# The seed's example (portfolio-manager.md): predicted return over the horizon, confidence.
SEED_EXAMPLE = {"BTCZAR": (0.05, 0.85), "ETHZAR": (0.03, 0.75), "SOLZAR": (0.08, 0.90)}
DEFAULT_VIEW = (0.0, 0.5)
PREDICTION_RANGE_PCT = 50.0  # the predicted-return sliders span -50%..+50% over the horizon
CHART_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 340,
    "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
}
PRIOR_COLOUR = "#9ca3af"
POSTERIOR_COLOUR = "#2563eb"
CHOSEN_COLOUR = "#dc2626"
CHART_CONFIG = {"displayModeBar": False}

hx = ui.helios_or_stop()
settings = hx.settings
pairs = list(settings.pairs)
periods = settings.periods_per_year


def inputs() -> tuple[dict[str, float], dict[str, float], float]:
    """Predictions (fractions over the horizon), confidences and the horizon in days."""
    predictions: dict[str, float] = {}
    confidences: dict[str, float] = {}
    with st.container(border=True):
        st.markdown("**Predictions**")
        columns = st.columns(len(pairs))
        for column, pair in zip(columns, pairs, strict=True):
            prediction, confidence = SEED_EXAMPLE.get(pair, DEFAULT_VIEW)
            with column:
                percent = st.slider(
                    f"{pair} predicted return (%)",
                    min_value=-PREDICTION_RANGE_PCT,
                    max_value=PREDICTION_RANGE_PCT,
                    value=prediction * 100,
                    step=0.5,
                    format="%.1f%%",
                    key=f"prediction_{pair}",
                    help="Predicted return over the horizon, in percent: the view the model "
                    "pulls the market's prior toward.",
                )
                confidences[pair] = st.slider(
                    f"{pair} confidence",
                    min_value=0.0,
                    max_value=1.0,
                    value=confidence,
                    step=0.01,
                    key=f"confidence_{pair}",
                    help="1 puts the posterior on the view, 0 leaves it at the prior (Idzorek).",
                )
            predictions[pair] = percent / 100
        horizon = st.number_input(
            "Prediction horizon (days)",
            value=settings.max_position_holding_hours / 24,
            step=1.0,
            format="%g",
            key="horizon_days",
            help="Days the predictions cover (default: MAX_POSITION_HOLDING_HOURS / 24).",
        )
    return predictions, confidences, float(horizon)


def convention(result: dict[str, Any]) -> None:
    views = result["views"]
    horizon = views["horizon_days"]
    example = ", ".join(
        f"{pair} {ui.fmt_pct(views['predictions'][pair])} -> {ui.fmt_pct(views['annual'][pair])}"
        for pair in views["pairs"]
    )
    st.markdown(
        f"A prediction r over h days becomes the annual view r x {periods} / h; with {periods} "
        "days it is used as given."
    )
    st.caption(f"Here h = {horizon:g} days: {example} a year.")


ANNUALISED_HELP = (
    "Annualised from the views: a prediction r over h days counts as r x {periods} / h a year, "
    "so a few percent predicted over a few days reads as hundreds of percent a year. It is the "
    "model's arithmetic on the views, not a forecast of the portfolio's year."
)


def metrics(result: dict[str, Any]) -> None:
    note = ANNUALISED_HELP.format(periods=periods)
    cols = st.columns(4)
    cols[0].metric(
        "Expected return (annualised)",
        ui.fmt_pct(result["expected_return"]),
        help=f"Weights x posterior returns. {note}",
        border=True,
    )
    cols[1].metric(
        "Volatility",
        ui.fmt_pct(result["volatility"]),
        help="Annual: sqrt(w' Sigma w) over the posterior covariance.",
        border=True,
    )
    sharpe = result["sharpe"]
    cols[2].metric(
        "Sharpe (annualised)",
        "-" if sharpe is None else f"{sharpe:.2f}",
        help=f"(Expected return - risk-free rate {ui.fmt_pct(result['risk_free_rate'])}) / "
        f"volatility. {note}",
        border=True,
    )
    cols[3].metric(
        "Method",
        result["method"].replace("_", " "),
        help="max sharpe: the tangency portfolio over the Black-Litterman posterior. Anything "
        "else is a fallback, with its reason under Fallbacks below.",
        border=True,
    )
    st.caption(
        ":material/info: Expected return and Sharpe are the views' annualised figures (a "
        f"prediction over {result['views']['horizon_days']:g} days scaled to a year), not a "
        "forecast: short horizons make them large."
    )


def returns_chart(result: dict[str, Any]) -> None:
    st.subheader("Prior vs posterior returns")
    prior, posterior = result["prior_returns"], result["posterior_returns"]
    if prior is None or posterior is None:
        st.info("No returns: the model did not run (see the fallback).", icon=":material/info:")
        return
    figure = go.Figure()
    for name, values, colour in (
        ("Prior", prior, PRIOR_COLOUR),
        ("Posterior", posterior, POSTERIOR_COLOUR),
    ):
        figure.add_bar(
            x=pairs,
            y=[values[pair] for pair in pairs],
            name=name,
            marker_color=colour,
            hovertemplate=f"{name} %{{y:.2%}}<extra></extra>",
        )
    figure.update_layout(**CHART_LAYOUT, barmode="group", yaxis={"tickformat": ".0%"})
    st.plotly_chart(figure, width="stretch", config=CHART_CONFIG)
    st.caption("Annual. Prior: risk-free rate + market-implied equilibrium return.")


def weights_chart(result: dict[str, Any]) -> None:
    st.subheader("Weights")
    weights = result["weights"]
    figure = go.Figure()
    figure.add_bar(
        x=pairs,
        y=[weights[pair] for pair in pairs],
        name="Weight",
        marker_color=POSTERIOR_COLOUR,
        text=[ui.fmt_pct(weights[pair]) for pair in pairs],
        textposition="outside",
        hovertemplate="%{x} %{y:.2%}<extra></extra>",
    )
    figure.update_layout(**CHART_LAYOUT, yaxis={"tickformat": ".0%", "rangemode": "tozero"})
    st.plotly_chart(figure, width="stretch", config=CHART_CONFIG)
    st.caption(f"Long only, each at most {ui.fmt_pct(result['max_weight'])}, summing to 100%.")
    method = hx.settings.sizing_method.value
    use = (
        "trades are sized by Kelly x volatility, capped by these weights of the sector sleeve"
        if method == "optimizer_capped"
        else "trades are sized by Kelly x volatility; these weights do not cap them"
    )
    st.caption(f"Sizing method in force: **{method}** (SIZING_METHOD): {use}.")


def frontier_chart(result: dict[str, Any]) -> None:
    st.subheader("Efficient frontier")
    points = result["efficient_frontier"]
    if not points or result["expected_return"] is None:
        st.info("No frontier: the model did not run (see the fallback).", icon=":material/info:")
        return
    figure = go.Figure()
    figure.add_scatter(
        x=[p["volatility"] for p in points],
        y=[p["expected_return"] for p in points],
        name="Efficient frontier",
        mode="lines+markers",
        line={"color": POSTERIOR_COLOUR, "width": 2},
        marker={"size": 5},
        hovertemplate="Volatility %{x:.2%}<br>Return %{y:.2%}<extra></extra>",
    )
    figure.add_scatter(
        x=[result["volatility"]],
        y=[result["expected_return"]],
        name="Chosen portfolio",
        mode="markers",
        marker={"color": CHOSEN_COLOUR, "size": 14, "symbol": "star"},
        hovertemplate="Chosen: volatility %{x:.2%}<br>Return %{y:.2%}<extra></extra>",
    )
    figure.update_layout(
        **CHART_LAYOUT,
        xaxis={"title": "Volatility (annual)", "tickformat": ".0%"},
        yaxis={"title": "Expected return (annual)", "tickformat": ".0%"},
    )
    st.plotly_chart(figure, width="stretch", config=CHART_CONFIG)


def table(result: dict[str, Any]) -> None:
    views = result["views"]
    prior = result["prior_returns"] or {}
    posterior = result["posterior_returns"] or {}
    frame = pd.DataFrame(
        {
            "Pair": pairs,
            "Prediction": [ui.fmt_pct(views["predictions"].get(p)) for p in pairs],
            "Confidence": [f"{views['confidences'][p]:.2f}" for p in pairs],
            "Annual view": [ui.fmt_pct(views["annual"].get(p)) for p in pairs],
            "Prior": [ui.fmt_pct(prior.get(p)) for p in pairs],
            "Posterior": [ui.fmt_pct(posterior.get(p)) for p in pairs],
            "Weight": [ui.fmt_pct(result["weights"][p]) for p in pairs],
        }
    )
    config: dict[str, Any] = {
        name: st.column_config.TextColumn(
            name, alignment="right", width=ui.text_width(frame[name], name)
        )
        for name in frame.columns
        if name != "Pair"
    }
    config["Pair"] = st.column_config.TextColumn("Pair", pinned=True)
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def rebalance(result: dict[str, Any]) -> None:
    st.subheader("Trades to the target")
    if result["fallback"]:
        st.warning(
            "These weights come from a fallback, not from the views (see Fallbacks): read the "
            "trades below as what the fallback would do, not as advice from the model.",
            icon=":material/warning:",
        )
    rows = hx.risk.trades_to_target(result["weights"])
    frame = pd.DataFrame(
        [
            {
                "Pair": r["pair"],
                "Weight": ui.fmt_pct(r["weight"]),
                "Target": ui.fmt_zar(r["target_notional_zar"]),
                "Held": ui.fmt_zar(r["held_notional_zar"]),
                "Trade": r["side"],
                "Notional": ui.fmt_zar(r["trade_notional_zar"]),
            }
            for r in rows
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="rebalance_table",
        column_config={"Pair": st.column_config.TextColumn("Pair", pinned=True)},
    )
    st.caption(
        "Target = weight x the sector sleeve (max sector exposure x equity), at most the "
        "single-position limit; held is signed (shorts negative). Each trade still goes "
        "through the 7 checks."
    )


def fallbacks(result: dict[str, Any]) -> None:
    st.subheader("Fallbacks")
    taken = result["fallback"]
    if not taken:
        st.success("No fallback: max Sharpe over the Black-Litterman posterior.")
    for fallback in taken:
        st.warning(
            f"**{fallback['kind'].replace('_', ' ')}**: {fallback['reason']}",
            icon=":material/warning:",
        )
    for note in result["warnings"]:
        st.caption(f":material/info: {note}")


predictions, confidences, horizon = inputs()
try:
    explained = hx.optimizer.explain(
        pairs, predictions, confidences, prediction_horizon_days=horizon
    )
except InvalidInput as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

convention(explained)
metrics(explained)
left, right = st.columns(2, gap="large")
with left:
    returns_chart(explained)
with right:
    weights_chart(explained)
frontier_chart(explained)
st.subheader("Per pair")  # the whole width: seven columns are cut off in a side column
table(explained)
fallbacks(explained)
rebalance(explained)
