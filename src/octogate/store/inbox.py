"""The SQL of the e-mail inbox: every mail received for the push address, with its outcome.

Every text is bounded and cleaned here, whoever calls: a mail's headers are the sender's to choose, and a NUL
or an unpaired surrogate would make PostgreSQL or the UTF-8 codec refuse the row (the mail would then be
answered 451 and retried for days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from octogate.store.db import Connection

BOUNDS = {"mail_from": 254, "subject": 300, "message_id": 200, "login": 254, "request_id": 64, "reason": 200}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
INBOX_COLUMNS = (
    "received_at, mail_from, subject, message_id, login, request_id, outcome, error_code, ticket, reason"
)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    received_at: int
    mail_from: str
    subject: str  # decoded, the api_key removed
    message_id: str
    login: str | None  # as the mail claims it: the outcome says whether it authenticated
    request_id: str | None
    outcome: str  # accepted | refused | ignored | rejected
    error_code: int | None  # the API code of a refusal
    ticket: str | None  # the campaign's ticket when accepted
    reason: str  # short, for the operator


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    entry: InboxEntry


def clean(text: str, limit: int) -> str:
    """Storable text: control characters and unpaired surrogates replaced, at most `limit` characters."""
    text = text[: limit * 2].encode("utf-8", "replace").decode("utf-8")
    return CONTROL.sub("?", text)[:limit]


def bounded(entry: InboxEntry) -> InboxEntry:
    changes = {}
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
    if login is None:
        rows = conn.fetchall(f"SELECT id, {INBOX_COLUMNS} FROM inbox ORDER BY id DESC LIMIT ?", (limit,))  # noqa: S608
    else:
        rows = conn.fetchall(
            f"SELECT id, {INBOX_COLUMNS} FROM inbox WHERE login = ? ORDER BY id DESC LIMIT ?",  # noqa: S608
            (login, limit),
        )
    return [_row(row) for row in rows]


def get(conn: Connection, inbox_id: int) -> InboxRow | None:
    row = conn.fetchone(f"SELECT id, {INBOX_COLUMNS} FROM inbox WHERE id = ?", (inbox_id,))  # noqa: S608
    return None if row is None else _row(row)


def _row(row: tuple) -> InboxRow:  # type: ignore[type-arg]
    return InboxRow(id=int(row[0]), entry=InboxEntry(*row[1:]))
