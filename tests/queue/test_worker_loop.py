"""The one leased-worker loop: a fault while recording one item fails that item alone, and the loop goes on."""

from __future__ import annotations

import logging
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
