"""The store's part of the operator's view, on SQLite and PostgreSQL: queue by status, push backlog."""

from __future__ import annotations

import httpx

from octogate.operations import Operator
from octogate.store import health
from octogate.store.store import Store
from support import Customer, send


async def test_queue_depth_and_an_empty_backlog(api: httpx.AsyncClient, store: Store, customer: Customer) -> None:
    assert [(d.status, d.count) for d in await store.read(health.queue_depth)] == [
        ("queued", 0), ("sending", 0), ("submitted", 0),
    ]  # fmt: skip
    await send(api, customer, sms_recipients="+33601020304,+33601020305,+33601020306")
    depth = {d.status: d for d in await store.read(health.queue_depth)}
    assert depth["queued"].count == 3 and depth["queued"].oldest_due is not None
    assert await store.read(health.ping)
    document = Operator(store).backlog()
    assert document["queue"][0] == {"status": "queued", "count": 3, "oldest_due": depth["queued"].oldest_due}
    assert document["pushes"] == {
        "pending": 0, "failing": 0, "oldest_due": None, "oldest_failing_since": None, "oldest_failing_host": None,
    }  # fmt: skip
