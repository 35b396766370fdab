"""Connectors the operator paused: the table every dispatcher reads with its claims (SQL only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from octogate.store.db import Connection


@dataclass(frozen=True, slots=True)
class ConnectorPause:
    connector: str
    paused_at: int
    paused_by: str


def paused(conn: Connection) -> frozenset[str]:
    """The names of the paused connectors (a handful of rows: read whole, with every claim)."""
    return paused_later(conn)()


def paused_later(conn: Connection) -> Callable[[], frozenset[str]]:
    """`paused`, read after a `conn.batch()` block (with the claim's first read: one round trip)."""
    rows = conn.later("SELECT connector FROM connector_pauses")
    return lambda: frozenset(str(row[0]) for row in rows())


def pauses(conn: Connection) -> list[ConnectorPause]:
    return conn.records(
        ConnectorPause, "SELECT connector, paused_at, paused_by FROM connector_pauses ORDER BY connector"
    )


def pause(conn: Connection, connector: str, now: int, actor: str) -> bool:
    """False when it was paused already."""
    cursor = conn.execute(
        "INSERT INTO connector_pauses (connector, paused_at, paused_by) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (connector, now, actor),
    )
    return bool(cursor.rowcount)


def resume(conn: Connection, connector: str) -> bool:
    """False when it was not paused."""
    return bool(conn.execute("DELETE FROM connector_pauses WHERE connector = ?", (connector,)).rowcount)
