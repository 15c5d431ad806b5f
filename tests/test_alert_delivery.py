"""Alerts delivered to real receivers on 127.0.0.1 (issue 17, "Must show"): a JSON webhook
(apprise ``json://``, tests/alert_receivers.py) and an SMTP server (aiosmtpd, apprise
``mailto://``), on SQLite and PostgreSQL, with the real paper book.

- a drawdown halt: one critical message on each channel carrying its figures (drawdown
  16.72% > 15.00%) and, in the same message, the close-out's result (closed, realized P&L);
- the weekly report queued on a Monday (``hx.reports.deliver_due``): the e-mail carries its equity
  chart as a PNG attachment, byte for byte, as does the webhook;
- a crash that stops out 300 positions: at most a few digest messages per channel, whose counts
  add up to 300 and whose realized P&L is the exact sum of the positions' (to the cent shown).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from alert_receivers import (
    HttpReceiver,
    SmtpReceiver,
    attachments_of,
    body_of,
    receivers,
    text_of,
)
from factories import PRICES, booked_position, connect_book, position_row
from sqlalchemy import func, select

import helios
from helios.clock import ManualClock
from helios.db.models import Alert as AlertRow
from helios.db.models import AlertDelivery, Position

D = Decimal
TIMEOUT = 20.0


@pytest.fixture
def channels() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    with receivers() as found:
        yield found


def connect(
    database_url: str, clock: ManualClock, http: HttpReceiver, smtp: SmtpReceiver, **more: Any
) -> helios.Helios:
    urls = f"{http.json_url('/hook/TOKEN123456789012', 'user:S3cretPassw0rd')},{smtp.url()}"
    hx = connect_book(database_url, clock, alert_urls=urls, **more)
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    return hx


def pending(hx: helios.Helios) -> int:
    with hx.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AlertDelivery)
                .where(AlertDelivery.status != "SENT")
            )
            or 0
        )


def book_many(hx: helios.Helios, count: int, pairs: list[str], size: str) -> list[int]:
    """``count`` OPEN BUY positions of R``size`` at 1x with a 2% stop, booked by the ledger in one
    transaction at each pair's price with the paper venue's 0.35% fee (what ``open_position``
    books, without 300 risk checks; the stop monitor and the closes are the real ones)."""
    from helios.accounts.book import book_open
    from helios.accounts.invariants import check_invariants
    from helios.market.prices import latest_prices
    from helios.trade import entry_levels

    now = hx.clock.now()
    ids = []
    with hx.db.write() as session:
        for number in range(count):
            pair = pairs[number % len(pairs)]
            price = D(PRICES[pair])
            row = position_row(pair, "BUY", size, "1", now, status="OPEN")
            row.opened_at = now
            row.stop_loss_price, row.take_profit_price = entry_levels("BUY", price, 0.02, 0.5)
            row.best_price = price
            session.add(row)
            session.flush()
            quantity = (D(size) / price).quantize(D("0.00000001"))
            fee = (price * quantity * D("0.0035")).quantize(D("0.00000001"))
            book_open(session, row, fill_price=price, quantity=quantity, fee=fee, now=now)
            ids.append(row.id)
        check_invariants(session, latest_prices(session))
    return ids


# --- a drawdown halt ----------------------------------------------------------------------------
def test_a_drawdown_halt_is_one_critical_message_on_each_channel_with_its_figures(
    database_url: str, clock: ManualClock, channels: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = channels
    with connect(database_url, clock, http, smtp) as hx:
        ids = [
            booked_position(hx, "BTCZAR", "BUY", "20000", "3"),
            booked_position(hx, "ETHZAR", "SELL", "2000", "1"),
        ]
        hx.market.set_price("BTCZAR", "870000")  # -27.5% on R60,000 of BTC
        drawdown = hx.ledger.valuation().drawdown
        assert drawdown > D("0.16")
        assert "drawdown" in [b.trigger for b in hx.halts.check()]
        shown = f"drawdown {float(drawdown) * 100:.2f}% > 15.00%"

        results = hx.alerts.send_pending()  # critical: sent at once, no grouping wait
        assert [(r.error, r.messages) for r in results] == [(None, 1), (None, 1)], results
        assert pending(hx) == 0
        with hx.db.read() as session:
            realized = [session.get(Position, i).realized_pnl for i in ids]  # type: ignore[union-attr]
        total = sum(realized, D(0))
        [post] = http.wait_for_posts(1, TIMEOUT)
        [mail] = smtp.wait_for_messages(1, TIMEOUT)
        clock.advance(seconds=60)
        hx.alerts.send_pending()  # a later pass sends nothing again

    assert len(http.posts) == 1 and len(smtp.messages) == 1
    # the halt with its trigger and figures, and in the same message what it did
    assert post.title == f"[CRITICAL] HALT: drawdown ({shown})"
    assert post.type == "failure"  # apprise's critical
    assert "limit: 0.15" in post.message
    assert "[CRITICAL] Close-out result" in post.message
    assert "closed: 2" in post.message and "not_closed: 0" in post.message
    assert f"realized_pnl: {total}" in post.message, (total, post.message)

    # the e-mail is the same text, line for line (not one line of HTML-stripped words)
    assert mail["Subject"] == post.title
    assert body_of(mail).strip() == post.message.strip()
    assert "\ncause: drawdown\n" in body_of(mail)
    assert smtp.recipients == [["ops@example.com"]]
    assert str(mail["From"]).endswith("helios@example.com")
    assert http.unexpected == []


def test_the_weekly_report_s_chart_arrives_attached_to_the_e_mail(
    database_url: str, clock: ManualClock, channels: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = channels
    with connect(database_url, clock, http, smtp) as hx:
        booked_position(hx, "BTCZAR", "BUY", "20000", "2")
        for price in ("1200000", "1230000", "1180000", "1250000"):  # Thursday to Sunday
            hx.market.set_price("BTCZAR", price)
            hx.take_snapshot()
            clock.advance(timedelta(days=1))
        assert clock.now().weekday() == 0  # Monday: the week that ended is reported
        queued = hx.reports.deliver_due()
        assert len(queued) == 2, queued  # Sunday's daily report and the weekly one
        assert hx.reports.deliver_due() == []  # queued once
        with hx.db.read() as session:
            [weekly] = session.scalars(
                select(AlertRow).where(AlertRow.kind == "REPORT_WEEKLY")
            ).all()
            chart, name, title = bytes(weekly.attachment), weekly.attachment_name, weekly.title
        assert chart.startswith(b"\x89PNG\r\n\x1a\n") and len(chart) > 1000
        hx.alerts.send_pending()
        assert http.posts == [] and smtp.messages == []  # info: held for ALERT_GROUP_SECONDS
        clock.advance(seconds=hx.settings.alert_group_seconds + 1)
        hx.alerts.send_pending()
        mails = smtp.wait_for_messages(2, TIMEOUT)
        posts = http.wait_for_posts(2, TIMEOUT)
        assert pending(hx) == 0

    [mail] = [m for m in mails if m["Subject"] == f"[INFO] {title}"]
    assert attachments_of(mail) == [(name, "image/png", chart)]
    [daily] = [m for m in mails if m is not mail]
    assert attachments_of(daily) == []  # the daily report has no chart
    [post] = [p for p in posts if p.title == f"[INFO] {title}"]
    assert post.attachments() == [(name, "image/png", chart)]
    assert post.type == "info"


# --- a burst of stop-outs -----------------------------------------------------------------------
DIGEST = re.compile(r"^\[WARNING\] (\d+) x position stopped out: realized P&L R(-?[\d,]+\.\d\d)$")
BURST = 300


def test_300_stop_outs_arrive_as_a_few_digests_with_exact_totals(
    database_url: str, clock: ManualClock, channels: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = channels
    pairs = ["BTCZAR", "ETHZAR", "SOLZAR"]
    with connect(database_url, clock, http, smtp) as hx:
        ids = book_many(hx, BURST, pairs, "200")
        assert pending(hx) == 0
        before = (len(http.posts), len(smtp.messages))

        clock.advance(seconds=5)
        for pair in pairs:  # a 10% crash: every 2% stop is crossed
            hx.market.set_price(pair, str(D(PRICES[pair]) * D("0.9")))
        closed = hx.positions.monitor_positions()
        assert sum(1 for r in closed if r.action == "STOPPED_OUT") == BURST

        hx.alerts.send_pending()  # warnings wait for the burst to collect
        assert (len(http.posts), len(smtp.messages)) == before
        clock.advance(seconds=hx.settings.alert_group_seconds)
        hx.alerts.send_pending()
        assert pending(hx) == 0
        with hx.db.read() as session:
            rows = session.execute(
                select(Position.status, Position.realized_pnl).where(Position.id.in_(ids))
            ).all()
        assert {status for status, _ in rows} == {"STOPPED_OUT"}
        exact = sum((pnl for _, pnl in rows), D(0))

    http_burst = [(p.title, p.message) for p in http.posts[before[0] :]]
    mail_burst = [(str(m["Subject"]), text_of(m)) for m in smtp.messages[before[1] :]]
    print(f"{BURST} stop-outs: {len(http_burst)} webhook message(s), {len(mail_burst)} e-mail(s)")
    for sent in (http_burst, mail_burst):
        # the crash's third losing stop-out of each pair locks it (issue 18: LOCK_AFTER_STOPS):
        # the three locks are one digest of their own beside the stop-outs'
        locks = [title for title, _ in sent if "pair lock auto" in title]
        assert locks == ["[WARNING] 3 x pair lock auto"], [title for title, _ in sent]
        burst = [(title, body) for title, body in sent if "pair lock auto" not in title]
        assert 1 <= len(burst) <= 3, [title for title, _ in burst]
        counts, totals = [], []
        for title, body in burst:
            found = DIGEST.match(title)
            assert found, title
            counts.append(int(found.group(1)))
            totals.append(D(found.group(2).replace(",", "")))
            assert f"Total realized P&L: R{found.group(2)}" in body
        assert sum(counts) == BURST
        assert sum(totals, D(0)) == exact.quantize(D("0.01")), (totals, exact)
        if len(burst) == 1:
            assert "By pair: BTCZAR 100, ETHZAR 100, SOLZAR 100" in burst[0][1]


def test_nothing_is_sent_twice_and_a_new_alert_after_a_pass_is_sent_alone(
    database_url: str, clock: ManualClock, channels: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = channels
    with connect(database_url, clock, http, smtp) as hx:
        hx.controls.emergency_stop(by="alice", reason="a test of the pager")
        hx.alerts.send_pending()
        first = (len(http.posts), len(smtp.messages))
        assert first[0] >= 1 and first[0] == first[1]
        for _ in range(3):
            clock.advance(timedelta(seconds=30))
            hx.alerts.send_pending()
        assert (len(http.posts), len(smtp.messages)) == first
        assert any(p.title == "[CRITICAL] Emergency stop by alice" for p in http.posts), [
            p.title for p in http.posts
        ]


# --- a channel that is down -----------------------------------------------------------------------
def test_a_channel_that_is_down_shows_its_error_and_backs_off_while_the_other_delivers(
    database_url: str, clock: ManualClock, channels: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = channels
    with connect(database_url, clock, http, smtp) as hx:
        http.down()
        hx.controls.emergency_stop(by="alice", reason="the webhook is down")
        [webhook, mail] = hx.alerts.send_pending()
        assert mail.error is None and mail.delivered >= 1
        assert webhook.error is not None and "Connection error" in webhook.error, webhook
        assert "S3cretPassw0rd" not in webhook.error and "TOKEN123456789012" not in webhook.error
        state = {c["scheme"]: c for c in hx.alerts.status()["channels"]}
        assert state["json"]["pending"] >= 1 and state["mailto"]["pending"] == 0
        assert state["json"]["failures"] == 1 and state["json"]["last_error"] == webhook.error
        assert state["json"]["next_attempt_at"] == clock.now() + timedelta(seconds=2)
        [again, _] = hx.alerts.send_pending()  # within the backoff: not tried
        assert again.skipped == "backing off after a failure"

        http.up()
        clock.advance(seconds=2)
        [webhook, _] = hx.alerts.send_pending()
        assert webhook.error is None and webhook.delivered == state["json"]["pending"]
        state = {c["scheme"]: c for c in hx.alerts.status()["channels"]}
        assert state["json"]["pending"] == 0 and state["json"]["failures"] == 0
        assert len(http.posts) == len(smtp.messages) == mail.messages
        assert sorted(p.title for p in http.posts) == sorted(
            str(m["Subject"]) for m in smtp.messages
        )
