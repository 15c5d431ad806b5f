"""The alert commands of ``helios``: test, status, send (issue 17).

    helios alert test [--by NAME]   a test alert to every channel now; one line per channel
                                    (exit 0 all delivered, 1 one failed, 2 no channel configured)
    helios alert status             each channel (masked), pending, last delivery and error, next
                                    attempt; the dead-man's switch (masked); ALERT_MIN_SEVERITY
    helios alert send               one delivery pass of the queued alerts now

Each is a thin call into ``hx.alerts`` (the same as the Controls page). Channels are shown
masked (``ALERT_URLS`` holds secrets); errors come scrubbed from ``helios.alerts``.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

import helios
from helios.cli.controls import quiet_connect
from helios.config.channels import ALLOWED
from helios.launch import fail

NO_CHANNEL = (
    "no alert channel configured: ALERT_URLS is empty; set it to {allowed} "
    "(see .env.example and docs/alerts.md)"
)


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    seconds = (now - value).total_seconds()
    ago = f"{seconds:,.0f} s ago" if seconds >= 0 else f"in {-seconds:,.0f} s"
    return f"{value:%Y-%m-%d %H:%M:%S} UTC ({ago})"


def _connect_with_channels() -> helios.Helios:
    hx = quiet_connect()
    if not hx.alerts.channel_ids:
        hx.close()
        fail(NO_CHANNEL.format(allowed=ALLOWED))
    return hx


def cmd_test(args: argparse.Namespace) -> int:
    hx = _connect_with_channels()
    try:
        answers = hx.alerts.test(args.by)
    finally:
        hx.close()
    width = max(len(a["channel"]) for a in answers)
    for answer in answers:
        outcome = "delivered" if answer["delivered"] else f"FAILED: {answer['error']}"
        print(f"{answer['channel']:<{width}}  {outcome}")
    return 0 if all(a["delivered"] for a in answers) else 1


def _channel_lines(channel: dict[str, Any], now: datetime) -> list[str]:
    lines = [
        f"channel      {channel['channel']}",
        f"  pending    {channel['pending']}",
        f"  delivered  {_when(channel['last_sent_at'], now)}"
        f" ({channel['messages_sent']} message(s) in all)",
    ]
    if channel["last_error"]:
        lines.append(
            f"  last error {_when(channel['last_error_at'], now)}: {channel['last_error']}"
            + (f" ({channel['failures']} failure(s) in a row)" if channel["failures"] else "")
        )
    else:
        lines.append("  last error none")
    if channel["next_attempt_at"] is not None:
        lines.append(f"  next try   {_when(channel['next_attempt_at'], now)}")
    return lines


def cmd_status(_args: argparse.Namespace) -> int:
    hx = quiet_connect()
    try:
        status = hx.alerts.status()
        now = hx.clock.now()
    finally:
        hx.close()
    if not status["channels"]:
        print(NO_CHANNEL.format(allowed=ALLOWED))
    for channel in status["channels"]:
        for line in _channel_lines(channel, now):
            print(line)
    ping = status["ping_url"]
    shown = f"{ping} (HEARTBEAT_PING_URL)" if ping else "none: HEARTBEAT_PING_URL is empty"
    print(f"dead-man     {shown}")
    print(f"min severity {status['min_severity']} (ALERT_MIN_SEVERITY)")
    print(f"per minute   at most {status['max_per_minute']} message(s) a channel")
    return 0


def cmd_send(_args: argparse.Namespace) -> int:
    hx = _connect_with_channels()
    try:
        results = hx.alerts.send_pending()
        pending = hx.alerts.pending_count()
    finally:
        hx.close()
    if not results:
        print("another delivery pass is running in this process: nothing done")
    width = max((len(r.channel) for r in results), default=0)
    for result in results:
        done = f"{result.messages} message(s) carrying {result.delivered} alert(s)"
        if result.error:
            outcome = f"{done}, then FAILED: {result.error}"
        elif result.skipped:
            outcome = f"skipped: {result.skipped}"
        else:
            outcome = done
        print(f"{result.channel:<{width}}  {outcome}")
    print(f"pending      {pending} in all channels")
    return 1 if any(r.error for r in results) else 0


def add(commands: Any) -> None:
    """Register ``helios alert test|status|send`` on the ``helios`` parser's subcommands."""
    alert = commands.add_parser("alert", help="the alert channels: test, status, send")
    actions = alert.add_subparsers(dest="alert_command", required=True)
    test = actions.add_parser("test", help="send a test alert to every channel now")
    test.add_argument("--by", default="cli", help="who is testing (recorded; default: cli)")
    test.set_defaults(func=cmd_test)
    actions.add_parser(
        "status", help="each channel (masked): pending, last delivery and error"
    ).set_defaults(func=cmd_status)
    actions.add_parser("send", help="deliver the queued alerts now (one pass)").set_defaults(
        func=cmd_send
    )
