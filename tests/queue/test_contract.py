"""The queue's contract, on SQLite and PostgreSQL: fair claims, leases that hold and expire, settle, release."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import httpx

from octogate.statuses import MessageStatus, PushStatus
from octogate.store import delivery, queue
from octogate.store.queue import MESSAGES, PUSHES, Want
from octogate.store.store import Store
from support import Clock, Customer, make_customer, send

NOW = 1_800_000_000


def numbers(count: int, start: int = 0) -> str:
    return ",".join(f"+336{n:08d}" for n in range(start, start + count))


def account_of(store: Store, customer: Customer) -> int:
    with store.connect() as conn:
        row = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (customer.login,))
    assert row is not None
    return int(row[0])


async def test_a_claim_takes_each_accounts_share_transactional_first_and_only_what_is_due(
    api: httpx.AsyncClient, store: Store, clock: Clock
) -> None:
    big, small = make_customer(store, credit="1000"), make_customer(store)
    await send(api, big, sms_recipients=numbers(30))  # marketing
    urgent = await send(api, big, sms_recipients=numbers(2, 100), transactional=1)
    await send(api, small, sms_recipients=numbers(3, 200))
    later = await send(api, small, sms_recipients=numbers(1, 300), sms_mode=2, sending_date=int(clock.now) + 3600)
    now = int(clock.now)

    claimed = store.run(delivery.claim_fair, "me", now, now + 60, Want(default=5, rooms={}))

    by_account: dict[int, list[int]] = {}
    for message in claimed:
        by_account.setdefault(message.account_id, []).append(message.campaign_id)
    assert len(by_account[account_of(store, big)]) == 5
    assert by_account[account_of(store, big)][:2] == [urgent, urgent]  # transactional first in its account
    assert len(by_account[account_of(store, small)]) == 3  # all it has due: the deferred one waits
    assert later not in by_account[account_of(store, small)]
    assert all(m.attempts == 1 for m in claimed)  # a message's attempt is counted at claim
    # Rooms: a worker already holding enough of an account gets none of it; a total caps the claim.
    more = store.run(
        delivery.claim_fair, "me", now, now + 60, Want(default=5, rooms={account_of(store, big): 0}, total=10)
    )
    assert more == []  # `small` has nothing more due, `big` has no room


def test_pushes_are_claimed_account_by_account_in_turn_with_a_total(store: Store, work: SimpleNamespace) -> None:
    accounts = [work.push_account(store) for _ in range(3)]
    for account in accounts:
        work.owe(store, account, 4)
    first = store.run(queue.claim_fair, PUSHES, "me", NOW, NOW + 60, Want(default=2, rooms={}, total=4, turn=0))
    second = store.run(queue.claim_fair, PUSHES, "me", NOW, NOW + 60, Want(default=2, rooms={}, total=4, turn=1))
    assert [c.account_id for c in first] == [accounts[0]] * 2 + [accounts[1]] * 2
    assert [c.account_id for c in second] == [accounts[1]] * 2 + [accounts[2]] * 2  # the next account first


def test_a_claimed_message_is_nobody_elses_until_its_lease_expires_then_it_is_taken_over(store: Store) -> None:
    ids = _queued_messages(store, 3)
    account = _message_account(store, ids[0])
    claimed = store.run(queue.claim, MESSAGES, "a", NOW, NOW + 60, {account: 3})
    assert sorted(c.id for c in claimed) == ids
    assert store.run(queue.claim, MESSAGES, "b", NOW + 59, NOW + 119, {account: 3}) == []
    assert store.run(queue.take_over_expired, MESSAGES, NOW + 59, "b") == 0  # not expired yet
    assert store.run(queue.take_over_expired, MESSAGES, NOW + 60, "a") == 0  # never the caller's own
    assert store.run(queue.take_over_expired, MESSAGES, NOW + 60, "b") == 3
    taken = store.run(queue.claim, MESSAGES, "b", NOW + 60, NOW + 120, {account: 3})
    assert sorted(c.id for c in taken) == ids
    # The first owner comes back late: its result is refused, the new owner's is taken.
    assert not store.run(queue.settle_one, MESSAGES, "a", ids[0], MessageStatus.SUBMITTED)
    assert store.run(queue.settle_one, MESSAGES, "b", ids[0], MessageStatus.SUBMITTED)
    assert store.run(delivery.message_state, ids[0])[0] == MessageStatus.SUBMITTED
    assert store.run(delivery.message_state, ids[1])[3] == 2  # two attempts: one per claim


def test_a_claimed_push_comes_due_again_by_itself_when_its_lease_runs_out(store: Store, work: SimpleNamespace) -> None:
    [push] = work.owe(store, work.push_account(store))
    account = work.push_row(store, push)
    assert account["status"] == PushStatus.PENDING
    [claimed] = store.run(queue.claim_fair, PUSHES, "a", NOW, NOW + 60, Want(default=5, rooms={}))
    assert claimed.id == push
    assert store.run(queue.claim_fair, PUSHES, "b", NOW + 59, NOW + 119, Want(default=5, rooms={})) == []
    [again] = store.run(queue.claim_fair, PUSHES, "b", NOW + 60, NOW + 120, Want(default=5, rooms={}))
    assert again.id == push and work.push_row(store, push)["claimed_by"] == "b"


def test_renewing_keeps_a_lease_past_its_first_end(store: Store) -> None:
    ids = _queued_messages(store, 2)
    account = _message_account(store, ids[0])
    store.run(queue.claim, MESSAGES, "a", NOW, NOW + 60, {account: 2})
    assert store.run(queue.renew, MESSAGES, "a", ids, NOW + 120) == 2
    assert store.run(queue.renew, MESSAGES, "b", ids, NOW + 120) == 0  # only the holder renews
    assert store.run(queue.take_over_expired, MESSAGES, NOW + 100, "b") == 0
    assert store.run(queue.take_over_expired, MESSAGES, NOW + 120, "b") == 2


def test_settle_done_retry_and_failed(store: Store, work: SimpleNamespace) -> None:
    account = work.push_account(store)
    done, retried, failed = work.owe(store, account, 3)
    store.run(queue.claim_fair, PUSHES, "w", NOW, NOW + 60, Want(default=5, rooms={}))
    with store.connect() as conn, conn.transaction():
        assert queue.settle(conn, PUSHES, "w", [done], PushStatus.DELIVERED, count_attempt=True) == [(done,)]
        assert queue.settle(
            conn, PUSHES, "w", [retried], PushStatus.PENDING, due=NOW + 30,
            columns={"last_error": "HTTP 503"}, count_attempt=True, returning="attempts",
        ) == [(1,)]  # fmt: skip
        assert queue.settle_one(conn, PUSHES, "w", failed, PushStatus.FAILED)
    assert work.push_row(store, done)["status"] == PushStatus.DELIVERED
    assert work.push_row(store, failed)["status"] == PushStatus.FAILED
    row = work.push_row(store, retried)
    assert (row["status"], row["claimed_by"], row["last_error"]) == (PushStatus.PENDING, None, "HTTP 503")
    want = Want(default=5, rooms={})
    assert store.run(queue.claim_fair, PUSHES, "x", NOW + 29, NOW + 90, want) == []  # not due yet
    assert [c.id for c in store.run(queue.claim_fair, PUSHES, "x", NOW + 30, NOW + 90, want)] == [retried]


def test_release_gives_work_back_at_once_without_counting_the_attempt(store: Store, work: SimpleNamespace) -> None:
    ids = _queued_messages(store, 2)
    account = _message_account(store, ids[0])
    store.run(queue.claim, MESSAGES, "a", NOW, NOW + 300, {account: 2})
    assert store.run(queue.release, MESSAGES, "b", ids, NOW) == 0  # not b's to give
    assert store.run(queue.release, MESSAGES, "a", ids, NOW) == 2
    assert [store.run(delivery.message_state, i)[::3] for i in ids] == [(MessageStatus.QUEUED, 0)] * 2
    assert len(store.run(queue.claim, MESSAGES, "b", NOW, NOW + 60, {account: 5})) == 2
    # Pushes: due at once again for whoever comes next.
    [push] = work.owe(store, work.push_account(store))
    store.run(queue.claim_fair, PUSHES, "a", NOW, NOW + 300, Want(default=5, rooms={}))
    assert store.run(queue.release, PUSHES, "a", [push], NOW + 1) == 1
    claimed = store.run(queue.claim_fair, PUSHES, "b", NOW + 1, NOW + 60, Want(default=5, rooms={}))
    assert [c.id for c in claimed] == [push]


def _queued_messages(store: Store, count: int) -> list[int]:
    """`count` queued messages of one campaign, due at NOW, written as the API writes them."""
    from octogate.store import queries
    from octogate.store.records import NewCampaign, NewMessage

    customer = make_customer(store)
    account = account_of(store, customer)
    campaign = NewCampaign(
        account_id=account, request_id=None, source="api", sms_type="FR", sender="Shop", sender_is_msisdn=False,
        text="Hello STOP au XXXXX", transactional=False, with_replies=False, sms=count, cost=count,
        send_at=NOW, messages=[NewMessage(f"+336{n:08d}", "FR", 33, None, 1, 1) for n in range(count)],
    )  # fmt: skip
    accepted = store.run(queries.insert_campaign, campaign, NOW)
    return [message_id for message_id, _ in store.run(delivery.campaign_message_ids, accepted.campaign_id)]


def _message_account(store: Store, message_id: int) -> int:
    with store.connect() as conn:
        row = conn.fetchone("SELECT account_id FROM messages WHERE id = ?", (message_id,))
    assert row is not None
    return int(row[0])


async def test_an_unrecordable_item_is_given_back_then_failed_for_good_counting_failures_in_a_row(
    api: httpx.AsyncClient, store: Store, clock: Clock
) -> None:
    await send(api, make_customer(store), sms_recipients=numbers(1))
    now = int(clock.now)

    def claimed() -> int:
        [message] = store.run(delivery.claim_fair, "me", now, now + 60, Want(default=5, rooms={}))
        return message.id

    def unrecordable(message_id: int) -> str | None:
        settle = partial(queue.settle_unrecordable, tries=3, failed_columns={"receipt_status": "UNDEFINED"})
        return store.run(settle, MESSAGES, "me", message_id, now, "internal error: boom")

    message_id = claimed()
    assert unrecordable(message_id) == MessageStatus.QUEUED  # 1
    retry = partial(queue.settle_one, due=now, columns={"error": "SMSC busy"})  # another outcome, recorded
    store.run(retry, MESSAGES, "me", claimed(), MessageStatus.QUEUED)
    assert [unrecordable(claimed()) for _ in range(3)] == [MessageStatus.QUEUED, MessageStatus.QUEUED, "failed"]
    with store.connect() as conn:
        row = conn.fetchone("SELECT status, attempts, error, receipt_status FROM messages WHERE id = ?", (message_id,))
    # Another outcome in between started the count again; a message's attempts are its claims, counted once each.
    assert row == (MessageStatus.FAILED, 5, "failed to record 3 times: internal error: boom", "UNDEFINED")
    assert unrecordable(message_id) is None  # no longer held: left alone
