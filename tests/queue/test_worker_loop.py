"""The one leased-worker loop: a fault while recording one item fails that item alone, and the loop goes on."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from types import SimpleNamespace

import httpx
import pytest

from dispatch.conftest import ACCOUNTS, delivering
from octogate.config import DispatchSettings
from octogate.dispatch import dispatcher as dispatcher_module
from octogate.http.app import OctopushApp
from octogate.incoming.submits import record_outcomes
from octogate.operations import Operator
from octogate.smpp.simulator import SimulatorConfig
from octogate.statuses import MessageStatus, PushStatus
from octogate.store import delivery, outbox
from octogate.store.db import Connection
from octogate.store.delivery import Outcome
from octogate.store.store import Store
from support import Clock, Customer, eventually, send


@pytest.mark.parametrize("fault", ["bug", "refused"])
async def test_an_item_whose_result_cannot_be_recorded_fails_alone_after_three_tries_and_the_loop_goes_on(
    store: Store, work: SimpleNamespace, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    """`bug`: the record operation raises; `refused`: it runs a statement the database refuses, which the store
    reports as unavailable (yet it answers: only this item is at fault)."""
    account = work.push_account(store)
    owed = work.owe(store, account, 5, now=int(work.NOW))
    bad = owed[2]
    clock = Clock(work.NOW)
    worker = work.EchoWorker(store, **{"poisoned" if fault == "bug" else "refused": {bad}}, clock=clock)
    error = "ValueError" if fault == "bug" else "StoreUnavailable"
    operator = Operator(store, clock=clock)
    await worker.start()
    try:
        with caplog.at_level(logging.ERROR, logger="octogate.worker"):
            await worker.until(lambda: worker.recorded >= 5)
            # The four others are recorded delivered; the bad one went back to the queue with the reason and its
            # attempt counted, due again after a lease (what a crash would have given it), no longer held here.
            rows = {push: work.push_row(store, push) for push in owed}
            assert {p: r["status"] for p, r in rows.items() if p != bad} == dict.fromkeys(
                set(owed) - {bad}, PushStatus.DELIVERED
            )
            assert rows[bad]["status"] == PushStatus.PENDING and rows[bad]["claimed_by"] is None
            assert (rows[bad]["next_attempt_at"], rows[bad]["attempts"]) == (work.NOW + 60, 1)
            assert rows[bad]["last_error"].startswith("failed to record 1 time: internal error while recording: ")
            assert bad not in worker.held
            assert any(f"recording item {bad} " in r.getMessage() for r in caplog.records)
            # Due again after each lease, tried again, and failed for good the third time, with its reason.
            for tries in (2, 3):
                clock.now += 60
                worker.wake()

                def settled(tries: int = tries) -> bool:  # given back (or up) and no longer held: logged already
                    return bad not in worker.held and work.push_row(store, bad)["attempts"] == tries

                await worker.until(settled)
        row = work.push_row(store, bad)
        assert (row["status"], row["attempts"], row["claimed_by"]) == (PushStatus.FAILED, 3, None)
        assert row["last_error"].startswith(f"failed to record 3 times: internal error while recording: {error}")
        [given_up] = [r for r in caplog.records if "failed for good" in r.getMessage()]
        assert given_up.levelno == logging.ERROR and f"item {bad} " in given_up.getMessage()
        # The operator sees it where failed pushes are listed.
        [listed] = operator.pushes(failed_only=True, login=None, limit=50)
        assert (listed.id, listed.status, listed.last_error) == (bad, PushStatus.FAILED, row["last_error"])
        # It is not tried again by itself, and the loop is alive: later work is claimed and recorded as usual.
        clock.now += 3600
        [later] = work.owe(store, account, 1, now=int(clock.now))
        worker.wake()
        await worker.until(lambda: work.push_row(store, later)["status"] == PushStatus.DELIVERED)
        assert work.push_row(store, bad)["attempts"] == 3
        # Once what broke its recording is fixed, the operator's retry pushes it.
        worker.poisoned = worker.refused = frozenset()
        assert operator.retry_pushes(bad) == 1
        worker.wake()
        await worker.until(lambda: work.push_row(store, bad)["status"] == PushStatus.DELIVERED)
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
        assert work.push_row(store, bad)["last_error"].startswith(
            "failed to record 1 time: internal error while recording: ValueError"
        )
        worker.wake()  # the claim loop is alive: the later push is claimed and delivered
        await worker.until(lambda: work.push_row(store, later)["status"] == PushStatus.DELIVERED)
    finally:
        await worker.stop()


async def test_a_refused_message_whose_outcome_cannot_be_recorded_fails_after_three_tries_with_its_receipt(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The dispatcher's kind: a message the SMSC refused (nothing went out) is tried again like any item; failed
    for good it ends like a refused message, its receipt owed to the customer."""
    store.run(outbox.set_urls, customer.login, {"receipt": "http://customer.test/receipts"})
    recipients = [f"+336{n:08d}" for n in range(4)] + ["+33699999999"]
    campaign = await send(api, customer, sms_recipients=",".join(recipients))
    bad_id = dict((r, i) for i, r in await store.read(delivery.campaign_message_ids, campaign))[recipients[-1]]

    def poisoned(conn: Connection, owner: str, outcomes: list[Outcome], now: int) -> list[int]:
        if any(o.message_id == bad_id for o in outcomes):
            raise ValueError("a bug in recording")
        return record_outcomes(conn, owner, outcomes, now)

    def bad_row() -> tuple[object, ...]:
        with store.connect() as conn:
            row = conn.fetchone("SELECT status, attempts, error, receipt_status, done_at FROM messages WHERE id = ?",
                                (bad_id,))  # fmt: skip
        assert row is not None
        return row

    monkeypatch.setattr(dispatcher_module, "record_outcomes", poisoned)
    sim = SimulatorConfig(accounts=dict(ACCOUNTS), receipt_delay_ms=60_000, invalid_prefixes=("33699",))
    async with delivering(store, clock, app=app, sim=sim, settings=DispatchSettings(poll_interval=60)) as d:
        [dispatcher] = d.dispatchers
        d.wake()
        for tries in (1, 2, 3):

            async def tried(tries: int = tries) -> bool:
                return len(d.sim.rejected) == tries and not dispatcher.held

            await eventually(tried, what=f"try {tries} refused and settled")
            if tries < 3:
                assert bad_row()[:2] == (MessageStatus.QUEUED, tries)
                clock.now += dispatcher.lease_seconds  # due again after a lease
                d.wake()
        assert (await store.read(delivery.status_counts)) == {"submitted": 4, "failed": 1}
    status, attempts, error, receipt, done_at = bad_row()
    assert (status, attempts, receipt, done_at) == (MessageStatus.FAILED, 3, "UNDEFINED", int(clock.now))
    assert str(error).startswith("failed to record 3 times: internal error while recording: ValueError")
    with store.connect() as conn:
        [(payload,)] = conn.fetchall("SELECT payload FROM callbacks")
    assert "status=UNDEFINED" in payload and "33699999999" in payload
