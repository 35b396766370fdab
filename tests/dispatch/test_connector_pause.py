"""One connector paused by the operator: every dispatcher reads the pause with its claims and sends nothing through
it; a route's other connector takes its messages, a route with no other waits until it is resumed."""

from __future__ import annotations

import httpx

from octogate.config import RouteConfig
from octogate.http.app import OctopushApp
from octogate.operations import Operator
from octogate.store import delivery
from octogate.store.store import Store
from support import Clock, Customer, eventually, send

from .conftest import connector, delivering


async def state(store: Store, campaign_id: int) -> tuple[str, str | None]:
    [(message_id, _)] = await store.read(delivery.campaign_message_ids, campaign_id)
    found = await store.read(delivery.message_state, message_id)
    return found[0], found[1]


async def test_a_paused_connector_sends_nothing_until_it_is_resumed(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    routes = [
        RouteConfig(connectors=("france", "backup"), sms_types=frozenset({"FR"}), calling_codes=frozenset({33})),
        RouteConfig(connectors=("world",)),
    ]

    def connectors(port: int) -> list:  # type: ignore[type-arg]
        return [connector("france", port), connector("backup", port, "octo2"), connector("world", port)]

    operator = Operator(store, actor="operator:ops@example.com")
    assert operator.set_connector_paused("france", True) and operator.set_connector_paused("world", True)
    assert not operator.set_connector_paused("france", True)  # already paused: nothing changes, nothing logged
    async with delivering(store, clock, app=app, routes=routes, connectors=connectors) as d:
        french = await send(api, customer, sms_recipients="+33601020304")
        british = await send(api, customer, sms_recipients="+447911123456", sms_type="WWW")

        async def french_sent() -> bool:
            return (await state(store, french))[0] == "submitted"

        await eventually(french_sent, what="the French message sent through the route's other connector")
        assert (await state(store, french))[1] == "backup"

        async def british_tried() -> bool:
            [(message_id, _)] = await store.read(delivery.campaign_message_ids, british)
            found = await store.read(delivery.message_state, message_id)
            return found.status == "queued" and found.attempts >= 1  # claimed, not sent, given back

        await eventually(british_tried, what="the British message claimed and given back")
        assert {m.destination_addr for m in d.sim.messages} == {"33601020304"}  # nothing through "world"

        assert operator.set_connector_paused("world", False)
        clock.now += 400  # past the retry's backoff
        d.wake()

        async def british_sent() -> bool:
            return (await state(store, british))[0] == "submitted"

        await eventually(british_sent, what="the British message sent once its connector is resumed")
        assert (await state(store, british))[1] == "world"
    actions = [(e.action, e.target) for e in operator.audit_log(None, 10, None)]
    assert actions[:3] == [("connector.resume", "world"), ("connector.pause", "world"),
                           ("connector.pause", "france")]  # fmt: skip
