"""Exchanges: the paper venue (PAPER mode) and, from issue #8, VALR (LIVE mode)."""

from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus
from helios.exchange.paper import PaperExchange

__all__ = ["Exchange", "OrderRequest", "OrderResult", "OrderStatus", "PaperExchange"]
