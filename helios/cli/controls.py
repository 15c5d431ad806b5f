"""The control commands of ``helios``: signal, halt, resume, emergency-stop, close-all, mode.

Each is a thin call into ``hx.signals`` / ``hx.controls`` (the same functions as the console,
the API and notebooks); none needs the scheduler.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import helios
from helios.launch import connect_or_exit, fail
from helios.logs import LOG_FORMAT, install_secret_filter
from helios.text import NAME_LIMIT, clean_text

log = logging.getLogger("helios.cli")


def quiet_connect() -> helios.Helios:
    """Connect for a one-shot command: its own log lines go to the log file only."""
    hx = connect_or_exit(reconcile=False)
    log_file = hx.settings.project_path(hx.settings.log_file)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=10_000_000, backupCount=5, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(handler)
        install_secret_filter(handler)
        logging.getLogger().setLevel(hx.settings.log_level)
    return hx


def run_control(action: Any) -> int:
    """Run a control; bad input exits 2 with the field, the value and what is allowed."""
    from helios.errors import HeliosError, InvalidInput

    try:
        return int(action())
    except InvalidInput as exc:
        fail(str(exc))
    except HeliosError as exc:
        fail(str(exc), 1)


def cmd_signal(args: argparse.Namespace) -> int:
    import json

    from helios.signals import SignalRejected

    trade_params: dict[str, Any] = {}
    for key in ("position_size_zar", "leverage", "stop_loss_pct", "take_profit_pct"):
        value = getattr(args, key)
        if value is not None:
            trade_params[key] = value
    if args.max_holding_hours is not None:
        trade_params["max_holding_hours"] = args.max_holding_hours
    approved = {"yes": True, "no": False}[args.llm_approved]
    hx = quiet_connect()
    try:
        receipt = hx.signals.submit_raw(
            {
                "pair": args.pair,
                "side": args.side,
                "confidence": args.confidence,
                "llm_approved": approved,
                "llm_reasoning": args.reasoning,
                "predicted_return": args.predicted_return,
                "trade_params": trade_params or None,
                "expires_at": args.expires_at,
                "source": args.source,
                "dedup_key": args.dedup_key,
            }
        )
    except SignalRejected as exc:
        stored = f" (stored as rejected signal {exc.signal_id})" if exc.signal_id else ""
        fail(f"signal refused: {exc}{stored}")
    print(json.dumps(receipt))
    return 0 if receipt["accepted"] else 1


def cmd_halt(args: argparse.Namespace) -> int:
    def act() -> int:
        state = quiet_connect().controls.halt(args.reason, args.by)
        print(f"halted since {state.since:%Y-%m-%d %H:%M:%S} UTC by {state.by}: {state.reason}")
        return 0

    return run_control(act)


def cmd_resume(args: argparse.Namespace) -> int:
    def act() -> int:
        hx = quiet_connect()
        before = hx.controls.halt_state()
        after = hx.controls.resume(args.by, args.note)
        who = clean_text(args.by, limit=NAME_LIMIT)  # what was recorded (helios.text)
        resumed = before.halted and not after.halted
        print(f"resumed by {who}" if resumed else "not halted: nothing to resume")
        return 0

    return run_control(act)


def _print_closes(closes: list[dict[str, Any]]) -> None:
    for close in closes:
        outcome = (
            f"{close.get('status')} realized {close.get('realized_pnl')}"
            if close.get("success")
            else f"NOT CLOSED: {close.get('reason')}"
        )
        print(f"position {close.get('position_id')}: {outcome}")


def cmd_emergency_stop(args: argparse.Namespace) -> int:
    def act() -> int:
        done = quiet_connect().controls.emergency_stop(args.by, args.reason)
        who = clean_text(args.by, limit=NAME_LIMIT)  # what was recorded (helios.text)
        print(f"EMERGENCY STOP by {who}: trading halted, closing every position")
        _print_closes(done["closed"])
        if done["failed"]:
            print(f"{len(done['failed'])} position(s) not closed yet: the scheduler retries")
            return 1
        return 0

    return run_control(act)


def cmd_close_all(args: argparse.Namespace) -> int:
    def act() -> int:
        done = quiet_connect().controls.close_all(args.by, args.reason)
        _print_closes(done["closed"])
        print(f"{len(done['closed'])} position(s) asked to close, {len(done['failed'])} failed")
        return 1 if done["failed"] else 0

    return run_control(act)


def cmd_mode(args: argparse.Namespace) -> int:
    def act() -> int:
        hx = quiet_connect()
        if args.mode is None:
            print(hx.controls.trading_mode().value)
            return 0
        if not args.by:
            fail("--by NAME is required to change the mode")
        if str(args.mode).upper() == "LIVE" and hx.controls.trading_mode().value != "LIVE":
            # the checklist as it stands (set_mode computes it again, and enforces it)
            print("pre-live checklist:")
            for line in hx.controls.live_checklist(args.confirm_monitoring).lines():
                print(f"  {line}")
        mode = hx.controls.set_mode(
            args.mode, args.by, args.reason, confirmed_by=args.confirm_monitoring
        )
        print(f"trading mode {mode.value} (set by {clean_text(args.by, limit=NAME_LIMIT)})")
        return 0

    return run_control(act)


def add(commands: Any) -> None:
    """Register the control commands on the ``helios`` parser's subcommands."""

    def by(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--by", required=True, help="who is doing this (recorded)")

    sig = commands.add_parser("signal", help="submit a trading signal")
    sig.add_argument("pair", help="e.g. BTCZAR")
    sig.add_argument("side", help="BUY or SELL")
    sig.add_argument("--confidence", type=float, required=True, help="ML confidence, 0 to 1")
    sig.add_argument(
        "--llm-approved", choices=("yes", "no"), default="yes", help="the LLM tier's approval"
    )
    sig.add_argument("--reasoning", default="", help="the LLM tier's reasoning")
    sig.add_argument("--predicted-return", type=float, help="fraction, e.g. 0.03 for +3%%")
    sig.add_argument("--position-size-zar", type=float, help="margin in ZAR (default: sizing)")
    sig.add_argument("--leverage", type=float)
    sig.add_argument("--stop-loss-pct", type=float, help="fraction, e.g. 0.02")
    sig.add_argument("--take-profit-pct", type=float, help="fraction, e.g. 0.06")
    sig.add_argument("--max-holding-hours", type=float)
    sig.add_argument("--expires-at", help="ISO time with zone (default: SIGNAL_EXPIRY_SECONDS)")
    sig.add_argument("--source", default="cli")
    sig.add_argument("--dedup-key", help="the upstream id; a second signal with it is refused")
    sig.set_defaults(func=cmd_signal)

    halt = commands.add_parser("halt", help="halt opening trades (positions stay open)")
    by(halt)
    halt.add_argument("--reason", default="manual halt")
    halt.set_defaults(func=cmd_halt)
    resume = commands.add_parser("resume", help="lift a halt")
    by(resume)
    resume.add_argument("--note", default="")
    resume.set_defaults(func=cmd_resume)
    stop = commands.add_parser("emergency-stop", help="halt and close every position now")
    by(stop)
    stop.add_argument("--reason", default="")
    stop.set_defaults(func=cmd_emergency_stop)
    close = commands.add_parser("close-all", help="close every open position (no halt)")
    by(close)
    close.add_argument("--reason", default="")
    close.set_defaults(func=cmd_close_all)
    mode = commands.add_parser("mode", help="show or set the trading mode")
    mode.add_argument(
        "mode", nargs="?", help="PAPER (always allowed) or LIVE (needs the pre-live checklist)"
    )
    mode.add_argument("--by", help="who is changing it (required to change)")
    mode.add_argument("--reason", default="")
    mode.add_argument(
        "--confirm-monitoring",
        metavar="NAME",
        help="LIVE: the name of the person who will monitor it closely (recorded)",
    )
    mode.set_defaults(func=cmd_mode)
