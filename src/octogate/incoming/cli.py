"""The operator's view of what came back: `octogate status TICKET` (a campaign, its recipients, their parts
and receipts) and `octogate stops LOGIN` (an account's STOP list, `--add` / `--remove` a number).
Dates are shown in Europe/Paris, like the pushes."""

from __future__ import annotations

import argparse
import time
from typing import Any

from octogate.cli import CommandError, _database_option, with_store
from octogate.config import Settings
from octogate.incoming.payloads import paris_date
from octogate.incoming.texts import Stopped, stop_number
from octogate.service import normalise_login
from octogate.sms.numbers import NumberError, normalise
from octogate.store import incoming, queries
from octogate.store.incoming import CampaignView
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for, ticket_for


def add_incoming_commands(commands: Any) -> None:
    """Add `status` and `stops` to the top-level commands."""
    status = commands.add_parser("status", help="a campaign's recipients, parts and receipts")
    status.add_argument("ticket", help="the campaign's ticket (api…)")
    status.add_argument("--limit", type=int, default=1000, help="recipients shown at most (default 1000)")
    _database_option(status)
    status.set_defaults(handler=cmd_status)
    stops = commands.add_parser("stops", help="an account's STOP list; add or remove a number")
    stops.add_argument("login")
    group = stops.add_mutually_exclusive_group()
    group.add_argument("--add", metavar="NUMBER", help="put a number on the list")
    group.add_argument("--remove", metavar="NUMBER", help="take a number off the list")
    _database_option(stops)
    stops.set_defaults(handler=cmd_stops)


def _date(epoch: int | None) -> str:
    return paris_date(epoch) if epoch else "-"


def render_campaign(view: CampaignView) -> list[str]:
    kind = "transactional" if view.transactional else "marketing"
    counts = ", ".join(f"{status} {count}" for status, count in sorted(view.counts.items())) or "no messages"
    lines = [
        f"campaign {ticket_for(view.id)}  account {view.login}  type {view.sms_type} ({kind}"
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
    campaign_id = campaign_id_for(args.ticket)
    if campaign_id is None:
        raise CommandError(f"not a ticket: {args.ticket[:40]!r}")
    view = with_store(
        args, settings, lambda store: store.run(incoming.campaign_view, campaign_id, args.limit)
    )
    if view is None:
        raise CommandError(f"no campaign with ticket {args.ticket[:40]!r}")
    print("\n".join(render_campaign(view)))


def _number(raw: str) -> str:
    try:
        return normalise(raw).e164
    except NumberError as error:
        raise CommandError(str(error)) from None


def cmd_stops(args: argparse.Namespace, settings: Settings) -> None:
    login = normalise_login(args.login)
    number = _number(args.add or args.remove) if (args.add or args.remove) else None

    def act(store: Store) -> list[tuple[str, str | None, int]] | bool | Stopped:
        account = store.run(queries.account, login)
        if args.add:  # the number's queued marketing is cancelled and refunded in the same transaction
            return store.run(stop_number, account.id, number, "added by the operator", int(time.time()))
        if args.remove:
            return store.run(incoming.remove_stop, account.id, number)
        return store.run(incoming.stops, account.id)

    result = with_store(args, settings, act)
    if args.add:
        assert isinstance(result, Stopped)
        print(f"{login}: {number} {'added to' if result.added else 'already on'} the STOP list")
        if result.cancelled:
            print(f"{login}: {result.cancelled} queued marketing message(s) to {number} cancelled and refunded")
    elif args.remove:
        print(f"{login}: {number} {'removed from' if result else 'was not on'} the STOP list")
    else:
        assert isinstance(result, list)
        for stopped, text, created in result:
            print(f"{stopped:<16} {paris_date(created)}  {(text or '')[:60]}")
        print(f"{len(result)} number(s) on the STOP list of {login}")
