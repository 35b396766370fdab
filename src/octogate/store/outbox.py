"""The push outbox's own SQL: the account's URL read with each claimed push, each attempt recorded, and the
operator's list, retry and URL settings. The leasing itself is the queue's (`octogate.store.queue`, spec
`PUSHES`): a claimed row stays 'pending' with its due time moved to the lease end, so a crashed worker's claims
come due again by themselves. Written once for SQLite and PostgreSQL, all parameterised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from octogate.frozen import quick_init
from octogate.statuses import PushStatus
from octogate.store import queue
from octogate.store.callbacks import URL_COLUMN
from octogate.store.db import Connection
from octogate.store.queue import PUSHES, Want
from octogate.store.records import UnknownAccount

KINDS = tuple(URL_COLUMN)
PUSH_COLUMNS = (
    "id, account_id, kind, payload, attempts - round_from AS attempts, "
    "COALESCE(horizon_from, created_at) AS horizon_from"
)
ACCOUNT_URLS = f"SELECT {', '.join(URL_COLUMN.values())} FROM accounts WHERE id = ?"  # noqa: S608 - fixed columns
URLS_BY_LOGIN = f"SELECT {', '.join(URL_COLUMN.values())} FROM accounts WHERE login = ?"  # noqa: S608 - fixed columns
OUTBOX = (
    "SELECT c.id, c.kind, a.login, c.status, c.attempts, c.next_attempt_at, c.created_at, c.last_error "
    "FROM callbacks c JOIN accounts a ON a.id = c.account_id WHERE c.status IN (?, ?) {account}"
    "ORDER BY c.id LIMIT ?"
)
ATTEMPT_COLUMNS = ("callback_id", "attempt", "attempted_at", "status_code", "error")


@quick_init
@dataclass(frozen=True, slots=True)
class ClaimedPush:
    """A push this process holds under its lease, with the URL read from the account now."""

    id: int
    account_id: int
    kind: str
    payload: str  # form-encoded, UTF-8, exactly as enqueued
    attempts: int  # made before this one in this round (since it was owed, or the operator's last retry)
    horizon_from: int  # retries stop this long after it (created_at, or the operator's last retry)
    url: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class PushResult:
    """What one attempt gave: delivered, pending (again at `next_attempt_at`) or failed."""

    id: int
    status: PushStatus
    attempted_at: int
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: int | None = None


@dataclass(frozen=True, slots=True)
class PushAttempt:
    """One attempt at a push (the customer's console lists them)."""

    attempt: int  # 1, 2, ... in order
    attempted_at: int
    status_code: int | None  # the receiver's HTTP status; None when no answer came
    error: str | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    kind: str
    login: str
    status: str
    attempts: int
    next_attempt_at: int
    created_at: int
    last_error: str | None


# --- the worker ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PushRow:
    id: int
    account_id: int
    kind: str
    payload: str
    attempts: int
    horizon_from: int


def claim(
    conn: Connection, owner: str, now: int, lease_until: int, wanted: dict[int, int]
) -> list[ClaimedPush]:
    """Claim up to `wanted[account_id]` due pushes of each account, oldest due first."""
    return _with_urls(conn, queue.claim(conn, PUSHES, owner, now, lease_until, wanted, _PushRow, PUSH_COLUMNS))


def claim_fair(conn: Connection, owner: str, now: int, lease_until: int, want: Want) -> list[ClaimedPush]:
    """The accounts with pending pushes, and each one's share claimed, in one transaction."""
    return _with_urls(conn, queue.claim_fair(conn, PUSHES, owner, now, lease_until, want, _PushRow, PUSH_COLUMNS))


def _with_urls(conn: Connection, rows: list[_PushRow]) -> list[ClaimedPush]:
    """Each push with its account's URL for its kind, read now (a corrected URL takes effect at once)."""
    urls: dict[int, dict[str, str | None]] = {}
    claimed = []
    for r in sorted(rows, key=lambda r: (r.account_id, r.id)):
        if r.account_id not in urls:
            found = conn.fetchone(ACCOUNT_URLS, (r.account_id,)) or (None,) * len(KINDS)
            urls[r.account_id] = dict(zip(KINDS, found, strict=True))
        claimed.append(
            ClaimedPush(
                id=int(r.id), account_id=int(r.account_id), kind=r.kind, payload=r.payload,
                attempts=int(r.attempts), horizon_from=int(r.horizon_from), url=urls[r.account_id].get(r.kind),
            )
        )  # fmt: skip
    return claimed


DELIVERED = (
    "UPDATE callbacks SET status = ?, claimed_by = NULL, lease_until = NULL, delivered_at = ?, last_error = NULL, "
    "delivered_code = ?, attempts = attempts + 1 WHERE {ids} AND {status} = ? AND claimed_by = ? RETURNING id"
)


def record(conn: Connection, owner: str, results: Sequence[PushResult], now: int = 0) -> list[int]:
    """Store attempts and their outcome; returns the ids whose claim had been lost meanwhile (not recorded).

    Deliveries go in one statement per HTTP status (one under load: all 200), the attempt in the push's own row
    (`attempts` reads it back); each other outcome alone, with its attempt's row.
    """
    recorded: set[int] = set()
    attempts: list[tuple[int, int, int, int | None, str | None]] = []
    delivered: dict[int | None, list[PushResult]] = {}
    for result in results:
        if result.status == PushStatus.DELIVERED:
            delivered.setdefault(result.status_code, []).append(result)
    # SQLite: its `+status` leaves the plan to the primary key (PostgreSQL's `id = ANY(?)` needs no hint)
    statement = DELIVERED.format(ids=conn.in_list("id"), status=conn.unindexed("status"))
    for code, group in delivered.items():
        when = max(r.attempted_at for r in group)
        params = (PushStatus.DELIVERED, when, code, conn.list_param([r.id for r in group]), PUSHES.claimed, owner)
        recorded.update(int(row[0]) for row in conn.fetchall(statement, params))
    for result in results:
        if result.status == PushStatus.DELIVERED:
            continue
        settled = queue.settle(
            conn, PUSHES, owner, [result.id], result.status,
            due=result.next_attempt_at or result.attempted_at, columns={"last_error": result.error},
            count_attempt=True, returning="attempts",
        )  # fmt: skip
        if settled:
            recorded.add(result.id)
            attempts.append((result.id, int(settled[0][0]), result.attempted_at, result.status_code, result.error))
    if attempts:
        conn.bulk_insert("callback_attempts", ATTEMPT_COLUMNS, attempts)
    return [r.id for r in results if r.id not in recorded]


# --- the operator --------------------------------------------------------------------------------------------


def outbox(conn: Connection, failed_only: bool, login: str | None, limit: int) -> list[OutboxRow]:
    """Pending and failed pushes (or failed only), oldest first, optionally of one account."""
    statuses = (PushStatus.FAILED, PushStatus.FAILED) if failed_only else (PushStatus.PENDING, PushStatus.FAILED)
    if login is None:
        rows = conn.fetchall(OUTBOX.format(account=""), (*statuses, limit))
    else:
        rows = conn.fetchall(OUTBOX.format(account="AND a.login = ? "), (*statuses, login, limit))
    return [OutboxRow(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), r[7]) for r in rows]


def retry(conn: Connection, callback_id: int | None, now: int) -> int:
    """Make a push (or, with None, every failed push) due now, with a fresh retry horizon and a new round of
    backoff (its next failure waits the first delay again, not the longest).

    A pending push another process holds is left alone: making it due would let it go out twice.
    """
    pending, failed = PushStatus.PENDING, PushStatus.FAILED
    if callback_id is None:
        cursor = conn.execute(
            "UPDATE callbacks SET status = ?, next_attempt_at = ?, horizon_from = ?, round_from = attempts "
            "WHERE status = ?",
            (pending, now, now, failed),
        )
    else:
        cursor = conn.execute(
            "UPDATE callbacks SET status = ?, next_attempt_at = ?, horizon_from = ?, round_from = attempts "
            "WHERE id = ? "
            "AND (status = ? OR (status = ? AND (lease_until IS NULL OR lease_until <= ?)))",
            (pending, now, now, callback_id, failed, pending, now),
        )
    if cursor.rowcount:
        queue.notify(conn, PUSHES)  # the operator's retry goes out now, from whichever host claims first
    return max(cursor.rowcount, 0)


def attempts(conn: Connection, callback_id: int) -> list[PushAttempt]:
    """Every attempt of one push, in order: the failed ones' rows, then the delivering one read from the push."""
    return conn.records(
        PushAttempt,
        "SELECT attempt, attempted_at, status_code, error FROM callback_attempts WHERE callback_id = ? "
        "UNION ALL SELECT attempts, delivered_at, delivered_code, NULL FROM callbacks "
        "WHERE id = ? AND delivered_code IS NOT NULL ORDER BY 1",
        (callback_id, callback_id),
    )


def set_urls(conn: Connection, login: str, urls: dict[str, str | None]) -> dict[str, str | None]:
    """Set (a URL) or clear (None) some of an account's push URLs (1.6.1 and REST); returns them all after."""
    found = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (login,))
    if found is None:
        raise UnknownAccount(login)
    for kind, url in urls.items():
        column = URL_COLUMN[kind]  # a fixed column name, never the caller's text
        conn.execute(f"UPDATE accounts SET {column} = ? WHERE id = ?", (url, found[0]))  # noqa: S608
    return account_urls(conn, login)


def account_urls(conn: Connection, login: str) -> dict[str, str | None]:
    """Every push URL of the account, by kind (receipt, stop, reply, then the REST API's rest_…)."""
    row = conn.fetchone(URLS_BY_LOGIN, (login,))
    if row is None:
        raise UnknownAccount(login)
    return dict(zip(KINDS, row, strict=True))


# --- the per-host limit across hosts -------------------------------------------------------------------------

TAKE_SLOTS = (
    "UPDATE push_slots SET claimed_by = ?, lease_until = ? WHERE host = ? AND slot IN ("
    " SELECT slot FROM push_slots WHERE host = ? AND slot < ? AND (claimed_by IS NULL OR lease_until <= ?)"
    " ORDER BY slot LIMIT ?{lock}) RETURNING slot"
)


def take_host_slots(
    conn: Connection, owner: str, wanted: dict[str, int], per_host: int, now: int, lease_until: int
) -> dict[str, int]:
    """Lease up to `wanted[host]` more free slots of each host (of `per_host` per host); returns how many each
    host gave. A host's slots are numbered 0..per_host-1, made on first use."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    taken: dict[str, int] = {}
    for host, count in wanted.items():
        if count <= 0:
            continue
        conn.executemany(
            "INSERT INTO push_slots (host, slot) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(host, slot) for slot in range(per_host)],
        )
        rows = conn.fetchall(
            TAKE_SLOTS.format(lock=lock), (owner, lease_until, host, host, per_host, now, count)
        )
        taken[host] = len(rows)
    return taken


def renew_host_slots(conn: Connection, owner: str, lease_until: int) -> int:
    cursor = conn.execute("UPDATE push_slots SET lease_until = ? WHERE claimed_by = ?", (lease_until, owner))
    return max(cursor.rowcount, 0)


def give_host_slots(conn: Connection, owner: str, counts: dict[str, int]) -> int:
    """Give back `counts[host]` of the slots the owner holds on each host."""
    given = 0
    for host, count in counts.items():
        cursor = conn.execute(
            "UPDATE push_slots SET claimed_by = NULL, lease_until = NULL WHERE host = ? AND slot IN ("
            " SELECT slot FROM push_slots WHERE host = ? AND claimed_by = ? ORDER BY slot DESC LIMIT ?)",
            (host, host, owner, count),
        )
        given += max(cursor.rowcount, 0)
    return given


def host_slots(conn: Connection, now: int) -> dict[str, int]:
    """Slots leased now, per host (operators, tests)."""
    rows = conn.fetchall(
        "SELECT host, COUNT(*) FROM push_slots WHERE claimed_by IS NOT NULL AND lease_until > ? GROUP BY host",
        (now,),
    )
    return {row[0]: int(row[1]) for row in rows}
