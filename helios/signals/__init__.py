"""``hx.signals``: upstream signals in, and the trading loop that turns them into positions.

A signal is the upstream tiers' proposal: a pair, BUY or SELL, the ML model's predicted return
and confidence, the LLM tier's approval and its reasoning, optional trade parameters, when it was
made and when it expires. Every way in (``hx.signals.submit`` for Python, ``helios signal`` on
the command line, the demo generator, later the REST API) goes through ``parse_signal``, so a
signal is validated the same way whoever sends it, and every signal that arrives is stored, the
refused ones with their reason:

- malformed (a field missing or out of range): REJECTED, the field named; ``submit`` raises
  ``SignalRejected`` (an ``InvalidInput``) after storing it;
- not approved by the LLM tier, expired before it arrived, or a duplicate of an accepted signal
  (same ``dedup_key``): REJECTED with the reason, returned as a receipt;
- otherwise PENDING, until the trading loop (``process_pending``, the scheduler's ``trading``
  job) takes it: sized by ``hx.risk.size_position`` unless the signal names its own size,
  risk-checked and opened by ``hx.positions.open_position``; it ends EXECUTED (with the
  position), REJECTED (with the risk checks' reason) or EXPIRED.

A signal opens at most one position: ``positions.signal_id`` is unique, so a crash or a second
process can never open a second position for it, and a signal found PENDING with a position
(a crash between the two writes) is marked EXECUTED on the next pass.

The package, one module per concept: ``validation`` (what a signal may hold, pure),
``intake`` (storing every arrival and its refusal), ``records`` (statuses, the stored shape,
the reads), ``trading_loop`` (what a pending signal becomes) and ``service`` (``Signals``, the
composite ``hx.signals`` delegating to them).
"""

from helios.signals.intake import SignalIntake
from helios.signals.records import (
    EXECUTED,
    EXPIRED,
    PENDING,
    REJECTED,
    STATUSES,
    SignalReads,
)
from helios.signals.rows import SignalOutcome
from helios.signals.service import Signals
from helios.signals.trading_loop import CHECK_EVERY, TradingControls, TradingLoop
from helios.signals.validation import (
    MAX_FUTURE_SKEW,
    MAX_LIFETIME,
    MAX_TEXT,
    SIGNAL_FIELDS,
    SignalInput,
    SignalRejected,
    parse_signal,
)

__all__ = [
    "CHECK_EVERY",
    "EXECUTED",
    "EXPIRED",
    "MAX_FUTURE_SKEW",
    "MAX_LIFETIME",
    "MAX_TEXT",
    "PENDING",
    "REJECTED",
    "SIGNAL_FIELDS",
    "STATUSES",
    "SignalInput",
    "SignalIntake",
    "SignalOutcome",
    "SignalReads",
    "SignalRejected",
    "Signals",
    "TradingControls",
    "TradingLoop",
    "parse_signal",
]
