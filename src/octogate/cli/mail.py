"""`octogate inbox`: the mails received for e-mail to SMS, newest first, with what became of each."""

from __future__ import annotations

import argparse
from typing import Any

from octogate.cli.common import between, database_option, operate, utc_date
from octogate.config import Settings
from octogate.operations import InboxRow


def add_inbox_command(commands: Any) -> argparse.ArgumentParser:
    """Add `inbox` to octogate's subcommands (the `add_subparsers()` object)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "inbox", help="mails received for e-mail to SMS, newest first, with their outcome"
    )
    parser.add_argument("--limit", type=between(1, 10_000), default=20, help="how many mails (default 20)")
    parser.add_argument("--login", help="only this account's mails")
    database_option(parser)
    parser.set_defaults(handler=cmd_inbox)
    return parser


def cmd_inbox(args: argparse.Namespace, settings: Settings) -> None:
    rows = operate(args, settings, lambda operator: operator.inbox(args.limit, args.login))
    if not rows:
        print("no mail received")
        return
    print(f"{'id':>6}  {'received (UTC)':<19}  {'outcome':<8}  code  {'ticket':<16}  {'login':<30}  reason")
    for row in rows:
        print(format_row(row))


def format_row(row: InboxRow) -> str:
    """Two lines: the outcome, then where the mail came from (its subject has no API key)."""
    e = row.entry
    code = f"{e.error_code:03d}" if e.error_code is not None else "-"
    first = (
        f"{row.id:>6}  {utc_date(e.received_at):<19}  {e.outcome:<8}  {code:>4}  {e.ticket or '-':<16}  "
        f"{e.login or '-':<30}  {e.reason}"
    )
    return f"{first}\n{'':>8}from <{e.mail_from}>  message-id {e.message_id or '-'}  subject {e.subject!r}"

