"""The exact ledger: cash, margin, fees, P&L, equity, peak and start-of-day equity.

Every figure is a hand-computed Decimal (fee 0.35%, slippage 0.05%, the seed's R1,200,000 BTC):

    BUY R10,000 at 1.5x: N = R15,000; fill = 1,200,000 x 1.0005 = 1,200,600
    quantity = 15,000 / 1,200,600 = 0.012493753123 (12 places)
    notional = 1,200,600 x 0.012493753123 = 14,999.99999947 (8 places)
    entry fee = 14,999.9999994738 x 0.0035 = 52.49999999816 -> 52.50000000
    cash = 100,000 - 10,000 - 52.50 = 89,947.50

After every booking the books are proven to agree with themselves (check_invariants).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from factories import booked_position as open_position
from factories import new_position
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import StatementError

import helios
from helios.accounts.account import LedgerInvariantError, account_state
from helios.accounts.book import book_close, book_open
from helios.accounts.invariants import check_invariants
from helios.accounts.valuation import Valuation, mark_to_market
from helios.clock import ManualClock
from helios.db.models import LatestPrice, LedgerEntry, PortfolioSnapshot, PortfolioState, Position
from helios.errors import InvalidInput
from helios.exchange.base import OrderRequest, OrderStatus
from helios.market.prices import latest_prices

D = Decimal
ZONE = "Africa/Johannesburg"


# --- helpers: a position's life through the real paper exchange and the ledger ----------------


def close_position(hx: helios.Helios, position_id: int) -> Decimal:
    """Sell (or buy back) the position's quantity on the paper venue and book the close."""
    with hx.db.read() as session:
        position = session.get(Position, position_id)
        assert position is not None and position.quantity is not None
        pair, side, quantity = position.pair, position.side, position.quantity
    exit_side = "SELL" if side == "BUY" else "BUY"
    fill = hx.paper_exchange.submit_market_order(
        OrderRequest.build(f"pos-{position_id}-close", pair, exit_side, base_amount=quantity)
    )
    assert fill.status is OrderStatus.FILLED
    assert fill.quantity == quantity
    now = hx.clock.now()
    with hx.db.write() as session:
        position = session.get(Position, position_id)
        assert position is not None
        realized = book_close(session, position, fill_price=fill.price, fee=fill.fee, now=now)
        position.status = "CLOSED"
        position.close_reason = "MANUAL"
        position.closed_at = now
        position.updated_at = now
        check_invariants(session, latest_prices(session))
    return realized


def position_row(hx: helios.Helios, position_id: int) -> Position:
    with hx.db.read() as session:
        position = session.get(Position, position_id)
        assert position is not None
        return position


def ledger_entries(hx: helios.Helios) -> list[tuple[str, Decimal, int | None]]:
    with hx.db.read() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        return [(row.kind, row.amount, row.position_id) for row in rows]


# --- a new account ----------------------------------------------------------------------------


def test_a_new_account_holds_R100000_cash_and_one_initial_capital_entry(hx: helios.Helios):
    valuation = hx.ledger.check()
    assert valuation.cash == D("100000")
    assert valuation.equity == D("100000")
    assert valuation.margin == D("0")
    assert valuation.peak_equity == D("100000")
    assert valuation.start_of_day_equity == D("100000")
    assert valuation.drawdown == D("0")
    assert valuation.leverage == D("0")
    assert ledger_entries(hx) == [("INITIAL_CAPITAL", D("100000"), None)]
    with hx.db.read() as session:
        assert account_state(session).trading_day.isoformat() == "2026-11-26"


# --- the seed's BUY ---------------------------------------------------------------------------


def test_a_R10000_BUY_at_1_5x_moves_margin_and_fee_out_of_cash(priced_hx: helios.Helios):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")

    position = position_row(hx, position_id)
    assert position.status == "OPEN"
    assert position.entry_price == D("1200600")
    assert position.quantity == D("0.012493753123")
    assert position.notional == D("14999.99999947")
    assert position.entry_fee == D("52.5")

    valuation = hx.ledger.check()
    assert valuation.cash == D("89947.5")
    assert valuation.margin == D("10000")
    # marked at 1,200,000 the slippage shows at once: -600 x 0.012493753123 = -7.49625187
    assert valuation.unrealized_pnl == D("-7.49625187")
    assert valuation.equity == D("99940.00374813")
    assert valuation.gross_exposure == D("14992.5037476")  # 0.012493753123 x 1,200,000
    assert ledger_entries(hx) == [
        ("INITIAL_CAPITAL", D("100000"), None),
        ("MARGIN_LOCK", D("-10000"), position_id),
        ("FEE", D("-52.5"), position_id),
    ]


def test_when_BTC_rises_to_R1260000_the_BUY_is_R742_12893551_up(priced_hx: helios.Helios):
    hx = priced_hx
    open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    hx.market.set_price("BTCZAR", "1260000")

    valuation = hx.ledger.check()
    # (1,260,000 - 1,200,600) x 0.012493753123 = 742.1289355062
    assert valuation.unrealized_pnl == D("742.12893551")
    assert valuation.cash == D("89947.5")
    assert valuation.equity == D("100689.62893551")
    assert valuation.gross_exposure == D("15742.12893498")
    [mark] = valuation.positions
    assert mark.mark_price == D("1260000")
    assert mark.entry_price == D("1200600")


def test_closing_the_BUY_at_R1260000_realizes_the_gain_net_of_both_fees(
    priced_hx: helios.Helios,
):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    hx.market.set_price("BTCZAR", "1260000")

    realized = close_position(hx, position_id)

    # sell at 1,260,000 x 0.9995 = 1,259,370
    # gross = 58,770 x 0.012493753123 = 734.25787104
    # exit fee = 1,259,370 x 0.012493753123 x 0.0035 = 55.06990255
    # realized = 734.25787104 - 52.50 - 55.06990255 = 626.68796849
    assert realized == D("626.68796849")
    position = position_row(hx, position_id)
    assert position.status == "CLOSED"
    assert position.exit_price == D("1259370")
    assert position.exit_fee == D("55.06990255")
    assert position.realized_pnl == D("626.68796849")

    valuation = hx.ledger.check()
    assert valuation.cash == D("100626.68796849")
    assert valuation.cash == D("100000") + realized
    assert valuation.equity == valuation.cash
    assert valuation.margin == D("0")
    assert valuation.positions == []
    assert ledger_entries(hx)[3:] == [
        ("MARGIN_RELEASE", D("10000"), position_id),
        ("REALIZED_PNL", D("734.25787104"), position_id),
        ("FEE", D("-55.06990255"), position_id),
    ]


def test_a_R10000_SELL_at_2x_gains_when_BTC_falls_5pct(priced_hx: helios.Helios):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "SELL", "10000", "2")

    # sell at 1,200,000 x 0.9995 = 1,199,400; quantity = 20,000 / 1,199,400 = 0.016675004168
    # (truncated: a venue never fills more than the quote amount, so the fee never exceeds the
    # fee the buying power counted)
    position = position_row(hx, position_id)
    assert position.entry_price == D("1199400")
    assert position.quantity == D("0.016675004168")
    assert position.notional == D("19999.9999991")
    assert position.entry_fee == D("70")
    valuation = hx.ledger.check()
    assert valuation.cash == D("89930")
    assert valuation.unrealized_pnl == D("-10.0050025")
    assert valuation.equity == D("99919.9949975")

    hx.market.set_price("BTCZAR", "1140000")
    valuation = hx.ledger.check()
    # (1,199,400 - 1,140,000) x 0.016675004168 = 990.49524758: a short gains as the price falls
    assert valuation.unrealized_pnl == D("990.49524758")
    assert valuation.equity == D("100920.49524758")

    realized = close_position(hx, position_id)
    # buy back at 1,140,000 x 1.0005 = 1,140,570: gross 58,830 x q = 980.9904952,
    # exit fee 66.56653326, realized 980.9904952 - 70 - 66.56653326 = 844.42396194
    assert realized == D("844.42396194")
    assert position_row(hx, position_id).exit_price == D("1140570")
    assert hx.ledger.check().cash == D("100844.42396194")


def test_a_SELL_loses_when_the_price_rises(priced_hx: helios.Helios):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "SELL", "10000", "2")
    hx.market.set_price("BTCZAR", "1260000")
    # (1,199,400 - 1,260,000) x 0.016675004168 = -1010.50525258
    assert hx.ledger.check().unrealized_pnl == D("-1010.50525258")
    realized = close_position(hx, position_id)
    assert realized < 0
    assert hx.ledger.check().cash == D("100000") + realized


def test_three_positions_across_pairs_add_up(priced_hx: helios.Helios):
    hx = priced_hx
    btc = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    eth = open_position(hx, "ETHZAR", "SELL", "5000", "2")
    sol = open_position(hx, "SOLZAR", "BUY", "8000", "1")
    assert position_row(hx, eth).entry_price == D("59970")  # 60,000 x 0.9995
    assert position_row(hx, eth).quantity == D("0.166750041687")  # truncated
    assert position_row(hx, sol).entry_price == D("2501.25")  # 2,500 x 1.0005
    assert position_row(hx, sol).quantity == D("3.1984007996")
    # fees 52.50 + 35.00 + 28.00; margin 23,000
    assert hx.ledger.check().cash == D("76884.5")

    hx.market.set_price("BTCZAR", "1260000")
    hx.market.set_price("ETHZAR", "57000")
    hx.market.set_price("SOLZAR", "2400")
    valuation = hx.ledger.check()
    by_pair = {mark.pair: mark.unrealized_pnl for mark in valuation.positions}
    assert by_pair == {
        "BTCZAR": D("742.12893551"),
        "ETHZAR": D("495.24762381"),  # (59,970 - 57,000) x 0.166750041687
        "SOLZAR": D("-323.83808096"),  # (2,400 - 2,501.25) x 3.1984007996
    }
    assert valuation.margin == D("23000")
    assert valuation.unrealized_pnl == D("913.53847836")
    assert valuation.equity == D("100798.03847836")
    assert valuation.gross_exposure == D("32923.04323018")

    realized = close_position(hx, eth)
    # buy back at 57,028.50: gross 490.49524762, exit fee 33.28326663
    assert realized == D("422.21198099")
    valuation = hx.ledger.check()
    assert valuation.cash == D("82341.71198099")
    assert valuation.equity == D("100760.00283554")
    # the second path: initial + realized - open entry fees + unrealized
    assert valuation.equity == (
        D("100000") + realized - D("52.5") - D("28") + D("742.12893551") - D("323.83808096")
    )
    assert sorted(mark.position_id for mark in valuation.positions) == [btc, sol]


# --- drawdown, daily loss, leverage -------------------------------------------------------------


def valuation_of(equity: str, peak: str, start_of_day: str, gross: str = "0") -> Valuation:
    return Valuation(
        cash=D(equity),
        margin=D("0"),
        unrealized_pnl=D("0"),
        equity=D(equity),
        gross_exposure=D(gross),
        peak_equity=D(peak),
        start_of_day_equity=D(start_of_day),
        initial_capital=D("100000"),
    )


def test_a_book_of_R90000_off_a_R120000_peak_is_in_a_25pct_drawdown():
    valuation = valuation_of("90000", peak="120000", start_of_day="100000", gross="180000")
    assert valuation.drawdown == D("0.25")
    assert valuation.daily_pnl == D("-10000")
    assert valuation.daily_loss == D("0.1")
    assert valuation.leverage == D("2")


def test_a_book_above_its_peak_and_its_start_of_day_has_no_drawdown_and_no_daily_loss():
    valuation = valuation_of("105000", peak="100000", start_of_day="101000", gross="52500")
    assert valuation.drawdown == D("0")
    assert valuation.daily_loss == D("0")
    assert valuation.daily_pnl == D("4000")
    assert valuation.leverage == D("0.5")


def test_a_book_with_no_equity_reports_no_leverage_rather_than_dividing_by_zero():
    valuation = valuation_of("0", peak="100000", start_of_day="100000", gross="15000")
    assert valuation.drawdown == D("1")
    assert valuation.daily_loss == D("1")
    assert valuation.leverage == D("0")


def test_the_seeds_book_after_a_rise_and_a_fall_reports_its_drawdown(priced_hx: helios.Helios):
    hx = priced_hx
    open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    hx.market.set_price("BTCZAR", "1260000")
    assert hx.ledger.take_snapshot().peak_equity == D("100689.62893551")
    hx.market.set_price("BTCZAR", "1200000")
    valuation = hx.ledger.check()
    assert valuation.peak_equity == D("100689.62893551")
    assert valuation.equity == D("99940.00374813")
    # 1 - 99,940.00374813 / 100,689.62893551
    assert valuation.drawdown == D("0.0074449096228184753920938916")
    # 1 - 99,940.00374813 / 100,000
    assert valuation.daily_loss == D("0.0005999625187")
    # 14,992.5037476 / 99,940.00374813
    assert valuation.leverage.quantize(D("1e-12")) == D("0.150015040878")


# --- mark to market: the peak and the trading day ---------------------------------------------


def mark(hx: helios.Helios) -> Valuation:
    with hx.db.write() as session:
        return mark_to_market(session, latest_prices(session), hx.clock.now(), ZONE)


def test_mark_to_market_raises_the_peak_only_upward(priced_hx: helios.Helios):
    hx = priced_hx
    open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    assert mark(hx).peak_equity == D("100000")  # 99,940.00374813 is below the first peak
    hx.market.set_price("BTCZAR", "1260000")
    assert mark(hx).peak_equity == D("100689.62893551")
    hx.market.set_price("BTCZAR", "1100000")
    valuation = mark(hx)
    assert valuation.peak_equity == D("100689.62893551")
    assert valuation.equity < valuation.peak_equity
    hx.market.set_price("BTCZAR", "1300000")
    # (1,300,000 - 1,200,600) x 0.012493753123 = 1241.87906043
    assert mark(hx).peak_equity == D("101189.37906043")
    hx.ledger.check()


def test_the_peak_is_not_raised_while_a_price_is_missing(priced_hx: helios.Helios):
    hx = priced_hx
    first = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    hx.market.set_price("BTCZAR", "1260000")
    close_position(hx, first)  # cash 100,626.68796849; the peak is not marked yet
    open_position(hx, "ETHZAR", "BUY", "5000", "1")
    with hx.db.write() as session:
        # without ETHZAR's price the position is carried at entry: equity 100,609.18796849
        valuation = mark_to_market(session, {"BTCZAR": D("1260000")}, hx.clock.now(), ZONE)
    assert valuation.missing_prices == ["ETHZAR"]
    assert valuation.equity == D("100609.18796849")
    assert valuation.peak_equity == D("100000")
    # with every price the peak follows: -30 x 0.08329168749 ETH = -2.49875062
    assert mark(hx).peak_equity == D("100606.68921787")


def test_the_trading_day_rolls_at_midnight_in_Johannesburg_not_in_UTC(
    priced_hx: helios.Helios, clock: ManualClock
):
    hx = priced_hx
    open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    clock.set(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))
    hx.market.set_price("BTCZAR", "1140000")
    # (1,140,000 - 1,200,600) x 0.012493753123 = -757.12143925
    clock.set(datetime(2026, 11, 26, 21, 59, 59, tzinfo=UTC))  # 23:59:59 in Johannesburg
    valuation = mark(hx)
    assert valuation.equity == D("99190.37856075")
    assert valuation.start_of_day_equity == D("100000")
    assert valuation.daily_loss == D("0.0080962143925")

    clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=UTC))  # 00:00 on the 27th in Johannesburg
    valuation = mark(hx)
    assert valuation.start_of_day_equity == D("99190.37856075")
    assert valuation.daily_loss == D("0")
    with hx.db.read() as session:
        assert account_state(session).trading_day.isoformat() == "2026-11-27"

    clock.set(datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
    hx.market.set_price("BTCZAR", "1100000")
    clock.set(datetime(2026, 11, 27, 0, 0, 1, tzinfo=UTC))  # UTC midnight: the same trading day
    valuation = mark(hx)
    assert valuation.start_of_day_equity == D("99190.37856075")
    # (1,100,000 - 1,200,600) x q = -1256.87156417; equity 98,690.62843583
    assert valuation.equity == D("98690.62843583")
    assert valuation.daily_pnl == D("-499.75012492")
    hx.ledger.check()


def test_a_snapshot_stores_exact_equity_drawdown_and_leverage(
    priced_hx: helios.Helios, clock: ManualClock
):
    hx = priced_hx
    open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    hx.market.set_price("BTCZAR", "1260000")
    hx.ledger.take_snapshot()
    clock.advance(minutes=1)
    hx.market.set_price("BTCZAR", "1200000")
    hx.ledger.take_snapshot(risk_used=D("450.5"))

    with hx.db.read() as session:
        rows = list(session.scalars(select(PortfolioSnapshot).order_by(PortfolioSnapshot.id)))
    first, second = rows
    assert first.equity == D("100689.62893551")
    assert first.drawdown == D("0")
    assert first.leverage == D("0.1563431")  # 15,742.12893498 / 100,689.62893551
    assert second.ts == datetime(2026, 11, 26, 8, 1, tzinfo=UTC)
    assert second.mode == "PAPER"
    assert second.halted is False
    assert second.open_positions == 1
    assert second.equity == D("99940.00374813")
    assert second.cash == D("89947.5")
    assert second.margin == D("10000")
    assert second.unrealized_pnl == D("-7.49625187")
    assert second.gross_exposure == D("14992.5037476")
    assert second.peak_equity == D("100689.62893551")
    assert second.start_of_day_equity == D("100000")
    assert second.drawdown == D("0.00744491")  # 0.0074449096... to 8 places
    assert second.daily_pnl == D("-59.99625187")
    assert second.daily_loss == D("0.00059996")
    assert second.leverage == D("0.15001504")
    assert second.risk_used == D("450.5")

    frame = hx.ledger.snapshots()
    assert list(frame["equity"]) == [100689.62893551, 99940.00374813]


# --- the books catch tampering and double booking -------------------------------------------


def test_a_tampered_cash_balance_is_caught_naming_the_disagreement(hx: helios.Helios):
    with hx.db.write() as session:
        session.execute(update(PortfolioState).values(cash=D("99999")))
    with pytest.raises(LedgerInvariantError) as caught:
        hx.ledger.check()
    assert str(caught.value) == (
        "cash 99999 != sum of ledger entries 100000; "
        "equity 99999 != initial 100000 + realized 0 - open entry fees 0 + unrealized 0"
    )


def test_a_position_marked_closed_behind_the_ledgers_back_is_caught(priced_hx: helios.Helios):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    with hx.db.write() as session:
        session.execute(
            text("UPDATE positions SET status = 'CLOSED' WHERE id = :id"), {"id": position_id}
        )
    with pytest.raises(LedgerInvariantError) as caught:
        hx.ledger.check()
    assert str(caught.value) == (
        f"position {position_id} is CLOSED but its margin is still posted "
        "(entry booked, exit not booked); "
        "equity 89947.5 != initial 100000 + realized 0 - open entry fees 0 + unrealized 0; "
        "margin held 0 != margin entries 10000"
    )


def test_a_missing_ledger_entry_is_caught(priced_hx: helios.Helios):
    hx = priced_hx
    open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    with hx.db.write() as session:
        session.execute(text("DELETE FROM ledger_entries WHERE kind = 'FEE'"))
    with pytest.raises(
        LedgerInvariantError, match=r"^cash 89947\.5 != sum of ledger entries 90000"
    ):
        hx.ledger.check()


def test_an_opening_fill_cannot_be_booked_twice(priced_hx: helios.Helios):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    with (
        pytest.raises(LedgerInvariantError, match="already has an entry booked"),
        hx.db.write() as session,
    ):
        position = session.get(Position, position_id)
        assert position is not None
        book_open(
            session,
            position,
            fill_price=D("1200600"),
            quantity=D("0.012493753123"),
            fee=D("52.5"),
            now=hx.clock.now(),
        )
    assert hx.ledger.check().cash == D("89947.5")
    assert len(ledger_entries(hx)) == 3


def test_a_closing_fill_cannot_be_booked_twice(priced_hx: helios.Helios):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    close_position(hx, position_id)
    cash = hx.ledger.check().cash
    with (
        pytest.raises(LedgerInvariantError, match="already has its exit booked"),
        hx.db.write() as session,
    ):
        position = session.get(Position, position_id)
        assert position is not None
        book_close(session, position, fill_price=D("1200000"), fee=D("1"), now=hx.clock.now())
    assert hx.ledger.check().cash == cash
    assert len(ledger_entries(hx)) == 6


BAD_FILLS = [
    ({"fill_price": 1200600.0, "quantity": D("0.01"), "fee": D("1")}, "fill.price"),
    ({"fill_price": D("1200600"), "quantity": 0.01, "fee": D("1")}, "fill.quantity"),
    ({"fill_price": D("1200600"), "quantity": D("0.01"), "fee": D("-1")}, "fill.fee"),
    ({"fill_price": D("0"), "quantity": D("0.01"), "fee": D("1")}, "fill.price"),
    ({"fill_price": D("1200600"), "quantity": D("0"), "fee": D("1")}, "fill.quantity"),
    ({"fill_price": D("NaN"), "quantity": D("0.01"), "fee": D("1")}, "fill.price"),
]


def test_a_bad_fill_is_refused_and_books_nothing(hx: helios.Helios):
    position_id = new_position(hx, "BTCZAR", "BUY", "10000", "1.5")
    for fill, field in BAD_FILLS:
        with pytest.raises(InvalidInput) as caught, hx.db.write() as session:
            position = session.get(Position, position_id)
            assert position is not None
            book_open(session, position, now=hx.clock.now(), **fill)  # type: ignore[arg-type]
        assert caught.value.field == field, fill
    assert ledger_entries(hx) == [("INITIAL_CAPITAL", D("100000"), None)]
    assert position_row(hx, position_id).entry_price is None
    hx.ledger.check()


def test_a_position_with_a_lower_case_side_is_refused_not_treated_as_a_short(hx: helios.Helios):
    position_id = new_position(hx, "BTCZAR", "buy", "10000", "1.5")
    with pytest.raises(InvalidInput, match=r"position\.side='buy'"), hx.db.write() as session:
        position = session.get(Position, position_id)
        assert position is not None
        book_open(
            session,
            position,
            fill_price=D("1200600"),
            quantity=D("0.012493753123"),
            fee=D("52.5"),
            now=hx.clock.now(),
        )


def test_a_margin_finer_than_a_hundred_millionth_of_a_rand_is_booked_as_it_left_cash(
    priced_hx: helios.Helios,
):
    hx = priced_hx
    position_id = open_position(hx, "BTCZAR", "BUY", "1000.123456789", "1")
    assert position_row(hx, position_id).position_size_zar == D("1000.12345679")
    valuation = hx.ledger.check()
    assert valuation.margin == D("1000.12345679")
    assert (
        valuation.cash == D("100000") - D("1000.12345679") - position_row(hx, position_id).entry_fee
    )


# --- money never floats, and round-trips exactly on both databases ------------------------------


def test_a_float_never_enters_an_exact_column(hx: helios.Helios):
    now = hx.clock.now()
    with (
        pytest.raises(StatementError, match="floats never enter the ledger"),
        hx.db.write() as session,
    ):
        session.add(LedgerEntry(ts=now, kind="FEE", amount=0.1, note="float"))
        session.flush()
    assert ledger_entries(hx) == [("INITIAL_CAPITAL", D("100000"), None)]
    hx.ledger.check()


ROUND_TRIPS = [
    (D("0.1") + D("0.2"), "0.3"),
    (D("1234567.12345678"), "1234567.12345678"),
    (D("-52.50000000"), "-52.5"),
    (D("0.000000000001"), "0.000000000001"),  # one quantity step
    (D("99999999999999999999.999999999999999999"), "99999999999999999999.999999999999999999"),
    # past 18 places both databases keep the same number, rounded half-even
    (D("0.1234567890123456785"), "0.123456789012345678"),
    (D("0.1234567890123456775"), "0.123456789012345678"),
]


def test_decimals_round_trip_exactly(hx: helios.Helios):
    now = hx.clock.now()
    with hx.db.write() as session:
        for index, (stored, _read_back) in enumerate(ROUND_TRIPS):
            session.add(
                LatestPrice(
                    pair=f"T{index}ZAR", price=stored, ts=now, received_at=now, source="test"
                )
            )
    with hx.db.read() as session:
        for index, (_stored, read_back) in enumerate(ROUND_TRIPS):
            row = session.get(LatestPrice, f"T{index}ZAR")
            assert row is not None
            assert row.price == D(read_back)
            assert format(row.price, "f") == read_back
        if hx.db.dialect == "sqlite":  # stored as text, never as a binary float
            kinds = session.execute(text("SELECT DISTINCT typeof(price) FROM latest_prices"))
            assert kinds.scalars().all() == ["text"]


def test_a_number_too_large_for_the_exact_columns_is_refused_on_both_databases(
    hx: helios.Helios,
):
    now = hx.clock.now()
    with pytest.raises(StatementError, match="out of range"), hx.db.write() as session:
        session.add(
            LatestPrice(pair="TESTZAR", price=D("1e20"), ts=now, received_at=now, source="test")
        )
        session.flush()
    with hx.db.read() as session:
        assert session.scalar(select(func.count()).select_from(LatestPrice)) == 0


def test_a_second_connect_keeps_the_account(database_url: str, clock: ManualClock):
    with helios.connect(database_url, clock=clock, market_feed="manual") as first:
        first.market.set_price("BTCZAR", "1200000")
        open_position(first, "BTCZAR", "BUY", "10000", "1.5")
    clock.advance(timedelta(hours=1))
    with helios.connect(
        database_url, clock=clock, market_feed="manual", initial_capital_zar=5
    ) as second:
        valuation = second.ledger.check()
        assert valuation.initial_capital == D("100000")  # the database wins over the setting
        assert valuation.cash == D("89947.5")
        assert [kind for kind, _, _ in ledger_entries(second)].count("INITIAL_CAPITAL") == 1


def test_snapshots_downsample_evenly_and_keep_the_newest(hx, clock):
    """A long history charts from about ``points`` rows, spread over it, newest included."""
    from datetime import timedelta

    import pytest

    from helios.errors import InvalidInput

    for _ in range(250):
        clock.advance(timedelta(minutes=1))
        hx.ledger.take_snapshot()
    every = hx.ledger.snapshots()
    few = hx.ledger.snapshots(points=50)
    assert len(every) == 250
    assert 45 <= len(few) <= 51
    assert few["ts"].iloc[-1] == every["ts"].iloc[-1]
    gaps = few["ts"].diff().dropna().dt.total_seconds()
    assert gaps.iloc[:-1].nunique() == 1  # evenly spread
    with pytest.raises(InvalidInput):
        hx.ledger.snapshots(points=1)
