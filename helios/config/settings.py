"""The ``Settings`` model: every key Helios reads, with its type, default and allowed range.

One field per key (the lower-case form of the environment key), grouped by what it configures;
the range is on the field so a value out of it stops start-up, and the value rules beyond type
and range are in ``helios.config.rules``. Rules tying two keys together are ``cross_check``
(checked by ``load_settings`` after every field). The risk limits' defaults and ranges come from
``helios.limit_rules`` (the one place for them); ``repr()`` never carries a secret or the
database password.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from helios.config import rules
from helios.config.channels import ChannelSpec, check_ping_url, parse_alert_urls
from helios.config.choices import (
    AlertSeverity,
    DemoSignals,
    FeedKind,
    HaltAction,
    SizingMethod,
    TradingMode,
)
from helios.config.paths import DEFAULT_DATABASE_URL, project_path
from helios.config.redaction import redact_url
from helios.limit_rules import LIMIT_RULES

# Approximate market capitalisations in ZAR on DEFAULT_MARKET_CAPS_AS_OF: circulating supply x
# price in USD, rounded, at R18.85 to the dollar. VALR publishes none, so they are configuration
# (MARKET_CAPS_ZAR), dated (MARKET_CAPS_AS_OF) and meant to be edited; only their ratios matter
# (they become the Black-Litterman prior's weights).
DEFAULT_MARKET_CAPS_AS_OF = date(2024, 12, 31)
DEFAULT_MARKET_CAPS_ZAR: dict[str, float] = {
    "BTCZAR": 3.49e13,  # ~ USD 1.85 trillion
    "ETHZAR": 7.56e12,  # ~ USD 401 billion
    "XRPZAR": 2.26e12,  # ~ USD 120 billion
    "SOLZAR": 1.72e12,  # ~ USD 91 billion
    "ADAZAR": 5.56e11,  # ~ USD 29.5 billion
    "AVAXZAR": 2.75e11,  # ~ USD 14.6 billion
    "LINKZAR": 2.41e11,  # ~ USD 12.8 billion
    "DOTZAR": 1.92e11,  # ~ USD 10.2 billion
    "LTCZAR": 1.47e11,  # ~ USD 7.8 billion
    "ATOMZAR": 4.5e10,  # ~ USD 2.4 billion
}


def _fraction(default: float, low: float, high: float, *, low_open: bool = True) -> Any:
    """A fraction field: ``low < x <= high`` (or ``low <= x`` when low_open is False)."""
    extra = {"fraction": True}
    if low_open:
        return Field(default=default, gt=low, le=high, json_schema_extra=extra)
    return Field(default=default, ge=low, le=high, json_schema_extra=extra)


def _limit(name: str) -> Any:
    """A risk-limit field with the default and range of its rule."""
    rule = LIMIT_RULES[name]
    bound = {"ge": rule.low} if rule.low_inclusive else {"gt": rule.low}
    extra = {"fraction": name != "max_leverage"}
    return Field(default=rule.default, le=rule.high, json_schema_extra=extra, **bound)


class Settings(BaseSettings):
    """Every setting Helios reads. Field names are the lower-case form of the environment keys."""

    model_config = SettingsConfigDict(
        env_file=None,  # chosen at load time, see load_settings()
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- where and how --------------------------------------------------------------------
    database_url: str = Field(default=DEFAULT_DATABASE_URL, min_length=1)
    trading_mode: TradingMode = TradingMode.PAPER
    market_feed: FeedKind = FeedKind.SIM
    initial_capital_zar: Decimal = Field(default=Decimal("100000"), gt=0, le=Decimal("1e12"))
    pairs: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["BTCZAR", "ETHZAR", "SOLZAR"], min_length=1, max_length=50
    )
    trading_day_timezone: str = "Africa/Johannesburg"

    # --- paper exchange -------------------------------------------------------------------
    # VALR ZAR pairs, tier 1: taker 0.35% (VALR_API.md section 8); market orders are takers.
    paper_fee_pct: Decimal = Field(default=Decimal("0.0035"), ge=0, le=Decimal("0.05"))
    paper_slippage_pct: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.05"))

    # --- the seed's risk limits (first-start values; the database holds the versions in force)
    # (defaults and ranges live in helios.limit_rules.LIMIT_RULES, the one place for them)
    max_drawdown_pct: float = _limit("max_drawdown_pct")
    daily_loss_limit_pct: float = _limit("daily_loss_limit_pct")
    max_portfolio_risk_exposure_pct: float = _limit("max_portfolio_risk_exposure_pct")
    max_single_position_pct: float = _limit("max_single_position_pct")
    max_sector_exposure_pct: float = _limit("max_sector_exposure_pct")
    max_correlation_threshold: float = _limit("max_correlation_threshold")
    max_leverage: float = _limit("max_leverage")
    min_position_size_pct: float = _limit("min_position_size_pct")

    # --- the seed's position defaults -----------------------------------------------------
    default_stop_loss_pct: float = Field(default=0.02, gt=0.0, le=0.5)
    default_take_profit_pct: float = Field(default=0.06, gt=0.0, le=5.0)
    max_position_holding_hours: float = Field(default=72.0, gt=0.0, le=24.0 * 90)

    # --- sizing (issue #3 uses these) -----------------------------------------------------
    kelly_fraction: float = _fraction(0.25, 0.0, 1.0)
    vol_target_annual: float = Field(default=0.10, gt=0.0, le=5.0)
    periods_per_year: int = Field(default=365, ge=1, le=366)
    sector_map: dict[str, str] = Field(default_factory=dict)
    sizing_method: SizingMethod = SizingMethod.KELLY_VOL

    # --- the optimizer (issue #5: Black-Litterman + max Sharpe) -----------------------------
    market_caps_zar: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MARKET_CAPS_ZAR))
    market_caps_as_of: date = DEFAULT_MARKET_CAPS_AS_OF
    risk_free_rate: float = Field(
        default=0.07, ge=-0.05, le=1.0, json_schema_extra={"fraction": True}
    )
    bl_tau: float = _fraction(0.05, 0.0, 1.0)
    bl_risk_aversion: float = Field(default=2.5, gt=0.0, le=100.0)
    optimizer_max_weight: float = _fraction(1.0, 0.0, 1.0)

    # --- market data ----------------------------------------------------------------------
    sim_seed: int = Field(default=20261126, ge=0)
    sim_backfill_days: int = Field(default=400, ge=0, le=3650)
    replay_path: str = ""
    replay_history_days: int = Field(default=120, ge=0, le=3650)
    replay_price_scale: Decimal = Field(default=Decimal("1"), gt=0, le=Decimal("1e6"))
    replay_bars_per_poll: int = Field(default=1, ge=1, le=10000)
    # where hx.replay keeps its runs, one SQLite file each (issue 19; relative: under the project)
    replay_dir: str = "data/replays"
    valr_base_url: str = "https://api.valr.com"
    valr_timeout_seconds: float = Field(default=10.0, gt=0.0, le=120.0)
    # LIVE orders (issue #8): how long a market order waits for VALR to report its fill before
    # it is returned PENDING (reconcile settles it); retries of a 429, a 5xx or a lost GET; the
    # first backoff step (doubling, with jitter); the subaccount the key acts on (empty: the key's
    # own account)
    valr_fill_wait_seconds: float = Field(default=10.0, ge=0.0, le=300.0)
    valr_max_retries: int = Field(default=3, ge=0, le=10)
    valr_backoff_seconds: float = Field(default=0.5, gt=0.0, le=60.0)
    valr_subaccount_id: str = Field(default="", pattern=r"^[0-9A-Za-z-]{0,64}$")
    intraday_retention_days: int = Field(default=30, ge=1, le=3650)
    # every price observed is kept this long (price_ticks): the stop monitor reads the prices
    # seen after a position's entry from it
    price_tick_retention_hours: float = Field(default=48.0, ge=1.0, le=24.0 * 365)
    # an opening trade needs a price observed at its source at most this long ago (seconds)
    price_max_age_seconds: float = Field(default=60.0, ge=1.0, le=86400.0)
    # MARKET_FEED=valr: the feed's calls to VALR's public routes in any 60 s (VALR allows 30 a
    # minute per IP on /v1/public/*; the rest is left to the order client's pair list)
    valr_feed_calls_per_minute: int = Field(default=24, ge=2, le=30)

    # --- secrets (never stored, logged or shown) ------------------------------------------
    valr_api_key: SecretStr | None = None
    valr_api_secret: SecretStr | None = None
    # the dashboard's login gate: `helios hash-password` makes it; empty: no gate (127.0.0.1)
    dashboard_password_hash: SecretStr | None = None
    # the REST API's bearer token for writes (api/); empty: the API serves reads only
    helios_api_token: SecretStr | None = None

    # --- processes ------------------------------------------------------------------------
    price_interval_seconds: float = Field(default=5.0, ge=0.5, le=3600.0)
    monitor_interval_seconds: float = Field(default=5.0, ge=0.5, le=3600.0)
    snapshot_interval_seconds: float = Field(default=60.0, ge=1.0, le=86400.0)
    heartbeat_interval_seconds: float = Field(default=10.0, ge=1.0, le=3600.0)
    dashboard_address: str = "127.0.0.1"
    dashboard_port: int = Field(default=8501, ge=1, le=65535)
    dashboard_refresh_seconds: float = Field(default=5.0, ge=1.0, le=3600.0)
    # how long a dashboard sign-in lasts (a signed HttpOnly cookie, helios/session_token.py),
    # and the file holding the server's secret it is signed with (0600; never in the database)
    dashboard_session_hours: float = Field(default=12.0, ge=0.01, le=720.0)
    dashboard_session_key_file: str = "data/dashboard-session.key"
    api_address: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # the largest request body the API reads (api/limits.py: 413 past it, counted while reading;
    # the largest valid request is a few KiB), and how long it waits for a whole body (408)
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    api_body_timeout_seconds: float = Field(default=10.0, ge=0.5, le=300.0)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    # rotating log file (relative paths are under the project); empty: log to the terminal only
    log_file: str = "data/logs/helios.log"
    sqlite_busy_timeout_seconds: float = Field(default=30.0, ge=0.1, le=600.0)

    # --- the scheduler (issue #6) ---------------------------------------------------------
    trading_interval_seconds: float = Field(default=5.0, ge=0.5, le=3600.0)
    watchdog_interval_seconds: float = Field(default=5.0, ge=0.5, le=3600.0)
    trading_batch_size: int = Field(default=1000, ge=1, le=100000)
    signal_expiry_seconds: float = Field(default=300.0, ge=1.0, le=7 * 86400.0)
    leader_lease_seconds: float = Field(default=15.0, ge=1.0, le=3600.0)
    leader_poll_seconds: float = Field(default=2.0, ge=0.2, le=600.0)
    demo_signals: DemoSignals = DemoSignals.AUTO
    demo_signal_interval_seconds: float = Field(default=20.0, ge=1.0, le=86400.0)
    journal_dir: str = "data/journal"

    # --- automatic halts (the seed's list; the thresholds of drawdown and daily loss are the
    # risk limits in force) ------------------------------------------------------------------
    halt_stale_price_seconds: float = Field(default=3600.0, ge=1.0, le=7 * 86400.0)
    halt_database_lost_seconds: float = Field(default=30.0, ge=0.0, le=86400.0)
    halt_exchange_errors: int = Field(default=10, ge=1, le=10000)
    halt_exchange_error_window_seconds: float = Field(default=60.0, ge=1.0, le=86400.0)
    halt_action_drawdown: HaltAction = HaltAction.CLOSE_ALL
    halt_action_daily_loss: HaltAction = HaltAction.CLOSE_ALL
    halt_action_stale_price: HaltAction = HaltAction.CLOSE_ALL
    halt_action_database_lost: HaltAction = HaltAction.CLOSE_ALL
    halt_action_exchange_errors: HaltAction = HaltAction.CLOSE_ALL
    # LIVE: the exchange's balances or orders disagree with the ledger (helios.reconciliation);
    # halt_only by default: closing positions from a picture known to be wrong is not safe
    halt_action_reconciliation: HaltAction = HaltAction.HALT_ONLY
    closeout_retry_max_seconds: float = Field(default=60.0, ge=0.1, le=3600.0)

    # --- pair locks (issue 18: helios.pair_locks, hx.locks) --------------------------------
    # a pair is locked for LOCK_HOURS after this many losing stop-outs on it within
    # LOCK_WINDOW_HOURS (0: no automatic lock; locks by hand still work)
    lock_after_stops: int = Field(default=3, ge=0, le=100)
    lock_window_hours: float = Field(default=6.0, gt=0.0, le=720.0)
    lock_hours: float = Field(default=12.0, gt=0.0, le=720.0)
    # at most this many positions open on one pair at a time (0: no such rule); a signal for a
    # pair that is full is refused before the 7 checks, like a locked pair (issue 19)
    max_positions_per_pair: int = Field(default=0, ge=0, le=1000)
    # false: the 7 checks are judged and stored with each decision but refuse nothing (a
    # replay's "limits out of the way"); never in LIVE, where they are always enforced
    risk_checks_enforced: bool = True
    # the price grid a stop is placed on, rounded toward the entry (0: none, 8 decimals)
    price_tick: Decimal = Field(default=Decimal("0"), ge=0, le=Decimal("1e6"))

    # --- LIVE reconciliation (issue #8): VALR's balances and open orders against the ledger --
    live_reconcile_seconds: float = Field(default=60.0, ge=5.0, le=3600.0)
    # a difference worth more than this (ZAR, at the latest prices) halts
    live_reconcile_halt_zar: Decimal = Field(default=Decimal("100"), ge=0, le=Decimal("1e9"))
    # rounding allowed per fill, in steps of the currency's decimals (baseDecimalPlaces; cents)
    live_reconcile_tolerance_steps: int = Field(default=2, ge=0, le=1_000_000)
    # an order of a position OPENING/CLOSING for longer than this must be known to VALR
    live_reconcile_grace_seconds: float = Field(default=120.0, ge=30.0, le=86400.0)

    # --- going LIVE (issue #8): the pre-live checklist (helios.live) and the capital cap ------
    # days of uninterrupted PAPER snapshots needed (the seed's 7-day paper test is the floor)
    live_min_paper_days: int = Field(default=7, ge=7, le=365)
    # the longest gap between two PAPER snapshots that still counts as "running", hours
    live_max_snapshot_gap_hours: float = Field(default=6.0, ge=0.1, le=24.0)
    # in LIVE the risk checks and sizing see at most this much equity, ZAR (the seed: start
    # LIVE with R1,000-5,000; the checklist refuses a cap above R5,000)
    live_capital_cap_zar: Decimal = Field(default=Decimal("5000"), gt=0, le=Decimal("100000000"))

    # --- telling the operator (issue 17: helios.alerts) -----------------------------------
    # apprise URLs, comma-separated, one per destination; secrets like the VALR keys
    alert_urls: SecretStr | None = None
    alert_min_severity: AlertSeverity = AlertSeverity.INFO
    # messages per channel in any 60 s; a burst beyond it is grouped into digests
    alert_max_per_minute: int = Field(default=10, ge=1, le=10000)
    # a warning or info alert waits this long (s) so a burst arrives as one digest
    alert_group_seconds: float = Field(default=10.0, ge=0.0, le=600.0)
    # a failing channel is retried after 2, 4, 8 ... s, never longer apart than this
    alert_retry_max_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    alert_send_interval_seconds: float = Field(default=2.0, ge=0.2, le=300.0)
    alert_position_events: bool = False  # info alerts for every position opened and closed
    alert_reports: bool = True  # the daily report at the day roll, the weekly one on Mondays
    # a job that fails this many times in a row is a warning
    alert_job_errors: int = Field(default=3, ge=1, le=1000)
    # the dead-man's switch: the leading scheduler GETs this every HEARTBEAT_PING_SECONDS
    # (<url>/fail after a failed pass); a secret (healthchecks.io's uuid is the credential)
    heartbeat_ping_url: SecretStr | None = None
    heartbeat_ping_seconds: float = Field(default=60.0, ge=5.0, le=3600.0)
    # the API and dashboard raise a critical alert when the scheduler's beat is older than this
    scheduler_silent_alert_seconds: float = Field(default=180.0, ge=10.0, le=7 * 86400.0)
    scheduler_silent_check_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)

    @field_validator(
        "valr_api_key",
        "valr_api_secret",
        "dashboard_password_hash",
        "helios_api_token",
        "alert_urls",
        "heartbeat_ping_url",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_none(cls, value: Any) -> Any:
        return rules.empty_secret_is_none(value)

    @field_validator("helios_api_token")
    @classmethod
    def _a_strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        return rules.strong_token(value)

    @field_validator("alert_urls")
    @classmethod
    def _known_channels(cls, value: SecretStr | None) -> SecretStr | None:
        parse_alert_urls(value.get_secret_value() if value is not None else None)
        return value

    @field_validator("heartbeat_ping_url")
    @classmethod
    def _a_ping_url(cls, value: SecretStr | None) -> SecretStr | None:
        check_ping_url(value.get_secret_value() if value is not None else None)
        return value

    @field_validator("dashboard_password_hash")
    @classmethod
    def _a_password_hash(cls, value: SecretStr | None) -> SecretStr | None:
        return rules.password_hash(value)

    @field_validator("trading_mode", "log_level", mode="before")
    @classmethod
    def _upper_choice(cls, value: Any) -> Any:
        return rules.upper(value)

    @field_validator(
        "market_feed",
        "sizing_method",
        "demo_signals",
        "halt_action_drawdown",
        "halt_action_daily_loss",
        "halt_action_stale_price",
        "halt_action_database_lost",
        "halt_action_exchange_errors",
        "halt_action_reconciliation",
        "alert_min_severity",
        mode="before",
    )
    @classmethod
    def _lower_choice(cls, value: Any) -> Any:
        return rules.lower(value)

    @field_validator("market_caps_zar", mode="before")
    @classmethod
    def _normalise_cap_pairs(cls, value: Any) -> Any:
        return rules.normalise_cap_pairs(value)

    @field_validator("market_caps_zar")
    @classmethod
    def _check_caps(cls, value: dict[str, float]) -> dict[str, float]:
        return rules.check_caps(value)

    @field_validator("pairs", mode="before")
    @classmethod
    def _split_pairs(cls, value: Any) -> Any:
        return rules.split_pairs(value)

    @field_validator("pairs")
    @classmethod
    def _check_pairs(cls, value: list[str]) -> list[str]:
        return rules.check_pairs(value)

    @field_validator("trading_day_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        return rules.check_zone(value)

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return rules.check_database_url(value)

    @field_validator("valr_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return rules.check_base_url(value)

    def cross_check(self) -> list[tuple[str, Any, str]]:
        """Rules that tie two keys together, as (KEY, value, allowed) problems."""
        problems: list[tuple[str, Any, str]] = []
        if self.market_feed is FeedKind.REPLAY and not self.replay_path:
            problems.append(
                (
                    "REPLAY_PATH",
                    self.replay_path,
                    "must name a folder of <PAIR>.csv files when MARKET_FEED=replay",
                )
            )
        if self.trading_mode is TradingMode.LIVE and self.market_feed is not FeedKind.VALR:
            problems.append(
                (
                    "MARKET_FEED",
                    self.market_feed.value,
                    "must be valr when TRADING_MODE=LIVE (real prices for real money)",
                )
            )
        if self.market_feed is not FeedKind.MANUAL and (
            self.price_max_age_seconds < 2 * self.price_interval_seconds
        ):
            problems.append(
                (
                    "PRICE_MAX_AGE_SECONDS",
                    self.price_max_age_seconds,
                    f"at least twice PRICE_INTERVAL_SECONDS ({self.price_interval_seconds:g} s):"
                    " the feed must refresh a price before it is too old to trade on",
                )
            )
        if self.sizing_method is SizingMethod.OPTIMIZER_CAPPED:
            missing = [pair for pair in self.pairs if pair not in self.market_caps_zar]
            if missing:
                problems.append(
                    (
                        "MARKET_CAPS_ZAR",
                        f"no cap for {', '.join(missing)}",
                        "a market cap for every pair in PAIRS when "
                        "SIZING_METHOD=optimizer_capped (the optimizer's prior needs them)",
                    )
                )
        return problems

    def sector_of(self, pair: str) -> str:
        """The sector a pair belongs to (default: every pair is 'crypto')."""
        return self.sector_map.get(pair, "crypto")

    def project_path(self, value: str) -> Path | None:
        """A path setting: relative paths are under the project; empty means none."""
        return project_path(value)

    def halt_action(self, trigger: str) -> HaltAction:
        """The configured action of an automatic halt trigger (``drawdown``, ``daily_loss``,
        ``stale_price``, ``database_lost``, ``exchange_errors``, ``reconciliation``)."""
        return HaltAction(getattr(self, f"halt_action_{trigger}"))

    def demo_signals_wanted(self, mode: TradingMode) -> bool:
        """Whether the demo signal generator runs: never in LIVE; AUTO means PAPER + sim."""
        if mode is TradingMode.LIVE or self.demo_signals is DemoSignals.OFF:
            return False
        return self.demo_signals is DemoSignals.ON or self.market_feed is FeedKind.SIM

    def alert_channels(self) -> tuple[ChannelSpec, ...]:
        """The destinations of ``ALERT_URLS`` (validated at load; the URLs stay in memory)."""
        secret = self.alert_urls.get_secret_value() if self.alert_urls is not None else None
        return parse_alert_urls(secret)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr_args__(self) -> Any:
        # repr() and str() of the settings must not carry the database password
        for name, value in super().__repr_args__():
            yield name, (redact_url(value) if name == "database_url" else value)
