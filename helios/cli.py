"""The ``helios`` command.

    helios up          migrations, then the scheduler and the dashboard together (Ctrl-C stops both;
                       --api also starts the REST API)
    helios scheduler   the scheduler alone
    helios dashboard   the dashboard alone (streamlit run app.py)
    helios api         the REST API alone (uvicorn, http://127.0.0.1:8000/docs)
    helios migrate     apply database migrations
    helios status      mode, halt, equity, prices and scheduler heartbeat, in the terminal
    helios config      the effective configuration (secrets hidden)
    helios signal BTCZAR BUY --confidence 0.85   submit a signal
    helios halt|resume|emergency-stop|close-all --by NAME   the manual controls
    helios mode [PAPER --by NAME]      show the trading mode, or switch back to PAPER
    helios mode LIVE --by NAME --confirm-monitoring NAME   LIVE, if the pre-live checklist holds

Configuration comes from the environment and ``.env`` (see ``.env.example``); a bad value stops
the command with a message naming the key, the value and the allowed range (exit code 2).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import time
from typing import Any

import helios
from helios.config import PROJECT_ROOT, ConfigError, describe, load_settings
from helios.launch import connect_or_exit, fail, refuse_exposed, run_reporting_outages
from helios.logs import LOG_FORMAT, configure_logging, install_secret_filter
from helios.money import fmt_zar
from helios.text import NAME_LIMIT, clean_text

log = logging.getLogger("helios.cli")
APP = PROJECT_ROOT / "app.py"


def dashboard_command(port: int | None = None) -> list[str]:
    settings = load_settings()
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        settings.dashboard_address,
        "--server.port",
        str(port or settings.dashboard_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
    ]


def api_command(host: str | None = None, port: int | None = None) -> list[str]:
    """``helios api`` as a child process (``helios up --api``)."""
    command = [sys.executable, "-m", "helios.cli", "api"]
    if host:
        command += ["--host", host]
    if port:
        command += ["--port", str(port)]
    return command


def cmd_migrate(_args: argparse.Namespace) -> int:
    hx = connect_or_exit()  # connect() applies the migrations
    from helios.db.migrate import current_revision

    print(f"database {hx.db.display_url} at revision {current_revision(hx.db.engine)}")
    return 0


def cmd_scheduler(_args: argparse.Namespace) -> int:
    # the scheduler is a shell of its own (jobs/): this process becomes it, keeping its pid, so
    # signals and exit codes are the scheduler's
    os.execv(sys.executable, [sys.executable, "-m", "jobs"])  # noqa: S606 (our own command line)


def cmd_dashboard(args: argparse.Namespace) -> int:
    refuse_exposed(dashboard=True)
    connect_or_exit().close()  # validate configuration and migrate before Streamlit starts
    os.execv(sys.executable, dashboard_command(args.port))  # noqa: S606 (our own command line)


def cmd_api(args: argparse.Namespace) -> int:
    """The REST API (``api/``) under uvicorn: after the exposure and configuration checks and the
    migrations, this process becomes ``python -m api`` (``api.serve``: the server is the API
    shell's, never the library's); Ctrl-C/SIGTERM stop it (uvicorn's own handling)."""
    refuse_exposed(api_host=args.host or "")
    hx = connect_or_exit()  # validate configuration and migrate before uvicorn starts
    settings = hx.settings
    hx.close()
    host = args.host or settings.api_address
    port = args.port or settings.api_port
    serve = [sys.executable, "-m", "api", "--host", host, "--port", str(port)]
    os.execv(sys.executable, serve)  # noqa: S606 (our own command line)


def cmd_up(args: argparse.Namespace) -> int:
    """Start the scheduler and the dashboard as two processes; stop both on Ctrl-C/SIGTERM or
    when either dies."""
    refuse_exposed(dashboard=not args.no_dashboard, api_host="" if args.api else None)
    hx = connect_or_exit()
    configure_logging(hx.settings.log_level)  # the scheduler child writes the log file
    log.info(
        "database %s ready, mode %s, feed %s",
        hx.db.display_url,
        hx.controls.trading_mode().value,
        hx.settings.market_feed.value,
    )
    hx.close()
    children: dict[str, subprocess.Popen[bytes]] = {
        "scheduler": subprocess.Popen([sys.executable, "-m", "jobs"], cwd=PROJECT_ROOT),
    }
    if not args.no_dashboard:
        children["dashboard"] = subprocess.Popen(dashboard_command(args.port), cwd=PROJECT_ROOT)  # noqa: S603
        settings = load_settings()
        print(
            f"helios: dashboard on http://{settings.dashboard_address}:"
            f"{args.port or settings.dashboard_port}  (Ctrl-C stops everything)",
            flush=True,
        )
    if args.api:
        children["api"] = subprocess.Popen(api_command(port=args.api_port), cwd=PROJECT_ROOT)  # noqa: S603
        settings = load_settings()
        print(
            f"helios: API on http://{settings.api_address}:{args.api_port or settings.api_port}",
            flush=True,
        )
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                log.error("%s exited with code %s: stopping the rest", name, code)
                exit_code = code or 1
                stopping = True
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time: killing it", name)
            child.kill()
            child.wait()
    log.info("stopped")
    return exit_code


def cmd_status(_args: argparse.Namespace) -> int:
    from helios.heartbeat import last_beat

    hx = connect_or_exit()
    valuation = hx.ledger.valuation()
    halt = hx.controls.halt_state()
    print(f"database   {hx.db.display_url}")
    print(f"mode       {hx.controls.trading_mode().value}")
    shown_halt = f"YES ({halt.cause}, {halt.action}): {halt.reason}" if halt.halted else "no"
    print(f"halted     {shown_halt}")
    print(f"equity     {fmt_zar(valuation.equity)}   cash {fmt_zar(valuation.cash)}")
    print(f"drawdown   {valuation.drawdown:.2%}   daily loss {valuation.daily_loss:.2%}")
    cap = fmt_zar(hx.live.cap_zar)
    if hx.controls.trading_mode().value == "LIVE":
        seen = fmt_zar(min(valuation.equity, hx.live.cap_zar))
        print(f"LIVE cap   {cap}: the risk checks and sizing see {seen}")
    else:
        checklist = hx.controls.live_checklist()
        print(f"pre-live   {checklist.summary()} (`helios mode LIVE` lists them; cap {cap})")
    for name, label in (("scheduler", "scheduler"), ("scheduler-standby", "standby")):
        beat = last_beat(hx.db, name)
        if beat is None:
            if name == "scheduler":
                print("scheduler  never ran")
            continue
        age = (hx.clock.now() - beat.last_beat_at).total_seconds()
        print(f"{label:<10} last heartbeat {age:.0f} s ago (pid {beat.pid} on {beat.host})")
    counts = hx.signals.counts()
    print("signals    " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
    for row in hx.market.price_table().itertuples():
        shown = fmt_zar(row.price) if row.price is not None else "no price yet"
        print(f"price      {row.pair:<8} {shown}")
    hx.close()
    return 0


# --- signals and the manual controls (each records who; none needs the scheduler) -------------
def _quiet_connect() -> helios.Helios:
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


def _run_control(action: Any) -> int:
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
    hx = _quiet_connect()
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
        state = _quiet_connect().controls.halt(args.reason, args.by)
        print(f"halted since {state.since:%Y-%m-%d %H:%M:%S} UTC by {state.by}: {state.reason}")
        return 0

    return _run_control(act)


def cmd_resume(args: argparse.Namespace) -> int:
    def act() -> int:
        hx = _quiet_connect()
        before = hx.controls.halt_state()
        after = hx.controls.resume(args.by, args.note)
        who = clean_text(args.by, limit=NAME_LIMIT)  # what was recorded (helios.text)
        resumed = before.halted and not after.halted
        print(f"resumed by {who}" if resumed else "not halted: nothing to resume")
        return 0

    return _run_control(act)


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
        done = _quiet_connect().controls.emergency_stop(args.by, args.reason)
        who = clean_text(args.by, limit=NAME_LIMIT)  # what was recorded (helios.text)
        print(f"EMERGENCY STOP by {who}: trading halted, closing every position")
        _print_closes(done["closed"])
        if done["failed"]:
            print(f"{len(done['failed'])} position(s) not closed yet: the scheduler retries")
            return 1
        return 0

    return _run_control(act)


def cmd_close_all(args: argparse.Namespace) -> int:
    def act() -> int:
        done = _quiet_connect().controls.close_all(args.by, args.reason)
        _print_closes(done["closed"])
        print(f"{len(done['closed'])} position(s) asked to close, {len(done['failed'])} failed")
        return 1 if done["failed"] else 0

    return _run_control(act)


def cmd_mode(args: argparse.Namespace) -> int:
    def act() -> int:
        hx = _quiet_connect()
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

    return _run_control(act)


def _add_controls(commands: Any) -> None:
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


def cmd_hash_password(_args: argparse.Namespace) -> int:
    """Ask for the dashboard password twice; print the DASHBOARD_PASSWORD_HASH line."""
    import getpass

    from helios.auth import hash_password
    from helios.errors import InvalidInput

    first = getpass.getpass("dashboard password: ")
    if getpass.getpass("again: ") != first:
        fail("the two passwords differ")
    try:
        print(f"DASHBOARD_PASSWORD_HASH={hash_password(first)}")
    except InvalidInput as exc:
        fail(str(exc))
    return 0


def cmd_config(_args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    for key, value in describe(settings).items():
        print(f"{key.upper()}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helios", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the scheduler and the dashboard")
    up.add_argument("--port", type=int, help="dashboard port (default DASHBOARD_PORT, 8501)")
    up.add_argument("--no-dashboard", action="store_true", help="start only the scheduler")
    up.add_argument("--api", action="store_true", help="also start the REST API (helios api)")
    up.add_argument("--api-port", type=int, help="API port (default API_PORT, 8000)")
    up.set_defaults(func=cmd_up)
    commands.add_parser("scheduler", help="run the scheduler alone").set_defaults(
        func=cmd_scheduler
    )
    dash = commands.add_parser("dashboard", help="run the dashboard alone")
    dash.add_argument("--port", type=int, help="port (default DASHBOARD_PORT, 8501)")
    dash.set_defaults(func=cmd_dashboard)
    api = commands.add_parser("api", help="run the REST API alone (uvicorn)")
    api.add_argument("--host", help="address to bind (default API_ADDRESS, 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default API_PORT, 8000)")
    api.set_defaults(func=cmd_api)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    commands.add_parser("status", help="show the portfolio and system state").set_defaults(
        func=cmd_status
    )
    commands.add_parser("config", help="show the effective configuration").set_defaults(
        func=cmd_config
    )
    _add_controls(commands)
    commands.add_parser(
        "hash-password", help="make DASHBOARD_PASSWORD_HASH for the dashboard's login gate"
    ).set_defaults(func=cmd_hash_password)
    args = parser.parse_args(argv)
    return run_reporting_outages(lambda: args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
