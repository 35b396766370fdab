"""Every SQL statement of the push worker: claiming due pushes under a lease, recording each attempt, and the
operator's list, retry and URL settings. Written once for SQLite and PostgreSQL, all parameterised.

A claimed row stays 'pending' but gets `claimed_by`, `lease_until`, and `next_attempt_at = lease_until`: a
crashed worker's claims become due again by themselves when the lease runs out, with no sweeper. The claim
UPDATE re-checks `status` and `next_attempt_at` on the row it changes, so on PostgreSQL a racing worker that
waited for the first one's commit finds the row no longer due and skips it; SQLite's writer holds the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from octogate.store.callbacks import URL_COLUMN
from octogate.store.db import Connection
from octogate.store.records import UnknownAccount

ID_CHUNK = 500
KINDS = tuple(URL_COLUMN)

# A loose index scan over callbacks_pending: one probe per account with pending pushes, not one per push.
PENDING_ACCOUNTS = (
    "WITH RECURSIVE pending(account_id) AS ("
    " SELECT MIN(account_id) FROM callbacks WHERE status = 'pending'"
    " UNION ALL"
    " SELECT (SELECT MIN(c.account_id) FROM callbacks c WHERE c.status = 'pending' AND c.account_id > p.account_id)"
    " FROM pending p WHERE p.account_id IS NOT NULL"
    ") SELECT account_id FROM pending WHERE account_id IS NOT NULL"
)
CLAIM = (
    "UPDATE callbacks SET claimed_by = ?, lease_until = ?, next_attempt_at = ? "
    "WHERE status = 'pending' AND next_attempt_at <= ? AND id IN ("
    " SELECT id FROM callbacks WHERE status = 'pending' AND account_id = ? AND next_attempt_at <= ?"
    " ORDER BY next_attempt_at, id LIMIT ?"
    ") RETURNING id, kind, payload, attempts, COALESCE(horizon_from, created_at)"
)
ACCOUNT_URLS = "SELECT receipt_url, stop_url, reply_url FROM accounts WHERE id = ?"
DELIVERED = (
    "UPDATE callbacks SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL, "
    "claimed_by = NULL, lease_until = NULL WHERE status = 'pending' AND claimed_by = ? AND id IN ({marks}) "
    "RETURNING id, attempts"
)
NOT_DELIVERED = (
    "UPDATE callbacks SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
    "claimed_by = NULL, lease_until = NULL WHERE status = 'pending' AND claimed_by = ? AND id = ? "
    "RETURNING attempts"
)
OUTBOX = (
    "SELECT c.id, c.kind, a.login, c.status, c.attempts, c.next_attempt_at, c.created_at, c.last_error "
    "FROM callbacks c JOIN accounts a ON a.id = c.account_id WHERE c.status IN (?, ?) {account}"
    "ORDER BY c.id LIMIT ?"
)
ATTEMPT_COLUMNS = ("callback_id", "attempt", "attempted_at", "status_code", "error")


@dataclass(frozen=True, slots=True)
class ClaimedPush:
    """A push this process holds under its lease, with the URL read from the account now."""

    id: int
    account_id: int
    kind: str
    payload: str  # form-encoded, UTF-8, exactly as enqueued
    attempts: int  # made before this one
    horizon_from: int  # retries stop this long after it (created_at, or the operator's last retry)
    url: str | None


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one attempt gave. status: 'delivered', 'pending' (again at `next_attempt_at`) or 'failed'."""

    id: int
    status: str
    attempted_at: int
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: int | None = None


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


def pending_accounts(conn: Connection) -> list[int]:
    return [int(row[0]) for row in conn.fetchall(PENDING_ACCOUNTS)]


def claim(
    conn: Connection, owner: str, now: int, lease_until: int, wanted: dict[int, int]
) -> list[ClaimedPush]:
    """Claim up to `wanted[account_id]` due pushes of each account, oldest due first."""
    claimed: list[ClaimedPush] = []
    for account_id, limit in wanted.items():
        if limit <= 0:
            continue
        rows = conn.fetchall(CLAIM, (owner, lease_until, lease_until, now, account_id, now, limit))
        if not rows:
            continue
        urls = conn.fetchone(ACCOUNT_URLS, (account_id,)) or (None, None, None)
        by_kind = dict(zip(KINDS, urls, strict=True))
        rows.sort(key=lambda r: int(r[0]))
        claimed.extend(
            ClaimedPush(
                id=int(r[0]), account_id=account_id, kind=r[1], payload=r[2], attempts=int(r[3]),
                horizon_from=int(r[4]), url=by_kind.get(r[1]),
            )
            for r in rows
        )  # fmt: skip
    return claimed


def renew(conn: Connection, owner: str, ids: Sequence[int], lease_until: int) -> int:
    """Extend this process's lease on pushes it still holds; returns how many it still held."""
    renewed = 0
    for chunk in _chunks(ids):
        marks = ", ".join("?" for _ in chunk)
        cursor = conn.execute(
            "UPDATE callbacks SET lease_until = ?, next_attempt_at = ? WHERE status = 'pending' "  # noqa: S608
            f"AND claimed_by = ? AND id IN ({marks})",
            (lease_until, lease_until, owner, *chunk),
        )
        renewed += max(cursor.rowcount, 0)
    return renewed


def release(conn: Connection, owner: str, ids: Sequence[int], now: int) -> int:
    """Give back pushes claimed but not attempted (a clean stop): due at once for whoever comes next."""
    released = 0
    for chunk in _chunks(ids):
        marks = ", ".join("?" for _ in chunk)
        cursor = conn.execute(
            "UPDATE callbacks SET next_attempt_at = ?, claimed_by = NULL, lease_until = NULL "  # noqa: S608
            f"WHERE status = 'pending' AND claimed_by = ? AND id IN ({marks})",
            (now, owner, *chunk),
        )
        released += max(cursor.rowcount, 0)
    return released


def record(conn: Connection, owner: str, results: Sequence[PushResult]) -> list[int]:
    """Store attempts and their outcome; returns the ids whose claim had been lost meanwhile (not recorded).

    Deliveries go many rows per statement (the common case under load); each other outcome alone.
    """
    recorded: set[int] = set()
    attempts: list[tuple[int, int, int, int | None, str | None]] = []
    delivered = [r for r in results if r.status == "delivered"]
    by_id = {r.id: r for r in delivered}
    for chunk in _chunks([r.id for r in delivered]):
        marks = ", ".join("?" for _ in chunk)
        when = max(by_id[i].attempted_at for i in chunk)
        for row_id, attempt in conn.fetchall(DELIVERED.format(marks=marks), (when, owner, *chunk)):
            result = by_id[int(row_id)]
            recorded.add(result.id)
            attempts.append((result.id, int(attempt), result.attempted_at, result.status_code, None))
    for result in results:
        if result.status == "delivered":
            continue
        row = conn.fetchone(
            NOT_DELIVERED,
            (result.status, result.next_attempt_at or result.attempted_at, result.error, owner, result.id),
        )
        if row is not None:
            recorded.add(result.id)
            attempts.append((result.id, int(row[0]), result.attempted_at, result.status_code, result.error))
    if attempts:
        conn.bulk_insert("callback_attempts", ATTEMPT_COLUMNS, attempts)
    return [r.id for r in results if r.id not in recorded]


# --- the operator --------------------------------------------------------------------------------------------


def outbox(conn: Connection, failed_only: bool, login: str | None, limit: int) -> list[OutboxRow]:
    """Pending and failed pushes (or failed only), oldest first, optionally of one account."""
    statuses = ("failed", "failed") if failed_only else ("pending", "failed")
    if login is None:
        rows = conn.fetchall(OUTBOX.format(account=""), (*statuses, limit))
    else:
        rows = conn.fetchall(OUTBOX.format(account="AND a.login = ? "), (*statuses, login, limit))
    return [OutboxRow(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), r[7]) for r in rows]


def retry(conn: Connection, callback_id: int | None, now: int) -> int:
    """Make a push (or, with None, every failed push) due now, with a fresh retry horizon.

    A pending push another process holds is left alone: making it due would let it go out twice.
    """
    if callback_id is None:
        cursor = conn.execute(
            "UPDATE callbacks SET status = 'pending', next_attempt_at = ?, horizon_from = ? "
            "WHERE status = 'failed'",
            (now, now),
        )
    else:
        cursor = conn.execute(
            "UPDATE callbacks SET status = 'pending', next_attempt_at = ?, horizon_from = ? WHERE id = ? "
            "AND (status = 'failed' OR (status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)))",
            (now, now, callback_id, now),
        )
    return max(cursor.rowcount, 0)


def attempts(conn: Connection, callback_id: int) -> list[tuple[int, int, int | None, str | None]]:
    """(attempt, attempted_at, status_code, error) of one push, in order."""
    rows = conn.fetchall(
        "SELECT attempt, attempted_at, status_code, error FROM callback_attempts WHERE callback_id = ? "
        "ORDER BY attempt",
        (callback_id,),
    )
    return [(int(r[0]), int(r[1]), r[2], r[3]) for r in rows]


def set_urls(conn: Connection, login: str, urls: dict[str, str | None]) -> tuple[str | None, ...]:
    """Set (a URL) or clear (None) some of an account's push URLs; returns (receipt, stop, reply) after."""
    found = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (login,))
    if found is None:
        raise UnknownAccount(login)
    for kind, url in urls.items():
        column = URL_COLUMN[kind]  # a fixed column name, never the caller's text
        conn.execute(f"UPDATE accounts SET {column} = ? WHERE id = ?", (url, found[0]))  # noqa: S608
    return account_urls(conn, login)


def account_urls(conn: Connection, login: str) -> tuple[str | None, ...]:
    row = conn.fetchone("SELECT receipt_url, stop_url, reply_url FROM accounts WHERE login = ?", (login,))
    if row is None:
        raise UnknownAccount(login)
    return tuple(row)


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK)]
