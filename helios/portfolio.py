"""Deprecated (one release): ``Ledger`` (``hx.ledger``) lives in ``helios.ledger`` now; import it
from there."""

from helios.ledger import Ledger

__all__ = ["Ledger"]
