"""`octogate send` and `octogate balance`: the customer's side of the API, from a shell.

`add_client_commands` registers both verbs on the main `octogate` parser; `python -m octogate.client.cli`
runs them alone. The API key is never printed: not in results, not in errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from octogate.client.answers import Failure, SendResult
from octogate.client.batches import CsvError, batches, read_recipients
from octogate.client.bulk import BatchOutcome, BulkSummary, send_batches
from octogate.client.core import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from octogate.client.credentials import (
    ENV_API_KEY,
    ENV_LOGIN,
    ENV_URL,
    Credentials,
    CredentialsError,
    resolve,
)
from octogate.client.errors import OctopushClientError
from octogate.client.fields import Sms, SmsType
from octogate.client.progress import Progress
from octogate.client.rest import DEFAULT_REST_URL
from octogate.client.rest_cli import cmd_send_rest
from octogate.client.sync import OctopushClient, OctopushRestClient

DEFAULT_BATCH_SIZE = 500
FAILURES_SHOWN = 5


def add_client_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register `send` and `balance` on the main parser's subcommands."""
    send = subparsers.add_parser(
        "send",
        help="send an SMS campaign through the Octopush API (or an octogate)",
        description="Send to --to numbers, or to every row of a --csv file in campaigns of --batch-size.",
    )
    send.add_argument(
        "--api",
        choices=["1.6.1", "rest"],
        default="1.6.1",
        help="the form API /api/sms (default) or the current REST API /v1/public (JSON)",
    )
    to = send.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", metavar="NUMBERS", help="comma-separated numbers, +33601020304,+447911123456")
    to.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="header row with number (or recipient, phone) and optional first_name, last_name, field1..field3",
    )
    send.add_argument(
        "--text", required=True, help="the message; {prenom} {nom} {ch1} {ch2} {ch3} are merged"
    )
    send.add_argument(
        "--type",
        dest="sms_type",
        choices=[t.value for t in SmsType],
        default=SmsType.PREMIUM.value,
        help="FR premium (default), XXX low cost, WWW world",
    )
    send.add_argument(
        "--sender", help="3 to 11 letters or digits (required unless --type XXX; with --api rest: the default)"
    )
    send.add_argument(
        "--at",
        type=when,
        metavar="ISO-DATETIME",
        help="send later, e.g. 2026-12-24T09:30+01:00 (no offset: local)",
    )
    send.add_argument(
        "--simulate", action="store_true", help="validate and price only: nothing is sent or billed"
    )
    send.add_argument("--transactional", action="store_true", help="a confirmation or alert, never marketing")
    send.add_argument("--with-replies", action="store_true", help="have replies pushed to your reply URL")
    send.add_argument("--msisdn-sender", action="store_true", help="the sender is a phone number")
    send.add_argument("--request-id", help="idempotency key (with --csv, batch N is sent as ID-N)")
    send.add_argument("--request-keys", metavar="KEYS", help="sign these fields with request_sha1, e.g. TRYS")
    send.add_argument(
        "--batch-size",
        type=positive,
        default=DEFAULT_BATCH_SIZE,
        help=f"numbers per campaign with --csv (default {DEFAULT_BATCH_SIZE})",
    )
    _account_options(send)
    send.set_defaults(handler=cmd_send)

    balance = subparsers.add_parser("balance", help="the account's balance (SMS equivalents and money)")
    _account_options(balance)
    balance.set_defaults(handler=cmd_balance)


def _account_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "account (options beat environment variables, which beat the config file)"
    )
    group.add_argument("--login", help=f"account login (or {ENV_LOGIN})")
    group.add_argument(
        "--api-key",
        help=f"API key (or {ENV_API_KEY}; prefer it: options show in ps); a key starting with '-': --api-key=KEY",
    )
    group.add_argument("--url", help=f"API base URL (or {ENV_URL}; default Octopush's)")
    group.add_argument(
        "--client-config",
        type=Path,
        metavar="FILE",
        help="TOML file (default ~/.config/octogate/client.toml)",
    )
    group.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per request")


def when(raw: str) -> datetime:
    """ISO 8601; without an offset, the computer's local time."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date and time: {raw!r}") from None
    return moment if moment.utcoffset() is not None else moment.astimezone()


def positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {raw!r}")
    return value


def cmd_send(args: argparse.Namespace, settings: object = None) -> None:
    """`settings` (the gateway's) is unused: the client talks to an API, not to a database."""
    if getattr(args, "api", "1.6.1") == "rest":
        credentials = _credentials(args)
        url = DEFAULT_REST_URL if credentials.base_url == DEFAULT_BASE_URL else credentials.base_url
        with OctopushRestClient(credentials.login, credentials.api_key, base_url=url, timeout=args.timeout) as rest:
            cmd_send_rest(args, rest, fail)
        return
    template = Sms(
        recipients=(),
        text=args.text,
        sms_type=SmsType(args.sms_type),
        sender=args.sender,
        sending_date=args.at,
        simulation=args.simulate,
        request_id=args.request_id,
        with_replies=args.with_replies,
        transactional=args.transactional,
        msisdn_sender=args.msisdn_sender,
        request_keys=args.request_keys,
    )
    with _client(args) as client:
        if args.csv is not None:
            _send_csv(client, template, args.csv, args.batch_size)
            return
        numbers = [number.strip() for number in args.to.split(",") if number.strip()]
        try:
            result = client.send_sms(replace(template, recipients=numbers))
        except (OctopushClientError, ValueError) as error:
            fail(str(error))
        print_result(result)


def cmd_balance(args: argparse.Namespace, settings: object = None) -> None:
    with _client(args) as client:
        try:
            balance = client.balance()
            credit = client.credit()
        except OctopushClientError as error:
            fail(str(error))
    print(f"premium (FR): {balance.premium} SMS")
    print(f"low cost (XXX): {balance.low_cost} SMS")
    print(f"credit: {credit}")


def print_result(result: SendResult) -> None:
    currency = f" {result.currency}" if result.currency else ""
    if result.simulated:
        print("simulation: nothing was sent or billed")
    print(f"ticket: {result.ticket}")
    print(f"cost: {result.cost}{currency}")
    print(f"balance: {result.balance}{currency}")
    print(f"sending date: {result.sending_date.astimezone().isoformat()}")
    print(f"sms: {result.number_of_sendings}")
    _print_failures(result.failures)


def _send_csv(client: OctopushClient, template: Sms, path: Path, size: int) -> None:
    try:
        recipients = read_recipients(path)
    except CsvError as error:
        fail(str(error))
    if recipients.skipped:
        lines = ", ".join(str(line) for line in recipients.skipped[:FAILURES_SHOWN])
        print(
            f"octogate: skipped {len(recipients.skipped)} rows without a number (lines {lines}…)",
            file=sys.stderr,
        )
    if not recipients.numbers:
        fail(f"{path} has no numbers")
    progress = Progress(len(recipients.numbers), sys.stderr)
    done = 0

    def report(outcome: BatchOutcome) -> None:
        nonlocal done
        done += len(outcome.batch.numbers)
        batch = outcome.batch
        if outcome.error is not None:
            progress.message(
                f"campaign {batch.index} (lines {batch.first_line}-{batch.last_line}) failed: {outcome.error}"
            )
        progress.update(done, f"numbers, campaign {batch.index}")

    summary = send_batches(client, template, batches(recipients, size), report)
    progress.finish()
    print_summary(summary)
    if summary.failed_batches or recipients.skipped:
        sys.exit(1)


def print_summary(summary: BulkSummary) -> None:
    currency = f" {summary.currency}" if summary.currency else ""
    print(f"campaigns: {len(summary.sent)} sent, {len(summary.failed_batches)} failed")
    print(f"tickets: {', '.join(summary.tickets) or 'none'}")
    print(f"total cost: {summary.total_cost}{currency}")
    if summary.sent:
        print(f"balance: {summary.sent[-1].balance}{currency}")
    for outcome in summary.failed_batches:
        batch = outcome.batch
        print(f"failed campaign {batch.index} (lines {batch.first_line}-{batch.last_line}): {outcome.error}")
    _print_failures(summary.failures)


def _print_failures(failures: Sequence[Failure]) -> None:
    print(f"failures: {len(failures)}")
    for failure in failures[:FAILURES_SHOWN]:
        print(f"  {failure.recipient}: {failure.code:03d} {failure.meaning}")
    if len(failures) > FAILURES_SHOWN:
        print(f"  … and {len(failures) - FAILURES_SHOWN} more")


def _client(args: argparse.Namespace) -> OctopushClient:
    credentials = _credentials(args)
    return OctopushClient(
        credentials.login, credentials.api_key, base_url=credentials.base_url, timeout=args.timeout
    )


def _credentials(args: argparse.Namespace) -> Credentials:
    try:
        return resolve(login=args.login, api_key=args.api_key, url=args.url, config=args.client_config)
    except CredentialsError as error:
        fail(str(error))


def fail(message: str) -> NoReturn:
    print(f"octogate: error: {message}", file=sys.stderr)
    sys.exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="octogate", description="Octopush API client")
    add_client_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        args.handler(args, None)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
