"""Every SQL statement of delivery: claiming due messages under a lease, and recording what the SMSC said.

Written once for SQLite and PostgreSQL, run inside the group-commit writer's savepoints. A claim is an UPDATE
that re-checks `status = 'queued'` on the row it changes: on PostgreSQL a second process racing for the same
rows waits for the first one's commit, then finds them no longer queued and skips them (no double claim); on
SQLite the writer holds the database's write lock for the whole transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from octogate.statuses import MessageStatus
from octogate.store.db import Connection

ID_CHUNK = 500  # ids per IN (...) list: bounded statements

# A loose index scan: the accounts that have queued messages, one index probe per account (not per message).
QUEUED_ACCOUNTS = (
    "WITH RECURSIVE queued(account_id) AS ("
    " SELECT MIN(account_id) FROM messages WHERE status = 'queued'"
    " UNION ALL"
    " SELECT (SELECT MIN(m.account_id) FROM messages m WHERE m.status = 'queued' AND m.account_id > q.account_id)"
    " FROM queued q WHERE q.account_id IS NOT NULL"
    ") SELECT account_id FROM queued WHERE account_id IS NOT NULL"
)
CLAIM = (
    "UPDATE messages SET status = 'sending', attempts = attempts + 1, claimed_by = ?, lease_until = ? "
    "WHERE status = 'queued' AND id IN ("
    " SELECT id FROM messages WHERE status = 'queued' AND account_id = ? AND send_at <= ?"
    " ORDER BY priority, send_at, id LIMIT ?"
    ") RETURNING id"
)
CLAIMED_DETAILS = (
    "SELECT m.id, m.account_id, m.campaign_id, m.recipient, m.calling_code, COALESCE(m.text, c.text), "
    "m.priority, m.send_at, m.attempts, c.sms_type, c.sender, c.sender_is_msisdn "
    "FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE m.id IN ({marks})"
)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message this process holds under its lease, with what it takes to send it."""

    id: int
    account_id: int
    campaign_id: int
    recipient: str  # +E.164
    calling_code: int
    text: str
    priority: int  # 0 transactional, 1 marketing
    send_at: int
    attempts: int  # including this one
    sms_type: str
    sender: str | None
    sender_is_msisdn: bool
    #: parts the SMSC already accepted in an earlier attempt: seq -> carrier id (not to be sent again)
    done_parts: dict[int, str] = field(default_factory=dict)
    #: the connector those parts went to (the rest must follow on the same one, same segmentation)
    done_connector: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptedPart:
    seq: int
    carrier_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed message.

    status: 'submitted' (every part accepted), 'failed' (refused for good: `receipt_status` says why) or
    'queued' (a transient failure: tried again at `send_at`). `parts` are the parts accepted by this attempt.
    """

    message_id: int
    status: str
    connector: str | None
    parts: tuple[AcceptedPart, ...] = ()
    total_parts: int | None = None
    receipt_status: str | None = None
    error: str | None = None
    send_at: int | None = None


def queued_accounts(conn: Connection) -> list[int]:
    return [int(row[0]) for row in conn.fetchall(QUEUED_ACCOUNTS)]


def claim(
    conn: Connection, owner: str, now: int, lease_until: int, wanted: dict[int, int]
) -> list[ClaimedMessage]:
    """Claim up to `wanted[account_id]` due messages of each account; returns them in dispatch order.

    `wanted` may name accounts with nothing due: they cost one indexed probe and give nothing.
    """
    ids: list[int] = []
    for account_id, limit in wanted.items():
        if limit > 0:
            rows = conn.fetchall(CLAIM, (owner, lease_until, account_id, now, limit))
            ids.extend(int(row[0]) for row in rows)
    return claimed_details(conn, ids)


def claimed_details(conn: Connection, ids: Sequence[int]) -> list[ClaimedMessage]:
    found: list[ClaimedMessage] = []
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.fetchall(CLAIMED_DETAILS.format(marks=marks), chunk)
        done = _done_parts(conn, chunk, marks)
        for r in rows:
            parts, connector = done.get(int(r[0]), ({}, None))
            found.append(
                ClaimedMessage(
                    id=int(r[0]), account_id=int(r[1]), campaign_id=int(r[2]), recipient=r[3],
                    calling_code=int(r[4]), text=r[5], priority=int(r[6]), send_at=int(r[7]),
                    attempts=int(r[8]), sms_type=r[9], sender=r[10], sender_is_msisdn=bool(r[11]),
                    done_parts=parts, done_connector=connector,
                )
            )  # fmt: skip
    found.sort(key=lambda m: (m.priority, m.send_at, m.id))
    return found


def _done_parts(
    conn: Connection, ids: Sequence[int], marks: str
) -> dict[int, tuple[dict[int, str], str | None]]:
    rows = conn.fetchall(
        f"SELECT message_id, seq, connector, carrier_id FROM message_parts "  # noqa: S608
        f"WHERE status <> 'failed' AND message_id IN ({marks})",  # a part with a receipt was accepted too
        ids,
    )
    done: dict[int, tuple[dict[int, str], str | None]] = {}
    for message_id, seq, connector, carrier_id in rows:
        parts, _ = done.setdefault(int(message_id), ({}, connector))
        parts[int(seq)] = carrier_id or ""
    return done


def renew(conn: Connection, owner: str, ids: Sequence[int], lease_until: int) -> int:
    """Extend this process's lease on messages it still holds; returns how many it still held."""
    renewed = 0
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        cursor = conn.execute(
            f"UPDATE messages SET lease_until = ? WHERE status = 'sending' AND claimed_by = ? "  # noqa: S608
            f"AND id IN ({marks})",
            (lease_until, owner, *chunk),
        )
        renewed += max(cursor.rowcount, 0)
    return renewed


def release(conn: Connection, owner: str, ids: Sequence[int]) -> int:
    """Give back messages claimed but not sent (a clean stop): queued again at once, attempt not counted."""
    released = 0
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        cursor = conn.execute(
            "UPDATE messages SET status = 'queued', attempts = attempts - 1, claimed_by = NULL, "  # noqa: S608
            f"lease_until = NULL WHERE status = 'sending' AND claimed_by = ? AND id IN ({marks})",
            (owner, *chunk),
        )
        released += max(cursor.rowcount, 0)
    return released


def release_expired(conn: Connection, now: int, owner: str) -> int:
    """Claims whose lease ran out (their process died or hung) become claimable again; never the caller's own,
    which it still holds and renews (a wall clock that jumped must not make it send them twice)."""
    cursor = conn.execute(
        "UPDATE messages SET status = 'queued', claimed_by = NULL, lease_until = NULL "
        "WHERE status = 'sending' AND lease_until <= ? AND claimed_by <> ?",
        (now, owner),
    )
    return max(cursor.rowcount, 0)


def record_requeued(conn: Connection, owner: str, message_id: int, send_at: int | None, error: str | None) -> bool:
    """A transient failure: queued again at `send_at`; False when this process had lost its claim."""
    cursor = conn.execute(
        "UPDATE messages SET status = ?, send_at = ?, error = ?, claimed_by = NULL, lease_until = NULL "
        "WHERE id = ? AND status = ? AND claimed_by = ?",
        (MessageStatus.QUEUED, send_at, error, message_id, MessageStatus.SENDING, owner),
    )
    return cursor.rowcount == 1


def record_result(
    conn: Connection, owner: str, message_id: int, status: MessageStatus, connector: str | None,
    total_parts: int | None, receipt_status: str | None, error: str | None, now: int,
) -> bool:  # fmt: skip
    """Submitted (every part accepted) or failed for good; False when this process had lost its claim."""
    cursor = conn.execute(
        "UPDATE messages SET status = ?, connector = ?, parts = ?, submitted_at = ?, done_at = ?, "
        "receipt_status = ?, error = ?, claimed_by = NULL, lease_until = NULL "
        "WHERE id = ? AND status = ? AND claimed_by = ?",
        (
            status, connector, total_parts, now if status == MessageStatus.SUBMITTED else None,
            now if status == MessageStatus.FAILED else None, receipt_status, error, message_id,
            MessageStatus.SENDING, owner,
        ),
    )  # fmt: skip
    return cursor.rowcount == 1


# --- reads for operators, tests and benchmarks -------------------------------------------------------------


def status_counts(conn: Connection) -> dict[str, int]:
    rows = conn.fetchall("SELECT status, COUNT(*) FROM messages GROUP BY status")
    return {row[0]: int(row[1]) for row in rows}


class MessageState(NamedTuple):
    """One message's delivery state (a tuple too: callers may unpack it)."""

    status: str
    connector: str | None
    parts: int | None
    attempts: int
    receipt_status: str | None


class PartRow(NamedTuple):
    seq: int
    connector: str
    carrier_id: str | None
    status: str


class CampaignMessage(NamedTuple):
    id: int
    recipient: str


def message_state(conn: Connection, message_id: int) -> MessageState:
    found = conn.record(
        MessageState,
        "SELECT status, connector, parts, attempts, receipt_status FROM messages WHERE id = ?",
        (message_id,),
    )
    if found is None:
        raise LookupError(message_id)
    return found


def message_parts(conn: Connection, message_id: int) -> list[PartRow]:
    """A message's parts, in order."""
    return conn.records(
        PartRow,
        "SELECT seq, connector, carrier_id, status FROM message_parts WHERE message_id = ? ORDER BY seq",
        (message_id,),
    )


def campaign_message_ids(conn: Connection, campaign_id: int) -> list[CampaignMessage]:
    """A campaign's messages, in insertion order."""
    return conn.records(
        CampaignMessage, "SELECT id, recipient FROM messages WHERE campaign_id = ? ORDER BY id", (campaign_id,)
    )
