"""Items that arrive while a write is in flight go together in the next one: one transaction (and, on
PostgreSQL, a few set-based statements) for the receipts an SMSC delivers together, instead of one each.

No delay is added: the first item starts a write at the event loop's next turn (taking everything queued until
then); items arriving meanwhile wait only for that write, then go together. Each caller still hears its own
item's result, once it is durable, or the error: a batch that fails for another reason than an unavailable
store is written again item by item, so that only the bad item fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from octogate.store.records import StoreUnavailable
from octogate.store.store import Store

log = logging.getLogger(__name__)
I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")  # its result
MAX_GROUP = 500


class GroupedWrites(Generic[I, R]):
    """`await submit(item)`: `op(conn, items) -> results` (one per item, in order) run for a group of items."""

    def __init__(self, store: Store, op: Callable[[Any, Sequence[I]], list[R]], limit: int = MAX_GROUP) -> None:
        self.store = store
        self.op = op
        self.limit = limit
        self.writes = 0  # transactions written (tests read it)
        self._waiting: list[tuple[I, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    def submit(self, item: I) -> asyncio.Future[R]:
        """The future of `item`'s result: awaited, or waited for by callback (no coroutine per item)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="grouped-writes")
        return future

    async def _write_all(self) -> None:
        await asyncio.sleep(0)  # the items of this turn of the loop (deliver_sm read together) join the first
        while self._waiting:
            group, self._waiting = self._waiting[: self.limit], self._waiting[self.limit :]
            await self._write(group)

    async def _write(self, group: list[tuple[I, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in group]
        try:
            self.writes += 1
            results = await self.store.write(self.op, items)
        except StoreUnavailable as error:
            for _, future in group:
                _fail(future, error)
            return
        except Exception as error:
            if len(group) == 1:
                _fail(group[0][1], error)
                return
            log.exception("a group of %d writes failed: writing them one by one", len(group))
            for one in group:
                await self._write([one])
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
