"""The seed's "database connection lost" stop: close out through a journal, replay it later.

When the database cannot be reached nothing can be recorded, yet the seed says to close every
position ("can't track positions"). So the scheduler keeps, from its last good look at the
database, the book of open positions and the last prices (``DatabaseWatch.remember``). Once the
database has been unreachable for ``HALT_DATABASE_LOST_SECONDS`` it:

1. appends a ``halt`` record to the close-out journal (an append-only JSON-lines file under
   ``JOURNAL_DIR``, one per installation, each line flushed and fsynced before the next step);
2. for each open position, appends the close ``intent`` with its deterministic client order id
   (``HX-<installation>-<position>-ECLOSE-<n>``, n counting this position's outages), sends
   the close to the exchange (PAPER: the paper venue filling from the last known prices, as it
   would have), and appends the ``close`` with the exchange's answer, or ``close_failed``.

When the database answers again, ``replay_journal`` writes each record not yet replayed into it
exactly as the online path would have (the halt with its cause; each close as its order, fill,
ledger entries and position status) and appends a ``replayed`` mark. Replay is idempotent (an
order id already recorded is skipped), so a crash during replay, or two processes replaying, can
neither lose nor double a close. A close whose answer never came is left CLOSING for
``reconcile`` to settle from the exchange's record; a failed close leaves the position open and
the halt's close-out retries it once the database is back.

The rule (unreachable for at least ``HALT_DATABASE_LOST_SECONDS``) is the pure
``helios.halt_triggers.database_lost``. This service (L4d) is given its collaborators by name
(``CloseoutServices``: the object ``helios.connect()`` returns has each of them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from helios.alerts import rules as alert_rules
from helios.alerts.offline import OfflineTeller, sent_channels
from helios.alerts.service import Alerts
from helios.clock import Clock
from helios.config import HaltAction, Settings, TradingMode
from helios.config.choices import AlertSeverity
from helios.db.engine import WRITE_OPTION, Database
from helios.db.models import LatestPrice, Position
from helios.events import record_event
from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus
from helios.exchange.paper import PaperExchange
from helios.halt_triggers import DATABASE_LOST, database_lost, describe_database_lost
from helios.positions.lifecycle import OPEN, BookEntry, client_order_id, closing_side
from helios.positions.manager import PositionManager
from helios.positions.margin import needs_margin
from helios.trading_state import TradingState

log = logging.getLogger("helios.closeout")
JOURNAL_ACTION = "ECLOSE"
CAUSE = DATABASE_LOST


class CloseoutServices(Protocol):
    """The collaborators the close-out needs, by name (``helios.connect()``'s object has every
    one): the database it watches, the configuration and clock, the positions (their book, the
    offline close), the trading state (the halt, when replayed) and both exchanges."""

    db: Database
    settings: Settings
    clock: Clock
    positions: PositionManager
    trading_state: TradingState
    paper_exchange: PaperExchange
    valr_exchange: Exchange
    alerts: Alerts


class CloseoutJournal:
    """Append-only JSON lines; each record has an ``id``; ``replayed`` records mark others."""

    def __init__(self, directory: Path, installation: str) -> None:
        self.directory = directory
        self.path = directory / f"closeout-{installation}.jsonl"
        self._lock = threading.Lock()  # the offline alert's thread appends too

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        record = {"id": uuid.uuid4().hex, **record}
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, default=str, sort_keys=True)
        with self._lock, open(self.path, "a+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":  # a line torn by a crash: start on a new line
                    line = "\n" + line
            handle.write((line + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        found = []
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:  # a line torn by a crash mid-write
                    log.error("%s line %d is not JSON: skipped", self.path, number)
        return found

    def pending(self) -> list[dict[str, Any]]:
        """Records not yet replayed into the database, in the order they were written."""
        records = self.records()
        done = {r["ref"] for r in records if r.get("type") == "replayed"}
        return [r for r in records if r.get("type") != "replayed" and r["id"] not in done]

    def mark_replayed(self, record: dict[str, Any], outcome: str) -> None:
        self.append({"type": "replayed", "ref": record["id"], "outcome": outcome[:500]})


def _result_to_json(result: OrderResult) -> dict[str, Any]:
    return {
        "client_order_id": result.client_order_id,
        "exchange_order_id": result.exchange_order_id,
        "status": result.status.value,
        "pair": result.pair,
        "side": result.side,
        "quantity": str(result.quantity) if result.quantity is not None else None,
        "price": str(result.price) if result.price is not None else None,
        "fee": str(result.fee) if result.fee is not None else None,
        "reason": result.reason,
        "created_at": result.created_at.isoformat() if result.created_at else None,
    }


def _result_from_json(data: dict[str, Any]) -> OrderResult:
    def dec(key: str) -> Decimal | None:
        return Decimal(data[key]) if data.get(key) is not None else None

    return OrderResult(
        client_order_id=data["client_order_id"],
        exchange_order_id=data.get("exchange_order_id"),
        status=OrderStatus(data["status"]),
        pair=data["pair"],
        side=data["side"],
        quantity=dec("quantity"),
        price=dec("price"),
        fee=dec("fee"),
        reason=data.get("reason"),
        created_at=datetime.fromisoformat(data["created_at"]) if data.get("created_at") else None,
    )


class DatabaseWatch:
    """The scheduler's eye on its database: probes it, remembers the book while it answers,
    closes out through the journal when it has been lost too long, replays when it returns."""

    def __init__(self, services: CloseoutServices) -> None:
        self.services = services
        self.installation = services.positions.installation_id()
        settings = services.settings
        directory = settings.project_path(settings.journal_dir) or Path("data/journal")
        self.journal = CloseoutJournal(directory, self.installation)
        self._book: dict[int, BookEntry] = {}
        # changes told while ``remember`` reads (applied over what it read, never lost to it)
        self._told: list[BookEntry | int] | None = None
        self._book_lock = threading.Lock()
        self.prices: dict[str, Decimal] = {}
        # a journal an earlier process left unreplayed (it died while the database was away):
        # count as down, so no job acts on those positions before the first tick replays it
        self.down_since: datetime | None = services.clock.now() if self.journal.pending() else None
        self.closed_out = False
        # the "database lost" alert, told without the database (helios.alerts.offline)
        self.teller = OfflineTeller(services.settings.alert_channels())
        services.positions.watch_book(self._opened, self._closed)

    @property
    def book(self) -> list[BookEntry]:
        """The open positions a close-out would close, by id."""
        with self._book_lock:
            return [self._book[key] for key in sorted(self._book)]

    def _opened(self, entry: BookEntry) -> None:
        """An opening fill, told as the database records it: in the book at once, so a
        close-out a moment later covers it (issue 15: one opened 0.9 s before an outage was
        missed until the next watchdog pass)."""
        with self._book_lock:
            self._book[entry.position_id] = entry
            if self._told is not None:
                self._told.append(entry)

    def _closed(self, position_id: int) -> None:
        with self._book_lock:
            self._book.pop(position_id, None)
            if self._told is not None:
                self._told.append(position_id)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def probe(self) -> bool:
        """One small read of a real table in a write transaction: True if the database answers
        and could record. (SQLite in WAL mode answers reads while another process holds the
        write lock, so a read alone never sees a database locked past the busy timeout; the
        write option starts the transaction with BEGIN IMMEDIATE, which does.)"""
        try:
            with self.services.db.engine.connect() as connection:
                connection.execution_options(**{WRITE_OPTION: True})
                connection.execute(text("SELECT count(*) FROM settings")).scalar()
            return True
        except Exception as exc:
            log.debug("database probe failed: %s", exc)
            return False

    def remember(self) -> None:
        """Keep the open positions and the latest prices for a close-out without the database."""
        with self._book_lock:
            self._told = []
        try:
            with self.services.db.read() as session:
                rows = session.execute(
                    select(
                        Position.id,
                        Position.pair,
                        Position.side,
                        Position.quantity,
                        Position.mode,
                        Position.leverage,
                    ).where(Position.status == OPEN)
                ).all()
                self.prices = {p.pair: p.price for p in session.scalars(select(LatestPrice))}
            fresh = {
                int(r.id): BookEntry(int(r.id), r.pair, r.side, r.quantity, r.mode, r.leverage)
                for r in rows
                if r.quantity is not None
            }
        except BaseException:
            with self._book_lock:
                self._told = None
            raise
        with self._book_lock:
            for change in self._told or []:  # told while the read ran: newer than the read
                if isinstance(change, BookEntry):
                    fresh[change.position_id] = change
                else:
                    fresh.pop(change, None)
            self._book, self._told = fresh, None

    def tick(self, *, leading: bool) -> bool:
        """One watchdog step; True when the database answers (journal replayed, book fresh)."""
        answered = self.probe()
        now = self.services.clock.now()  # after the probe: a SQLite probe may wait its busy timeout
        if answered:
            # replay before the jobs resume (``down`` turns False): the monitor or a close-out
            # must not act on positions the journal has already closed
            if self.journal.pending():
                self.teller.wait(120.0)  # the replay must know which channels have the alert
                replay_journal(self.services, self.journal)
            if self.down_since is not None:
                lost = (now - self.down_since).total_seconds()
                log.warning("database reachable again after %.0f s", lost)
                self.down_since = None
            self.closed_out = False
            if leading:
                self.remember()
            return True
        if self.down_since is None:
            self.down_since = now
            log.error("database unreachable: %s", self.services.db.display_url)
        lost_for = (now - self.down_since).total_seconds()
        lost = database_lost(lost_for, self.services.settings.halt_database_lost_seconds)
        if leading and not self.closed_out and lost is not None:
            self.closeout(lost_for)
            self.closed_out = True
        return False

    def closeout(self, lost_for: float) -> list[dict[str, Any]]:
        """Halt and (action ``close_all``) close every remembered position, journal first."""
        settings = self.services.settings
        action = settings.halt_action(CAUSE)
        now = self.services.clock.now()
        breach = describe_database_lost(
            lost_for, settings.halt_database_lost_seconds, len(self.book)
        )
        message = f"automatic: {breach.message}"
        log.critical("%s: halting%s", message, " and closing out" if self.book else "")
        self.journal.append(
            {
                "type": "halt",
                "cause": CAUSE,
                "action": action.value,
                "message": message,
                "at": now.isoformat(),
                "figures": breach.figures,
            }
        )
        outcomes: list[dict[str, Any]] = []
        if action is HaltAction.CLOSE_ALL:
            outcomes = self._close_remembered(now)
        closed = sum(1 for outcome in outcomes if outcome.get("success"))
        self.teller.tell(
            alert_rules.database_lost(
                message, now, closed, len(outcomes) - closed, self.journal.path.name
            ),
            self.journal.append,
        )
        return outcomes

    def _close_remembered(self, now: datetime) -> list[dict[str, Any]]:
        """Close every remembered position through the journal (intent, send, answer)."""
        outcomes: list[dict[str, Any]] = []
        sent_before = [r for r in self.journal.records() if r.get("type") == "intent"]
        for entry in self.book:
            # one id per outage: an earlier outage's close of this position (rejected, say)
            # keeps its own id, so this one is never taken for it
            attempt = 1 + sum(1 for r in sent_before if r.get("position_id") == entry.position_id)
            coid = client_order_id(self.installation, entry.position_id, JOURNAL_ACTION, attempt)
            request = OrderRequest.build(
                coid, entry.pair, closing_side(entry.side), base_amount=entry.quantity
            )
            base = {"position_id": entry.position_id, "client_order_id": coid, "mode": entry.mode}
            self.journal.append({"type": "intent", **base, "at": now.isoformat()})
            try:
                result = self._exchange(entry.mode).submit_market_order(
                    replace(request, margin=needs_margin(entry.side, entry.leverage))
                )
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.error("close of position %s failed: %s", entry.position_id, error)
                # no answer from a real venue: the order may exist, so the intent stays
                # unanswered and the replay leaves the position CLOSING for reconcile to ask
                # VALR about this id (never "failed", which would leave it OPEN)
                unknown = bool(getattr(exc, "ambiguous", False))
                kind = "close_unknown" if unknown else "close_failed"
                self.journal.append({"type": kind, **base, "error": error})
                outcomes.append({**base, "success": False, "error": error})
                continue
            reference = self.prices.get(entry.pair)
            self.journal.append(
                {
                    "type": "close",
                    **base,
                    "result": _result_to_json(result),
                    "reference_price": str(reference) if reference is not None else None,
                }
            )
            log.warning(
                "[%s] position %s closed while the database is unreachable: %s %s at %s",
                entry.mode,
                entry.position_id,
                result.status.value,
                result.quantity,
                result.price,
            )
            outcomes.append({**base, "success": result.status is OrderStatus.FILLED})
        return outcomes

    def _exchange(self, mode: str) -> Exchange:
        if TradingMode(mode) is TradingMode.PAPER:
            return self.services.paper_exchange.offline(self.prices)
        # LIVE: VALR directly (hx.exchange reads the mode from the database, which is away);
        # its client needs no database (a price it cannot read is simply not used)
        return self.services.valr_exchange


def replay_journal(services: CloseoutServices, journal: CloseoutJournal) -> list[str]:
    """Write the journal's records into the database (idempotent); returns one line each.

    A database error stops the replay (the records stay pending for the next try). A record
    the database cannot take (its position is unknown: the database was restored from an older
    backup, say) is marked replayed with the error and a CRITICAL event for a person, so one
    bad line never keeps the scheduler from watching the rest of the book."""
    lines: list[str] = []
    answered = {
        r["client_order_id"]
        for r in journal.records()
        if r.get("type") in ("close", "close_failed")
    }
    for record in journal.pending():
        try:
            outcome = _replay_one(services, journal, record, answered)
        except SQLAlchemyError:
            raise
        except Exception as error:
            outcome = f"NOT APPLIED: {type(error).__name__}: {error}"
            log.critical("journal record %s could not be replayed: %s", record.get("id"), error)
            with services.db.write() as session:
                record_event(
                    session,
                    ts=services.clock.now(),
                    kind="JOURNAL_NOT_APPLIED",
                    severity="CRITICAL",
                    actor="watchdog",
                    message=f"a close-out journal record could not be written to the database "
                    f"({journal.path}): {outcome}; check it by hand",
                    details={"record": {k: str(v) for k, v in record.items()}},
                )
        journal.mark_replayed(record, outcome)
        lines.append(outcome)
        log.warning("journal replay: %s", outcome)
    return lines


def _replay_one(
    services: CloseoutServices, journal: CloseoutJournal, record: dict[str, Any], answered: set[str]
) -> str:
    kind = record.get("type")
    if kind == "halt":
        services.trading_state.halt(
            record["message"],
            "watchdog",
            cause=record.get("cause", CAUSE),
            action=HaltAction(record.get("action", HaltAction.CLOSE_ALL.value)),
            details={**record.get("figures", {}), "detected_at": record.get("at")},
        )
        outcome = f"halt recorded: {record['message']}"
    elif kind == "close":
        result = _result_from_json(record["result"])
        reference = record.get("reference_price")
        done = services.positions.record_offline_close(
            int(record["position_id"]),
            record["client_order_id"],
            result,
            note=f"journal {journal.path.name}",
        )
        applied = done.get("success") or done.get("already_recorded")
        if applied and record.get("mode") == TradingMode.PAPER.value:
            # the venue's book gets the fill only when ours does (a replay after a crash
            # between the two finds the order recorded and adopts it then)
            services.paper_exchange.adopt(result, Decimal(reference) if reference else None)
        outcome = f"position {record['position_id']}: " + (
            str(done.get("status")) if done.get("success") else str(done.get("reason"))
        )
    elif kind == "alert":
        alert = alert_rules.Alert(
            AlertSeverity(record["severity"]),
            record["kind"],
            record["title"],
            record["body"],
            record["dedup_key"],
            record.get("figures") or None,
        )
        told = sent_channels(journal.records(), alert.dedup_key)
        queued = services.alerts.record_told(alert, told)
        outcome = f"alert {alert.kind}: " + (
            f"queued ({len(told)} channel(s) had it already)" if queued else "already queued"
        )
    elif kind == "intent" and record["client_order_id"] not in answered:
        if record.get("mode") == TradingMode.PAPER.value:
            # the offline paper venue keeps no book: an unanswered close never filled
            outcome = f"position {record['position_id']}: close never filled, stays open"
        else:
            done = services.positions.record_offline_close(
                int(record["position_id"]), record["client_order_id"], None
            )
            outcome = f"position {record['position_id']}: {done.get('reason')}"
    else:  # an answered intent, or a failed close: the position is still open
        outcome = f"{kind}: nothing to record"
    return outcome
