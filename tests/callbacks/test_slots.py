"""A host's push slots: first come, first served, and no slot lost to a cancelled push."""

from __future__ import annotations

import asyncio

from octogate.callbacks.worker import Slots


async def holder(slots: Slots, name: str, order: list[str], release: asyncio.Event) -> None:
    async with slots:
        order.append(name)
        await release.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    slots, order = Slots(), []
    slots.resize(1)
    releases = {name: asyncio.Event() for name in "abc"}
    first = asyncio.create_task(holder(slots, "a", order, releases["a"]))
    await settle()
    waiting = asyncio.create_task(holder(slots, "b", order, releases["b"]))
    await settle()
    releases["a"].set()
    newcomer = asyncio.create_task(holder(slots, "c", order, releases["c"]))  # arrives as "a" lets go
    await settle()
    assert order == ["a", "b"] and slots.used == 1
    releases["b"].set()
    await settle()
    assert order == ["a", "b", "c"]
    releases["c"].set()
    await asyncio.gather(first, waiting, newcomer)
    assert slots.used == 0


async def test_a_waiter_cancelled_after_being_handed_a_slot_gives_it_back() -> None:
    slots, order = Slots(), []
    slots.resize(1)
    await slots.__aenter__()  # this test holds the one slot
    waiting = asyncio.create_task(holder(slots, "b", order, asyncio.Event()))
    await settle()
    await slots.__aexit__(None, None, None)  # hands the slot to "b" (no await inside: "b" has not run yet)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert order == [] and slots.used == 0
    async with slots:  # the slot is free again
        assert slots.used == 1


async def test_a_cancelled_waiter_is_skipped_and_growing_wakes_the_others() -> None:
    slots, order = Slots(), []
    releases = [asyncio.Event() for _ in range(3)]
    tasks = [asyncio.create_task(holder(slots, str(n), order, releases[n])) for n in range(3)]
    await settle()
    assert order == [] and slots.used == 0  # no slot held yet: all wait
    tasks[0].cancel()
    slots.resize(2)
    await settle()
    assert order == ["1", "2"] and slots.used == 2
    for release in releases:
        release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert slots.used == 0
