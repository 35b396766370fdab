"""The one leased-worker loop: a fault while recording one item fails that item alone, and the loop goes on."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from types import SimpleNamespace

import pytest

from octogate.statuses import PushStatus
from octogate.store.store import Store


async def test_a_failing_record_of_one_item_fails_it_alone_and_the_loop_goes_on(
    store: Store, work: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    account = work.push_account(store)
    owed = work.owe(store, account, 5, now=int(work.NOW))
    bad = owed[2]
    worker = work.EchoWorker(store, poisoned={bad}, clock=lambda: work.NOW)
    await worker.start()
    try:
        with caplog.at_level(logging.ERROR, logger="octogate.worker"):
            await worker.until(lambda: worker.recorded >= 5)
        # The four others are recorded delivered; the bad one went back to the queue with the reason, due again
        # after a lease (what a crash would have given it), and this process no longer holds it.
        rows = {push: work.push_row(store, push) for push in owed}
        assert {p: r["status"] for p, r in rows.items() if p != bad} == dict.fromkeys(
            set(owed) - {bad}, PushStatus.DELIVERED
        )
        assert rows[bad]["status"] == PushStatus.PENDING and rows[bad]["claimed_by"] is None
        assert rows[bad]["next_attempt_at"] == work.NOW + 60
        assert rows[bad]["last_error"].startswith("internal error while recording: ValueError")
        assert bad not in worker.held
        assert any(f"recording item {bad} failed" in r.getMessage() for r in caplog.records)
        # The loop is alive: later work is claimed and recorded as usual.
        [later] = work.owe(store, account, 1, now=int(work.NOW))
        worker.wake()
        await worker.until(lambda: work.push_row(store, later)["status"] == PushStatus.DELIVERED)
    finally:
        await worker.stop()


async def test_a_stop_gives_back_what_was_claimed_and_not_finished(store: Store, work: SimpleNamespace) -> None:
    account = work.push_account(store)
    cut_short, finished = work.owe(store, account, 2, now=int(work.NOW))
    worker = work.EchoWorker(store, silent={cut_short}, clock=lambda: work.NOW)
    await worker.start()
    await worker.until(lambda: worker.recorded >= 1)
    await worker.stop(grace=0.2)
    row = work.push_row(store, cut_short)
    assert (row["status"], row["claimed_by"], row["next_attempt_at"]) == (PushStatus.PENDING, None, work.NOW)
    assert work.push_row(store, finished)["status"] == PushStatus.DELIVERED


async def test_a_restarted_host_takes_over_its_dead_runs_claims_at_once(store: Store, work: SimpleNamespace) -> None:
    """A SIGKILLed run of this machine left claims whose lease runs for minutes: its process is known to be gone,
    so the next run takes them at start instead of waiting the lease out. A live process's claims stay its own,
    and so do those of another machine (whose processes this one cannot see)."""
    account = work.push_account(store)
    dead_run, live_run, elsewhere = work.owe(store, account, 3, now=int(work.NOW))
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    owners = {
        dead_run: f"{socket.gethostname()[:60]}:{gone.pid}:0badc0de",
        live_run: f"{socket.gethostname()[:60]}:{os.getppid()}:0badc0de",
        elsewhere: f"another-machine:{gone.pid}:0badc0de",
    }
    for push, owner in owners.items():
        with store.connect() as conn:
            conn.execute("UPDATE callbacks SET claimed_by = ?, lease_until = ?, next_attempt_at = ? WHERE id = ?",
                         (owner, work.NOW + 3600, work.NOW + 3600, push))  # fmt: skip
    worker = work.EchoWorker(store, clock=lambda: work.NOW)
    await worker.start()
    try:
        await worker.until(lambda: work.push_row(store, dead_run)["status"] == PushStatus.DELIVERED)
        assert {p: work.push_row(store, p)["claimed_by"] for p in (live_run, elsewhere)} == {
            live_run: owners[live_run], elsewhere: owners[elsewhere],
        }  # fmt: skip
    finally:
        await worker.stop()


async def test_results_waiting_when_a_claim_is_written_are_recorded_in_that_claims_transaction(
    store: Store, work: SimpleNamespace
) -> None:
    class ClaimRecording(work.EchoWorker):  # type: ignore[name-defined,misc]
        record_with_claim = True
        record_coalesce = 60.0  # the recorder alone would take a minute: only the claim can record them now

    account = work.push_account(store)
    first = work.owe(store, account, 3, now=int(work.NOW))
    worker = ClaimRecording(store, clock=lambda: work.NOW)
    await worker.start()
    try:
        await worker.until(lambda: set(first) <= set(worker.claimed_at))
        [later] = work.owe(store, account, 1, now=int(work.NOW))
        worker.wake()
        await worker.until(lambda: later in worker.claimed_at and worker.recorded >= 3)
        assert {work.push_row(store, p)["status"] for p in first} == {PushStatus.DELIVERED}
        assert not set(first) & worker.held
    finally:
        await worker.stop(grace=0.2)
    assert work.push_row(store, later)["claimed_by"] is None  # reported after the last claim: given back


async def test_a_claim_whose_results_cannot_be_recorded_leaves_them_to_the_recorder(
    store: Store, work: SimpleNamespace
) -> None:
    class ClaimRecording(work.EchoWorker):  # type: ignore[name-defined,misc]
        record_with_claim = True
        record_coalesce = 0.05

    account = work.push_account(store)
    owed = work.owe(store, account, 3, now=int(work.NOW))
    bad = owed[1]
    worker = ClaimRecording(store, poisoned={bad}, clock=lambda: work.NOW)
    await worker.start()
    try:
        await worker.until(lambda: set(owed) <= set(worker.claimed_at))
        [later] = work.owe(store, account, 1, now=int(work.NOW))
        worker.wake()  # the claim that takes the poisoned batch along fails; the recorder takes it item by item
        await worker.until(lambda: worker.recorded >= 3)
        assert {p: work.push_row(store, p)["status"] for p in owed if p != bad} == dict.fromkeys(
            set(owed) - {bad}, PushStatus.DELIVERED
        )
        assert work.push_row(store, bad)["last_error"].startswith("internal error while recording: ValueError")
        worker.wake()  # the claim loop is alive: the later push is claimed and delivered
        await worker.until(lambda: work.push_row(store, later)["status"] == PushStatus.DELIVERED)
    finally:
        await worker.stop()
