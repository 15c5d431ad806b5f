"""The statements of a risk check, built once at import, and the transactions they run in.

The rule (issue 3: a check under 2 ms with 20 open positions; ``bench/bench_risk.py``): a check
takes one connection from the pool for one read transaction of three statements (the candle
marker that keys the statistics cache; the account, the limits in force, the halt flag and the
pair's price in one row; the open positions at their marks) and one INSERT of the decision.
Executing the same statement object lets SQLAlchemy reuse its compiled form and result layout
as is (a statement rebuilt on every call costs about as much again in Python as the query
itself), and each selects only the columns the checks need. The read is one snapshot of the
database (``snapshot``), so cash and the positions are never read on either side of a booking.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, true
from sqlalchemy.orm import Session

from helios.accounts.account import MARGIN_HELD_STATUSES, STATE_ID, LedgerInvariantError
from helios.accounts.valuation import day_start
from helios.config import Settings
from helios.db.engine import WRITE_OPTION
from helios.db.models import LatestPrice, Position, RiskDecision, Setting
from helios.db.models import PortfolioState as Account
from helios.market.history_epoch import HISTORY_EPOCH_KEY
from helios.risk.book import portfolio
from helios.risk.checks import PortfolioState
from helios.risk.limit_store import LIMITS_IN_FORCE
from helios.settings_store import HALT_REASON_KEY, HALTED_KEY, MODE_KEY

# positions whose exposure the checks count: open, closing, and being opened (a reserved trade)
EXPOSED_STATUSES = (*MARGIN_HELD_STATUSES, "OPENING")
NO_ACCOUNT = "no account: the database was not initialised by connect()"  # as ledger.account_state

_NEWEST_LIMITS = LIMITS_IN_FORCE.subquery("limits_in_force")


def setting_value(key: str) -> Any:
    return select(Setting.value).where(Setting.key == key).scalar_subquery()


# the account as the checks see it, and the trading mode (LIVE caps the equity, ``book``)
ACCOUNT = select(
    Account.cash,
    Account.peak_equity,
    Account.start_of_day_equity,
    Account.trading_day,
    setting_value(MODE_KEY).label("trading_mode"),
).where(Account.id == STATE_ID)
# The account and every setting a decision reads, without the limits or a pair's price, and the
# initial capital a valuation carries (what a book held in memory reads once:
# ``helios.replay.memory_book``)
BOOK_HEAD = ACCOUNT.add_columns(
    Account.initial_capital,
    setting_value(HALTED_KEY).label("halted"),
    setting_value(HALT_REASON_KEY).label("halt_reason"),
    setting_value(HISTORY_EPOCH_KEY).label("history_epoch"),
)


# One row: the account, the limits in force (NULLs when there is no version: the outer join
# keeps the account), the halt flag and its reason, and the latest price of the pair ``pair``.
CHECK_HEAD = (
    select(
        Account.cash,
        Account.peak_equity,
        Account.start_of_day_equity,
        *_NEWEST_LIMITS.c,
        setting_value(HALTED_KEY).label("halted"),
        setting_value(HALT_REASON_KEY).label("halt_reason"),
        setting_value(HISTORY_EPOCH_KEY).label("history_epoch"),
        setting_value(MODE_KEY).label("trading_mode"),
        Account.trading_day,
        select(LatestPrice.price)
        .where(LatestPrice.pair == bindparam("pair"))
        .scalar_subquery()
        .label("price"),
        select(LatestPrice.ts)
        .where(LatestPrice.pair == bindparam("pair"))
        .scalar_subquery()
        .label("price_observed_at"),
    )
    .outerjoin(_NEWEST_LIMITS, true())
    .where(Account.id == STATE_ID)
)
# The exposed positions (pair, side, quantity, entry, margin, leverage), and the same with the
# latest price of their pair (NULL when it has none).
_EXPOSED = (
    Position.pair,
    Position.side,
    Position.quantity,
    Position.entry_price,
    Position.position_size_zar,
    Position.leverage,
)
EXPOSED_POSITIONS = (
    select(*_EXPOSED).where(Position.status.in_(EXPOSED_STATUSES)).order_by(Position.id)
)
OPEN_POSITIONS = (
    select(*_EXPOSED, LatestPrice.price)
    .outerjoin(LatestPrice, LatestPrice.pair == Position.pair)
    .where(Position.status.in_(EXPOSED_STATUSES))
    .order_by(Position.id)
)
INSERT_DECISION = insert(RiskDecision)
# The same row, locking the account (SELECT ... FOR UPDATE OF portfolio_state on PostgreSQL: the
# ledger's bookings take the same row lock); SQLite's BEGIN IMMEDIATE already holds the one
# write lock and ignores FOR UPDATE
CHECK_HEAD_LOCKED = CHECK_HEAD.with_for_update(of=Account)


@contextmanager
def snapshot(conn: Connection) -> Iterator[None]:
    """A read transaction on ``conn`` whose statements all see one state of the database.

    SQLite's read transaction is a snapshot already. PostgreSQL's default, READ COMMITTED, gives
    every statement its own, so cash and the open positions could be read on either side of a
    booking; this transaction runs REPEATABLE READ instead (it only reads, so it never fails on
    a serialization conflict), and the connection is set back to the default after it (after
    an error too, when the pool takes the connection back).
    """
    if conn.dialect.name != "postgresql":
        with conn.begin():
            yield
        return
    conn.execution_options(isolation_level="REPEATABLE READ")
    with conn.begin():
        yield
    conn.execution_options(isolation_level=conn.default_isolation_level)


def store_decision(conn: Connection, row: dict[str, Any]) -> int:
    """Store one decision: a single INSERT (the ORM's unit of work is not needed), atomic as
    one statement always is. On PostgreSQL it runs in autocommit: one round trip instead of
    BEGIN, INSERT, COMMIT. On SQLite, where those cost nothing, the transaction opens the way
    ``Database.write()`` opens it (BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        conn.execution_options(**{WRITE_OPTION: True})
    with conn.begin():
        return int(conn.execute(INSERT_DECISION, row).inserted_primary_key[0])


def read_portfolio(db: Session | Connection, settings: Settings, now: datetime) -> PortfolioState:
    """The portfolio as the checks see it (the account, the exposed positions)."""
    account = db.execute(ACCOUNT).one_or_none()
    if account is None:
        raise LedgerInvariantError(NO_ACCOUNT)
    start_of_day, unknown = day_start(
        db, account.trading_day, account.start_of_day_equity, now, settings.trading_day_timezone
    )
    positions = db.execute(OPEN_POSITIONS).all()
    return portfolio(account, positions, settings, start_of_day, unknown).state
