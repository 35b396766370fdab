"""A REST campaign's receipt, reply and STOP pushed as JSON to a real receiver, through the same outbox and push
worker as the 1.6.1 pushes, and read back by the client's parser; a 1.6.1 campaign of the same account keeps its
form pushes (SQLite and PostgreSQL, the SMSC simulator, the real ASGI app)."""

from __future__ import annotations

import json

import httpx

from callbacks.conftest import FAST
from callbacks.support import Receiver
from incoming.conftest import gateway
from octogate.callbacks.worker import PushWorker
from octogate.client import (
    DeliveryReceipt,
    DeliveryStatus,
    Reply,
    RestDeliveryReceipt,
    RestDeliveryStatus,
    RestReply,
    RestStop,
    Stop,
    callback_app,
    parse_push,
)
from octogate.http.app import OctopushApp
from octogate.paris import paris_date
from octogate.store import outbox
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for
from support import Clock, Customer, eventually, send

from .conftest import FR, FR2, SEND

EDIT = "/v1/public/user/campaign-parameters/edit"


async def test_rest_pushes_are_json_and_1_6_1_pushes_stay_forms(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock, auth: dict[str, str],
    receiver: Receiver,
) -> None:  # fmt: skip
    edit = await api.patch(EDIT, headers=auth, json={"callbacks": {
        "callback_url_for_deliveries": receiver.url("/rest/receipts"),
        "callback_url_for_inbounds": receiver.url("/rest/replies"),
        "callback_url_for_blacklisted_numbers": receiver.url("/rest/stops")}})  # fmt: skip
    assert edit.status_code == 200
    store.run(outbox.set_urls, customer.login, {"receipt": receiver.url("/form/receipts"),
                                                "stop": receiver.url("/form/stops")})  # fmt: skip
    async with gateway(store, clock, app) as g:
        answer = await api.post(SEND, headers=auth, json={
            "recipients": [{"phone_number": FR}], "text": "Sale -20%", "sender": "MyShop", "with_replies": True,
        })  # fmt: skip
        assert answer.status_code == 201
        ticket = answer.json()["sms_ticket"]
        rest_campaign = campaign_id_for(ticket)
        assert rest_campaign is not None
        await send(api, customer, sms_recipients=FR2, transactional=1)

        async def receipts_owed() -> bool:  # both messages sent and delivered (the simulator's receipts)
            with store.connect() as conn:
                row = conn.fetchone("SELECT COUNT(*) FROM callbacks WHERE kind IN ('receipt', 'rest_receipt')")
            return row is not None and row[0] == 2

        await eventually(receipts_owed, what="both receipts owed")
        assert await g.sim.inject_mo("33601020304", "36179", "Oui, merci") == [0]
        assert await g.sim.inject_mo("33601020304", "36179", "STOP") == [0]
    worker = PushWorker(store, FAST)
    await worker.start()
    try:
        await receiver.wait_for(5)
    finally:
        await worker.stop()
    got = {r.path: r for r in receiver.received}
    assert sorted(got) == ["/form/receipts", "/form/stops", "/rest/receipts", "/rest/replies", "/rest/stops"]
    assert len(receiver.received) == 5
    for path in ("/rest/receipts", "/rest/replies", "/rest/stops"):
        assert got[path].content_type == "application/json; charset=UTF-8"
    for path in ("/form/receipts", "/form/stops"):
        assert got[path].content_type == "application/x-www-form-urlencoded; charset=UTF-8"

    receipt = json.loads(got["/rest/receipts"].body)
    assert set(receipt) == {"channel", "message_id", "number", "status", "delivery_date", "meta_data"}
    parsed = parse_push(got["/rest/receipts"].body)
    assert isinstance(parsed, RestDeliveryReceipt)
    assert (parsed.channel, parsed.message_id, parsed.number, parsed.status, parsed.meta_data) == (
        "sms", ticket, FR, RestDeliveryStatus.DELIVERED, {}
    )  # fmt: skip

    reply = parse_push(got["/rest/replies"].body)
    assert isinstance(reply, RestReply)
    assert (reply.message_id, reply.number, reply.text, reply.sim_card_number) == (ticket, FR, "Oui, merci", "36179")
    assert reply.reception_date.strftime("%Y-%m-%d %H:%M:%S") == paris_date(int(clock.now))
    assert set(json.loads(got["/rest/replies"].body)) == {
        "message_id", "number", "text", "sim_card_number", "reception_date"
    }  # fmt: skip

    stop = parse_push(got["/rest/stops"].body)
    assert isinstance(stop, RestStop) and (stop.message_id, stop.number, stop.text) == (ticket, FR, "STOP")
    # the STOP belongs to the account: its 1.6.1 URL gets it too, as form fields
    form_stop = parse_push(got["/form/stops"].body)
    assert isinstance(form_stop, Stop) and form_stop.number == FR
    form_receipt = parse_push(got["/form/receipts"].body)
    assert isinstance(form_receipt, DeliveryReceipt)
    assert (form_receipt.number, form_receipt.status) == (FR2, DeliveryStatus.DELIVERED)
    assert form_receipt.message_id.startswith("api")


async def test_a_rest_campaign_without_rest_urls_owes_no_push(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock, auth: dict[str, str],
) -> None:  # fmt: skip
    """The 1.6.1 URLs are the 1.6.1 campaigns': a REST campaign is never pushed there in form fields."""
    store.run(outbox.set_urls, customer.login, {"receipt": "http://customer.test/receipts"})
    async with gateway(store, clock, app):
        answer = await api.post(SEND, headers=auth, json={"recipients": [{"phone_number": FR}], "text": "Code 1",
                                                           "purpose": "alert", "sender": "MyShop"})  # fmt: skip
        campaign = campaign_id_for(answer.json()["sms_ticket"])

        async def delivered() -> bool:
            with store.connect() as conn:
                row = conn.fetchone("SELECT status FROM messages WHERE campaign_id = ?", (campaign,))
            return row is not None and row[0] == "delivered"

        await eventually(delivered, what="the message delivered")
    with store.connect() as conn:
        assert conn.fetchall("SELECT kind FROM callbacks") == []


async def test_the_clients_receiver_takes_json_pushes_and_forms() -> None:
    got: list[object] = []
    app = callback_app(got.append)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as http:
        reply = {"message_id": "sms_174876e801", "number": FR, "text": "Oui", "sim_card_number": "+33700000001",
                 "reception_date": "2026-11-24 10:01:00", "extra": None}  # fmt: skip
        assert (await http.post("/push", json=reply)).status_code == 200
        form = {"message_id": "api100000000001", "number": FR, "text": "Oui", "answer_date": "2026-11-24 10:01:00"}
        assert (await http.post("/push", data=form)).status_code == 200
        for bad in (b'{"number": "+33601020304"}', b'{"delivery_date": "2026-11-24 10:00:00", "status": "LOST"}',
                    b"{not json", b'{"stop_date": "yesterday", "number": "+33601020304"}'):  # fmt: skip
            assert (await http.post("/push", content=bad)).status_code == 400, bad
    rest_reply, form_reply = got
    assert isinstance(rest_reply, RestReply) and rest_reply.sim_card_number == "+33700000001"
    assert rest_reply.reception_date.isoformat() == "2026-11-24T10:01:00+01:00"
    assert isinstance(form_reply, Reply) and form_reply.message_id == "api100000000001"
