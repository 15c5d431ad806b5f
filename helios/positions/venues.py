"""The exchange each trading mode trades on, and sending an order to it.

- An order is sent only by a process that still leads: the fence is checked first (a fenced
  scheduler raises ``Fenced`` and sends nothing; its intent stays for the leader that took over,
  which settles it by its client order id).
- A request refused before anything was sent (the venue's pair rules: a minimum, margin not
  allowed on the pair) is a definitive REJECTED answer, so an open FAILS and a close leaves the
  position OPEN, instead of a transitional state no reconcile could ever settle.
- Any other failure (no answer, an exchange error) is returned as text and recorded as an
  EXCHANGE_ERROR event, which the halt watchdog counts.
"""

from __future__ import annotations

import logging
from datetime import datetime

from helios.clock import Clock
from helios.config import TradingMode
from helios.db.engine import Database
from helios.errors import HeliosError, InvalidInput
from helios.events import record_exchange_error
from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus

log = logging.getLogger("helios.positions")


class Venues:
    """``exchanges`` is held by reference: a venue swapped into the dict is used from then on."""

    def __init__(self, db: Database, clock: Clock, exchanges: dict[TradingMode, Exchange]) -> None:
        self._db = db
        self._clock = clock
        self._exchanges = exchanges

    def exchange(self, mode: str) -> Exchange:
        exchange = self._exchanges.get(TradingMode(mode))
        if exchange is None:
            raise HeliosError(f"no exchange for {mode} mode")
        return exchange

    def send(self, exchange: Exchange, request: OrderRequest) -> tuple[OrderResult | None, str]:
        """Send an order; a failure (no answer, an exchange error) is returned as text and
        recorded as an EXCHANGE_ERROR event, which the halt watchdog counts. A request refused
        before anything was sent (the venue's pair rules: a minimum, margin not allowed on the
        pair) is a definitive REJECTED result: the open FAILS, a close leaves the position OPEN,
        instead of a transitional state no reconcile could ever settle. A scheduler that no
        longer leads sends nothing (the fence raises ``Fenced``; the intent stays for the leader
        that took over, which settles it by its client order id)."""
        self._db.check_fence()
        try:
            return exchange.submit_market_order(request), ""
        except InvalidInput as exc:  # our own request was refused before sending
            return (
                OrderResult(
                    client_order_id=request.client_order_id,
                    exchange_order_id=None,
                    status=OrderStatus.REJECTED,
                    pair=request.pair,
                    side=request.side.value,
                    reason=f"refused before sending: {exc}",
                ),
                "",
            )
        except Exception as exc:
            return None, self.failure(
                exchange,
                exc,
                f"order {request.client_order_id} ({request.side.value} {request.pair})",
                request.sent_at,
            )

    def failure(
        self, exchange: Exchange, exc: Exception, what: str, at: datetime | None = None
    ) -> str:
        """An exchange call that got no usable answer: logged (with its traceback when it is not
        one of ours), recorded as an EXCHANGE_ERROR event (which the halt rule counts) at ``at``
        (default now); returns the error as text."""
        if not isinstance(exc, HeliosError):
            log.exception("%s failed", what)
        error = f"{type(exc).__name__}: {exc}"
        when = at or self._clock.now()
        record_exchange_error(self._db, when, exchange.name, f"{what} failed: {error}")
        return error
