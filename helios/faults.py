"""Crash points for the crash-safety tests.

``crash_point("open:after_send")`` kills the process (SIGKILL: no cleanup, no finally blocks)
when the environment variable ``HELIOS_CRASH_AT`` names that point. Unset in production, where
it costs one dictionary lookup. The tests start a child process with the variable set, let it die
at the point, then restart and reconcile.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "HELIOS_CRASH_AT"
POINTS = (
    "open:after_intent",  # position OPENING and order intent committed, nothing sent
    "open:after_send",  # the exchange has the order, our records do not
    "close:after_intent",  # position CLOSING and close intent committed, nothing sent
    "close:after_send",  # the exchange closed it, our records do not
)


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
