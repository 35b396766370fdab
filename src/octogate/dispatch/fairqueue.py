"""The in-memory buffer between claims and sends: transactional first, then round robin between accounts.

Round robin is what keeps one account's 100,000-message campaign from delaying another account's single
message: whatever is buffered for the big account, the next free sender takes the other account's message.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from octogate.store.delivery import ClaimedMessage

PRIORITIES = (0, 1)  # 0 transactional, 1 marketing


class FairQueue:
    def __init__(self) -> None:
        self._queues: dict[int, OrderedDict[int, deque[ClaimedMessage]]] = {
            p: OrderedDict() for p in PRIORITIES
        }
        self._per_account: dict[int, int] = {}
        self._size = 0
        self._getters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return self._size

    def buffered(self, account_id: int) -> int:
        return self._per_account.get(account_id, 0)

    def loads(self) -> dict[int, int]:
        """Messages buffered per account (accounts with none are absent)."""
        return dict(self._per_account)

    def put(self, message: ClaimedMessage) -> None:
        priority = message.priority if message.priority in self._queues else PRIORITIES[-1]
        self._queues[priority].setdefault(message.account_id, deque()).append(message)
        self._per_account[message.account_id] = self._per_account.get(message.account_id, 0) + 1
        self._size += 1
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                break

    async def get(self) -> ClaimedMessage:
        while not self._size:
            getter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled() and self._size:
                    self._wake_next()  # the wake-up was meant for someone: pass it on
                raise
        return self._pop()

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def _pop(self) -> ClaimedMessage:
        for priority in PRIORITIES:
            accounts = self._queues[priority]
            if not accounts:
                continue
            account_id, messages = next(iter(accounts.items()))
            message = messages.popleft()
            if messages:
                accounts.move_to_end(account_id)  # the next account's turn
            else:
                del accounts[account_id]
            left = self._per_account[account_id] - 1
            if left:
                self._per_account[account_id] = left
            else:
                del self._per_account[account_id]
            self._size -= 1
            if self._size and self._getters:
                self._wake_next()
            return message
        raise AssertionError("_pop on an empty queue")

    def drain(self) -> list[ClaimedMessage]:
        """Everything buffered, removed (a stop gives it back to the store)."""
        drained = [m for priority in PRIORITIES for queue in self._queues[priority].values() for m in queue]
        for priority in PRIORITIES:
            self._queues[priority].clear()
        self._per_account.clear()
        self._size = 0
        return drained
