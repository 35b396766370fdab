"""Binds shared by the cluster: two hosts (two runtimes, each with its own Store on one database) and one SMSC
simulator that counts the binds open against the account, as a real SMSC caps them."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from octogate.config import DispatchSettings, Settings
from octogate.dispatch.binds import BindGroup, dead_local_owner
from octogate.dispatch.runtime import Delivery
from octogate.http.app import OctopushApp
from octogate.smpp.client import ConnectorConfig, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator
from octogate.store import binds, delivery
from octogate.store.store import Store
from support import Clock, Customer, eventually, send

LEASE = 2.0  # seconds: a dead host's binds are taken over within this


def operator(port: int, count: int) -> ConnectorConfig:
    return ConnectorConfig(
        name="operator", host="127.0.0.1", port=port, system_id="octo", password="pw", bind_mode="transceiver",
        reconnect_min=0.02, reconnect_max=0.2, response_timeout=5.0, connection_wait=5.0, binds=count,
    )  # fmt: skip


def settings_for(port: int, count: int) -> Settings:
    return Settings(
        connectors=(operator(port, count),),
        dispatch=DispatchSettings(poll_interval=0.05, bind_lease_seconds=LEASE),
    )


@asynccontextmanager
async def simulator() -> AsyncIterator[SmscSimulator]:
    sim = SmscSimulator(SimulatorConfig(accounts={"octo": "pw"}, receipt_delay_ms=50))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop(grace=1.0)


@asynccontextmanager
async def second_store(database_url: str) -> AsyncIterator[Store]:
    other = Store(database_url)
    try:
        yield other
    finally:
        other.close()


def bound_here(host: Delivery) -> int:
    group = host.clients.get("operator")
    return 0 if group is None else sum(c.connected for c in group.binds.values())


async def until(check: Callable[[], bool], within: float = 15.0, what: str = "condition") -> float:
    """Wait for `check`; return how long it took."""
    started = time.monotonic()

    async def holds() -> bool:
        return check()

    await eventually(holds, within=within, what=what)
    return time.monotonic() - started


async def test_one_bind_is_held_by_one_host_and_taken_over_within_the_lease_when_it_dies(
    store: Store, database_url: str, clock: Clock
) -> None:
    async with simulator() as sim, second_store(database_url) as store_b:
        settings = settings_for(sim.port, 1)
        first = await Delivery.start(store, settings, clock=clock)
        second = await Delivery.start(store_b, settings, clock=clock)
        aborted = False
        try:
            await until(lambda: bound_here(first) == 1, what="the first host's bind")
            assert second.binds is not None and first.binds is not None
            rounds = second.binds.rounds
            await until(lambda: second.binds is not None and second.binds.rounds >= rounds + 3, what="rounds")
            assert "operator" not in second.clients and sim.bound("octo") == 1
            assert "its bind is held by another host" in second.describe()

            await first.abort()  # a crash: no unbind recorded, no lease released
            aborted = True
            taken = await until(lambda: second.binds is not None and second.binds.held()["operator"] == [0])
            await until(lambda: bound_here(second) == 1, what="the second host's bind")
            print(f"bind lease taken over {taken:.2f}s after the owner died (lease {LEASE}s)")
            assert taken <= LEASE, f"taken over after {taken:.2f}s"
            await until(lambda: sim.bound("octo") == 1, what="one bind open at the SMSC")
            [lease] = await store.read(binds.leases)
            assert lease.owner == second.binds.owner
        finally:
            await second.stop()
            if not aborted:
                await first.stop()
        assert await store.read(binds.leases) == []  # a clean stop frees its slots


async def test_a_clean_stop_hands_the_bind_over_at_the_next_round(
    store: Store, database_url: str, clock: Clock
) -> None:
    async with simulator() as sim, second_store(database_url) as store_b:
        settings = settings_for(sim.port, 1)
        first = await Delivery.start(store, settings, clock=clock)
        second = await Delivery.start(store_b, settings, clock=clock)
        try:
            await until(lambda: bound_here(first) == 1, what="the first host's bind")
            await first.stop()
            handed = await until(lambda: bound_here(second) == 1, what="the second host's bind")
            print(f"bind handed over {handed:.2f}s after a clean stop")
            assert handed < LEASE * 0.6, f"handed over after {handed:.2f}s"  # not waiting for a lease to run out
        finally:
            await second.stop()


async def test_two_binds_two_hosts_one_each_and_receipts_match_on_either_bind(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, database_url: str, customer: Customer, clock: Clock
) -> None:
    async with simulator() as sim, second_store(database_url) as store_b:
        settings = settings_for(sim.port, 2)
        first = await Delivery.start(store, settings, clock=clock)
        app.gateway.on_accepted.append(first.dispatcher.wake)
        second: Delivery | None = None
        try:
            # Alone, the first host opens both binds; a host that joins gets its share.
            await until(lambda: bound_here(first) == 2, what="both binds on the first host")
            second = await Delivery.start(store_b, settings, clock=clock)
            joined = second
            await until(lambda: bound_here(first) == 1 and bound_here(joined) == 1, what="one bind each")
            assert sim.bound("octo") == 2
            assert "1 of its 2 binds on this host" in second.describe()

            recipients = [f"+3360102{n:04d}" for n in range(20)]
            campaign = await send(api, customer, sms_recipients=",".join(recipients))
            ids = [message_id for message_id, _ in await store.read(delivery.campaign_message_ids, campaign)]

            async def all_delivered() -> bool:
                states = [await store.read(delivery.message_state, i) for i in ids]
                return all(state[0] == "delivered" for state in states)

            await eventually(all_delivered, what="every message delivered")
            # The SMSC spread the receipts over both binds: each host matched some of them by connector name.
            groups = [host.clients["operator"] for host in (first, joined)]
            assert all(isinstance(g, BindGroup) for g in groups)
            assert all(sum(c.stats.delivers for c in g.binds.values()) > 0 for g in groups)  # type: ignore[union-attr]
            assert sim.bound("octo") == 2
        finally:
            if second is not None:
                await second.stop()
            await first.stop()


async def test_a_dead_earlier_run_of_this_host_leaves_no_lease_to_wait_for(
    store: Store, clock: Clock
) -> None:
    dead = subprocess.Popen(["true"])  # noqa: ASYNC220 - a pid that no longer runs
    dead.wait()
    stale = f"{socket.gethostname()[:60]}:{dead.pid}:deadbeef"
    assert dead_local_owner(stale, socket.gethostname())
    await store.write(binds.keep, stale, {"operator": 1}, 3_600_000)  # a lease of an hour
    async with simulator() as sim:
        running = await Delivery.start(store, settings_for(sim.port, 1), clock=clock)
        try:
            waited = await until(lambda: bound_here(running) == 1, what="the bind")
            assert waited < LEASE
        finally:
            await running.stop()


async def test_three_hosts_share_two_slots_without_ever_holding_one_twice(store: Store) -> None:
    hosts = ["a:1:x", "b:2:y", "c:3:z"]
    # a starts alone and takes both; once b and c want binds too, a's second slot stays a's until a has closed
    # that bind and gives it back: never a moment with three binds for two slots
    assert await store.write(binds.keep, hosts[0], {"operator": 2}, 60_000) == {"operator": [0, 1]}
    for _ in range(3):
        held = {}
        for host in hosts:
            held[host] = await store.write(binds.keep, host, {"operator": 2}, 60_000)
            taken = [slot for slots in held.values() for slot in slots["operator"]]
            assert len(taken) == len(set(taken)) <= 2
            leased = [lease.slot for lease in await store.read(binds.leases) if lease.owner == host]
            for surplus in sorted(set(leased) - set(held[host]["operator"])):
                await store.write(binds.give_back, host, "operator", surplus)  # its bind closed
    assert sorted(taken) == [0, 1]
    assert [lease.slot for lease in await store.read(binds.leases)] == [0, 1]
    freed = await store.write(binds.release, hosts[0])
    assert freed == len(held[hosts[0]]["operator"])


async def test_a_host_that_lost_the_database_closes_its_binds(
    store: Store, database_url: str, clock: Clock
) -> None:
    """Leases it cannot renew may be taken by another host: its binds close before they run out."""
    async with simulator() as sim:
        running = await Delivery.start(store, settings_for(sim.port, 1), clock=clock)
        try:
            await until(lambda: bound_here(running) == 1, what="the bind")
            assert running.binds is not None
            stalled = Store(database_url)
            stalled.close()  # its writer is gone: every write waits forever, as on a database that hangs
            running.binds.store = stalled
            closed = await until(lambda: "operator" not in running.clients, what="the bind closed")
            assert closed <= LEASE * 0.7, closed  # before the lease written last can run out
            await until(lambda: sim.bound("octo") == 0, what="no bind at the SMSC")
            running.binds.store = store
            await until(lambda: bound_here(running) == 1, what="the bind back once the database answers")
        finally:
            await running.stop()


async def test_groups_spread_submits_over_their_binds() -> None:
    """Under load both binds of a host carry submits (the least busy bind first)."""
    async with simulator() as sim:
        group = BindGroup(operator(sim.port, 2))
        clients = [SmppClient(operator(sim.port, 2)) for _ in range(2)]
        for slot, client in enumerate(clients):
            group.add(slot, client)
            await client.start()
        try:
            await until(lambda: all(c.connected for c in clients), what="both binds")
            assert group.config.window == 2 * operator(sim.port, 2).window
            await asyncio.gather(
                *(group.submit_text("Octo", None, None, f"336{n:08d}", "hi", registered_delivery=False)
                  for n in range(40))
            )  # fmt: skip
            assert all(c.stats.accepted >= 10 for c in clients), [c.stats.accepted for c in clients]
        finally:
            for client in clients:
                await client.stop(grace=1.0)
