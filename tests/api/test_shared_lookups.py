"""A customer's requests arriving together share the API's one read, and never see older state than alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from octogate.http.app import OctopushApp
from octogate.store import queries
from octogate.store.records import NewCampaign, NewMessage
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for
from support import Customer, code, make_customer, xml

FR_TEXT = "Hello STOP au XXXXX"


def sms(customer: Customer, recipient: str) -> dict[str, str]:
    return customer.params(sms_text=FR_TEXT, sms_recipients=recipient, sms_type="FR", sms_sender="Shop")


def count_lookups(store: Store, hold_first: asyncio.Event | None = None) -> tuple[list[str], asyncio.Event]:
    """Spy on the store's reads: the logins looked up; with `hold_first`, the first lookup answers only once
    that event is set (its read itself is done at once; the returned event says so)."""
    lookups: list[str] = []
    first_read = asyncio.Event()
    original = store.read

    async def read(fn: Callable[..., Any], *args: Any) -> Any:
        if fn is not queries.gateway_and_account:
            return await original(fn, *args)
        lookups.append(args[0])
        found = await original(fn, *args)
        if hold_first is not None and len(lookups) == 1:
            first_read.set()
            await hold_first.wait()
        return found

    store.read = read  # type: ignore[method-assign]
    return lookups, first_read


async def test_a_burst_is_answered_whole_with_exact_balances_and_fewer_reads(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    lookups, _ = count_lookups(store)
    before = store.run(queries.account, customer.login).balance
    answers = await asyncio.gather(
        *(api.post("/api/sms", data=sms(customer, f"+336010203{n:02d}")) for n in range(30))
    )
    assert [code(answer) for answer in answers] == ["000"] * 30
    tickets = {xml(answer).findtext("ticket") for answer in answers}
    assert len(tickets) == 30
    balances = sorted(float(xml(answer).findtext("balance") or "") for answer in answers)
    assert len(set(balances)) == 30  # each answer shows the balance after its own debit
    after = store.run(queries.account, customer.login).balance
    assert after == before - 30 * 65_000
    assert round(balances[0] * 1_000_000) == after
    assert 1 <= len(lookups) < 30


async def test_a_request_arriving_after_a_change_sees_it_even_while_an_earlier_read_is_answered(
    app: OctopushApp, api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    release = asyncio.Event()
    lookups, first_read = count_lookups(store, hold_first=release)
    first = asyncio.create_task(api.post("/api/sms", data=sms(customer, "+33601020304")))
    await first_read.wait()  # the first request's read is done (the gateway was running), not yet answered
    store.run(queries.set_paused, True)
    # Bounded: a request that joined the held read would wait for it (and, had it not been held, read 000).
    later = await asyncio.wait_for(api.post("/api/sms", data=sms(customer, "+33601020305")), timeout=30)
    assert code(later) == "116"  # it did not take the earlier read's answer
    release.set()
    assert code(await first) == "000"
    assert len(lookups) == 2
    store.run(queries.set_paused, False)


def count_writes(store: Store) -> list[str]:
    """Spy on the store's writes: the name of each operation written."""
    writes: list[str] = []
    original = store.write

    async def write(fn: Callable[..., Any], *args: Any) -> Any:
        writes.append(fn.__name__)
        return await original(fn, *args)

    store.write = write  # type: ignore[method-assign]
    return writes


async def test_a_burst_of_campaigns_is_stored_whole_each_with_its_own_ticket_messages_and_ledger_row(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    writes = count_writes(store)
    numbers = [f"+3361020{n:04d},+3362020{n:04d}" for n in range(25)]
    answers = await asyncio.gather(*(api.post("/api/sms", data=sms(customer, to)) for to in numbers))
    assert [code(answer) for answer in answers] == ["000"] * 25
    assert "insert_campaigns" in writes and len(writes) < 25  # stored together, not one write each
    account = store.run(queries.account, customer.login)
    ledger = {entry.campaign_id: entry for entry in store.run(queries.ledger, account.id, 100)}
    for to, answer in zip(numbers, answers, strict=True):
        document = xml(answer)
        campaign_id = campaign_id_for(document.findtext("ticket") or "")
        assert campaign_id is not None
        stored = store.run(queries.campaign_messages, campaign_id)
        assert [m.recipient for m in stored] == to.split(",")  # its own numbers, in order
        entry = ledger[campaign_id]
        assert entry.amount == -130_000
        assert entry.balance_after == round(float(document.findtext("balance") or "") * 1_000_000)
    assert sorted(entry.balance_after for entry in ledger.values() if entry.campaign_id) == sorted(
        account.balance + 130_000 * k for k in range(25)
    )


async def test_a_burst_beyond_the_credit_accepts_what_one_by_one_would_and_refuses_the_rest(
    api: httpx.AsyncClient, store: Store
) -> None:
    poor = make_customer(store, credit="0.33")  # five SMS to France at 0.065
    answers = await asyncio.gather(*(api.post("/api/sms", data=sms(poor, f"+336010203{n:02d}")) for n in range(8)))
    assert sorted(code(answer) for answer in answers) == ["000"] * 5 + ["104"] * 3
    assert store.run(queries.account, poor.login).balance == 330_000 - 5 * 65_000


def test_campaigns_stored_together_each_get_their_own_row_ledger_entry_and_messages(store: Store) -> None:
    customer = make_customer(store)
    account = store.run(queries.account, customer.login)
    group = [
        (NewCampaign(
            account_id=account.id, request_id=None, source="http", sms_type="FR", sender=f"S{n}",
            sender_is_msisdn=False, text=f"text {n}", transactional=n % 2 == 0, with_replies=False, sms=n + 1,
            cost=1000 * (n + 1), send_at=1_800_000_000 + n,
            messages=[NewMessage(recipient=f"+3361{n:02d}0000{k}", country="FR", calling_code=33, text=None, sms=1,
                                 cost=1000) for k in range(n + 1)],
        ), 1_700_000_000 + n)
        for n in range(7)
    ]  # fmt: skip
    accepted = store.run(queries.insert_campaigns, group)
    assert accepted is not None
    balance = account.balance
    for (campaign, now), stored in zip(group, accepted, strict=True):
        balance -= campaign.cost
        assert stored.balance == balance
        row = store.run(lambda conn, i: conn.fetchone(
            "SELECT text, sender, cost, send_at, created_at, transactional FROM campaigns WHERE id = ?", (i,)
        ), stored.campaign_id)  # fmt: skip
        expected = (campaign.text, campaign.sender, campaign.cost, campaign.send_at, now, int(campaign.transactional))
        assert row == expected
        messages = store.run(queries.campaign_messages, stored.campaign_id)
        assert [m.recipient for m in messages] == [m.recipient for m in campaign.messages]
    ledger = {entry.campaign_id: entry for entry in store.run(queries.ledger, account.id, 100)}
    assert [(ledger[a.campaign_id].amount, ledger[a.campaign_id].balance_after) for a in accepted] == [
        (-c.cost, a.balance) for (c, _), a in zip(group, accepted, strict=True)
    ]
    assert store.run(queries.account, customer.login).balance == balance
