"""From /api/sms to submit_sm at the SMSC simulator, over real sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from octogate.config import ConfigError, DispatchSettings, RouteConfig, load_settings
from octogate.dispatch.wire import relative_validity
from octogate.http.app import OctopushApp
from octogate.smpp.constants import Npi, Ton
from octogate.smpp.simulator import SimulatorConfig
from octogate.store import delivery
from octogate.store.store import Store
from support import Clock, Customer, eventually, send

from .conftest import ACCOUNTS, closed_port, connector, delivering

LONG_TEXT = (
    "Our summer sale starts today: every item is twenty percent off until Sunday. " * 3 + "STOP au XXXXX"
)


async def all_submitted(store: Store, campaign_id: int, status: str = "submitted") -> bool:
    ids = await store.read(delivery.campaign_message_ids, campaign_id)
    states = [await store.read(delivery.message_state, message_id) for message_id, _ in ids]
    return all(state[0] == status for state in states)


async def test_a_campaign_reaches_the_smsc_with_its_text_sender_and_parts(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    async with delivering(
        store, clock, app=app, routes=[RouteConfig(connectors=("sim",), stop_short_code="38200")]
    ) as d:
        short = await send(api, customer, sms_recipients="+33601020304,+33601020305")
        long = await send(api, customer, sms_recipients="+33601020306", sms_text=LONG_TEXT)
        await eventually(lambda: all_submitted(store, short), what="the short campaign submitted")
        await eventually(lambda: all_submitted(store, long), what="the long campaign submitted")

        by_destination = {m.destination_addr: m for m in d.sim.messages}
        assert sorted(by_destination) == ["33601020304", "33601020305", "33601020306"]
        first = by_destination["33601020304"]
        assert first.text == "Hello STOP au 38200"
        assert (first.source_addr, first.source_addr_ton, first.source_addr_npi) == (
            "MyShop",
            Ton.ALPHANUMERIC,
            Npi.UNKNOWN,
        )
        assert (first.dest_addr_ton, first.dest_addr_npi) == (Ton.INTERNATIONAL, Npi.ISDN)
        assert all(part.registered_delivery == 1 for part in d.sim.parts)
        long_message = by_destination["33601020306"]
        assert long_message.text == LONG_TEXT.replace("XXXXX", "38200")
        assert len(long_message.parts) == 2

        for message_id, _ in await store.read(delivery.campaign_message_ids, long):
            status, connector_name, parts, attempts, _ = await store.read(delivery.message_state, message_id)
            assert (status, connector_name, parts, attempts) == ("submitted", "sim", 2, 1)
            rows = await store.read(delivery.message_parts, message_id)
            assert [(seq, conn, carrier, st) for seq, conn, carrier, st in rows] == [
                (1, "sim", long_message.message_ids[0], "submitted"),
                (2, "sim", long_message.message_ids[1], "submitted"),
            ]
        for message_id, recipient in await store.read(delivery.campaign_message_ids, short):
            [(seq, _, carrier, _)] = await store.read(delivery.message_parts, message_id)
            assert (seq, carrier) == (1, by_destination[recipient.lstrip("+")].message_ids[0])


async def test_a_text_sent_many_times_goes_out_whole_each_time_and_each_long_one_under_its_own_reference(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    """One text to many recipients is encoded once (`dispatch.wire`); a long one still gets, per message, the
    concatenation reference the handset joins its parts by."""
    async with delivering(
        store, clock, app=app, routes=[RouteConfig(connectors=("sim",), stop_short_code="38200")]
    ) as d:
        short = await send(api, customer, sms_recipients="+33601020304,+33601020305,+33601020306")
        first = await send(api, customer, sms_recipients="+33601020307", sms_text=LONG_TEXT)
        again = await send(api, customer, sms_recipients="+33601020307", sms_text=LONG_TEXT)
        for campaign in (short, first, again):
            await eventually(lambda c=campaign: all_submitted(store, c), what="the campaigns submitted")

        shorts = [m for m in d.sim.messages if m.destination_addr != "33601020307"]
        assert sorted(m.text for m in shorts) == ["Hello STOP au 38200"] * 3
        assert len({m.parts[0].short_message for m in shorts}) == 1
        longs = [m for m in d.sim.messages if m.destination_addr == "33601020307"]
        assert [m.text for m in longs] == [LONG_TEXT.replace("XXXXX", "38200")] * 2
        references = [{part.concat[0] for part in m.parts if part.concat} for m in longs]
        assert [len(r) for r in references] == [1, 1] and references[0] != references[1]


async def test_a_number_sender_goes_as_ton_1_npi_1_and_no_sender_as_the_routes_default(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    routes = [RouteConfig(connectors=("sim",), default_sender="Octo")]
    async with delivering(store, clock, app=app, routes=routes) as d:
        numeric = await send(
            api, customer, sms_recipients="+33601020304", sms_sender="+33700000001", msisdn_sender=1
        )
        nameless = await send(
            api,
            customer,
            sms_recipients="+33601020305",
            sms_type="XXX",
            sms_sender=None,
            sms_text="Hi no PUB=STOP",
        )
        await eventually(lambda: all_submitted(store, numeric), what="the msisdn campaign submitted")
        await eventually(lambda: all_submitted(store, nameless), what="the XXX campaign submitted")
        by_destination = {m.destination_addr: m for m in d.sim.messages}
        numbered = by_destination["33601020304"]
        assert (numbered.source_addr, numbered.source_addr_ton, numbered.source_addr_npi) == (
            "33700000001",
            1,
            1,
        )
        default = by_destination["33601020305"]
        assert (default.source_addr, default.source_addr_ton, default.source_addr_npi) == ("Octo", 5, 0)


async def test_a_deferred_campaign_waits_until_it_is_due(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    async with delivering(store, clock, app=app) as d:
        later = int(clock.now) + 3600
        deferred = await send(api, customer, sms_recipients="+33601020304", sms_mode=2, sending_date=later)
        now = await send(api, customer, sms_recipients="+33601020305")
        await eventually(lambda: all_submitted(store, now), what="the immediate campaign submitted")
        # Several more looks at the store see the deferred message: it stays queued.
        dispatcher = d.dispatchers[0]
        seen = dispatcher.rounds

        async def five_more_rounds() -> bool:
            return dispatcher.rounds >= seen + 5

        await eventually(five_more_rounds, what="claim rounds")
        assert [m.destination_addr for m in d.sim.messages] == ["33601020305"]
        assert await all_submitted(store, deferred, status="queued")
        clock.now = later
        d.wake()
        await eventually(lambda: all_submitted(store, deferred), what="the deferred campaign submitted")
        assert [m.destination_addr for m in d.sim.messages] == ["33601020305", "33601020304"]


async def test_routes_by_type_and_country_and_fails_over_when_a_connector_is_down(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    dead = closed_port()
    routes = [
        RouteConfig(
            connectors=("down", "france"), sms_types=frozenset({"FR"}), calling_codes=frozenset({33})
        ),
        RouteConfig(connectors=("world",)),
    ]

    def connectors(port: int) -> list:  # type: ignore[type-arg]
        return [connector("down", dead), connector("france", port, "octo"), connector("world", port, "octo2")]

    async with delivering(store, clock, app=app, routes=routes, connectors=connectors) as d:
        french = await send(api, customer, sms_recipients="+33601020304")
        british = await send(api, customer, sms_recipients="+447911123456", sms_type="WWW")
        await eventually(lambda: all_submitted(store, french), what="the French campaign submitted")
        await eventually(lambda: all_submitted(store, british), what="the British campaign submitted")
        systems = {m.destination_addr: m.system_id for m in d.sim.messages}
        assert systems == {"33601020304": "octo", "447911123456": "octo2"}
        [(message_id, _)] = await store.read(delivery.campaign_message_ids, french)
        assert (await store.read(delivery.message_state, message_id))[1] == "france"


async def test_a_refused_destination_fails_with_invalid_destination_address(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    sim = SimulatorConfig(accounts=dict(ACCOUNTS), invalid_prefixes=("3369",), receipt_delay_ms=60_000)
    async with delivering(store, clock, app=app, sim=sim) as d:
        campaign = await send(api, customer, sms_recipients="+33690000001,+33601020304")
        ids = dict((r, i) for i, r in await store.read(delivery.campaign_message_ids, campaign))

        async def settled() -> bool:
            states = [(await store.read(delivery.message_state, i))[0] for i in ids.values()]
            return all(s in ("submitted", "failed") for s in states)

        await eventually(settled, what="both messages settled")
        refused = await store.read(delivery.message_state, ids["+33690000001"])
        assert (refused[0], refused[4]) == ("failed", "INVALID_DESTINATION_ADDRESS")
        assert await store.read(delivery.message_parts, ids["+33690000001"]) == []
        assert (await store.read(delivery.message_state, ids["+33601020304"]))[0] == "submitted"
        assert [m.destination_addr for m in d.sim.messages] == ["33601020304"]


def test_the_validity_is_written_in_smpp_relative_time() -> None:
    assert relative_validity(48) == "000002000000000R"
    assert relative_validity(1) == "000000010000000R"
    assert relative_validity(30 * 24 + 5) == "000030050000000R"


async def test_every_part_goes_with_the_configured_validity(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock, tmp_path: Path
) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text("[dispatch]\nvalidity_hours = 26\npoll_interval = 0.05\n", encoding="utf-8")
    settings = load_settings(str(config), environ={}).dispatch
    assert settings.validity_hours == 26 and DispatchSettings().validity_hours == 48
    async with delivering(store, clock, app=app, settings=settings) as d:
        campaign = await send(api, customer, sms_recipients="+33601020304", sms_text=LONG_TEXT)
        await eventually(lambda: all_submitted(store, campaign), what="the campaign submitted")
        assert [p.validity_period for p in d.sim.parts] == ["000001020000000R"] * 2
    config.write_text("[dispatch]\nvalidity_hours = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="validity_hours"):
        load_settings(str(config), environ={})
