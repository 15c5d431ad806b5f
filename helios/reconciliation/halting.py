"""When a reconciliation difference halts: the first time, and again after a resume.

Pure (L2). A pass over the threshold (``helios.reconciliation.compare``) is an automatic halt
with cause ``reconciliation`` unless a resume acknowledged it. An acknowledged difference halts
again only if it grows by more than the threshold after that resume: the person who resumed has
looked at the difference as it was, and only new money going astray is a new episode. The
reference is the difference at the first pass after the resume (``marker`` identifies the
resume: when the halt row last changed); a new resume takes a new reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from helios.reconciliation.report import ReconcileReport, as_text


@dataclass(frozen=True)
class HaltDecision:
    """``halt``: ask for the halt now; ``message``: the breach's message; ``reference`` (text)
    and the resume ``marker`` to store while an acknowledged difference is watched (None
    otherwise)."""

    halt: bool
    message: str
    reference: str | None = None


def decide_halt(
    report: ReconcileReport,
    acknowledged: bool,
    known_reference: Decimal | None,
    reference_marker: str | None,
    marker: str,
) -> HaltDecision:
    """The halt decision for ``report`` (the module's rule). ``acknowledged``: a resume
    acknowledged the reconciliation trigger; ``known_reference`` / ``reference_marker``: the
    stored reference and the resume it belongs to; ``marker``: the resume in force."""
    message = (
        f"reconciliation: VALR differs from the ledger by R{report.total_value_zar:,.2f} "
        f"(more than R{report.threshold_zar:,.2f})"
    )
    if not report.over_threshold:
        return HaltDecision(False, message)
    if not acknowledged:
        return HaltDecision(True, message)
    if known_reference is None or reference_marker != marker:
        return HaltDecision(False, message, as_text(report.total_value_zar))
    grown = report.total_value_zar - known_reference
    if grown > report.threshold_zar:
        message += f"; it grew by R{grown:,.2f} since the resume that acknowledged it"
        return HaltDecision(True, message, as_text(known_reference))
    return HaltDecision(False, message, as_text(known_reference))


__all__ = ["HaltDecision", "decide_halt"]
