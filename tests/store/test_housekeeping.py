"""The queue tables are vacuumed by the gateway when their churn needs it (PostgreSQL, whatever autovacuum does),
one host at a time, and never anything else."""

from __future__ import annotations

import pytest

from octogate.store import housekeeping
from octogate.store.db import Connection
from octogate.store.housekeeping import TableChurn, due_tables
from octogate.store.store import Store
from support import wait_until


def test_a_table_is_due_when_its_dead_versions_or_changes_are_many_and_a_tenth_of_it() -> None:
    churn = [
        TableChurn("messages", live=10_000, dead=1_999, changed=0),  # too few dead
        TableChurn("callbacks", live=1_000_000, dead=50_000, changed=50_000),  # a twentieth of a big table
        TableChurn("accounts", live=1, dead=2_000, changed=0),
        TableChurn("part_keys", live=30_000, dead=0, changed=5_000),  # never analysed: its plans guess
        TableChurn("push_slots", live=16, dead=9_000, changed=9_000),
        TableChurn("campaigns", live=600, dead=0, changed=600, analysed=False),  # its first statistics, early
        TableChurn("ledger", live=600, dead=0, changed=600),  # had some: not yet
    ]
    assert due_tables(churn) == ["push_slots", "accounts", "part_keys", "campaigns"]


def test_only_the_gateway_queue_tables_are_ever_vacuumed() -> None:
    with pytest.raises(ValueError, match="not a gateway queue table"):
        housekeeping.vacuum(None, 'messages"; DROP TABLE accounts; --')  # type: ignore[arg-type]


def churn_of(conn: Connection, table: str) -> TableChurn:
    return next(row for row in housekeeping.read_churn(conn) if row.table == table)


def vacuumed(conn: Connection, table: str) -> bool:
    row = conn.fetchone(
        "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL AND n_mod_since_analyze = 0 "
        "FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ?",
        (table,),
    )
    return bool(row and row[0])


def make_dead_versions(conn: Connection, count: int) -> None:
    conn.execute(
        "INSERT INTO early_receipts (connector, carrier_id, stat, received_at) "
        "SELECT 'smsc', g::text, 'DELIVRD', 0 FROM generate_series(1, ?) AS g",
        (count,),
    )
    conn.execute("DELETE FROM early_receipts")
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")  # the flush happens at the end of a transaction


def test_a_round_vacuums_a_churned_table_and_only_the_due_ones(pg_store: Store) -> None:
    with pg_store.connect() as conn:
        make_dead_versions(conn, 3_000)
        watcher = Connection(pg_store.url)
        try:
            wait_until(lambda: churn_of(watcher, "early_receipts").dead >= 3_000)
            done = housekeeping.tidy_round(watcher)
            assert "early_receipts" in done
            assert "ledger" not in done  # untouched since its last statistics: left alone
            # vacuumed and analysed (whether the dead versions could all go depends on the oldest snapshot of
            # every session of the database, so that count is not asserted)
            assert vacuumed(watcher, "early_receipts")
        finally:
            watcher.close()


def test_one_host_at_a_time_does_a_round(pg_store: Store) -> None:
    with pg_store.connect() as first, pg_store.connect() as second:
        make_dead_versions(first, 3_000)
        wait_until(lambda: churn_of(second, "early_receipts").dead >= 3_000)
        assert housekeeping.try_round_lock(first)
        try:
            assert housekeeping.tidy_round(second) == []  # another host is at it
        finally:
            housekeeping.release_round_lock(first)
        assert "early_receipts" in housekeeping.tidy_round(second)


def test_the_delivery_side_keeps_its_tables_tidy_by_itself(pg_store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(housekeeping, "ROUND_EVERY", 0.05)
    with pg_store.connect() as conn:
        make_dead_versions(conn, 3_000)
        pg_store.keep_tidy()
        wait_until(lambda: vacuumed(conn, "early_receipts"))
