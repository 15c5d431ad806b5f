"""``helios lock|unlock|locks``: pair locks in the terminal (``hx.locks``, issue 18).

    helios lock BTCZAR --hours 6 --by NAME --reason TEXT   lock a pair from new positions
    helios unlock BTCZAR|ID --by NAME                      lift a pair's locks, or one lock
    helios locks [--all]                                   the locks in force (--all: history)

Thin calls into ``hx.locks`` (the same functions as the dashboard and the API). ``--json``
prints one JSON document (times ISO 8601 with their offset, hours as numbers). Exit 0 done, 2
bad input (the field, the value and the allowed range on stderr; nothing written), 1 refused
(lifting a lock that no longer holds).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from helios.cli.controls import quiet_connect
from helios.errors import HeliosError, InvalidInput
from helios.launch import fail
from helios.pair_locks import shown_time


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in row.items()
    }


def _table(rows: list[dict[str, Any]], zone: str) -> list[str]:
    if not rows:
        return ["no pair is locked"]
    head = f"{'ID':>4}  {'PAIR':<8}  {'STATUS':<8}  {'UNTIL':<21}  {'ENDS IN':<12}  {'BY':<16}"
    lines = [f"{head}  REASON"]
    for r in rows:
        lines.append(
            f"{r['id']:>4}  {r['pair']:<8}  {r['status']:<8}  "
            f"{shown_time(r['ends_at'], zone):<21}  {r['ends_in'] or '-':<12}  "
            f"{r['by']:<16}  {r['reason']}"
        )
    return lines


def _run(args: argparse.Namespace, action: Any) -> int:
    hx = quiet_connect()
    try:
        try:
            rows = action(hx)
        except InvalidInput as exc:
            fail(str(exc))
        except HeliosError as exc:
            fail(str(exc), 1)
        if args.json:
            print(json.dumps([_json_row(r) for r in rows] if args.list else _json_row(rows[0])))
        else:
            for line in _table(rows, hx.settings.trading_day_timezone):
                print(line)
        return 0
    finally:
        hx.close()


def cmd_lock(args: argparse.Namespace) -> int:
    args.list = False
    return _run(args, lambda hx: [hx.locks.lock(args.pair, args.hours, args.by, args.reason)])


def cmd_unlock(args: argparse.Namespace) -> int:
    args.list = True
    return _run(args, lambda hx: hx.locks.lift(args.target, args.by))


def cmd_locks(args: argparse.Namespace) -> int:
    args.list = True
    return _run(args, lambda hx: hx.locks.history() if args.all else hx.locks.active())


def add(commands: Any) -> None:
    """Register ``helios lock``, ``helios unlock`` and ``helios locks``."""
    lock = commands.add_parser("lock", help="lock a pair from new positions for some hours")
    lock.add_argument("pair", help="a configured pair, e.g. BTCZAR")
    lock.add_argument("--hours", required=True, help="how long: more than 0, at most 720")
    lock.add_argument("--by", required=True, help="who locks it (recorded)")
    lock.add_argument("--reason", required=True, help="why (recorded, shown in refusals)")
    lock.add_argument("--json", action="store_true", help="print the lock as JSON")
    lock.set_defaults(func=cmd_lock)
    unlock = commands.add_parser("unlock", help="lift a pair's locks (or one lock by its id)")
    unlock.add_argument("target", help="a pair (every lock holding it) or a lock id")
    unlock.add_argument("--by", required=True, help="who lifts it (recorded)")
    unlock.add_argument("--json", action="store_true", help="print the lifted locks as JSON")
    unlock.set_defaults(func=cmd_unlock)
    locks = commands.add_parser("locks", help="the pair locks in force")
    locks.add_argument("--all", action="store_true", help="every lock, newest first")
    locks.add_argument("--json", action="store_true", help="print them as JSON")
    locks.set_defaults(func=cmd_locks)
