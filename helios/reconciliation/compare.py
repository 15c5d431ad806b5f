"""The reconciliation rule: what the ledger expects VALR to hold against what VALR holds.

Pure (L2): every input is read before (``helios.reconciliation.reads``) and passed in frozen;
``compare`` returns a frozen ``ReconcileReport``. The rule, and why:

**Balances.** For every currency we trade (ZAR and the base currency of each configured pair,
and of every pair a fill since the baseline was on):

    expected = baseline + the movements of our LIVE fills recorded after the baseline

- The **baseline** is VALR's balance of each currency (``total``: available + reserved) at the
  first pass of a LIVE period (``helios.reconciliation.baseline``). It holds whatever the
  account had that is not ours, so only our own trading is expected to move it.
- The **movements** come from the fills, with VALR's fee rules (API §4.2): a BUY of q (the coins
  held after a fee charged in the coin) at price p with fee f (in rand) moves the base by +q and
  ZAR by -(q x p + f); a SELL moves the base by -q and ZAR by +(q x p - f). This is exact for
  every position, open or closed: a long closed returns its base to the baseline; a short
  closed leaves the buy-back's coin fee short, as VALR does.
- **In flight** currencies are not judged: those of a position OPENING or CLOSING (its order may
  have executed on VALR before the fill reaches the ledger), unless VALR does not know its order
  at all past the grace (then nothing moved on VALR and the currency is judged).
- **Tolerance** per currency: ``tolerance_steps`` x one step of its decimals (VALR's
  ``baseDecimalPlaces`` of the pair, 8 when unknown; a cent for ZAR) per fill since the baseline
  (plus one), plus one taker fee on the open holding (a fee VALR charged differently from the
  one it reported). A difference within it (``<=``) is rounding.

**Orders.** An open order on VALR carrying one of our customerOrderIds (``HX-<installation>-
<position>-...``) whose position is not OPENING or CLOSING is a difference (``unexpected_open_
order``), and so is a position OPENING or CLOSING past the grace whose order VALR does not know
(``order_unknown_to_valr``, worth nothing in rand: no money moved). Open orders without our
prefix are not ours and are ignored (the balances they reserve are in ``total`` on both sides).

**Value and threshold.** A base difference is valued at its pair's latest price, ZAR at face
value, an unexpected open order at its remaining (else original) quantity x its pair's price.
The differences beyond the tolerance are summed; the pass is over the threshold when that sum is
strictly greater than ``threshold_zar``. A difference without a price (no latest price for its
pair) cannot be valued: it is still a mismatch (an event, the dashboard), listed in
``unvalued``, but adds nothing to the sum, so on its own it does not halt (a missing price has
its own halt, ``stale_price``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.positions.lifecycle import TRANSITIONAL
from helios.reconciliation.report import (
    CENT,
    MISMATCH,
    OK,
    ORDER_UNKNOWN_TO_VALR,
    UNEXPECTED_OPEN_ORDER,
    CurrencyCheck,
    OrderIssue,
    ReconcileReport,
    as_text,
)

QUOTE = "ZAR"
DEFAULT_STEP = Decimal("1e-8")  # VALR's usual baseDecimalPlaces when the pair list is unknown

# (position id, pair, status, updated_at, client order id of its latest order)
Transitional = tuple[int, str, str, datetime, str | None]
FillRow = tuple[str, str, Decimal, Decimal, Decimal]  # pair, side, quantity, price, fee (rand)
Holding = tuple[str, str, Decimal, Decimal]  # pair, side, quantity, entry price


@dataclass(frozen=True)
class PairUnits:
    """A pair's base currency and one step of its quantity (VALR's ``baseDecimalPlaces``)."""

    base: str
    step: Decimal


@dataclass(frozen=True)
class Baseline:
    """VALR's balances at the start of the LIVE period ``live_since`` and the newest LIVE fill
    id then (the fills after it are the movements)."""

    live_since: str
    recorded_at: datetime
    by: str
    fill_id: int
    balances: Mapping[str, Decimal]


@dataclass(frozen=True)
class Book:
    """The ledger's side, read in one transaction. ``generation`` changes whenever a LIVE fill,
    order or in-flight position does (a pass compares it before and after asking VALR)."""

    generation: tuple[Any, ...]
    max_fill_id: int
    transitional: tuple[Transitional, ...] = ()
    fills: tuple[FillRow, ...] = ()  # the LIVE fills after the baseline's fill id
    holdings: tuple[Holding, ...] = ()  # LIVE positions OPEN or CLOSING


@dataclass(frozen=True)
class VenueOrder:
    """One open order on VALR (the fields the rule reads)."""

    customer_order_id: str | None
    pair: str
    side: str
    status: str
    original_quantity: Decimal | None
    remaining_quantity: Decimal | None


@dataclass(frozen=True)
class Venue:
    """VALR's side, read between two readings of the ledger. ``unknown``: position id -> its
    order VALR does not know (in flight past the grace); ``position_status``: the ledger's
    status of each position one of our open orders names (absent: unknown to the ledger)."""

    balances: Mapping[str, Decimal]
    open_orders: tuple[VenueOrder, ...] = ()
    pairs: Mapping[str, PairUnits] = field(default_factory=dict)
    unknown: Mapping[int, str] = field(default_factory=dict)
    position_status: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Quotes:
    """Prices and fees read before the comparison: the latest price per pair (rand) and the
    taker fee (a fraction) of each pair held."""

    prices: Mapping[str, Decimal] = field(default_factory=dict)
    taker_fees: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    """The settings the rule reads, and whose orders are ours (``installation``)."""

    pairs: tuple[str, ...]
    tolerance_steps: int
    threshold_zar: Decimal
    grace_seconds: float
    installation: str


def units_of(pair: str, pairs: Mapping[str, PairUnits]) -> PairUnits:
    """``pair``'s base and step from VALR's pair list; without it, the pair's name less its
    ``ZAR`` and 8 decimals."""
    found = pairs.get(pair.upper())
    if found is not None:
        return found
    return PairUnits(pair[:-3].upper(), DEFAULT_STEP)


def our_orders(
    open_orders: tuple[VenueOrder, ...] | list[VenueOrder], installation: str
) -> list[tuple[VenueOrder, int]]:
    """The open orders carrying this installation's customerOrderId, with the position each
    names (``HX-<installation>-<position>-...``)."""
    pattern = re.compile(rf"^HX-{re.escape(installation)}-(\d+)-")
    return [
        (order, int(match[1]))
        for order in open_orders
        if order.customer_order_id and (match := pattern.match(order.customer_order_id))
    ]


def compare(
    now: datetime,
    baseline: Baseline,
    book: Book,
    venue: Venue,
    quotes: Quotes,
    rules: Rules,
) -> ReconcileReport:
    """Expected against actual (the module's rule): ``ok`` or ``mismatch``, each currency's
    line, the order differences, their value in rand and whether it is over the threshold."""
    steps = Decimal(rules.tolerance_steps)
    prices = quotes.prices
    pair_of: dict[str, str] = {}
    step_of: dict[str, Decimal] = {QUOTE: CENT}
    for pair in rules.pairs:
        units = units_of(pair, venue.pairs)
        pair_of.setdefault(units.base, pair)
        step_of.setdefault(units.base, units.step)
    movements: dict[str, Decimal] = {QUOTE: Decimal(0)}
    fills: dict[str, int] = {QUOTE: 0}
    for pair, side, quantity, price, fee in book.fills:
        units = units_of(pair, venue.pairs)
        base = units.base
        pair_of.setdefault(base, pair)
        step_of.setdefault(base, units.step)
        sign = Decimal(1) if side == "BUY" else Decimal(-1)
        movements[base] = movements.get(base, Decimal(0)) + sign * quantity
        movements[QUOTE] += -sign * quantity * price - fee
        fills[base] = fills.get(base, 0) + 1
        fills[QUOTE] += 1
    # one taker fee on what is held now: the slack for a fee charged unlike reported
    fee_slack: dict[str, Decimal] = {QUOTE: Decimal(0)}
    for pair, _side, quantity, entry in book.holdings:
        base = units_of(pair, venue.pairs).base
        fee = quotes.taker_fees[pair]
        fee_slack[base] = fee_slack.get(base, Decimal(0)) + fee * abs(quantity)
        fee_slack[QUOTE] += fee * abs(quantity) * entry
    in_flight: set[str] = set()
    for position_id, pair, _status, _updated, _coid in book.transitional:
        if position_id in venue.unknown:
            continue  # VALR never saw its order: nothing moved there
        in_flight.update({units_of(pair, venue.pairs).base, QUOTE})
    currencies = [QUOTE, *sorted(set(pair_of) - {QUOTE})]
    lines: list[CurrencyCheck] = []
    unvalued: list[str] = []
    total = Decimal(0)
    for ccy in currencies:
        start = baseline.balances.get(ccy, Decimal(0))
        moved = movements.get(ccy, Decimal(0))
        expected = start + moved
        actual = venue.balances.get(ccy, Decimal(0))
        difference = actual - expected
        tolerance = steps * step_of.get(ccy, DEFAULT_STEP) * (1 + fills.get(ccy, 0))
        tolerance += fee_slack.get(ccy, Decimal(0))
        within = abs(difference) <= tolerance
        if ccy == QUOTE:
            value: Decimal | None = abs(difference)
        else:
            latest = prices.get(pair_of.get(ccy, ""))
            value = abs(difference) * latest if latest is not None else None
        line = CurrencyCheck(
            currency=ccy,
            baseline=start,
            movements=moved,
            expected=expected,
            actual=actual,
            difference=difference,
            tolerance=tolerance,
            within_tolerance=within,
            value_zar=value,
            in_flight=ccy in in_flight,
            fills=fills.get(ccy, 0),
        )
        lines.append(line)
        if line.mismatched:
            if value is None:
                unvalued.append(ccy)
            else:
                total += value
    issues = order_issues(book, venue, quotes, rules)
    total += sum((issue.value_zar or Decimal(0) for issue in issues), Decimal(0))
    differing = [line for line in lines if line.mismatched]
    status = MISMATCH if differing or issues else OK
    parts = [
        f"{line.currency} expected {as_text(line.expected)} VALR {as_text(line.actual)} "
        f"(difference {as_text(line.difference)}"
        + (f", R{line.value_zar:,.2f})" if line.value_zar is not None else ", no price)")
        for line in differing
    ] + [f"{issue.kind} {issue.client_order_id}: {issue.detail}" for issue in issues]
    waiting = [line.currency for line in lines if line.in_flight]
    if status == OK:
        message = "VALR agrees with the ledger" + (
            f" (in flight, not compared: {', '.join(waiting)})" if waiting else ""
        )
    else:
        message = f"VALR differs from the ledger by R{total:,.2f}: " + "; ".join(parts)
    return ReconcileReport(
        checked_at=now,
        status=status,
        message=message,
        currencies=tuple(lines),
        orders=tuple(issues),
        total_value_zar=total,
        threshold_zar=rules.threshold_zar,
        over_threshold=status == MISMATCH and total > rules.threshold_zar,
        baseline_at=baseline.recorded_at,
        unvalued=tuple(unvalued),
    )


def order_issues(book: Book, venue: Venue, quotes: Quotes, rules: Rules) -> list[OrderIssue]:
    """The order differences (the module's **Orders**): our open orders whose position is not
    in flight, then the in-flight positions whose order VALR does not know."""
    issues: list[OrderIssue] = []
    for order, position_id in our_orders(venue.open_orders, rules.installation):
        status = venue.position_status.get(position_id)
        if status in TRANSITIONAL:
            continue  # its order is on its way: the position is in flight
        remaining = order.remaining_quantity or order.original_quantity
        latest = quotes.prices.get(order.pair)
        value = abs(remaining) * latest if remaining is not None and latest is not None else None
        shown = status or "unknown to the ledger"
        issues.append(
            OrderIssue(
                UNEXPECTED_OPEN_ORDER,
                str(order.customer_order_id),
                position_id if status is not None else None,
                order.pair,
                f"open on VALR ({order.status}, {order.side} "
                f"{as_text(remaining) if remaining is not None else '?'}) but position "
                f"{position_id} is {shown}",
                value,
            )
        )
    for position_id, pair, status, _updated, coid in book.transitional:
        if position_id in venue.unknown:
            issues.append(
                OrderIssue(
                    ORDER_UNKNOWN_TO_VALR,
                    coid or "",
                    position_id,
                    pair,
                    f"position {position_id} is {status} for more than "
                    f"{rules.grace_seconds:g} s and VALR does not know its order",
                    Decimal(0),
                )
            )
    return issues


__all__ = [
    "DEFAULT_STEP",
    "QUOTE",
    "Baseline",
    "Book",
    "PairUnits",
    "Quotes",
    "Rules",
    "Venue",
    "VenueOrder",
    "compare",
    "order_issues",
    "our_orders",
]
