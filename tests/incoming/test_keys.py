"""Carrier ids stored once as keys and found by one indexed equality: the migration's backfill gives existing
parts the keys new ones get, and on PostgreSQL the lookup is an index scan on a new table nobody ANALYZEd."""

from __future__ import annotations

import json
import time

import pytest

from octogate.incoming import ids
from octogate.incoming.apply import parts_named
from octogate.incoming.submits import record_parts
from octogate.store import schema
from octogate.store.db import Connection, DatabaseURL

IDS = ["0000002A", "42", "000000ff", "255", "abc-123", "7", "0", "00", " 1F ", "123456789012345",
       "fffffffffffffff", "carrier-1", "DEADbeef"]  # fmt: skip


def migrate_to(conn: Connection, version: int) -> None:
    """The schema as it was at `version`, applied the way `schema.migrate` does."""
    with conn.transaction():
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )
        for number, script in schema.migrations():
            if number <= version:
                for statement in schema.statements(script, conn.dialect):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", (number,))


def add_messages(conn: Connection, count: int) -> int:
    """An account, a campaign and `count` messages; returns the first message id."""
    account = conn.fetchone(
        "INSERT INTO accounts (login, api_key_hash, balance, created_at) VALUES ('k@example.com', 'x', 0, 0) "
        "RETURNING id"
    )
    assert account is not None
    campaign = conn.fetchone(
        "INSERT INTO campaigns (account_id, source, sms_type, sender, sender_is_msisdn, text, transactional, "
        "with_replies, recipients, sms, cost, send_at, created_at) "
        "VALUES (?, 'api', 'FR', 'MyShop', 0, 'Hi', 0, 0, ?, ?, 0, 0, 0) RETURNING id",
        (account[0], count, count),
    )
    assert campaign is not None
    conn.bulk_insert(
        "messages",
        ("campaign_id", "account_id", "recipient", "country", "calling_code", "sms", "cost", "priority", "send_at",
         "status"),
        ((campaign[0], account[0], f"+3360{n:07d}", "FR", 33, 1, 0, 1, 0, "submitted") for n in range(count)),
    )  # fmt: skip
    first = conn.fetchone("SELECT MIN(id) FROM messages")
    assert first is not None
    return int(first[0])


def test_the_migration_gives_existing_parts_the_keys_new_parts_get(database_url: str) -> None:
    conn = Connection(DatabaseURL.parse(database_url))
    try:
        migrate_to(conn, 7)
        with conn.transaction():
            first = add_messages(conn, len(IDS))
            conn.executemany(
                "INSERT INTO message_parts (message_id, seq, connector, carrier_id, status) "
                "VALUES (?, 1, 'sim', ?, 'submitted')",
                [(first + n, carrier_id) for n, carrier_id in enumerate(IDS)],
            )
        assert 8 in schema.migrate(conn)
        stored = {
            (int(r[0]), r[1], bool(r[2]))
            for r in conn.fetchall("SELECT message_id, carrier_key, same_base FROM part_keys")
        }
        expected = {(first + n, k.key, k.same_base) for n, raw in enumerate(IDS) for k in ids.part_keys(raw)}
        assert stored == expected
        # and a receipt in the other base finds its backfilled part by its own key
        by_42 = {(m.message_id, m.same_base) for m in parts_named(conn, "sim", ids.receipt_key("0042"))}
        assert by_42 == {(first + 1, True)}  # "42" itself: it wins, so 0x2A (its decimal reading) is not looked up
        assert parts_named(conn, "sim", ids.receipt_key("16777215")) == []
        assert {m.message_id for m in parts_named(conn, "sim", ids.receipt_key("3735928559"))} == {
            first + IDS.index("DEADbeef")
        }
    finally:
        conn.close()


def test_a_part_is_stored_under_one_key_and_found_by_a_receipt_in_either_base(database_url: str) -> None:
    conn = Connection(DatabaseURL.parse(database_url))
    try:
        schema.migrate(conn)
        with conn.transaction():
            first = add_messages(conn, 4)
            record_parts(conn, [(first, "sim", 1, "0000002A"), (first + 1, "sim", 1, "42"),
                                (first + 2, "sim", 1, "carrier-1"), (first + 3, "sim", 1, "")], 0)  # fmt: skip
        assert conn.fetchone("SELECT COUNT(*), MIN(same_base) FROM part_keys") == (3, 1)  # one row per part
        # an id found in its own spelling names that part (it would win over one in the other base)
        assert {(m.message_id, m.same_base) for m in parts_named(conn, "sim", ids.receipt_key("0042"))} == {
            (first + 1, True)
        }
        assert {(m.message_id, m.same_base) for m in parts_named(conn, "sim", ids.receipt_key("2A"))} == {
            (first, True)
        }
        # found in the other base only: 0x2B is 43, 0x2A is 42
        with conn.transaction():
            record_parts(conn, [(first + 3, "sim", 2, "2B")], 0)
        assert {(m.message_id, m.same_base) for m in parts_named(conn, "sim", "43")} == {(first + 3, False)}
        assert [m.message_id for m in parts_named(conn, "sim", "carrier-1")] == [first + 2]
        assert parts_named(conn, "sim", "") == [] and parts_named(conn, "other", "2a") == []
    finally:
        conn.close()


PARTS = 50_000


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_receipt_lookup_is_an_index_scan_on_a_new_table_without_statistics(database_url: str) -> None:
    conn = Connection(DatabaseURL.parse(database_url))
    try:
        schema.migrate(conn)
        # no statistics at all, and none gathered behind the test's back
        conn.execute("ALTER TABLE part_keys SET (autovacuum_enabled = false)")
        conn.execute("ALTER TABLE message_parts SET (autovacuum_enabled = false)")
        conn.execute("ALTER TABLE messages SET (autovacuum_enabled = false)")
        with conn.transaction():
            first = add_messages(conn, PARTS)
            carrier = [format(0x10000000 + n, "08x") for n in range(PARTS)]  # the simulator's style: hex, padded
            conn.bulk_insert(
                "message_parts", ("message_id", "seq", "connector", "carrier_id", "status", "submitted_at"),
                ((first + n, 1, "sim", carrier[n], "submitted", 0) for n in range(PARTS)),
            )  # fmt: skip
            conn.bulk_insert(
                "part_keys", ("connector", "carrier_key", "message_id", "seq", "same_base"),
                (("sim", ids.canonical(carrier[n]), first + n, 1, 1) for n in range(PARTS)),
            )  # fmt: skip
        assert conn.fetchone(
            "SELECT COUNT(*) FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename IN ('part_keys', 'message_parts')"
        ) == (0,), "nobody analysed the tables"
        wanted = PARTS // 2
        key = ids.receipt_key(str(0x10000000 + wanted))  # the receipt in decimal
        sql_text = conn._sql(  # the very statement the store runs
            "SELECT k.message_id, k.seq, p.status, k.same_base FROM part_keys k "
            "JOIN message_parts p ON p.message_id = k.message_id AND p.seq = k.seq "
            "WHERE k.connector = ? AND k.carrier_key = ? AND k.same_base = 1"
        )
        stored = format(0x10000000 + wanted, "x")  # the part's key the decimal receipt names
        [(plan,)] = conn.fetchall(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql_text}", ("sim", stored))
        nodes = list(_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
        scans = {n["Relation Name"]: n["Node Type"] for n in nodes if "Relation Name" in n}
        assert scans == {"part_keys": "Index Scan", "message_parts": "Index Scan"}, scans
        assert max(n.get("Actual Rows", 0) for n in nodes) == 1
        [match] = parts_named(conn, "sim", key)
        assert (match.message_id, match.same_base) == (first + wanted, False)
        started = time.perf_counter()
        for n in range(0, PARTS, PARTS // 1000):
            assert parts_named(conn, "sim", ids.receipt_key(carrier[n].upper()))
        per_lookup = (time.perf_counter() - started) / 1000
        print(f"receipt lookup on {PARTS} parts without statistics: {per_lookup * 1e6:.0f} µs")
        assert per_lookup < 0.005
    finally:
        conn.close()


def _nodes(node: dict[str, object]) -> list[dict[str, object]]:
    found = [node]
    for child in node.get("Plans", []):  # type: ignore[union-attr]
        found.extend(_nodes(child))  # type: ignore[arg-type]
    return found
