"""The console's logins: `octogate account password LOGIN` (a customer's console password) and
`octogate operator create|password LOGIN` (the operator role). The password is read from the terminal (asked
twice), or from standard input with --password-stdin (scripts): never from an argument, which `ps` shows."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from octogate.cli.common import CommandError, database_option, operate
from octogate.config import Settings
from octogate.service import normalise_login


def add_console_commands(commands: Any, account: Any) -> None:
    password = account.add_parser("password", help="set the account's web console password")
    password.add_argument("login")
    _password_options(password)
    password.set_defaults(handler=cmd_account_password)
    operator = commands.add_parser("operator", help="operators of the web console").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = operator.add_parser("create", help="create an operator (asks for their password)")
    create.add_argument("login")
    _password_options(create)
    create.set_defaults(handler=cmd_operator_create)
    change = operator.add_parser("password", help="set an operator's password")
    change.add_argument("login")
    _password_options(change)
    change.set_defaults(handler=cmd_operator_password)


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    database_option(parser)


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask the password: give it on standard input with --password-stdin")
    first = getpass.getpass("Password (10 characters at least): ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def cmd_account_password(args: argparse.Namespace, settings: Settings) -> None:
    password = read_password(args)
    operate(args, settings, lambda operator: operator.set_account_password(args.login, password))
    print(f"{normalise_login(args.login)}: console password set")


def cmd_operator_create(args: argparse.Namespace, settings: Settings) -> None:
    password = read_password(args)
    operate(args, settings, lambda operator: operator.create_operator(args.login, password))
    print(f"operator {normalise_login(args.login)} created: sign in at /console/ as an operator")


def cmd_operator_password(args: argparse.Namespace, settings: Settings) -> None:
    password = read_password(args)
    operate(args, settings, lambda operator: operator.set_operator_password(args.login, password))
    print(f"operator {normalise_login(args.login)}: password set")
