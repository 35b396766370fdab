"""Delivery as `octogate serve` runs it: the connectors of the configuration (or the built-in SMSC simulator
when none is configured, so a fresh install delivers end to end), the routes, and the dispatcher."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from octogate.config import (
    SIMULATOR_CONNECTOR,
    ConfigError,
    RouteConfig,
    Settings,
    SimulatorSettings,
    parse_listen,
)
from octogate.dispatch.dispatcher import Dispatcher
from octogate.dispatch.routing import Router
from octogate.incoming.handler import IncomingHandler
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
    )  # fmt: skip


class Delivery:
    """The running delivery side of one process."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        clients: dict[str, SmppClient],
        simulator: SmscSimulator | None,
        incoming: IncomingHandler | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.clients = clients
        self.simulator = simulator
        self.incoming = incoming

    @classmethod
    async def start(
        cls, store: Store, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> Delivery:
        connectors = list(settings.connectors)
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
                    reconnect_min=0.1, reconnect_max=5.0,
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
        incoming = IncomingHandler(store, clock=clock, validity=settings.dispatch.validity_hours * 3600)
        await incoming.start()
        clients = {c.name: SmppClient(c, incoming.on_deliver) for c in connectors}
        for client in clients.values():
            await client.start()
        dispatcher = Dispatcher(store, Router(routes), clients, settings=settings.dispatch, clock=clock)
        await dispatcher.start()
        return cls(dispatcher, clients, simulator, incoming)

    def describe(self) -> str:
        """One line for the operator: where messages go."""
        targets = []
        for client in self.clients.values():
            cfg = client.config
            if client.name == SIMULATOR_CONNECTOR:
                targets.append(f"the built-in SMSC simulator on {cfg.host}:{cfg.port}")
            else:
                targets.append(f"{cfg.name} ({cfg.host}:{cfg.port} as {cfg.system_id})")
        if not targets:
            return "octogate: no SMPP connector configured: accepted messages stay queued"
        return "octogate: delivering over SMPP to " + ", ".join(targets)

    async def stop(self) -> None:
        await self.dispatcher.stop()
        for client in self.clients.values():
            await client.stop(grace=2.0)
        if self.incoming is not None:
            await self.incoming.stop()
        if self.simulator is not None:
            await self.simulator.stop()
