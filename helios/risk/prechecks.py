"""The pre-checks of an opening trade: can it be paid for, and is it priced from a fresh price?

Like the halt, they come before the seed's 7 checks and are not among them (the seed's 7 stay
the seed's 7); unlike the halt, the 7 still run, so the decision shows every figure. Both are
pure functions of figures read with the decision and stored with it, so a replay of a stored
decision judges them again from the same inputs.

- **Buying power**: the margin S plus the opening fee (notional N = S x L times the fee rate)
  must not exceed the free cash. Free cash is the ledger's cash less what positions being opened
  (OPENING: their margin and fee are reserved but not yet booked) will take; in LIVE it is also
  at most VALR's available ZAR balance and scaled by the capital cap as equity is (see
  ``hx.risk``). Without a way to know it (VALR could not be asked), the check fails closed.
  All of it in exact ``Decimal``: money never touches floats. A venue never spends more than a
  quote amount (the paper venue rounds the quantity down), so the fee booked at the fill is never
  more than the fee judged here, and an accepted trade cannot take the cash below zero.
- **Price age**: the latest price of the pair must have been observed at its source no more than
  ``PRICE_MAX_AGE_SECONDS`` ago (default 60 s). A price with no observation time, or none at
  all, fails closed; ingested history carries the time its bars closed, so it never looks fresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

from helios.clock import MAX_CLOCK_SKEW
from helios.money import ZERO, fmt_zar, to_decimal, zar
from helios.risk.checks import PreCheck, RiskResult

CENT = Decimal("0.01")


def pair_full(open_on_pair: int, pair: str, most: int) -> str:
    """The refusal of an opening trade on a pair that already holds ``most`` open positions
    (``MAX_POSITIONS_PER_PAIR``; 0: no such rule), else "". Like a lock, it comes before the
    7 checks: a strategy that signals again while its trade is open (a backtester's "one
    trade per pair") opens nothing."""
    if most <= 0 or open_on_pair < most:
        return ""
    held = "position" if open_on_pair == 1 else "positions"
    return (
        f"{pair} already holds {open_on_pair} open {held} "
        f"(MAX_POSITIONS_PER_PAIR={most}): nothing more opens on it"
    )


BUYING_POWER = "buying_power"
PRICE_AGE = "price_age"


@dataclass(frozen=True)
class OpeningCost:
    """What opening a trade takes out of cash: its margin and its opening fee (ZAR, exact)."""

    margin: Decimal
    notional: Decimal
    fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.margin + self.fee


def opening_cost(position_size_zar: Any, leverage: Any, fee_pct: Decimal) -> OpeningCost:
    """The margin S (to the 8 places the ledger keeps), the notional S x L and the fee on it,
    computed as the position and its order are written (``hx.positions``)."""
    margin = zar(position_size_zar, "position_size_zar")
    notional = zar(margin * to_decimal(leverage, "leverage"))
    return OpeningCost(margin, notional, zar(notional * fee_pct))


def reserved_cost(reserved: list[tuple[Decimal, Decimal]], fee_pct: Decimal) -> Decimal:
    """What the positions being opened will take out of cash: for each (margin, leverage) of an
    OPENING position, its margin and the fee on its notional (booked when it fills)."""
    return sum((opening_cost(m, lev, fee_pct).total for m, lev in reserved), ZERO)


def free_cash(cash: Decimal, reserved: list[tuple[Decimal, Decimal]], fee_pct: Decimal) -> Decimal:
    """The ledger's cash less what the positions being opened will take (PAPER's free cash)."""
    return cash - reserved_cost(reserved, fee_pct)


@dataclass(frozen=True)
class LiveCash:
    """LIVE's free cash and where it came from (``free`` None: VALR could not say)."""

    free: Decimal | None
    source: str


def live_free_cash(
    available_zar: Decimal | None,
    cash: Decimal,
    reserved: list[tuple[Decimal, Decimal]],
    fee_pct: Decimal,
    equity: Decimal,
    cap: Decimal,
    why_unknown: str = "",
) -> LiveCash:
    """LIVE: the lesser of VALR's available ZAR and the ledger's free cash, each less what the
    positions being opened will take (VALR's balance may not show their orders yet), the
    ledger's scaled like equity by the capital cap (x cap / equity above the cap), so real ZAR
    is never overspent and an open never takes the ledger's cash below zero."""
    held = reserved_cost(reserved, fee_pct)
    ledger = cash - held
    capped = zar(ledger * cap / equity) if equity > cap else ledger
    if available_zar is None:
        return LiveCash(None, f"LIVE: VALR's available ZAR could not be read: {why_unknown}")
    venue = available_zar - held
    return LiveCash(
        min(venue, capped),
        f"LIVE: the lesser of VALR's available {fmt_zar(available_zar)} less "
        f"{fmt_zar(held)} being opened, and the ledger's free cash {fmt_zar(capped)} under "
        f"the {fmt_zar(cap)} cap",
    )


def affordable_margin(free: Decimal, leverage: Decimal, fee_pct: Decimal) -> Decimal:
    """The largest margin in whole cents whose margin plus opening fee ``free`` covers, exactly
    as ``buying_power`` judges it (the sizing rule's cap)."""
    if free <= 0:
        return ZERO
    margin = (free / (1 + leverage * fee_pct)).quantize(CENT, rounding=ROUND_DOWN)
    while margin > 0 and opening_cost(margin, leverage, fee_pct).total > free:
        margin -= CENT
    return max(margin, ZERO)


def buying_power(cost: OpeningCost, free: Decimal | None, source: str) -> PreCheck:
    """The trade's margin plus its fee against the free cash (``source`` says where the free
    cash figure came from, or why it is unknown when ``free`` is None)."""
    needs = cost.total
    if free is None:
        return PreCheck(
            BUYING_POWER,
            False,
            str(needs),
            None,
            f"Buying power unknown ({source}): needs {fmt_zar(needs)} (margin "
            f"{fmt_zar(cost.margin)} + fee {fmt_zar(cost.fee)})",
        )
    figures = (
        f"needs {fmt_zar(needs)} (margin {fmt_zar(cost.margin)} + fee {fmt_zar(cost.fee)}), "
        f"{fmt_zar(max(free, ZERO))} free"
    )
    if needs > free:
        return PreCheck(
            BUYING_POWER,
            False,
            str(needs),
            str(free),
            f"Not enough free cash: {figures} ({source})",
        )
    return PreCheck(BUYING_POWER, True, str(needs), str(free), f"Cash covers it: {figures}")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def price_age(pair: str, age_seconds: float | None, max_age_seconds: float) -> PreCheck:
    """The pair's latest price, observed ``age_seconds`` ago at its source (None: no price or
    no observation time), against ``max_age_seconds``."""
    limit = f"{max_age_seconds:g}"
    if age_seconds is None or not math.isfinite(age_seconds):
        return PreCheck(
            PRICE_AGE, False, None, limit, f"No current price for {pair}: nothing to trade at"
        )
    if age_seconds < -MAX_CLOCK_SKEW.total_seconds():  # refused on the way in; fail closed
        return PreCheck(
            PRICE_AGE,
            False,
            f"{age_seconds:g}",
            limit,
            f"Price of {pair} is stamped {_age(-age_seconds)} in the future: its age cannot be "
            "known (a clock or a time zone is wrong)",
        )
    age = max(0.0, age_seconds)  # a source clock slightly ahead of ours is no age
    shown = f"{age:.3f}".rstrip("0").rstrip(".")
    if age > max_age_seconds:
        return PreCheck(
            PRICE_AGE,
            False,
            shown,
            limit,
            f"Price of {pair} is stale: observed {_age(age)} ago, more than the "
            f"{_age(max_age_seconds)} allowed (PRICE_MAX_AGE_SECONDS)",
        )
    return PreCheck(
        PRICE_AGE, True, shown, limit, f"Price of {pair} observed {_age(age)} ago (fresh)"
    )


def with_pre_checks(result: RiskResult, pre: list[PreCheck]) -> RiskResult:
    """The verdict of the 7 checks with the pre-checks beside them: the trade passes only if
    every pre-check and every check passes; the reason names the failed pre-checks first."""
    failed = [p for p in pre if not p.passed]
    if not pre:
        return result
    if not failed:
        return replace(result, pre_checks=list(pre))
    reasons = [f"PRE-CHECK {p.name}: {p.message}" for p in failed]
    if not result.passed:
        reasons.append(result.reason)
    return replace(result, passed=False, reason="; ".join(reasons), pre_checks=list(pre))
