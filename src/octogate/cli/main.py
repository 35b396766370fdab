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
from octogate.cli.sandbox import add_sandbox_commands
from octogate.cli.signing import add_push_secret_command
from octogate.client.cli import add_client_commands
from octogate.config import ConfigError, Settings, load_settings, parse_listen
from octogate.logs import FORMATS, LEVELS, LogSettings, LogSettingsError, setup_logging
from octogate.store.db import DatabaseError, UnsupportedDatabaseURL

CONFIG_EXIT = 2  # a configuration mistake: the same code for check-config and every other command


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.logs = LogSettings.resolve(getattr(args, "log_level", None), getattr(args, "log_format", None))
    except LogSettingsError as error:
        fail(str(error))
    setup_logging(args.logs, "octogate" if args.command == "serve" else f"octogate-{args.command}")
    try:
        settings = load_settings(args.config, data_dir=args.data_dir)
    except ConfigError as error:
        for line in error.lines:
            print(f"octogate: config: {line}", file=sys.stderr)
        sys.exit(CONFIG_EXIT)
    try:
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
    place_options(parser)
    log_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check-config", help="check the configuration and exit (0 fine, 2 with problems)")
    check.set_defaults(handler=cmd_check_config)
    backup = commands.add_parser("backup", help="copy the SQLite database while the gateway runs")
    backup.add_argument("path", help="the copy's file (created 0600)")
    backup.add_argument("--overwrite", action="store_true", help="replace PATH if it exists")
    database_option(backup)
    backup.set_defaults(handler=cmd_backup)

    serve = commands.add_parser("serve", help="run the gateway")
    database_option(serve)
    serve.add_argument(
        "--http", help="HTTP listen address host:port (or OCTOGATE_HTTP; default 127.0.0.1:8080)"
    )
    serve.add_argument("--smtp", help="e-mail to SMS listen address host:port, or off (or OCTOGATE_SMTP)")
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", help="the certificate's private key (PEM)")
    serve.add_argument("--no-demo", action="store_true", help="do not create the demo account")
    serve.add_argument("--admin", help="operator address host:port for /healthz /readyz /metrics /status, or off "
                       "(or OCTOGATE_ADMIN; default 127.0.0.1:9180)")
    serve.add_argument("--no-console", action="store_true", help="do not serve the web console under /console/")
    log_options(serve, argparse.SUPPRESS)
    serve.set_defaults(handler=cmd_serve)

    account = add_account_commands(commands)
    add_callback_commands(commands, account)
    add_push_secret_command(account)
    add_console_commands(commands, account)
    add_incoming_commands(commands)
    add_inbox_command(commands)
    add_client_commands(commands)
    add_gateway_commands(commands)
    add_sandbox_commands(commands)

    simulator = commands.add_parser(
        "smsc-sim", help="run the SMPP SMSC simulator (options: octogate smsc-sim --help)", add_help=False,
        prefix_chars="+",  # every option goes through untouched to the simulator's own parser
    )
    simulator.add_argument("sim_args", nargs="*")
    simulator.set_defaults(handler=lambda args, _settings: sys.exit(_smsc_sim(args.sim_args)))

    add_switch_commands(commands)
    # not on smsc-sim (its options are the simulator's own), nor on send and balance: they talk to an API and
    # have their own --client-config, which a second --config beside it would be mistaken for
    apart = {simulator, commands.choices["send"], commands.choices["balance"]}
    for command in leaf_commands(parser):
        if command not in apart:
            place_options(command, argparse.SUPPRESS)
    return parser


def place_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    """--config and --data-dir, before the command or after it (`octogate serve --data-dir DIR`, as the README
    writes it): given after, they win over the ones given before."""
    parser.add_argument("--config", default=default, help="TOML configuration file (or OCTOGATE_CONFIG)")
    parser.add_argument(
        "--data-dir",
        default=default,
        help="folder of relative SQLite paths (or OCTOGATE_DATA_DIR; default: the configuration file's folder, "
        "else ~/.local/share/octogate)",
    )


def leaf_commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command (`serve`, `account create`...), below every level of subcommands."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(leaf_commands(child) or [child])
    return found


def log_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--log-level", choices=LEVELS, default=default,
                        help="debug, info (default), warning or error (or OCTOGATE_LOG_LEVEL)")
    parser.add_argument("--log-format", choices=FORMATS, default=default,
                        help="text (default) or json: one object per line (or OCTOGATE_LOG_FORMAT)")


def _smsc_sim(argv: list[str]) -> int:
    """The simulator's own options, with --log-level / --log-format taken out (they were applied already)."""
    from octogate.smpp.simulator import config_from_args, serve_simulator

    options = argparse.ArgumentParser(add_help=False)
    log_options(options)
    known, rest = options.parse_known_args(argv)
    if known.log_level or known.log_format:
        setup_logging(LogSettings.resolve(known.log_level, known.log_format), "octogate-smsc-sim")
    config = config_from_args(rest)
    try:
        return serve_simulator(config)
    except OSError as error:
        fail(f"the SMSC simulator cannot listen on {config.host}:{config.port}: {error.strerror or error}")


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> None:
    """Loading the settings checked them (main exits 2 with every problem); here they are fine."""
    from octogate.store.db import DatabaseURL

    print(f"configuration OK; database {DatabaseURL.parse(settings.database_url).redacted()}")


def cmd_backup(args: argparse.Namespace, settings: Settings) -> None:
    from octogate.backup import BackupRefused, backup_database

    url = settings.with_overrides(database_url=args.database_url).database_url
    try:
        size = backup_database(url, args.path, overwrite=args.overwrite)
    except BackupRefused as refusal:
        raise CommandError(str(refusal)) from None
    print(f"backup written: {args.path} ({size} bytes)")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from octogate.server import run

    settings = settings.with_overrides(
        admin=args.admin,
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
    run(settings, args.logs)
