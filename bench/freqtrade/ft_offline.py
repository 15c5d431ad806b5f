"""Offline wrapper for Freqtrade: replaces Binance market loading (network) with a
hand-written minimal markets dict for BTC/USDT, ETH/USDT, SOL/USDT (spot), so a backtest on local
feather files needs no network. Runs in the Freqtrade venv.

    python ft_offline.py <freqtrade args...>

Markets: amount step BTC 0.00001 / ETH 0.0001 / SOL 0.001, price tick 0.01, minimum cost 5;
``fetch_time``, ``fetch_tickers`` and ``fetch_currencies`` raise ``NetworkError``. It logs
``TIMING load_bt_data / backtest / backtest_one_strategy: S s`` (the benchmark reads them), then
calls ``freqtrade.main.main()``.
"""

import sys

import ccxt


def _market(base, amount_step, price_step, amount_min, amount_max):
    return {
        "id": f"{base}USDT",
        "symbol": f"{base}/USDT",
        "base": base,
        "quote": "USDT",
        "baseId": base,
        "quoteId": "USDT",
        "settle": None,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": True,
        "swap": False,
        "future": False,
        "option": False,
        "active": True,
        "contract": False,
        "linear": None,
        "inverse": None,
        "taker": 0.001,
        "maker": 0.001,
        "contractSize": None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "precision": {"amount": amount_step, "price": price_step, "base": 1e-08, "quote": 1e-08},
        "limits": {
            "leverage": {"min": None, "max": None},
            "amount": {"min": amount_min, "max": amount_max},
            "price": {"min": price_step, "max": 1000000.0},
            "cost": {"min": 5.0, "max": 9000000.0},
            "market": {"min": 0.0, "max": amount_max},
        },
        "created": None,
        "percentage": True,
        "tierBased": False,
        "feeSide": "get",
        "info": {"symbol": f"{base}USDT", "status": "TRADING"},
    }


MARKETS = [
    _market("BTC", 0.00001, 0.01, 0.00001, 9000.0),
    _market("ETH", 0.0001, 0.01, 0.0001, 9000.0),
    _market("SOL", 0.001, 0.01, 0.001, 9000000.0),
]


async def _fake_load_markets(self, reload=False, params={}):  # noqa: B006
    if reload or not self.markets:
        self.set_markets([dict(m) for m in MARKETS], {})
    return self.markets


def _fake_load_markets_sync(self, reload=False, params={}):  # noqa: B006
    if reload or not self.markets:
        self.set_markets([dict(m) for m in MARKETS], {})
    return self.markets


def _offline(*a, **k):
    raise ccxt.NetworkError("offline: network access disabled by ft_offline.py")


import ccxt.async_support as ccxt_async  # noqa: E402

for mod, fn in ((ccxt_async, _fake_load_markets), (ccxt, _fake_load_markets_sync)):
    mod.binance.load_markets = fn
    mod.binance.fetch_time = _offline
    mod.binance.fetch_tickers = _offline
    mod.binance.fetch_currencies = _offline
try:
    import ccxt.pro as ccxt_pro

    ccxt_pro.binance.load_markets = _fake_load_markets
except Exception:  # pragma: no cover
    pass


def _install_timers():
    """Log wall time of data loading and of Backtesting.backtest() (signal shift + main loop)."""
    import logging
    import time

    from freqtrade.optimize import backtesting as bt

    log = logging.getLogger("ft_offline")

    def wrap(name):
        orig = getattr(bt.Backtesting, name)

        def timed(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return orig(self, *a, **k)
            finally:
                log.info("TIMING %s: %.3f s", name, time.perf_counter() - t0)

        setattr(bt.Backtesting, name, timed)

    for n in ("load_bt_data", "backtest", "backtest_one_strategy"):
        wrap(n)


if __name__ == "__main__":
    _install_timers()
    from freqtrade.main import main

    sys.argv[0] = "freqtrade"
    sys.exit(main())
