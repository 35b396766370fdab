"""Incoming texts end to end through the simulator's `inject_mo`: STOPs, replies, unmatched texts, long texts."""

from __future__ import annotations

import httpx

from octogate.http.app import OctopushApp
from octogate.incoming.payloads import paris_date
from octogate.smpp.simulator import SimulatorConfig
from octogate.store import delivery, incoming, queries
from octogate.store.db import Connection
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import Clock, Customer, eventually, make_customer, send, xml

from .conftest import SIM_ACCOUNTS, account_id, gateway, pushes, set_urls

NUMBER = "+33601020304"


async def submitted(store: Store, campaign_id: int) -> bool:
    ids = await store.read(delivery.campaign_message_ids, campaign_id)
    states = [(await store.read(delivery.message_state, m))[0] for m, _ in ids]
    return bool(states) and all(state == "submitted" for state in states)


def incoming_rows(conn: Connection) -> list[tuple[object, ...]]:
    return conn.fetchall(
        "SELECT connector, source, destination, text, kind, account_id, campaign_id, message_id FROM incoming "
        "ORDER BY id"
    )


def quiet_sim() -> SimulatorConfig:
    return SimulatorConfig(accounts=dict(SIM_ACCOUNTS), receipt_delay_ms=600_000)


async def test_a_stop_puts_the_number_on_the_list_of_the_last_marketing_sender_and_pushes_it(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    other = make_customer(store)
    for who in (customer, other):
        store.run(set_urls, who.login)
    async with gateway(store, clock, app, quiet_sim()) as g:
        marketing = await send(api, customer, sms_recipients=NUMBER)
        await eventually(lambda: submitted(store, marketing), what="the marketing campaign submitted")
        # a later transactional message from another account does not take the STOP
        otp = await send(api, other, sms_recipients=NUMBER, sms_text="Code 1234", transactional=1)
        await eventually(lambda: submitted(store, otp), what="the transactional message submitted")
        assert await g.sim.inject_mo("33601020304", "36179", "  Arrêt ") == [0]
    mine, theirs = account_id(store, customer), account_id(store, other)
    [stop] = store.run(incoming.stops, mine)
    assert (stop.number, stop.text) == (NUMBER, "  Arrêt ")
    assert store.run(incoming.stops, theirs) == []
    [(message_id, _)] = store.run(delivery.campaign_message_ids, marketing)
    [text] = store.run(incoming.incoming_texts)  # what the operator lists
    assert (text.source, text.text, text.kind, text.campaign_id) == (NUMBER, "  Arrêt ", "stop", marketing)
    with store.connect() as conn:
        assert pushes(conn, mine) == [
            ("stop", {"number": NUMBER, "text": "  Arrêt ", "stop_date": paris_date(int(clock.now))})
        ]
        assert pushes(conn, theirs) == []
        assert incoming_rows(conn) == [
            ("sim", NUMBER, "36179", "  Arrêt ", "stop", mine, marketing, message_id)
        ]
    # the account's next campaign skips the number: 114 under failures
    params = customer.params(
        sms_type="FR",
        sms_sender="MyShop",
        sms_text="Sale STOP au XXXXX",
        sms_recipients=f"{NUMBER},+33601020305",
    )
    root = xml(await api.post("/api/sms", data=params))
    assert root.findtext("error_code") == "000"
    assert [
        (f.findtext("recipient"), f.findtext("error_code")) for f in root.findall("failures/failure")
    ] == [(NUMBER, "114")]
    assert [s.findtext("recipient") for s in root.findall("success/success")] == ["+33601020305"]


async def test_a_reply_goes_to_the_campaign_with_replies_the_number_last_received(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    long_reply = "Yes please, book me for Thursday at ten. " * 5
    async with gateway(store, clock, app, quiet_sim()) as g:
        asked = await send(
            api, customer, sms_recipients=NUMBER, with_replies=1, sms_text="Come? STOP au XXXXX"
        )
        await eventually(lambda: submitted(store, asked), what="the campaign submitted")
        later = await send(api, customer, sms_recipients=NUMBER, sms_text="No replies here STOP au XXXXX")
        await eventually(lambda: submitted(store, later), what="the second campaign submitted")
        assert await g.sim.inject_mo("33601020304", "36179", "Oui") == [0]
        assert await g.sim.inject_mo("33601020304", "36179", long_reply) == [0, 0]  # two parts, one text
    [(message_id, _)] = store.run(delivery.campaign_message_ids, asked)
    mine = account_id(store, customer)
    when = paris_date(int(clock.now))
    with store.connect() as conn:
        assert pushes(conn, mine) == [
            ("reply", {"message_id": ticket_for(asked), "number": NUMBER, "text": text,
                       "sms_ticket": str(message_id), "answer_date": when})
            for text in ("Oui", long_reply)
        ]  # fmt: skip
        assert [row[3:5] for row in incoming_rows(conn)] == [("Oui", "reply"), (long_reply, "reply")]
    assert store.run(incoming.stops, mine) == []


async def test_a_text_that_matches_nothing_is_recorded_unmatched(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    async with gateway(store, clock, app, quiet_sim()) as g:
        plain = await send(api, customer, sms_recipients=NUMBER)  # no replies asked
        await eventually(lambda: submitted(store, plain), what="the campaign submitted")
        assert await g.sim.inject_mo("33601020304", "36179", "Who is this?") == [0]
        assert await g.sim.inject_mo("33700000009", "36179", "STOP") == [0]  # nobody ever wrote to it
        assert await g.sim.inject_mo("Orange", "36179", "alphanumeric sender") == [0]
    with store.connect() as conn:
        assert incoming_rows(conn) == [
            ("sim", NUMBER, "36179", "Who is this?", "unmatched", None, None, None),
            ("sim", "+33700000009", "36179", "STOP", "unmatched", None, None, None),
            ("sim", "Orange", "36179", "alphanumeric sender", "unmatched", None, None, None),
        ]
        assert pushes(conn, account_id(store, customer)) == []
    assert store.run(queries.stopped_numbers, account_id(store, customer), ["+33700000009"]) == set()


def test_the_parts_of_a_long_text_survive_a_restart_and_stragglers_are_recorded(store: Store) -> None:
    from octogate.incoming.model import IncomingPart
    from octogate.incoming.texts import take_incomplete, take_part

    def part(seq: int, text: str, ref: int = 7, source: str = "33601020304") -> IncomingPart:
        return IncomingPart("sim", source, "+" + source, "36179", ref, 3, seq, text, 1000)

    assert store.run(take_part, part(2, "b")) is None
    assert store.run(take_part, part(2, "b")) is None  # delivered twice: stored once
    restarted = Store(store.url)  # nothing of the text is held in memory
    try:
        assert restarted.run(take_part, part(1, "a")) is None
        assert (
            restarted.run(take_part, part(3, "c")) == "unmatched"
        )  # whole: taken (nobody sent it a campaign)
        assert restarted.run(take_part, part(1, "half", ref=8, source="33601020305")) is None
        assert restarted.run(take_incomplete, 1500, 600, lambda source: "+" + source) == 0  # not yet given up
        assert restarted.run(take_incomplete, 1601, 600, lambda source: "+" + source) == 1
        with restarted.connect() as conn:
            texts = conn.fetchall("SELECT source, text, kind FROM incoming ORDER BY id")
            left = conn.fetchone("SELECT COUNT(*) FROM incoming_parts")
    finally:
        restarted.close()
    assert texts == [("+33601020304", "abc", "unmatched"), ("+33601020305", "half", "incomplete")]
    assert left == (0,)
