"""What an operator watches, read from the store: is it answering, how deep is the queue, how far behind are
the pushes. Each is one grouped query on an index that leads with `status` (messages_claim, callbacks_claim),
so a scrape costs the size of the backlog, never the size of the history."""

from __future__ import annotations

from dataclasses import dataclass

from octogate.statuses import MessageStatus, PushStatus
from octogate.store.callbacks import URL_COLUMN
from octogate.store.db import Connection

#: messages not final yet: what the queue is made of
WAITING = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SUBMITTED)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    status: str
    count: int
    oldest_due: int | None  # the earliest send_at among them (epoch seconds)


@dataclass(frozen=True, slots=True)
class PushBacklog:
    pending: int
    failing: int  # pending pushes already tried at least once
    oldest_due: int | None
    oldest_failing_since: int | None  # created_at of the oldest pending push that failed before
    oldest_failing_account: int | None
    oldest_failing_kind: str | None


def ping(conn: Connection) -> bool:
    return conn.fetchone("SELECT 1") is not None


def queue_depth(conn: Connection) -> list[QueueDepth]:
    marks = ", ".join("?" for _ in WAITING)
    found = {
        row.status: row
        for row in conn.records(
            QueueDepth,
            f"SELECT status, COUNT(*) AS count, MIN(send_at) AS oldest_due FROM messages "  # noqa: S608
            f"WHERE status IN ({marks}) GROUP BY status",
            [str(status) for status in WAITING],
        )
    }
    return [found.get(status) or QueueDepth(str(status), 0, None) for status in WAITING]


def push_backlog(conn: Connection) -> PushBacklog:
    row = conn.fetchone(
        "SELECT COUNT(*), SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), MIN(next_attempt_at) "
        "FROM callbacks WHERE status = ?",
        (str(PushStatus.PENDING),),
    )
    pending, failing, oldest_due = row if row is not None else (0, 0, None)
    oldest = conn.fetchone(
        "SELECT created_at, account_id, kind FROM callbacks WHERE status = ? AND attempts > 0 "
        "ORDER BY created_at, id LIMIT 1",
        (str(PushStatus.PENDING),),
    )
    return PushBacklog(
        int(pending or 0), int(failing or 0), oldest_due,
        oldest[0] if oldest else None, oldest[1] if oldest else None, oldest[2] if oldest else None,
    )  # fmt: skip


def push_url(conn: Connection, account_id: int, kind: str) -> str | None:
    """The URL an account's pushes of this kind go to (the oldest failing push's customer, for the status);
    a REST push (`rest_receipt`…) goes to the account's REST URL of its kind."""
    column = URL_COLUMN.get(kind)
    if column is None:
        return None
    row = conn.fetchone(f"SELECT {column} FROM accounts WHERE id = ?", (account_id,))  # noqa: S608
    return row[0] if row else None


@dataclass(frozen=True, slots=True)
class Backlog:
    queue: list[QueueDepth]
    pushes: PushBacklog
    oldest_failing_url: str | None


def backlog(conn: Connection) -> Backlog:
    """The queue and the push backlog together (what `octogate status` shows from the store)."""
    pushes = push_backlog(conn)
    url = None
    if pushes.oldest_failing_account is not None and pushes.oldest_failing_kind:
        url = push_url(conn, pushes.oldest_failing_account, pushes.oldest_failing_kind)
    return Backlog(queue_depth(conn), pushes, url)
