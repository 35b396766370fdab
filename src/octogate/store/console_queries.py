"""The web console's SQL: logins, the audit log, and the pages' reads (always a page: keyset on an indexed
column and a LIMIT, never a count or a sort of a whole table). Written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from octogate.statuses import MessageStatus, PushKind, PushStatus
from octogate.store.db import Connection, IntegrityError
from octogate.store.incoming import IncomingRow, StopRow
from octogate.store.records import ACCOUNT_COLUMNS, Account, DuplicateRequest, account_record

OWNED_CHUNK = 500  # carrier keys per IN (...) list: bounded statements

# --- logins -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperatorLogin:
    id: int
    login: str
    password_hash: str


def account_by_id(conn: Connection, account_id: int) -> Account | None:
    return conn.record(account_record, f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,))  # noqa: S608


def account_password_hash(conn: Connection, account_id: int) -> str | None:
    row = conn.fetchone("SELECT password_hash FROM account_passwords WHERE account_id = ?", (account_id,))
    return None if row is None else str(row[0])


def set_account_password(conn: Connection, account_id: int, password_hash: str, now: int) -> None:
    conn.execute(
        "INSERT INTO account_passwords (account_id, password_hash, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (account_id) DO UPDATE SET password_hash = excluded.password_hash, "
        "updated_at = excluded.updated_at",
        (account_id, password_hash, now),
    )


def operator_by_login(conn: Connection, login: str) -> OperatorLogin | None:
    return conn.record(
        OperatorLogin, "SELECT id, login, password_hash FROM operators WHERE login = ?", (login,)
    )


def operator_by_id(conn: Connection, operator_id: int) -> OperatorLogin | None:
    return conn.record(
        OperatorLogin, "SELECT id, login, password_hash FROM operators WHERE id = ?", (operator_id,)
    )


def create_operator(conn: Connection, login: str, password_hash: str, now: int) -> int:
    try:
        row = conn.fetchone(
            "INSERT INTO operators (login, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
            (login, password_hash, now),
        )
    except IntegrityError:
        raise DuplicateRequest(login) from None
    assert row is not None
    return int(row[0])


def set_operator_password(conn: Connection, login: str, password_hash: str) -> bool:
    cursor = conn.execute("UPDATE operators SET password_hash = ? WHERE login = ?", (password_hash, login))
    return bool(cursor.rowcount)


def console_secret(conn: Connection, candidate: str) -> str:
    """The cluster's cookie-signing secret: `candidate` if none was made yet (first host wins)."""
    conn.execute("INSERT INTO console_secret (id, secret) VALUES (1, ?) ON CONFLICT DO NOTHING", (candidate,))
    row = conn.fetchone("SELECT secret FROM console_secret WHERE id = 1")
    assert row is not None
    return str(row[0])


# --- the audit log ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: int
    actor: str
    action: str
    target: str | None
    detail: str | None


def add_audit(
    conn: Connection, at: int, actor: str, action: str, target: str | None, detail: str | None
) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (at, actor, action, target, detail),
    )


def audit_page(
    conn: Connection, before: int | None, limit: int, action: str | None = None
) -> list[AuditEntry]:
    where, params = _keyset_before("id", before)
    if action:
        where.append("action = ?")
        params.append(action)
    return conn.records(
        AuditEntry,
        f"SELECT id, at, actor, action, target, detail FROM audit_log {_where(where)} ORDER BY id DESC LIMIT ?",  # noqa: S608
        (*params, limit),
    )


# --- traffic ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficCount:
    hour: int  # epoch hour (epoch seconds // 3600)
    status: str
    count: int


def traffic(conn: Connection, since: int, account_id: int | None) -> list[TrafficCount]:
    """Messages that reached a final status since `since`, per hour and status (index messages_done)."""
    # `+account_id`: not an index term, so that SQLite reads the time range (messages_done) rather than every
    # message of the account through messages_claim's skip-scan (measured 260 ms -> 26 ms with 1,000,000 rows).
    extra, params = ("", (since,)) if account_id is None else ("AND +account_id = ? ", (since, account_id))
    return conn.records(
        TrafficCount,
        f"SELECT done_at / 3600 AS hour, status, COUNT(*) AS count FROM messages WHERE done_at >= ? {extra}"  # noqa: S608
        "GROUP BY done_at / 3600, status",
        params,
    )


@dataclass(frozen=True, slots=True)
class AccountTraffic:
    hour: int
    login: str
    status: str
    count: int


def traffic_by_account(conn: Connection, since: int) -> list[AccountTraffic]:
    """Every account's final messages since `since` per hour and status: one range of messages_done read once
    serves both the operator's chart and the per-account table."""
    return conn.records(
        AccountTraffic,
        "SELECT t.hour, a.login, t.status, t.count FROM (SELECT done_at / 3600 AS hour, account_id, status, "
        "COUNT(*) AS count FROM messages WHERE done_at >= ? GROUP BY done_at / 3600, account_id, status) t "
        "JOIN accounts a ON a.id = t.account_id",
        (since,),
    )


# --- campaigns ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    account_id: int
    login: str
    source: str
    sms_type: str
    sender: str | None
    text: str
    transactional: int
    with_replies: int
    recipients: int
    sms: int
    cost: int
    send_at: int
    created_at: int


CAMPAIGN_COLUMNS = (
    "c.id, c.account_id, a.login, c.source, c.sms_type, c.sender, c.text, c.transactional, c.with_replies, "
    "c.recipients, c.sms, c.cost, c.send_at, c.created_at"
)


def campaigns_page(
    conn: Connection, account_id: int | None, before: int | None, limit: int, sms_type: str | None = None
) -> list[CampaignRow]:
    """Newest first (index campaigns_account, or the primary key across accounts)."""
    where, params = _keyset_before("c.id", before)
    if account_id is not None:
        where.append("c.account_id = ?")
        params.append(account_id)
    if sms_type:
        where.append("c.sms_type = ?")
        params.append(sms_type)
    return conn.records(
        CampaignRow,
        f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns c JOIN accounts a ON a.id = c.account_id {_where(where)} "  # noqa: S608
        "ORDER BY c.id DESC LIMIT ?",
        (*params, limit),
    )


def campaign(conn: Connection, campaign_id: int) -> CampaignRow | None:
    return conn.record(
        CampaignRow,
        f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns c JOIN accounts a ON a.id = c.account_id WHERE c.id = ?",  # noqa: S608
        (campaign_id,),
    )


@dataclass(frozen=True, slots=True)
class StatusCount:
    campaign_id: int
    status: str
    count: int


#: Every status but 'delivered': counted from the index (few rows); delivered is what remains.
NOT_DELIVERED = tuple(s.value for s in MessageStatus if s != MessageStatus.DELIVERED)


def status_counts(conn: Connection, campaigns: Sequence[tuple[int, int]]) -> dict[int, dict[str, int]]:
    """Messages by status of a page of (campaign id, recipients): the statuses other than delivered are counted
    on index messages_campaign_status (one short range each), delivered is the rest of the recipients, so a
    campaign of 100,000 delivered messages costs no more than one of ten."""
    found: dict[int, dict[str, int]] = {cid: {} for cid, _ in campaigns}
    if not campaigns:
        return found
    marks = ", ".join("?" for _ in campaigns)
    # One branch per status, `status = ?` each: an index condition in every plan (PostgreSQL's generic plan of
    # a prepared `status IN (...)` filters the campaign's whole range instead).
    one = f"SELECT campaign_id, status, COUNT(*) AS count FROM messages WHERE campaign_id IN ({marks}) AND status = ? "  # noqa: S608
    params: list[object] = []
    for status in NOT_DELIVERED:
        params.extend([*(cid for cid, _ in campaigns), status])
    for row in conn.records(
        StatusCount, " UNION ALL ".join(f"{one}GROUP BY campaign_id, status" for _ in NOT_DELIVERED), params
    ):
        found[row.campaign_id][row.status] = int(row.count)
    for cid, recipients in campaigns:
        found[cid][MessageStatus.DELIVERED.value] = max(0, recipients - sum(found[cid].values()))
    return found


@dataclass(frozen=True, slots=True)
class RecipientRow:
    id: int
    recipient: str
    country: str
    status: str
    receipt_status: str | None
    sms: int
    parts: int | None
    cost: int
    text: str | None
    submitted_at: int | None
    done_at: int | None
    error: str | None


RECIPIENT_COLUMNS = (
    "id, recipient, country, status, receipt_status, sms, parts, cost, text, submitted_at, done_at, error"
)
RECIPIENTS_OF_STATUS = (
    f"SELECT {RECIPIENT_COLUMNS} FROM messages WHERE campaign_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?"  # noqa: S608
)


def recipients_page(
    conn: Connection, campaign_id: int, after: int | None, limit: int, status: str | None = None
) -> list[RecipientRow]:
    """A campaign's recipients in order, a page after message id `after`. Without a status, the page merges
    one range of messages_campaign_status per status (each at most `limit` rows): no sort of the campaign."""
    wanted = [status] if status else [s.value for s in MessageStatus]
    ranges = " UNION ALL ".join(f"SELECT * FROM ({RECIPIENTS_OF_STATUS}) AS s{i}" for i in range(len(wanted)))  # noqa: S608
    params: list[object] = []
    for one in wanted:
        params.extend([campaign_id, one, after or 0, limit])
    return conn.records(
        RecipientRow,
        f"SELECT {RECIPIENT_COLUMNS} FROM ({ranges}) AS merged ORDER BY id LIMIT ?",  # noqa: S608
        (*params, limit),
    )


# --- what came back -----------------------------------------------------------------------------------------


def incoming_page(
    conn: Connection, account_id: int, before: int | None, limit: int, kind: str | None = None
) -> list[IncomingRow]:
    where, params = _keyset_before("id", before)
    where.append("account_id = ?")
    params.append(account_id)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    return conn.records(
        IncomingRow,
        "SELECT id, source, destination, text, kind, campaign_id, received_at FROM incoming "  # noqa: S608
        f"{_where(where)} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )


def owned_carrier_keys(conn: Connection, account_id: int, connector: str, keys: Sequence[str]) -> set[str]:
    """Of these canonical carrier-id keys of one connector, those naming a part of the account's own messages:
    one equality on part_keys' primary key per key (chunked IN lists), then the message's account by its id."""
    found: set[str] = set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), OWNED_CHUNK):
        chunk = unique[start : start + OWNED_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = conn.fetchall(
            "SELECT DISTINCT k.carrier_key FROM part_keys k JOIN messages m ON m.id = k.message_id "  # noqa: S608
            f"WHERE k.connector = ? AND k.carrier_key IN ({marks}) AND k.same_base = 1 AND m.account_id = ?",
            (connector, *chunk, account_id),
        )
        found.update(str(row[0]) for row in rows)
    return found


def stops_page(conn: Connection, account_id: int, after: str | None, limit: int) -> list[StopRow]:
    """An account's STOP list by number (its primary key), a page after `after`."""
    return conn.records(
        StopRow,
        "SELECT number, text, created_at FROM stops WHERE account_id = ? AND number > ? ORDER BY number LIMIT ?",
        (account_id, after or "", limit),
    )


# --- pushes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushRow:
    id: int
    login: str
    kind: str
    status: str
    attempts: int
    created_at: int
    delivered_at: int | None
    next_attempt_at: int
    last_error: str | None
    last_code: int | None


def pushes_page(
    conn: Connection, account_id: int | None, before: int | None, limit: int, status: str | None = None
) -> list[PushRow]:
    """Pushes newest first, with the HTTP status of their last attempt (index callbacks_account)."""
    where, params = _keyset_before("c.id", before)
    if account_id is not None:
        where.append("c.account_id = ?")
        params.append(account_id)
    if status:
        where.append("c.status = ?")
        params.append(status)
    return conn.records(
        PushRow,
        "SELECT c.id, a.login, c.kind, c.status, c.attempts, c.created_at, c.delivered_at, c.next_attempt_at, "  # noqa: S608
        "c.last_error, COALESCE(c.delivered_code, (SELECT t.status_code FROM callback_attempts t "
        "WHERE t.callback_id = c.id ORDER BY t.attempt DESC LIMIT 1)) AS last_code "
        f"FROM callbacks c JOIN accounts a ON a.id = c.account_id {_where(where)} ORDER BY c.id DESC LIMIT ?",
        (*params, limit),
    )


@dataclass(frozen=True, slots=True)
class FailingPushes:
    login: str
    kind: str
    url: str | None
    failed: int
    retrying: int
    last_error: str | None


def failing_pushes(conn: Connection, limit: int) -> list[FailingPushes]:
    """Per account and kind: pushes given up (failed) or failing and retried (pending after an attempt). Two
    ranges of callbacks_claim (by status), never the delivered pushes, which are nearly all of them."""
    return conn.records(
        FailingPushes,
        "SELECT a.login, c.kind, CASE c.kind WHEN ? THEN a.receipt_url WHEN ? THEN a.stop_url "
        "ELSE a.reply_url END AS url, SUM(c.failed) AS failed, SUM(1 - c.failed) AS retrying, "
        "MAX(c.last_error) AS last_error FROM ("
        "SELECT account_id, kind, 1 AS failed, last_error FROM callbacks WHERE status = ? UNION ALL "
        "SELECT account_id, kind, 0, last_error FROM callbacks WHERE status = ? AND attempts > 0"
        ") c JOIN accounts a ON a.id = c.account_id "
        "GROUP BY a.login, c.kind, a.receipt_url, a.stop_url, a.reply_url ORDER BY a.login, c.kind LIMIT ?",
        (PushKind.RECEIPT, PushKind.STOP, PushStatus.FAILED, PushStatus.PENDING, limit),
    )


# --- the queue and the accounts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueDepth:
    queued: int
    sending: int
    submitted: int
    oldest_due: int | None  # send_at of the oldest queued message


def queue_depth(conn: Connection) -> QueueDepth:
    """Counts of the unfinished statuses only (an index range each: the finished messages are never read)."""
    counts = {}
    for status in (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SUBMITTED):
        row = conn.fetchone("SELECT COUNT(*) FROM messages WHERE status = ?", (status,))
        counts[status.value] = int(row[0]) if row else 0
    oldest = [
        row[0]
        for priority in (0, 1)
        if (row := conn.fetchone(
            "SELECT MIN(send_at) FROM messages WHERE status = ? AND priority = ?", (MessageStatus.QUEUED, priority)
        )) and row[0] is not None
    ]  # fmt: skip
    return QueueDepth(**counts, oldest_due=min(oldest) if oldest else None)


def accounts_page(
    conn: Connection, after: str | None, limit: int, prefix: str | None = None
) -> list[Account]:
    """Accounts by login (its unique index), a page after `after`, optionally those starting with `prefix`."""
    where = ["login > ?"]
    params: list[object] = [after or ""]
    if prefix:
        where.append("login >= ? AND login < ?")
        params.extend([prefix, prefix + "\U0010ffff"])
    return conn.records(
        account_record,
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts {_where(where)} ORDER BY login LIMIT ?",  # noqa: S608
        (*params, limit),
    )


def _keyset_before(column: str, before: int | None) -> tuple[list[str], list[object]]:
    if before is None:
        return [], []
    return [f"{column} < ?"], [before]


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""
