"""Delivery harness: the real API app, a real store (SQLite and PostgreSQL), the SMSC simulator on a loopback
port, SMPP clients and a dispatcher, all on the test's event loop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from octogate.config import DispatchSettings, RouteConfig
from octogate.dispatch.dispatcher import Dispatcher
from octogate.dispatch.routing import Router
from octogate.http.app import OctopushApp
from octogate.smpp.client import ConnectorConfig, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator
from octogate.store.store import Store
from support import Clock

ACCOUNTS = {"octo": "pw", "octo2": "pw"}


def connector(name: str, port: int, system_id: str = "octo", **overrides: object) -> ConnectorConfig:
    values: dict[str, object] = {
        "name": name, "host": "127.0.0.1", "port": port, "system_id": system_id, "password": "pw",
        "bind_mode": "transmitter", "reconnect_min": 0.02, "reconnect_max": 0.2, "response_timeout": 5.0,
        "connection_wait": 5.0, "window": 10,
    }  # fmt: skip
    values.update(overrides)
    return ConnectorConfig(**values)  # type: ignore[arg-type]


def closed_port() -> int:
    """A loopback port nothing listens on (a connector that can never bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Delivery:
    store: Store
    clock: Clock
    sim: SmscSimulator
    clients: dict[str, SmppClient]
    routes: tuple[RouteConfig, ...]
    settings: DispatchSettings
    dispatchers: list[Dispatcher] = field(default_factory=list)

    async def start_dispatcher(self, store: Store | None = None) -> Dispatcher:
        dispatcher = Dispatcher(
            store or self.store, Router(self.routes), self.clients, settings=self.settings, clock=self.clock
        )
        await dispatcher.start()
        self.dispatchers.append(dispatcher)
        return dispatcher

    def wake(self) -> None:
        for dispatcher in self.dispatchers:
            dispatcher.wake()


@asynccontextmanager
async def delivering(
    store: Store,
    clock: Clock,
    *,
    sim: SimulatorConfig | None = None,
    connectors: Callable[[int], Sequence[ConnectorConfig]] | None = None,
    routes: Sequence[RouteConfig] | None = None,
    dispatcher: bool = True,
    settings: DispatchSettings | None = None,
    app: OctopushApp | None = None,
) -> AsyncIterator[Delivery]:
    simulator = SmscSimulator(sim or SimulatorConfig(accounts=dict(ACCOUNTS), receipt_delay_ms=60_000))
    port = await simulator.start()
    configs = list(connectors(port) if connectors else [connector("sim", port)])
    clients = {c.name: SmppClient(c) for c in configs}
    for client in clients.values():
        await client.start()
    chosen_routes = tuple(routes or (RouteConfig(connectors=tuple(clients)),))
    harness = Delivery(
        store, clock, simulator, clients, chosen_routes, settings or DispatchSettings(poll_interval=0.05)
    )
    if app is not None:
        app.gateway.on_accepted.append(harness.wake)
    try:
        if dispatcher:
            await harness.start_dispatcher()
        yield harness
    finally:
        for started in harness.dispatchers:
            await started.stop(grace=2.0)
        for client in clients.values():
            await client.stop(grace=1.0)
        await simulator.stop(grace=1.0)
