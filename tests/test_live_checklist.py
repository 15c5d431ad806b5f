"""The pre-live checklist (issue 8): ``set_mode("LIVE")`` switches only when every item holds,
computed from the database, a signed call to (a fake) VALR and the configuration; each missing
item refuses on its own and is named; a refusal writes nothing but one MODE_CHANGE_REFUSED event;
PAPER is always allowed; in LIVE the risk checks and sizing see at most LIVE_CAPITAL_CAP_ZAR of
equity. The API key and secret appear nowhere (events, errors, the checklist)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select, update

import helios
from helios.clock import ManualClock
from helios.config import TradingMode
from helios.db.models import Event, PortfolioSnapshot, Setting
from helios.db.models import PortfolioState as Account
from helios.errors import ConfigError, InvalidInput
from helios.live import ITEM_ORDER, LiveNotReady
from helios.market.bar_time import floor_time
from helios.risk.service import VenueCash
from helios.settings_store import MODE_KEY, put_setting
from tests.factories import PRICES, count_rows, give_market
from tests.fakes.valr import FAKE_API_KEY, FAKE_API_SECRET, FakeValr

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # the clock fixture's time
WRONG_SECRET = "9" * 64
SECRETS = (FAKE_API_KEY, FAKE_API_SECRET, WRONG_SECRET)


# --- building a database that is ready for LIVE -------------------------------------------------
def paper_snapshots(
    hx: helios.Helios,
    now: datetime,
    *,
    days: float = 7.0,
    until: timedelta = timedelta(0),
    every: timedelta = timedelta(minutes=30),
    skip: tuple[datetime, datetime] | None = None,
    mode: str = "PAPER",
) -> int:
    """PAPER snapshots every ``every`` from ``now - days`` to ``now - until`` (those strictly
    inside ``skip`` left out), written straight to the database as the scheduler would have."""
    figures = {
        "equity": Decimal("100000"),
        "cash": Decimal("100000"),
        "margin": Decimal("0"),
        "unrealized_pnl": Decimal("0"),
        "gross_exposure": Decimal("0"),
        "peak_equity": Decimal("100000"),
        "start_of_day_equity": Decimal("100000"),
        "drawdown": Decimal("0"),
        "daily_pnl": Decimal("0"),
        "daily_loss": Decimal("0"),
        "leverage": Decimal("0"),
        "open_positions": 0,
        "risk_used": None,
        "halted": False,
    }
    times = []
    t = now - timedelta(days=days)
    while t <= now - until:
        if skip is None or not skip[0] < t < skip[1]:
            times.append(t)
        t += every
    with hx.db.write() as session:
        session.add_all([PortfolioSnapshot(ts=ts, mode=mode, **figures) for ts in times])
    return len(times)


def valr_prices(hx: helios.Helios, now: datetime) -> None:
    """Every pair's latest price from the VALR feed (a one-minute candle, source ``valr``)."""
    bar = floor_time(now, 60)
    for pair, value in PRICES.items():
        price = float(value)
        frame = pd.DataFrame(
            {
                "timestamp": [bar],
                "open": [price],
                "high": [price],
                "low": [price],
                "close": [price],
                "volume": [1.0],
            }
        )
        hx.market.ingest(pair, frame, "1m", source="valr", observed=now)  # as a poll would


def make_ready(hx: helios.Helios, now: datetime) -> None:
    paper_snapshots(hx, now)
    valr_prices(hx, now)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def valr_settings(url: str) -> dict[str, Any]:
    return {
        "market_feed": "valr",
        "valr_base_url": url,
        "valr_api_key": FAKE_API_KEY,
        "valr_api_secret": FAKE_API_SECRET,
        "valr_max_retries": 0,
    }


@pytest.fixture
def fake() -> Iterator[FakeValr]:
    with FakeValr() as server:
        yield server


@dataclass
class Setup:
    database_url: str
    clock: ManualClock
    fake: FakeValr
    url: str  # the fake's address (kept: a test may stop the fake)

    def connect(self, **changes: Any) -> helios.Helios:
        """Helios on the test database with the fake VALR and its keys; ``changes`` override
        (None removes a setting)."""
        chosen = valr_settings(self.url)
        chosen.update(changes)
        return helios.connect(
            self.database_url,
            clock=self.clock,
            **{k: v for k, v in chosen.items() if v is not None},
        )


@pytest.fixture
def setup(database_url: str, clock: ManualClock, fake: FakeValr) -> Setup:
    return Setup(database_url, clock, fake, fake.url)


@pytest.fixture
def ready(setup: Setup) -> Iterator[helios.Helios]:
    """A database with 7 days of PAPER snapshots and VALR prices, on the fake VALR."""
    with setup.connect() as hx:
        make_ready(hx, START)
        yield hx


# --- what a refusal may write -------------------------------------------------------------------
def events(hx: helios.Helios) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def state_of(hx: helios.Helios) -> dict[str, Any]:
    """Everything a switch could change, but the events."""
    with hx.db.read() as session:
        settings = {
            row.key: (row.value, row.updated_by, row.updated_at)
            for row in session.scalars(select(Setting))
        }
        snapshots = session.scalar(select(func.count()).select_from(PortfolioSnapshot))
    return {"settings": settings, "snapshots": snapshots, **count_rows(hx)}


def assert_no_secret(*texts: Any) -> None:
    for text in texts:
        shown = text if isinstance(text, str) else json.dumps(text, default=str)
        for secret in SECRETS:
            assert secret not in shown


def refused(hx: helios.Helios, **kwargs: Any) -> tuple[LiveNotReady, Event]:
    """set_mode("LIVE") refused: nothing written but one MODE_CHANGE_REFUSED event."""
    before, seen = state_of(hx), len(events(hx))
    kwargs.setdefault("by", "thandi")
    with pytest.raises(LiveNotReady) as caught:
        hx.controls.set_mode("LIVE", **kwargs)
    assert hx.controls.trading_mode() is TradingMode.PAPER
    assert state_of(hx) == before
    new = events(hx)[seen:]
    assert [e.kind for e in new] == ["MODE_CHANGE_REFUSED"]
    [event] = new
    assert event.actor == kwargs["by"] and event.severity == "WARNING"
    assert event.details is not None
    assert event.details["missing"] == caught.value.missing
    assert caught.value.missing and all(m in str(caught.value) for m in caught.value.missing)
    assert_no_secret(str(caught.value), event.message, event.details)
    return caught.value, event


# --- every item holds: LIVE ---------------------------------------------------------------------
def test_every_item_holds_and_LIVE_is_switched_on_with_who_and_the_checklist(
    ready: helios.Helios, fake: FakeValr
):
    checklist = ready.controls.live_checklist("sipho")
    assert [item.key for item in checklist.items] == list(ITEM_ORDER)
    assert checklist.ok, checklist.missing
    assert checklist.missing == []
    assert checklist.item("capital_cap").detail == (
        "cap R5,000.00: in LIVE the risk checks and sizing see R5,000.00 of the ledger's "
        "R100,000.00 equity"
    )
    assert "'helios-test'" in checklist.item("api_key").detail
    assert "View access, Trade" in checklist.item("api_key").detail
    assert checklist.item("monitoring").detail == "sipho confirms they will monitor closely"
    seen = len(events(ready))
    mode = ready.controls.set_mode("LIVE", by="thandi", reason="7 days clean", confirmed_by="sipho")
    assert mode is TradingMode.LIVE
    assert ready.controls.trading_mode() is TradingMode.LIVE
    assert ready.exchange is ready.valr_exchange
    with ready.db.read() as session:
        row = session.get(Setting, MODE_KEY)
        assert row is not None and (row.value, row.updated_by) == ("LIVE", "thandi")
    [event] = events(ready)[seen:]
    assert (event.kind, event.actor, event.severity) == ("MODE_CHANGE", "thandi", "WARNING")
    assert "PAPER -> LIVE" in event.message and "sipho monitors closely" in event.message
    assert event.details is not None
    assert event.details["confirmed_by"] == "sipho"
    assert event.details["reason"] == "7 days clean"
    assert event.details["capital_cap_zar"] == "5000"
    assert [i["key"] for i in event.details["checklist"]["items"]] == list(ITEM_ORDER)
    assert event.details["checklist"]["ok"] is True
    assert_no_secret(event.message, event.details)
    # the display and the switch each made the signed call (the fake checks every signature)
    calls = fake.requests_to("/v1/account/api-keys/current", "GET")
    assert len(calls) == 2
    assert all(call.headers["x-valr-api-key"] == FAKE_API_KEY for call in calls)
    # asking for LIVE again changes nothing
    assert ready.controls.set_mode("LIVE", by="thandi") is TradingMode.LIVE
    assert len(events(ready)) == seen + 1


# --- each missing item refuses on its own -------------------------------------------------------
@dataclass(frozen=True)
class Missing:
    changes: dict[str, Any]  # settings of the Helios that asks (a callable: its value)
    prepare: Callable[[helios.Helios, FakeValr], None]  # after the database is made ready
    item: str  # the one item that fails
    says: tuple[str, ...]  # in its detail (and so in the error)
    confirmed_by: str | None = "sipho"


def _nothing(_hx: helios.Helios, _fake: FakeValr) -> None:
    return None


def _replace_history(**options: Any) -> Callable[[helios.Helios, FakeValr], None]:
    def prepare(hx: helios.Helios, _fake: FakeValr) -> None:
        with hx.db.write() as session:
            session.execute(PortfolioSnapshot.__table__.delete())
        paper_snapshots(hx, START, **options)

    return prepare


def _violation(hx: helios.Helios, _fake: FakeValr) -> None:
    with hx.db.write() as session:
        session.execute(
            update(PortfolioSnapshot)
            .where(PortfolioSnapshot.ts == START - timedelta(days=2))
            .values(drawdown=Decimal("0.2"))
        )


def _halt(hx: helios.Helios, _fake: FakeValr) -> None:
    hx.controls.halt("news at 14:00", by="lerato")


def _permissions(*names: str) -> Callable[[helios.Helios, FakeValr], None]:
    def prepare(_hx: helios.Helios, fake: FakeValr) -> None:
        fake.permissions = list(names)

    return prepare


def _a_manual_price(hx: helios.Helios, _fake: FakeValr) -> None:
    hx.market.set_price("ETHZAR", PRICES["ETHZAR"])  # newer than VALR's, from another feed


def _echo_the_key(_hx: helios.Helios, fake: FakeValr) -> None:
    fake.fail_next(
        status=401,
        body={"code": -11250, "message": f"Invalid API key {FAKE_API_KEY}"},
        path="/v1/account/api-keys/current",
    )


MISSING = {
    "not enough PAPER days": Missing(
        {},
        _replace_history(days=2.3),
        "paper_history",
        (
            "PAPER history: 2.3 days of the 7 needed (since the first PAPER snapshot, "
            "2026-11-24 00:48 UTC)",
        ),
    ),
    "a gap in the PAPER snapshots": Missing(
        {},
        _replace_history(
            skip=(
                datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
                datetime(2026, 11, 20, 12, 30, tzinfo=UTC),
            )
        ),
        "paper_history",
        (
            "a gap of 9.5 h on 2026-11-20 (03:00 to 12:30 UTC)",
            "PAPER history: 5.8 days of the 7 needed (since the last gap, 2026-11-20 12:30 UTC)",
        ),
    ),
    "the scheduler stopped": Missing(
        {},
        _replace_history(days=8, until=timedelta(hours=8)),
        "paper_history",
        ("no PAPER snapshot for 8.0 h (the last at 2026-11-26 00:00 UTC)",),
    ),
    "LIVE snapshots are not PAPER history": Missing(
        {},
        _replace_history(mode="LIVE"),
        "paper_history",
        ("PAPER history: none yet",),
    ),
    "a halt in force": Missing(
        {},
        _halt,
        "paper_history",
        ("trading is halted now (manual by lerato since 2026-11-26 08:00 UTC: news at 14:00)",),
    ),
    "a risk-limit violation": Missing(
        {},
        _violation,
        "paper_history",
        ("risk-limit violations in the last 7 days: max_drawdown_pct in 1 snapshot(s)",),
    ),
    "no keys": Missing(
        {"valr_api_key": None, "valr_api_secret": None},
        _nothing,
        "api_key",
        ("VALR_API_KEY and VALR_API_SECRET not set in the environment (or .env)",),
    ),
    "no secret": Missing(
        {"valr_api_secret": None},
        _nothing,
        "api_key",
        ("VALR_API_SECRET not set in the environment (or .env)",),
    ),
    "a key without Trade": Missing(
        {},
        _permissions("View access"),
        "api_key",
        ("the key lacks the Trade permission (it has: View access)",),
    ),
    "a key with Withdraw": Missing(
        {},
        _permissions("View access", "Trade", "Withdraw"),
        "api_key",
        ("the key carries the Withdraw permission: make a key with View access and Trade only",),
    ),
    "a key with Transfer": Missing(
        {},
        _permissions("View access", "Trade", "Transfer"),
        "api_key",
        ("the key carries the Transfer permission",),
    ),
    "a key with Withdraw and Transfer": Missing(
        {},
        _permissions("View access", "Trade", "Transfer", "Withdraw"),
        "api_key",
        ("the key carries the Withdraw and Transfer permissions",),
    ),
    "VALR unreachable": Missing(
        {"valr_base_url": closed_port_url},
        _nothing,
        "api_key",
        (
            "the signed call GET /v1/account/api-keys/current failed: VALR GET "
            "/v1/account/api-keys/current: no answer (ConnectionError",
        ),
    ),
    "VALR refuses the signature": Missing(
        {"valr_api_secret": WRONG_SECRET},
        _nothing,
        "api_key",
        ("failed: VALR GET /v1/account/api-keys/current [HTTP 401, code -11252",),
    ),
    "VALR echoes the key in its refusal": Missing(
        {},
        _echo_the_key,
        "api_key",
        ("'Invalid API key ***'",),
    ),
    "prices from another feed": Missing(
        {},
        _a_manual_price,
        "valr_prices",
        ("the latest price is not from the VALR feed for ETHZAR (manual)",),
    ),
    "MARKET_FEED is not valr": Missing(
        {"market_feed": "manual"},
        _nothing,
        "valr_prices",
        ("MARKET_FEED is manual: LIVE needs MARKET_FEED=valr",),
    ),
    "a cap above the seed's R5,000": Missing(
        {"live_capital_cap_zar": "20000"},
        _nothing,
        "capital_cap",
        ("the cap is R20,000.00: start LIVE with at most R5,000.00",),
    ),
    "no confirming name": Missing(
        {}, _nothing, "monitoring", ("no name: the person who will monitor",), None
    ),
    "a blank confirming name": Missing(
        {}, _nothing, "monitoring", ("no name: the person who will monitor",), "   "
    ),
}


@pytest.mark.parametrize("case", list(MISSING), ids=list(MISSING))
def test_each_missing_item_refuses_LIVE_on_its_own(setup: Setup, case: str):
    missing = MISSING[case]
    with setup.connect() as base:
        make_ready(base, START)
        setup.clock.advance(seconds=30)  # the prices are 30 s old, the newest snapshot too
    changes = {k: v() if callable(v) else v for k, v in missing.changes.items()}
    with setup.connect(**changes) as hx:
        missing.prepare(hx, setup.fake)
        error, event = refused(hx, confirmed_by=missing.confirmed_by, reason="ready?")
        failed = [item for item in error.checklist.items if not item.ok]
        assert [item.key for item in failed] == [missing.item], error.missing
        [item] = failed
        for text in missing.says:
            assert text in item.detail, item.detail
            assert text in str(error)
            assert text in event.message
        assert event.details is not None
        assert event.details["confirmed_by"] == (missing.confirmed_by or "").strip()
        assert event.details["reason"] == "ready?"
        assert event.details["checklist"]["items"][ITEM_ORDER.index(missing.item)]["ok"] is False


def test_every_missing_item_is_listed_at_once(database_url: str, clock: ManualClock):
    with helios.connect(database_url, clock=clock, market_feed="manual") as hx:
        error, event = refused(hx)
        assert [item.key for item in error.checklist.items if not item.ok] == [
            "paper_history",
            "api_key",
            "valr_prices",
            "monitoring",
        ]
        assert str(error).startswith(
            "LIVE refused (trading stays PAPER): 4 of the 5 pre-live checklist items missing:"
        )
        assert len(error.missing) == 5
        assert event.message.startswith("LIVE refused for thandi: 7 days of PAPER trading: ")


def test_the_VALR_answer_is_asked_again_at_the_switch_but_may_be_reused_for_display(
    ready: helios.Helios, fake: FakeValr
):
    route = "/v1/account/api-keys/current"
    ready.controls.live_checklist("sipho", max_key_age_seconds=60)
    ready.controls.live_checklist("sipho", max_key_age_seconds=60)
    assert len(fake.requests_to(route)) == 1  # the page's second draw reused the answer
    fake.permissions = ["View access", "Trade", "Withdraw"]
    assert ready.controls.live_checklist("sipho", max_key_age_seconds=60).ok  # cached
    error, _ = refused(ready, confirmed_by="sipho")  # the switch asks VALR itself
    assert len(fake.requests_to(route)) == 2
    assert [item.key for item in error.checklist.items if not item.ok] == ["api_key"]


def test_a_halt_that_arrives_while_the_checklist_runs_still_refuses(ready: helios.Helios):
    original = ready.live.monitoring

    def halt_meanwhile(name: str | None):  # type: ignore[no-untyped-def]
        ready.controls.halt("drawdown 16% > limit 15%", by="watchdog")
        return original(name)

    ready.live.monitoring = halt_meanwhile  # type: ignore[method-assign]
    seen = len(events(ready))
    with pytest.raises(LiveNotReady) as caught:
        ready.controls.set_mode("LIVE", by="thandi", confirmed_by="sipho")
    assert caught.value.checklist.ok  # every item held when it was computed
    assert caught.value.missing == ["trading was halted while the checklist ran: resume first"]
    assert ready.controls.trading_mode() is TradingMode.PAPER
    assert [e.kind for e in events(ready)[seen:]] == ["HALT", "MODE_CHANGE_REFUSED"]


def test_bad_input_is_refused_before_the_checklist_and_writes_nothing(ready: helios.Helios):
    before, seen = state_of(ready), len(events(ready))
    for call, field in (
        (lambda: ready.controls.set_mode("LIVE", by=""), "by"),
        (lambda: ready.controls.set_mode("LIVE", by="x" * 121), "by"),
        (lambda: ready.controls.set_mode("LIVE", by="thandi", confirmed_by=5), "confirmed_by"),
        (lambda: ready.controls.set_mode("LIVE", by="thandi", reason=None), "reason"),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field
    assert state_of(ready) == before and len(events(ready)) == seen


# --- PAPER is always allowed --------------------------------------------------------------------
def test_back_to_PAPER_is_always_allowed_and_immediate(setup: Setup, fake: FakeValr):
    with setup.connect() as hx:
        make_ready(hx, START)
        hx.controls.set_mode("LIVE", by="thandi", confirmed_by="sipho")
    fake.stop()  # VALR gone, no keys, halted, no name: nothing of it matters for PAPER
    with setup.connect(valr_api_key=None, valr_api_secret=None, market_feed="manual") as hx:
        hx.controls.halt("exchange acting up", by="watchdog")
        assert hx.controls.trading_mode() is TradingMode.LIVE
        seen = len(events(hx))
        assert hx.controls.set_mode("PAPER", by="lerato", reason="drill") is TradingMode.PAPER
        assert hx.controls.trading_mode() is TradingMode.PAPER
        assert hx.exchange is hx.paper_exchange
        [event] = events(hx)[seen:]
        assert (event.kind, event.actor, event.message) == (
            "MODE_CHANGE",
            "lerato",
            "trading mode LIVE -> PAPER",
        )
        assert event.details == {"reason": "drill"}


def test_a_new_database_never_starts_in_LIVE(database_url: str, clock: ManualClock):
    with pytest.raises(ConfigError) as caught:
        helios.connect(database_url, clock=clock, market_feed="valr", trading_mode="LIVE")
    [(key, value, allowed)] = caught.value.problems
    assert (key, value) == ("TRADING_MODE", "LIVE")
    assert "a new database starts in PAPER" in allowed
    with helios.connect(database_url, clock=clock, market_feed="manual") as hx:
        assert hx.controls.trading_mode() is TradingMode.PAPER  # nothing was left half-made


# --- the capital cap ----------------------------------------------------------------------------
TRADE = {"position_size_zar": 2000.0, "leverage": 1.0}  # 2% of R100k, 40% of R5k
# what VALR would say (available ZAR, taker fee): the buying power pre-check in LIVE asks it
VALR_HAS = VenueCash(Decimal("1000000"), Decimal("0.0035"))


def set_mode_row(hx: helios.Helios, mode: str) -> None:
    """The mode row as the switch leaves it (the cap is about the risk checks, not the switch)."""
    with hx.db.write() as session:
        put_setting(session, MODE_KEY, mode, hx.clock.now(), "test")


def test_in_LIVE_the_risk_checks_see_at_most_the_cap(hx: helios.Helios):
    give_market(hx)
    with hx.db.write() as session:  # a 9.09% drawdown: the ratio must not change with the cap
        session.execute(update(Account).values(peak_equity=Decimal("110000")))
    paper = hx.risk.check_trade_risk("BTCZAR", "BUY", TRADE)
    assert paper.passed, paper.reason
    set_mode_row(hx, "LIVE")
    live = hx.risk.check_trade_risk("BTCZAR", "BUY", TRADE, venue=VALR_HAS)
    assert not live.passed
    assert live.violated_limits == ["max_single_position_pct"]
    by_name = {c.name: c for c in live.checks}
    assert by_name["single_position"].value == pytest.approx(2000 / 5000)
    assert "R2,000.00 = 40.00% of equity" in by_name["single_position"].message
    paper_checks = {c.name: c for c in paper.checks}
    for ratio in ("drawdown", "daily_loss"):  # the ledger's own ratios in both modes
        assert by_name[ratio].value == pytest.approx(paper_checks[ratio].value, rel=1e-12)
    assert by_name["drawdown"].value == pytest.approx(1 - 100000 / 110000)
    assert paper_checks["single_position"].value == pytest.approx(2000 / 100000)
    # the stored decision shows the capped equity and the cap behind it
    from helios.db.models import RiskDecision

    with hx.db.read() as session:
        rows = list(session.scalars(select(RiskDecision).order_by(RiskDecision.id)))
    assert rows[0].inputs["capital_cap"] is None and rows[0].inputs["mode"] == "PAPER"
    assert rows[0].inputs["state"]["equity"] == 100000.0
    assert rows[1].inputs["mode"] == "LIVE"
    assert rows[1].inputs["state"]["equity"] == 5000.0
    assert rows[1].inputs["capital_cap"] == {
        "cap_zar": 5000.0,
        "ledger_equity": 100000.0,
        "scale": 0.05,
    }
    assert hx.risk.replay(rows[1].id).violated_limits == ["max_single_position_pct"]
    # a trade that fits under the cap passes in LIVE
    small = hx.risk.check_trade_risk("BTCZAR", "BUY", {"position_size_zar": 900.0}, venue=VALR_HAS)
    assert small.passed, small.reason
    # back in PAPER, the same trade passes again
    set_mode_row(hx, "PAPER")
    assert hx.risk.check_trade_risk("BTCZAR", "BUY", TRADE).passed


def test_in_LIVE_sizing_capacity_and_the_preview_see_the_same_capped_equity(hx: helios.Helios):
    give_market(hx)
    paper_size = hx.risk.size_position("BTCZAR", "BUY", 0.85)
    paper_budget = hx.risk.capacity()["risk_budget_zar"]
    set_mode_row(hx, "LIVE")
    live_size = hx.risk.size_position("BTCZAR", "BUY", 0.85)
    assert paper_size.equity == 100000.0 and live_size.equity == 5000.0
    assert live_size.target_notional_zar == pytest.approx(paper_size.target_notional_zar * 0.05)
    assert live_size.notional_zar <= 0.20 * 5000 + 1e-6  # the single-position limit of the cap
    assert paper_budget == pytest.approx(0.15 * 100000)
    assert hx.risk.capacity()["risk_budget_zar"] == pytest.approx(0.15 * 5000)
    preview = hx.risk.preview("BTCZAR", "BUY", TRADE)
    assert not preview.passed
    assert preview.inputs["state"]["equity"] == 5000.0
    [single] = [h for h in preview.headroom if h.check == "single_position"]
    assert single.max_additional_notional_zar == 0.0  # already 20% over at R2,000
    utilisation = {row["check"]: row for row in hx.risk.utilisation()}
    assert utilisation["drawdown"]["value"] == 0.0


def test_a_cap_above_the_ledger_equity_changes_nothing(database_url: str, clock: ManualClock):
    with helios.connect(
        database_url, clock=clock, market_feed="manual", live_capital_cap_zar="250000"
    ) as hx:
        give_market(hx)
        set_mode_row(hx, "LIVE")
        result = hx.risk.check_trade_risk("BTCZAR", "BUY", TRADE, venue=VALR_HAS)
        assert result.passed, result.reason
        assert {c.name: c for c in result.checks}["single_position"].value == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("5000", True), ("1", True), ("0", False), ("-5", False), ("100000001", False)],
)
def test_the_cap_setting_has_a_range(value: str, ok: bool):
    from helios.config import load_settings

    if ok:
        assert load_settings(live_capital_cap_zar=value).live_capital_cap_zar == Decimal(value)
    else:
        with pytest.raises(ConfigError, match="LIVE_CAPITAL_CAP_ZAR"):
            load_settings(live_capital_cap_zar=value)


def test_the_paper_days_and_gap_settings_have_ranges():
    from helios.config import load_settings

    assert load_settings().live_min_paper_days == 7
    assert load_settings().live_max_snapshot_gap_hours == 6.0
    with pytest.raises(ConfigError, match="LIVE_MIN_PAPER_DAYS"):
        load_settings(live_min_paper_days=3)  # the seed's 7 days are the floor
    with pytest.raises(ConfigError, match="LIVE_MAX_SNAPSHOT_GAP_HOURS"):
        load_settings(live_max_snapshot_gap_hours=0)


def test_more_paper_days_can_be_required(setup: Setup):
    with setup.connect(live_min_paper_days=10) as hx:
        make_ready(hx, START)
        item = hx.live.paper_history()
        assert not item.ok
        assert item.title == "10 days of PAPER trading"
        assert item.detail.startswith("PAPER history: 7.0 days of the 10 needed")
