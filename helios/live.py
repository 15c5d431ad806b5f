"""``hx.live``: the seed's pre-live checklist, computed from the database, VALR and the
configuration, never asserted by a person's click.

``hx.controls.set_mode("LIVE", by=..., confirmed_by=...)`` switches only when every item holds;
otherwise it raises ``LiveNotReady`` listing every missing item and writes nothing but a
``MODE_CHANGE_REFUSED`` event (who tried, what was missing). PAPER is always allowed. The items
(the seed's "Before going LIVE", in its order):

1. ``paper_history``: at least ``LIVE_MIN_PAPER_DAYS`` (7) days of PAPER trading with a running
   scheduler. The evidence is the PAPER portfolio snapshots the scheduler takes every minute: they
   must reach back that many days with no gap longer than ``LIVE_MAX_SNAPSHOT_GAP_HOURS`` (6 h),
   the newest one included (a scheduler stopped now is a gap growing now); a longer gap restarts
   the count. And trading is not halted now, and ``hx.metrics.review`` finds no risk-limit
   violation in those days.
2. ``api_key``: VALR_API_KEY and VALR_API_SECRET are set and a signed
   ``GET /v1/account/api-keys/current`` answers with View access and Trade, and without Withdraw
   or Transfer (a trading key that can move money out is refused). A failed call is reported
   with VALR's reason; the key and the secret never appear in any text (scrubbed).
3. ``valr_prices``: real prices for real money, the rule ``TRADING_MODE=LIVE`` already has at
   start: this process runs with ``MARKET_FEED=valr`` and the latest stored price of every pair
   came from the VALR feed (the scheduler's) within ``HALT_STALE_PRICE_SECONDS``.
4. ``capital_cap``: ``LIVE_CAPITAL_CAP_ZAR`` is in force and no more than the seed's R5,000
   starting capital; in LIVE the risk checks and sizing see min(ledger equity, cap)
   (``helios.risk.book``, the one place it is applied).
5. ``monitoring``: a person's name confirming they will monitor LIVE trading closely.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from helios.clock import Clock
from helios.config import FeedKind, Settings
from helios.db.engine import Database
from helios.db.models import LatestPrice, PortfolioSnapshot
from helios.errors import HeliosError
from helios.money import fmt_zar
from helios.trading_state import TradingState

if TYPE_CHECKING:
    from helios.exchange.valr import ValrExchange
    from helios.ledger import Ledger
    from helios.metrics import Metrics

# the seed: "Starting with SMALL capital (R1,000-5,000)?"
SEED_START_CAPITAL_MAX_ZAR = Decimal("5000")
FORBIDDEN_PERMISSIONS = ("Withdraw", "Transfer")  # a trading key must not move money out
NEEDED_PERMISSIONS = ("View access", "Trade")  # follow orders and fills, place orders
MAX_GAPS_LISTED = 5
ITEM_ORDER = ("paper_history", "api_key", "valr_prices", "capital_cap", "monitoring")


@dataclass(frozen=True)
class ChecklistItem:
    """One item: ``ok``, a one-line ``detail`` (what holds, or every problem), the problems."""

    key: str
    title: str
    ok: bool
    detail: str
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "ok": self.ok,
            "detail": self.detail,
            "problems": list(self.problems),
        }


def _item(key: str, title: str, problems: list[str], fine: str) -> ChecklistItem:
    if problems:
        return ChecklistItem(key, title, False, "; ".join(problems), tuple(problems))
    return ChecklistItem(key, title, True, fine)


@dataclass(frozen=True)
class LiveChecklist:
    """The pre-live checklist at ``checked_at``: every item, ok or not."""

    items: tuple[ChecklistItem, ...]
    checked_at: datetime
    cap_zar: Decimal = field(default=Decimal("0"))

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def missing(self) -> list[str]:
        """Every problem of every failed item, as "title: problem"."""
        return [f"{item.title}: {p}" for item in self.items if not item.ok for p in item.problems]

    def item(self, key: str) -> ChecklistItem:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def summary(self) -> str:
        done = sum(item.ok for item in self.items)
        if self.ok:
            return f"all {len(self.items)} items ready"
        failed = ", ".join(item.key for item in self.items if not item.ok)
        return f"{done} of {len(self.items)} ready; missing: {failed}"

    def lines(self) -> list[str]:
        """The checklist as terminal lines: ``[x]``/``[ ]``, the title and the detail."""
        return [f"[{'x' if item.ok else ' '}] {item.title}: {item.detail}" for item in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "items": [item.to_dict() for item in self.items],
        }


class LiveNotReady(HeliosError):
    """LIVE refused: the pre-live checklist is not complete. ``missing`` lists every problem,
    ``checklist`` holds every item. Nothing was changed (one MODE_CHANGE_REFUSED event)."""

    def __init__(self, checklist: LiveChecklist, extra: list[str] | None = None) -> None:
        self.checklist = checklist
        self.missing = [*checklist.missing, *(extra or [])]
        failed = sum(not item.ok for item in checklist.items)
        counted = (
            f"{failed} of the {len(checklist.items)} pre-live checklist items missing"
            if failed
            else "the pre-live checklist no longer holds"
        )
        super().__init__(
            f"LIVE refused (trading stays PAPER): {counted}:\n  - " + "\n  - ".join(self.missing)
        )


class LiveReadiness:
    """``hx.live``: computes the checklist. ``checklist(confirmed_by)`` for every item;
    the items one by one for a page or a test."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        state: TradingState,
        metrics: Metrics,
        ledger: Ledger,
        valr: ValrExchange,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._state = state
        self._metrics = metrics
        self._ledger = ledger
        self._valr = valr
        self._monotonic = monotonic
        self._key_answer: tuple[float, ChecklistItem] | None = None
        self._lock = threading.Lock()

    @property
    def cap_zar(self) -> Decimal:
        return self._settings.live_capital_cap_zar

    def checklist(
        self, confirmed_by: str | None = None, *, max_key_age_seconds: float = 0.0
    ) -> LiveChecklist:
        """Every item now. ``max_key_age_seconds``: reuse VALR's answer about the key if it is
        younger (a page redrawn on every click); 0 (the switch itself) always asks VALR."""
        return LiveChecklist(
            items=(
                self.paper_history(),
                self.api_key(max_age_seconds=max_key_age_seconds),
                self.valr_prices(),
                self.capital_cap(),
                self.monitoring(confirmed_by),
            ),
            checked_at=self._clock.now(),
            cap_zar=self.cap_zar,
        )

    # --- 1: PAPER history -----------------------------------------------------------------
    def paper_history(self) -> ChecklistItem:
        settings = self._settings
        days = settings.live_min_paper_days
        bound = timedelta(hours=settings.live_max_snapshot_gap_hours)
        title = f"{days} days of PAPER trading"
        now = self._clock.now()
        start = now - timedelta(days=days)
        paper = PortfolioSnapshot.mode == "PAPER"
        ts = PortfolioSnapshot.ts
        with self._db.read() as session:
            first = session.scalars(select(ts).where(paper).order_by(ts).limit(1)).first()
            before = session.scalars(
                select(ts).where(paper, ts < start - bound).order_by(ts.desc()).limit(1)
            ).first()
            times = list(
                session.scalars(
                    select(ts).where(paper, ts >= start - bound, ts <= now).order_by(ts)
                )
            )
        problems: list[str] = []
        if first is None:
            problems.append(
                "PAPER history: none yet (the scheduler takes a PAPER snapshot every "
                f"{settings.snapshot_interval_seconds:g} s: run `helios up` in PAPER mode)"
            )
        else:
            points = ([before] if before is not None else []) + times
            gaps = [(a, b) for a, b in pairwise(points) if b - a > bound and b > start]
            for a, b in gaps[:MAX_GAPS_LISTED]:
                problems.append(f"a gap of {_hours(b - a)} on {_span(a, b)}")
            if len(gaps) > MAX_GAPS_LISTED:
                problems.append(f"and {len(gaps) - MAX_GAPS_LISTED} more gaps over {_hours(bound)}")
            newest = points[-1] if points else None
            if newest is None or now - newest > bound:
                since = newest or first
                problems.append(
                    f"no PAPER snapshot for {_hours(now - since)} (the last at {_at(since)}): "
                    "the scheduler is not running in PAPER mode, and a gap over "
                    f"{_hours(bound)} restarts the {days} days"
                )
            else:
                run_from = max(first, gaps[-1][1]) if gaps else first
                held = (now - run_from) / timedelta(days=1)
                if held < days:
                    since = "since the last gap" if gaps else "since the first PAPER snapshot"
                    problems.append(
                        f"PAPER history: {_floor1(held)} days of the {days} needed "
                        f"({since}, {_at(run_from)})"
                    )
        if bound.total_seconds() < settings.snapshot_interval_seconds:
            problems.append(
                f"LIVE_MAX_SNAPSHOT_GAP_HOURS ({_hours(bound)}) is shorter than "
                f"SNAPSHOT_INTERVAL_SECONDS ({settings.snapshot_interval_seconds:g} s)"
            )
        halt = self._state.halt_state()
        if halt.halted:
            by = f" by {halt.by}" if halt.by else ""
            when = f" since {_at(halt.since)}" if halt.since else ""
            problems.append(
                f"trading is halted now ({halt.cause}{by}{when}: {halt.reason}): resume first"
            )
        review = self._metrics.review(start, now)
        violations = {k: v for k, v in review["risk_limit_violations"].items() if v}
        if violations:
            shown = ", ".join(f"{name} in {n} snapshot(s)" for name, n in violations.items())
            problems.append(f"risk-limit violations in the last {days} days: {shown}")
        fine = (
            f"PAPER snapshots since {_at(first)} with no gap over {_hours(bound)} in the last "
            f"{days} days; not halted; no risk-limit violation"
            if first is not None
            else ""
        )
        return _item("paper_history", title, problems, fine)

    # --- 2: the VALR API key --------------------------------------------------------------
    def api_key(self, *, max_age_seconds: float = 0.0) -> ChecklistItem:
        if max_age_seconds > 0:
            with self._lock:
                cached = self._key_answer
            if cached is not None and self._monotonic() - cached[0] < max_age_seconds:
                return cached[1]
        answer = self._ask_valr_about_the_key()
        with self._lock:
            self._key_answer = (self._monotonic(), answer)
        return answer

    def _ask_valr_about_the_key(self) -> ChecklistItem:
        from helios.exchange.valr import ValrError

        title = "VALR API key (Trade, no Withdraw or Transfer)"
        missing = [
            name
            for name, value in (
                ("VALR_API_KEY", self._settings.valr_api_key),
                ("VALR_API_SECRET", self._settings.valr_api_secret),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            return _item(
                "api_key",
                title,
                [f"{' and '.join(missing)} not set in the environment (or .env)"],
                "",
            )
        route = "GET /v1/account/api-keys/current"
        try:
            info = self._valr.api_key_info()
        except ValrError as exc:
            return _item(
                "api_key", title, [f"the signed call {route} failed: {self._scrub(str(exc))}"], ""
            )
        except Exception as exc:  # an answer nobody expected: reported, never raised
            reason = self._scrub(f"{type(exc).__name__}: {exc}")
            return _item("api_key", title, [f"the signed call {route} failed: {reason}"], "")
        problems = [
            f"the key lacks the {name} permission"
            for name in NEEDED_PERMISSIONS
            if not info.has(name)
        ]
        forbidden = [name for name in FORBIDDEN_PERMISSIONS if info.has(name)]
        if forbidden:
            problems.append(
                f"the key carries the {' and '.join(forbidden)} permission"
                f"{'s' if len(forbidden) > 1 else ''}: make a key with View access and Trade "
                "only, so nothing can move money out of the account"
            )
        permissions = ", ".join(info.permissions) or "none"
        if problems:
            problems[0] += f" (it has: {permissions})"
        label = self._scrub(info.label)
        account = "a subaccount" if info.is_sub_account else "the main account"
        fine = (
            f"key {label!r} on {account} answers with {permissions} ({self._valr.client.base_url})"
        )
        return _item("api_key", title, problems, fine)

    def _scrub(self, text: str) -> str:
        for secret in (self._settings.valr_api_key, self._settings.valr_api_secret):
            value = secret.get_secret_value() if secret is not None else ""
            if value:
                text = text.replace(value, "***")
        return text

    # --- 3: real prices -------------------------------------------------------------------
    def valr_prices(self) -> ChecklistItem:
        settings = self._settings
        title = "Real prices from VALR"
        problems: list[str] = []
        if settings.market_feed is not FeedKind.VALR:
            problems.append(
                f"MARKET_FEED is {settings.market_feed.value}: LIVE needs MARKET_FEED=valr "
                "(real prices for real money), in this process and the scheduler's"
            )
        now = self._clock.now()
        stale = settings.halt_stale_price_seconds
        with self._db.read() as session:
            rows = {
                row.pair: row
                for row in session.scalars(
                    select(LatestPrice).where(LatestPrice.pair.in_(settings.pairs))
                )
            }
        none = [pair for pair in settings.pairs if pair not in rows]
        other = [
            f"{pair} ({rows[pair].source})"
            for pair in settings.pairs
            if pair in rows and rows[pair].source != FeedKind.VALR.value
        ]
        old = [
            f"{pair} ({_hours(now - rows[pair].ts)} old)"
            for pair in settings.pairs
            if pair in rows
            and rows[pair].source == FeedKind.VALR.value
            and (now - rows[pair].ts).total_seconds() > stale
        ]
        if none:
            problems.append(f"no price stored for {', '.join(none)}")
        if other:
            problems.append(
                f"the latest price is not from the VALR feed for {', '.join(other)}: run the "
                "scheduler with MARKET_FEED=valr"
            )
        if old:
            problems.append(
                f"the VALR price is older than HALT_STALE_PRICE_SECONDS ({stale:g} s) for "
                f"{', '.join(old)}"
            )
        fine = (
            f"MARKET_FEED=valr; the latest price of {', '.join(settings.pairs)} came from VALR "
            f"within {stale:g} s"
        )
        return _item("valr_prices", title, problems, fine)

    # --- 4: the capital cap ---------------------------------------------------------------
    def capital_cap(self) -> ChecklistItem:
        cap = self.cap_zar
        title = "Small LIVE capital (LIVE_CAPITAL_CAP_ZAR)"
        equity = self._ledger.valuation().equity
        seen = min(equity, cap)
        if cap > SEED_START_CAPITAL_MAX_ZAR:
            return _item(
                "capital_cap",
                title,
                [
                    f"the cap is {fmt_zar(cap)}: start LIVE with at most "
                    f"{fmt_zar(SEED_START_CAPITAL_MAX_ZAR)} (the seed: R1,000-5,000); lower "
                    "LIVE_CAPITAL_CAP_ZAR"
                ],
                "",
            )
        return _item(
            "capital_cap",
            title,
            [],
            f"cap {fmt_zar(cap)}: in LIVE the risk checks and sizing see "
            f"{fmt_zar(seen)} of the ledger's {fmt_zar(equity)} equity",
        )

    # --- 5: a person monitoring -----------------------------------------------------------
    def monitoring(self, confirmed_by: str | None) -> ChecklistItem:
        title = "A person monitoring closely"
        name = confirmed_by.strip() if isinstance(confirmed_by, str) else ""
        if not name:
            return _item(
                "monitoring",
                title,
                [
                    "no name: the person who will monitor LIVE trading closely confirms it "
                    "(confirmed_by, --confirm-monitoring NAME)"
                ],
                "",
            )
        return _item("monitoring", title, [], f"{name} confirms they will monitor closely")


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours < 1:
        return f"{span.total_seconds() / 60:.0f} min"
    return f"{hours:.1f} h"


def _at(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _span(a: datetime, b: datetime) -> str:
    end = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d} ({a:%H:%M} to {end} UTC)"


def _floor1(x: float) -> str:
    """One decimal, rounded down: 6.96 days is "6.9 days of the 7", never "7.0 of the 7"."""
    return f"{math.floor(x * 10 + 1e-9) / 10:.1f}"  # + 1e-9: 2.3 days is 22.999... tenths
