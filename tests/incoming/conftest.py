"""Receipts and incoming texts end to end: the real API app and store (SQLite and PostgreSQL), the SMSC simulator
on a loopback port, transceiver connectors whose `on_deliver` is the incoming handler, and a dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

from octogate.config import DispatchSettings, RouteConfig
from octogate.dispatch.dispatcher import Dispatcher
from octogate.dispatch.routing import Router
from octogate.http.app import OctopushApp
from octogate.incoming.handler import IncomingHandler
from octogate.smpp.client import ConnectorConfig, DeliverEvent, SmppClient
from octogate.smpp.constants import EsmClass
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator
from octogate.store import queries
from octogate.store.db import Connection
from octogate.store.store import Store
from support import Clock, Customer

SIM_ACCOUNTS = {"octo": "pw"}
URLS = {"receipt": "http://customer.test/receipts", "stop": "http://customer.test/stops",
        "reply": "http://customer.test/replies"}  # fmt: skip


@dataclass
class Gateway:
    store: Store
    sim: SmscSimulator
    handler: IncomingHandler
    clients: dict[str, SmppClient]
    dispatcher: Dispatcher


@asynccontextmanager
async def gateway(
    store: Store, clock: Clock, app: OctopushApp, sim: SimulatorConfig | None = None
) -> AsyncIterator[Gateway]:
    simulator = SmscSimulator(sim or SimulatorConfig(accounts=dict(SIM_ACCOUNTS), receipt_delay_ms=20))
    port = await simulator.start()
    handler = IncomingHandler(store, clock=clock)
    config = ConnectorConfig(
        name="sim", host="127.0.0.1", port=port, system_id="octo", password="pw", bind_mode="transceiver",
        reconnect_min=0.02, reconnect_max=0.2, response_timeout=5.0, connection_wait=5.0, window=10,
    )  # fmt: skip
    clients = {"sim": SmppClient(config, handler.on_deliver)}
    await clients["sim"].start()
    dispatcher = Dispatcher(
        store, Router((RouteConfig(connectors=("sim",)),)), clients,
        settings=DispatchSettings(poll_interval=0.05), clock=clock,
    )  # fmt: skip
    await dispatcher.start()
    app.gateway.on_accepted.append(dispatcher.wake)
    try:
        yield Gateway(store, simulator, handler, clients, dispatcher)
    finally:
        await dispatcher.stop(grace=2.0)
        await clients["sim"].stop(grace=1.0)
        await simulator.stop(grace=1.0)


def set_urls(conn: Connection, login: str) -> None:
    conn.execute(
        "UPDATE accounts SET receipt_url = ?, stop_url = ?, reply_url = ? WHERE login = ?",
        (URLS["receipt"], URLS["stop"], URLS["reply"], login),
    )


def account_id(store: Store, customer: Customer) -> int:
    return store.run(queries.account, customer.login).id


def pushes(conn: Connection, account: int, kind: str | None = None) -> list[tuple[str, dict[str, str]]]:
    """(kind, fields) of an account's outbox rows, oldest first; the payload decoded (and checked to have no
    repeated field)."""
    rows = conn.fetchall("SELECT kind, payload FROM callbacks WHERE account_id = ? ORDER BY id", (account,))
    found = []
    for row_kind, payload in rows:
        pairs = parse_qsl(payload, keep_blank_values=True, strict_parsing=True)
        fields = dict(pairs)
        assert len(fields) == len(pairs), payload
        if kind is None or row_kind == kind:
            found.append((row_kind, fields))
    return found


def receipt_event(
    text: str = "",
    *,
    receipted_message_id: str | None = None,
    message_state: int | None = None,
    connector: str = "sim",
    esm_class: int = EsmClass.DELIVERY_RECEIPT,
) -> DeliverEvent:
    """A receipt deliver_sm as the client would hand it over (for id forms the simulator never writes)."""
    return DeliverEvent(
        connector=connector, command="deliver_sm", source_addr="33601020304", source_addr_ton=1,
        source_addr_npi=1, destination_addr="MyShop", dest_addr_ton=5, dest_addr_npi=0, esm_class=esm_class,
        data_coding=0, short_message=text.encode(), payload=text.encode(), text=text, concat=None, tlvs=(),
        receipted_message_id=receipted_message_id, message_state=message_state, network_error_code=None,
    )  # fmt: skip
