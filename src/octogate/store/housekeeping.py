"""PostgreSQL: the queue tables vacuumed and analysed by the gateway itself, as their churn needs.

Every message is updated three times on its way (claimed, submitted, final) and every push twice, each time a
new row version in every index of its table. Autovacuum's defaults look once a minute and wait for a fifth of
a table to be dead; where it is off (as on this project's CI machines) nothing is ever cleaned up. Measured on
`bench/pipeline.py --postgres` with autovacuum off: the PostgreSQL backends' CPU per message went 1.1 → 2.8 →
3.8 ms over three runs of 5,000 on one schema, the acceptance statement from 105 to 260 buffer reads, as claims,
receipt lookups and the account row's updates walked ever more dead versions. Queue libraries on PostgreSQL
meet the same churn; this keeps the gateway's own tables tidy whatever the server's settings, and leaves any
other table to the operator.

`due_tables` is the pure rule; the SQL reads the statistics collector and runs VACUUM (ANALYZE), which skips a
table another vacuum holds (SKIP_LOCKED). One host of a cluster does a round at a time (an advisory lock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import NamedTuple

from octogate.store.db import Connection, DatabaseURL

log = logging.getLogger(__name__)

#: The tables rewritten at the rate of the traffic. Fixed names: the only text placed into the VACUUM statement.
CHURNING_TABLES = (
    "messages", "message_parts", "part_keys", "callbacks", "callback_attempts", "accounts", "campaigns",
    "ledger", "push_slots", "bind_leases", "bind_candidates", "early_receipts", "incoming_parts",
)  # fmt: skip
#: A table is vacuumed and analysed once this many row versions are dead, or this many rows changed since its
#: last statistics (a fresh table has none: plans guess until then), and either is a tenth of its live rows.
MIN_DEAD = 2_000
DEAD_SHARE = 0.1
MIN_CHANGED = 5_000
#: A table that never had statistics is analysed sooner: the statements are prepared, and the plans chosen
#: while it looked empty (sequential scans) are kept until its first statistics replace them.
MIN_CHANGED_FIRST = 500
#: Seconds between two looks at the statistics (a look is one cheap query; a round vacuums only what is due).
ROUND_EVERY = 5.0
#: The advisory lock key of a housekeeping round (one host at a time; any constant, one per database).
ROUND_LOCK = 7423018


class TableChurn(NamedTuple):
    table: str
    live: int
    dead: int
    changed: int  # rows inserted, updated or deleted since the table's statistics were last gathered
    analysed: bool = True  # it has statistics (from this or from autovacuum)


def due_tables(churn: Iterable[TableChurn]) -> list[str]:
    """The tables worth a VACUUM (ANALYZE) now, the most dead versions first."""
    due = [
        row
        for row in churn
        if row.dead >= max(MIN_DEAD, DEAD_SHARE * row.live)
        or row.changed >= max(MIN_CHANGED if row.analysed else MIN_CHANGED_FIRST, DEAD_SHARE * row.live)
    ]
    return [row.table for row in sorted(due, key=lambda row: -row.dead)]


def read_churn(conn: Connection) -> list[TableChurn]:
    return conn.records(
        TableChurn,
        "SELECT relname AS table, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS changed, "
        "COALESCE(last_analyze, last_autoanalyze) IS NOT NULL AS analysed "
        "FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(?)",
        [list(CHURNING_TABLES)],
    )


def try_round_lock(conn: Connection) -> bool:
    """Outside a transaction: the session's round lock, or False when another host has it."""
    row = conn.fetchone("SELECT pg_try_advisory_lock(?, hashtext(current_schema()))", (ROUND_LOCK,))
    return bool(row and row[0])


def release_round_lock(conn: Connection) -> None:
    conn.execute("SELECT pg_advisory_unlock(?, hashtext(current_schema()))", (ROUND_LOCK,))


def vacuum(conn: Connection, table: str) -> None:
    """Outside a transaction (VACUUM refuses one): dead versions made reusable, statistics renewed."""
    if table not in CHURNING_TABLES:
        raise ValueError(f"not a gateway queue table: {table!r}")
    conn.execute(f'VACUUM (ANALYZE, SKIP_LOCKED) "{table}"')


def tidy_round(conn: Connection) -> list[str]:
    """One round on a connection outside any transaction: the due tables vacuumed, unless another host is at
    it. Returns the tables done."""
    if not try_round_lock(conn):
        return []
    try:
        done = []
        for table in due_tables(read_churn(conn)):
            vacuum(conn, table)
            done.append(table)
        return done
    finally:
        release_round_lock(conn)


class Housekeeper(threading.Thread):
    """A round every `every` seconds on a connection of its own, off the event loop (a VACUUM takes tens of
    milliseconds to seconds). A failed round is logged and the next one tried: tidiness is never worth a stop."""

    def __init__(self, url: DatabaseURL, every: float | None = None) -> None:
        super().__init__(name="octogate-housekeeping", daemon=True)
        self.url = url
        self.every = ROUND_EVERY if every is None else every
        self.rounds = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        conn: Connection | None = None
        while not self._stopping.wait(self.every):
            try:
                conn = conn or Connection(self.url)
                done = tidy_round(conn)
                if done:
                    log.debug("housekeeping: vacuumed %s", ", ".join(done))
            except Exception as error:  # the database gone for a moment, or a bug: the next round tries again
                log.warning("housekeeping round failed: %.200s", error)
                if conn is not None:
                    conn.close()
                conn = None
            self.rounds += 1
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)
