"""Helios Portfolio Manager: the library every process shares.

    import helios
    hx = helios.connect()            # DATABASE_URL or data/helios.db, migrations applied
    hx.market.latest_prices()
    hx.ledger.valuation().equity

Never imports streamlit or apscheduler: the dashboard (``app.py``, ``app_pages/``) and the scheduler
(``jobs/``) are thin shells over this package.
"""

from helios.clock import ManualClock, SystemClock
from helios.config import ConfigError, Settings, load_settings
from helios.errors import HeliosError, InvalidInput, NotYetAvailable
from helios.facade import Helios, connect

__all__ = [
    "ConfigError",
    "Helios",
    "HeliosError",
    "InvalidInput",
    "ManualClock",
    "NotYetAvailable",
    "Settings",
    "SystemClock",
    "connect",
    "load_settings",
]
__version__ = "0.1.0"
