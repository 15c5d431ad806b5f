"""``hx.reconciliation``: in LIVE, VALR's balances and open orders against the ledger (issue #8).

The ledger is our picture of the account; VALR holds the real one. Each pass (the scheduler's
``live_reconcile`` job, every ``LIVE_RECONCILE_SECONDS``, only in LIVE and only on the leader;
or anyone calling ``hx.reconciliation.check()``) compares them:

**Balances.** For every currency we trade (ZAR and the base currency of each configured pair):

    expected = baseline + the movements of our LIVE fills recorded after the baseline

- The **baseline** is VALR's balance of each currency (``total``: available + reserved) at the
  first pass of a LIVE period, together with the id of the newest LIVE fill at that moment (a
  settings row ``live_baseline_balances``, written once per LIVE period; a LIVE period is keyed
  by the time the ``trading_mode`` row was switched to LIVE, so PAPER -> LIVE again starts a new
  one). It holds whatever the account had that is not ours (coins held before, for instance), so
  only our own trading is expected to move it. It is taken only when nothing is in flight (no
  LIVE position OPENING or CLOSING, no open order of ours): the fills recorded by then are
  exactly those VALR has executed.
- The **movements** come from the ``fills`` of LIVE orders, with VALR's fee rules (API §4.2): a
  BUY of q (the coins held after a fee charged in the coin) at price p with fee f (in rand)
  moves the base by +q and ZAR by -(q x p + f); a SELL moves the base by -q and ZAR by
  +(q x p - f). This is exact for every position, open or closed: a long closed returns its
  base to the baseline; a short closed leaves the buy-back's coin fee short, as VALR does. (It
  is the brief's "baseline + open positions" generalised to closed ones, whose fee dust and
  partial fills would otherwise accumulate unexplained.)
- **In flight** currencies are not compared in that pass: those of a position OPENING or
  CLOSING (its order may have executed on VALR before the fill reaches the ledger), unless it
  is older than ``LIVE_RECONCILE_GRACE_SECONDS`` and VALR does not know its order at all (then
  nothing moved on VALR and the currency is compared). The ledger is read before and after
  VALR is asked; if it changed in between (an order was being recorded) the pass is repeated
  once, then left to the next pass ("waiting"), never judged on a torn picture.
- **Tolerance** per currency: ``LIVE_RECONCILE_TOLERANCE_STEPS`` x one step of its decimals
  (VALR's ``baseDecimalPlaces`` of the pair; a cent for ZAR) per fill since the baseline (plus
  one), plus one taker fee on the open holding (a fee VALR charged differently from the one it
  reported). A difference within it is rounding.

**Orders.** An open order on VALR carrying one of our customerOrderIds (``HX-<installation>-
<position>-...``, ``helios.positions.lifecycle.client_order_id``) whose position is not OPENING
or CLOSING, and a position OPENING or CLOSING for longer than the grace whose order VALR does
not know, are differences too. Open orders without our prefix are not ours and are ignored (the
balances they reserve are still in ``total``).

**What follows.** A difference beyond the tolerance is a ``RECONCILE_MISMATCH`` event with the
figures per currency (recorded when the set of differences changes, not every pass;
``RECONCILE_OK`` when it clears). Their value in rand (a base difference at the pair's latest
price, an unexpected open order's remaining quantity likewise) summed over the differences
beyond the tolerance; above ``LIVE_RECONCILE_HALT_ZAR`` it is an automatic halt with cause
``reconciliation`` (``helios.halts``), whose action is ``HALT_ACTION_RECONCILIATION`` (default
``halt_only``: the close orders of a ``close_all`` are sized from the very ledger that is wrong,
so they could sell coins that are not ours or leave a short; a person decides). The last pass's
result is stored (``live_reconcile_state``), so ``hx.halts.breaches()`` (and therefore a
resume's acknowledgement and the watchdog) sees the condition like any other trigger. An
acknowledged difference halts again only if it grows by more than the threshold after the
resume. A difference that is understood (a deposit, say) is accepted with
``record_baseline(by, reason)``: VALR's balances now become the baseline (an event with the
differences accepted).

**VALR unreachable** during a pass: an ``EXCHANGE_ERROR`` event (it counts toward the "more than
10 in a minute" halt) and a report with status ``unreachable``; no mismatch is claimed and the
last stored result stands.

Known limits: interest VALR charges on margin borrowing is not in the ledger and shows as a
slowly growing shortfall; deposits and withdrawals show as differences until accepted; one
installation per VALR account (another installation's trades are differences here).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import Settings, TradingMode
from helios.db.engine import Database
from helios.db.models import Fill, Order, Position, Setting
from helios.errors import InvalidInput
from helios.events import record_event, record_exchange_error
from helios.exchange.valr import PairRules, ValrError, ValrExchange
from helios.halt_triggers import RECONCILIATION, Breach
from helios.positions.lifecycle import CLOSING, OPEN, OPENING, TRANSITIONAL
from helios.settings_store import HALTED_KEY, MODE_KEY, SettingKey, get_setting, put_setting

if TYPE_CHECKING:
    from helios.controls import Controls
    from helios.halts import Halts
    from helios.market.store import MarketData
    from helios.positions.manager import PositionManager

log = logging.getLogger("helios.reconciliation")

TRIGGER = RECONCILIATION  # the automatic-halt cause (helios.halts)
ACTOR = "reconciliation"
ERROR_SOURCE = "valr-reconcile"
BASELINE_KEY = SettingKey.LIVE_BASELINE
STATE_KEY = SettingKey.LIVE_RECONCILE_STATE
QUOTE = "ZAR"
CENT = Decimal("0.01")
DEFAULT_STEP = Decimal("1e-8")  # VALR's usual baseDecimalPlaces when the pair list is unknown
LIVE = TradingMode.LIVE.value
BALANCES_PATH = "/v1/account/balances"

# report statuses
OK = "ok"
MISMATCH = "mismatch"
UNREACHABLE = "unreachable"
NOT_LIVE = "not_live"
BASELINE_RECORDED = "baseline_recorded"
WAITING = "waiting"

# order differences
UNEXPECTED_OPEN_ORDER = "unexpected_open_order"
ORDER_UNKNOWN_TO_VALR = "order_unknown_to_valr"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(CENT), "f")


@dataclass(frozen=True)
class CurrencyCheck:
    """One currency: what the ledger expects VALR to hold, what VALR holds, the difference
    (actual - expected) and whether it is rounding (``within_tolerance``). ``in_flight``: not
    judged this pass (an order of ours is between VALR and the ledger)."""

    currency: str
    baseline: Decimal
    movements: Decimal
    expected: Decimal
    actual: Decimal
    difference: Decimal
    tolerance: Decimal
    within_tolerance: bool
    value_zar: Decimal | None  # |difference| in rand at the latest price (None: no price)
    in_flight: bool = False
    fills: int = 0

    @property
    def mismatched(self) -> bool:
        return not self.in_flight and not self.within_tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "baseline": _text(self.baseline),
            "movements": _text(self.movements),
            "expected": _text(self.expected),
            "actual": _text(self.actual),
            "difference": _text(self.difference),
            "tolerance": _text(self.tolerance),
            "within_tolerance": self.within_tolerance,
            "value_zar": _money(self.value_zar),
            "in_flight": self.in_flight,
            "fills": self.fills,
        }


@dataclass(frozen=True)
class OrderIssue:
    """An order that does not fit the ledger (``kind``: ``unexpected_open_order``, an open order
    of ours on VALR whose position is not OPENING/CLOSING; ``order_unknown_to_valr``, a position
    OPENING/CLOSING past the grace whose order VALR does not know)."""

    kind: str
    client_order_id: str
    position_id: int | None
    pair: str
    detail: str
    value_zar: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "client_order_id": self.client_order_id,
            "position_id": self.position_id,
            "pair": self.pair,
            "detail": self.detail,
            "value_zar": _money(self.value_zar),
        }


@dataclass(frozen=True)
class ReconcileReport:
    """One pass. ``status``: ``ok``, ``mismatch``, ``baseline_recorded`` (first pass of a LIVE
    period: nothing to compare yet), ``waiting`` (in flight, or the ledger moved during the
    pass), ``unreachable`` (VALR could not be asked; nothing claimed), ``not_live``."""

    checked_at: datetime
    status: str
    message: str
    currencies: tuple[CurrencyCheck, ...] = ()
    orders: tuple[OrderIssue, ...] = ()
    total_value_zar: Decimal = Decimal(0)
    threshold_zar: Decimal = Decimal(0)
    over_threshold: bool = False
    halted: bool = False  # this pass asked for the reconciliation halt
    baseline_at: datetime | None = None
    error: str | None = None
    unvalued: tuple[str, ...] = field(default=())  # differing currencies without a price

    @property
    def matches(self) -> bool:
        return self.status in (OK, BASELINE_RECORDED)

    @property
    def mismatched(self) -> bool:
        return self.status == MISMATCH

    def currency(self, code: str) -> CurrencyCheck:
        for line in self.currencies:
            if line.currency == code.upper():
                return line
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "status": self.status,
            "message": self.message,
            "currencies": [line.to_dict() for line in self.currencies],
            "orders": [issue.to_dict() for issue in self.orders],
            "total_value_zar": _money(self.total_value_zar),
            "threshold_zar": _money(self.threshold_zar),
            "over_threshold": self.over_threshold,
            "halted": self.halted,
            "baseline_at": self.baseline_at.isoformat() if self.baseline_at else None,
            "error": self.error,
            "unvalued": list(self.unvalued),
        }


@dataclass(frozen=True)
class _Baseline:
    live_since: str
    recorded_at: datetime
    by: str
    fill_id: int
    balances: dict[str, Decimal]


@dataclass
class _Book:
    """The ledger's side, read in one transaction."""

    generation: tuple[Any, ...]
    max_fill_id: int
    # (position id, pair, status, updated_at, client order id of its latest order)
    transitional: list[tuple[int, str, str, datetime, str | None]]
    fills: list[tuple[str, str, Decimal, Decimal, Decimal]]  # pair, side, qty, price, fee
    holdings: list[tuple[str, str, Decimal, Decimal]]  # pair, side, quantity, entry price


@dataclass
class _Venue:
    """VALR's side, read between two readings of the ledger."""

    balances: dict[str, Decimal]
    open_orders: list[Any]
    rules: dict[str, PairRules]
    unknown: dict[int, str]  # stuck position id -> its order VALR does not know


def stored_breach(session: Session) -> tuple[str, dict[str, Any]] | None:
    """The reconciliation halt condition as the last pass stored it (message, figures), or None:
    for ``hx.halts.breaches`` (so a resume acknowledges it and the watchdog re-arms it). Only in
    LIVE and only for the current LIVE period."""
    mode = get_setting(session, MODE_KEY)
    if mode is None or mode.value != LIVE:
        return None
    row = get_setting(session, STATE_KEY)
    state = _load(row.value if row else None)
    if state.get("live_since") != _period(mode) or not state.get("over_threshold"):
        return None
    return str(state.get("breach_message", "reconciliation difference")), dict(
        state.get("breach_figures") or {}
    )


def _load(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _period(mode_row: Setting) -> str:
    """The LIVE period's key: when the mode row was last switched."""
    return mode_row.updated_at.isoformat()


def _dec(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


class Reconciliation:
    """``hx.reconciliation``: ``check()``, ``last_report()``, ``baseline()``,
    ``record_baseline(by, reason)``."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        controls: Controls,
        halts: Halts,
        positions: PositionManager,
        market: MarketData,
        exchange: ValrExchange,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._controls = controls
        self._halts = halts
        self._positions = positions
        self._market = market
        self._exchange = exchange

    # --- public ---------------------------------------------------------------------------
    def check(self) -> ReconcileReport:
        """One reconciliation pass (see the module). Never raises for VALR's failures: they are
        an EXCHANGE_ERROR event and an ``unreachable`` report."""
        now = self._clock.now()
        threshold = self._settings.live_reconcile_halt_zar
        live_since = self._live_since()
        if live_since is None:
            return ReconcileReport(now, NOT_LIVE, "not in LIVE mode: nothing to reconcile")
        try:
            read = self._read_consistent(live_since)
        except ValrError as exc:
            return self._unreachable(now, exc)
        if read is None:
            return ReconcileReport(
                now,
                WAITING,
                "the ledger changed while VALR was asked (an order was being recorded): "
                "left to the next pass",
                threshold_zar=threshold,
            )
        baseline, book, venue = read
        if baseline is None:
            return self._first_pass(now, live_since, book, venue)
        report = self._compare(now, baseline, book, venue)
        return self._conclude(report, live_since)

    def last_report(self) -> dict[str, Any] | None:
        """The last stored pass (``ReconcileReport.to_dict()``), for the dashboard and the CLI;
        None before the first pass of this LIVE period."""
        with self._db.read() as session:
            mode = get_setting(session, MODE_KEY)
            row = get_setting(session, STATE_KEY)
        state = _load(row.value if row else None)
        if mode is None or state.get("live_since") != _period(mode):
            return None
        report = state.get("report")
        return report if isinstance(report, dict) else None

    def baseline(self) -> dict[str, Any] | None:
        """The baseline of the current LIVE period (balances as text), or None."""
        live_since = self._live_since()
        if live_since is None:
            return None
        with self._db.read() as session:
            found = self._read_baseline(session, live_since)
        if found is None:
            return None
        return {
            "live_since": found.live_since,
            "recorded_at": found.recorded_at.isoformat(),
            "by": found.by,
            "fill_id": found.fill_id,
            "balances": {ccy: _text(amount) for ccy, amount in found.balances.items()},
        }

    def record_baseline(self, by: str, reason: str = "") -> ReconcileReport:
        """A person accepts VALR's balances now as the new baseline (after a deposit, or a
        difference that is understood). Refused while an order of ours is in flight. Records a
        ``RECONCILE_BASELINE`` event with the differences accepted, then runs a pass."""
        if not isinstance(by, str) or not by.strip():
            raise InvalidInput("by", by, "who accepts VALR's balances (a non-empty name)")
        if not isinstance(reason, str):
            raise InvalidInput("reason", reason, "a text")
        live_since = self._live_since()
        if live_since is None:
            raise InvalidInput("trading_mode", "PAPER", "LIVE (a baseline is of a LIVE account)")
        try:
            read = self._read_consistent(live_since)
        except ValrError as exc:
            return self._unreachable(self._clock.now(), exc)
        if read is None or read[1].transitional or self._ours(read[2].open_orders):
            raise InvalidInput(
                "record_baseline",
                "now",
                "a moment when no order of ours is in flight (no position OPENING or CLOSING, "
                "no open order of ours on VALR): try again shortly",
            )
        previous, book, venue = read
        accepted = self._compare(self._clock.now(), previous, book, venue) if previous else None
        self._write_baseline(
            live_since,
            book,
            venue,
            by.strip(),
            replace=True,
            note=reason,
            accepted=accepted,
        )
        return self.check()

    # --- reading --------------------------------------------------------------------------
    def _live_since(self) -> str | None:
        with self._db.read() as session:
            mode = get_setting(session, MODE_KEY)
        if mode is None or mode.value != LIVE:
            return None
        return _period(mode)

    def _read_baseline(self, session: Session, live_since: str) -> _Baseline | None:
        row = get_setting(session, BASELINE_KEY)
        data = _load(row.value if row else None)
        if data.get("live_since") != live_since:
            return None
        balances = {
            str(ccy).upper(): amount
            for ccy, value in (data.get("balances") or {}).items()
            if (amount := _dec(value)) is not None
        }
        try:
            recorded = datetime.fromisoformat(str(data.get("recorded_at")))
        except ValueError:
            recorded = row.updated_at if row else self._clock.now()
        return _Baseline(
            live_since=live_since,
            recorded_at=recorded,
            by=str(data.get("by", "")),
            fill_id=int(data.get("fill_id", 0)),
            balances=balances,
        )

    def _read_consistent(self, live_since: str) -> tuple[_Baseline | None, _Book, _Venue] | None:
        """The baseline, the ledger and VALR, read so that the ledger did not move while VALR was
        asked (twice at most); None when it kept moving. Raises ``ValrError``."""
        for _attempt in (1, 2):
            with self._db.read() as session:
                baseline = self._read_baseline(session, live_since)
                since = baseline.fill_id if baseline is not None else None
                book = self._read_book(session, since)
            venue = self._read_venue(book)
            with self._db.read() as session:
                again = self._generation(session)
            if again == book.generation:
                return baseline, book, venue
        return None

    def _generation(self, session: Session) -> tuple[Any, ...]:
        max_fill = session.scalar(
            select(func.max(Fill.id))
            .join(Order, Fill.order_id == Order.id)
            .where(Order.mode == LIVE)
        )
        max_order = session.scalar(select(func.max(Order.id)).where(Order.mode == LIVE))
        moving = session.execute(
            select(Position.id, Position.status)
            .where(Position.mode == LIVE, Position.status.in_(TRANSITIONAL))
            .order_by(Position.id)
        ).all()
        return (int(max_fill or 0), int(max_order or 0), tuple((i, s) for i, s in moving))

    def _read_book(self, session: Session, since_fill: int | None) -> _Book:
        generation = self._generation(session)
        max_fill = generation[0]
        transitional = []
        for position_id, pair, status, updated_at in session.execute(
            select(Position.id, Position.pair, Position.status, Position.updated_at)
            .where(Position.mode == LIVE, Position.status.in_(TRANSITIONAL))
            .order_by(Position.id)
        ).all():
            action = "OPEN" if status == OPENING else "CLOSE"
            coid = session.scalar(
                select(Order.client_order_id)
                .where(Order.position_id == position_id, Order.action == action)
                .order_by(Order.id.desc())
                .limit(1)
            )
            transitional.append((position_id, pair, status, updated_at, coid))
        fills: list[tuple[str, str, Decimal, Decimal, Decimal]] = []
        if since_fill is not None:
            fills = [
                (pair, side, quantity, price, fee)
                for pair, side, quantity, price, fee in session.execute(
                    select(Order.pair, Order.side, Fill.quantity, Fill.price, Fill.fee)
                    .join(Order, Fill.order_id == Order.id)
                    .where(Order.mode == LIVE, Fill.id > since_fill)
                    .order_by(Fill.id)
                ).all()
            ]
        holdings = [
            (pair, side, quantity or Decimal(0), entry or Decimal(0))
            for pair, side, quantity, entry in session.execute(
                select(Position.pair, Position.side, Position.quantity, Position.entry_price).where(
                    Position.mode == LIVE, Position.status.in_((OPEN, CLOSING))
                )
            ).all()
        ]
        return _Book(generation, max_fill, transitional, fills, holdings)

    def _read_venue(self, book: _Book) -> _Venue:
        """VALR's balances (``total``), open orders, the pair list (public; a failure falls back
        to the pair's name and 8 decimals) and the look-up of orders stuck past the grace."""
        balances = self._balances()
        open_orders = self._exchange.open_orders()
        try:
            rules = self._exchange.all_pair_rules()
        except ValrError as exc:
            log.warning("VALR pair list unavailable (%s): base currency from the pair name", exc)
            rules = {}
        cutoff = self._clock.now() - timedelta(seconds=self._settings.live_reconcile_grace_seconds)
        unknown: dict[int, str] = {}
        for position_id, pair, _status, updated_at, coid in book.transitional:
            if coid is None or updated_at > cutoff:
                continue
            if self._exchange.get_order(coid, pair) is None:
                unknown[position_id] = coid
        return _Venue(balances, open_orders, rules, unknown)

    def _balances(self) -> dict[str, Decimal]:
        """``GET /v1/account/balances``: the ``total`` (available + reserved) per currency, what
        the account holds whatever orders reserve."""
        items = self._exchange.client.get(BALANCES_PATH)
        if not isinstance(items, list):
            raise _malformed(items)
        result: dict[str, Decimal] = {}
        for item in items:
            if not isinstance(item, dict):
                raise _malformed(item)
            currency = item.get("currency")
            if isinstance(currency, dict):
                currency = currency.get("symbol")
            amount = _dec(item.get("total", item.get("available")))
            if not currency or amount is None:
                raise _malformed(item)
            result[str(currency).upper()] = amount
        return result

    # --- judging --------------------------------------------------------------------------
    def _base_of(self, pair: str, rules: dict[str, PairRules]) -> tuple[str, Decimal]:
        found = rules.get(pair.upper())
        if found is not None:
            return found.base_currency, Decimal(1).scaleb(-found.base_decimal_places)
        return pair[:-3].upper(), DEFAULT_STEP

    def _prefix(self) -> re.Pattern[str]:
        installation = self._positions.installation_id()
        return re.compile(rf"^HX-{re.escape(installation)}-(\d+)-")

    def _ours(self, open_orders: list[Any]) -> list[Any]:
        pattern = self._prefix()
        return [
            o for o in open_orders if o.customer_order_id and pattern.match(o.customer_order_id)
        ]

    def _compare(
        self, now: datetime, baseline: _Baseline, book: _Book, venue: _Venue
    ) -> ReconcileReport:
        settings = self._settings
        steps = Decimal(settings.live_reconcile_tolerance_steps)
        threshold = settings.live_reconcile_halt_zar
        prices = self._market.latest_prices()
        pair_of: dict[str, str] = {}
        step_of: dict[str, Decimal] = {QUOTE: CENT}
        for pair in settings.pairs:
            base, step = self._base_of(pair, venue.rules)
            pair_of.setdefault(base, pair)
            step_of.setdefault(base, step)
        movements: dict[str, Decimal] = {QUOTE: Decimal(0)}
        fills: dict[str, int] = {QUOTE: 0}
        for pair, side, quantity, price, fee in book.fills:
            base, step = self._base_of(pair, venue.rules)
            pair_of.setdefault(base, pair)
            step_of.setdefault(base, step)
            sign = Decimal(1) if side == "BUY" else Decimal(-1)
            movements[base] = movements.get(base, Decimal(0)) + sign * quantity
            movements[QUOTE] += -sign * quantity * price - fee
            fills[base] = fills.get(base, 0) + 1
            fills[QUOTE] += 1
        # one taker fee on what is held now: the slack for a fee charged unlike reported
        fee_slack: dict[str, Decimal] = {QUOTE: Decimal(0)}
        for pair, _side, quantity, entry in book.holdings:
            base, _step = self._base_of(pair, venue.rules)
            fee = self._exchange.taker_fee(pair)
            fee_slack[base] = fee_slack.get(base, Decimal(0)) + fee * abs(quantity)
            fee_slack[QUOTE] += fee * abs(quantity) * entry
        in_flight: set[str] = set()
        for position_id, pair, _status, _updated, _coid in book.transitional:
            if position_id in venue.unknown:
                continue  # VALR never saw its order: nothing moved there
            in_flight.update({self._base_of(pair, venue.rules)[0], QUOTE})
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
        issues = self._order_issues(book, venue, prices)
        total += sum((issue.value_zar or Decimal(0) for issue in issues), Decimal(0))
        differing = [line for line in lines if line.mismatched]
        status = MISMATCH if differing or issues else OK
        parts = [
            f"{line.currency} expected {_text(line.expected)} VALR {_text(line.actual)} "
            f"(difference {_text(line.difference)}"
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
            threshold_zar=threshold,
            over_threshold=status == MISMATCH and total > threshold,
            baseline_at=baseline.recorded_at,
            unvalued=tuple(unvalued),
        )

    def _order_issues(
        self, book: _Book, venue: _Venue, prices: dict[str, Decimal]
    ) -> list[OrderIssue]:
        issues: list[OrderIssue] = []
        pattern = self._prefix()
        ours = [
            (order, int(match[1]))
            for order in venue.open_orders
            if order.customer_order_id and (match := pattern.match(order.customer_order_id))
        ]
        if ours:
            with self._db.read() as session:
                statuses = dict(
                    session.execute(
                        select(Position.id, Position.status).where(
                            Position.id.in_({pid for _order, pid in ours})
                        )
                    ).all()
                )
            for order, position_id in ours:
                status = statuses.get(position_id)
                if status in TRANSITIONAL:
                    continue  # its order is on its way: the position is in flight
                remaining = order.remaining_quantity or order.original_quantity
                latest = prices.get(order.pair)
                value = (
                    abs(remaining) * latest
                    if remaining is not None and latest is not None
                    else None
                )
                shown = status or "unknown to the ledger"
                issues.append(
                    OrderIssue(
                        UNEXPECTED_OPEN_ORDER,
                        str(order.customer_order_id),
                        position_id if status is not None else None,
                        order.pair,
                        f"open on VALR ({order.status}, {order.side} "
                        f"{_text(remaining) if remaining is not None else '?'}) but position "
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
                        f"{self._settings.live_reconcile_grace_seconds:g} s and VALR does not "
                        "know its order",
                        Decimal(0),
                    )
                )
        return issues

    # --- writing --------------------------------------------------------------------------
    def _first_pass(
        self, now: datetime, live_since: str, book: _Book, venue: _Venue
    ) -> ReconcileReport:
        threshold = self._settings.live_reconcile_halt_zar
        if book.transitional or self._ours(venue.open_orders):
            return ReconcileReport(
                now,
                WAITING,
                "no baseline yet, and an order of ours is in flight: the baseline waits for a "
                "quiet moment",
                threshold_zar=threshold,
            )
        baseline = self._write_baseline(live_since, book, venue, ACTOR)
        report = self._compare(now, baseline, book, venue)
        report = ReconcileReport(
            checked_at=now,
            status=BASELINE_RECORDED,
            message="baseline recorded: VALR's balances now are the start of this LIVE period",
            currencies=report.currencies,
            threshold_zar=threshold,
            baseline_at=baseline.recorded_at,
        )
        self._store_state(live_since, report, None)
        return report

    def _write_baseline(
        self,
        live_since: str,
        book: _Book,
        venue: _Venue,
        by: str,
        *,
        replace: bool = False,
        note: str = "",
        accepted: ReconcileReport | None = None,
    ) -> _Baseline:
        now = self._clock.now()
        data = {
            "live_since": live_since,
            "recorded_at": now.isoformat(),
            "by": by,
            "fill_id": book.max_fill_id,
            "balances": {ccy: _text(amount) for ccy, amount in sorted(venue.balances.items())},
        }
        ours = {QUOTE, *(self._base_of(p, venue.rules)[0] for p in self._settings.pairs)}
        shown = ", ".join(
            f"{ccy} {_text(venue.balances.get(ccy, Decimal(0)))}" for ccy in sorted(ours)
        )
        try:
            with self._db.write() as session:
                if not replace:
                    existing = self._read_baseline(session, live_since)
                    if existing is not None:  # another process took it first
                        return existing
                put_setting(session, BASELINE_KEY, json.dumps(data), now, by)
                differences = (
                    {
                        line.currency: _text(line.difference)
                        for line in accepted.currencies
                        if line.difference != 0
                    }
                    if accepted is not None
                    else {}
                )
                record_event(
                    session,
                    ts=now,
                    kind="RECONCILE_BASELINE",
                    actor=by,
                    severity="WARNING" if replace else "INFO",
                    message=(
                        f"VALR's balances accepted as the new baseline by {by}: {shown}"
                        + (f" (differences accepted: {differences})" if differences else "")
                        + (f"; {note}" if note else "")
                        if replace
                        else f"LIVE baseline recorded from VALR's balances: {shown}"
                    ),
                    details={**data, "accepted_differences": differences, "note": note},
                )
                if replace:  # the differences accepted no longer stand
                    put_setting(session, STATE_KEY, json.dumps({}), now, by)
        except IntegrityError:  # two first passes at once (PostgreSQL): the other one won
            with self._db.read() as session:
                existing = self._read_baseline(session, live_since)
            if existing is None:
                raise
            return existing
        return _Baseline(live_since, now, by, book.max_fill_id, dict(venue.balances))

    def _conclude(self, report: ReconcileReport, live_since: str) -> ReconcileReport:
        """Events when the differences change, the stored state, and the halt."""
        with self._db.read() as session:
            row = get_setting(session, STATE_KEY)
            halted_row = get_setting(session, HALTED_KEY)
        state = _load(row.value if row else None)
        if state.get("live_since") != live_since:
            state = {}
        signature = self._signature(report)
        previous = state.get("signature")
        figures = {
            "currencies": {
                line.currency: line.to_dict() for line in report.currencies if line.mismatched
            },
            "orders": [issue.to_dict() for issue in report.orders],
            "total_value_zar": _money(report.total_value_zar),
            "threshold_zar": _money(report.threshold_zar),
        }
        if report.mismatched and signature != previous:
            with self._db.write() as session:
                record_event(
                    session,
                    ts=report.checked_at,
                    kind="RECONCILE_MISMATCH",
                    actor=ACTOR,
                    severity="CRITICAL" if report.over_threshold else "WARNING",
                    message=report.message[:2000],
                    details=figures,
                )
        elif not report.mismatched and previous:
            with self._db.write() as session:
                record_event(
                    session,
                    ts=report.checked_at,
                    kind="RECONCILE_OK",
                    actor=ACTOR,
                    message="VALR agrees with the ledger again",
                )
        halt_now = False
        reference: str | None = None
        marker = halted_row.updated_at.isoformat() if halted_row is not None else ""
        breach_message = (
            f"reconciliation: VALR differs from the ledger by R{report.total_value_zar:,.2f} "
            f"(more than R{report.threshold_zar:,.2f})"
        )
        if report.over_threshold:
            if TRIGGER not in self._controls.acknowledged_triggers():
                halt_now = True
            else:  # acknowledged by a resume: halt again only if it grew past the threshold
                known = _dec(state.get("ack_reference_zar"))
                if known is None or state.get("ack_marker") != marker:
                    reference = _text(report.total_value_zar)
                else:
                    reference = _text(known)
                    if report.total_value_zar - known > report.threshold_zar:
                        halt_now = True
                        breach_message += (
                            f"; it grew by R{report.total_value_zar - known:,.2f} since the "
                            "resume that acknowledged it"
                        )
        if halt_now:
            report = _with(report, halted=True)
        self._store_state(
            live_since,
            report,
            signature if report.mismatched else None,
            breach_message=breach_message,
            figures=figures,
            ack_reference=reference,
            ack_marker=marker if reference is not None else None,
        )
        if halt_now:
            self._halts.trigger(Breach(TRIGGER, breach_message, figures))
        return report

    @staticmethod
    def _signature(report: ReconcileReport) -> str | None:
        if not report.mismatched:
            return None
        return json.dumps(
            {
                "currencies": {
                    line.currency: _text(line.difference)
                    for line in report.currencies
                    if line.mismatched
                },
                "orders": sorted(f"{i.kind}:{i.client_order_id}" for i in report.orders),
            },
            sort_keys=True,
        )

    def _store_state(
        self,
        live_since: str,
        report: ReconcileReport,
        signature: str | None,
        *,
        breach_message: str = "",
        figures: dict[str, Any] | None = None,
        ack_reference: str | None = None,
        ack_marker: str | None = None,
    ) -> None:
        state = {
            "live_since": live_since,
            "checked_at": report.checked_at.isoformat(),
            "status": report.status,
            "over_threshold": report.over_threshold,
            "signature": signature,
            "breach_message": breach_message,
            "breach_figures": figures or {},
            "ack_reference_zar": ack_reference,
            "ack_marker": ack_marker,
            "report": report.to_dict(),
        }
        with self._db.write() as session:
            put_setting(session, STATE_KEY, json.dumps(state), report.checked_at, ACTOR)

    def _unreachable(self, now: datetime, exc: ValrError) -> ReconcileReport:
        text = f"reconciliation could not read VALR: {exc}"
        record_exchange_error(self._db, now, ERROR_SOURCE, text)
        return ReconcileReport(
            now,
            UNREACHABLE,
            text + " (no difference claimed; the last result stands)",
            threshold_zar=self._settings.live_reconcile_halt_zar,
            error=str(exc),
        )


def _with(report: ReconcileReport, **changes: Any) -> ReconcileReport:
    from dataclasses import replace

    return replace(report, **changes)


def _malformed(item: Any) -> ValrError:
    from helios.exchange.valr import ValrUnavailable

    return ValrUnavailable(
        f"unexpected answer from VALR: {repr(item)[:200]}",
        method="GET",
        path=BALANCES_PATH,
        status=200,
    )


__all__ = [
    "BASELINE_KEY",
    "STATE_KEY",
    "TRIGGER",
    "CurrencyCheck",
    "OrderIssue",
    "ReconcileReport",
    "Reconciliation",
    "stored_breach",
]
