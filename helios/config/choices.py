"""The closed choices a setting takes, one ``StrEnum`` each.

A choice is an enum, not a free string, so a typo stops start-up (``ConfigError`` lists the
allowed values) instead of silently picking a default; the values are what the environment
holds (``TRADING_MODE=PAPER``, ``MARKET_FEED=sim``).
"""

from __future__ import annotations

from enum import StrEnum


class TradingMode(StrEnum):
    PAPER = "PAPER"
    LIVE = "LIVE"


class FeedKind(StrEnum):
    SIM = "sim"
    REPLAY = "replay"
    VALR = "valr"
    MANUAL = "manual"


class HaltAction(StrEnum):
    """What an automatic halt does (issue #6). The seed's action for every trigger is CLOSE_ALL."""

    CLOSE_ALL = "close_all"  # halt trading and close every open position as EMERGENCY_CLOSE
    HALT_ONLY = "halt_only"  # halt opening trades; open positions stay under their stops


class DemoSignals(StrEnum):
    """The demo momentum signal generator: on by default only in PAPER with the sim feed."""

    AUTO = "auto"  # on when PAPER and MARKET_FEED=sim, off otherwise
    ON = "on"  # on in PAPER with any feed (refused in LIVE)
    OFF = "off"


class SizingMethod(StrEnum):
    """How ``hx.risk.size_position`` sizes a trade (issue #5)."""

    KELLY_VOL = "kelly_vol"  # fractional Kelly x volatility scalar x equity (issue #3)
    OPTIMIZER_CAPPED = "optimizer_capped"  # the same, capped by the optimizer's target weight


class AlertSeverity(StrEnum):
    """How much an alert matters (issue 17); ``ALERT_MIN_SEVERITY`` sends this and above."""

    INFO = "info"  # positions opened and closed (when asked for), a resume, the reports
    WARNING = "warning"  # a take-over, repeated job errors, a stale feed, a mode change, ...
    CRITICAL = "critical"  # a halt, a close-out, an emergency stop, the database lost, ...

    @property
    def rank(self) -> int:
        return ("info", "warning", "critical").index(self.value)
