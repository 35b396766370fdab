"""The push worker end to end: the real store (SQLite and PostgreSQL), real sockets, a real HTTP receiver."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace

import pytest
from aiohttp import web

from callbacks.support import Receiver, enqueue, point, statuses, until
from octogate.callbacks import worker as worker_module
from octogate.callbacks.worker import PushWorker
from octogate.config import CallbackSettings
from octogate.store import outbox
from octogate.store.callbacks import FORM as CONTENT_TYPE
from octogate.store.store import Store
from support import make_customer

RECEIPT = {
    "message_id": "sms_5f3a1b2c3d4e5",
    "number": "+33601020304",
    "status": "DELIVERED",
    "delivery_date": "2026-11-24 10:00:05",
}
REPLY = {
    "message_id": "sms_5f3a1b2c3d4e5",
    "sms_ticket": "sms_5f3a1b2c3d4e6",
    "number": "+33601020304",
    "text": "Très bien, merci ! Café ☕ à 10h 😀 — «oui» & d'accord=1",
    "reception_date": "2026-11-24 10:01:00",
}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_pushes_arrive_form_encoded_with_exactly_the_payload(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    account = point(store, make_customer(store).login, receiver.url())
    receipt = enqueue(store, account, RECEIPT, "receipt")
    reply = enqueue(store, account, REPLY, "reply")
    worker = PushWorker(store, fast)
    await worker.start()
    try:
        await receiver.wait_for(2)
        await until(lambda: all(s[0] == "delivered" for s in statuses(store).values()))
    finally:
        await worker.stop()
    got = sorted(receiver.received, key=lambda r: len(r.fields))
    assert [r.fields for r in got] == [RECEIPT, REPLY]
    assert all(r.content_type == CONTENT_TYPE for r in got)
    assert "Caf%C3%A9+%E2%98%95" in got[1].body.decode("ascii")  # UTF-8, percent-encoded
    assert statuses(store) == {receipt: ("delivered", 1, None), reply: ("delivered", 1, None)}
    assert store.run(outbox.attempts, reply)[0].status_code == 200


async def test_non_2xx_and_refused_connections_are_retried_and_recorded(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    refusing = point(store, make_customer(store).login, f"http://127.0.0.1:{closed_port()}/push")
    failing = point(store, make_customer(store).login, receiver.url("/flaky"))
    refused = enqueue(store, refusing, RECEIPT)
    flaky = enqueue(store, failing, RECEIPT)
    receiver.status = 503
    worker = PushWorker(store, fast)
    await worker.start()
    try:
        await until(lambda: statuses(store)[flaky][1] >= 2 and statuses(store)[refused][1] >= 2)
        receiver.status = 204
        await until(lambda: statuses(store)[flaky][0] == "delivered")
    finally:
        await worker.stop()
    tries = store.run(outbox.attempts, flaky)
    assert [t.status_code for t in tries[:2]] == [503, 503] and tries[-1].status_code == 204
    assert tries[0].error == "HTTP 503: nope, try later"
    assert [t.attempt for t in tries] == list(range(1, len(tries) + 1))
    refused_tries = store.run(outbox.attempts, refused)
    assert all(
        t.status_code is None and t.error.startswith("cannot connect") and len(t.error) <= 200 for t in refused_tries
    )
    status, attempts, last_error = statuses(store)[refused]
    assert status == "pending" and attempts == len(refused_tries) and last_error == refused_tries[-1].error


async def test_receiver_down_for_a_while_then_up_gets_every_push(
    store: Store, fast: CallbackSettings
) -> None:
    port = closed_port()
    account = point(store, make_customer(store).login, f"http://127.0.0.1:{port}/push")
    ids = [enqueue(store, account, {**RECEIPT, "number": f"+336010{n:05d}"}) for n in range(30)]
    worker = PushWorker(store, fast)
    await worker.start()
    receiver = Receiver(port=port)
    try:
        await until(lambda: all(s[1] >= 1 for s in statuses(store).values()))
        await receiver.start()
        await receiver.wait_for(30)
        await until(lambda: all(s[0] == "delivered" for s in statuses(store).values()))
    finally:
        await worker.stop()
        await receiver.stop()
    assert sorted(r.fields["number"] for r in receiver.received) == [f"+336010{n:05d}" for n in range(30)]
    assert all(statuses(store)[i][1] >= 2 for i in ids)  # each failed at least once while the port was closed


async def test_a_slow_customer_does_not_hold_back_another(store: Store, fast: CallbackSettings) -> None:
    slow, quick = Receiver(slow_paths={"/slow": 1.0}), Receiver()
    await slow.start()
    await quick.start()
    settings = replace(fast, per_host=2, concurrency=4)
    a = point(store, make_customer(store).login, slow.url("/slow"))
    b = point(store, make_customer(store).login, quick.url("/fast"))
    for n in range(40):
        enqueue(store, a, {**RECEIPT, "number": f"+3360100{n:04d}"})
    for n in range(40):
        enqueue(store, b, {**RECEIPT, "number": f"+3360200{n:04d}"})
    worker = PushWorker(store, settings)
    await worker.start()
    try:
        await quick.wait_for(40)
        # Each of A's pushes takes a second, two at a time: B's 40 all arrived while A had at most a few.
        assert slow.ok_count() <= 4
        await slow.wait_for(4)
    finally:
        await worker.stop()
        await slow.stop()
        await quick.stop()


async def test_killed_mid_way_and_restarted_loses_nothing(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    receiver.slow_paths["/push"] = 0.2
    account = point(store, make_customer(store).login, receiver.url())
    numbers = {f"+3360300{n:04d}" for n in range(60)}
    for number in sorted(numbers):
        enqueue(store, account, {**RECEIPT, "number": number})
    first = PushWorker(store, fast, owner="first")
    await first.start()
    await receiver.wait_for(5)
    await first.abort()  # a crash: claims held, outcomes unrecorded
    with store.connect() as conn:
        held = conn.fetchone(
            "SELECT COUNT(*) FROM callbacks WHERE claimed_by = 'first' AND status = 'pending'"
        )
    assert held is not None and held[0] > 0
    second = PushWorker(store, fast, owner="second")
    await second.start()
    try:
        await until(lambda: all(s[0] == "delivered" for s in statuses(store).values()), within=30)
    finally:
        await second.stop()
    assert {r.fields["number"] for r in receiver.received} == numbers  # at least once each


async def test_two_workers_never_push_the_same_row_at_once(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    account = point(store, make_customer(store).login, receiver.url())
    for n in range(200):
        enqueue(store, account, {**RECEIPT, "number": f"+3360400{n:04d}"})
    workers = [PushWorker(store, replace(fast, per_host=8), owner=f"w{i}") for i in range(2)]
    for worker in workers:
        await worker.start()
    try:
        await receiver.wait_for(200)
        await until(lambda: all(s[0] == "delivered" for s in statuses(store).values()))
    finally:
        for worker in workers:
            await worker.stop()
    assert len(receiver.received) == 200
    assert len({r.fields["number"] for r in receiver.received}) == 200


async def test_forbidden_private_targets_are_refused_and_recorded(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    settings = replace(fast, forbid_private_targets=True, allow_targets=())
    literal = point(store, make_customer(store).login, receiver.url())
    named = point(store, make_customer(store).login, f"http://localhost:{receiver.port}/push")
    by_ip, by_name = enqueue(store, literal, RECEIPT), enqueue(store, named, RECEIPT)
    worker = PushWorker(store, settings)
    await worker.start()
    try:
        await until(lambda: statuses(store)[by_ip][1] >= 1 and statuses(store)[by_name][1] >= 1)
    finally:
        await worker.stop()
    await asyncio.sleep(0)
    assert receiver.received == []
    assert statuses(store)[by_ip][2] == "forbidden target 127.0.0.1 (loopback)"
    error = statuses(store)[by_name][2]
    assert error is not None and error.startswith("forbidden target") and "loopback" in error


async def test_gives_up_after_the_horizon(store: Store, fast: CallbackSettings) -> None:
    account = point(store, make_customer(store).login, f"http://127.0.0.1:{closed_port()}/push")
    push = enqueue(store, account, RECEIPT, now=1)  # owed long ago: past any horizon
    worker = PushWorker(store, fast)
    await worker.start()
    try:
        await until(lambda: statuses(store)[push][0] == "failed")
    finally:
        await worker.stop()
    assert statuses(store)[push][1] == 1


async def test_the_per_host_limit_holds_across_gateway_hosts(
    store: Store, database_url: str, fast: CallbackSettings
) -> None:
    in_flight = {"now": 0, "most": 0, "done": 0}

    async def slow(request: web.Request) -> web.Response:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        await asyncio.sleep(0.05)
        in_flight["now"] -= 1
        in_flight["done"] += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/push", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = replace(fast, per_host=2, poll_interval=0.05)
    accounts = [point(store, make_customer(store).login, f"http://127.0.0.1:{port}/push") for _ in range(2)]
    for account in accounts:
        for n in range(20):
            enqueue(store, account, {**RECEIPT, "number": f"+3360500{n:04d}"})
    other = Store(database_url)
    workers = [PushWorker(s, settings, owner=f"host{i}") for i, s in enumerate((store, other))]
    try:
        for worker in workers:
            await worker.start()
        await until(lambda: all(s[0] == "delivered" for s in statuses(store).values()), within=30)
    finally:
        for worker in workers:
            await worker.stop()
        other.close()
        await runner.cleanup()
    assert in_flight["done"] == 40
    assert in_flight["most"] <= 2  # two gateway hosts, two accounts: still two at once to that host
    assert all(w.delivered for w in workers)  # both hosts took part
    assert store.run(outbox.host_slots, 0) == {}  # every slot given back at stop


def test_an_accounts_share_in_memory_follows_its_receivers_pace(store: Store) -> None:
    worker = PushWorker(store, CallbackSettings(per_host=16))
    assert worker._room(1) == 64  # until its pace is known: 4 x per_host

    def paced(attempts: dict[int, int]) -> None:  # the pushes attempted over the last second
        worker._attempts.update(attempts)
        worker._paced_at = time.monotonic() - 1.0
        worker._pace()

    paced({1: 300, 2: 2000, 3: 20})
    assert 145 <= worker._room(1) <= 150  # half a second of its pace (the measure took a second and a bit)
    assert (worker._room(2), worker._room(3)) == (256, 64)  # at most 16 x per_host, at least 4 x
    worker._account_hosts[2] = {"failing.example"}
    worker._host_failures["failing.example"] = 3
    assert worker._room(2) == 16  # a failing host: per_host, whatever the pace
    paced({})
    assert worker._room(1) == 64  # idle: back to the small share
    assert worker._shares == {}


async def test_a_hosts_slots_are_kept_a_little_after_its_last_push(
    store: Store, receiver: Receiver, fast: CallbackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "SLOTS_KEPT_IDLE", 600.0)
    account = point(store, make_customer(store).login, receiver.url())
    for n in range(5):
        enqueue(store, account, {**RECEIPT, "number": f"+3360600{n:04d}"})
    worker = PushWorker(store, replace(fast, poll_interval=0.05))
    await worker.start()
    try:
        await until(lambda: all(s[0] == "delivered" for s in statuses(store).values()))
        rounds = worker.rounds
        await until(lambda: worker.rounds >= rounds + 3)  # claim rounds with no push left for the host
        assert store.run(outbox.host_slots, 0)  # still held: the next receipts go at once
        monkeypatch.setattr(worker_module, "SLOTS_KEPT_IDLE", 0.0)
        await until(lambda: store.run(outbox.host_slots, 0) == {})  # idle long enough: given back
    finally:
        await worker.stop()


async def test_the_operators_retry_starts_the_backoff_over(store: Store, fast: CallbackSettings) -> None:
    """A push that failed many times and is retried by the operator waits the first delay after its next failure,
    not the longest: the retry is a new round."""
    settings = replace(fast, backoff_min=60, backoff_max=3600)
    account = point(store, make_customer(store).login, f"http://127.0.0.1:{closed_port()}/push")
    push = enqueue(store, account, RECEIPT)
    with store.connect() as conn:  # 12 failed attempts already: past the 3600 s cap of the backoff
        conn.execute("UPDATE callbacks SET status = 'failed', attempts = 12 WHERE id = ?", (push,))
    assert store.run(outbox.retry, push, int(time.time())) == 1
    worker = PushWorker(store, settings, rand=lambda: 0.0)
    await worker.start()
    try:
        await until(lambda: statuses(store)[push][1] == 13)
    finally:
        await worker.stop()
    with store.connect() as conn:
        row = conn.fetchone("SELECT next_attempt_at - horizon_from FROM callbacks WHERE id = ?", (push,))
    assert row is not None and 60 <= int(row[0]) <= 62  # the first delay (a second or two of test time allowed)


async def test_a_clean_stop_lets_the_pushes_under_way_finish_and_records_them(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    """A stop while pushes are being POSTed waits for them (up to its grace): each push the customer got is
    recorded delivered, once; those not begun stay pending for the next start."""
    receiver.slow_paths["/push"] = 0.3
    account = point(store, make_customer(store).login, receiver.url())
    numbers = {enqueue(store, account, {**RECEIPT, "number": f"+3360400{n:04d}"}): f"+3360400{n:04d}"
               for n in range(200)}  # fmt: skip
    worker = PushWorker(store, replace(fast, per_host=4, concurrency=4))
    await worker.start()
    await receiver.wait_for(1)
    await worker.stop(grace=5)
    got = {r.fields["number"] for r in receiver.received}
    recorded = statuses(store)
    assert {numbers[push_id] for push_id, (status, _, _) in recorded.items() if status == "delivered"} == got
    assert 0 < len(got) < len(numbers)
    assert set(recorded.values()) <= {("delivered", 1, None), ("pending", 0, None)}


async def test_a_bug_in_an_attempt_is_recorded_as_a_failed_try_and_the_push_retried(
    store: Store, receiver: Receiver, fast: CallbackSettings
) -> None:
    account = point(store, make_customer(store).login, receiver.url())
    push = enqueue(store, account, RECEIPT)

    class FirstTryBreaks(PushWorker):
        broke = False

        async def _attempt(self, claimed: outbox.ClaimedPush, host: str) -> tuple[int | None, str | None]:
            if not self.broke:
                self.broke = True
                raise RuntimeError("boom")
            return await super()._attempt(claimed, host)

    worker = FirstTryBreaks(store, fast)
    await worker.start()
    try:
        await until(lambda: statuses(store)[push][0] == "delivered")
    finally:
        await worker.stop()
    tries = store.run(outbox.attempts, push)
    assert [(t.status_code, t.error) for t in tries] == [(None, "internal error: boom"), (200, None)]
    assert [r.fields for r in receiver.received] == [RECEIPT]
