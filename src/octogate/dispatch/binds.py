"""This host's share of the cluster's SMPP binds.

An SMSC caps the binds of an account, so a connector's `binds` is what the whole cluster may open. Each bind
slot is leased to one host in the store (`store/binds.py`); this module keeps the host's leases (a round
every fifth of the lease time), runs one `SmppClient` per slot it holds, and keeps the dispatcher's dict of
connectors in step: a connector is in the dict while this host holds at least one of its slots, as a
`BindGroup` that looks like one client to the dispatcher.

Leases and the binds they stand for:
* a round renews this host's leases, gives back slots above its fair share (a host that joined gets its
  part), and takes free or expired slots up to the share;
* a host that cannot renew (database unreachable) closes its binds before its leases run out, so that two
  hosts never hold one slot's bind at the same time;
* a clean stop unbinds, then deletes its leases: another host takes the slots at its next round; a host that
  dies leaves its leases to run out (the lease time, ~15 s by default);
* at start, leases left by a dead process of this same machine (its earlier run) are freed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import time
from collections.abc import Collection, Coroutine, MutableMapping, Sequence
from dataclasses import replace
from typing import Any

from octogate.smpp.client import ConnectorConfig, OnDeliver, SmppClient, SmppRetriableError, SubmitOutcome
from octogate.smpp.text import EncodedText
from octogate.store import binds
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store
from octogate.tasks import cancel_and_wait
from octogate.worker import dead_local_owner, new_owner

log = logging.getLogger(__name__)

ROUNDS_PER_LEASE = 5  # a round every fifth of the lease time
#: a lease is written for this share of the configured lease time: a dead host's slot is free after it,
#: and the others' next round (at most a fifth later) takes it: takeover within the configured time
STORED_SHARE = 0.7
RELEASE_TIMEOUT = 5.0  # seconds a clean stop waits to free its leases




class BindGroup:
    """The binds this host holds for one connector, seen by the dispatcher as one client (`name`, `config`,
    `connected`, `submit_text`): a submit goes to the connected bind with the fewest submits in flight."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.name = config.name
        self.base = config
        self.binds: dict[int, SmppClient] = {}
        self.config = config
        self._turn = itertools.count()

    @property
    def connected(self) -> bool:
        return any(client.connected for client in self.binds.values())

    @property
    def in_flight(self) -> int:
        return sum(client.in_flight for client in self.binds.values())

    def add(self, slot: int, client: SmppClient) -> None:
        self.binds[slot] = client
        self._resized()

    def remove(self, slot: int) -> SmppClient:
        client = self.binds.pop(slot)
        self._resized()
        return client

    def _resized(self) -> None:
        """Windows add up: the dispatcher sizes its senders from `config.window`."""
        count = max(1, len(self.binds))
        self.config = self.base if count == 1 else replace(self.base, window=self.base.window * count)

    def pick(self) -> SmppClient:
        if len(self.binds) == 1:  # the common case: one bind, nothing to choose
            (client,) = self.binds.values()
            return client
        clients = list(self.binds.values())
        if not clients:
            raise SmppRetriableError(f"{self.name}: this host holds none of the connector's binds now")
        bound = [client for client in clients if client.connected] or clients
        start = next(self._turn) % len(bound)  # equal loads take turns
        rotated = bound[start:] + bound[:start]
        return min(rotated, key=lambda client: client.in_flight)

    def submit_text(
        self, source: str, source_ton: int | None, source_npi: int | None, destination: str, text: str,
        *, registered_delivery: bool, dest_ton: int | None = None, dest_npi: int | None = None,
        ref: int | None = None, skip_parts: Collection[int] = (), validity_period: str = "",
        encoded: EncodedText | None = None,
    ) -> Coroutine[Any, Any, SubmitOutcome]:  # fmt: skip
        """The chosen bind's `submit_text` itself, not a coroutine around it: one frame less per submit."""
        return self.pick().submit_text(
            source, source_ton, source_npi, destination, text, registered_delivery=registered_delivery,
            dest_ton=dest_ton, dest_npi=dest_npi, ref=ref, skip_parts=skip_parts, validity_period=validity_period,
            encoded=encoded,
        )  # fmt: skip


class SharedBinds:
    """Keeps this host's leased binds of the configured connectors, and `clients` (the dict the dispatcher
    holds) in step with them."""

    def __init__(
        self,
        store: Store,
        connectors: Sequence[ConnectorConfig],
        clients: MutableMapping[str, Any],
        on_deliver: OnDeliver | None,
        *,
        lease_seconds: float = 15.0,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.connectors = list(connectors)
        self.clients = clients
        self.on_deliver = on_deliver
        self.owner = owner or new_owner()
        self.interval = lease_seconds / ROUNDS_PER_LEASE
        self.lease_ms = int(lease_seconds * STORED_SHARE * 1000)
        self.wanted = {config.name: config.binds for config in self.connectors}
        self.groups = {config.name: BindGroup(config) for config in self.connectors}
        self.rounds = 0
        self._held_until = 0.0  # monotonic: past it, leases may have run out unrenewed
        self._task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    def held(self) -> dict[str, list[int]]:
        """Slots this host runs a bind for, per connector."""
        return {name: sorted(group.binds) for name, group in self.groups.items()}

    async def start(self) -> None:
        """Free this machine's dead runs' leases, take a first share (before the dispatcher starts, so that
        it sees this host's binds at once), then keep the leases in the background."""
        if not self.connectors:
            return
        await self._free_dead_local_owners()
        try:
            await self.round()
        except StoreUnavailable as error:
            log.error("binds: cannot lease binds yet: %.200s", error)
        self._task = asyncio.create_task(self._loop(), name="bind-leases")

    async def _free_dead_local_owners(self) -> None:
        hostname = socket.gethostname()
        try:
            found = await self.store.read(binds.owners)
            for owner in found:
                if owner != self.owner and dead_local_owner(owner, hostname):
                    freed = await self.store.write(binds.release, owner)
                    log.warning("binds: %d bind lease(s) of an earlier run of this host freed (%s)", freed, owner)
        except StoreUnavailable as error:
            log.error("binds: cannot look for leases of an earlier run: %.200s", error)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                # A round that hangs (a stalled database) counts as failed once the leases may run out.
                async with asyncio.timeout(max(self.interval, self._held_until - time.monotonic())):
                    await self.round()
            except Exception as error:  # the loop must outlive a store outage or a bug
                if not isinstance(error, StoreUnavailable | TimeoutError):
                    log.exception("binds: lease round failed")
                log.error("binds: cannot renew bind leases: %.200s", error)
                if time.monotonic() >= self._held_until and any(g.binds for g in self.groups.values()):
                    log.error("binds: leases may have run out: closing this host's binds until renewed")
                    await self._apply({}, lost=True)

    async def round(self) -> None:
        started = time.monotonic()
        held = await self.store.write(binds.keep, self.owner, self.wanted, self.lease_ms)
        # Close the binds a little before the written lease runs out if no later round renews it.
        self._held_until = started + self.lease_ms / 1000 - self.interval / 2
        self.rounds += 1
        await self._apply(held)

    async def _apply(self, held: dict[str, list[int]], *, lost: bool = False) -> None:
        """Bind the slots held and close the others. A slot given up over the share is freed only once its bind
        is closed; binds whose leases may have run out (`lost`) close at once, submits in flight cut short,
        because another host may already hold their slots."""
        for config in self.connectors:
            group = self.groups[config.name]
            slots = set(held.get(config.name, ()))
            for slot in sorted(slots - group.binds.keys()):
                client = SmppClient(config, self.on_deliver)
                group.add(slot, client)
                await client.start()
                log.info("binds: %s bind slot %d taken by this host", config.name, slot)
            for slot in sorted(group.binds.keys() - slots):
                client = group.remove(slot)
                log.info("binds: %s bind slot %d given up by this host", config.name, slot)
                if lost:
                    self._background(client.stop(grace=0))
                else:
                    self._background(self._give_back(config.name, slot, client, config.response_timeout))
            if group.binds:
                self.clients.setdefault(config.name, group)
            elif self.clients.get(config.name) is group:
                del self.clients[config.name]

    async def _give_back(self, connector: str, slot: int, client: SmppClient, grace: float) -> None:
        await client.stop(grace=grace)
        try:
            await self.store.write(binds.give_back, self.owner, connector, slot)
        except StoreUnavailable as error:  # the lease then runs out by itself
            log.error("binds: cannot free %s bind slot %d: %.200s", connector, slot, error)

    def _background(self, stopping: Coroutine[Any, Any, None]) -> None:
        """A bind given up finishes its submits in flight without holding up the lease rounds."""
        task = asyncio.create_task(stopping)
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def stop(self, grace: float = 2.0) -> None:
        """Clean stop: unbind every bind, then free the leases so that another host takes them at once."""
        await cancel_and_wait(self._task)
        self._task = None
        clients = [client for group in self.groups.values() for client in group.binds.values()]
        await asyncio.gather(*(client.stop(grace=grace) for client in clients))
        if self._stopping:
            await asyncio.wait(list(self._stopping), timeout=grace + 1)
        self._forget()
        if self.connectors:
            # A database that does not answer must not hold up the stop: the leases then simply run out.
            with contextlib.suppress(StoreUnavailable, TimeoutError):
                async with asyncio.timeout(RELEASE_TIMEOUT):
                    await self.store.write(binds.release, self.owner)

    async def abort(self) -> None:
        """What a crash leaves: the binds drop (the kernel closes a dead host's sockets), the leases stay
        until they run out. Tests use it."""
        await cancel_and_wait(self._task)
        self._task = None
        clients = [client for group in self.groups.values() for client in group.binds.values()]
        await asyncio.gather(*(client.stop(grace=0) for client in clients))
        self._forget()

    def _forget(self) -> None:
        for name, group in self.groups.items():
            group.binds.clear()
            group._resized()
            if self.clients.get(name) is group:
                del self.clients[name]
