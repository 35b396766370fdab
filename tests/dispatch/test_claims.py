"""Claims: fair between accounts, never twice, nothing lost after a crash, accepted parts never resent."""

from __future__ import annotations

from collections import Counter

import httpx

from octogate.config import DispatchSettings, RouteConfig
from octogate.dispatch.routing import Router
from octogate.http.app import OctopushApp
from octogate.incoming.submits import record_outcomes
from octogate.smpp.client import SmppClient
from octogate.smpp.simulator import SimulatorConfig
from octogate.store import delivery
from octogate.store.delivery import AcceptedPart, Outcome
from octogate.store.store import Store
from support import Clock, Customer, eventually, make_customer, send

from .conftest import ACCOUNTS, closed_port, connector, delivering

LONG_TEXT = (
    "Our summer sale starts today: every item is twenty percent off until Sunday. " * 3 + "STOP au XXXXX"
)


def numbers(count: int, start: int = 0) -> str:
    return ",".join(f"+336{n:08d}" for n in range(start, start + count))


def slow(latency_ms: float) -> SimulatorConfig:
    return SimulatorConfig(accounts=dict(ACCOUNTS), latency_ms=latency_ms, receipt_delay_ms=60_000)


async def statuses(store: Store) -> dict[str, int]:
    return await store.read(delivery.status_counts)


async def test_one_accounts_big_campaign_does_not_hold_back_another_accounts_message(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, clock: Clock
) -> None:
    big, small = make_customer(store, credit="1000"), make_customer(store)
    async with delivering(store, clock, app=app, sim=slow(20)) as d:
        await send(api, big, sms_recipients=numbers(5000))
        await d.sim.wait_for(lambda: len(d.sim.messages) >= 50, within=30)
        before = len(d.sim.messages)
        await send(api, small, sms_recipients="+447911123456", sms_type="WWW")
        await d.sim.wait_for(
            lambda: any(m.destination_addr == "447911123456" for m in d.sim.messages), within=30
        )
        position = next(i for i, m in enumerate(d.sim.messages) if m.destination_addr == "447911123456")
        # Only what was already buffered or in flight for the big account went out first.
        assert position - before < 500, (before, position)
        assert position < 2500


async def test_two_dispatchers_on_one_database_never_send_a_message_twice(
    api: httpx.AsyncClient,
    app: OctopushApp,
    store: Store,
    customer: Customer,
    clock: Clock,
    database_url: str,
) -> None:
    other = Store(database_url)
    try:
        settings = DispatchSettings(poll_interval=0.02, slice=5)
        async with delivering(store, clock, app=app, dispatcher=False, settings=settings, sim=slow(2)) as d:
            first = await d.start_dispatcher()
            second = await d.start_dispatcher(other)
            for start in range(0, 400, 100):
                await send(api, customer, sms_recipients=numbers(100, start))

            async def all_sent() -> bool:
                return (await statuses(store)) == {"submitted": 400}

            await eventually(all_sent, what="400 messages submitted")
            sent = Counter(part.destination_addr for part in d.sim.parts)
            assert len(sent) == 400
            assert set(sent.values()) == {1}
            assert first.rounds and second.rounds
    finally:
        other.close()


async def test_a_crash_mid_campaign_loses_nothing(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    settings = DispatchSettings(poll_interval=0.05, lease_seconds=60)
    async with delivering(store, clock, app=app, sim=slow(30), settings=settings) as d:
        await send(api, customer, sms_recipients=numbers(300))
        await d.sim.wait_for(lambda: len(d.sim.parts) >= 30, within=30)
        crashed = d.dispatchers.pop()
        await crashed.abort()
        # Through the writers: after any claim or record the dead process had already handed to them (on
        # PostgreSQL outcomes have a writer of their own: an empty record goes through it first).
        await store.write(record_outcomes, "nobody", [], int(clock.now))
        left = await store.write(delivery.status_counts)
        assert left.get("sending", 0) > 0, left  # claims held by the dead process
        held = left["sending"]

        await d.start_dispatcher()

        async def the_rest_sent() -> bool:
            return (await statuses(store)) == {"submitted": 300 - held, "sending": held}

        # Until the dead process's lease runs out, what it held is neither claimed nor sent again.
        await eventually(the_rest_sent, what="every message not held by the dead process submitted")
        assert max(Counter(part.destination_addr for part in d.sim.parts).values()) == 1
        clock.now += 61
        d.wake()

        async def all_sent() -> bool:
            return (await statuses(store)) == {"submitted": 300}

        await eventually(all_sent, what="every message submitted after the restart")
        sent = Counter(part.destination_addr for part in d.sim.parts)
        assert len(sent) == 300  # at least once each
        assert sum(sent.values()) - 300 <= held  # resent: only what the dead process held


async def test_parts_accepted_before_a_transient_failure_are_not_sent_again(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    async with delivering(store, clock, app=app, dispatcher=False) as d:
        campaign = await send(api, customer, sms_recipients="+33601020304", sms_text=LONG_TEXT)
        [(message_id, _)] = await store.read(delivery.campaign_message_ids, campaign)
        now = int(clock.now)
        [claimed] = await store.write(
            delivery.claim, "earlier", now, now + 60, {claimed_account(store, customer): 5}
        )
        assert claimed.id == message_id
        # An earlier attempt got part 1 accepted, then lost its connection.
        first_part = Outcome(
            message_id, "queued", "sim", (AcceptedPart(1, "carrier-1"),), error="lost", send_at=now
        )
        assert await store.write(record_outcomes, "earlier", [first_part], now) == []

        await d.start_dispatcher()

        async def submitted() -> bool:
            return (await store.read(delivery.message_state, message_id))[0] == "submitted"

        await eventually(submitted, what="the message submitted")
        [part] = d.sim.parts
        assert part.concat == (message_id & 0xFF, 2, 2)  # only part 2 of 2, under the message's reference
        rows = await store.read(delivery.message_parts, message_id)
        assert [(seq, carrier) for seq, _, carrier, _ in rows] == [(1, "carrier-1"), (2, part.message_id)]
        assert (await store.read(delivery.message_state, message_id))[2] == 2


def claimed_account(store: Store, customer: Customer) -> int:
    from octogate.store import queries

    return store.run(queries.account, customer.login).id


async def test_a_dispatcher_with_no_bound_connector_claims_nothing_and_starts_once_one_binds(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    down = closed_port()
    async with delivering(store, clock, app=app, connectors=lambda port: [connector("sim", down)]) as d:
        campaign = await send(api, customer, sms_recipients=numbers(3))
        dispatcher = d.dispatchers[0]
        seen = dispatcher.rounds

        async def five_more_rounds() -> bool:
            return dispatcher.rounds >= seen + 5

        await eventually(five_more_rounds, what="claim rounds")
        # Left to hosts that can send: not claimed, no attempt counted, no backoff.
        states = [await store.read(delivery.message_state, i) for i, _ in await store.read(
            delivery.campaign_message_ids, campaign)]  # fmt: skip
        assert [(s[0], s[3]) for s in states] == [("queued", 0)] * 3
        # The runtime adds a connector that binds: the same mapping, read by reference, is used at once.
        bound = SmppClient(connector("live", d.sim.port))
        await bound.start()
        try:
            d.clients["live"] = bound
            dispatcher.router = Router((RouteConfig(connectors=("sim", "live")),))

            async def all_sent() -> bool:
                return (await statuses(store)) == {"submitted": 3}

            await eventually(all_sent, what="the campaign submitted once a connector is bound")
            assert dispatcher.senders == 10 + 10 + 8  # enough senders for the added connector's window too
        finally:
            await bound.stop(grace=1.0)


async def test_a_message_whose_connectors_another_host_holds_is_given_back_without_backoff(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    # This host holds only the French connector's bind; British traffic goes through "world", held elsewhere.
    routes = [RouteConfig(calling_codes=(33,), connectors=("france",)), RouteConfig(connectors=("world",))]
    async with delivering(
        store, clock, app=app, connectors=lambda port: [connector("france", port)], routes=routes
    ) as d:
        french = await send(api, customer, sms_recipients="+33601020304", transactional="1")
        british = await send(api, customer, sms_recipients="+447911123456", sms_type="WWW")
        [(british_id, _)] = await store.read(delivery.campaign_message_ids, british)

        async def british_given_back() -> bool:
            state = await store.read(delivery.message_state, british_id)
            return state.status == "queued" and state.attempts >= 1

        await eventually(british_given_back, what="the British message given back")
        [(french_id, _)] = await store.read(delivery.campaign_message_ids, french)

        async def french_submitted() -> bool:  # claimed in the same round, it may still be on the wire
            return (await store.read(delivery.message_state, french_id)).status == "submitted"

        await eventually(french_submitted, what="the French message submitted")
        with store.connect() as conn:
            row = conn.fetchone("SELECT send_at, error FROM messages WHERE id = ?", (british_id,))
        assert row is not None
        # due again within a second (another host claims it then), not after the 5 s..5 min backoff
        assert row[0] <= clock.now + 1 and "on this host" in row[1]
        assert d.sim.parts and all(p.destination_addr != "447911123456" for p in d.sim.parts)
