"""VALR's pair rules (``GET /v1/public/pairs``, API §3 and §7), checked before anything is sent.

The rule it owns: an order reaches VALR only on an ACTIVE pair, with a base amount cut (rounded
DOWN) to the pair's ``baseDecimalPlaces`` as VALR truncates it, a ZAR amount rounded down to
cents (never spend more than asked), and both within VALR's minimum and maximum base and quote
amounts (the other side checked at the market price when it is known); otherwise
``InvalidInput`` names the field, the value and the limit. A BUY that must deliver a NET base
amount is grossed up by the fee VALR takes in the coin bought (``gross_for_fee``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal, InvalidOperation
from typing import Any

from helios.errors import InvalidInput

CENT = Decimal("0.01")


def truncate_base(amount: Decimal, places: int) -> Decimal:
    """A base quantity cut (rounded DOWN) to ``places`` decimals, as VALR truncates it."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def gross_for_fee(net: Decimal, fee: Decimal, places: int) -> Decimal:
    """The base amount to buy so that, after a fee of ``fee`` (a fraction) taken in that coin,
    at least ``net`` arrives: ``net / (1 - fee)`` rounded UP to ``places`` decimals."""
    if not Decimal(0) <= fee < Decimal(1):
        raise InvalidInput("fee", fee, "a fraction from 0 up to (not including) 1")
    gross = Decimal(net) / (Decimal(1) - fee)
    return gross.quantize(Decimal(1).scaleb(-places), rounding=ROUND_UP)


def round_to_tick(value: Decimal, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """A price on VALR's grid: a whole multiple of ``tick`` (nearest by default)."""
    if tick <= 0:
        return Decimal(value)
    steps = (Decimal(value) / tick).quantize(Decimal(1), rounding=rounding)
    return steps * tick


def round_quote_down(amount: Decimal) -> Decimal:
    """A ZAR amount rounded DOWN to cents (never spend more than asked)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class PairRules:
    """What VALR allows on one pair (``GET /v1/public/pairs``, API §3 and §7)."""

    symbol: str
    active: bool
    base_currency: str
    quote_currency: str
    tick_size: Decimal
    base_decimal_places: int
    min_base: Decimal
    max_base: Decimal
    min_quote: Decimal
    max_quote: Decimal
    margin_trading_allowed: bool = False

    @classmethod
    def from_valr(cls, item: Mapping[str, Any]) -> PairRules:
        """One item of ``GET /v1/public/pairs`` (numbers arrive as strings)."""
        try:
            return cls(
                symbol=str(item["symbol"]).upper(),
                active=bool(item.get("active", False)),
                base_currency=str(item["baseCurrency"]).upper(),
                quote_currency=str(item["quoteCurrency"]).upper(),
                tick_size=Decimal(str(item["tickSize"])),
                base_decimal_places=int(str(item["baseDecimalPlaces"])),
                min_base=Decimal(str(item["minBaseAmount"])),
                max_base=Decimal(str(item["maxBaseAmount"])),
                min_quote=Decimal(str(item["minQuoteAmount"])),
                max_quote=Decimal(str(item["maxQuoteAmount"])),
                margin_trading_allowed=bool(item.get("marginTradingAllowed", False)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ValueError(f"malformed VALR pair entry {dict(item)!r}: {exc!r}") from None

    def truncate_base(self, amount: Decimal) -> Decimal:
        return truncate_base(amount, self.base_decimal_places)

    def round_price(self, value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        return round_to_tick(value, self.tick_size, rounding)

    def check_market_order(
        self,
        *,
        base_amount: Decimal | None = None,
        quote_amount: Decimal | None = None,
        price: Decimal | None = None,
    ) -> tuple[Decimal | None, Decimal | None]:
        """The amounts as VALR takes them (base truncated to ``baseDecimalPlaces``, ZAR rounded
        down to cents), or ``InvalidInput`` naming the field, the value and the limit, before
        anything is sent. ``price`` (the market price, when known) also checks the other side
        of the order: the ZAR worth of a base amount, the base worth of a ZAR amount."""
        if not self.active:
            raise InvalidInput(
                "pair", self.symbol, "an active VALR pair: VALR lists this pair as inactive"
            )
        if (base_amount is None) == (quote_amount is None):
            raise InvalidInput(
                "base_amount/quote_amount", (base_amount, quote_amount), "exactly one of them"
            )
        base_ccy, quote_ccy = self.base_currency, self.quote_currency
        if base_amount is not None:
            base = self.truncate_base(base_amount)
            if base < self.min_base:
                raise InvalidInput(
                    "base_amount",
                    base_amount,
                    f"at least {self.min_base:f} {base_ccy} on {self.symbol} "
                    f"(VALR minBaseAmount; cut to {self.base_decimal_places} decimal places it "
                    f"is {base:f})",
                )
            if base > self.max_base:
                raise InvalidInput(
                    "base_amount",
                    base_amount,
                    f"at most {self.max_base:f} {base_ccy} on {self.symbol} (VALR maxBaseAmount)",
                )
            if price is not None and price > 0:
                worth = base * price
                if worth < self.min_quote:
                    raise InvalidInput(
                        "base_amount",
                        base_amount,
                        f"worth at least {self.min_quote:f} {quote_ccy} on {self.symbol} "
                        f"(VALR minQuoteAmount; at {price:f} it is worth {worth:f})",
                    )
                if worth > self.max_quote:
                    raise InvalidInput(
                        "base_amount",
                        base_amount,
                        f"worth at most {self.max_quote:f} {quote_ccy} on {self.symbol} "
                        f"(VALR maxQuoteAmount; at {price:f} it is worth {worth:f})",
                    )
            return base, None
        assert quote_amount is not None
        quote = round_quote_down(quote_amount)
        if quote < self.min_quote:
            raise InvalidInput(
                "quote_amount",
                quote_amount,
                f"at least {self.min_quote:f} {quote_ccy} on {self.symbol} (VALR minQuoteAmount)",
            )
        if quote > self.max_quote:
            raise InvalidInput(
                "quote_amount",
                quote_amount,
                f"at most {self.max_quote:f} {quote_ccy} on {self.symbol} (VALR maxQuoteAmount)",
            )
        if price is not None and price > 0:
            units = quote / price
            if units < self.min_base:
                raise InvalidInput(
                    "quote_amount",
                    quote_amount,
                    f"enough for at least {self.min_base:f} {base_ccy} on {self.symbol} "
                    f"(VALR minBaseAmount; at {price:f} it buys {units:.12f})",
                )
            if units > self.max_base:
                raise InvalidInput(
                    "quote_amount",
                    quote_amount,
                    f"at most {self.max_base:f} {base_ccy} worth on {self.symbol} "
                    f"(VALR maxBaseAmount; at {price:f} it buys {units:.12f})",
                )
        return None, quote
