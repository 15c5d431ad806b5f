"""What each event becomes for the operator (helios/alerts/rules.py), table by table, and the
scheduler-silent rule (helios/alerts/silence.py). Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helios.alerts.rules import (
    CRITICAL,
    INFO,
    WARNING,
    Policy,
    database_lost,
    from_event,
    from_position_event,
)
from helios.alerts.silence import scheduler_silent
from helios.config.choices import AlertSeverity

T = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
ALL = Policy(min_severity=AlertSeverity.INFO, position_events=True, job_errors=3)


@pytest.mark.parametrize(
    ("kind", "details", "severity", "title"),
    [
        (
            "HALT",
            {"cause": "drawdown", "drawdown": 0.162, "limit": 0.15},
            CRITICAL,
            "HALT: drawdown (drawdown 16.20% > 15.00%)",
        ),
        (
            "HALT",
            {"cause": "daily_loss", "daily_loss": 0.0512, "limit": 0.05},
            CRITICAL,
            "HALT: daily_loss (daily loss 5.12% > 5.00%)",
        ),
        ("HALT", {"cause": "stale_price"}, CRITICAL, "HALT: stale_price"),
        ("HALT", {"cause": "emergency_stop"}, CRITICAL, "Emergency stop by alice"),
        ("HALT", {"cause": "manual"}, WARNING, "Trading halted by alice"),
        ("HALT_ESCALATED", {"cause": "emergency_stop"}, CRITICAL, "Emergency stop by alice"),
        ("HALT_ESCALATED", {"cause": "drawdown"}, CRITICAL, "Halt now closes every position"),
        ("EMERGENCY_STOP", {"closed": 2}, CRITICAL, "Emergency stop by alice: close-out result"),
        ("CLOSEOUT_RESULT", {"closed": 3}, CRITICAL, "Close-out result"),
        ("CLOSEOUT_DONE", {"closed": 3}, CRITICAL, "Close-out result"),
        ("JOURNAL_NOT_APPLIED", None, CRITICAL, "Close-out journal record not applied"),
        ("RECONCILE_MISMATCH", None, CRITICAL, "LIVE reconciliation mismatch"),
        ("LEADER_TAKEOVER", None, WARNING, "Standby scheduler took over"),
        ("MODE_CHANGE", None, WARNING, "Trading mode changed"),
        ("LIMITS_LOOSENED", None, WARNING, "Risk limits loosened by alice"),
        ("STALE_FEED", None, WARNING, "Price feed going stale"),
        ("CLOSE_ALL", None, WARNING, "Close all by alice"),
        ("RECONCILE_FAILED", None, WARNING, "LIVE reconciliation could not run"),
        ("RESUME", None, INFO, "Trading resumed by alice"),
        ("LIMITS_CHANGED", None, INFO, "Risk limits changed by alice"),
    ],
)
def test_each_event_kind_has_its_severity_and_title(kind, details, severity, title):
    alert = from_event(kind, "INFO", "what happened", "alice", details, T, ALL)
    assert alert is not None
    assert (alert.severity, alert.kind) == (severity, kind)
    assert alert.title.startswith(title)
    assert alert.body.startswith("what happened")


@pytest.mark.parametrize(
    "kind", ["DAY_ROLL", "SCHEDULER_START", "EXCHANGE_ERROR", "LOGIN", "SIGNAL_EXECUTED", "X"]
)
def test_routine_events_are_not_told(kind):
    assert from_event(kind, "INFO", "m", "a", None, T, ALL) is None


def test_a_halt_replayed_from_the_journal_is_not_told_twice():
    """The database-lost halt was told without the database (alerts.offline) when it
    happened; its replay into the database when it returns is not a second alert."""
    details = {"cause": "database_lost", "detected_at": T.isoformat()}
    assert from_event("HALT", "CRITICAL", "m", "watchdog", details, T, ALL) is None
    online = {"cause": "database_lost"}
    assert from_event("HALT", "CRITICAL", "m", "watchdog", online, T, ALL) is not None


@pytest.mark.parametrize(
    ("minimum", "told"),
    [
        (AlertSeverity.INFO, {"RESUME", "MODE_CHANGE", "HALT"}),
        (AlertSeverity.WARNING, {"MODE_CHANGE", "HALT"}),
        (AlertSeverity.CRITICAL, {"HALT"}),
    ],
)
def test_alert_min_severity_filters(minimum, told):
    policy = Policy(min_severity=minimum)
    kinds = {
        kind
        for kind, details in (
            ("RESUME", None),
            ("MODE_CHANGE", None),
            ("HALT", {"cause": "drawdown"}),
        )
        if from_event(kind, "INFO", "m", "a", details, T, policy) is not None
    }
    assert kinds == told


@pytest.mark.parametrize(
    ("consecutive", "told"),
    [(1, False), (2, False), (3, True), (4, False), (59, False), (60, True), (61, False)],
)
def test_a_job_error_is_told_at_the_threshold_then_every_twentieth_time(consecutive, told):
    details = {"job": "prices", "consecutive": consecutive}
    alert = from_event("JOB_ERROR", "ERROR", "job prices failed", "scheduler", details, T, ALL)
    assert (alert is not None) is told
    if told:
        assert alert.severity is WARNING and f"failed {consecutive} times" in alert.title


def test_the_dedup_key_is_the_same_for_the_same_event_and_differs_otherwise():
    one = from_event("MODE_CHANGE", "INFO", "PAPER -> LIVE", "a", None, T, ALL)
    again = from_event("MODE_CHANGE", "INFO", "PAPER -> LIVE", "a", None, T, ALL)
    later = from_event("MODE_CHANGE", "INFO", "PAPER -> LIVE", "a", None, T + timedelta(1), ALL)
    other = from_event("MODE_CHANGE", "INFO", "LIVE -> PAPER", "a", None, T, ALL)
    assert one is not None and again is not None and later is not None and other is not None
    assert one.dedup_key == again.dedup_key
    assert len({one.dedup_key, later.dedup_key, other.dedup_key}) == 3


POSITION = {"pair": "BTCZAR", "side": "BUY", "mode": "PAPER"}


@pytest.mark.parametrize(
    ("kind", "details", "policy", "expected"),
    [
        ("CLOSED", {**POSITION, "status": "STOPPED_OUT", "realized_pnl": "-12.5"}, Policy(),
         (WARNING, "POSITION_STOPPED_OUT")),
        ("CLOSED", {**POSITION, "status": "TAKE_PROFIT", "realized_pnl": "40"}, Policy(), None),
        ("CLOSED", {**POSITION, "status": "TAKE_PROFIT", "realized_pnl": "40"}, ALL,
         (INFO, "POSITION_CLOSED")),
        ("OPENED", POSITION, Policy(), None),
        ("OPENED", POSITION, ALL, (INFO, "POSITION_OPENED")),
        ("OPEN_FAILED", {**POSITION, "mode": "LIVE", "reason": "x"}, Policy(),
         (CRITICAL, "ORDER_REJECTED_LIVE")),
        ("CLOSE_FAILED", {**POSITION, "mode": "LIVE", "reason": "x"}, Policy(),
         (CRITICAL, "ORDER_REJECTED_LIVE")),
        ("OPEN_FAILED", {**POSITION, "reason": "x"}, Policy(), (WARNING, "ORDER_REJECTED_PAPER")),
        ("STOP_MOVED", POSITION, ALL, None),
        ("CLOSED", {**POSITION, "status": "STOPPED_OUT"},
         Policy(min_severity=AlertSeverity.CRITICAL), None),
    ],
)  # fmt: skip
def test_position_steps(kind, details, policy, expected):
    alert = from_position_event(7, kind, "m", details, T, policy)
    if expected is None:
        assert alert is None
        return
    assert alert is not None and (alert.severity, alert.kind) == expected
    assert alert.figures is not None and alert.figures["position_id"] == 7
    assert "BTCZAR" in alert.title


def test_a_stop_out_carries_its_realized_pnl_as_exact_text():
    details = {**POSITION, "status": "STOPPED_OUT", "realized_pnl": "-12.345678901234567891"}
    alert = from_position_event(7, "CLOSED", "m", details, T, Policy())
    assert alert is not None and alert.figures["realized_pnl"] == "-12.345678901234567891"


def test_the_database_lost_alert_says_what_was_closed():
    alert = database_lost("automatic: database unreachable for 31 s", T, 2, 1, "closeout-x.jsonl")
    assert alert.severity is CRITICAL
    assert "2 position(s) closed through the journal, 1 not closed" in alert.body
    assert alert.dedup_key == f"database-lost:{T.isoformat()}"
    nothing = database_lost("m", T, 0, 0, "j")
    assert "no position was open" in nothing.body


@pytest.mark.parametrize(
    ("age", "told"), [(None, False), (179.0, False), (180.0, False), (180.5, True), (900, True)]
)
def test_the_scheduler_is_silent_strictly_past_the_limit(age, told):
    last = None if age is None else T - timedelta(seconds=age)
    alert = scheduler_silent(last, T, 180.0)
    assert (alert is not None) is told
    if alert is not None:
        assert alert.severity is CRITICAL and alert.kind == "SCHEDULER_SILENT"
        # one silence, one key: the API and the dashboard queue it once
        assert alert.dedup_key == scheduler_silent(last, T + timedelta(60), 180.0).dedup_key
