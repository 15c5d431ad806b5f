"""The reconciliation rule as a table: ``helios.reconciliation.compare.compare`` is a pure function
of the baseline, the ledger's fills and holdings, VALR's balances and open orders, prices and
fees, so every case is one row here, without a database or VALR.

Round figures: the baseline is R100,000 and 0.5 BTC; BTC is at R1,000,000 (so 0.0001 BTC is
R100); the threshold is R100; the tolerance is 2 steps (a cent for ZAR, 1e-8 BTC when VALR's
pair list is unknown) per fill plus one, plus one taker fee on what is held. Our orders carry
``HX-inst-<position>-...``.

The halt-again rule (``helios.reconciliation.halting.decide_halt``) has its own table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from helios.reconciliation import (
    MISMATCH,
    OK,
    ORDER_UNKNOWN_TO_VALR,
    UNEXPECTED_OPEN_ORDER,
    ReconcileReport,
)
from helios.reconciliation.compare import (
    DEFAULT_STEP,
    Baseline,
    Book,
    PairUnits,
    Quotes,
    Rules,
    Venue,
    VenueOrder,
    compare,
    our_orders,
    units_of,
)
from helios.reconciliation.halting import decide_halt

D = Decimal
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)
BTC_PRICE = D("1000000")
FEE = D("0.0035")
START = {"ZAR": D("100000"), "BTC": D("0.5")}
BUY = ("BTCZAR", "BUY", D("0.01"), BTC_PRICE, D("35"))  # 0.01 BTC for R10,000 + R35 fee
HELD = ("BTCZAR", "BUY", D("0.01"), BTC_PRICE)
AFTER_BUY = {"ZAR": D("89965"), "BTC": D("0.51")}


def order(coid: str | None, remaining: str | None = "0.001", pair: str = "BTCZAR") -> VenueOrder:
    return VenueOrder(
        coid, pair, "SELL", "Placed", D("0.002"), None if remaining is None else D(remaining)
    )


@dataclass(frozen=True)
class Case:
    """One row: the inputs that differ from a quiet book, and what the pass concludes."""

    name: str
    venue: dict[str, Decimal]
    status: str
    total: Decimal = field(default_factory=Decimal)
    over: bool = False
    mismatched: tuple[str, ...] = ()  # currencies beyond the tolerance
    kinds: tuple[str, ...] = ()  # order issues
    unvalued: tuple[str, ...] = ()
    baseline: dict[str, Decimal] = field(default_factory=lambda: dict(START))
    fills: tuple = ()
    holdings: tuple = ()
    orders: tuple[VenueOrder, ...] = ()
    statuses: dict[int, str] = field(default_factory=dict)
    transitional: tuple = ()
    unknown: dict[int, str] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=lambda: {"BTCZAR": BTC_PRICE})
    pairs: tuple[str, ...] = ("BTCZAR",)
    units: dict[str, PairUnits] = field(default_factory=dict)


def zar(delta: str) -> dict[str, Decimal]:
    return {**START, "ZAR": START["ZAR"] + D(delta)}


def btc(delta: str) -> dict[str, Decimal]:
    return {**START, "BTC": START["BTC"] + D(delta)}


IN_FLIGHT = ((7, "BTCZAR", "OPENING", SINCE, "HX-inst-7-open"),)

CASES = [
    # --- matching books ---------------------------------------------------------------------
    Case("matching books", dict(START), OK),
    Case("a buy moved both sides as VALR did", AFTER_BUY, OK, fills=(BUY,), holdings=(HELD,)),
    Case("a coin nobody trades here is ignored", {**START, "XRP": D("5")}, OK),
    # --- the tolerance ------------------------------------------------------------------------
    Case("ZAR within two cents is rounding", zar("0.02"), OK),
    Case("ZAR three cents off is a difference", zar("-0.03"), MISMATCH, D("0.03"), False, ("ZAR",)),
    Case("BTC within two steps is rounding", btc("0.00000002"), OK),
    Case(
        "a step from VALR's pair list (4 decimals) widens it",
        btc("0.0002"),
        OK,
        units={"BTCZAR": PairUnits("BTC", D("0.0001"))},
    ),
    Case(
        "one taker fee on the holding is slack (R35 on R10,000)",
        {**AFTER_BUY, "ZAR": AFTER_BUY["ZAR"] - D("35")},
        OK,
        fills=(BUY,),
        holdings=(HELD,),
    ),
    # --- a difference under, at and over the threshold -------------------------------------
    Case("R50 extra is under the threshold", zar("50"), MISMATCH, D("50"), False, ("ZAR",)),
    Case(
        "R100 short is at the threshold: not over", zar("-100"), MISMATCH, D("100"), False, ("ZAR",)
    ),
    Case("R100.01 short is over", zar("-100.01"), MISMATCH, D("100.01"), True, ("ZAR",)),
    Case("0.0002 BTC short is R200: over", btc("-0.0002"), MISMATCH, D("200"), True, ("BTC",)),
    Case(
        "two currencies add up (R60 + R50) over the threshold",
        {"ZAR": START["ZAR"] + D("60"), "BTC": START["BTC"] - D("0.00005")},
        MISMATCH,
        D("110"),
        True,
        ("ZAR", "BTC"),
    ),
    # --- a coin missing on either side ----------------------------------------------------
    Case("BTC missing on VALR", {"ZAR": START["ZAR"]}, MISMATCH, D("500000"), True, ("BTC",)),
    Case(
        "ETH on VALR but not in the baseline",
        {**START, "ETH": D("2")},
        MISMATCH,
        D("80000"),
        True,
        ("ETH",),
        pairs=("BTCZAR", "ETHZAR"),
        prices={"BTCZAR": BTC_PRICE, "ETHZAR": D("40000")},
    ),
    Case(
        "a fill the ledger has and VALR never saw",
        dict(START),
        MISMATCH,
        D("10035") + D("10000"),
        True,
        ("ZAR", "BTC"),
        fills=(BUY,),
    ),
    # --- open orders holding funds ---------------------------------------------------------
    Case("someone else's open order is ignored", dict(START), OK, orders=(order("manual-1"),)),
    Case("an order without a customerOrderId is ignored", dict(START), OK, orders=(order(None),)),
    Case(
        "our open order of a position in flight is on its way",
        dict(START),
        OK,
        orders=(order("HX-inst-7-open"),),
        statuses={7: "OPENING"},
    ),
    Case(
        "our open order of an OPEN position is a difference worth its remaining quantity",
        dict(START),
        MISMATCH,
        D("1000"),
        True,
        kinds=(UNEXPECTED_OPEN_ORDER,),
        orders=(order("HX-inst-7-close"),),
        statuses={7: "OPEN"},
    ),
    Case(
        "no remaining quantity: valued at the original",
        dict(START),
        MISMATCH,
        D("2000"),
        True,
        kinds=(UNEXPECTED_OPEN_ORDER,),
        orders=(order("HX-inst-7-close", remaining=None),),
        statuses={7: "CLOSED"},
    ),
    Case(
        "our open order of a position unknown to the ledger",
        dict(START),
        MISMATCH,
        D("1000"),
        True,
        kinds=(UNEXPECTED_OPEN_ORDER,),
        orders=(order("HX-inst-99-open"),),
    ),
    Case(
        "another installation's order is not ours",
        dict(START),
        OK,
        orders=(order("HX-other-7-open"),),
    ),
    # --- in flight ----------------------------------------------------------------------------
    Case("a position in flight: its currencies wait", btc("0.01"), OK, transitional=IN_FLIGHT),
    Case(
        "in flight past the grace and unknown to VALR: judged, and an order difference worth R0",
        dict(START),
        MISMATCH,
        kinds=(ORDER_UNKNOWN_TO_VALR,),
        transitional=IN_FLIGHT,
        unknown={7: "HX-inst-7-open"},
    ),
    # --- an unknown price (today's rule: unvalued, not counted toward the halt) --------------
    Case(
        "a BTC difference without a price is a mismatch but adds nothing",
        btc("-0.1"),
        MISMATCH,
        D(0),
        False,
        ("BTC",),
        unvalued=("BTC",),
        prices={},
    ),
    Case(
        "an unvalued coin does not hide a ZAR difference over the threshold",
        {"ZAR": START["ZAR"] - D("150"), "BTC": START["BTC"] - D("0.1")},
        MISMATCH,
        D("150"),
        True,
        ("ZAR", "BTC"),
        unvalued=("BTC",),
        prices={},
    ),
    Case(
        "our unexpected open order without a price adds nothing",
        dict(START),
        MISMATCH,
        kinds=(UNEXPECTED_OPEN_ORDER,),
        orders=(order("HX-inst-7-close"),),
        statuses={7: "OPEN"},
        prices={},
    ),
]


def run(case: Case) -> ReconcileReport:
    fees = {pair: FEE for pair, *_rest in case.holdings}
    return compare(
        NOW,
        Baseline("live-1", SINCE, "reconciliation", 10, case.baseline),
        Book((10, 5, ()), 10, case.transitional, case.fills, case.holdings),
        Venue(case.venue, case.orders, case.units, case.unknown, case.statuses),
        Quotes(case.prices, fees),
        Rules(case.pairs, 2, D("100"), 120.0, "inst"),
    )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_compare(case: Case) -> None:
    report = run(case)
    assert report.status == case.status, report.message
    assert report.total_value_zar == case.total, report.message
    assert report.over_threshold is case.over
    assert report.threshold_zar == D("100")
    assert report.baseline_at == SINCE and report.checked_at == NOW
    assert tuple(line.currency for line in report.currencies if line.mismatched) == case.mismatched
    assert tuple(issue.kind for issue in report.orders) == case.kinds
    assert report.unvalued == case.unvalued
    assert report.halted is False  # comparing never halts: the service decides


def test_the_lines_show_expected_actual_and_the_tolerance() -> None:
    report = run(Case("", AFTER_BUY, OK, fills=(BUY,), holdings=(HELD,)))
    zar_line, btc_line = report.currency("ZAR"), report.currency("btc")
    assert [line.currency for line in report.currencies] == ["ZAR", "BTC"]  # ZAR first
    assert (zar_line.baseline, zar_line.movements, zar_line.expected) == (
        D("100000"),
        D("-10035"),
        D("89965"),
    )
    assert zar_line.tolerance == D("0.04") + D("35")  # 2 cents x (1 fill + 1), a fee on R10,000
    assert btc_line.tolerance == 2 * DEFAULT_STEP * 2 + FEE * D("0.01")
    assert (zar_line.fills, btc_line.fills) == (1, 1)
    assert report.message == "VALR agrees with the ledger"


def test_a_sell_moves_the_base_down_and_rand_up_less_its_fee() -> None:
    sell = ("BTCZAR", "SELL", D("0.1"), BTC_PRICE, D("350"))
    venue = {"ZAR": START["ZAR"] + D("99650"), "BTC": D("0.4")}
    report = run(Case("", venue, OK, fills=(sell,)))
    assert report.currency("ZAR").movements == D("99650")
    assert report.currency("BTC").movements == D("-0.1")


def test_the_messages_name_the_differences() -> None:
    over = run(Case("", btc("-0.0002"), MISMATCH))
    assert over.message.startswith("VALR differs from the ledger by R200.00: BTC expected 0.5")
    assert "(difference -0.0002, R200.00)" in over.message
    unpriced = run(Case("", btc("-0.1"), MISMATCH, prices={}))
    assert "no price)" in unpriced.message
    waiting = run(Case("", btc("0.01"), OK, transitional=IN_FLIGHT))
    assert waiting.message == "VALR agrees with the ledger (in flight, not compared: ZAR, BTC)"
    assert all(line.in_flight and not line.mismatched for line in waiting.currencies)
    unknown = run(Case("", dict(START), MISMATCH, transitional=IN_FLIGHT, unknown={7: "x"}))
    assert "position 7 is OPENING for more than 120 s and VALR does not know" in unknown.message


def test_units_and_our_orders() -> None:
    assert units_of("btczar", {}) == PairUnits("BTC", DEFAULT_STEP)
    assert units_of("BTCZAR", {"BTCZAR": PairUnits("XBT", D("0.01"))}) == PairUnits(
        "XBT", D("0.01")
    )
    orders = (
        order("HX-inst-3-open"),
        order("HX-inst-x-open"),
        order("HX-insta-4-open"),
        order(None),
    )
    assert [(o.customer_order_id, pid) for o, pid in our_orders(orders, "inst")] == [
        ("HX-inst-3-open", 3)
    ]


# --- halting again after a resume ---------------------------------------------------------------
def report_of(total: str, over: bool = True) -> ReconcileReport:
    return ReconcileReport(
        NOW, MISMATCH, "", total_value_zar=D(total), threshold_zar=D("100"), over_threshold=over
    )


HALT_CASES = [
    # name, total, over, acknowledged, stored reference, its marker, halt, reference kept
    ("under the threshold: nothing", "80", False, False, None, None, False, None),
    ("over, not acknowledged: halt", "150", True, False, None, None, True, None),
    (
        "acknowledged, first pass after the resume: the reference",
        "150",
        True,
        True,
        None,
        None,
        False,
        "150",
    ),
    ("acknowledged, grown by R100 (not more)", "250", True, True, "150", "m1", False, "150"),
    (
        "acknowledged, grown by more than R100: halt again",
        "250.01",
        True,
        True,
        "150",
        "m1",
        True,
        "150",
    ),
    ("a new resume takes a new reference", "400", True, True, "150", "m0", False, "400"),
]


@pytest.mark.parametrize(
    ("total", "over", "acknowledged", "known", "known_marker", "halt", "reference"),
    [case[1:] for case in HALT_CASES],
    ids=[case[0] for case in HALT_CASES],
)
def test_decide_halt(
    total: str,
    over: bool,
    acknowledged: bool,
    known: str | None,
    known_marker: str | None,
    halt: bool,
    reference: str | None,
) -> None:
    decision = decide_halt(
        report_of(total, over),
        acknowledged=acknowledged,
        known_reference=None if known is None else D(known),
        reference_marker=known_marker,
        marker="m1",
    )
    assert decision.halt is halt
    assert decision.reference == reference
    assert decision.message.startswith(
        f"reconciliation: VALR differs from the ledger by R{D(total):,.2f} (more than R100.00)"
    )
    assert ("grew by" in decision.message) is (halt and acknowledged)
