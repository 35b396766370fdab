"""`octogate`: run the gateway, and the operator's commands (accounts, credit, prices, pause)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from octogate.client.cli import add_client_commands
from octogate.config import ConfigError, Settings, load_settings, parse_listen
from octogate.keys import hash_api_key, new_api_key
from octogate.service import normalise_login
from octogate.sms.money import format_money, to_micro
from octogate.sms.prices import PriceTable
from octogate.smtp.cli import add_inbox_command
from octogate.store import queries
from octogate.store.db import DatabaseError, UnsupportedDatabaseURL
from octogate.store.prices import price_table_from_rows, rows_from_price_table
from octogate.store.records import DuplicateRequest, InsufficientCredit, UnknownAccount
from octogate.store.store import Store


class CommandError(Exception):
    """A one-line explanation for the operator; exit code 1."""


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        args.handler(args, settings)
    except (CommandError, ConfigError, UnsupportedDatabaseURL) as error:
        fail(str(error))
    except DatabaseError as error:
        fail(f"database error: {str(error)[:300]}")
    except KeyboardInterrupt:
        sys.exit(130)


def fail(message: str) -> NoReturn:
    print(f"octogate: error: {message}", file=sys.stderr)
    sys.exit(1)


class OneLineErrors(argparse.ArgumentParser):
    """Bad arguments give one line (and exit 2), not argparse's usage block: operators script these commands."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="octogate", description="Octopush-compatible SMS gateway over SMPP 3.4"
    )
    parser.add_argument("--config", help="TOML configuration file (or OCTOGATE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    _database_option(serve)
    serve.add_argument(
        "--http", help="HTTP listen address host:port (or OCTOGATE_HTTP; default 127.0.0.1:8080)"
    )
    serve.add_argument("--smtp", help="e-mail to SMS listen address host:port, or off (or OCTOGATE_SMTP)")
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", help="the certificate's private key (PEM)")
    serve.add_argument("--no-demo", action="store_true", help="do not create the demo account")
    serve.set_defaults(handler=cmd_serve)

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
    _flag(flags, "activated", "not-activated", "activated")
    _flag(flags, "blacklisted", "not-blacklisted", "blacklisted")
    _flag(flags, "pending-order", "no-pending-order", "pending_order")
    _flag(flags, "transliterate", "no-transliterate", "transliterate")
    flags.set_defaults(handler=cmd_account_set)
    rotate = account.add_parser("rotate-key", help="replace an account's API key and print the new one")
    rotate.add_argument("login")
    rotate.set_defaults(handler=cmd_account_rotate_key)
    for sub in (create, listing, credit, flags, rotate):
        _database_option(sub)
    # Imported here: these modules import helpers from this one.
    from octogate.callbacks.cli import add_callback_commands
    from octogate.incoming.cli import add_incoming_commands

    add_callback_commands(commands, account)
    add_incoming_commands(commands)
    add_inbox_command(commands)
    add_client_commands(commands)

    prices = commands.add_parser("prices", help="show the price table as CSV, or load one")
    prices.add_argument("--load", metavar="CSV", help="replace the price table with this CSV file")
    _database_option(prices)
    prices.set_defaults(handler=cmd_prices)

    simulator = commands.add_parser(
        "smsc-sim", help="run the SMPP SMSC simulator (options: octogate smsc-sim --help)", add_help=False,
        prefix_chars="+",  # every option goes through untouched to the simulator's own parser
    )
    simulator.add_argument("sim_args", nargs="*")
    simulator.set_defaults(handler=lambda args, _settings: sys.exit(_smsc_sim(args.sim_args)))

    for name, paused in (("pause", True), ("resume", False)):
        switch = commands.add_parser(
            name, help=f"{name} the API for every account (answers 116 while paused)"
        )
        _database_option(switch)
        switch.set_defaults(handler=cmd_pause, paused=paused)
    return parser


def _smsc_sim(argv: list[str]) -> int:
    from octogate.smpp.simulator import main as simulator_main

    return simulator_main(argv)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", help="sqlite:///file.db or postgresql://… (or OCTOGATE_DATABASE_URL)"
    )


def _flag(parser: argparse.ArgumentParser, on: str, off: str, dest: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{on}", dest=dest, action="store_true", default=None)
    group.add_argument(f"--{off}", dest=dest, action="store_false")


def open_store(args: argparse.Namespace, settings: Settings) -> Store:
    store = Store(args.database_url or settings.database_url)
    store.migrate()
    return store


def with_store(args: argparse.Namespace, settings: Settings, action: Callable[[Store], Any]) -> Any:
    store = open_store(args, settings)
    try:
        return action(store)
    except UnknownAccount as error:
        raise CommandError(f"no account with login {str(error)[:100]!r}") from None
    finally:
        store.close()


def amount(text: str) -> int:
    try:
        return to_micro(text)
    except ValueError:
        raise CommandError(f"not an amount in EUR: {text[:40]!r}") from None


# --- commands ------------------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from octogate.server import run

    settings = settings.with_overrides(
        http=args.http,
        smtp=args.smtp,
        database_url=args.database_url,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    if args.no_demo:
        settings = settings.with_overrides(demo=False)
    parse_listen(settings.http)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise CommandError("HTTPS needs both --tls-cert and --tls-key")
    run(settings)


def cmd_account_create(args: argparse.Namespace, settings: Settings) -> None:
    login = normalise_login(args.login)
    if not login or len(login) > 254 or any(c.isspace() for c in login):
        raise CommandError("a login is an e-mail address, without spaces")
    credit = amount(args.credit)
    if credit < 0:
        raise CommandError("the initial credit cannot be negative")
    key = new_api_key()

    def create(store: Store) -> None:
        try:
            store.run(queries.create_account, login, hash_api_key(key), credit, int(time.time()))
        except DuplicateRequest:
            raise CommandError(f"an account with login {login!r} already exists") from None

    with_store(args, settings, create)
    print(f"created account {login} with {format_money(credit, 2)} EUR")
    print(f"api_key={key}")


def cmd_account_list(args: argparse.Namespace, settings: Settings) -> None:
    found = with_store(args, settings, lambda store: store.run(queries.accounts))
    print(f"{'login':<40} {'balance':>12} cur  states")
    for account in found:
        states = [
            name
            for name, on in (
                ("not-activated", not account.activated),
                ("blacklisted", account.blacklisted),
                ("pending-order", account.pending_order),
                ("transliterate", account.transliterate),
            )
            if on
        ]
        print(
            f"{account.login:<40} {format_money(account.balance, 2):>12} {account.currency}  {' '.join(states) or '-'}"
        )


def cmd_account_credit(args: argparse.Namespace, settings: Settings) -> None:
    value = amount(args.amount)
    login = normalise_login(args.login)

    def credit(store: Store) -> int:
        try:
            return int(store.run(queries.add_credit, login, value, args.note[:200], int(time.time())))
        except InsufficientCredit:
            raise CommandError("that would take the balance below zero") from None

    balance = with_store(args, settings, credit)
    print(f"{login}: balance {format_money(balance, 2)} EUR")


def cmd_account_set(args: argparse.Namespace, settings: Settings) -> None:
    flags = {
        name: getattr(args, name)
        for name in ("activated", "blacklisted", "pending_order", "transliterate")
        if getattr(args, name) is not None
    }
    if not flags:
        raise CommandError(
            "nothing to set: give --activated/--not-activated, --blacklisted/--not-blacklisted, …"
        )
    login = normalise_login(args.login)
    account = with_store(args, settings, lambda store: store.run(queries.set_account_flags, login, flags))
    print(
        f"{account.login}: activated={int(account.activated)} blacklisted={int(account.blacklisted)} "
        f"pending_order={int(account.pending_order)} transliterate={int(account.transliterate)}"
    )


def cmd_account_rotate_key(args: argparse.Namespace, settings: Settings) -> None:
    key = new_api_key()
    login = normalise_login(args.login)
    with_store(args, settings, lambda store: store.run(queries.set_api_key_hash, login, hash_api_key(key)))
    print(f"api_key={key}")


def cmd_prices(args: argparse.Namespace, settings: Settings) -> None:
    if args.load:
        try:
            table = PriceTable.from_csv(Path(args.load).read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"cannot read {args.load[:200]}: {error.strerror}") from None
        except ValueError as error:
            raise CommandError(f"{args.load[:200]}: {error}") from None
        rows = rows_from_price_table(table)
        with_store(args, settings, lambda store: store.run(queries.replace_prices, rows))
        print(f"loaded {len(rows)} countries")
        return
    rows = with_store(args, settings, lambda store: store.run(queries.price_rows))
    if not rows:
        raise CommandError("no price table yet: `octogate serve` loads the shipped one at first start")
    sys.stdout.write(price_table_from_rows(rows).to_csv())


def cmd_pause(args: argparse.Namespace, settings: Settings) -> None:
    with_store(args, settings, lambda store: store.run(queries.set_paused, args.paused))
    print("API paused: every call answers 116" if args.paused else "API resumed")


if __name__ == "__main__":
    main()
