"""The CLI as a second console (issue 18): the open positions, a close, the limits in force and a
change of one.

    helios positions [--json]              open positions: entry time, P&L, distance to stop/target
    helios close ID --by NAME [--json]     close one position at market (a manual close)
    helios limits [--json]                 the limits in force: version, who set it, when, values
    helios limits set KEY VALUE --by NAME [--confirm] [--json]   one limit (_pct in percent)

Each is a thin call into ``hx.positions`` / ``hx.risk`` (the same calls as the Positions and
Risk pages); the labels, units and ranges come from ``helios.limit_rules``, and which change
loosens the limits from ``helios.risk.limits.loosened``. ``--json`` prints one JSON document:
money as exact decimal strings, ``_pct`` figures as numbers in percent (``15.0`` = 15%, as typed
to ``helios limits set``), times in ISO 8601 with the trading-day zone's offset. Exit 0 done, 2
bad input (the message names the field, the value and the allowed range; nothing changes), 1 a
refused action (a position not open, a loosening without ``--confirm``).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from helios.cli.controls import quiet_connect
from helios.clock import ensure_utc
from helios.errors import InvalidInput
from helios.launch import fail
from helios.limit_rules import LIMIT_NAMES, LIMIT_RULES
from helios.money import fmt_zar
from helios.risk.limits import RiskLimits, loosened
from helios.text import NAME_LIMIT, clean_text

CENT = Decimal("0.01")


# --- presentation helpers ----------------------------------------------------------------------
def decimal_text(value: Any) -> str | None:
    """An exact decimal string: at least two places (``"903.00"``), every stored digit kept."""
    if value is None:
        return None
    exact = Decimal(str(value))
    if exact == exact.quantize(CENT):
        return format(exact.quantize(CENT), "f")
    return format(exact.normalize(), "f")


def percent(fraction: float | None) -> float | None:
    """A fraction as a percentage number (``0.0123`` -> ``1.23``), exactly via Decimal."""
    if fraction is None:
        return None
    return float(round(Decimal(repr(float(fraction))) * 100, 6))


def iso(when: datetime | None, zone: str) -> str | None:
    return ensure_utc(when).astimezone(ZoneInfo(zone)).isoformat() if when else None


def shown_time(when: datetime | None, zone: str) -> str:
    if when is None:
        return "-"
    return ensure_utc(when).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def table(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> None:
    """Columns padded to their widest cell; ``right``: the columns aligned right (figures)."""
    right = right or set()
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(header))
    for row in rows:
        print(line(row))


def emit(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


def signed_pct(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:+.2%}"


def money(value: Any) -> str:
    return "-" if value is None else fmt_zar(value)


# --- helios positions ----------------------------------------------------------------------------
def position_json(row: dict[str, Any], zone: str) -> dict[str, Any]:
    return {
        "position_id": row["position_id"],
        "status": row["status"],
        "mode": row["mode"],
        "opened_at": iso(row["opened_at"], zone),
        "pair": row["pair"],
        "side": row["side"],
        "position_size_zar": decimal_text(row["position_size_zar"]),
        "leverage": decimal_text(row["leverage"]),
        "notional_zar": decimal_text(row["notional"]),
        "quantity": decimal_text(row["quantity"]),
        "entry_price": decimal_text(row["entry_price"]),
        "price": decimal_text(row["price"]),
        "unrealized_pnl_zar": decimal_text(row["unrealized_pnl"]),
        "unrealized_pnl_pct": percent(row["unrealized_pnl_pct"]),
        "stop_loss_price": decimal_text(row["stop_loss_price"]),
        "take_profit_price": decimal_text(row["take_profit_price"]),
        "distance_to_stop_pct": percent(row["distance_to_stop_pct"]),
        "distance_to_target_pct": percent(row["distance_to_target_pct"]),
        "time_left_hours": round(float(row["time_left_hours"]), 4),
    }


def cmd_positions(args: argparse.Namespace) -> int:
    hx = quiet_connect()
    try:
        rows = hx.positions.get_open_positions()
        zone = hx.settings.trading_day_timezone
        if args.json:
            emit(
                {
                    "as_of": iso(hx.clock.now(), zone),
                    "count": len(rows),
                    "positions": [position_json(r, zone) for r in rows],
                }
            )
            return 0
        if not rows:
            print("no open positions")
            return 0
        table(
            [
                "ID",
                "Opened",
                "Pair",
                "Side",
                "Status",
                "Margin",
                "Lev",
                "Entry",
                "Price",
                "Unrealised P&L",
                "P&L %",
                "To stop",
                "To target",
            ],
            [
                [
                    str(r["position_id"]),
                    shown_time(r["opened_at"], zone),
                    r["pair"],
                    r["side"],
                    r["status"],
                    money(r["position_size_zar"]),
                    f"{float(r['leverage']):g}x",
                    money(r["entry_price"]),
                    money(r["price"]),
                    money(r["unrealized_pnl"]),
                    signed_pct(r["unrealized_pnl_pct"]),
                    signed_pct(r["distance_to_stop_pct"]),
                    signed_pct(r["distance_to_target_pct"]),
                ]
                for r in rows
            ],
            right={0, 5, 6, 7, 8, 9, 10, 11, 12},
        )
        print(
            "To stop / to target: room left as a share of the price (negative: already crossed, "
            "the monitor acts on its next pass)."
        )
        return 0
    finally:
        hx.close()


# --- helios close --------------------------------------------------------------------------------
def cmd_close(args: argparse.Namespace) -> int:
    hx = quiet_connect()
    try:
        try:
            result = hx.positions.close_position(args.id, "CLOSED", actor=args.by)
        except InvalidInput as exc:
            fail(f"nothing closed: {exc}")
        if not result.get("success"):
            fail(f"position {args.id} not closed: {result.get('reason')}", 1)
        who = clean_text(args.by, limit=NAME_LIMIT)
        if args.json:
            emit(
                {
                    "position_id": args.id,
                    "closed": True,
                    "status": result.get("status"),
                    "exit_price": decimal_text(result.get("exit_price")),
                    "realized_pnl_zar": decimal_text(result.get("realized_pnl")),
                    "by": who,
                }
            )
        else:
            print(
                f"position {args.id} closed by {who} at {money(result.get('exit_price'))}, "
                f"realised {money(result.get('realized_pnl'))}"
            )
        return 0
    finally:
        hx.close()


# --- helios limits [set] -------------------------------------------------------------------------
def limits_json(limits: RiskLimits, zone: str) -> dict[str, Any]:
    """The limits in force: ``_pct`` ones in percent (as ``helios limits set`` takes them)."""
    return {
        "version": limits.version,
        "changed_by": limits.changed_by,
        "changed_at": iso(limits.changed_at, zone),
        "limits": {n: float(LIMIT_RULES[n].shown(getattr(limits, n))) for n in LIMIT_NAMES},
        "labels": {n: LIMIT_RULES[n].label for n in LIMIT_NAMES},
    }


def print_limits(limits: RiskLimits, zone: str) -> None:
    print(
        f"limits version {limits.version}, set by {limits.changed_by} at "
        f"{shown_time(limits.changed_at, zone)} (held in the database)"
    )
    table(
        ["Limit", "Key", "Value"],
        [[LIMIT_RULES[n].label, n, LIMIT_RULES[n].fmt(getattr(limits, n))] for n in LIMIT_NAMES],
        right={2},
    )


def cmd_limits(args: argparse.Namespace) -> int:
    if args.action == "set":
        return set_limit(args)
    if args.key is not None or args.value is not None:
        fail(
            f"limits {args.action!r} is not allowed: "
            "'helios limits' or 'helios limits set KEY VALUE'"
        )
    hx = quiet_connect()
    try:
        limits = hx.risk.get_limits()
        zone = hx.settings.trading_day_timezone
        if args.json:
            emit(limits_json(limits, zone))
        else:
            print_limits(limits, zone)
        return 0
    finally:
        hx.close()


def set_limit(args: argparse.Namespace) -> int:
    """One limit changed through ``hx.risk.update_limits`` (the limits form's service)."""
    if args.key is None or args.value is None:
        fail("limits set needs KEY and VALUE, e.g. helios limits set max_leverage 2 --by NAME")
    if not args.by:
        fail("--by NAME is required to change a limit (recorded with the new version)")
    rule = LIMIT_RULES.get(args.key)
    if rule is None:
        fail(f"KEY={args.key!r} is not allowed: one of {', '.join(LIMIT_NAMES)}")
    try:
        value = rule.from_shown(args.value)
    except InvalidInput as exc:
        fail(str(exc))
    hx = quiet_connect()
    try:
        zone = hx.settings.trading_day_timezone
        before = hx.risk.get_limits()
        old = getattr(before, args.key)
        if value == old:
            fail(f"{args.key} is already {rule.fmt(old)}: nothing changed", 1)
        proposed = RiskLimits.from_values({**before.values(), args.key: value})
        looser = loosened(before, proposed)
        if looser and not args.confirm:
            fail(
                f"this LOOSENS {rule.label} ({args.key}) from {rule.fmt(old)} to "
                f"{rule.fmt(value)}: trades the limits refuse now would pass. Nothing changed; "
                "run it again with --confirm to apply it",
                1,
            )
        try:
            after = hx.risk.update_limits({args.key: value}, changed_by=args.by, note=args.note)
        except InvalidInput as exc:
            fail(str(exc))
        if args.json:
            document = limits_json(after, zone)
            document["changed"] = {
                args.key: {"from": float(rule.shown(old)), "to": float(rule.shown(value))}
            }
            document["loosened"] = looser
            emit(document)
        else:
            print(
                f"{rule.label} ({args.key}): {rule.fmt(old)} -> {rule.fmt(value)}"
                + (" (LOOSENED)" if looser else "")
            )
            print_limits(after, zone)
        return 0
    finally:
        hx.close()


def config_limits() -> None:
    """``helios config``'s last lines: the limits in force come from the database, not from the
    configuration's first-start values (comment lines, so the output stays .env-shaped)."""
    from helios.db.outage import database_failure

    print(
        "# The risk limits in force live in the database (each change a new version with who and"
        "\n# when: the Risk page, helios limits set, the API); the MAX_*/_PCT values above only"
        "\n# seed the first version."
    )
    try:
        hx = quiet_connect()
    except Exception as exc:
        problem = database_failure(exc)
        if problem is None:
            raise
        print(f"# In force: unknown, the database did not answer ({problem})")
        return
    try:
        limits = hx.risk.get_limits()
        zone = hx.settings.trading_day_timezone
    finally:
        hx.close()
    print(
        f"# In force: version {limits.version}, set by {limits.changed_by} at "
        f"{shown_time(limits.changed_at, zone)}"
    )
    width = max(len(n) for n in LIMIT_NAMES)
    for name in LIMIT_NAMES:
        rule = LIMIT_RULES[name]
        print(f"#   {name:<{width}}  {rule.fmt(getattr(limits, name)):>8}  {rule.label}")


def add(commands: Any) -> None:
    """Register positions, close and limits on the ``helios`` parser's subcommands."""

    def json_flag(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="one JSON document: money as decimal strings, _pct in percent, ISO times",
        )

    positions = commands.add_parser(
        "positions", help="the open positions: P&L, distance to stop and target"
    )
    json_flag(positions)
    positions.set_defaults(func=cmd_positions)

    close = commands.add_parser("close", help="close one open position at market")
    close.add_argument("id", type=int, metavar="ID", help="the position's id (helios positions)")
    close.add_argument("--by", metavar="NAME", required=True, help="who is closing it (recorded)")
    json_flag(close)
    close.set_defaults(func=cmd_close)

    keys = "\n".join(
        f"  {n:<33} {r.label}" + (" (in %)" if r.percent else f" ({r.low:g} to {r.high:g}{r.unit})")
        for n, r in LIMIT_RULES.items()
    )
    limits = commands.add_parser(
        "limits",
        help="the risk limits in force; 'limits set KEY VALUE --by NAME' changes one",
        description=(
            "helios limits                         the limits in force (version, who, when)\n"
            "helios limits set KEY VALUE --by NAME change one limit (a new version)\n\n"
            "VALUE of a _pct limit is in percent: 15 means 15% (stored as 0.15).\n"
            "Loosening a limit (more risk allowed) needs --confirm.\n\nKEYs:\n" + keys
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    limits.add_argument(
        "action", nargs="?", choices=("show", "set"), default="show", help="show (default) or set"
    )
    limits.add_argument("key", nargs="?", metavar="KEY", help="the limit's key, e.g. max_leverage")
    limits.add_argument(
        "value",
        nargs="?",
        metavar="VALUE",
        help="the new value; for a _pct limit in percent (15 means 15%%)",
    )
    limits.add_argument(
        "--by", metavar="NAME", help="who is changing it (required with set; recorded)"
    )
    limits.add_argument("--note", default="", help="why (recorded with the new version)")
    limits.add_argument(
        "--confirm",
        action="store_true",
        help="apply a change that loosens a limit (without it a loosening is refused, exit 1)",
    )
    json_flag(limits)
    limits.set_defaults(func=cmd_limits)
