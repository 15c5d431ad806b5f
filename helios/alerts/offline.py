"""Telling the operator while the database is away (L4a): the "database lost" alert.

The outbox lives in the database, so the one alert about losing it cannot wait there. When the
scheduler closes out through its journal (``helios.closeout``), it hands the alert to
``OfflineTeller.tell``: the alert is appended to the journal first, then a background thread
sends it to every channel directly (retrying with backoff a few times) and appends an
``alert_sent`` record for each channel that accepted it. When the database answers again, the
journal's replay queues the alert in the outbox with those channels already SENT, so a channel
that missed it gets it then, and none gets it twice. The close-out never waits for a channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from helios.alerts.channels import AppriseChannel, Channel, DeliveryFailed
from helios.alerts.rules import Alert
from helios.config.channels import ChannelSpec

log = logging.getLogger("helios.alerts")
ATTEMPTS = 5
FIRST_DELAY = 2.0


def journal_record(alert: Alert) -> dict[str, Any]:
    """The alert as the journal keeps it (no secret: the channels are not in it)."""
    return {
        "type": "alert",
        "dedup_key": alert.dedup_key,
        "severity": alert.severity.value,
        "kind": alert.kind,
        "title": alert.title,
        "body": alert.body,
        "figures": dict(alert.figures or {}),
    }


def sent_channels(records: Sequence[dict[str, Any]], dedup_key: str) -> set[str]:
    """The channels the journal says accepted the alert ``dedup_key``."""
    return {
        str(r.get("channel"))
        for r in records
        if r.get("type") == "alert_sent" and r.get("dedup_key") == dedup_key
    }


class OfflineTeller:
    """Sends an alert to every channel without the database, journaling each success."""

    def __init__(
        self,
        channels: Sequence[ChannelSpec],
        connect: Callable[[ChannelSpec], Channel] = AppriseChannel,
        attempts: int = ATTEMPTS,
        first_delay: float = FIRST_DELAY,
    ) -> None:
        self._specs = tuple(channels)
        self._connect = connect
        self._attempts = attempts
        self._first_delay = first_delay
        self.thread: threading.Thread | None = None

    def tell(self, alert: Alert, append: Callable[[dict[str, Any]], Any]) -> None:
        """Journal ``alert``, then send it in a background thread."""
        append(journal_record(alert))
        if not self._specs:
            return
        self.thread = threading.Thread(
            target=self._send_all, args=(alert, append), name="helios-offline-alert", daemon=True
        )
        self.thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until the sending thread is done (the replay waits, so it knows who has it)."""
        if self.thread is not None:
            self.thread.join(timeout)

    def _send_all(self, alert: Alert, append: Callable[[dict[str, Any]], Any]) -> None:
        waiting = list(self._specs)
        delay = self._first_delay
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(delay)
                delay *= 2
            for spec in list(waiting):
                try:
                    self._connect(spec).send(
                        f"[{alert.severity.value.upper()}] {alert.title}", alert.body,
                        alert.severity,
                    )  # fmt: skip
                except DeliveryFailed as exc:
                    log.warning("offline alert to %s failed: %s", spec.id, exc)
                    continue
                except Exception as exc:  # never let the close-out's thread die loudly
                    log.warning("offline alert to %s failed: %s", spec.id, type(exc).__name__)
                    continue
                append({"type": "alert_sent", "dedup_key": alert.dedup_key, "channel": spec.id})
                waiting.remove(spec)
            if not waiting:
                return
        log.error("offline alert not delivered to %s: the replay queues it", waiting)
