"""What `octogate serve` starts for delivery: the built-in simulator by default, configured connectors else."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from octogate.config import ConfigError, RouteConfig, Settings, SimulatorSettings
from octogate.dispatch.runtime import Delivery
from octogate.http.app import OctopushApp
from octogate.store import delivery
from octogate.store.store import Store
from support import Clock, Customer, eventually, send

from .conftest import connector


async def test_without_connectors_the_builtin_simulator_delivers(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    running = await Delivery.start(store, Settings(), clock=clock)
    app.gateway.on_accepted.append(running.dispatcher.wake)
    try:
        assert running.simulator is not None
        assert running.describe().startswith(  # then the sandbox's control interface, when its port was free
            f"octogate: delivering over SMPP to the built-in SMSC simulator on 127.0.0.1:{running.simulator.port}"
        )
        campaign = await send(api, customer, sms_recipients="+33601020304")
        [(message_id, _)] = await store.read(delivery.campaign_message_ids, campaign)

        async def submitted() -> bool:
            return (await store.read(delivery.message_state, message_id))[:3] == ("submitted", "simulator", 1)

        await eventually(submitted, what="the message submitted to the simulator")
        [received] = running.simulator.messages
        assert received.destination_addr == "33601020304" and received.text == "Hello STOP au 36179"
    finally:
        await running.stop()


async def test_configured_connectors_replace_the_simulator(store: Store, clock: Clock) -> None:
    settings = Settings(connectors=(connector("operator", 1),))
    running = await Delivery.start(store, settings, clock=clock)
    try:
        assert running.simulator is None
        assert list(running.clients) == ["operator"]
        assert running.describe() == "octogate: delivering over SMPP to operator (127.0.0.1:1 as octo)"
    finally:
        await running.stop()


async def test_the_simulator_can_run_beside_connectors(store: Store, clock: Clock) -> None:
    settings = Settings(connectors=(connector("operator", 1),), simulator=SimulatorSettings(enabled=True))
    running = await Delivery.start(store, settings, clock=clock)
    try:
        assert running.simulator is not None and list(running.clients) == ["operator", "simulator"]
    finally:
        await running.stop()


async def test_a_route_naming_an_unknown_connector_is_refused(store: Store, clock: Clock) -> None:
    settings = replace(Settings(), routes=(RouteConfig(connectors=("nowhere",)),))
    with pytest.raises(ConfigError, match="nowhere"):
        await Delivery.start(store, settings, clock=clock)
