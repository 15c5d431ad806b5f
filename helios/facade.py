"""``helios.connect()``: the one public entry point (DESIGN.md).

Returns a ``Helios`` object whose parts are named after the seed's concepts: ``.market``,
``.ledger``, ``.controls``, ``.exchange``, ``.risk``, ``.positions``, ``.optimizer``, ``.signals``,
``.halts`` (the automatic halt rules), ``.events`` (the event log, filtered and paged),
``.locks`` (pair locks), ``.metrics`` (the seed's weekly checks), ``.reports`` (the daily and
weekly reports) and ``.live`` (the pre-live checklist), ``.reconciliation`` (LIVE: VALR's
balances and orders against the ledger), ``.trading_state`` (the mode and the halt flag, which
``.controls`` composes with the commands). The dashboard, the scheduler, tests and notebooks all
go through it, so nothing is computed twice. ``Helios`` builds every part bottom-up, each given
the parts it uses: there is no binding step after construction.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from sqlalchemy.exc import IntegrityError

from helios.accounts.account import ensure_account
from helios.alerts import outbox
from helios.alerts.sender import Sender
from helios.alerts.service import Alerts
from helios.clock import Clock, SystemClock
from helios.config import ConfigError, Settings, TradingMode, load_settings
from helios.controls import Controls
from helios.db.engine import Database
from helios.db.migrate import upgrade_to_head
from helios.db.models import PortfolioSnapshot, Setting
from helios.errors import HeliosError
from helios.event_log import EventLog
from helios.events import record_event
from helios.exchange.base import Exchange
from helios.exchange.paper import PaperExchange
from helios.exchange.valr import ValrExchange
from helios.halts import Halts
from helios.ledger import Ledger
from helios.live import LiveReadiness
from helios.market.feeds import MarketFeed, build_feed
from helios.market.store import MarketData
from helios.metrics import Metrics
from helios.money import ZERO, zar
from helios.optimizer.service import Optimizer
from helios.pair_lock_service import PairLocks
from helios.positions.installation import seed_installation_id
from helios.positions.manager import PositionManager
from helios.reconciliation import Reconciliation
from helios.replay.service import Replays
from helios.reports.service import Reports
from helios.risk.limit_store import limits_in_force
from helios.risk.service import RiskManager, VenueCash, seed_limits
from helios.settings_store import MODE_KEY, get_setting, seed_defaults
from helios.signals import Signals
from helios.trading_state import TradingState

log = logging.getLogger(__name__)


class Helios:
    """The library, wired to one database, one configuration and one clock."""

    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        """Build every part bottom-up, each given the parts it uses (no binding step)."""
        self.settings = settings
        self.db = db
        self.clock = clock
        # the operator's alerts: every event written through db queues its alert in the same
        # transaction (helios.alerts.outbox); hx.alerts delivers, reports and watches
        self.alerts = Alerts(
            db, settings, clock, Sender(db, clock, settings, settings.alert_channels())
        )
        outbox.install(db, self.alerts.policy, lambda: self.alerts.channel_ids)
        # the event log, filtered, searched and paged (hx.events.query)
        self.events = EventLog(db, settings.pairs)
        # L4a: the market store, the ledger, the trading state (mode, halt flag, acknowledgements)
        self.market = MarketData(db, settings, clock)
        self.ledger = Ledger(db, settings, clock)
        self.trading_state = TradingState(db, clock)
        # pair locks (hx.locks): a locked pair opens nothing; the risk decision reads them
        self.locks = PairLocks(db, settings, clock, self.market)
        # L3: the exchanges
        self.paper_exchange = PaperExchange(db, settings, clock)
        # LIVE: VALR; built without a network call (keys are checked by the pre-live checklist)
        self.valr_exchange = ValrExchange(settings, price_source=self.market.latest_price)
        # L4b: the optimizer, the risk services
        self.optimizer = Optimizer(db, settings, clock, self.market)
        self.risk = RiskManager(
            db,
            settings,
            clock,
            self.market,
            optimizer=self.optimizer,
            venue=self._valr_cash,
        )
        # L4c: the positions
        self.positions = PositionManager(
            db,
            settings,
            clock,
            self.market,
            self.risk,
            {TradingMode.PAPER: self.paper_exchange, TradingMode.LIVE: self.valr_exchange},
        )
        # L4d: signals, the LIVE reconciliation, metrics, the pre-live checklist
        self.signals = Signals(
            db, settings, clock, self.market, self.risk, self.positions, self.trading_state
        )
        # LIVE: VALR's balances and open orders against the ledger (hx.reconciliation.check());
        # a breach is reported to the watchdog built below (resolved when reported)
        self.reconciliation = Reconciliation(
            db,
            settings,
            clock,
            self.market,
            self.valr_exchange,
            installation_id=self.positions.installation_id,
            acknowledged_triggers=self.trading_state.acknowledged_triggers,
            report_breach=lambda breach: self.halts.trigger(breach),
        )
        self.metrics = Metrics(db, settings, clock, self.risk.limit_store)
        # the daily and weekly reports (hx.reports; queued as alerts at the day roll)
        self.reports = Reports(
            db, settings, clock, self.metrics, self.alerts, self.risk.limit_store
        )
        # the pre-live checklist (hx.live; hx.controls.set_mode("LIVE") enforces it)
        self.live = LiveReadiness(
            db, settings, clock, self.trading_state, self.metrics, self.ledger, self.valr_exchange
        )
        # L4e: the watchdog (the seed's automatic stops)
        self.halts = Halts(
            db,
            settings,
            clock,
            self.ledger,
            limits_in_force,  # read in the watchdog's own transaction
            self.trading_state,
            self.positions,
        )
        # history through this same library (hx.replay: each run opens its own database)
        self.replay = Replays(settings, self.market, connect)
        # L5: the manual controls (the trading state and the commands)
        self.controls = Controls(
            self.trading_state, positions=self.positions, halts=self.halts, live=self.live
        )

    def _valr_cash(self, pair: str) -> VenueCash:
        """LIVE buying power: VALR's available ZAR and its taker fee on ``pair`` (asked by
        ``hx.risk`` outside any transaction); a VALR that cannot answer leaves it unknown, and
        the pre-check fails closed."""
        fee = self.valr_exchange.taker_fee(pair)
        try:
            available = self.valr_exchange.balances().get("ZAR", ZERO)
        except HeliosError as exc:
            return VenueCash(None, fee, f"{type(exc).__name__}: {exc}")
        return VenueCash(available, fee)

    @property
    def exchange(self) -> Exchange:
        """The exchange of the mode in force (read from the database on every use)."""
        if self.trading_state.trading_mode() is TradingMode.LIVE:
            return self.valr_exchange
        return self.paper_exchange

    def reconcile_at_start(self, settle_now_from: str | None = None) -> list[dict[str, Any]]:
        """Settle positions stuck OPENING/CLOSING; a failure (the exchange is down, say) is
        recorded and does not stop the process: the next start, or a call, tries again.
        ``settle_now_from``: a process known to be dead or fenced, whose orders need no grace
        (``PositionManager.reconcile``)."""
        try:
            return self.positions.reconcile(settle_now_from=settle_now_from)
        except Exception as exc:
            log.exception("reconcile at start failed")
            with self.db.write() as session:
                record_event(
                    session,
                    ts=self.clock.now(),
                    kind="RECONCILE_FAILED",
                    severity="ERROR",
                    actor="startup",
                    message=f"reconcile at start failed: {type(exc).__name__}: {exc}",
                )
            return []

    def take_snapshot(self) -> PortfolioSnapshot:
        """One portfolio snapshot with the risk budget in use (sum of notional x daily vol);
        risk used is left empty when a volatility estimate is missing, never guessed."""
        risk_used = self.risk.risk_budget()["risk_used_zar"]
        used = zar(risk_used) if math.isfinite(risk_used) else None
        return self.ledger.take_snapshot(risk_used=used)

    def build_feed(self) -> MarketFeed:
        """The configured market feed, continuing from the prices already stored."""
        latest = {pair: float(value) for pair, value in self.market.latest_prices().items()}
        return build_feed(self.settings, latest)

    def close(self) -> None:
        self.valr_exchange.close()
        self.db.dispose()

    def __enter__(self) -> Helios:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Helios {self.db.display_url} mode={self.controls.trading_mode().value} "
            f"feed={self.settings.market_feed.value}>"
        )


def _first_start(db: Database, settings: Settings, clock: Clock) -> Setting | None:
    """Create the account and seed the mode and the risk limits once; returns the stored mode.

    Two processes starting together on a new PostgreSQL database may both find no account and
    both insert it: the loser's insert fails on the primary key, and its second attempt finds
    the winner's rows and leaves them alone. (SQLite's write lock already lets only one in.)
    """
    for attempt in (1, 2):
        now = clock.now()
        try:
            with db.write() as session:
                ensure_account(
                    session, settings.initial_capital_zar, now, settings.trading_day_timezone
                )
                seed_defaults(session, settings.trading_mode, now)
                seed_limits(session, settings, now)
                seed_installation_id(session, now)
                return get_setting(session, MODE_KEY)
        except IntegrityError:
            if attempt == 2:
                raise
    return None  # unreachable


def connect(
    database_url: str | None = None,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    reconcile: bool = True,
    **overrides: Any,
) -> Helios:
    """Open Helios on a database (default: ``DATABASE_URL``, else ``data/helios.db``).

    Applies migrations, creates the account on first start (``INITIAL_CAPITAL_ZAR``) and seeds the
    trading mode, then settles positions a crash left between two states
    (``hx.positions.reconcile``: every process does it at start). ``overrides`` take the
    configuration keys in lower case (``market_feed="manual"``, ``initial_capital_zar=50000``);
    bad values raise ConfigError.
    """
    settings = load_settings(database_url=database_url, **overrides)
    chosen_clock = clock or SystemClock()
    db = Database(settings.database_url, int(settings.sqlite_busy_timeout_seconds * 1000))
    try:
        if migrate:
            upgrade_to_head(db.engine)
        stored = _first_start(db, settings, chosen_clock)
        if (
            "trading_mode" in settings.model_fields_set
            and stored is not None
            and stored.value != settings.trading_mode.value
        ):
            changed = f"changed by {stored.updated_by} at {stored.updated_at:%Y-%m-%d %H:%M} UTC"
            allowed = (
                f"the database is in {stored.value} mode ({changed}); remove TRADING_MODE or "
                "change the mode with hx.controls.set_mode so the two agree"
            )
            raise ConfigError([("TRADING_MODE", settings.trading_mode.value, allowed)])
    except BaseException:
        db.dispose()
        raise
    hx = Helios(settings, db, chosen_clock)
    if reconcile:
        hx.reconcile_at_start()
    return hx
