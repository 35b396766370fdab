"""The three pushes, built exactly from the document's fields, through the parser and the ASGI receiver.

octogate does not push yet (a later issue): the end-to-end test from a real push comes with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest

from octogate.client import (
    Callback,
    CallbackError,
    DeliveryReceipt,
    DeliveryStatus,
    Reply,
    Stop,
    callback_app,
    parse_callback,
)

RECEIPT = {
    "message_id": "api100000000001",
    "number": "+33601020304",
    "status": "DELIVERED",
    "delivery_date": "2026-07-14 09:30:00",
}
STOP = {"number": "+33601020304", "text": "Soldes -20% STOP au 36180", "stop_date": "2026-12-24 18:05:09"}
REPLY = {
    "message_id": "api100000000001",
    "number": "+33601020304",
    "text": "Oui, à 10h",
    "sms_ticket": "sms-7",
    "answer_date": "2026-03-29 03:00:00",
}


def test_a_delivery_receipt() -> None:
    assert parse_callback(RECEIPT) == DeliveryReceipt(
        message_id="api100000000001",
        number="+33601020304",
        status=DeliveryStatus.DELIVERED,
        delivery_date=datetime(2026, 7, 14, 7, 30, tzinfo=UTC),  # Paris is UTC+2 in summer
    )


def test_a_stop() -> None:
    stop = parse_callback(STOP)
    assert stop == Stop(
        number="+33601020304",
        text="Soldes -20% STOP au 36180",
        stop_date=datetime(2026, 12, 24, 17, 5, 9, tzinfo=UTC),  # UTC+1 in winter
    )


def test_a_reply() -> None:
    reply = parse_callback(REPLY)
    assert reply == Reply(
        message_id="api100000000001",
        number="+33601020304",
        text="Oui, à 10h",
        sms_ticket="sms-7",
        answer_date=datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # just after the spring change
    )
    assert parse_callback({**REPLY, "sms_ticket": ""}).sms_ticket is None  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [status.value for status in DeliveryStatus])
def test_the_six_statuses(status: str) -> None:
    receipt = parse_callback({**RECEIPT, "status": status})
    assert isinstance(receipt, DeliveryReceipt) and receipt.status.value == status


def test_the_statuses_are_the_documents_six() -> None:
    assert [status.value for status in DeliveryStatus] == [
        "DELIVERED", "NOT_DELIVERED", "INVALID_DESTINATION_ADDRESS", "NOT_ALLOWED", "UNKNOWN_DELIVERY", "UNDEFINED",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({**RECEIPT, "status": "READ"}, "unknown delivery status"),
        ({**RECEIPT, "delivery_date": "14/07/2026 09:30"}, "Y-m-d H:i:s"),
        ({key: value for key, value in RECEIPT.items() if key != "message_id"}, "message_id"),
        ({key: value for key, value in STOP.items() if key != "number"}, "number"),
        ({"number": "+33601020304", "text": "hello"}, "exactly one of"),
        ({**STOP, "answer_date": "2026-03-29 03:00:00"}, "exactly one of"),
    ],
)
def test_what_is_not_a_push(form: dict[str, str], reason: str) -> None:
    with pytest.raises(CallbackError, match=reason):
        parse_callback(form)


def receiver(handler: object) -> httpx.AsyncClient:
    app = callback_app(handler)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://customer.test")


async def form_post(client: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/octopush/push",
        content=urlencode(form).encode("utf-8"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


async def test_the_receiver_hands_each_push_to_an_async_handler_and_answers_an_empty_200() -> None:
    received: list[Callback] = []

    async def on_push(callback: Callback) -> None:
        received.append(callback)

    async with receiver(on_push) as client:
        answers = [await form_post(client, form) for form in (RECEIPT, STOP, REPLY)]
    assert [(answer.status_code, answer.content) for answer in answers] == [(200, b"")] * 3
    assert [type(callback) for callback in received] == [DeliveryReceipt, Stop, Reply]
    assert received[2] == parse_callback(REPLY)


async def test_the_receiver_takes_a_sync_handler() -> None:
    received: list[Callback] = []
    async with receiver(received.append) as client:
        answer = await client.post("/", data=STOP)
    assert answer.status_code == 200 and answer.content == b""
    assert received == [parse_callback(STOP)]


async def test_a_malformed_push_answers_400_and_the_handler_is_not_called() -> None:
    received: list[Callback] = []
    async with receiver(received.append) as client:
        bad_status = await client.post("/", data={**RECEIPT, "status": "READ"})
        not_utf8 = await client.post("/", content="text=caf\xe9&number=1".encode("latin-1"))
        no_date = await client.post("/", data={"number": "+33601020304"})
        get = await client.get("/", params=RECEIPT)
        too_large = await client.post("/", content=b"a" * 70_000)
    assert [r.status_code for r in (bad_status, not_utf8, no_date)] == [400, 400, 400]
    assert b"unknown delivery status" in bad_status.content
    assert get.status_code == 405 and too_large.status_code == 413
    assert received == []


async def test_a_failing_handler_answers_500_so_the_push_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    def on_push(callback: Callback) -> None:
        raise RuntimeError("database down")

    async with receiver(on_push) as client:
        answer = await client.post("/", data=RECEIPT)
    assert answer.status_code == 500
    assert "the push handler failed" in caplog.text


async def test_the_receiver_mounts_in_a_starlette_app() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    received: list[Callback] = []
    app = Starlette(routes=[Mount("/octopush", app=callback_app(received.append))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer.test") as client:
        answer = await client.post("/octopush/receipts", data=RECEIPT)
    assert answer.status_code == 200 and answer.content == b""
    assert received == [parse_callback(RECEIPT)]
