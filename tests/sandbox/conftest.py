"""A simulator with its control interface on an ephemeral loopback port, and a gateway-side SMPP client bound to
it as a transceiver (as serve binds the built-in simulator), collecting what it is delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from octogate.sandbox.client import SandboxClient
from octogate.smpp.client import ConnectorConfig, DeliverEvent, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator

ACCOUNT = {"octo": "s3cret"}


@dataclass
class Gateway:
    """The ESME side: what it was delivered (receipts and texts)."""

    client: SmppClient
    delivered: list[DeliverEvent] = field(default_factory=list)

    def receipts(self) -> list[DeliverEvent]:
        return [e for e in self.delivered if e.is_receipt]

    def texts(self) -> list[DeliverEvent]:
        return [e for e in self.delivered if not e.is_receipt]


@dataclass
class Sandbox:
    sim: SmscSimulator
    gateway: Gateway
    client: SandboxClient


def connector(port: int, **overrides: object) -> ConnectorConfig:
    values: dict[str, object] = {
        "name": "test", "host": "127.0.0.1", "port": port, "system_id": "octo", "password": "s3cret",
        "reconnect_min": 0.02, "reconnect_max": 0.2, "response_timeout": 5.0, "connection_wait": 10.0,
        "bind_mode": "transceiver",
    }  # fmt: skip
    values.update(overrides)
    return ConnectorConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sim = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT), control=("127.0.0.1", 0)))
    port = await sim.start()
    assert sim.control_url is not None
    delivered: list[DeliverEvent] = []

    async def on_deliver(event: DeliverEvent) -> None:
        delivered.append(event)

    gateway = Gateway(SmppClient(connector(port), on_deliver), delivered)
    await gateway.client.start()
    await gateway.client.wait_connected(5)
    client = SandboxClient(sim.control_url)
    try:
        yield Sandbox(sim, gateway, client)
    finally:
        await client.aclose()
        await gateway.client.stop(grace=1.0)
        await sim.stop(grace=1.0)

