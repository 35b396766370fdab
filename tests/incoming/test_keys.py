"""Carrier ids stored once as keys and found by one indexed equality: the migration's backfill gives existing
parts the keys new ones get, a connector that declares its SMSC's bases has each receipt found by one probe,
and on PostgreSQL the store's lookup is an index scan on a new table nobody ANALYZEd."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from octogate.incoming import ids
from octogate.incoming.apply import apply_receipts, parts_named
from octogate.incoming.model import ReceiptUpdate
from octogate.incoming.submits import record_parts
from octogate.smpp.constants import MessageIds
from octogate.store import schema
from octogate.store.db import Connection, DatabaseURL, Row

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


class Recording(Connection):
    """A real connection that notes every lookup of parts by key it sends: the statement, its parameters and
    the keys it probes."""

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__(url)
        self.sent: list[tuple[str, Sequence[Any]]] = []

    def later(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], list[Row]]:
        if "FROM part_keys k" in sql:
            self.sent.append((sql, params))
        return super().later(sql, params)

    @property
    def probes(self) -> list[list[str]]:
        """The keys of each lookup sent, in order (an array on PostgreSQL, a JSON list on SQLite)."""
        return [list(p[0]) if self.dialect == "postgresql" else json.loads(p[1]) for _, p in self.sent]


NOW = 1_790_000_000


def delivered(conn: Connection, first: int) -> set[int]:
    """Which of the messages numbered from `first` had their part take a receipt (by their offset)."""
    return {int(r[0]) - first for r in conn.fetchall("SELECT message_id FROM message_parts WHERE status = 'DELIVRD'")}


@pytest.mark.parametrize(
    ("style", "parts", "receipt", "taken", "probes"),
    [
        # "auto": the receipt's own spelling first; "42" names 0x42's part although the SMSC meant decimal 42
        ("auto", ["00000042", "0000002A"], "42", 0, [["42"]]),
        ("hex-in-response", ["00000042", "0000002A"], "42", 1, [["2a"]]),
        # "auto": a key that finds nothing is probed again by its other spellings (a second round trip)
        ("auto", ["0000002A"], "0042", 0, [["42"], ["2a", "66"]]),
        ("hex-in-response", ["0000002A"], "0042", 0, [["2a"]]),
        ("hex-in-receipt", ["42", "66"], "00000042", 1, [["66"]]),
        ("same", ["0000ABC", "2748"], "ABC", 0, [["abc"]]),
    ],
)  # fmt: skip
def test_a_receipt_in_the_other_base_is_found_by_one_probe_under_a_declared_style(
    database_url: str, style: MessageIds, parts: list[str], receipt: str, taken: int, probes: list[list[str]]
) -> None:
    conn = Recording(DatabaseURL.parse(database_url))
    try:
        schema.migrate(conn)
        with conn.transaction():
            first = add_messages(conn, len(parts))
            record_parts(conn, [(first + n, "smsc", 1, carrier) for n, carrier in enumerate(parts)], NOW)
        with conn.transaction():
            update = ReceiptUpdate("smsc", receipt, "DELIVRD", None, NOW, NOW, style)
            assert apply_receipts(conn, [update]) == ["applied"]
        assert conn.probes == probes
        assert delivered(conn, first) == {taken}
    finally:
        conn.close()


def test_a_declared_style_never_looks_a_receipt_up_by_another_spelling(database_url: str) -> None:
    """Receipt 2748 of a part not recorded yet: "auto" reads it as hex too and delivers 0xabc's part; "same" keeps
    it early, and a batch of receipts is one statement, one key each."""
    conn = Recording(DatabaseURL.parse(database_url))
    try:
        schema.migrate(conn)
        with conn.transaction():
            first = add_messages(conn, 4)
            record_parts(conn, [(first + n, c, 1, "0000ABC") for n, c in enumerate(["same", "auto"])], NOW)
            record_parts(conn, [(first + 2, "same", 1, "10"), (first + 3, "same", 1, "0011")], NOW)
        with conn.transaction():
            assert apply_receipts(conn, [ReceiptUpdate("same", "2748", "DELIVRD", None, NOW, NOW, "same")]) == [
                "early"
            ]
        assert conn.probes and all(keys == ["2748"] for keys in conn.probes)  # PostgreSQL looks again, locked
        with conn.transaction():
            assert apply_receipts(conn, [ReceiptUpdate("auto", "2748", "DELIVRD", None, NOW, NOW)]) == ["applied"]
        conn.sent.clear()
        with conn.transaction():
            batch = [ReceiptUpdate("same", raw, "DELIVRD", None, NOW, NOW, "same") for raw in ("0010", "11", "abc")]
            assert apply_receipts(conn, batch) == ["applied"] * 3
        assert conn.probes == [["10", "11", "abc"]]
        assert delivered(conn, first) == {0, 1, 2, 3}
    finally:
        conn.close()


PARTS = 50_000


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_receipt_lookup_is_an_index_scan_on_a_new_table_without_statistics(database_url: str) -> None:
    conn = Recording(DatabaseURL.parse(database_url))
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
        # A batch of 50 receipts written in decimal, on a connector that declares hex-in-response: the very
        # statement the store sends, with its parameters, explained.
        wanted = [PARTS // 2 + 7 * n for n in range(50)]
        batch = [ReceiptUpdate("sim", str(0x10000000 + w), "DELIVRD", None, NOW, NOW, "hex-in-response")
                 for w in wanted]  # fmt: skip
        with conn.transaction():
            assert apply_receipts(conn, batch) == ["applied"] * len(wanted)
        [(statement, params)] = conn.sent
        assert list(params[0]) == sorted(carrier[w] for w in wanted)
        [(plan,)] = conn.fetchall(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", params)
        nodes = list(_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
        scans = {n["Relation Name"]: n for n in nodes if "Relation Name" in n}
        assert {name: n["Node Type"] for name, n in scans.items()} == {
            "part_keys": "Index Scan", "message_parts": "Index Scan"
        }, scans  # fmt: skip
        assert (scans["part_keys"]["Actual Loops"], scans["part_keys"]["Actual Rows"]) == (len(wanted), 1)
        assert scans["part_keys"].get("Rows Removed by Filter", 0) == 0
        # "auto": the decimal receipt found through its re-spelling, the upper-case one by its own
        [match] = parts_named(conn, "sim", ids.receipt_key(str(0x10000000 + 3)))
        assert (match.message_id, match.same_base) == (first + 3, False)
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
