"""The operator's push commands: `octogate account urls` (where an account's pushes go) and
`octogate callbacks` (what is pending or failed, and retrying it)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from octogate.callbacks.targets import BadCallbackURL, check_url
from octogate.cli import CommandError, _database_option, with_store
from octogate.config import Settings
from octogate.service import normalise_login
from octogate.store import outbox
from octogate.store.outbox import KINDS
from octogate.store.store import Store


def add_callback_commands(commands: Any, account: Any | None = None) -> None:
    """Add `callbacks` to the top-level commands and, given the `account` sub-commands, `account urls`."""
    listing = commands.add_parser("callbacks", help="pending and failed pushes to customers; retry them")
    listing.add_argument("--failed", action="store_true", help="failed pushes only")
    listing.add_argument("--account", metavar="LOGIN", help="one account's pushes only")
    listing.add_argument("--limit", type=int, default=50, help="rows shown at most (default 50)")
    listing.add_argument("--retry", metavar="ID|all-failed", help="make a push (or every failed one) due now")
    _database_option(listing)
    listing.set_defaults(handler=cmd_callbacks)
    if account is not None:
        urls = account.add_parser(
            "urls", help="show or set where an account's receipts, STOPs and replies go"
        )
        urls.add_argument("login")
        for kind in KINDS:
            urls.add_argument(f"--{kind}", metavar="URL", help=f"URL for {kind} pushes")
        urls.add_argument("--all", metavar="URL", help="one URL for all three")
        urls.add_argument(
            "--clear", action="append", default=[], choices=[*KINDS, "all"], metavar="KIND",
            help="remove a URL (receipt, stop, reply or all); repeatable",
        )  # fmt: skip
        _database_option(urls)
        urls.set_defaults(handler=cmd_account_urls)


def wanted_urls(args: argparse.Namespace) -> dict[str, str | None]:
    """The changes asked for: kind -> checked URL, or None to clear; one-line CommandError if a URL is bad."""
    changes: dict[str, str | None] = {}
    try:
        if args.all:
            changes.update(dict.fromkeys(KINDS, check_url(args.all)))
        for kind in KINDS:
            value = getattr(args, kind)
            if value:
                changes[kind] = check_url(value)
    except BadCallbackURL as error:
        raise CommandError(str(error)) from None
    for kind in args.clear:
        for cleared in KINDS if kind == "all" else (kind,):
            if cleared in changes:
                raise CommandError(f"--clear {kind} contradicts a URL given for {cleared}")
            changes[cleared] = None
    return changes


def cmd_account_urls(args: argparse.Namespace, settings: Settings) -> None:
    login = normalise_login(args.login)
    changes = wanted_urls(args)

    def apply(store: Store) -> tuple[str | None, ...]:
        if changes:
            return store.run(outbox.set_urls, login, changes)
        return store.run(outbox.account_urls, login)

    urls = with_store(args, settings, apply)
    for kind, url in zip(KINDS, urls, strict=True):
        print(f"{login}: {kind:<7} {url or '-'}")


def cmd_callbacks(args: argparse.Namespace, settings: Settings) -> None:
    if args.retry is not None:
        _retry(args, settings)
        return
    if args.limit < 1:
        raise CommandError("--limit is at least 1")
    login = normalise_login(args.account) if args.account else None
    rows = with_store(
        args, settings,
        lambda store: store.run(outbox.outbox, args.failed, login, args.limit),
    )  # fmt: skip
    if not rows:
        print("no failed pushes" if args.failed else "no pending or failed pushes")
        return
    print(
        f"{'id':>8}  {'kind':<7} {'status':<8} {'attempts':>8}  {'next attempt (UTC)':<19}  account  last error"
    )
    for row in rows:
        when = "-" if row.status == "failed" else _when(row.next_attempt_at)
        print(
            f"{row.id:>8}  {row.kind:<7} {row.status:<8} {row.attempts:>8}  {when:<19}  {row.login}  "
            f"{(row.last_error or '-')[:200]}"
        )


def _retry(args: argparse.Namespace, settings: Settings) -> None:
    target = args.retry.strip()
    if target == "all-failed":
        callback_id = None
    elif target.isdigit():
        callback_id = int(target)
    else:
        raise CommandError(f"--retry takes a push id or all-failed, not {target[:40]!r}")
    count = with_store(args, settings, lambda store: store.run(outbox.retry, callback_id, int(time.time())))
    if callback_id is not None and not count:
        raise CommandError(f"push {callback_id} is not failed or waiting (or is being pushed right now)")
    print(f"{count} push(es) due now")


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
