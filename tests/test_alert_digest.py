"""How a channel's queue becomes messages (helios/alerts/digest.py): the hold, grouping,
the per-minute budget, exact totals. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from helios.alerts.digest import Pending, plan
from helios.alerts.sender import retry_delay
from helios.config.choices import AlertSeverity

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
C, W, N = AlertSeverity.CRITICAL, AlertSeverity.WARNING, AlertSeverity.INFO


def item(n, severity=W, kind="K", age=60.0, figures=None, attachment=False):
    return Pending(
        delivery_id=n,
        alert_id=1000 + n,
        severity=severity,
        kind=kind,
        title=f"alert {n}",
        body=f"body {n}",
        created_at=NOW - timedelta(seconds=age),
        figures=figures,
        has_attachment=attachment,
    )


def test_a_critical_alert_goes_at_once_and_a_warning_waits_for_the_hold():
    pending = [item(1, C, "HALT", age=0), item(2, W, "MODE_CHANGE", age=5)]
    [message] = plan(pending, now=NOW, budget=10, hold_seconds=10)
    assert message.delivery_ids == (1,) and message.alert_id == 1001
    assert message.title.startswith("[CRITICAL]")
    later = plan(pending, now=NOW + timedelta(seconds=5), budget=10, hold_seconds=10)
    assert [m.delivery_ids for m in later] == [(1,), (2,)]


def test_younger_alerts_of_a_ripe_kind_join_its_digest():
    pending = [item(1, age=20), item(2, age=1), item(3, age=0)]
    [message] = plan(pending, now=NOW, budget=10, hold_seconds=10)
    assert message.delivery_ids == (1, 2, 3)


def test_300_stop_outs_are_one_digest_with_the_exact_total():
    pnls = [Decimal("-12.34567890"), Decimal("5.00000001"), Decimal("-0.1")]
    pending = [
        item(n, W, "POSITION_STOPPED_OUT", figures={
            "realized_pnl": str(pnls[n % 3]), "pair": ("BTCZAR", "ETHZAR")[n % 2]})
        for n in range(300)
    ]  # fmt: skip
    [message] = plan(pending, now=NOW, budget=10, hold_seconds=10)
    total = sum(Decimal(p.figures["realized_pnl"]) for p in pending)
    assert len(message.delivery_ids) == 300
    assert f"300 x position stopped out: realized P&L R{total:,.2f}" in message.title
    assert f"Total realized P&L: R{total:,.2f}" in message.body
    assert "By pair: BTCZAR 150, ETHZAR 150" in message.body
    assert "... and 290 more" in message.body


def test_two_alerts_of_a_kind_are_not_a_digest():
    messages = plan([item(1), item(2)], now=NOW, budget=10, hold_seconds=10)
    assert [m.delivery_ids for m in messages] == [(1,), (2,)]


def test_an_attachment_is_always_its_own_message():
    pending = [item(1, N, "REPORT", attachment=True), *(item(n, N, "REPORT") for n in (2, 3, 4))]
    messages = plan(pending, now=NOW, budget=10, hold_seconds=10)
    assert [m.delivery_ids for m in messages] == [(1,), (2, 3, 4)]
    assert messages[0].alert_id == 1001


def test_most_severe_first_then_oldest():
    pending = [item(1, N, "A"), item(2, W, "B"), item(3, C, "C"), item(4, W, "D")]
    messages = plan(pending, now=NOW, budget=10, hold_seconds=0)
    assert [m.delivery_ids for m in messages] == [(3,), (2,), (4,), (1,)]


def test_past_the_budget_the_rest_travels_as_one_message():
    pending = [item(n, W, f"K{n}") for n in range(1, 8)]
    messages = plan(pending, now=NOW, budget=3, hold_seconds=0)
    assert len(messages) == 3
    assert [m.delivery_ids for m in messages[:2]] == [(1,), (2,)]
    assert messages[2].delivery_ids == (3, 4, 5, 6, 7)
    assert "5 more alerts (rate limit reached)" in messages[2].title
    assert plan(pending, now=NOW, budget=0, hold_seconds=0) == []
    [only] = plan(pending, now=NOW, budget=1, hold_seconds=0)
    assert only.delivery_ids == (1, 2, 3, 4, 5, 6, 7)


def test_every_pending_delivery_is_in_exactly_one_message():
    pending = [item(n, (C, W, N)[n % 3], f"K{n % 5}", attachment=n % 17 == 0) for n in range(200)]
    for budget in (1, 2, 5, 50):
        ids = [i for m in plan(pending, now=NOW, budget=budget, hold_seconds=0)
               for i in m.delivery_ids]  # fmt: skip
        assert sorted(ids) == list(range(200))


def test_the_retry_delay_doubles_up_to_its_ceiling():
    assert [retry_delay(n, 60) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert retry_delay(0, 60) == 2


def test_a_halt_and_its_close_out_result_ready_together_are_one_message():
    thread = {"thread": "halt:2026-12-06T03:00:00+00:00"}
    pending = [
        item(1, C, "HALT", figures=thread),
        item(2, W, "MODE_CHANGE"),
        item(3, C, "CLOSEOUT_DONE", figures={**thread, "realized_pnl": "-10"}),
        item(4, C, "HALT", figures={"thread": "halt:another"}),
    ]
    messages = plan(pending, now=NOW, budget=10, hold_seconds=0)
    assert [m.delivery_ids for m in messages] == [(1, 3), (4,), (2,)]
    assert messages[0].title == "[CRITICAL] alert 1"
    assert "[CRITICAL] alert 3\nbody 3" in messages[0].body
