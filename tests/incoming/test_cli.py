"""`octogate status TICKET` and `octogate stops LOGIN`, run through their own argparse wiring."""

from __future__ import annotations

import argparse

import httpx
import pytest

from octogate.cli import CommandError
from octogate.cli.incoming import add_incoming_commands
from octogate.config import Settings
from octogate.incoming.apply import apply_receipts
from octogate.incoming.model import ReceiptUpdate
from octogate.store import delivery, queries
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import Clock, Customer, send

from .test_receipts import _submitted_message


def run(store: Store, *argv: str) -> None:
    parser = argparse.ArgumentParser()
    add_incoming_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([*argv, "--database-url", store.url.target if store.url.dialect != "sqlite"
                              else f"sqlite:///{store.url.target}"])  # fmt: skip
    args.handler(args, Settings())


async def test_status_shows_the_campaign_its_recipients_parts_and_receipts(
    store: Store, customer: Customer, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign, message_id = _submitted_message(store, customer, ("0a1", "0a2"))
    now = 1_790_000_000  # 2026-09-21 16:13:20 Paris
    updates = [ReceiptUpdate("sim", "a1", "DELIVRD", "000", now, now),
               ReceiptUpdate("sim", "a2", "UNDELIV", "007", now, now)]  # fmt: skip
    await store.write(apply_receipts, updates)
    run(store, "status", ticket_for(campaign))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        f"campaign {ticket_for(campaign)}  account {customer.login}  type FR (marketing)"
    )
    assert out[2] == "messages: undelivered 1"
    assert out[3].split()[:5] == ["+33601020304", "undelivered", "receipt", "NOT_DELIVERED", "attempts"]
    assert "done 2026-09-21 16:13:20" in out[3]
    assert out[4].split()[:7] == ["part", "1", "via", "sim", "id", "0a1:", "DELIVRD"]
    assert out[5].endswith("done 2026-09-21 16:13:20  err 007")
    assert store.run(delivery.message_state, message_id)[0] == "undelivered"
    with pytest.raises(CommandError, match="no campaign"):
        run(store, "status", ticket_for(campaign + 1))
    with pytest.raises(CommandError, match="not a ticket"):
        run(store, "status", "nope")


def test_stops_lists_adds_and_removes_normalised_numbers(
    store: Store, customer: Customer, capsys: pytest.CaptureFixture[str]
) -> None:
    run(store, "stops", customer.login, "--add", "0033 6 01 02 03 04")
    run(store, "stops", customer.login, "--add", "+33601020304")
    run(store, "stops", customer.login.upper())
    run(store, "stops", customer.login, "--remove", "33601020304")
    run(store, "stops", customer.login, "--remove", "33601020304")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{customer.login}: +33601020304 added to the STOP list"
    assert out[1] == f"{customer.login}: +33601020304 already on the STOP list"
    assert out[2].startswith("+33601020304 ") and out[2].endswith("added by the operator")
    assert out[3] == f"1 number(s) on the STOP list of {customer.login}"
    assert out[4] == f"{customer.login}: +33601020304 removed from the STOP list"
    assert out[5] == f"{customer.login}: +33601020304 was not on the STOP list"
    with pytest.raises(CommandError):
        run(store, "stops", customer.login, "--add", "hello")


async def test_a_number_the_operator_puts_on_the_stop_list_loses_its_queued_marketing_refunded(
    api: httpx.AsyncClient, store: Store, customer: Customer, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    later = int(clock.now) + 86_400
    campaign = await send(api, customer, sms_recipients="+33601020304,+33601020305", sms_mode=2, sending_date=later)
    before = store.run(queries.account, customer.login).balance
    run(store, "stops", customer.login, "--add", "+33601020304")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{customer.login}: +33601020304 added to the STOP list",
        f"{customer.login}: 1 queued marketing message(s) to +33601020304 cancelled and refunded",
    ]
    assert {m[0]: m[4] for m in store.run(queries.campaign_messages, campaign)} == {
        "+33601020304": "failed", "+33601020305": "queued",
    }  # fmt: skip
    assert store.run(queries.account, customer.login).balance > before
    run(store, "status", ticket_for(campaign))
    assert "error 114: the number sent STOP" in capsys.readouterr().out
