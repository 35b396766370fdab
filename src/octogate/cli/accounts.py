"""`octogate account create|list|credit|set|rotate-key`: customer accounts, their credit and states."""

from __future__ import annotations

import argparse
from typing import Any

from octogate.cli.common import database_option, flag, operate
from octogate.config import Settings
from octogate.operations import Account
from octogate.service import normalise_login
from octogate.sms.money import format_money

FLAGS = (  # (option, its negation, the account's state)
    ("activated", "not-activated", "activated"),
    ("blacklisted", "not-blacklisted", "blacklisted"),
    ("pending-order", "no-pending-order", "pending_order"),
    ("transliterate", "no-transliterate", "transliterate"),
)


def add_account_commands(commands: Any) -> Any:
    """Add `account` and its actions; returns the actions' subparsers (others add theirs, `urls`)."""
    account = commands.add_parser("account", help="customer accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = account.add_parser("create", help="create an account and print its API key")
    create.add_argument("login")
    create.add_argument("--credit", default="0", help="initial credit in EUR")
    create.set_defaults(handler=cmd_account_create)
    listing = account.add_parser("list", help="list accounts with balances and states")
    listing.set_defaults(handler=cmd_account_list)
    credit = account.add_parser("credit", help="add (or, negative, remove) credit in EUR")
    credit.add_argument("login")
    credit.add_argument("amount")
    credit.add_argument("--note", default="operator credit")
    credit.set_defaults(handler=cmd_account_credit)
    flags = account.add_parser("set", help="set an account's states")
    flags.add_argument("login")
    for on, off, dest in FLAGS:
        flag(flags, on, off, dest)
    flags.set_defaults(handler=cmd_account_set)
    rotate = account.add_parser("rotate-key", help="replace an account's API key and print the new one")
    rotate.add_argument("login")
    rotate.set_defaults(handler=cmd_account_rotate_key)
    for sub in (create, listing, credit, flags, rotate):
        database_option(sub)
    return account


def cmd_account_create(args: argparse.Namespace, settings: Settings) -> None:
    created = operate(args, settings, lambda operator: operator.create_account(args.login, args.credit))
    print(f"created account {created.account.login} with {format_money(created.account.balance, 2)} EUR")
    print(f"api_key={created.api_key}")


def cmd_account_list(args: argparse.Namespace, settings: Settings) -> None:
    found = operate(args, settings, lambda operator: operator.accounts())
    print(f"{'login':<40} {'balance':>12} cur  states")
    for account in found:
        print(
            f"{account.login:<40} {format_money(account.balance, 2):>12} {account.currency}  "
            f"{' '.join(_states(account)) or '-'}"
        )


def _states(account: Account) -> list[str]:
    return [
        name
        for name, on in (
            ("not-activated", not account.activated),
            ("blacklisted", account.blacklisted),
            ("pending-order", account.pending_order),
            ("transliterate", account.transliterate),
        )
        if on
    ]


def cmd_account_credit(args: argparse.Namespace, settings: Settings) -> None:
    balance = operate(args, settings, lambda operator: operator.credit(args.login, args.amount, args.note))
    print(f"{normalise_login(args.login)}: balance {format_money(balance, 2)} EUR")


def cmd_account_set(args: argparse.Namespace, settings: Settings) -> None:
    flags = {dest: getattr(args, dest) for _, _, dest in FLAGS if getattr(args, dest) is not None}
    account = operate(args, settings, lambda operator: operator.set_flags(args.login, flags))
    print(
        f"{account.login}: activated={int(account.activated)} blacklisted={int(account.blacklisted)} "
        f"pending_order={int(account.pending_order)} transliterate={int(account.transliterate)}"
    )


def cmd_account_rotate_key(args: argparse.Namespace, settings: Settings) -> None:
    print(f"api_key={operate(args, settings, lambda operator: operator.rotate_key(args.login))}")
