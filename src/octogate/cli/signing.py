"""`octogate account push-secret LOGIN`: the secret an account's pushes are signed with (X-Octogate-Signature)."""

from __future__ import annotations

import argparse
from typing import Any

from octogate.cli.common import database_option, operate
from octogate.config import Settings
from octogate.service import normalise_login


def add_push_secret_command(account: Any) -> None:
    command = account.add_parser(
        "push-secret", help="sign the account's pushes (X-Octogate-Signature): a new secret, a given one, or none"
    )
    command.add_argument("login")
    which = command.add_mutually_exclusive_group()
    which.add_argument("--set", metavar="SECRET", help="use this secret (16 to 128 characters) instead of a new one")
    which.add_argument("--remove", action="store_true", help="stop signing this account's pushes")
    database_option(command)
    command.set_defaults(handler=cmd_push_secret)


def cmd_push_secret(args: argparse.Namespace, settings: Settings) -> None:
    secret = operate(
        args, settings, lambda operator: operator.set_push_secret(args.login, args.set, remove=args.remove)
    )
    login = normalise_login(args.login)
    if secret is None:
        print(f"{login}: pushes are no longer signed")
    else:
        print(f"{login}: pushes signed with secret {secret}")
        print("give it to the customer: their receiver checks X-Octogate-Signature with it")
