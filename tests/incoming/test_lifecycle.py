"""Nothing left hanging, on SQLite and PostgreSQL: a message whose final receipt never comes becomes final and is
pushed after its validity; a STOP cancels and refunds the account's marketing still queued to that number; a
receipt push is dated when the gateway received the final receipt."""

from __future__ import annotations

import httpx

from octogate.cli.incoming import render_campaign
from octogate.http.app import OctopushApp
from octogate.incoming import apply
from octogate.incoming.apply import apply_receipts
from octogate.incoming.handler import IncomingHandler
from octogate.incoming.model import IncomingText, ReceiptUpdate
from octogate.incoming.payloads import paris_date
from octogate.incoming.submits import record_outcomes
from octogate.incoming.texts import claim_sendable, stop_number, take_text
from octogate.store import delivery, incoming, queries, queue
from octogate.store.delivery import AcceptedPart, Outcome
from octogate.store.queue import Want
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import Clock, Customer, send

from .conftest import account_id, pushes, set_urls
from .test_receipts import _claimed_message, _submitted_message

NUMBER = "+33601020304"
VALIDITY = 48 * 3600


def submitted_at(store: Store, customer: Customer, carrier_ids: tuple[str, ...], now: int) -> tuple[int, int]:
    campaign, message_id = _claimed_message(store, customer)
    parts = tuple(AcceptedPart(seq, carrier) for seq, carrier in enumerate(carrier_ids, start=1))
    outcome = Outcome(message_id, "submitted", "sim", parts, len(parts))
    assert store.run(record_outcomes, "me", [outcome], now) == []
    return campaign, message_id


async def test_a_message_without_its_final_receipt_within_its_validity_is_unknown_delivery_and_pushed_once(
    store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    sent = int(clock.now)
    campaign, message_id = submitted_at(store, customer, ("c1", "c2"), sent)
    handler = IncomingHandler(store, clock=clock)  # the default validity: 48 h
    assert handler.validity == VALIDITY
    # one part's receipt came, the other's never does
    assert await store.write(apply_receipts, [ReceiptUpdate("sim", "c1", "DELIVRD", None, sent + 5, sent + 5)]) == [
        "applied"
    ]
    clock.now = sent + VALIDITY - 1
    assert await handler.expire() == 0
    assert (await store.read(delivery.message_state, message_id))[0] == "submitted"
    clock.now = sent + VALIDITY + 1
    await handler.maintain()  # what the maintenance loop runs
    status, _, _, _, receipt = await store.read(delivery.message_state, message_id)
    assert (status, receipt) == ("undelivered", "UNKNOWN_DELIVERY")
    expected = [("receipt", {"message_id": ticket_for(campaign), "number": NUMBER, "status": "UNKNOWN_DELIVERY",
                             "delivery_date": paris_date(int(clock.now))})]  # fmt: skip
    with store.connect() as conn:
        assert pushes(conn, account_id(store, customer)) == expected
    # a receipt arriving after all records its part for the operator, and owes no second push
    late = int(clock.now) + 60
    assert await store.write(apply_receipts, [ReceiptUpdate("sim", "c2", "DELIVRD", None, late, late)]) == ["applied"]
    assert [p[3] for p in await store.read(delivery.message_parts, message_id)] == ["DELIVRD", "DELIVRD"]
    assert (await store.read(delivery.message_state, message_id))[4] == "UNKNOWN_DELIVERY"
    assert await handler.expire() == 0
    with store.connect() as conn:
        assert pushes(conn, account_id(store, customer)) == expected


async def test_overdue_messages_are_given_up_in_bounded_batches(store: Store, customer: Customer) -> None:
    messages = [submitted_at(store, customer, (f"d{n}",), 1_000 + n)[1] for n in range(3)]
    now = 1_000 + VALIDITY + 10
    assert [await store.write(apply.expire_overdue, now, VALIDITY, 2) for _ in range(3)] == [2, 1, 0]
    assert {(await store.read(delivery.message_state, m))[4] for m in messages} == {"UNKNOWN_DELIVERY"}
    handler = IncomingHandler(store, clock=lambda: now, validity=3600)
    fresh = submitted_at(store, customer, ("e1",), now - 3599)[1]
    assert await handler.expire() == 0 and (await store.read(delivery.message_state, fresh))[0] == "submitted"


async def test_a_stop_cancels_and_refunds_the_accounts_marketing_still_queued_to_that_number(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    mine = account_id(store, customer)
    _submitted_message(store, customer, ("f1",))  # marketing the number received: the STOP is this account's
    tomorrow = int(clock.now) + 86_400
    deferred = await send(api, customer, sms_recipients=f"{NUMBER},+33601020305", sms_mode=2, sending_date=tomorrow)
    other = await send(api, customer, sms_recipients=NUMBER, sms_mode=2, sending_date=tomorrow, transactional=1)
    before = store.run(queries.account, customer.login).balance
    [cost] = [m[3] for m in store.run(queries.campaign_messages, deferred) if m[0] == NUMBER]
    assert cost > 0
    stop_at = int(clock.now) + 60
    stop = IncomingText("sim", NUMBER[1:], NUMBER, "36179", "STOP", stop_at)
    assert await store.write(take_text, stop, True) == "stop"

    # the queued marketing message to that number is failed with 114, not the other recipient nor transactional
    states = {m[0]: m[4] for m in store.run(queries.campaign_messages, deferred)}
    assert states == {NUMBER: "failed", "+33601020305": "queued"}
    assert [m[4] for m in store.run(queries.campaign_messages, other)] == ["queued"]
    # refunded in the same transaction, with its ledger row
    assert store.run(queries.account, customer.login).balance == before + cost
    [last, *_] = store.run(queries.ledger, mine)
    assert last[:4] == (cost, before + cost, "refund", deferred) and last[5] == stop_at
    # `octogate status TICKET` says why
    view = store.run(incoming.campaign_view, deferred)
    assert view is not None
    [line] = [line for line in render_campaign(view) if NUMBER in line]
    assert "failed" in line and "error 114: the number sent STOP after the campaign was accepted" in line
    # the STOP is pushed; no receipt push for a message never sent
    with store.connect() as conn:
        assert [kind for kind, _ in pushes(conn, mine)] == ["stop"]
    # a second STOP finds nothing more to cancel and refunds nothing twice
    assert await store.write(take_text, stop, True) == "stop"
    assert store.run(queries.account, customer.login).balance == before + cost


async def test_a_receipt_push_is_dated_when_the_gateway_received_the_final_receipt(
    store: Store, customer: Customer
) -> None:
    store.run(set_urls, customer.login)
    campaign, message_id = _submitted_message(store, customer, ("a1", "a2"))
    first, last = 1_790_000_017, 1_790_000_093  # received; the SMSC's done dates are minutes earlier
    updates = [ReceiptUpdate("sim", "a2", "DELIVRD", None, first - 600, first),
               ReceiptUpdate("sim", "a1", "DELIVRD", None, last - 1200, last)]  # fmt: skip
    assert await store.write(apply_receipts, updates) == ["applied", "applied"]
    with store.connect() as conn:
        assert pushes(conn, account_id(store, customer)) == [
            ("receipt", {"message_id": ticket_for(campaign), "number": NUMBER, "status": "DELIVERED",
                         "delivery_date": paris_date(last)}),
        ]  # fmt: skip
        parts = conn.fetchall("SELECT done_at, received_at FROM message_parts WHERE message_id = ? ORDER BY seq",
                              (message_id,))  # fmt: skip
        assert [tuple(p) for p in parts] == [(last - 1200, last), (first - 600, first)]  # the SMSC's date kept
    assert paris_date(last).endswith(":53")  # seconds included


async def test_a_message_being_sent_when_the_stop_came_is_failed_and_refunded_when_claimed_again(
    api: httpx.AsyncClient, store: Store, customer: Customer, clock: Clock
) -> None:
    mine = account_id(store, customer)
    campaign = await send(api, customer, sms_recipients=f"{NUMBER},+33601020305")
    now = int(clock.now)
    want = Want(default=10, rooms={})
    held = store.run(delivery.claim_fair, "host-a", now, now + 300, want)
    assert sorted(m.recipient for m in held) == [NUMBER, "+33601020305"]
    # the STOP arrives while host-a holds them: nothing queued to cancel yet
    assert store.run(stop_number, mine, NUMBER, "STOP", now).cancelled == 0
    before = store.run(queries.account, customer.login).balance
    # host-a is stopped before sending (or throttled): both are queued again, and host-b claims them
    assert store.run(queue.release, queue.MESSAGES, "host-a", [m.id for m in held], now) == 2
    claimed = store.run(claim_sendable, "host-b", now + 1, now + 301, want)
    assert [m.recipient for m in claimed] == ["+33601020305"]
    [cost] = [m.cost for m in store.run(queries.campaign_messages, campaign) if m.recipient == NUMBER]
    states = {m.recipient: m.status for m in store.run(queries.campaign_messages, campaign)}
    assert states == {NUMBER: "failed", "+33601020305": "sending"}
    assert store.run(queries.account, customer.login).balance == before + cost
    [last, *_] = store.run(queries.ledger, mine)
    assert (last.amount, last.reason, last.campaign_id) == (cost, "refund", campaign)
    view = store.run(incoming.campaign_view, campaign)
    assert view is not None and any("STOP" in (m.error or "") for m in view.messages)
