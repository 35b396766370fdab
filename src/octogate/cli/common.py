"""What every operator command shares: one-line errors, the --database-url option, and the service it calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

from octogate.config import Settings
from octogate.operations import MAX_INTEGER, Operator, Refused
from octogate.paris import DATE_FORMAT
from octogate.store.store import Store

T = TypeVar("T")


class CommandError(Exception):
    """A one-line explanation for the operator; exit code 1."""


def fail(message: str) -> NoReturn:
    print(f"octogate: error: {message}", file=sys.stderr)
    sys.exit(1)


class OneLineErrors(argparse.ArgumentParser):
    """Bad arguments give one line (and exit 2), not argparse's usage block: operators script these commands."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", help="sqlite:///file.db or postgresql://… (or OCTOGATE_DATABASE_URL)"
    )


def between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from low to high, or argparse's one-line error (never a traceback from
    the database, which cannot take a number past 64 bits, or PostgreSQL's refusal of a negative LIMIT)."""

    def whole(text: str) -> int:
        number = row_id(text)
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"a whole number between {low} and {high}, not {text[:20]!r}")
        return number

    return whole


def row_id(text: str) -> int | None:
    """ASCII digits as a number a database can hold (`²` is a digit to str.isdigit, not to int); else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_INTEGER:
        return None
    return int(text)


def flag(parser: argparse.ArgumentParser, on: str, off: str, dest: str) -> None:
    """`--on` / `--off`, exclusive; None when neither is given."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{on}", dest=dest, action="store_true", default=None)
    group.add_argument(f"--{off}", dest=dest, action="store_false")


def open_store(args: argparse.Namespace, settings: Settings) -> Store:
    store = Store(settings.with_overrides(database_url=args.database_url).database_url)
    store.migrate()
    return store


def operate(args: argparse.Namespace, settings: Settings, action: Callable[[Operator], T]) -> T:
    """Run one operator action on the configured database; a refusal becomes the command's one-line error."""
    store = open_store(args, settings)
    try:
        return action(Operator(store))
    except Refused as refusal:
        raise CommandError(str(refusal)) from None
    finally:
        store.close()


def utc_date(epoch: int) -> str:
    """The operator's listings of pushes and mails show UTC (the status of a campaign shows Paris time)."""
    return datetime.fromtimestamp(epoch, UTC).strftime(DATE_FORMAT)
