"""The ``helios`` command.

    helios up          migrations, then the scheduler and the dashboard together (Ctrl-C stops both;
                       --api also starts the REST API)
    helios scheduler   the scheduler alone
    helios dashboard   the dashboard alone (streamlit run app.py)
    helios api         the REST API alone (uvicorn, http://127.0.0.1:8000/docs)
    helios migrate     apply database migrations
    helios status      mode, halt, equity, prices and scheduler heartbeat, in the terminal
    helios config      the effective configuration (secrets hidden) and the limits in force
    helios signal BTCZAR BUY --confidence 0.85   submit a signal
    helios halt|resume|emergency-stop|close-all --by NAME   the manual controls
    helios mode [PAPER --by NAME]      show the trading mode, or switch back to PAPER
    helios mode LIVE --by NAME --confirm-monitoring NAME   LIVE, if the pre-live checklist holds
    helios report daily|weekly [--date YYYY-MM-DD] [--png PATH] [--html PATH]   the report
    helios profit [--daily|--weekly|--monthly] [--count N] [--json]   P&L by period
    helios replay --strategy S|--signals recorded|CSV --from D --to D [--sweep ...]   replay history
    helios positions | close ID --by NAME | limits [set KEY VALUE --by NAME]   the console (--json)
    helios lock PAIR --hours H --by NAME --reason TEXT | unlock PAIR|ID --by NAME | locks [--json]

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

from helios.cli import alerts, console, controls, locks, profit, replay, reports
from helios.config import PROJECT_ROOT, ConfigError, describe, load_settings
from helios.launch import connect_or_exit, fail, refuse_exposed, run_reporting_outages
from helios.logs import configure_logging
from helios.money import fmt_zar

log = logging.getLogger("helios.cli")
APP = PROJECT_ROOT / "dashboard.py"  # st.App over app.py, with the session cookie routes


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
    console.config_limits()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; output cut short by a closed pipe (``helios status | head -1``) ends it
    quietly, as Unix tools do (exit 141, 128 + SIGPIPE), without a traceback."""
    try:
        code = run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        # nothing more reaches the reader: stdout to /dev/null so the flush at exit is silent
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="helios",
        description=__doc__.rsplit("\n\n", 1)[0],
        epilog=__doc__.rsplit("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
    commands.add_parser(
        "config", help="show the effective configuration and the limits in force (database)"
    ).set_defaults(func=cmd_config)
    for register in (
        controls.add,
        alerts.add,
        reports.add,
        console.add,
        profit.add,
        locks.add,
        replay.add,
    ):
        register(commands)
    commands.add_parser(
        "hash-password", help="make DASHBOARD_PASSWORD_HASH for the dashboard's login gate"
    ).set_defaults(func=cmd_hash_password)
    args = parser.parse_args(argv)
    return run_reporting_outages(lambda: args.func(args))
