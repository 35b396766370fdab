"""The REST API through the real ASGI app (SQLite and PostgreSQL): a customer's headers, and store look-ups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from callbacks.support import Receiver
from octogate.store.db import Connection
from octogate.store.store import Store
from support import Customer

SEND = "/v1/public/sms-campaign/send"
FR = "+33601020304"
FR2 = "+33611223344"
ES = "+34612345678"


def headers(customer: Customer) -> dict[str, str]:
    return {"api-login": customer.login, "api-key": customer.api_key, "cache-control": "no-cache"}


@pytest.fixture
def auth(customer: Customer) -> dict[str, str]:
    return headers(customer)


def body(**fields: Any) -> dict[str, Any]:
    """A send body a client would write (transactional, so French marketing hours and the mention stay out)."""
    document: dict[str, Any] = {
        "recipients": [{"phone_number": FR}],
        "text": "Your code is 1234",
        "type": "sms_premium",
        "purpose": "alert",
        "sender": "MyShop",
    }
    document.update(fields)
    return {name: value for name, value in document.items() if value is not ...}


async def post(api: httpx.AsyncClient, auth: dict[str, str], **fields: Any) -> httpx.Response:
    return await api.post(SEND, json=body(**fields), headers=auth)


def balance(store: Store, customer: Customer) -> int:
    with store.connect() as conn:
        row = conn.fetchone("SELECT balance FROM accounts WHERE login = ?", (customer.login,))
    assert row is not None
    return int(row[0])


def campaigns(store: Store, customer: Customer) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return rows(
            conn,
            "SELECT c.id, c.source, c.sms_type, c.sender, c.text, c.transactional, c.with_replies, c.request_id, "
            "c.recipients, c.sms, c.cost, c.send_at, c.created_at FROM campaigns c JOIN accounts a "
            "ON a.id = c.account_id WHERE a.login = ? ORDER BY c.id",
            (customer.login,),
        )


def messages(store: Store, campaign_id: int) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return rows(
            conn,
            "SELECT recipient, text, sms, cost, send_at FROM messages WHERE campaign_id = ? ORDER BY id",
            (campaign_id,),
        )


def rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    names = [part.strip().split(".")[-1].split(" ")[-1] for part in sql.split(" FROM ")[0][7:].split(",")]
    return [dict(zip(names, row, strict=True)) for row in conn.fetchall(sql, params)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()
