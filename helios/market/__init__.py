"""Market data: candles and their rules (L2), the feeds (L3), the market store (L4a)."""
