"""Writing pushes into the outbox: the one function every state change that owes a customer a push calls.

It runs inside the caller's transaction, so the push exists if and only if the state change does, and the
workers are woken when that transaction commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlencode

from octogate.store import queue
from octogate.store.db import Connection

PushKind = Literal["receipt", "stop", "reply"]
URL_COLUMN: dict[str, str] = {"receipt": "receipt_url", "stop": "stop_url", "reply": "reply_url"}


def enqueue_push(conn: Connection, account_id: int, kind: PushKind, fields: Mapping[str, str], now: int) -> int | None:
    """Owe the account a push of `fields` (form-encoded, UTF-8), if it has a URL for this kind.

    Returns the outbox id, or None when the account has no URL for it (nothing is owed then).
    """
    column = URL_COLUMN[kind]
    row = conn.fetchone(f"SELECT {column} FROM accounts WHERE id = ?", (account_id,))  # noqa: S608 - fixed column
    if row is None or not row[0]:
        return None
    created = queue.insert_notifying(  # the push worker (of any host) takes it at once, not at its next poll
        conn,
        queue.PUSHES,
        "INSERT INTO callbacks (account_id, kind, payload, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        (account_id, kind, urlencode(dict(fields)), now, now),
    )
    assert created is not None
    return int(created[0])


PUSH_ROW = (("account_id", "bigint"), ("payload", "text"))


def enqueue_pushes(
    conn: Connection, kind: PushKind, owed: Sequence[tuple[int, Mapping[str, str]]], now: int
) -> None:
    """`enqueue_push` for many pushes of one kind (account id, fields) in one statement (and one wake-up), each
    owed only if its account has a URL for this kind. Reads nothing back: it may be sent in a `Connection.batch`
    with the state change that owes the pushes."""
    if not owed:
        return
    column = URL_COLUMN[kind]
    rows = [(account_id, urlencode(dict(fields))) for account_id, fields in owed]
    insert = (
        "INSERT INTO callbacks (account_id, kind, payload, next_attempt_at, created_at) "  # noqa: S608 - fixed column
        f"SELECT v.account_id, ?, v.payload, ?, ? FROM {conn.rows_source('v', PUSH_ROW)} "
        f"JOIN accounts a ON a.id = v.account_id WHERE a.{column} IS NOT NULL AND a.{column} <> ''"
    )
    params = (kind, now, now, *conn.rows_params(rows, len(PUSH_ROW)))
    if conn.dialect != "postgresql":
        if conn.execute(insert, params).rowcount:
            queue.notify(conn, queue.PUSHES)
        return
    # one statement: the rows and, if any was written, the NOTIFY that wakes the push workers of every host
    conn.execute(
        f"WITH made AS ({insert} RETURNING 1), n AS (SELECT COUNT(*) AS made FROM made) "  # noqa: S608
        "SELECT n.made, CASE WHEN n.made > 0 THEN pg_notify(?, '') IS NULL END FROM n",
        (*params, queue.channel(conn, queue.PUSHES)),
    )
