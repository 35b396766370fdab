"""The SQL of the e-mail inbox: every mail received for the push address, with its outcome.

Every text is bounded and cleaned here, whoever calls: a mail's headers are the sender's to choose, and a NUL
or an unpaired surrogate would make PostgreSQL or the UTF-8 codec refuse the row (the mail would then be
answered 451 and retried for days).
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any

from octogate.store.db import Connection
from octogate.store.records import InboxEntry, InboxRow

BOUNDS = {"mail_from": 254, "subject": 300, "message_id": 200, "login": 254, "request_id": 64, "reason": 200}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
INBOX_COLUMNS = (
    "received_at, mail_from, subject, message_id, login, request_id, outcome, error_code, ticket, reason"
)


def clean(text: str, limit: int) -> str:
    """Storable text: control characters and unpaired surrogates replaced, at most `limit` characters."""
    text = text[: limit * 2].encode("utf-8", "replace").decode("utf-8")
    return CONTROL.sub("?", text)[:limit]


def bounded(entry: InboxEntry) -> InboxEntry:
    changes: dict[str, Any] = {}
    for name, limit in BOUNDS.items():
        value = getattr(entry, name)
        if value is not None:
            changes[name] = clean(value, limit)
    return replace(entry, **changes)


def record(conn: Connection, entry: InboxEntry) -> int:
    """Store one received mail; returns its inbox id."""
    entry = bounded(entry)
    row = conn.fetchone(
        f"INSERT INTO inbox ({INBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",  # noqa: S608
        tuple(getattr(entry, f.name) for f in fields(InboxEntry)),
    )
    assert row is not None
    return int(row[0])


def recent(conn: Connection, limit: int = 50, login: str | None = None) -> list[InboxRow]:
    """Newest first (ids grow with arrival), optionally only one login's mails."""
    where, params = ("", (limit,)) if login is None else ("WHERE login = ? ", (login, limit))
    sql = f"SELECT id, {INBOX_COLUMNS} FROM inbox {where}ORDER BY id DESC LIMIT ?"  # noqa: S608
    return conn.records(_row, sql, params)


def get(conn: Connection, inbox_id: int) -> InboxRow | None:
    return conn.record(_row, f"SELECT id, {INBOX_COLUMNS} FROM inbox WHERE id = ?", (inbox_id,))  # noqa: S608


def _row(id: int, **entry: object) -> InboxRow:
    """One `inbox` row, its columns by name."""
    return InboxRow(id=int(id), entry=InboxEntry(**entry))  # type: ignore[arg-type]
