"""Delivery as `octogate serve` runs it: the connectors of the configuration (or the built-in SMSC simulator
when none is configured, so a fresh install delivers end to end), the routes, and the dispatcher.

The configured connectors' binds are shared by the hosts of a cluster (`dispatch/binds.py`): this host runs
the binds it leases, and adds or removes connectors in the very dict the dispatcher routes through. The
built-in simulator is this host's own (it listens on this host), so its connector is never leased.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from octogate.config import (
    SIMULATOR_CONNECTOR,
    ConfigError,
    RouteConfig,
    Settings,
    SimulatorSettings,
    parse_listen,
)
from octogate.dispatch.binds import SharedBinds
from octogate.dispatch.dispatcher import Dispatcher
from octogate.dispatch.routing import Router
from octogate.incoming.handler import IncomingHandler
from octogate.observability.hooks import MeteredDispatcher, MeteredIncoming
from octogate.smpp.client import ConnectorConfig, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator
from octogate.store.store import Store

log = logging.getLogger(__name__)


def simulator_config(settings: SimulatorSettings, password: str) -> SimulatorConfig:
    host, port = parse_listen(settings.listen)
    mix = {"DELIVRD": 1.0 - settings.fail_rate, "UNDELIV": settings.fail_rate}
    return SimulatorConfig(
        host=host, port=port, accounts={"octogate": password}, latency_ms=settings.latency_ms,
        max_per_second=settings.tps, receipt_delay_ms=settings.receipt_delay_ms,
        receipt_mix={stat: weight for stat, weight in mix.items() if weight > 0},
        invalid_prefixes=settings.invalid_prefixes,
        control=None if settings.control == "off" else parse_listen(settings.control),
    )  # fmt: skip


class Delivery:
    """The running delivery side of one process."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        clients: dict[str, Any],
        simulator: SmscSimulator | None,
        incoming: IncomingHandler | None = None,
        binds: SharedBinds | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        #: connector name -> client (a `BindGroup` of leased binds, or the simulator's `SmppClient`): the
        #: dispatcher's own dict, changed in place as this host takes or gives up binds
        self.clients = clients
        self.simulator = simulator
        self.incoming = incoming
        self.binds = binds

    @classmethod
    async def start(
        cls, store: Store, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> Delivery:
        configured = list(settings.connectors)
        connectors = list(configured)
        simulator: SmscSimulator | None = None
        wanted = settings.simulator.enabled if settings.simulator.enabled is not None else not connectors
        if wanted:
            password = secrets.token_hex(4)  # SMPP passwords are at most 8 characters
            simulator = SmscSimulator(simulator_config(settings.simulator, password))
            port = await simulator.start()
            # Bound as transceiver: receipts and incoming texts come back on the same bind.
            connectors.append(
                ConnectorConfig(
                    name=SIMULATOR_CONNECTOR, host=simulator.config.host, port=port, system_id="octogate",
                    password=password, bind_mode="transceiver", window=settings.simulator.window,
                    reconnect_min=0.1, reconnect_max=5.0, message_ids="same",  # its receipts repeat its ids
                )
            )  # fmt: skip
        routes = settings.routes or (RouteConfig(connectors=tuple(c.name for c in connectors)),)
        names = {c.name for c in connectors}
        for route in routes:
            unknown = [n for n in route.connectors if n not in names]
            if unknown:
                if simulator is not None:
                    await simulator.stop()
                raise ConfigError(f"a route names unknown connectors: {', '.join(unknown)[:200]}")
        incoming = MeteredIncoming(store, clock=clock, validity=settings.dispatch.validity_hours * 3600,
                                   message_ids={c.name: c.message_ids for c in connectors})  # fmt: skip
        await incoming.start()
        clients: dict[str, Any] = {}
        binds = SharedBinds(
            store, configured, clients, incoming.on_deliver, lease_seconds=settings.dispatch.bind_lease_seconds
        )
        await binds.start()  # a first share of the binds before the dispatcher looks at `clients`
        for config in connectors[len(configured) :]:
            client = SmppClient(config, incoming.on_deliver)
            clients[config.name] = client
            await client.start()
        # Senders enough for every bind this host may come to hold (the others' binds, when they die).
        windows = sum(c.window * c.binds for c in connectors)
        dispatcher = MeteredDispatcher(
            store, Router(routes), clients, settings=settings.dispatch, clock=clock,
            senders=max(16, min(2000, windows + 8)),
        )  # fmt: skip
        # The dispatcher must route through this very dict (binds come and go); a dispatcher that copies
        # what it is given is pointed back at it.
        dispatcher.clients = clients
        await dispatcher.start()
        return cls(dispatcher, clients, simulator, incoming, binds)

    def describe(self) -> str:
        """One line for the operator: where messages go."""
        targets = []
        held = self.binds.held() if self.binds is not None else {}
        for config in self.binds.connectors if self.binds is not None else ():
            where = f"{config.host}:{config.port} as {config.system_id}"
            slots = len(held.get(config.name, ()))
            if config.binds > 1:
                targets.append(f"{config.name} ({where}; {slots} of its {config.binds} binds on this host)")
            elif slots:
                targets.append(f"{config.name} ({where})")
            else:
                targets.append(f"{config.name} ({where}; its bind is held by another host)")
        simulator = self.clients.get(SIMULATOR_CONNECTOR)
        if self.simulator is not None and simulator is not None:
            cfg = simulator.config
            targets.append(f"the built-in SMSC simulator on {cfg.host}:{cfg.port}")
            if self.simulator.control_url:
                targets[-1] += f" (sandbox control interface on {self.simulator.control_url})"
        if not targets:
            return "octogate: no SMPP connector configured: accepted messages stay queued"
        return "octogate: delivering over SMPP to " + ", ".join(targets)

    async def stop(self) -> None:
        await self.dispatcher.stop()
        if self.binds is not None:
            await self.binds.stop(grace=2.0)
        for client in list(self.clients.values()):
            await client.stop(grace=2.0)
        if self.incoming is not None:
            await self.incoming.stop()
        if self.simulator is not None:
            await self.simulator.stop()

    async def abort(self) -> None:
        """What a crash leaves: nothing recorded or released (the leases run out). Tests use it."""
        await self.dispatcher.abort()
        if self.binds is not None:
            await self.binds.abort()
        for client in list(self.clients.values()):
            await client.stop(grace=0)
        if self.incoming is not None:
            await self.incoming.stop()
        if self.simulator is not None:
            await self.simulator.stop()
