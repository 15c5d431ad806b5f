"""The alert channel down for five minutes under a real scheduler (issue 17, "Must show"): the
scenario that tests/test_alert_outage_sqlite.py and tests/test_alert_outage_postgres.py run, one
database each, so the two five-minute runs go to two xdist workers (``--dist loadfile``).

The real scheduler (``python -m jobs``, tests/scheduler_process.py) sends to a JSON webhook
(tests/alert_receivers.py, with a password and a token in its URL) and an SMTP server. The test
process is a second Helios on the same database with the same ``ALERT_URLS`` and the real
clock: it writes the prices, opens positions, forces drawdowns and resumes. While the webhook
refuses connections (``OUTAGE_SECONDS``, the issue's 5 minutes; ``HELIOS_ALERT_OUTAGE_SECONDS``
shortens it for a quick local run), every cycle stops a position out through the scheduler's
monitor and halts on a forced 16% drawdown through its watchdog; half-way the scheduler is
SIGKILLed and a new one started. Shown:

- the trading jobs keep their timing while the channel is down: each stop-out closes within a
  few monitor intervals of the price, each halt within a few watchdog intervals, snapshots keep
  coming every ``SNAPSHOT_INTERVAL_SECONDS`` (no gap of 5 intervals outside the restart; the
  gaps before the outage, the scheduler's first passes included, are printed beside them);
- the failing channel is visible (its scrubbed last error, its pending count) and the e-mail
  channel keeps delivering each halt during the outage;
- once the webhook is back, every alert arrives exactly once on each channel: every delivery is
  SENT, the messages each channel received are the distinct messages the outbox records for it
  (none twice across the kill and restart), and the alerts they carry add up to the outbox's.
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from alert_receivers import HttpReceiver, SmtpReceiver, body_of
from factories import PRICES, SEED_REASONING, SEED_TRADE, give_market
from scheduler_process import SchedulerProcess, wait_for
from sqlalchemy import select

import helios
from helios.clock import ensure_utc
from helios.db.models import (
    Alert,
    AlertDelivery,
    Event,
    PortfolioSnapshot,
    PortfolioState,
    Position,
)

D = Decimal
OUTAGE_SECONDS = float(os.environ.get("HELIOS_ALERT_OUTAGE_SECONDS", "300"))
CYCLE_SECONDS = 40.0  # a stop-out and a halt in each
MONITOR_SECONDS = 0.5  # scheduler_process.FAST
WATCHDOG_SECONDS = 0.5
SNAPSHOT_SECONDS = 1.0
START_TIMEOUT = 60.0
TIMEOUT = 30.0
SETTINGS = {
    "ALERT_SEND_INTERVAL_SECONDS": "1",
    "ALERT_GROUP_SECONDS": "2",
    "ALERT_RETRY_MAX_SECONDS": "10",
    # a stop-out on BTCZAR every cycle: the third would lock the pair (issue 18's pair locks)
    # and the next open would be refused; this scenario is about the alerts, not the locks
    "LOCK_AFTER_STOPS": "0",
}
SECRETS = ("S3cretPassw0rd", "TOKEN123456789012")
CARRIED = re.compile(r"^\[[A-Z]+\] (\d+) (x |more alerts \(rate limit reached\))")
SEVERITY = re.compile(r"^\[(CRITICAL|WARNING|INFO)\] ")


@dataclass
class Figures:
    """What the run measured (printed at the end; the bounds asserted are generous)."""

    stop_outs: list[float] = field(default_factory=list)  # price written -> closed_at (s)
    halts: list[float] = field(default_factory=list)  # drawdown forced -> HALT event (s)
    down_at: datetime | None = None
    up_at: datetime | None = None
    killed_at: datetime | None = None
    resumed_leading_at: datetime | None = None
    mails_during_outage: int = 0
    halts_during_outage: int = 0

    def line(self) -> str:
        def show(values: list[float]) -> str:
            if not values:
                return "none"
            return (
                f"n={len(values)} median {statistics.median(values):.2f} s max {max(values):.2f} s"
            )

        return f"stop-outs: {show(self.stop_outs)}; halts: {show(self.halts)}"


def urls(http: HttpReceiver, smtp: SmtpReceiver) -> str:
    return f"{http.json_url('/hook/' + SECRETS[1], 'user:' + SECRETS[0])},{smtp.url()}"


def leader_beat(hx: helios.Helios) -> datetime | None:
    from helios.db.models import Heartbeat

    with hx.db.read() as session:
        row = session.get(Heartbeat, "scheduler")
        return ensure_utc(row.last_beat_at) if row is not None else None


def leading_since(hx: helios.Helios, after: datetime) -> bool:
    beat = leader_beat(hx)
    return beat is not None and beat > after


def position_of(hx: helios.Helios, position_id: int) -> Position:
    with hx.db.read() as session:
        row = session.get(Position, position_id)
        assert row is not None
        return row


def events(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def not_sent(hx: helios.Helios) -> int:
    with hx.db.read() as session:
        rows = session.scalars(select(AlertDelivery.id).where(AlertDelivery.status != "SENT")).all()
    return len(rows)


def stop_out(hx: helios.Helios, scheduler: SchedulerProcess, figures: Figures) -> None:
    """Open a position (the seed's trade), then a price through its stop: the scheduler's
    monitor closes it STOPPED_OUT."""
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    position_id = int(opened["position_id"])
    time.sleep(2 * MONITOR_SECONDS)  # the monitor has looked at it at its entry
    assert position_of(hx, position_id).status == "OPEN"
    below = (D(opened["stop_loss_price"]) * D("0.99")).quantize(D("1"))
    written_at = hx.clock.now()
    hx.market.set_price("BTCZAR", below)
    stopped = wait_for(
        lambda: (
            position_of(hx, position_id).status == "STOPPED_OUT" and position_of(hx, position_id)
        ),
        TIMEOUT,
        f"position {position_id} stopped out",
        scheduler,
    )
    assert stopped.closed_at is not None
    figures.stop_outs.append((ensure_utc(stopped.closed_at) - written_at).total_seconds())
    hx.market.set_price("BTCZAR", PRICES["BTCZAR"])


def halt(hx: helios.Helios, scheduler: SchedulerProcess, figures: Figures) -> None:
    """A position open, equity forced 16% below the peak: the scheduler's watchdog halts and
    closes it; the test resumes once the breach is cleared (a person's decision)."""
    opened = hx.positions.open_position("ETHZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    before = len(events(hx, "HALT"))
    equity = hx.ledger.valuation().equity
    with hx.db.write() as session:
        state = session.get(PortfolioState, 1)
        assert state is not None
        state.peak_equity = (equity / D("0.84")).quantize(D("0.01"))
    forced_at = hx.clock.now()
    wait_for(lambda: len(events(hx, "HALT")) > before, TIMEOUT, "the drawdown halt", scheduler)
    wait_for(
        lambda: position_of(hx, opened["position_id"]).status == "EMERGENCY_CLOSE",
        TIMEOUT,
        "the halt's close-out",
        scheduler,
    )
    halt_event = events(hx, "HALT")[-1]
    assert (halt_event.details or {}).get("cause") == "drawdown", halt_event.message
    figures.halts.append((ensure_utc(halt_event.ts) - forced_at).total_seconds())
    with hx.db.write() as session:  # the breach cleared: the peak is today's equity again
        state = session.get(PortfolioState, 1)
        assert state is not None
        state.peak_equity = hx.ledger.valuation().equity
    hx.controls.resume(by="outage-test", note="drawdown forced by the test")
    wait_for(
        lambda: not hx.controls.halt_state().halted and not hx.controls.acknowledged_triggers(),
        TIMEOUT,
        "the breach cleared",
        scheduler,
    )


def snapshot_gaps(hx: helios.Helios, start: datetime, end: datetime) -> list[float]:
    with hx.db.read() as session:
        times = [
            ensure_utc(ts)
            for ts in session.scalars(
                select(PortfolioSnapshot.ts)
                .where(PortfolioSnapshot.ts >= start, PortfolioSnapshot.ts <= end)
                .order_by(PortfolioSnapshot.ts)
            )
        ]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def carried(title: str, body: str) -> tuple[int, tuple[str, ...]]:
    """What one received message carries: a digest or an overflow says how many alerts in its
    title; any other message is one alert, or an episode (a halt and what it did) whose first
    alert is the title and each further one a line of the body that starts "[SEVERITY] "."""
    found = CARRIED.match(title)
    if found:
        return int(found.group(1)), ()
    titles = (title, *(line for line in body.splitlines() if SEVERITY.match(line)))
    return len(titles), tuple(sorted(titles))


def run_outage(database_url: str, folder: Path, seconds: float = OUTAGE_SECONDS) -> None:
    """The scenario, the webhook down ``seconds`` (the issue's five minutes by default)."""
    figures = Figures()
    scheduler: SchedulerProcess | None = None
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        alert_urls = urls(http, smtp)
        settings = {**SETTINGS, "ALERT_URLS": alert_urls}
        try:
            with helios.connect(database_url, market_feed="manual", alert_urls=alert_urls) as hx:
                give_market(hx)
                began = hx.clock.now()
                scheduler = SchedulerProcess(database_url, folder, **settings)
                wait_for(lambda: leader_beat(hx), START_TIMEOUT, "the leader's beat", scheduler)

                # before the outage: a halt reaches both channels at once
                halt(hx, scheduler, figures)
                wait_for(lambda: not_sent(hx) == 0, TIMEOUT, "the first alerts sent", scheduler)
                # (a pass may find the halt before its close-out's result: one or two messages)
                assert len(http.posts) >= 1 and len(smtp.messages) >= 1
                before_posts, before_mails = len(http.posts), len(smtp.messages)
                baseline = snapshot_gaps(hx, began, hx.clock.now())

                http.down()
                figures.down_at = hx.clock.now()
                down_monotonic = time.monotonic()
                deadline = down_monotonic + seconds
                cycle = 0
                restarted = False
                while time.monotonic() < deadline - 15:
                    slot = down_monotonic + cycle * CYCLE_SECONDS
                    time.sleep(max(0.0, slot - time.monotonic()))
                    if not restarted and time.monotonic() >= down_monotonic + seconds / 2:
                        assert not_sent(hx) > 0  # the webhook owes alerts
                        scheduler.kill()  # SIGKILL: mid-way, with alerts pending
                        figures.killed_at = hx.clock.now()
                        scheduler = SchedulerProcess(database_url, folder, **settings)
                        wait_for(
                            lambda: leading_since(hx, figures.killed_at),  # type: ignore[arg-type]
                            START_TIMEOUT,
                            "the new scheduler leading",
                            scheduler,
                        )
                        figures.resumed_leading_at = hx.clock.now()
                        restarted = True
                    stop_out(hx, scheduler, figures)
                    halt(hx, scheduler, figures)
                    cycle += 1
                assert restarted, "the outage was too short for the restart"
                # the failing channel is visible: its error (no secret), what it owes
                state = {c["scheme"]: c for c in hx.alerts.status()["channels"]}
                assert state["json"]["last_error"], state
                assert "Connection error" in state["json"]["last_error"], state
                assert not any(s in state["json"]["last_error"] for s in SECRETS)
                assert state["json"]["pending"] > 0 and state["json"]["failures"] > 0
                assert state["mailto"]["last_error"] is None, state

                time.sleep(max(0.0, deadline - time.monotonic()))
                assert len(http.posts) == before_posts  # nothing got through the closed port
                figures.mails_during_outage = len(smtp.messages) - before_mails
                figures.halts_during_outage = cycle
                http.up()
                figures.up_at = hx.clock.now()
                wait_for(
                    lambda: not_sent(hx) == 0,
                    120,
                    "every alert delivered after the webhook returned",
                    scheduler,
                )
                time.sleep(5)  # a few more passes: nothing is sent again
                delivered_at = hx.clock.now()
                outage_gaps = snapshot_gaps(hx, figures.down_at, figures.killed_at)  # type: ignore[arg-type]
                outage_gaps += snapshot_gaps(
                    hx,
                    figures.resumed_leading_at,
                    figures.up_at,  # type: ignore[arg-type]
                )
                job_errors = [e.message for e in events(hx, "JOB_ERROR")]
                assert len(events(hx, "LEADER_TAKEOVER")) == 1  # the new scheduler took over
                check_outbox(hx, http, smtp)
        finally:
            if scheduler is not None:
                scheduler.stop()

    print(
        f"\n{database_url.split(':')[0]}: webhook down {seconds:.0f} s, "
        f"{figures.halts_during_outage} halts and stop-outs during it, scheduler SIGKILLed at "
        f"{(figures.killed_at - figures.down_at).total_seconds():.0f} s; {figures.line()}; "  # type: ignore[operator]
        f"snapshot gaps: before the outage median {statistics.median(baseline or [0]):.2f} s "
        f"max {max(baseline, default=0):.2f} s, during it max "
        f"{max(outage_gaps, default=0):.2f} s (n={len(outage_gaps)}); e-mails during the outage "
        f"{figures.mails_during_outage}; all delivered "
        f"{(delivered_at - figures.up_at).total_seconds():.1f} s after the webhook returned "  # type: ignore[operator]
        f"(incl. 5 s of quiet passes); webhook messages {len(http.posts)}, e-mails "
        f"{len(smtp.messages)}"
    )
    assert job_errors == [], job_errors
    # the trading jobs kept their timing while the channel was down (generous bounds: a busy
    # two-core machine; the benchmarks measure the tight figures)
    assert figures.stop_outs and max(figures.stop_outs) < 10 * MONITOR_SECONDS, figures.stop_outs
    assert figures.halts and max(figures.halts) < 10 * WATCHDOG_SECONDS + 5, figures.halts
    expected = (seconds - 30) / SNAPSHOT_SECONDS  # less the restart's seconds
    assert len(outage_gaps) >= 0.5 * expected, (len(outage_gaps), expected)
    assert max(outage_gaps) < 5 * SNAPSHOT_SECONDS, outage_gaps
    # the e-mail channel carried on: every halt of the outage reached it while the webhook
    # was down
    assert figures.mails_during_outage >= figures.halts_during_outage


def check_outbox(hx: helios.Helios, http: HttpReceiver, smtp: SmtpReceiver) -> None:
    """Every alert delivered exactly once on each channel."""
    with hx.db.read() as session:
        alerts = {a.id: a for a in session.scalars(select(Alert))}
        deliveries = list(session.scalars(select(AlertDelivery)))
    channels = {spec.scheme: spec.id for spec in hx.settings.alert_channels()}
    assert set(channels) == {"json", "mailto"}
    by_alert = Counter(d.alert_id for d in deliveries)
    assert set(by_alert) == set(alerts)
    assert set(by_alert.values()) == {2}, "one delivery per alert and channel"
    assert {d.status for d in deliveries} == {"SENT"}
    for scheme, received in (
        ("json", [(p.title, p.message) for p in http.posts]),
        ("mailto", [(str(m["Subject"]), body_of(m)) for m in smtp.messages]),
    ):
        mine = sorted((d for d in deliveries if d.channel == channels[scheme]), key=lambda d: d.id)
        assert len(mine) == len(alerts)
        messages: dict[str, list[str]] = {}
        for d in mine:
            assert d.message is not None
            alert = alerts[d.alert_id]
            messages.setdefault(d.message, []).append(f"[{alert.severity.upper()}] {alert.title}")
        # each message the outbox says it sent arrived once: no more, no fewer, and the alerts
        # they carry add up to the outbox's
        assert len(received) == len(messages), (scheme, len(received), len(messages), received)
        seen = [carried(title, body) for title, body in received]
        assert sum(count for count, _ in seen) == len(alerts), (scheme, received)
        # a message that names its alerts names the outbox's alerts of one message, each once
        told = Counter(titles for _, titles in seen if titles)
        recorded = Counter(tuple(sorted(titles)) for titles in messages.values())
        assert told - recorded == Counter(), (scheme, told - recorded)
        # and a digest carries as many as one of the outbox's messages
        counts = Counter(count for count, titles in seen if not titles)
        rest = Counter(len(t) for t in (recorded - told).elements())
        assert counts == rest, (scheme, counts, rest)
    assert http.unexpected == []
