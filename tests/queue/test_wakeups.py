"""Wake-ups: work enqueued on one host is claimed on another at once (PostgreSQL LISTEN/NOTIFY), and in this
process on SQLite; each worker polls only every minute here, so only a wake-up can explain a quick claim."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest

from octogate.config import DispatchSettings, RouteConfig
from octogate.dispatch.dispatcher import Dispatcher
from octogate.dispatch.routing import Router
from octogate.smpp.client import ConnectorConfig, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator
from octogate.store import delivery
from octogate.store.callbacks import enqueue_push
from octogate.store.delivery import ClaimedMessage
from octogate.store.store import Store
from support import Clock, eventually, make_customer, send

BOUND = 0.05  # seconds from the enqueuing commit to the claim on the other host, at most
SLEEPY = DispatchSettings(poll_interval=60.0)


def postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("wake-ups across hosts are PostgreSQL's NOTIFY; SQLite has one host")


async def test_a_push_owed_on_one_host_is_claimed_on_another_at_once(
    store: Store, database_url: str, work: SimpleNamespace
) -> None:
    postgresql_only(database_url)
    account = work.push_account(store)
    other = Store(database_url)
    worker = work.EchoWorker(other)  # polls every minute
    try:
        await worker.start()
        await asyncio.wait_for(worker.listening.wait(), 10)
        await worker.until(lambda: worker.rounds >= 1)  # its first round, at start, found nothing
        for n in range(5):
            push = await store.write(enqueue_push, account, "receipt", {"n": str(n)}, int(time.time()))
            committed = time.monotonic()
            await worker.until(lambda push=push: push in worker.claimed_at, within=5)
            assert worker.claimed_at[push] - committed < BOUND
    finally:
        await worker.stop()
        other.close()


async def test_a_push_owed_in_this_process_wakes_its_worker_at_once_on_sqlite(
    store: Store, database_url: str, work: SimpleNamespace
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the in-process wake-up is SQLite's")
    account = work.push_account(store)
    worker = work.EchoWorker(store)  # polls every minute
    await worker.start()
    try:
        await worker.until(lambda: worker.rounds >= 1)
        push = await store.write(enqueue_push, account, "receipt", {"n": "1"}, int(time.time()))
        committed = time.monotonic()
        await worker.until(lambda: push in worker.claimed_at, within=5)
        assert worker.claimed_at[push] - committed < BOUND
    finally:
        await worker.stop()


class TimedDispatcher(Dispatcher):
    """A dispatcher that notes when each claim came back."""

    claimed_at: dict[int, float]

    def _take(self, items: list[ClaimedMessage]) -> None:
        now = time.monotonic()
        for message in items:
            self.__dict__.setdefault("claimed_at", {})[message.id] = now
        super()._take(items)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connector(name: str, port: int) -> ConnectorConfig:
    return ConnectorConfig(
        name=name, host="127.0.0.1", port=port, system_id="octo", password="pw", bind_mode="transmitter",
        reconnect_min=0.02, reconnect_max=0.2, response_timeout=5.0,
    )  # fmt: skip


@asynccontextmanager
async def host(store: Store, clock: Clock, port: int) -> AsyncIterator[TimedDispatcher]:
    """One gateway host's delivery: a connector to `port`, and a dispatcher that polls every minute."""
    client = SmppClient(connector("smsc", port))
    await client.start()
    dispatcher = TimedDispatcher(
        store, Router((RouteConfig(connectors=("smsc",)),)), {"smsc": client}, settings=SLEEPY, clock=clock
    )
    await dispatcher.start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop(grace=1.0)
        await client.stop(grace=1.0)


async def test_a_campaign_accepted_on_a_host_without_a_bound_connector_is_claimed_by_another_at_once(
    api: httpx.AsyncClient, store: Store, database_url: str, clock: Clock
) -> None:
    postgresql_only(database_url)
    sim = SmscSimulator(SimulatorConfig(accounts={"octo": "pw"}, receipt_delay_ms=60_000))
    port = await sim.start()
    other = Store(database_url)
    customer = make_customer(store)
    try:
        async with host(store, clock, closed_port()) as first, host(other, clock, port) as second:

            async def bound() -> bool:
                return all(c.connected for c in second.clients.values())

            await eventually(bound, what="the second host bound")
            await asyncio.wait_for(second.listening.wait(), 10)

            async def settled() -> bool:  # the rounds its start and bind woke have run
                rounds = second.rounds
                await asyncio.sleep(0)
                return second.rounds == rounds and second.in_flight == 0

            await eventually(settled, what="the second host idle")
            campaign = await send(api, customer, sms_recipients="+33601020304,+33601020305")  # API on host 1
            committed = time.monotonic()
            ids = [i for i, _ in await store.read(delivery.campaign_message_ids, campaign)]

            async def claimed() -> bool:
                return all(i in getattr(second, "claimed_at", {}) for i in ids)

            await eventually(claimed, within=5, what="the campaign claimed by the second host")
            assert max(second.claimed_at[i] for i in ids) - committed < BOUND
            await sim.wait_for(lambda: len(sim.messages) == 2)
            assert not getattr(first, "claimed_at", {})  # the host with no bound connector claimed nothing
    finally:
        other.close()
        await sim.stop(grace=1.0)
