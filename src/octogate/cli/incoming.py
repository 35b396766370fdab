"""The operator's view of what came back: `octogate status TICKET` (a campaign, its recipients, their parts
and receipts) and `octogate stops LOGIN` (an account's STOP list, `--add` / `--remove` a number).
Dates are shown in Europe/Paris, like the pushes."""

from __future__ import annotations

import argparse
from typing import Any

from octogate.cli.common import between, database_option, operate
from octogate.cli.gateway import gateway_status
from octogate.config import Settings
from octogate.operations import CampaignView, Operator, ticket_for
from octogate.paris import paris_date
from octogate.service import normalise_login


def add_incoming_commands(commands: Any) -> None:
    """Add `status` and `stops` to the top-level commands."""
    status = commands.add_parser(
        "status", help="the gateway at a glance (connectors, queue, pushes, rates); with a ticket, that campaign"
    )
    status.add_argument(
        "ticket", nargs="?", help="a campaign's ticket (api…, or sms_… from the REST API): its recipients, parts "
        "and receipts",
    )  # fmt: skip
    status.add_argument("--admin", help="the running serve's operator address (or OCTOGATE_ADMIN)")
    status.add_argument(
        "--limit", type=between(1, 1_000_000), default=1000, help="recipients shown at most (default 1000)"
    )
    database_option(status)
    status.set_defaults(handler=cmd_status)
    stops = commands.add_parser("stops", help="an account's STOP list; add or remove a number")
    stops.add_argument("login")
    group = stops.add_mutually_exclusive_group()
    group.add_argument("--add", metavar="NUMBER", help="put a number on the list")
    group.add_argument("--remove", metavar="NUMBER", help="take a number off the list")
    database_option(stops)
    stops.set_defaults(handler=cmd_stops)


def _date(epoch: int | None) -> str:
    return paris_date(epoch) if epoch else "-"


def render_campaign(view: CampaignView, ticket: str | None = None) -> list[str]:
    """`ticket` is the campaign's in the form it was sent with (`sms_…` for a REST campaign; default `api…`)."""
    kind = "transactional" if view.transactional else "marketing"
    counts = ", ".join(f"{status} {count}" for status, count in sorted(view.counts.items())) or "no messages"
    lines = [
        f"campaign {ticket or ticket_for(view.id)}  account {view.login}  type {view.sms_type} ({kind}"
        f"{', with replies' if view.with_replies else ''})  sender {view.sender or '-'}",
        f"created {_date(view.created_at)}  send at {_date(view.send_at)}  (Europe/Paris)",
        f"messages: {counts}",
    ]
    for m in view.messages:
        lines.append(
            f"  {m.recipient:<16} {m.status:<11} receipt {m.receipt_status or '-':<27} attempts {m.attempts}  "
            f"submitted {_date(m.submitted_at)}  done {_date(m.done_at)}"
            + (f"  error {m.error}" if m.error else "")
        )
        for p in m.parts:
            lines.append(
                f"      part {p.seq} via {p.connector} id {p.carrier_id or '-'}: {p.status}  done {_date(p.done_at)}"
                + (f"  err {p.error}" if p.error else "")
            )
    total = sum(view.counts.values())
    if total > len(view.messages):
        lines.append(f"  … {total - len(view.messages)} more recipients (--limit)")
    return lines


def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    if not args.ticket:
        gateway_status(args, settings)
        return

    def look_up(operator: Operator) -> tuple[CampaignView, str]:
        view = operator.campaign(args.ticket, args.limit)
        return view, operator.campaign_ticket(view.id)

    view, ticket = operate(args, settings, look_up)
    print("\n".join(render_campaign(view, ticket)))


def cmd_stops(args: argparse.Namespace, settings: Settings) -> None:
    login = normalise_login(args.login)
    if args.add:
        number, stopped = operate(args, settings, lambda operator: operator.add_stop(login, args.add))
        print(f"{login}: {number} {'added to' if stopped.added else 'already on'} the STOP list")
        if stopped.cancelled:  # its queued marketing was failed (114) and refunded in the same transaction
            print(f"{login}: {stopped.cancelled} queued marketing message(s) to {number} cancelled and refunded")
    elif args.remove:
        number, removed = operate(args, settings, lambda operator: operator.remove_stop(login, args.remove))
        print(f"{login}: {number} {'removed from' if removed else 'was not on'} the STOP list")
    else:
        entries = operate(args, settings, lambda operator: operator.stops(login))
        for entry in entries:
            print(f"{entry.number:<16} {paris_date(entry.created_at)}  {(entry.text or '')[:60]}")
        print(f"{len(entries)} number(s) on the STOP list of {login}")
