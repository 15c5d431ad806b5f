"""Alerts delivered to real receivers on 127.0.0.1 (issue 17, "Must show"): a JSON webhook
(apprise ``json://``, tests/alert_receivers.py) and an SMTP server (aiosmtpd, apprise
``mailto://``), on SQLite and PostgreSQL, with the real paper book.

- a drawdown halt: one critical message on each channel carrying its figures (drawdown
  16.72% > 15.00%), and one for the close-out's result (positions closed, realized P&L);
- a report with an equity chart: the e-mail carries the PNG, byte for byte, as does the webhook;
- a crash that stops out 300 positions: at most a few digest messages per channel, whose counts
  add up to 300 and whose realized P&L is the exact sum of the positions' (to the cent shown).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from alert_receivers import HttpReceiver, SmtpReceiver, attachments_of, receivers, text_of
from factories import PRICES, booked_position, connect_book, position_row
from sqlalchemy import func, select

import helios
from helios.alerts.rules import INFO, Alert
from helios.clock import ManualClock
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


def equity_png(values: list[float]) -> bytes:
    """A real PNG: the equity line drawn by matplotlib (the weekly report's kind of chart)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2), dpi=60)
    figure.add_subplot().plot(values)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


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
        assert [r.error for r in results] == [None, None], results
        assert pending(hx) == 0
        with hx.db.read() as session:
            realized = [session.get(Position, i).realized_pnl for i in ids]  # type: ignore[union-attr]
        total = sum(realized, D(0))

        posts = http.wait_for_posts(2, TIMEOUT)
        mails = smtp.wait_for_messages(2, TIMEOUT)
        hx.alerts.send_pending()  # a second pass sends nothing again

    assert len(http.posts) == 2 and len(smtp.messages) == 2
    halts = [p for p in posts if "HALT" in p.title]
    assert len(halts) == 1, [p.title for p in posts]
    [halt] = halts
    assert halt.title == f"[CRITICAL] HALT: drawdown ({shown})"
    assert halt.type == "failure"  # apprise's critical
    assert "drawdown" in halt.message and "limit: 0.15" in halt.message
    [closeout] = [p for p in posts if p is not halt]
    assert closeout.title == "[CRITICAL] Close-out result"
    assert "closed: 2" in closeout.message and "not_closed: 0" in closeout.message
    assert f"realized_pnl: {total}" in closeout.message, (total, closeout.message)

    subjects = sorted(str(m["Subject"]) for m in mails)
    assert subjects == sorted([halt.title, closeout.title])
    [halt_mail] = [m for m in mails if "HALT" in str(m["Subject"])]
    assert shown in text_of(halt_mail) and "limit: 0.15" in text_of(halt_mail)
    assert smtp.recipients == [["ops@example.com"], ["ops@example.com"]]
    assert str(halt_mail["From"]).endswith("helios@example.com")
    assert http.unexpected == []


def test_a_report_s_equity_chart_arrives_attached_to_the_e_mail(
    database_url: str, clock: ManualClock, channels: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = channels
    with connect(database_url, clock, http, smtp) as hx:
        chart = equity_png([100000.0, 101200.0, 99800.0, 102500.0, 103100.0])
        assert chart.startswith(b"\x89PNG\r\n\x1a\n") and len(chart) > 500
        alert = Alert(
            INFO,
            "REPORT_WEEKLY",
            "Weekly report: week of 2026-11-16",
            "equity R103,100.00 (+3.10%); max drawdown 1.38%; the chart is attached",
            "report:weekly:2026-11-16",
            {"equity": "103100.00"},
            attachment_name="equity.png",
            attachment=chart,
        )
        assert hx.alerts.record(alert) is not None
        assert hx.alerts.record(alert) is None  # its dedup key: queued once
        hx.alerts.send_pending()
        assert http.posts == [] and smtp.messages == []  # info: held for ALERT_GROUP_SECONDS
        clock.advance(seconds=hx.settings.alert_group_seconds + 1)
        hx.alerts.send_pending()
        [mail] = smtp.wait_for_messages(1, TIMEOUT)
        [post] = http.wait_for_posts(1, TIMEOUT)
        assert pending(hx) == 0

    assert mail["Subject"] == "[INFO] Weekly report: week of 2026-11-16"
    assert "max drawdown 1.38%" in text_of(mail)
    assert attachments_of(mail) == [("equity.png", "image/png", chart)]
    assert post.attachments() == [("equity.png", "image/png", chart)]
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
    for burst in (http_burst, mail_burst):
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
