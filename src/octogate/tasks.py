"""Small asyncio helpers shared by the background loops (the leased-worker loop, the dispatcher, pushes)."""

from __future__ import annotations

import asyncio
import contextlib


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
