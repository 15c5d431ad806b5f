"""Delivering the outbox (L4a): at least once, never blocking trading, bursts grouped.

``Sender.send_pending`` makes one pass over every configured channel. Any process may run it
(the scheduler every ``ALERT_SEND_INTERVAL_SECONDS``; the API and the dashboard when the
scheduler is silent; ``helios alert test``): a channel is claimed for the pass by one
conditional UPDATE of its ``alert_channels`` row (a lease, renewed after every message), so two
processes never send the same delivery at once, and a sender killed mid-pass frees the channel
when its lease runs out.

In a pass, the channel's PENDING deliveries become messages by the pure ``helios.alerts.digest``
(bursts grouped, at most ``ALERT_MAX_PER_MINUTE`` messages in any minute); each message is sent,
then its deliveries are marked SENT in their own transaction at once. So a delivery is SENT only
after the channel accepted it, and is sent again only if the process died in the moment between
the channel's answer and that commit (at least once). A failure stops the channel's pass: its
error (scrubbed of credentials) and the time of the next attempt are stored, the wait doubling
from 2 s up to ``ALERT_RETRY_MAX_SECONDS``; the other channels carry on. Sending runs in its own
job or thread, never inside a trading job, so a dead channel delays no trade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from helios.alerts.channels import AppriseChannel, Channel, DeliveryFailed
from helios.alerts.digest import Message, Pending, plan
from helios.alerts.outbox import PENDING, SENT
from helios.clock import Clock
from helios.config import Settings
from helios.config.channels import ChannelSpec
from helios.config.choices import AlertSeverity
from helios.db.engine import Database
from helios.db.models import Alert as AlertRow
from helios.db.models import AlertChannel, AlertDelivery

log = logging.getLogger("helios.alerts")
CLAIM_SECONDS = 60.0
FIRST_RETRY_SECONDS = 2.0
WINDOW = timedelta(seconds=60)
BATCH = 5000  # pending deliveries read per pass (a digest carries them all)


def retry_delay(failures: int, ceiling: float) -> float:
    """Seconds before the next attempt after ``failures`` failures in a row: 2, 4, 8 ... capped."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(failures - 1, 0), ceiling)


@dataclass(frozen=True)
class PassResult:
    """What one pass did for one channel."""

    channel: str
    messages: int = 0
    delivered: int = 0
    error: str | None = None
    skipped: str | None = None  # why nothing was tried (claimed elsewhere, backing off, ...)


class Sender:
    """Delivers the outbox to the configured channels."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        channels: Sequence[ChannelSpec],
        connect: Callable[[ChannelSpec], Channel] = AppriseChannel,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self.specs = tuple(channels)
        self._connect = connect
        self._channels: dict[str, Channel] = {}

    def channel(self, spec: ChannelSpec) -> Channel:
        if spec.id not in self._channels:
            self._channels[spec.id] = self._connect(spec)
        return self._channels[spec.id]

    # --- one pass ---------------------------------------------------------------------------
    def send_pending(self) -> list[PassResult]:
        """One pass over every channel; never raises for a channel's failure."""
        results = []
        for spec in self.specs:
            try:
                results.append(self._pass(spec))
            except Exception as exc:  # the database failing mid-pass: the next pass retries
                log.warning("alerts to %s: pass failed: %s", spec.id, type(exc).__name__)
                results.append(PassResult(spec.id, error=f"{type(exc).__name__}"))
        return results

    def _pass(self, spec: ChannelSpec) -> PassResult:
        now = self._clock.now()
        state = self._claim(spec.id, now)
        if state is None:
            return PassResult(spec.id, skipped="another process is sending")
        try:
            if state.next_attempt_at is not None and state.next_attempt_at > now:
                return PassResult(spec.id, skipped="backing off after a failure")
            budget = self._settings.alert_max_per_minute - _used(state, now)
            pending = self._pending(spec.id)
            messages = plan(
                pending,
                now=now,
                budget=budget,
                hold_seconds=self._settings.alert_group_seconds,
            )
            return self._deliver(spec, messages)
        finally:
            self._release(spec.id)

    def _deliver(self, spec: ChannelSpec, messages: Sequence[Message]) -> PassResult:
        sent = delivered = 0
        for message in messages:
            attachment = (
                self._attachment(message.alert_id)
                if message.alert_id and message.has_attachment
                else None
            )
            try:
                self.channel(spec).send(message.title, message.body, message.severity, attachment)
            except DeliveryFailed as exc:
                self._failed(spec.id, message, str(exc))
                log.warning("alert to %s failed: %s", spec.id, exc)
                return PassResult(spec.id, sent, delivered, error=str(exc))
            self._sent(spec.id, message)
            sent, delivered = sent + 1, delivered + len(message.delivery_ids)
        return PassResult(spec.id, sent, delivered)

    # --- the channel's row ------------------------------------------------------------------
    def _claim(self, channel: str, now: datetime) -> AlertChannel | None:
        me = self._db.identity
        with self._db.write() as session:
            builder = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
            session.execute(
                builder(AlertChannel)
                .values(channel=channel, failures=0, window_count=0, messages_sent=0)
                .on_conflict_do_nothing(index_elements=["channel"])
            )
            claimed = session.execute(
                update(AlertChannel)
                .where(
                    AlertChannel.channel == channel,
                    or_(
                        AlertChannel.claimed_until.is_(None),
                        AlertChannel.claimed_until < now,
                        AlertChannel.claimed_by == me,
                    ),
                )
                .values(claimed_by=me, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
                .execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:
                return None
            return session.get(AlertChannel, channel, populate_existing=True)

    def _release(self, channel: str) -> None:
        with self._db.write() as session:
            session.execute(
                update(AlertChannel)
                .where(
                    AlertChannel.channel == channel, AlertChannel.claimed_by == self._db.identity
                )
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    def _pending(self, channel: str) -> list[Pending]:
        with self._db.read() as session:
            rows = session.execute(
                select(
                    AlertDelivery.id,
                    AlertRow.id,
                    AlertRow.severity,
                    AlertRow.kind,
                    AlertRow.title,
                    AlertRow.body,
                    AlertRow.created_at,
                    AlertRow.figures,
                    AlertRow.attachment_name,
                )
                .join(AlertRow, AlertRow.id == AlertDelivery.alert_id)
                .where(AlertDelivery.channel == channel, AlertDelivery.status == PENDING)
                .order_by(AlertDelivery.id)
                .limit(BATCH)
            ).all()
        return [
            Pending(r[0], r[1], AlertSeverity(r[2]), r[3], r[4], r[5], r[6], r[7], r[8] is not None)
            for r in rows
        ]

    def _attachment(self, alert_id: int) -> tuple[str, bytes] | None:
        with self._db.read() as session:
            row = session.execute(
                select(AlertRow.attachment_name, AlertRow.attachment).where(AlertRow.id == alert_id)
            ).first()
        if row is None or row[0] is None or row[1] is None:
            return None
        return str(row[0]), bytes(row[1])

    def _sent(self, channel: str, message: Message) -> None:
        """The message's deliveries SENT and the channel's state moved on, in one transaction
        of two UPDATEs (no read: this runs once per message sent)."""
        now = self._clock.now()
        window_open = AlertChannel.window_start.is_not(None) & (
            AlertChannel.window_start > now - WINDOW
        )
        mine = AlertChannel.claimed_by == self._db.identity
        with self._db.write() as session:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(message.delivery_ids), AlertDelivery.status == PENDING)
                .values(
                    status=SENT,
                    sent_at=now,
                    message=message.key,
                    attempts=AlertDelivery.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(AlertChannel)
                .where(AlertChannel.channel == channel)
                .values(
                    window_start=case((window_open, AlertChannel.window_start), else_=now),
                    window_count=case((window_open, AlertChannel.window_count + 1), else_=1),
                    messages_sent=AlertChannel.messages_sent + 1,
                    last_sent_at=now,
                    last_attempt_at=now,
                    failures=0,
                    next_attempt_at=None,
                    claimed_until=case(
                        (mine, now + timedelta(seconds=CLAIM_SECONDS)),
                        else_=AlertChannel.claimed_until,
                    ),
                )
                .execution_options(synchronize_session=False)
            )

    def _failed(self, channel: str, message: Message, error: str) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(message.delivery_ids))
                .values(attempts=AlertDelivery.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            state = session.get(AlertChannel, channel, populate_existing=True)
            assert state is not None
            state.failures += 1
            state.last_attempt_at = state.last_error_at = now
            state.last_error = error
            delay = retry_delay(state.failures, self._settings.alert_retry_max_seconds)
            state.next_attempt_at = now + timedelta(seconds=delay)

    # --- reads ------------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        """Each configured channel (masked), its last delivery and error, what is pending."""
        with self._db.read() as session:
            states = {row.channel: row for row in session.scalars(select(AlertChannel))}
            counts = dict(
                session.execute(
                    select(AlertDelivery.channel, func.count())
                    .where(AlertDelivery.status == PENDING)
                    .group_by(AlertDelivery.channel)
                ).all()
            )
        shown = []
        for spec in self.specs:
            state = states.get(spec.id)
            shown.append(
                {
                    "channel": spec.id,
                    "scheme": spec.scheme,
                    "pending": int(counts.get(spec.id, 0)),
                    "last_sent_at": state.last_sent_at if state else None,
                    "last_error": state.last_error if state else None,
                    "last_error_at": state.last_error_at if state else None,
                    "failures": state.failures if state else 0,
                    "next_attempt_at": state.next_attempt_at if state else None,
                    "messages_sent": state.messages_sent if state else 0,
                }
            )
        return shown

    def note_result(self, session: Session, channel: str, error: str | None) -> None:
        """A direct send's outcome (a test alert) in the channel's state."""
        now = self._clock.now()
        state = session.get(AlertChannel, channel)
        if state is None:
            state = AlertChannel(channel=channel, failures=0, window_count=0, messages_sent=0)
            session.add(state)
        state.last_attempt_at = now
        if error is None:
            state.last_sent_at, state.failures, state.next_attempt_at = now, 0, None
            state.messages_sent = (state.messages_sent or 0) + 1
        else:
            state.last_error, state.last_error_at = error, now


def _used(state: AlertChannel, now: datetime) -> int:
    """Messages already sent to the channel in the current minute."""
    if state.window_start is None or now - state.window_start >= WINDOW:
        return 0
    return state.window_count
