"""Writing pushes into the outbox: the one function every state change that owes a customer a push calls.

It runs inside the caller's transaction, so the push exists if and only if the state change does, and the
workers are woken when that transaction commits.
"""

from __future__ import annotations

from collections.abc import Mapping
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
