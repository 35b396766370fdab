"""The operator's push commands: `octogate account urls` (where an account's pushes go) and
`octogate callbacks` (what is pending or failed, and retrying it)."""

from __future__ import annotations

import argparse
from typing import Any

from octogate.cli.common import CommandError, between, database_option, operate, row_id, utc_date
from octogate.config import Settings
from octogate.operations import PUSH_KINDS, PUSH_URL_KINDS, REST_PUSH_KINDS
from octogate.service import normalise_login
from octogate.statuses import PushStatus


def add_callback_commands(commands: Any, account: Any | None = None) -> None:
    """Add `callbacks` to the top-level commands and, given the `account` sub-commands, `account urls`."""
    listing = commands.add_parser("callbacks", help="pending and failed pushes to customers; retry them")
    listing.add_argument("--failed", action="store_true", help="failed pushes only")
    listing.add_argument("--account", metavar="LOGIN", help="one account's pushes only")
    listing.add_argument("--limit", type=between(1, 100_000), default=50, help="rows shown at most (default 50)")
    listing.add_argument("--retry", metavar="ID|all-failed", help="make a push (or every failed one) due now")
    database_option(listing)
    listing.set_defaults(handler=cmd_callbacks)
    if account is not None:
        urls = account.add_parser(
            "urls", help="show or set where an account's receipts, STOPs and replies go (1.6.1 and REST)",
            description="The 1.6.1 URLs take form-encoded pushes of 1.6.1 campaigns; the rest-… URLs take the "
            "REST API's JSON pushes of REST campaigns (the ones PATCH /v1/public/user/campaign-parameters/edit "
            "sets). A STOP goes to both STOP URLs. With no option, shows all six.",
        )  # fmt: skip
        urls.add_argument("login")
        for kind in PUSH_URL_KINDS:
            urls.add_argument(f"--{option(kind)}", metavar="URL", dest=kind, help=f"URL for {_label(kind)} pushes")
        urls.add_argument("--all", metavar="URL", help="one URL for the three 1.6.1 kinds")
        urls.add_argument("--rest-all", metavar="URL", help="one URL for the three REST kinds")
        urls.add_argument(
            "--clear", action="append", default=[], choices=[*CLEAR_GROUPS, *map(option, PUSH_URL_KINDS)],
            metavar="KIND", help=f"remove a URL ({', '.join(map(option, PUSH_URL_KINDS))}; all: the three 1.6.1 "
            "ones, rest-all: the three REST ones); repeatable",
        )  # fmt: skip
        database_option(urls)
        urls.set_defaults(handler=cmd_account_urls)


CLEAR_GROUPS: dict[str, tuple[str, ...]] = {"all": PUSH_KINDS, "rest-all": REST_PUSH_KINDS}


def option(kind: str) -> str:
    """The command line's name of a push kind: `rest_receipt` is `rest-receipt`."""
    return kind.replace("_", "-")


def _label(kind: str) -> str:
    return f"REST API {kind.removeprefix('rest_')}" if kind in REST_PUSH_KINDS else f"1.6.1 {kind}"


def wanted_urls(args: argparse.Namespace) -> dict[str, str | None]:
    """The changes asked for: kind -> URL, or None to clear (the service checks the URLs)."""
    changes: dict[str, str | None] = {}
    if args.all:
        changes.update(dict.fromkeys(PUSH_KINDS, args.all))
    if args.rest_all:
        changes.update(dict.fromkeys(REST_PUSH_KINDS, args.rest_all))
    for kind in PUSH_URL_KINDS:
        value = getattr(args, kind)
        if value:
            changes[kind] = value
    for name in args.clear:
        for cleared in CLEAR_GROUPS.get(name, (name.replace("-", "_"),)):
            if cleared in changes:
                raise CommandError(f"--clear {name} contradicts a URL given for {option(cleared)}")
            changes[cleared] = None
    return changes


def cmd_account_urls(args: argparse.Namespace, settings: Settings) -> None:
    changes = wanted_urls(args)
    urls = operate(args, settings, lambda operator: operator.set_push_urls(args.login, changes))
    login = normalise_login(args.login)
    for kind, url in urls.items():
        print(f"{login}: {option(kind):<12} {url or '-'}")


def cmd_callbacks(args: argparse.Namespace, settings: Settings) -> None:
    if args.retry is not None:
        _retry(args, settings)
        return
    rows = operate(args, settings, lambda operator: operator.pushes(args.failed, args.account, args.limit))
    if not rows:
        print("no failed pushes" if args.failed else "no pending or failed pushes")
        return
    print(
        f"{'id':>8}  {'kind':<7} {'status':<8} {'attempts':>8}  {'next attempt (UTC)':<19}  account  last error"
    )
    for row in rows:
        when = "-" if row.status == PushStatus.FAILED else utc_date(row.next_attempt_at)
        print(
            f"{row.id:>8}  {row.kind:<7} {row.status:<8} {row.attempts:>8}  {when:<19}  {row.login}  "
            f"{(row.last_error or '-')[:200]}"
        )


def _retry(args: argparse.Namespace, settings: Settings) -> None:
    target = args.retry.strip()
    if target == "all-failed":
        push_id = None
    elif (push_id := row_id(target)) is None:
        raise CommandError(f"--retry takes a push id or all-failed, not {target[:40]!r}")
    count = operate(args, settings, lambda operator: operator.retry_pushes(push_id))
    print(f"{count} push(es) due now")
