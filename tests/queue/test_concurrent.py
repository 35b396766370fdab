"""Two claimers at once (two Store instances, as two hosts have): never the same item, and on PostgreSQL never
waiting for each other."""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from octogate.store import queue
from octogate.store.queue import PUSHES, Want
from octogate.store.store import Store

NOW = 1_800_000_000


def test_two_hosts_claiming_at_once_never_get_the_same_item(
    store: Store, database_url: str, work: SimpleNamespace
) -> None:
    accounts = [work.push_account(store) for _ in range(4)]
    owed = [push for account in accounts for push in work.owe(store, account, 150)]
    other = Store(database_url)
    got: dict[str, list[int]] = {"a": [], "b": []}
    started = {"a": threading.Event(), "b": threading.Event()}
    want = Want(default=7, rooms={}, total=20)

    def claimer(name: str, host: Store) -> None:
        other_name = "b" if name == "a" else "a"
        while True:
            claimed = host.run(queue.claim_fair, PUSHES, name, NOW, NOW + 60, want)
            started[name].set()
            started[other_name].wait(10)  # both are in the race before either can finish it
            if not claimed:
                return
            got[name].extend(c.id for c in claimed)

    try:
        threads = [threading.Thread(target=claimer, args=(n, s)) for n, s in (("a", store), ("b", other))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.close()
    counts = Counter(got["a"] + got["b"])
    assert sorted(counts) == sorted(owed)  # every item claimed...
    assert set(counts.values()) == {1}  # ...by exactly one of them
    assert got["a"] and got["b"]  # both took part


def test_a_claim_skips_rows_another_host_is_claiming_without_waiting(
    store: Store, database_url: str, work: SimpleNamespace
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: a second claimer waits for the first one's commit by design")
    account = work.push_account(store)
    owed = work.owe(store, account, 10)
    want = Want(default=4, rooms={})
    with store.connect() as first, store.connect() as second:
        second.execute("SET lock_timeout = '200ms'")  # waiting for the first's locks would fail the claim
        with first.transaction():
            held = queue.claim_fair(first, PUSHES, "first", NOW, NOW + 60, want)  # not committed yet
            with second.transaction():
                taken = queue.claim_fair(second, PUSHES, "second", NOW, NOW + 60, want)
        assert len(held) == 4 and len(taken) == 4
        assert not {c.id for c in held} & {c.id for c in taken}
        assert {c.id for c in held} | {c.id for c in taken} == set(owed[:8])
