"""A seeded database for the notebook tests: a real paper book a few minutes old, written by the
library itself (signals through the trading loop, a refused one, a close, snapshots).

The notebooks run in a kernel with the real clock, so the book is written with a hand-moved clock
that starts a few minutes before now and stays behind the wall clock, all of it inside one trading
day (``Book.day``): today's, or, within minutes of midnight in the trading-day zone, the day
before (the last minutes before midnight), so the daily report of ``Book.day`` always has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import helios
from helios.clock import ManualClock, trading_day, trading_day_start
from tests.factories import connect_book, give_market

ZONE = "Africa/Johannesburg"
SPAN = timedelta(minutes=4)  # the hand-moved clock advances 3 minutes while writing the book


@dataclass(frozen=True)
class Book:
    url: str
    opened: int  # a BTCZAR position still open, sized by the sizing rule
    closed: int  # an ETHZAR position opened (sized) and closed by hand
    opened_signal: int  # the signal that opened ``opened``
    refused_signal: int  # a SOLZAR signal the checks refused (single position)
    day: date  # the trading day the whole book was written in (today, or yesterday near midnight)


def seed_book(url: str) -> Book:
    now = datetime.now(UTC)
    start = now - timedelta(minutes=8)
    if trading_day(start, ZONE) != trading_day(start + SPAN, ZONE):  # it would straddle midnight
        start = trading_day_start(trading_day(now, ZONE), ZONE) - SPAN - timedelta(minutes=1)
    clock = ManualClock(start)
    with connect_book(url, clock) as hx:
        give_market(hx)
        hx.take_snapshot()
        sized = {"stop_loss_pct": 0.02, "take_profit_pct": 0.06}
        btc = hx.signals.submit(
            "BTCZAR",
            "BUY",
            0.85,
            True,
            llm_reasoning="breakout",
            predicted_return=0.03,
            trade_params=sized,
        )
        eth = hx.signals.submit(
            "ETHZAR",
            "BUY",
            0.8,
            True,
            llm_reasoning="trend",
            predicted_return=0.02,
            trade_params=sized,
        )
        # half the book in one pair: check 4 (single position, 20%) refuses it
        sol = hx.signals.submit(
            "SOLZAR",
            "BUY",
            0.9,
            True,
            llm_reasoning="too big",
            trade_params={"position_size_zar": 50_000, **sized},
        )
        hx.signals.process_pending()
        clock.advance(seconds=60)
        hx.take_snapshot()
        hx.market.set_price("BTCZAR", "1212000")
        hx.market.set_price("ETHZAR", "60600")
        clock.advance(seconds=60)
        signals = {s["id"]: s for s in hx.signals.recent(10)}
        opened = signals[btc["signal_id"]]["position_id"]
        closed = signals[eth["signal_id"]]["position_id"]
        assert opened and closed, signals
        assert signals[sol["signal_id"]]["status"] == "REJECTED", signals[sol["signal_id"]]
        done = hx.positions.close_position(closed, "CLOSED", actor="tester")
        assert done["success"], done
        clock.advance(seconds=60)
        hx.take_snapshot()
        assert hx.ledger.valuation().equity > Decimal(0)
    assert clock.now() < start + SPAN <= now
    day = trading_day(start, ZONE)
    return Book(url, int(opened), int(closed), int(btc["signal_id"]), int(sol["signal_id"]), day)


def connect_now(url: str) -> helios.Helios:
    """The book read as the notebooks read it: the real clock, no reconcile."""
    return helios.connect(url, market_feed="manual", reconcile=False)


def run_notebook(
    name: str, parameters: dict[str, object], *, html: bool = True
) -> tuple[str, list[str]]:
    """Run ``notebooks/<name>`` (failing on any error cell) and return its outputs as text
    (what it printed, and each display as HTML when ``html`` and it has some, else plain text)
    and the MIME types displayed."""
    from helios.cli import notebooks

    nb = notebooks.execute(notebooks.notebook_path(name), parameters)
    assert notebooks.error_outputs(nb) == []
    texts: list[str] = []
    kinds: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                kinds += list(out.data)
                shown = out.data.get("text/html") if html else None
                texts.append(shown or out.data.get("text/plain", ""))
    return "\n".join(texts), kinds
