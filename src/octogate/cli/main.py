"""`octogate`: run the gateway, and the operator's commands (accounts, credit, prices, pause, pushes...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from octogate.cli.accounts import add_account_commands
from octogate.cli.common import CommandError, OneLineErrors, database_option, fail
from octogate.cli.console import add_console_commands
from octogate.cli.gateway import add_gateway_commands, add_switch_commands
from octogate.cli.incoming import add_incoming_commands
from octogate.cli.mail import add_inbox_command
from octogate.cli.pushes import add_callback_commands
from octogate.client.cli import add_client_commands
from octogate.config import ConfigError, Settings, load_settings, parse_listen
from octogate.store.db import DatabaseError, UnsupportedDatabaseURL


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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="octogate", description="Octopush-compatible SMS gateway over SMPP 3.4"
    )
    parser.add_argument("--config", help="TOML configuration file (or OCTOGATE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    database_option(serve)
    serve.add_argument(
        "--http", help="HTTP listen address host:port (or OCTOGATE_HTTP; default 127.0.0.1:8080)"
    )
    serve.add_argument("--smtp", help="e-mail to SMS listen address host:port, or off (or OCTOGATE_SMTP)")
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", help="the certificate's private key (PEM)")
    serve.add_argument("--no-demo", action="store_true", help="do not create the demo account")
    serve.add_argument("--no-console", action="store_true", help="do not serve the web console under /console/")
    serve.set_defaults(handler=cmd_serve)

    account = add_account_commands(commands)
    add_callback_commands(commands, account)
    add_console_commands(commands, account)
    add_incoming_commands(commands)
    add_inbox_command(commands)
    add_client_commands(commands)
    add_gateway_commands(commands)

    simulator = commands.add_parser(
        "smsc-sim", help="run the SMPP SMSC simulator (options: octogate smsc-sim --help)", add_help=False,
        prefix_chars="+",  # every option goes through untouched to the simulator's own parser
    )
    simulator.add_argument("sim_args", nargs="*")
    simulator.set_defaults(handler=lambda args, _settings: sys.exit(_smsc_sim(args.sim_args)))

    add_switch_commands(commands)
    return parser


def _smsc_sim(argv: list[str]) -> int:
    from octogate.smpp.simulator import main as simulator_main

    return simulator_main(argv)


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
    if args.no_console:
        settings = settings.with_overrides(console=replace(settings.console, enabled=False))
    parse_listen(settings.http)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise CommandError("HTTPS needs both --tls-cert and --tls-key")
    run(settings)
