"""The accounts' push-signing secrets (migration 0025): SQL only."""

from __future__ import annotations

from octogate.store import queries
from octogate.store.db import Connection


def set_secret(conn: Connection, login: str, secret: str | None, now: int) -> None:
    """Set (or, None, remove) the account's secret; UnknownAccount if there is no such login. Run inside the
    caller's transaction (`Store.run`)."""
    account_id = queries.account(conn, login).id
    conn.execute("DELETE FROM push_secrets WHERE account_id = ?", (account_id,))
    if secret is not None:
        conn.execute(
            "INSERT INTO push_secrets (account_id, secret, set_at) VALUES (?, ?, ?)", (account_id, secret, now)
        )


def secret_of(conn: Connection, account_id: int) -> str | None:
    row = conn.fetchone("SELECT secret FROM push_secrets WHERE account_id = ?", (account_id,))
    return None if row is None else str(row[0])
