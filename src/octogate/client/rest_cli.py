"""`octogate send --api rest`: the same verb through Octopush's current REST API (JSON, /v1/public).

Options mean what they mean for the 1.6.1 API: `--type FR` is sms_premium (WWW too), `XXX` sms_low_cost;
`--transactional` is the purpose alert, else wholesale (marketing); with `--csv` the columns first_name,
last_name, field1..field3 fill {first_name}, {last_name}, {param1}..{param3}, 500 numbers per campaign at most.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import NoReturn

from octogate.client.batches import Batch, CsvError, batches, read_recipients
from octogate.client.errors import OctopushClientError
from octogate.client.progress import Progress
from octogate.client.rest import Purpose, Recipient, RestSendResult, RestSms, RestSmsType
from octogate.client.sync import OctopushRestClient

MAX_RECIPIENTS = 500
TYPES = {"FR": RestSmsType.PREMIUM, "WWW": RestSmsType.PREMIUM, "XXX": RestSmsType.LOW_COST}
#: CSV mail-merge attribute (client.batches) → the REST placeholder it fills
PLACEHOLDERS = {"first_names": "first_name", "last_names": "last_name", "fields_1": "param1",
                "fields_2": "param2", "fields_3": "param3"}  # fmt: skip


def cmd_send_rest(args: argparse.Namespace, client: OctopushRestClient, fail: Callable[[str], NoReturn]) -> None:
    if args.msisdn_sender or args.request_keys:
        fail("--msisdn-sender and --request-keys belong to the 1.6.1 API (--api 1.6.1)")
    template = RestSms(
        recipients=(),
        text=args.text,
        type=TYPES[args.sms_type],
        purpose=Purpose.ALERT if args.transactional else Purpose.WHOLESALE,
        sender=args.sender,
        send_at=args.at,
        with_replies=args.with_replies,
        simulation_mode=args.simulate,
        request_id=args.request_id,
    )
    if args.csv is None:
        numbers = [number.strip() for number in args.to.split(",") if number.strip()]
        try:
            result = client.send_sms(replace(template, recipients=numbers))
        except (OctopushClientError, ValueError) as error:
            fail(str(error))
        print_rest_result(result)
        return
    try:
        recipients = read_recipients(args.csv)
    except CsvError as error:
        fail(str(error))
    if not recipients.numbers:
        fail(f"{args.csv} has no numbers")
    progress = Progress(len(recipients.numbers), sys.stderr)
    sent: list[RestSendResult] = []
    failed: list[str] = []
    done = 0
    for batch in batches(recipients, min(args.batch_size, MAX_RECIPIENTS)):
        request_id = f"{args.request_id}-{batch.index}" if args.request_id else None
        try:
            sent.append(client.send_sms(replace(template, recipients=rest_recipients(batch), request_id=request_id)))
        except (OctopushClientError, ValueError) as error:
            failed.append(f"campaign {batch.index} (lines {batch.first_line}-{batch.last_line}): {error}")
            progress.message(f"failed {failed[-1]}")
        done += len(batch.numbers)
        progress.update(done, f"numbers, campaign {batch.index}")
    progress.finish()
    print(f"campaigns: {len(sent)} sent, {len(failed)} failed")
    print(f"tickets: {', '.join(result.sms_ticket for result in sent) or 'none'}")
    print(f"total cost: {sum((result.total_cost for result in sent), Decimal(0))}")
    if sent:
        print(f"residual credit: {sent[-1].residual_credit}")
    for line in failed:
        print(f"failed {line}")
    if failed or recipients.skipped:
        sys.exit(1)


def rest_recipients(batch: Batch) -> list[Recipient]:
    recipients = []
    for position, number in enumerate(batch.numbers):
        values = {PLACEHOLDERS[attr]: column[position] or None for attr, column in batch.merge.items()}
        recipients.append(Recipient(number, **values))
    return recipients


def print_rest_result(result: RestSendResult) -> None:
    if result.simulated:
        print("simulation: nothing was sent or billed")
    print(f"ticket: {result.sms_ticket}")
    print(f"contacts: {result.number_of_contacts}")
    print(f"sms: {result.number_of_sms_needed}")
    print(f"cost: {result.total_cost}")
    print(f"residual credit: {result.residual_credit}")
