"""The REST API's own SQL: request_ids that expire, and the account's REST campaign parameters. Parameterised,
written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping

from octogate.store.db import Connection

PARAMETER_COLUMNS = ("rest_receipt_url", "rest_reply_url", "rest_stop_url", "inbound_email", "default_sender")


def request_id_taken(conn: Connection, account_id: int, request_id: str, expired_before: int) -> bool:
    """Whether a campaign holds this request_id still: REST ones let it go `created_at <= expired_before`."""
    row = conn.fetchone(
        "SELECT 1 FROM campaigns WHERE account_id = ? AND request_id = ? AND NOT (source = 'rest' AND created_at <= ?)",
        (account_id, request_id, expired_before),
    )
    return row is not None


def release_request_id(conn: Connection, account_id: int, request_id: str, expired_before: int) -> bool:
    """Free a request_id held by a REST campaign older than `expired_before` (kept as expired_request_id)."""
    cursor = conn.execute(
        "UPDATE campaigns SET expired_request_id = request_id, request_id = NULL "
        "WHERE account_id = ? AND request_id = ? AND source = 'rest' AND created_at <= ?",
        (account_id, request_id, expired_before),
    )
    return cursor.rowcount > 0


def campaign_source(conn: Connection, campaign_id: int) -> str | None:
    """Which edge a campaign came through ('rest' for the REST API), or None if there is no such campaign."""
    row = conn.fetchone("SELECT source FROM campaigns WHERE id = ?", (campaign_id,))
    return row[0] if row else None


def campaign_parameters(conn: Connection, account_id: int) -> dict[str, str | None]:
    row = conn.fetchone(f"SELECT {', '.join(PARAMETER_COLUMNS)} FROM accounts WHERE id = ?", (account_id,))  # noqa: S608
    return dict(zip(PARAMETER_COLUMNS, row or (None,) * len(PARAMETER_COLUMNS), strict=True))


def default_sender(conn: Connection, account_id: int) -> str | None:
    row = conn.fetchone("SELECT default_sender FROM accounts WHERE id = ?", (account_id,))
    return row[0] if row else None


def set_campaign_parameters(conn: Connection, account_id: int, changes: Mapping[str, str]) -> dict[str, str | None]:
    for column, value in changes.items():
        if column not in PARAMETER_COLUMNS:
            raise ValueError(f"not a campaign parameter: {column[:40]!r}")
        conn.execute(f"UPDATE accounts SET {column} = ? WHERE id = ?", (value, account_id))  # noqa: S608 - checked
    return campaign_parameters(conn, account_id)
