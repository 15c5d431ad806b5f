"""The ``helios`` command (``main``): processes (``main``), the controls (``controls``), the
alerts (``alerts``) and the reports (``reports``), each a thin call into ``helios.connect()``."""

from helios.cli.main import main

__all__ = ["main"]
