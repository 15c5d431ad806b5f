"""A signal the risk decision refuses is settled in the decision's own transaction.

The trading loop used to store the refusing decision in one transaction and the signal's
outcome (REJECTED, its reason, its decision line) in the next. A process killed between the two
left the signal PENDING beside a stored decision, and the next pass decided it again: two
decisions for one signal (a replay's rejections counted twice; in LIVE a second decision could
even pass and open what the first had refused). Now the decision, the signal's outcome and its
event commit together (``hx.positions.open_position(..., on_refusal=...)``).

- in process: the statements of a pass that refuses a signal, grouped by transaction: the
  ``risk_decisions`` insert and the ``signals`` update are in the same one;
- a take-over: a process whose fence check fails when the decision is written stores neither the
  decision nor the signal's outcome (``Fenced``; the new leader decides the signal, once);
- a real kill: a child process passes over the signal with ``HELIOS_CRASH_AT`` at the point right
  after the decision (``signal:after_decision``) and dies there (SIGKILL); the restarted loop
  finds the signal settled, and there is exactly one decision for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from factories import give_market
from sqlalchemy import event, func, select

import helios
from helios.clock import ManualClock
from helios.db.models import RiskDecision, Signal
from helios.errors import Fenced
from helios.faults import CRASH_ENV

TOO_BIG = {"position_size_zar": 90000}  # over max_single_position_pct: refused by check 3


def decisions_for(hx: helios.Helios, signal_id: int) -> int:
    with hx.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(RiskDecision)
                .where(RiskDecision.signal_id == signal_id)
            )
            or 0
        )


def test_a_refused_signal_is_settled_in_the_decisions_transaction(hx: helios.Helios):
    give_market(hx)
    receipt = hx.signals.submit("BTCZAR", "BUY", 0.8, True, trade_params=TOO_BIG)
    transactions: list[list[str]] = []

    def begun(_connection: Any) -> None:
        transactions.append([])

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        if transactions:
            transactions[-1].append(" ".join(text.split())[:40])

    event.listen(hx.db.engine, "begin", begun)
    event.listen(hx.db.engine, "before_cursor_execute", statement)
    try:
        [outcome] = hx.signals.process_pending()
    finally:
        event.remove(hx.db.engine, "begin", begun)
        event.remove(hx.db.engine, "before_cursor_execute", statement)

    assert outcome.status == "REJECTED" and "max_single_position_pct" in outcome.violated_limits
    [decided] = [t for t in transactions if any("INSERT INTO risk_decisions" in s for s in t)]
    assert any(s.startswith("UPDATE signals") for s in decided), decided
    assert any(s.startswith("INSERT INTO events") for s in decided), decided
    assert hx.signals.get(receipt["signal_id"])["status"] == "REJECTED"
    assert decisions_for(hx, receipt["signal_id"]) == 1


def test_a_process_that_no_longer_leads_neither_decides_nor_settles_the_signal(
    hx: helios.Helios,
):
    give_market(hx)
    receipt = hx.signals.submit("BTCZAR", "BUY", 0.8, True, trade_params=TOO_BIG)
    hx.positions.installation_id()  # stored once, before: its first write is fenced too
    checks: list[int] = []

    def taken_over_after_the_pass_began(_session: Any) -> None:
        """The lease is lost between the pass's first transaction and the decision's."""
        checks.append(1)
        if len(checks) > 1:
            raise Fenced("another scheduler has taken over")

    with pytest.raises(Fenced), hx.db.fenced(taken_over_after_the_pass_began):
        hx.signals.process_pending()
    assert len(checks) == 2  # the pass's transaction, then the decision's
    assert decisions_for(hx, receipt["signal_id"]) == 0  # rolled back with the outcome
    assert hx.signals.get(receipt["signal_id"])["status"] == "PENDING"

    [outcome] = hx.signals.process_pending()  # the leader now: decided once
    assert outcome.status == "REJECTED"
    assert decisions_for(hx, receipt["signal_id"]) == 1


CHILD = """
import sys
from datetime import datetime

import helios
from helios.clock import ManualClock

url, now = sys.argv[1:]
clock = ManualClock(datetime.fromisoformat(now))
with helios.connect(url, clock=clock, market_feed="manual") as hx:
    print(hx.signals.process_pending())
"""


def test_a_loop_killed_right_after_a_refusing_decision_never_decides_the_signal_again(
    hx: helios.Helios, database_url: str, clock: ManualClock
):
    give_market(hx)
    receipt = hx.signals.submit("BTCZAR", "BUY", 0.8, True, trade_params=TOO_BIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update({"HELIOS_ENV_FILE": "", CRASH_ENV: "signal:after_decision"})
    child = subprocess.run(
        [sys.executable, "-c", CHILD, database_url, clock.now().isoformat()],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, (child.stdout.decode(), child.stderr.decode()[-2000:])

    # what the kill left: the decision and the signal's outcome, committed together
    assert decisions_for(hx, receipt["signal_id"]) == 1
    with hx.db.read() as session:
        status = session.scalar(select(Signal.status).where(Signal.id == receipt["signal_id"]))
    assert status == "REJECTED"

    # the restarted loop has nothing left to decide
    assert hx.signals.process_pending() == []
    assert decisions_for(hx, receipt["signal_id"]) == 1
    assert hx.signals.get(receipt["signal_id"])["status"] == "REJECTED"
