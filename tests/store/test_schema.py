"""Schema facts the hot path's cost depends on, checked on the migrated database of each engine."""

from __future__ import annotations

import pytest

from octogate.store import schema
from octogate.store.store import Store


def test_a_statement_marked_for_one_engine_runs_on_that_engine_only() -> None:
    script = "CREATE TABLE t (x {bigint});\n{postgresql_only} ALTER TABLE t SET (fillfactor = 50);\n{sqlite_only} X"
    assert schema.statements(script, "postgresql") == [
        "CREATE TABLE t (x BIGINT)",
        "ALTER TABLE t SET (fillfactor = 50)",
    ]
    assert schema.statements(script, "sqlite") == ["CREATE TABLE t (x INTEGER)", "X"]


def test_messages_done_holds_finished_messages_only(store: Store) -> None:
    """A message enters the charts' index when it is done: no index write at enqueue, claim or submit."""
    with store.connect() as conn:
        if conn.dialect == "sqlite":
            [(sql,)] = conn.fetchall("SELECT sql FROM sqlite_master WHERE name = 'messages_done'")
        else:
            [(sql,)] = conn.fetchall(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'messages_done'"
            )
    assert sql.replace("(", "").replace(")", "").endswith("WHERE done_at IS NOT NULL")


def test_message_parts_leave_room_for_their_receipts_on_postgresql(store: Store) -> None:
    with store.connect() as conn:
        if conn.dialect == "sqlite":
            pytest.skip("a PostgreSQL storage setting")
        [(options,)] = conn.fetchall("SELECT reloptions FROM pg_class WHERE oid = 'message_parts'::regclass")
    assert options == ["fillfactor=50"]
