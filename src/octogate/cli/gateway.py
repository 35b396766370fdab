"""`octogate prices` (show the price table as CSV, or load one) and `octogate pause|resume` (the API switch)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from octogate.cli.common import CommandError, database_option, operate
from octogate.config import Settings


def add_gateway_commands(commands: Any) -> None:
    prices = commands.add_parser("prices", help="show the price table as CSV, or load one")
    prices.add_argument("--load", metavar="CSV", help="replace the price table with this CSV file")
    database_option(prices)
    prices.set_defaults(handler=cmd_prices)


def add_switch_commands(commands: Any) -> None:
    for name, paused in (("pause", True), ("resume", False)):
        switch = commands.add_parser(
            name, help=f"{name} the API for every account (answers 116 while paused)"
        )
        database_option(switch)
        switch.set_defaults(handler=cmd_pause, paused=paused)


def cmd_prices(args: argparse.Namespace, settings: Settings) -> None:
    if args.load:
        try:
            text = Path(args.load).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read {args.load[:200]}: {error.strerror}") from None
        count = operate(args, settings, lambda operator: operator.load_prices(text, source=args.load))
        print(f"loaded {count} countries")
        return
    sys.stdout.write(operate(args, settings, lambda operator: operator.prices()).to_csv())


def cmd_pause(args: argparse.Namespace, settings: Settings) -> None:
    operate(args, settings, lambda operator: operator.set_paused(args.paused))
    print("API paused: every call answers 116" if args.paused else "API resumed")
