"""The ``helios`` command.

    helios up          migrations, then the scheduler and the dashboard together (Ctrl-C stops both)
    helios scheduler   the scheduler alone
    helios dashboard   the dashboard alone (streamlit run app.py)
    helios migrate     apply database migrations
    helios status      mode, halt, equity, prices and scheduler heartbeat, in the terminal
    helios config      the effective configuration (secrets hidden)

Configuration comes from the environment and ``.env`` (see ``.env.example``); a bad value stops
the command with a message naming the key, the value and the allowed range (exit code 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from typing import NoReturn

import helios
from helios.config import PROJECT_ROOT, ConfigError, describe, load_settings
from helios.money import fmt_zar

log = logging.getLogger("helios.cli")
APP = PROJECT_ROOT / "app.py"


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"helios: {message}", file=sys.stderr)
    raise SystemExit(code)


def connect_or_exit() -> helios.Helios:
    try:
        return helios.connect()
    except ConfigError as exc:
        fail(str(exc))


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


def cmd_migrate(_args: argparse.Namespace) -> int:
    hx = connect_or_exit()  # connect() applies the migrations
    from helios.db.migrate import current_revision

    print(f"database {hx.db.display_url} at revision {current_revision(hx.db.engine)}")
    return 0


def cmd_scheduler(_args: argparse.Namespace) -> int:
    from jobs.scheduler import run

    hx = connect_or_exit()
    configure_logging(hx.settings.log_level)
    run(hx)
    hx.close()
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    connect_or_exit().close()  # validate configuration and migrate before Streamlit starts
    os.execv(sys.executable, dashboard_command(args.port))  # noqa: S606 (our own command line)


def cmd_up(args: argparse.Namespace) -> int:
    """Start the scheduler and the dashboard as two processes; stop both on Ctrl-C/SIGTERM or
    when either dies."""
    hx = connect_or_exit()
    configure_logging(hx.settings.log_level)
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
    print(f"halted     {'YES: ' + halt.reason if halt.halted else 'no'}")
    print(f"equity     {fmt_zar(valuation.equity)}   cash {fmt_zar(valuation.cash)}")
    print(f"drawdown   {valuation.drawdown:.2%}   daily loss {valuation.daily_loss:.2%}")
    beat = last_beat(hx.db, "scheduler")
    if beat is None:
        print("scheduler  never ran")
    else:
        age = (hx.clock.now() - beat.last_beat_at).total_seconds()
        print(f"scheduler  last heartbeat {age:.0f} s ago (pid {beat.pid} on {beat.host})")
    for row in hx.market.price_table().itertuples():
        shown = fmt_zar(row.price) if row.price is not None else "no price yet"
        print(f"price      {row.pair:<8} {shown}")
    hx.close()
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
    up.set_defaults(func=cmd_up)
    commands.add_parser("scheduler", help="run the scheduler alone").set_defaults(
        func=cmd_scheduler
    )
    dash = commands.add_parser("dashboard", help="run the dashboard alone")
    dash.add_argument("--port", type=int, help="port (default DASHBOARD_PORT, 8501)")
    dash.set_defaults(func=cmd_dashboard)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    commands.add_parser("status", help="show the portfolio and system state").set_defaults(
        func=cmd_status
    )
    commands.add_parser("config", help="show the effective configuration").set_defaults(
        func=cmd_config
    )
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
