"""Which messages a channel is sent now (issue 17): bursts grouped, the per-minute cap kept.

Pure (L0): the channel's pending deliveries, the time and its budget in, the messages out. The
rules, in order:

1. A critical alert is ready at once; a warning or info alert once it is ``hold_seconds`` old
   (``ALERT_GROUP_SECONDS``), so a burst collects before anything of it is sent. A kind with
   one ready alert is ready whole (its younger alerts join the digest rather than trail it).
2. ``group_min`` or more ready alerts of one kind are one digest: their count, the exact sum of
   their realized P&L, the count per pair, the first few titles (300 stop-outs in a crash are one
   message). An alert with an attachment (the weekly report's chart) is always its own message.
   Single alerts of one episode (a halt and its close-out's result: the ``thread`` figure the
   rules give them) ready together are one message.
3. Messages go most severe first, then oldest first. More messages than ``budget`` (what is left
   of ``ALERT_MAX_PER_MINUTE`` in the current minute): the first ``budget - 1`` go and one more
   message carries all the rest, summarised by kind; a budget of 0 sends nothing now.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.alerts.rules import CRITICAL, amount
from helios.config.choices import AlertSeverity

GROUP_MIN = 3
LISTED = 10  # titles a digest lists before "and N more"


@dataclass(frozen=True)
class Pending:
    """One delivery waiting for this channel, with its alert."""

    delivery_id: int
    alert_id: int
    severity: AlertSeverity
    kind: str
    title: str
    body: str
    created_at: datetime
    figures: Mapping[str, Any] | None = None
    has_attachment: bool = False


@dataclass(frozen=True)
class Message:
    """What one send carries: one alert (``alert_id``, whose attachment goes with it) or a
    digest of several."""

    delivery_ids: tuple[int, ...]
    severity: AlertSeverity
    title: str
    body: str
    alert_id: int | None = None  # a single alert: its attachment, if any, is attached
    thread: str | None = None  # the episode it belongs to (a halt), see ``threaded``
    has_attachment: bool = False  # its alert carries one (read only then)

    @property
    def key(self) -> str:
        """An id for the message, stored with every delivery it carries."""
        return f"m{self.delivery_ids[0]}-{len(self.delivery_ids)}"


def ready(pending: Sequence[Pending], now: datetime, hold_seconds: float) -> list[Pending]:
    """Rule 1: what may be sent now."""
    ripe_kinds = {
        p.kind
        for p in pending
        if p.severity is CRITICAL or (now - p.created_at).total_seconds() >= hold_seconds
    }
    return [p for p in pending if p.kind in ripe_kinds]


def plan(
    pending: Sequence[Pending],
    *,
    now: datetime,
    budget: int,
    hold_seconds: float,
    group_min: int = GROUP_MIN,
) -> list[Message]:
    """The messages to send now, in order (rules 1-3)."""
    if budget <= 0:
        return []
    by_kind: dict[str, list[Pending]] = defaultdict(list)
    for item in ready(pending, now, hold_seconds):
        by_kind[item.kind].append(item)
    messages: list[tuple[int, int, Message]] = []
    for kind, items in by_kind.items():
        items.sort(key=lambda p: p.delivery_id)
        alone = [p for p in items if p.has_attachment]
        rest = [p for p in items if not p.has_attachment]
        if len(rest) >= group_min:
            messages.append(_ordered(digest(kind, rest)))
        else:
            alone.extend(rest)
        messages.extend(_ordered(single(p)) for p in alone)
    messages.sort(key=lambda entry: (entry[0], entry[1]))
    chosen = threaded([message for _, _, message in messages])
    if len(chosen) <= budget:
        return chosen
    return [*chosen[: budget - 1], overflow(chosen[budget - 1 :])]


def threaded(messages: list[Message]) -> list[Message]:
    """Rule 2b: single alerts of one episode (a halt and its close-out's result, the
    ``thread`` figure) ready together are one message, the most severe (then oldest) first."""
    firsts: dict[str, int] = {}
    merged: list[Message] = []
    for message in messages:
        if message.thread is None or message.thread not in firsts:
            if message.thread is not None:
                firsts[message.thread] = len(merged)
            merged.append(message)
            continue
        head = merged[firsts[message.thread]]
        merged[firsts[message.thread]] = Message(
            (*head.delivery_ids, *message.delivery_ids),
            head.severity,
            head.title,
            f"{head.body}\n\n{message.title}\n{message.body}",
            thread=head.thread,
        )
    return merged


def _ordered(message: Message) -> tuple[int, int, Message]:
    return (-message.severity.rank, message.delivery_ids[0], message)


def single(item: Pending) -> Message:
    thread = (item.figures or {}).get("thread") if not item.has_attachment else None
    return Message(
        (item.delivery_id,),
        item.severity,
        f"[{item.severity.value.upper()}] {item.title}",
        item.body,
        alert_id=item.alert_id,
        thread=str(thread) if thread else None,
        has_attachment=item.has_attachment,
    )


def _most_severe(items: Sequence[Pending]) -> AlertSeverity:
    return max((p.severity for p in items), key=lambda s: s.rank)


def totals(items: Sequence[Pending]) -> tuple[Decimal | None, Counter[str]]:
    """The exact sum of the items' realized P&L (None: none has one) and the count per pair."""
    pnl: Decimal | None = None
    pairs: Counter[str] = Counter()
    for item in items:
        figures = item.figures or {}
        value = amount(figures.get("realized_pnl"))
        if value is not None:
            pnl = value if pnl is None else pnl + value
        if figures.get("pair"):
            pairs[str(figures["pair"])] += 1
    return pnl, pairs


def digest(kind: str, items: Sequence[Pending]) -> Message:
    """Rule 2: one message for many alerts of one kind."""
    severity = _most_severe(items)
    pnl, pairs = totals(items)
    label = kind.replace("_", " ").lower()
    title = f"[{severity.value.upper()}] {len(items)} x {label}"
    if pnl is not None:
        title += f": realized P&L R{pnl:,.2f}"
    lines = [f"{len(items)} alerts of kind {kind} between {items[0].created_at:%Y-%m-%d %H:%M:%S}"
             f" and {items[-1].created_at:%H:%M:%S} UTC."]  # fmt: skip
    if pnl is not None:
        lines.append(f"Total realized P&L: R{pnl:,.2f}")
    if pairs:
        lines.append("By pair: " + ", ".join(f"{pair} {n}" for pair, n in sorted(pairs.items())))
    lines.extend(f"- {p.title}" for p in items[:LISTED])
    if len(items) > LISTED:
        lines.append(f"... and {len(items) - LISTED} more")
    return Message(tuple(p.delivery_id for p in items), severity, title, "\n".join(lines))


def overflow(messages: Sequence[Message]) -> Message:
    """Rule 3: the messages past the budget, carried as one."""
    severity = max((m.severity for m in messages), key=lambda s: s.rank)
    ids = tuple(i for m in messages for i in m.delivery_ids)
    title = f"[{severity.value.upper()}] {len(ids)} more alerts (rate limit reached)"
    body = "\n".join(f"- {m.title}" for m in messages[:LISTED])
    if len(messages) > LISTED:
        body += f"\n... and {len(messages) - LISTED} more messages"
    return Message(ids, severity, title, body)
