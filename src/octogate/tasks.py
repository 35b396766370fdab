"""Small asyncio helpers shared by the background loops (the leased-worker loop, the dispatcher, pushes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel a loop's task and wait until it has really stopped."""
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def woken_or(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event` or the timeout, whichever comes first. Not asyncio.wait_for on `event.wait()`: on
    Python 3.11 a cancel that races the event being set can be lost there, and a stop would hang."""
    if event.is_set():
        return
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()


class FifoSemaphore:
    """A counting semaphore that serves its waiters first come, first served, in O(1), and whose size may change
    (a host's push slots come and go with their leases).

    A freed place is handed to the longest waiter (counted as used before it wakes) and a newcomer queues behind
    the waiters. asyncio.Semaphore (Python 3.11) scans its waiters on every acquire, which cost more than the rest
    of a submit with hundreds of callers queued for an SMPP window; and waking a waiter only to let it look
    again let a newcomer take the place first, the waiter going back to the end of the queue (5 wake-ups per
    push for a host's slots).
    """

    def __init__(self, size: int = 0) -> None:
        self.size = size
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    async def acquire(self) -> None:
        if self.used < self.size and not self._waiters:
            self.used += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a place, but cancelled before using it
            raise

    __aenter__ = acquire  # `async with` takes a place without a coroutine around `acquire`

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, size: int) -> None:
        self.size = size
        self._wake()

    def _wake(self) -> None:
        while self.used < self.size and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter is skipped
                self.used += 1
                waiter.set_result(None)
