"""LIVE reconciliation (``hx.reconciliation``): VALR's balances and open orders against the ledger.

The package, by concept (each module's docstring states its rule):

- ``report``: the frozen result of a pass (``ReconcileReport``, ``CurrencyCheck``,
  ``OrderIssue``) and the statuses;
- ``compare``: the rule, pure: expected (baseline + our fills) against actual (VALR's balances
  and open orders), with prices and fees passed in;
- ``halting``: when a difference over the threshold halts, and halts again after a resume;
- ``reads``: gathering the inputs (ledger, VALR, prices, fees) without a torn picture;
- ``baseline``: the stored baseline of a LIVE period and the settings keys;
- ``state``: the stored result of the last pass (``stored_breach`` for ``hx.halts``);
- ``service``: ``Reconciliation`` (``hx.reconciliation``), composing them.

Every name importers used from the former module ``helios/reconciliation.py`` is re-exported
here.
"""

from helios.reconciliation.baseline import BASELINE_KEY, LIVE, STATE_KEY
from helios.reconciliation.compare import DEFAULT_STEP, QUOTE
from helios.reconciliation.reads import BALANCES_PATH
from helios.reconciliation.report import (
    BASELINE_RECORDED,
    CENT,
    MISMATCH,
    NOT_LIVE,
    OK,
    ORDER_UNKNOWN_TO_VALR,
    UNEXPECTED_OPEN_ORDER,
    UNREACHABLE,
    WAITING,
    CurrencyCheck,
    OrderIssue,
    ReconcileReport,
)
from helios.reconciliation.service import ACTOR, ERROR_SOURCE, TRIGGER, Reconciliation
from helios.reconciliation.state import stored_breach

__all__ = [
    "ACTOR",
    "BALANCES_PATH",
    "BASELINE_KEY",
    "BASELINE_RECORDED",
    "CENT",
    "DEFAULT_STEP",
    "ERROR_SOURCE",
    "LIVE",
    "MISMATCH",
    "NOT_LIVE",
    "OK",
    "ORDER_UNKNOWN_TO_VALR",
    "QUOTE",
    "STATE_KEY",
    "TRIGGER",
    "UNEXPECTED_OPEN_ORDER",
    "UNREACHABLE",
    "WAITING",
    "CurrencyCheck",
    "OrderIssue",
    "ReconcileReport",
    "Reconciliation",
    "stored_breach",
]
