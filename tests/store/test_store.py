"""The store on SQLite and on the real PostgreSQL: migrations, atomic campaigns, group commits, failures."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from typing import Any

import httpx
import psycopg
import pytest

from octogate.config import Settings
from octogate.keys import api_key_matches
from octogate.server import build_app
from octogate.store import queries, schema
from octogate.store.db import (
    WRITERS_LOCK,
    Connection,
    DatabaseError,
    DatabaseURL,
    durable_soon,
    pipelined_when,
)
from octogate.store.records import (
    DuplicateRequest,
    InsufficientCredit,
    NewCampaign,
    NewMessage,
    StoreUnavailable,
)
from octogate.store.store import Store
from support import Customer, code, make_customer


def campaign(account_id: int, cost: int, request_id: str | None = None, recipients: int = 2) -> NewCampaign:
    messages = [
        NewMessage(f"+3360102{n:04d}", "FR", 33, None, 1, cost // recipients) for n in range(recipients)
    ]
    return NewCampaign(
        account_id=account_id, request_id=request_id, source="http", sms_type="FR", sender="Shop",
        sender_is_msisdn=False, text="Hi STOP au XXXXX", transactional=False, with_replies=False,
        sms=recipients, cost=cost, send_at=0, messages=messages,
    )  # fmt: skip


def counts(conn: Connection) -> tuple[int, int, int]:
    row = conn.fetchone(
        "SELECT (SELECT COUNT(*) FROM campaigns), (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM ledger)"
    )
    assert row is not None
    return row[0], row[1], row[2]


def test_migrations_apply_once(store: Store) -> None:
    assert store.migrate() == []
    with store.connect() as conn:
        applied = conn.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    assert applied == [(version,) for version, _ in schema.migrations()]
    assert len(applied) >= 2


def test_api_keys_are_stored_hashed(store: Store, customer: Customer) -> None:
    account = store.run(queries.account, customer.login)
    assert customer.api_key not in account.api_key_hash
    assert api_key_matches(customer.api_key, account.api_key_hash)
    assert not api_key_matches(customer.api_key + "x", account.api_key_hash)


def test_a_refused_campaign_leaves_nothing_behind(store: Store) -> None:
    customer = make_customer(store, credit="1")
    account = store.run(queries.account, customer.login)
    with store.connect() as conn:
        before = counts(conn)
    with pytest.raises(InsufficientCredit):
        store.run(queries.insert_campaign, campaign(account.id, cost=2_000_000), 0)
    store.run(queries.insert_campaign, campaign(account.id, cost=400_000, request_id="a"), 0)
    with pytest.raises(DuplicateRequest):
        store.run(queries.insert_campaign, campaign(account.id, cost=400_000, request_id="a"), 0)
    with store.connect() as conn:
        after = counts(conn)
    assert after == (before[0] + 1, before[1] + 2, before[2] + 1)
    assert store.run(queries.account, customer.login).balance == 600_000


async def test_group_commit_rolls_back_a_failing_operation_alone(store: Store) -> None:
    customer = make_customer(store, credit="1")
    account = store.run(queries.account, customer.login)
    results = await asyncio.gather(
        *(
            store.write(queries.insert_campaign, campaign(account.id, cost=300_000, request_id=f"g{n}"), 0)
            for n in range(5)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InsufficientCredit)]
    assert len(accepted) == 3 and len(refused) == 2
    assert sorted(a.balance for a in accepted) == [100_000, 400_000, 700_000]
    with store.connect() as conn:
        assert conn.fetchone("SELECT COUNT(*) FROM messages WHERE account_id = ?", (account.id,)) == (6,)


def _note(conn: Connection, text: str) -> str:
    conn.execute("INSERT INTO scratch_notes (text) VALUES (?)", (text,))
    return text


def _note_then_refuse(conn: Connection, text: str) -> str:
    conn.execute("INSERT INTO scratch_notes (text) VALUES (?)", (text,))
    raise ValueError("refused after writing")


async def test_a_refusing_operation_leaves_nothing_and_its_batch_commits(database_url: str) -> None:
    """Batches are first run without savepoints; one operation that wrote and then raised is undone (the
    batch is run again, each operation in its savepoint), the others of its batch are committed once each."""
    store = Store(database_url, linger=0.5)  # the three writes wait for each other: one batch
    try:
        with store.connect() as conn, conn.transaction(exclusive=True):
            conn.execute("CREATE TABLE scratch_notes (text TEXT NOT NULL)")
        results = await asyncio.gather(
            store.write(_note, "first"), store.write(_note_then_refuse, "refused"), store.write(_note, "third"),
            return_exceptions=True,
        )  # fmt: skip
        assert results[0] == "first" and results[2] == "third"
        assert isinstance(results[1], ValueError)
        with store.connect() as conn:
            assert sorted(conn.fetchall("SELECT text FROM scratch_notes")) == [("first",), ("third",)]
    finally:
        store.close()


def test_price_table_replacement_bumps_the_version(store: Store) -> None:
    version = store.run(queries.gateway_state).prices_version
    rows = store.run(queries.price_rows)
    assert len(rows) > 50
    store.run(queries.replace_prices, rows[:3])
    assert store.run(queries.gateway_state).prices_version == version + 1
    assert store.run(queries.price_rows) == rows[:3]


async def test_an_unreachable_store_answers_116_and_recovers(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only: a dropped schema stands for a database that went away")
    from octogate.server import prepare_store

    store = prepare_store(Settings(database_url=database_url))
    customer = make_customer(store)
    app = build_app(store, Settings())
    schema = database_url.rsplit("%3D", 1)[1]
    fields = customer.params(sms_text="Code 1", sms_recipients="+33601020304", sms_type="FR", sms_sender="Shop",
                             transactional="1")  # fmt: skip
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert code(await client.post("/api/sms", data=fields)) == "000"
            with psycopg.connect(database_url.split("?")[0], autocommit=True) as conn:
                conn.execute(f"ALTER SCHEMA {schema} RENAME TO {schema}_away")
            assert code(await client.post("/api/sms", data=fields)) == "116"
            with psycopg.connect(database_url.split("?")[0], autocommit=True) as conn:
                conn.execute(f"ALTER SCHEMA {schema}_away RENAME TO {schema}")
            assert code(await client.post("/api/sms", data={**fields, "request_id": "after"})) == "000"
    finally:
        store.close()


async def test_the_writer_survives_a_failed_commit(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit that fails answers every operation of its batch, and the next batch goes through."""
    customer = make_customer(store, credit="1")
    account = store.run(queries.account, customer.login)
    original = Connection.transaction
    failures = {"left": 1}

    def failing_transaction(self: Connection, *, exclusive: bool = False):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")
        return original(self, exclusive=exclusive)

    monkeypatch.setattr(Connection, "transaction", failing_transaction)
    with pytest.raises(StoreUnavailable):
        await store.write(queries.insert_campaign, campaign(account.id, cost=100_000), 0)
    accepted = await store.write(queries.insert_campaign, campaign(account.id, cost=100_000), 0)
    assert accepted.balance == 900_000


async def test_an_operation_that_swallows_a_database_error_does_not_spoil_its_batch(store: Store) -> None:
    """On PostgreSQL a swallowed error aborts the shared transaction: that operation must fail, not its batch."""
    customer = make_customer(store, credit="1")
    account = store.run(queries.account, customer.login)

    def swallowing(conn: Connection) -> str:
        try:
            conn.execute("SELECT 1 FROM no_such_table")
        except DatabaseError:
            return "swallowed"
        return "no error"

    results = await asyncio.gather(
        store.write(queries.insert_campaign, campaign(account.id, cost=100_000, request_id="a"), 0),
        store.write(swallowing),
        store.write(queries.insert_campaign, campaign(account.id, cost=100_000, request_id="b"), 0),
        return_exceptions=True,
    )
    assert [r.balance for r in results if not isinstance(r, BaseException | str)] == [900_000, 800_000]
    assert store.run(queries.count_campaigns, account.id) == 2


async def test_one_batch_answers_each_campaign_its_own_way(store: Store) -> None:
    """Accepted, refused for credit, duplicate of a neighbour, big (COPY) and small, all in one group commit:
    each gets its own answer and only the accepted ones leave rows."""
    customer = make_customer(store, credit="1")
    account = store.run(queries.account, customer.login)
    with store.connect() as conn:
        before = counts(conn)
    results = await asyncio.gather(
        store.write(queries.insert_campaign, campaign(account.id, cost=200_000, request_id="same"), 0),
        store.write(queries.insert_campaign, campaign(account.id, cost=200_000, request_id="same"), 0),
        store.write(queries.insert_campaign, campaign(account.id, cost=5_000_000, request_id="dear"), 0),
        store.write(queries.insert_campaign, campaign(account.id, cost=300_000, recipients=300), 0),
        store.write(queries.insert_campaign, campaign(account.id, cost=100_000, request_id="last"), 0),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == [
        "AcceptedCampaign", "DuplicateRequest", "InsufficientCredit", "AcceptedCampaign", "AcceptedCampaign"
    ]  # fmt: skip
    assert store.run(queries.account, customer.login).balance == 400_000
    with store.connect() as conn:
        assert counts(conn) == (before[0] + 3, before[1] + 2 + 300 + 2, before[2] + 3)


async def test_a_campaign_keeps_its_recipients_in_order(store: Store) -> None:
    customer = make_customer(store, credit="10")
    account = store.run(queries.account, customer.login)
    for size in (7, 300):
        record = campaign(account.id, cost=size * 1000, recipients=size)
        accepted = await store.write(queries.insert_campaign, record, 5)
        stored = store.run(queries.campaign_messages, accepted.campaign_id)
        assert [row[0] for row in stored] == [m.recipient for m in record.messages]
        assert {(row[2], row[3], row[4], row[5]) for row in stored} == {(1, 1000, "queued", 0)}


async def test_a_request_id_taken_by_another_host_meanwhile_is_a_duplicate(database_url: str) -> None:
    """Two hosts, one database: the same request_id committed by the other host after this batch began is
    answered 120, and the other operations of the batch still commit."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only: SQLite has one writer at a time")
    from octogate.server import prepare_store

    store = prepare_store(Settings(database_url=database_url))
    try:
        customer = make_customer(store, credit="1")
        account = store.run(queries.account, customer.login)
        other = psycopg.connect(database_url)  # the other host: its transaction holds the request_id
        other.execute(
            "INSERT INTO campaigns (account_id, request_id, source, sms_type, sender_is_msisdn, text, transactional, "
            "with_replies, recipients, sms, cost, send_at, created_at) "
            "VALUES (%s, 'both', 'http', 'FR', 0, 'x', 0, 0, 0, 0, 0, 0, 0)",
            (account.id,),
        )
        racing = asyncio.gather(
            store.write(queries.insert_campaign, campaign(account.id, cost=100_000, request_id="both"), 0),
            store.write(queries.insert_campaign, campaign(account.id, cost=100_000, request_id="mine"), 0),
            return_exceptions=True,
        )
        blocked = False
        with psycopg.connect(database_url, autocommit=True) as watcher:
            for _ in range(1000):  # until the writer waits on the other host's uncommitted request_id
                row = watcher.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE %s = ANY (pg_blocking_pids(pid))",
                    (other.info.backend_pid,),
                ).fetchone()
                if row and row[0]:
                    blocked = True
                    break
                await asyncio.sleep(0.01)
        assert blocked
        other.commit()
        other.close()
        duplicate, accepted = await racing
        assert isinstance(duplicate, DuplicateRequest)
        assert not isinstance(accepted, BaseException) and accepted.balance == 900_000
        assert store.run(queries.count_campaigns, account.id) == 2
    finally:
        store.close()


def _slow_write(conn: Connection, n: int) -> int:
    conn.execute("SELECT 1")
    time.sleep(0.002)  # a slow operation: a batch of them outlasts the writer's time budget
    return n


@durable_soon
def _acceptance(conn: Connection) -> str:
    conn.execute("SELECT 1")
    return "durable"


async def test_an_urgent_write_overtakes_a_backlog(store: Store) -> None:
    """An SMSC acceptance queued behind hundreds of slow writes is committed within the next batches (each
    batch stops after its time budget), not after the whole backlog; every write still gets its own answer."""
    finished: list[str] = []

    async def write(fn: Any, *args: Any) -> Any:
        result = await store.write(fn, *args)
        finished.append(fn.__name__)
        return result

    backlog = [asyncio.ensure_future(write(_slow_write, n)) for n in range(300)]
    await asyncio.sleep(0)  # the backlog is queued first
    urgent = await write(_acceptance)
    assert urgent == "durable"
    assert await asyncio.gather(*backlog) == list(range(300))
    assert finished.index("_acceptance") < 100
    assert store.write_waits()[f"{__name__}._acceptance"]["count"] == 1


async def test_a_reused_request_id_is_reported_before_a_lack_of_credit(store: Store) -> None:
    customer = make_customer(store, credit="1")
    account = store.run(queries.account, customer.login)
    await store.write(queries.insert_campaign, campaign(account.id, cost=400_000, request_id="r"), 0)
    with pytest.raises(DuplicateRequest):
        await store.write(queries.insert_campaign, campaign(account.id, cost=5_000_000, request_id="r"), 0)
    with pytest.raises(DuplicateRequest):
        store.run(queries.insert_campaign, campaign(account.id, cost=5_000_000, request_id="r"), 0)
    assert store.run(queries.account, customer.login).balance == 600_000


async def test_reads_sent_together_answer_each_their_own(store: Store, customer: Customer) -> None:
    """Many API reads at once (pipelined together on PostgreSQL): each caller gets its own account, an
    unknown login gets None, and a read that fails fails alone."""

    @pipelined_when(lambda *args: True)
    def failing(conn: Connection) -> Any:
        return conn.deferred("SELECT 1 FROM no_such_table", (), lambda row: row)

    logins = [customer.login, "nobody"] * 20
    results = await asyncio.gather(
        *(store.read(queries.gateway_and_account, login) for login in logins[:20]),
        store.read(failing),
        *(store.read(queries.gateway_and_account, login) for login in logins[20:]),
        return_exceptions=True,
    )
    failed = results.pop(20)
    reads = results
    assert [r[1] is not None and r[1].login for r in reads] == [customer.login, False] * 20  # type: ignore[index]
    assert isinstance(failed, StoreUnavailable)
    state, account, _ = await store.read(queries.gateway_and_account, customer.login)
    assert account is not None and not state.paused


def _plain_write(conn: Connection) -> str:
    conn.execute("SELECT 1")
    return "durable"


@pytest.mark.parametrize("count", [0, 1, 5, 300])
def test_bulk_insert_writes_every_row_in_order(store: Store, count: int) -> None:
    """Rows in statements of at most 64 on SQLite (300: 4 x 64 + 44), COPY on PostgreSQL: every row written
    once, with its own values (NULLs included)."""
    rows = [(n, f"+3360000{n:04d}", None if n % 7 == 0 else n * 10) for n in range(count)]
    with store.connect() as conn, conn.transaction(exclusive=True):
        conn.execute("CREATE TABLE bulk_rows (n INTEGER, recipient TEXT, cost BIGINT)")
        conn.bulk_insert("bulk_rows", ("n", "recipient", "cost"), iter(rows))
        assert conn.fetchall("SELECT n, recipient, cost FROM bulk_rows ORDER BY n") == rows


def test_writers_queue_on_a_file_lock_while_one_commits(tmp_path: Any) -> None:
    """SQLite: group-commit writers (of any process) hold a file lock beside the database for their whole
    transaction, so a second one sleeps until the first has committed instead of trying for SQLite's lock;
    the lock is free again after the commit."""
    path = f"{tmp_path}/octogate.db"
    url = DatabaseURL.parse(f"sqlite:///{path}")
    first, second = Connection(url, writer=True), Connection(url, writer=True)
    probe = os.open(path + WRITERS_LOCK, os.O_RDWR)
    entered = threading.Event()

    def write_second() -> None:
        with second.transaction(exclusive=True):
            entered.set()
            second.execute("CREATE TABLE second_was_here (x)")

    try:
        with first.transaction(exclusive=True):
            first.execute("CREATE TABLE first_was_here (x)")
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held for the whole transaction
            waiting = threading.Thread(target=write_second)
            waiting.start()
            assert not entered.wait(0.3)  # queued behind the first
        assert entered.wait(5)
        waiting.join(5)
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once both committed
        tables = {row[0] for row in first.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"first_was_here", "second_was_here"} <= tables
    finally:
        os.close(probe)
        first.close()
        second.close()


async def test_a_write_waits_for_the_write_lock_another_connection_holds(tmp_path: Any) -> None:
    """SQLite: the group-commit writer's connection has no busy handler (`Connection(writer=True)`); it takes
    the write lock by trying again, so a write queued while another process holds the lock waits for it and
    commits once it is free, and no one-off connection opened afterwards is left without its busy wait."""
    url = f"sqlite:///{tmp_path}/octogate.db"
    store = Store(url)
    try:
        assert await store.write(_plain_write) == "durable"  # the writer's connection is open
        other = sqlite3.connect(f"{tmp_path}/octogate.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the API process's write lock, say
        waiting = asyncio.ensure_future(store.write(_plain_write))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # still trying: neither failed at once nor committed under another's lock
        other.execute("COMMIT")
        assert await asyncio.wait_for(waiting, 5) == "durable"
        with store.connect() as conn:  # a connection of its own keeps SQLite's busy handler
            assert conn.fetchone("PRAGMA busy_timeout") == (10000,)
        other.close()
    finally:
        store.close()


def test_a_connection_to_a_new_file_another_is_switching_to_wal_waits_for_it(tmp_path: Any) -> None:
    """Hosts started together on a new SQLite file: while one holds the write lock of a file still in rollback
    mode (switching it to WAL), SQLite fails another's switch at once, without its busy handler; that host
    waits and comes up instead of exiting with "database is locked" (seen in the five-hosts start test)."""
    path = tmp_path / "octogate.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (a)")
    other.execute("BEGIN IMMEDIATE")  # rollback mode, write lock held
    opened: list[Connection | BaseException] = []

    def open_connection() -> None:
        try:
            opened.append(Connection(DatabaseURL.parse(f"sqlite:///{path}")))
        except BaseException as error:  # reported by the assertion below
            opened.append(error)

    opening = threading.Thread(target=open_connection)
    opening.start()
    opening.join(0.3)
    assert opening.is_alive(), opened  # still trying: it did not fail at once
    other.execute("COMMIT")
    opening.join(10)
    [conn] = opened
    assert isinstance(conn, Connection), conn
    assert conn.fetchone("PRAGMA journal_mode") == ("wal",)
    conn.close()
    other.close()


async def test_a_lingering_writer_commits_what_came_meanwhile_together(database_url: str) -> None:
    """With `linger`, a write waits for the ones that come after it (one commit for all: fewer commits holding
    SQLite's write lock), and both are answered together once the oldest has waited that long."""
    store = Store(database_url, linger=2.0)
    try:
        first = asyncio.ensure_future(store.write(_plain_write))
        await asyncio.sleep(0.05)  # a second write comes while the first lingers
        assert not first.done()
        started = time.monotonic()
        assert await store.write(_plain_write) == "durable"
        assert first.done() and first.result() == "durable"  # answered in the same batch
        assert time.monotonic() - started > 1.0  # the second waited for the first's time, not a linger of its own
    finally:
        store.close()


async def test_an_urgent_write_does_not_linger(database_url: str) -> None:
    """An SMSC acceptance (`durable_soon`) ends the wait at once: what a crash would send again stays small.
    On SQLite the write lingering before it goes in the same commit (one commit for both, not two); PostgreSQL
    gives acceptances a writer of their own."""
    store = Store(database_url, linger=2.0)
    try:
        waiting = asyncio.ensure_future(store.write(_plain_write))
        await asyncio.sleep(0)  # queued first
        started = time.monotonic()
        assert await store.write(_acceptance) == "durable"
        assert time.monotonic() - started < 1.0
        if store.url.dialect == "sqlite":
            # answered with the acceptance (its commit), long before its own linger of 2 s would have ended
            assert await asyncio.wait_for(waiting, 0.5) == "durable"
        assert await waiting == "durable"
    finally:
        store.close()
