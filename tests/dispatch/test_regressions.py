"""Found in review: ways a customer's SMS could be sent twice or a STOP credited to the wrong account."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from octogate.config import DispatchSettings
from octogate.dispatch import dispatcher as dispatcher_module
from octogate.http.app import OctopushApp
from octogate.incoming.apply import apply_receipts
from octogate.incoming.model import IncomingText, ReceiptUpdate
from octogate.incoming.submits import record_outcomes
from octogate.incoming.texts import take_text
from octogate.smpp.simulator import SimulatorConfig
from octogate.store import delivery, incoming, outbox, queries
from octogate.store.delivery import AcceptedPart, Outcome
from octogate.store.store import Store
from support import Clock, Customer, eventually, make_customer, send

from .conftest import ACCOUNTS, connector, delivering

LONG_TEXT = (
    "Our summer sale starts today: every item is twenty percent off until Sunday. " * 3 + "STOP au XXXXX"
)


async def test_a_part_whose_receipt_came_back_is_not_sent_again(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    async with delivering(store, clock, app=app, dispatcher=False) as d:
        campaign = await send(api, customer, sms_recipients="+33601020304", sms_text=LONG_TEXT)
        [(message_id, _)] = await store.read(delivery.campaign_message_ids, campaign)
        now = int(clock.now)
        account = store.run(queries.account, customer.login).id
        await store.write(delivery.claim, "earlier", now, now + 60, {account: 5})
        # Part 1 was accepted, then a transient failure: the message is queued again for its other parts...
        first = Outcome(
            message_id, "queued", "sim", (AcceptedPart(1, "carrier-1"),), error="lost", send_at=now
        )
        await store.write(record_outcomes, "earlier", [first], now)
        # ...and part 1's receipt comes back before the retry.
        await store.write(
            apply_receipts, [ReceiptUpdate("sim", "carrier-1", "DELIVRD", None, now, now)]
        )
        await d.start_dispatcher()

        async def submitted() -> bool:
            return (await store.read(delivery.message_state, message_id))[0] == "submitted"

        await eventually(submitted, what="the rest of the message submitted")
        [part] = d.sim.parts  # part 1 is not sent a second time
        assert part.concat is not None and part.concat[1:] == (2, 2)  # (ref, total, seq): the second of two


async def test_a_stop_goes_to_the_account_that_sent_last(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, clock: Clock
) -> None:
    early, late = make_customer(store), make_customer(store)
    for customer in (early, late):
        store.run(outbox.set_urls, customer.login, {"stop": "http://customer.test/stop"})
    now = int(clock.now)
    # `early` schedules its campaign for tomorrow; `late` sends now; `early`'s goes out tomorrow.
    scheduled = await send(api, early, sms_recipients="+33601020304", sms_mode=2, sending_date=now + 86400)
    immediate = await send(api, late, sms_recipients="+33601020304")
    with store.connect() as conn:
        for campaign, at in ((immediate, now), (scheduled, now + 86400)):
            conn.execute(
                "UPDATE messages SET status = 'submitted', submitted_at = ? WHERE campaign_id = ?",
                (at, campaign),
            )
    stop = IncomingText("sim", "33601020304", "+33601020304", "36179", "STOP", now + 86460)
    store.run(take_text, stop, True)
    early_id, late_id = (store.run(queries.account, c.login).id for c in (early, late))
    assert [row.number for row in store.run(incoming.stops, early_id)] == ["+33601020304"]
    assert store.run(incoming.stops, late_id) == []


async def test_a_clock_jump_past_the_lease_does_not_send_twice(
    api: httpx.AsyncClient,
    app: OctopushApp,
    store: Store,
    customer: Customer,
    clock: Clock,
    monkeypatch: object,
) -> None:
    setattr(dispatcher_module, "SWEEP_EVERY", 0.2)  # noqa: B010 - restored below
    try:
        sim = SimulatorConfig(accounts=dict(ACCOUNTS), latency_ms=1500)
        settings = DispatchSettings(poll_interval=0.05, lease_seconds=60)
        async with delivering(
            store,
            clock,
            app=app,
            sim=sim,
            connectors=lambda port: [connector("sim", port)],
            settings=settings,
        ) as d:
            await send(api, customer, sms_recipients=",".join(f"+336{n:08d}" for n in range(10)))
            await d.sim.wait_for(lambda: len(d.sim.parts) >= 1, within=10)
            clock.now += 61  # the wall clock jumps past the lease while submits are on the wire
            await asyncio.sleep(1.0)  # several sweeps run

            async def all_submitted() -> bool:
                return (await store.read(delivery.status_counts)).get("submitted", 0) == 10

            await eventually(all_submitted, what="every message submitted")
        sent = Counter(part.destination_addr for part in d.sim.parts)
        assert len(sent) == 10 and set(sent.values()) == {1}
    finally:
        setattr(dispatcher_module, "SWEEP_EVERY", 5.0)  # noqa: B010


async def test_a_message_the_smsc_accepted_is_not_sent_again_when_its_outcome_cannot_be_recorded(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock, monkeypatch: object
) -> None:
    recipients = [f"+336{n:08d}" for n in range(5)]
    campaign = await send(api, customer, sms_recipients=",".join(recipients))
    bad_id = dict((r, i) for i, r in await store.read(delivery.campaign_message_ids, campaign))[recipients[2]]

    def poisoned(conn: object, owner: str, outcomes: list[Outcome], now: int) -> list[int]:
        if any(o.message_id == bad_id for o in outcomes):
            raise ValueError("a bug in recording")
        return record_outcomes(conn, owner, outcomes, now)  # type: ignore[arg-type]

    monkeypatch.setattr(dispatcher_module, "record_outcomes", poisoned)  # type: ignore[attr-defined]
    async with delivering(store, clock, app=app, connectors=lambda port: [connector("sim", port)]) as d:
        d.wake()

        async def all_settled() -> bool:
            return (await store.read(delivery.status_counts)) == {"submitted": 5}

        await eventually(all_settled, what="every message settled")
        # the bad one went out once and is settled as such (its validity will end it), never queued again
        with store.connect() as conn:
            row = conn.fetchone("SELECT status, error, claimed_by FROM messages WHERE id = ?", (bad_id,))
        assert row is not None and row[0] == "submitted" and row[2] is None
        assert row[1].startswith("internal error while recording: ValueError")
        assert Counter(p.destination_addr for p in d.sim.parts) == Counter(r[1:] for r in recipients)
