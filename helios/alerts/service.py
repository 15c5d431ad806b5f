"""``hx.alerts``: telling the operator (issue 17), over the outbox and the sender.

- ``record(alert)``: queue an alert that no event causes (a report) in its own transaction;
  the alerts events cause are queued by the outbox hook in their own transaction
  (``helios.alerts.outbox``);
- ``send_pending()``: one delivery pass (``helios.alerts.sender``);
- ``status()``: each channel masked, its last delivery and error, what is pending;
- ``test(by)``: a test alert sent to every channel now, each channel's answer returned;
- ``check_scheduler()``: the API's and the dashboard's watch on the scheduler
  (``helios.alerts.silence``), which also delivers while the scheduler cannot;
  ``start_watch()`` runs it in a daemon thread every ``SCHEDULER_SILENT_CHECK_SECONDS``;
- ``ping(failed)``: the dead-man's switch (``helios.alerts.deadman``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import func, insert, select

from helios.alerts import deadman
from helios.alerts.channels import DeliveryFailed
from helios.alerts.outbox import PENDING, SENT, record
from helios.alerts.rules import INFO, Alert, Policy
from helios.alerts.sender import PassResult, Sender
from helios.alerts.silence import KIND as SILENT
from helios.alerts.silence import scheduler_silent
from helios.clock import Clock
from helios.config import Settings
from helios.config.channels import mask
from helios.db.engine import Database
from helios.db.models import Alert as AlertRow
from helios.db.models import AlertDelivery, Heartbeat
from helios.events import record_event
from helios.text import clean_text

log = logging.getLogger("helios.alerts")
LEADER_BEAT = "scheduler"  # the leading scheduler's heartbeat row (jobs/scheduler.py)


def policy_of(settings: Settings) -> Policy:
    return Policy(
        min_severity=settings.alert_min_severity,
        position_events=settings.alert_position_events,
        job_errors=settings.alert_job_errors,
    )


class Alerts:
    """The operator's alerts: queue, deliver, watch the scheduler, report the channels."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, sender: Sender) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self.sender = sender
        self.policy = policy_of(settings)
        self._lock = threading.Lock()  # one pass at a time in this process

    @property
    def channel_ids(self) -> list[str]:
        return [spec.id for spec in self.sender.specs]

    # --- queueing and delivering ----------------------------------------------------------------
    def record(self, alert: Alert, *, force: bool = False) -> int | None:
        """Queue ``alert`` for every channel (below ``ALERT_MIN_SEVERITY``: not unless
        ``force``); its id, or None when not queued (filtered, or its dedup key is known)."""
        if not force and not self.policy.wanted(alert):
            return None
        with self._db.write() as session:
            return record(session, alert, self.channel_ids, self._clock.now())

    def record_told(self, alert: Alert, told: set[str]) -> int | None:
        """Queue an alert already told to the channels ``told`` while the database was away
        (``helios.alerts.offline``): those are recorded SENT, the others PENDING."""
        with self._db.write() as session:
            return record(session, alert, self.channel_ids, self._clock.now(), sent=sorted(told))

    def send_pending(self) -> list[PassResult]:
        """One delivery pass over every channel (skipped while this process is in one)."""
        if not self.sender.specs or not self._lock.acquire(blocking=False):
            return []
        try:
            return self.sender.send_pending()
        finally:
            self._lock.release()

    # --- what the operator sees -------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The channels (masked) with their delivery state, the filter, the dead-man's switch."""
        ping = self._settings.heartbeat_ping_url
        return {
            "channels": self.sender.status(),
            "min_severity": self._settings.alert_min_severity.value,
            "max_per_minute": self._settings.alert_max_per_minute,
            "ping_url": mask(ping.get_secret_value()) if ping is not None else None,
        }

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest alerts, each with its deliveries' states."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    AlertRow.id,
                    AlertRow.created_at,
                    AlertRow.severity,
                    AlertRow.kind,
                    AlertRow.title,
                )
                .order_by(AlertRow.id.desc())
                .limit(limit)
            ).all()
            ids = [r.id for r in rows]
            states: dict[int, list[str]] = {}
            for alert_id, channel, status in session.execute(
                select(AlertDelivery.alert_id, AlertDelivery.channel, AlertDelivery.status).where(
                    AlertDelivery.alert_id.in_(ids)
                )
            ):
                states.setdefault(alert_id, []).append(f"{channel}: {status}")
        return [
            {
                "id": r.id,
                "created_at": r.created_at,
                "severity": r.severity,
                "kind": r.kind,
                "title": r.title,
                "deliveries": "; ".join(states.get(r.id, [])) or "no channel",
            }
            for r in rows
        ]

    def test(self, by: str) -> list[dict[str, Any]]:
        """Send a test alert to every channel now; each channel's answer (an error is scrubbed
        of the channel's credentials). Recorded as an alert SENT where it was accepted."""
        who = clean_text(by, limit=120) if isinstance(by, str) else ""
        who = who or "someone"
        now = self._clock.now()
        title = f"Helios test alert from {who}"
        body = (
            f"A test of this channel, sent {now:%Y-%m-%d %H:%M:%S} UTC. If you read this, "
            "critical alerts (halts, close-outs, emergency stops) will reach you here."
        )
        answers: list[dict[str, Any]] = []
        for spec in self.sender.specs:
            try:
                self.sender.channel(spec).send(f"[INFO] {title}", body, INFO)
                error = None
            except DeliveryFailed as exc:
                error = str(exc)
            answers.append({"channel": spec.id, "delivered": error is None, "error": error})
        with self._db.write() as session:
            alert = Alert(INFO, "TEST", title, body, f"test:{now.isoformat()}:{uuid.uuid4().hex}")
            alert_id = record(session, alert, [], now)
            for answer in answers:
                self.sender.note_result(session, answer["channel"], answer["error"])
                session.execute(
                    insert(AlertDelivery).values(
                        alert_id=alert_id,
                        channel=answer["channel"],
                        status=SENT if answer["delivered"] else "FAILED",
                        attempts=1,
                        sent_at=now if answer["delivered"] else None,
                    )
                )
            record_event(
                session,
                ts=now,
                kind="ALERT_TEST",
                actor=who,
                message=f"test alert by {who}: "
                + ", ".join(
                    f"{a['channel']} {'delivered' if a['delivered'] else 'failed'}" for a in answers
                )
                if answers
                else f"test alert by {who}: no channel configured (ALERT_URLS is empty)",
            )
        return answers

    # --- the scheduler's watch (API, dashboard) and the dead-man's switch ----------------------
    def check_scheduler(self) -> Alert | None:
        """Queue the "scheduler silent" alert when the leading scheduler's heartbeat is older
        than ``SCHEDULER_SILENT_ALERT_SECONDS`` (once per silence, whichever process sees it
        first), then deliver: the scheduler that would is the one that is silent."""
        now = self._clock.now()
        with self._db.read() as session:
            row = session.get(Heartbeat, LEADER_BEAT)
            last = row.last_beat_at if row is not None else None
        alert = scheduler_silent(last, now, self._settings.scheduler_silent_alert_seconds)
        if alert is None:
            return None
        with self._db.write() as session:
            if record(session, alert, self.channel_ids, now) is not None:
                record_event(
                    session,
                    ts=now,
                    kind=SILENT,
                    severity="CRITICAL",
                    actor="watch",
                    message=alert.body,
                    details={"dedup_key": alert.dedup_key, **dict(alert.figures or {})},
                )
                log.critical("%s", alert.body)
        self.send_pending()
        return alert

    def start_watch(self, stop: threading.Event | None = None) -> threading.Thread:
        """``check_scheduler`` every ``SCHEDULER_SILENT_CHECK_SECONDS`` in a daemon thread (the
        API's and the dashboard's); a failing check is logged and retried."""
        stop = stop or threading.Event()
        interval = self._settings.scheduler_silent_check_seconds

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.check_scheduler()
                except Exception as exc:  # the database away: the next check tries again
                    log.warning("scheduler watch failed: %s", type(exc).__name__)

        thread = threading.Thread(target=loop, name="helios-scheduler-watch", daemon=True)
        thread.start()
        return thread

    def ping(self, failed: bool) -> str | None:
        """The dead-man's switch: GET ``HEARTBEAT_PING_URL`` (``/fail`` when ``failed``); None
        when it answered or none is set, else the error (masked)."""
        url = self._settings.heartbeat_ping_url
        if url is None:
            return None
        error = deadman.ping(url.get_secret_value(), failed)
        if error is not None:
            log.warning("heartbeat ping failed: %s", error)
        return error

    def pending_count(self) -> int:
        """Deliveries not yet accepted by their channel, over every channel."""
        with self._db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(AlertDelivery)
                    .where(AlertDelivery.status == PENDING)
                )
                or 0
            )
