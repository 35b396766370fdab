"""Work for the queue's tests, made the way the gateway makes it: pushes owed to accounts (the outbox), and a
tiny leased worker whose job is to report each claimed push delivered at once (no HTTP).

Fixtures, not a support module: `queue` is the standard library's name, so this folder cannot be imported as
a package."""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import Callable, Collection, Sequence
from typing import Any

import pytest

from octogate.statuses import PushStatus
from octogate.store import outbox
from octogate.store.callbacks import enqueue_push
from octogate.store.db import Connection
from octogate.store.outbox import ClaimedPush, PushResult
from octogate.store.queue import PUSHES, Want
from octogate.store.store import Store
from octogate.worker import LeasedWorker
from support import make_customer

NOW = 1_800_000_000


def push_account(store: Store) -> int:
    """A new account with a receipt URL (so pushes are owed to it); returns its id."""
    login = make_customer(store).login
    store.run(outbox.set_urls, login, {"receipt": "http://customer.test/receipts"})
    with store.connect() as conn:
        row = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (login,))
    assert row is not None
    return int(row[0])


def owe(store: Store, account: int, count: int = 1, now: int = NOW) -> list[int]:
    """`count` receipt pushes owed to the account, due at `now`; their ids."""

    def enqueue(conn: Connection) -> list[int]:
        ids = [enqueue_push(conn, account, "receipt", {"n": str(i)}, now) for i in range(count)]
        return [i for i in ids if i is not None]

    return store.run(enqueue)


def push_row(store: Store, push_id: int) -> dict[str, Any]:
    with store.connect() as conn:
        cursor = conn.execute(
            "SELECT status, attempts, next_attempt_at, claimed_by, lease_until, last_error FROM callbacks "
            "WHERE id = ?",
            (push_id,),
        )
        names = [c[0] for c in cursor.description]
        row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


class EchoWorker(LeasedWorker[ClaimedPush, PushResult]):
    """Claims pushes and reports each one delivered at once; records with `outbox.record`, except that a batch
    holding a `poisoned` id makes the record operation raise (a bug in recording one item), one holding a
    `refused` id runs a statement the database refuses, and `silent` ids are never reported (work still going on
    when the worker stops)."""

    label = "echo"
    release_unfinished = True

    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float = 60.0,
        poisoned: Collection[int] = (),
        refused: Collection[int] = (),
        silent: Collection[int] = (),
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store, PUSHES, lease_seconds=60, poll_interval=poll_interval, owner=owner, clock=clock)
        self.poisoned = frozenset(poisoned)
        self.refused = frozenset(refused)
        self.silent = frozenset(silent)  # claimed, never reported: work a stop cuts short
        self.claimed_at: dict[int, float] = {}  # id -> time.monotonic() when the claim came back
        self.recorded = 0
        self.changed = asyncio.Event()  # set after each claim round and each record

    def _want(self) -> Want | None:
        return Want(default=100, rooms={})

    def _claim_op(self) -> Callable[..., list[ClaimedPush]]:
        return outbox.claim_fair

    def _record_op(self) -> Callable[..., list[int]]:
        poisoned, refused = self.poisoned, self.refused

        def record(conn: Connection, owner: str, results: Sequence[PushResult], now: int) -> list[int]:
            if any(r.id in poisoned for r in results):
                raise ValueError("a bug while recording")
            if any(r.id in refused for r in results):
                conn.execute("SELECT no_such_column FROM callbacks")
            return outbox.record(conn, owner, results, now)

        return record

    def _take(self, items: list[ClaimedPush]) -> None:
        for push in items:
            self.claimed_at[push.id] = time.monotonic()
            if push.id not in self.silent:
                self.report(PushResult(push.id, PushStatus.DELIVERED, self._now(), 200))
        self.changed.set()

    async def _claim_round(self) -> int:
        claimed = await super()._claim_round()
        self.changed.set()
        return claimed

    def _recorded_some(self, count: int) -> None:
        self.recorded += count
        self.changed.set()

    async def until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        """Wait (on the worker's own signals, no polling) until `condition()` holds."""
        deadline = time.monotonic() + within
        while not condition():
            remaining = deadline - time.monotonic()
            assert remaining > 0, "condition not reached in time"
            self.changed.clear()
            waiter = asyncio.ensure_future(self.changed.wait())
            await asyncio.wait({waiter}, timeout=remaining)
            waiter.cancel()


@pytest.fixture
def work() -> types.SimpleNamespace:
    """The helpers above, for the tests of this folder."""
    return types.SimpleNamespace(
        NOW=NOW, push_account=push_account, owe=owe, push_row=push_row, EchoWorker=EchoWorker
    )
