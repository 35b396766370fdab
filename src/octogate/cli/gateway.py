"""`octogate prices` (show the price table as CSV, or load one), `octogate pause|resume` (the API switch), and
`octogate status` without a ticket: the gateway at a glance.

The status asks the running `serve` (its operator address, /status): connectors' binds, windows and rates
live only in the delivery process, and the per-minute counts in the API process. When `serve` does not
answer, the store's part (queue, pushes) is still shown, read directly, and the command exits 3."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from octogate.cli.common import CommandError, database_option, operate
from octogate.config import SIMULATOR_CONNECTOR, Settings
from octogate.paris import DATE_FORMAT


def add_gateway_commands(commands: Any) -> None:
    prices = commands.add_parser("prices", help="show the price table as CSV, or load one")
    prices.add_argument("--load", metavar="CSV", help="replace the price table with this CSV file")
    database_option(prices)
    prices.set_defaults(handler=cmd_prices)


def add_switch_commands(commands: Any) -> None:
    for name, paused in (("pause", True), ("resume", False)):
        switch = commands.add_parser(
            name, help=f"{name} the API for every account (answers 116 while paused), or one connector's sending"
        )
        switch.add_argument("--connector", metavar="NAME",
                            help=f"{name} sending through this connector only (every host; kept across restarts)")
        database_option(switch)
        switch.set_defaults(handler=cmd_pause, paused=paused)


def cmd_prices(args: argparse.Namespace, settings: Settings) -> None:
    if args.load:
        try:
            data = Path(args.load).read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {args.load[:200]}: {error.strerror}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:  # a spreadsheet's Latin-1 export, read as the console's upload reads it
            text = data.decode("latin-1")
        count = operate(args, settings, lambda operator: operator.load_prices(text, source=args.load))
        print(f"loaded {count} countries")
        return
    sys.stdout.write(operate(args, settings, lambda operator: operator.prices()).to_csv())


def cmd_pause(args: argparse.Namespace, settings: Settings) -> None:
    if args.connector is not None:
        name = args.connector
        simulated = settings.simulator.enabled if settings.simulator.enabled is not None else not settings.connectors
        known = [c.name for c in settings.connectors] + ([SIMULATOR_CONNECTOR] if simulated else [])
        if name not in known:
            raise CommandError(f"no connector {name[:64]!r} in the configuration ({', '.join(known) or 'none'})")
        changed = operate(args, settings, lambda operator: operator.set_connector_paused(name, args.paused))
        state = "paused: nothing is sent through it" if args.paused else "resumed"
        print(f"connector {name} {state}" if changed else f"connector {name} was already {state.split(':')[0]}")
        return
    operate(args, settings, lambda operator: operator.set_paused(args.paused))
    print("API paused: every call answers 116" if args.paused else "API resumed")


STATUS_TIMEOUT = 5.0
NOT_ANSWERING = 3


def gateway_status(args: argparse.Namespace, settings: Settings) -> None:
    admin = args.admin or settings.admin
    document: dict[str, Any] | None = None
    why = "the operator address is off"
    if admin.strip().lower() != "off":
        try:
            answer = httpx.get(f"http://{admin}/status", timeout=STATUS_TIMEOUT)
            document = answer.json()
            if "error" in document:
                why, document = f"serve answered: {str(document['error'])[:200]}", None
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            why = f"serve does not answer on {admin[:100]} ({type(error).__name__})"
    if document is None:
        local = operate(args, settings, lambda operator: operator.backlog())
        print("\n".join(render_status({**local, "now": int(time.time())}, unreachable=why)))
        sys.exit(NOT_ANSWERING)
    print("\n".join(render_status(document)))


def _utc(epoch: float | None) -> str:
    return time.strftime(DATE_FORMAT, time.gmtime(epoch)) if epoch else "-"


def _ago(now: float, epoch: float | None) -> str:
    if not epoch:
        return ""
    seconds = int(now - epoch)
    return f" ({seconds} s ago)" if seconds >= 0 else f" (in {-seconds} s)"


def render_status(doc: dict[str, Any], *, unreachable: str | None = None) -> list[str]:
    """Plain lines; times in UTC."""
    now = doc.get("now") or time.time()
    lines = []
    if unreachable:
        lines.append(f"gateway: UNKNOWN: {unreachable}; the store's part only")
    elif doc.get("ready"):
        lines.append("gateway: ready")
    else:
        lines.append("gateway: NOT READY: " + "; ".join(doc.get("problems", [])))
    if not unreachable:
        lines.append("connectors:")
        for c in doc.get("connectors", []):
            rate = "unlimited" if c.get("rate") is None else f"{c['rate']:.1f}/s"
            lines.append(
                f"  {c['name']:<16} {'bound' if c['binds_up'] else 'NOT BOUND':<9} binds {c['binds_up']}/"
                f"{c['binds_held']} here (of {c['binds_wanted']})  window {c['in_flight']}/{c['window']}  "
                f"rate {rate}  last error {c.get('last_error') or '-'}"
            )
        if not doc.get("connectors"):
            lines.append("  none on this host")
    queue = doc.get("queue", [])
    lines.append("queue: " + ", ".join(f"{q['status']} {q['count']}" for q in queue))
    queued = next((q for q in queue if q["status"] == "queued"), None)
    if queued and queued["count"]:
        lines.append(f"  oldest due {_utc(queued['oldest_due'])} UTC{_ago(now, queued['oldest_due'])}")
    pushes = doc.get("pushes", {})
    line = f"pushes: {pushes.get('pending', 0)} pending, {pushes.get('failing', 0)} failing"
    if pushes.get("oldest_failing_since"):
        line += (f"; oldest failing since {_utc(pushes['oldest_failing_since'])} UTC"
                 f"{_ago(now, pushes['oldest_failing_since'])} to {pushes.get('oldest_failing_host') or '?'}")
    lines.append(line)
    if not unreachable:
        lines.append("per minute on this host (UTC; accepted / submitted / receipts):")
        for minute in doc.get("per_minute", [])[-15:]:
            lines.append(f"  {_utc(minute['minute_start'])}  {minute['accepted']} / {minute['submitted']} / "
                         f"{minute['receipts']}")
        current = doc.get("this_minute") or {}
        if current:
            lines.append(f"  last {current['seconds']} s  {current['accepted']} / {current['submitted']} / "
                         f"{current['receipts']}")
    return lines
