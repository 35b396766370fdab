"""The one durable work queue: leased work of every kind, over each kind's own table.

Why over the kinds' own tables and not a jobs table: a message or a push *is* its queue entry (a second row per
message would cost an insert, an index entry and a delete for every SMS). A kind plugs in by declaring a
`QueueSpec`: its table, the fairness key (the account), the claim order, the due column and the status words.
Every table has `claimed_by` (the owner string of the process holding the row) and `lease_until` (epoch s).

Two lease models, chosen by the spec:
* `claimed != ready` (messages: queued -> sending): a claim changes the status; an expired lease is taken
  back by `take_over_expired` (the sweep every worker runs);
* `claimed == ready` (pushes stay 'pending'): a claim also moves the due column to the lease end, so a
  crashed holder's rows simply come due again when the lease runs out, and a claim takes them.

Claims: on PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, so two hosts claiming at the same
instant never get the same row and never wait for each other (a row another transaction holds is skipped, a
row it changed and committed is re-checked and no longer matches). On SQLite the group-commit writer holds the
database's write lock (BEGIN IMMEDIATE) for the whole claim: the single-writer equivalent.

Wake-ups: `notify(conn, spec)` is called in the transaction that makes work due. On PostgreSQL it is a
`pg_notify` on a channel named after the kind and `current_schema()` (delivered to every LISTENing host at
commit, and folded into one notification per transaction); on SQLite, where only this machine can write, the
callbacks registered with `on_notify` in this process are called (the claim that follows goes through the same
single writer, so it runs after the enqueuing commit).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from octogate.frozen import quick_init
from octogate.statuses import MessageStatus, PushStatus
from octogate.store.db import Connection

log = logging.getLogger(__name__)
R = TypeVar("R")
ID_CHUNK = 500  # ids per IN (...) list: bounded statements
CHANNEL_SQL = "left('octogate.' || ? || '.' || current_schema(), 63)"  # NOTIFY channels are < 64 bytes
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """How one kind of work sits in its table. Every name here is code, never a caller's text."""

    name: str  # the kind, and its NOTIFY channel
    table: str
    ready: str  # status of rows waiting to be claimed
    claimed: str  # status of rows held under a lease (== ready: the claim keeps the status, see above)
    failed: str  # status of rows given up for good
    due: str  # column: claimable once it is <= now
    order: str  # ORDER BY of one key's claim (its first word decides priority, e.g. transactional first)
    key: str = "account_id"  # fairness: claims go key by key
    error: str = "error"  # column that says why the last attempt did not end the work
    count_on_claim: bool = False  # an attempt is counted when claimed (and given back by `release`)

    def __post_init__(self) -> None:
        for column in (self.table, self.due, self.key, self.error):
            if not _IDENTIFIER.fullmatch(column):
                raise ValueError(f"not a column name: {column!r}")

    @property
    def keeps_status(self) -> bool:
        return self.claimed == self.ready


#: Messages to submit: transactional (priority 0) first within an account, then oldest due.
MESSAGES = QueueSpec(
    name="messages", table="messages", ready=MessageStatus.QUEUED, claimed=MessageStatus.SENDING,
    failed=MessageStatus.FAILED, due="send_at", order="priority, send_at, id", count_on_claim=True,
)  # fmt: skip
#: Pushes to POST: oldest due first; attempts are counted when recorded (with the attempt's row).
PUSHES = QueueSpec(
    name="pushes", table="callbacks", ready=PushStatus.PENDING, claimed=PushStatus.PENDING,
    failed=PushStatus.FAILED, due="next_attempt_at", order="next_attempt_at, id", error="last_error",
)  # fmt: skip


@quick_init
@dataclass(frozen=True, slots=True)
class Claimed:
    """The smallest claimed row: what `claim` returns with the default `returning`."""

    id: int
    account_id: int


@dataclass(frozen=True, slots=True)
class Want:
    """How much a worker wants of each key in one claim, given what it already holds in memory.

    `rooms` names keys whose room the worker knows (0: none now); any other key gets `default`. `total` caps
    the whole claim; `turn` rotates which key is served first, so a small total is shared in turn.
    """

    default: int
    rooms: Mapping[int, int]
    total: int | None = None
    turn: int = 0

    def order(self, keys: Sequence[int]) -> list[tuple[int, int]]:
        """(key, room) in serving order, keys without room left out."""
        if keys:
            start = self.turn % len(keys)
            keys = [*keys[start:], *keys[:start]]
        rooms = ((key, self.rooms.get(key, self.default)) for key in keys)
        return [(key, room) for key, room in rooms if room > 0]


# --- the statements, built once per spec ---------------------------------------------------------------------


@lru_cache(maxsize=64)
def _keys_sql(spec: QueueSpec) -> str:
    """A loose index scan: the keys that have ready rows, one index probe per key (not per row)."""
    t, k = spec.table, spec.key
    return (
        f"WITH RECURSIVE ready(k) AS ("  # noqa: S608 - names from the spec, values parameterised
        f" SELECT MIN({k}) FROM {t} WHERE status = ?"
        f" UNION ALL"
        f" SELECT (SELECT MIN(x.{k}) FROM {t} x WHERE x.status = ? AND x.{k} > r.k)"
        f" FROM ready r WHERE r.k IS NOT NULL"
        f") SELECT k FROM ready WHERE k IS NOT NULL"
    )


@lru_cache(maxsize=64)
def _claim_sql(spec: QueueSpec, dialect: str, returning: str) -> str:
    sets = ["claimed_by = ?", "lease_until = ?"]
    if spec.keeps_status:
        sets.append(f"{spec.due} = ?")  # not due while held; due again by itself if the holder dies
    else:
        sets.append("status = ?")
    if spec.count_on_claim:
        sets.append("attempts = attempts + 1")
    lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    return (
        f"UPDATE {spec.table} SET {', '.join(sets)} WHERE id IN ("  # noqa: S608
        f" SELECT id FROM {spec.table} WHERE status = ? AND {spec.key} = ? AND {spec.due} <= ?"
        f" ORDER BY {spec.order} LIMIT ?{lock}"
        f") RETURNING {returning}"
    )


HELD = "status = ? AND claimed_by = ?"  # a row still held by the owner named by the second parameter


# --- operations (each runs inside the caller's transaction: a group-commit savepoint) ----------------------


def keys(conn: Connection, spec: QueueSpec) -> list[int]:
    """The keys (accounts) that have rows waiting, due or not."""
    return keys_later(conn, spec)()


def keys_later(conn: Connection, spec: QueueSpec) -> Callable[[], list[int]]:
    """`keys`, read after a `conn.batch()` block: sent with the claim's other first reads, one round trip."""
    rows = conn.later(_keys_sql(spec), (spec.ready, spec.ready))
    return lambda: [int(row[0]) for row in rows()]


def claim(
    conn: Connection,
    spec: QueueSpec,
    owner: str,
    now: int,
    lease_until: int,
    wanted: Mapping[int, int],
    record: Callable[..., R] = Claimed,  # type: ignore[assignment]
    returning: str | None = None,
) -> list[R]:
    """Claim up to `wanted[key]` due rows of each key, in the spec's order within a key; rows come back as
    `record`s, key by key in the order of `wanted`: `Claimed` by default, else the kind's record of the
    columns `returning` names (each named as a field of `record`)."""
    sql = _claim_sql(spec, conn.dialect, returning or f"id, {spec.key} AS account_id")
    third = lease_until if spec.keeps_status else spec.claimed
    claimed: list[R] = []
    for key, limit in wanted.items():
        if limit > 0:
            claimed.extend(conn.records(record, sql, (owner, lease_until, third, spec.ready, key, now, limit)))
    return claimed


def claim_fair(
    conn: Connection,
    spec: QueueSpec,
    owner: str,
    now: int,
    lease_until: int,
    want: Want,
    record: Callable[..., R] = Claimed,  # type: ignore[assignment]
    returning: str | None = None,
    waiting: Sequence[int] | None = None,
) -> list[R]:
    """Find the keys with waiting rows and claim each one's share, in one transaction (so a claim made after a
    wake-up sees everything committed before it, with no separate read that could run ahead of the commit).
    `waiting`: those keys, read by the caller in this transaction already (`keys_later`).

    The total is counted on what each key really gave: a key whose rows are all held or not yet due costs one
    index probe and leaves its share to the next ones."""
    left = want.total
    claimed: list[R] = []
    for key, room in want.order(keys(conn, spec) if waiting is None else waiting):
        share = room if left is None else min(room, left)
        got = claim(conn, spec, owner, now, lease_until, {key: share}, record, returning)
        claimed.extend(got)
        if left is not None:
            left -= len(got)
            if left <= 0:
                break
    return claimed


def renew(conn: Connection, spec: QueueSpec, owner: str, ids: Sequence[int], lease_until: int) -> int:
    """Extend the owner's lease on rows it still holds; returns how many it still held."""
    due = f", {spec.due} = ?" if spec.keeps_status else ""
    extra = (lease_until,) if spec.keeps_status else ()
    renewed = 0
    for chunk in _chunks(ids):
        marks = ", ".join("?" for _ in chunk)
        cursor = conn.execute(
            f"UPDATE {spec.table} SET lease_until = ?{due} WHERE {HELD} AND id IN ({marks})",  # noqa: S608
            (lease_until, *extra, spec.claimed, owner, *chunk),
        )
        renewed += max(cursor.rowcount, 0)
    return renewed


def release(conn: Connection, spec: QueueSpec, owner: str, ids: Sequence[int], now: int) -> int:
    """Give back rows claimed but not worked on (a clean stop): claimable at once by anyone, and the attempt
    counted at claim (if the spec counts there) is given back."""
    sets = "claimed_by = NULL, lease_until = NULL"
    params: tuple[Any, ...] = ()
    if spec.keeps_status:
        sets += f", {spec.due} = ?"
        params = (now,)
    else:
        sets += ", status = ?"
        params = (spec.ready,)
    if spec.count_on_claim:
        sets += ", attempts = attempts - 1"
    released = 0
    for chunk in _chunks(ids):
        marks = ", ".join("?" for _ in chunk)
        cursor = conn.execute(
            f"UPDATE {spec.table} SET {sets} WHERE {HELD} AND id IN ({marks})",  # noqa: S608
            (*params, spec.claimed, owner, *chunk),
        )
        released += max(cursor.rowcount, 0)
    if released:
        notify(conn, spec)  # claimable at once: the other hosts need not wait for their poll
    return released


def take_over_expired(conn: Connection, spec: QueueSpec, now: int, owner: str) -> int:
    """Rows whose lease ran out (their process died or hung) become claimable again; never the caller's own,
    which it still holds and renews (a wall clock that jumped must not make it send them twice)."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    params: tuple[str, ...]
    if spec.keeps_status:  # already due again (due == lease end): only the stale owner is cleared
        where, sets, params = f"{spec.due} <= ? AND claimed_by IS NOT NULL", "", ()
    else:
        where, sets, params = "lease_until <= ?", ", status = ?", (spec.ready,)
    cursor = conn.execute(
        f"UPDATE {spec.table} SET claimed_by = NULL, lease_until = NULL{sets} WHERE id IN ("  # noqa: S608
        f" SELECT id FROM {spec.table} WHERE status = ? AND {where} AND claimed_by <> ?{lock})",
        (*params, spec.claimed, now, owner),
    )
    return max(cursor.rowcount, 0)


def owners(conn: Connection, spec: QueueSpec) -> list[str]:
    """The owners holding rows of this kind now (on the queue's status index: the held rows only)."""
    return [str(row[0]) for row in conn.fetchall(
        f"SELECT DISTINCT claimed_by FROM {spec.table} WHERE status = ? AND claimed_by IS NOT NULL",  # noqa: S608
        (spec.claimed,),
    )]  # fmt: skip


def take_over_from(conn: Connection, spec: QueueSpec, dead: Sequence[str], now: int) -> int:
    """`take_over_expired` for the rows of owners known to be dead, whatever their lease: claimable at once (and
    the other hosts told)."""
    if not dead:
        return 0
    sets, params = (f", {spec.due} = ?", (now,)) if spec.keeps_status else (", status = ?", (spec.ready,))
    cursor = conn.execute(
        f"UPDATE {spec.table} SET claimed_by = NULL, lease_until = NULL{sets} "  # noqa: S608
        f"WHERE status = ? AND {conn.in_list('claimed_by')}",
        (*params, spec.claimed, conn.list_param(dead)),
    )
    taken = max(cursor.rowcount, 0)
    if taken:
        notify(conn, spec)
    return taken


def settle(
    conn: Connection,
    spec: QueueSpec,
    owner: str,
    ids: Sequence[int],
    status: str,
    *,
    due: int | None = None,
    columns: Mapping[str, Any] | None = None,
    count_attempt: bool = False,
    returning: str = "id",
) -> list[tuple[Any, ...]]:
    """End the owner's lease on `ids` with a new status: done or failed for good (a final status), or ready
    again at `due` (a retry). `columns` are the kind's own columns set in the same statement; `count_attempt`
    adds the attempt there (kinds that count at record time). Rows no longer held by the owner (their lease
    expired and another process took them) are left alone: returns `returning` of the rows settled."""
    values = dict(columns or {})
    if due is not None:
        values[spec.due] = due
    for column in values:
        if not _IDENTIFIER.fullmatch(column):
            raise ValueError(f"not a column name: {column!r}")
    sets = "".join(f", {column} = ?" for column in values)
    if count_attempt:
        sets += ", attempts = attempts + 1"
    settled: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids):
        marks = ", ".join("?" for _ in chunk)
        settled.extend(
            conn.fetchall(
                f"UPDATE {spec.table} SET status = ?, claimed_by = NULL, lease_until = NULL{sets} "  # noqa: S608
                f"WHERE {HELD} AND id IN ({marks}) RETURNING {returning}",
                (status, *values.values(), spec.claimed, owner, *chunk),
            )
        )
    return settled


def settle_rows(
    conn: Connection,
    spec: QueueSpec,
    owner: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> Callable[[], set[int]]:
    """`settle` for many rows, each with its own status and values, in one statement: `rows` are (id, status,
    *values of `columns`), columns given as (name, PostgreSQL type). The result gives the ids the owner still
    held (call it after the `Connection.batch` the statement may be sent in)."""
    if not rows:
        return set
    for column, _ in columns:
        if not _IDENTIFIER.fullmatch(column):
            raise ValueError(f"not a column name: {column!r}")
    shape = (("id", "bigint"), ("status", "text"), *columns)
    sets = "".join(f", {column} = v.{column}" for column, _ in columns)
    t = spec.table
    found = conn.later(
        f"UPDATE {t} SET status = v.status, claimed_by = NULL, lease_until = NULL{sets} "  # noqa: S608
        f"FROM {conn.rows_source('v', shape)} WHERE {t}.id = v.id AND {conn.unindexed(f'{t}.status')} = ? "
        f"AND {t}.claimed_by = ? "
        f"RETURNING {t}.id",
        (*conn.rows_params(rows, len(shape)), spec.claimed, owner),
    )
    return lambda: {int(r[0]) for r in found()}


def settle_one(conn: Connection, spec: QueueSpec, owner: str, row_id: int, status: str, **kwargs: Any) -> bool:
    """`settle` for one row: True if the owner still held it."""
    return bool(settle(conn, spec, owner, [row_id], status, **kwargs))


#: how `settle_unrecordable` counts, in the row's error column, the times in a row its result was not recorded
#: (no column of its own: any other outcome written meanwhile overwrites the error, and the count starts again)
UNRECORDED = re.compile(r"failed to record (\d+) times?: ")


def settle_unrecordable(
    conn: Connection, spec: QueueSpec, owner: str, row_id: int, due: int, reason: str, *, tries: int,
    failed_columns: Mapping[str, Any] | None = None,
) -> str | None:  # fmt: skip
    """A held row whose result could not be recorded: ready again at `due` with the reason, its attempt counted
    (a push was POSTed; a message's was counted at claim), or, the `tries`-th time in a row, failed for good
    (with `failed_columns` too), so that a result no code path can record is not attempted forever. Returns the
    status set, or None when the owner no longer held the row."""
    held = conn.fetchone(
        f"SELECT {spec.error} FROM {spec.table} WHERE id = ? AND {HELD}",  # noqa: S608
        (row_id, spec.claimed, owner),
    )
    if held is None:
        return None
    counted = UNRECORDED.match(held[0] or "")
    times = int(counted[1]) + 1 if counted else 1
    text = f"failed to record {times} time{'s' if times > 1 else ''}: {reason}"[:200]
    count_attempt = not spec.count_on_claim
    if times < tries:
        settle_one(conn, spec, owner, row_id, spec.ready, due=due, columns={spec.error: text},
                   count_attempt=count_attempt)  # fmt: skip
        return spec.ready
    columns = {**(failed_columns or {}), spec.error: text}
    settle_one(conn, spec, owner, row_id, spec.failed, columns=columns, count_attempt=count_attempt)
    return spec.failed


# --- wake-ups ----------------------------------------------------------------------------------------------

_subscribers: dict[str, list[Callable[[], None]]] = {}
_channels: weakref.WeakKeyDictionary[Connection, dict[str, str]] = weakref.WeakKeyDictionary()
_subscribers_lock = threading.Lock()


def notify(conn: Connection, spec: QueueSpec) -> None:
    """New work of this kind may be due once the current transaction commits: wake the workers."""
    if conn.dialect == "postgresql":
        conn.execute("SELECT pg_notify(?, '')", (channel(conn, spec),))
        return
    with _subscribers_lock:
        callbacks = list(_subscribers.get(spec.name, ()))
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a wake-up must never fail the write that made work due (e.g. its loop is closed)
            log.debug("a %s wake-up callback failed", spec.name, exc_info=True)


def channel(conn: Connection, spec: QueueSpec) -> str:
    """The NOTIFY channel of this kind in this connection's schema, computed once per connection rather than
    in every statement that notifies."""
    known = _channels.setdefault(conn, {})
    name = known.get(spec.name)
    if name is None:
        row = conn.fetchone(f"SELECT {CHANNEL_SQL}", (spec.name,))
        assert row is not None
        name = known[spec.name] = str(row[0])
    return name


def insert_notifying(conn: Connection, spec: QueueSpec, insert: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run `insert` (an INSERT ... RETURNING of one row) and `notify` for its kind: one statement on
    PostgreSQL (a round trip saved on every push owed); returns the inserted row's RETURNING values."""
    if conn.dialect != "postgresql":
        row = conn.fetchone(insert, params)
        notify(conn, spec)
        return row
    row = conn.fetchone(
        f"WITH made AS ({insert}) SELECT made.*, pg_notify(?, '') FROM made",  # noqa: S608
        (*params, channel(conn, spec)),
    )
    return None if row is None else row[:-1]


def on_notify(spec: QueueSpec, callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` (from the writing thread: it must be thread-safe) when this process notifies work of
    this kind on SQLite. Returns the function that unsubscribes it."""
    with _subscribers_lock:
        _subscribers.setdefault(spec.name, []).append(callback)

    def unsubscribe() -> None:
        with _subscribers_lock:
            callbacks = _subscribers.get(spec.name, [])
            if callback in callbacks:
                callbacks.remove(callback)

    return unsubscribe


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK)]
