"""Every SQL statement of what comes back from the SMSC: receipts (per part, early ones kept until their part
is recorded), incoming texts (STOP list, replies, unmatched), and the operator's views of them.

Each function runs inside the caller's transaction (a group-commit savepoint), and writes the push it owes with
`enqueue_push` in that same transaction: the push exists if and only if the state change does. Written once for
SQLite and PostgreSQL, every value a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from octogate.incoming import ids, payloads, statuses
from octogate.incoming.keywords import is_stop
from octogate.store import queries
from octogate.store.callbacks import enqueue_push
from octogate.store.db import Connection
from octogate.store.tickets import ticket_for

#: messages that really went out (what a STOP or a reply can answer)
SENT = ("submitted", "delivered", "undelivered")
EARLY_PAGES = 20  # at most EARLY_PAGES * EARLY_BATCH receipts looked at again per call
EARLY_HORIZON = 48 * 3600
EARLY_BATCH = 500


@dataclass(frozen=True, slots=True)
class ReceiptUpdate:
    """One receipt, read: the carrier id as the SMSC wrote it, its state word, and when."""

    connector: str
    carrier_id: str
    stat: str  # DELIVRD, UNDELIV... (statuses.receipt_stat)
    error: str | None
    done_at: int  # the done date, or the reception time (payloads.done_at)
    received_at: int


@dataclass(frozen=True, slots=True)
class IncomingText:
    """One whole incoming text (its parts joined)."""

    connector: str
    source: str  # as the SMSC wrote it
    number: str | None  # +E.164, None when the source is not a phone number
    destination: str
    text: str
    received_at: int
    complete: bool = True


# --- receipts ----------------------------------------------------------------------------------------------


def apply_receipts(conn: Connection, updates: Sequence[ReceiptUpdate]) -> list[str]:
    """Apply receipts; for each: 'applied', 'early' (no part yet: kept), 'duplicate' (part already final)
    or 'intermediate' (nothing final to record)."""
    return [apply_receipt(conn, update) for update in updates]


def apply_receipt(conn: Connection, update: ReceiptUpdate) -> str:
    if not statuses.is_final(update.stat):
        return "intermediate"
    part = _find_part(conn, update.connector, update.carrier_id)
    if part is None:
        _keep_early(conn, update)
        return "early"
    message_id, seq, status, same_form = part
    _lock_message(conn, message_id)
    if status != "submitted":
        if same_form:
            return "duplicate"
        # Read in the other base, the id names a part already final: most likely it is the id of a part not
        # recorded yet (an all-digit id is ambiguous). Kept as early: its own part takes it when recorded, and
        # the later look (`retry_early`) drops it if no such part appears.
        _keep_early(conn, update)
        return "early"
    _set_part(conn, message_id, seq, update.stat, update.done_at, update.error)
    complete_message(conn, message_id, update.received_at)
    return "applied"


def _lock_message(conn: Connection, message_id: int) -> None:
    """Serialise receipts of one message across processes (PostgreSQL): two parts' receipts committed at once
    must not both read the other part as pending and leave the message without its final state. SQLite's
    single writer already serialises them."""
    if conn.dialect == "postgresql":
        conn.execute("SELECT id FROM messages WHERE id = ? FOR UPDATE", (message_id,))


def _keep_early(conn: Connection, update: ReceiptUpdate) -> None:
    conn.execute(
        "INSERT INTO early_receipts (connector, carrier_id, stat, error, done_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (update.connector, ids.canonical(update.carrier_id), update.stat, update.error, update.done_at,
         update.received_at),
    )  # fmt: skip


def _find_part(conn: Connection, connector: str, carrier_id: str) -> tuple[int, int, str, bool] | None:
    """The recorded part this receipt id names (message id, seq, status, and whether the id was written in the
    same base as the part's): the most likely reading wins when several match."""
    candidates = ids.lookup_candidates(carrier_id)
    if not candidates:
        return None
    marks = ", ".join("?" for _ in candidates)
    rows = conn.fetchall(
        f"SELECT message_id, seq, carrier_id, status FROM message_parts "  # noqa: S608 - marks only
        f"WHERE connector = ? AND carrier_id IN ({marks})",
        (connector, *candidates),
    )
    if not rows:
        return None
    rank = {form: i for i, form in enumerate(candidates)}
    best = min(rows, key=lambda r: (rank.get(r[2], len(rank)), r[3] != "submitted", -int(r[0])))
    return int(best[0]), int(best[1]), best[3], ids.canonical(best[2]) == ids.canonical(carrier_id)


def _set_part(
    conn: Connection, message_id: int, seq: int, stat: str, done_at: int, error: str | None
) -> None:
    conn.execute(
        "UPDATE message_parts SET status = ?, done_at = ?, error = ? "
        "WHERE message_id = ? AND seq = ? AND status = 'submitted'",
        (stat, done_at, error, message_id, seq),
    )


def complete_message(conn: Connection, message_id: int, now: int) -> bool:
    """When every part of a submitted message has a final state: its final status, and ONE receipt push."""
    row = conn.fetchone(
        "SELECT status, parts, campaign_id, account_id, recipient FROM messages WHERE id = ?", (message_id,)
    )
    if row is None or row[0] != "submitted" or row[1] is None:
        return False
    parts = conn.fetchall(
        "SELECT status, done_at FROM message_parts WHERE message_id = ? ORDER BY seq", (message_id,)
    )
    if len(parts) < int(row[1]) or any(not statuses.is_final(p[0]) or p[0] == "submitted" for p in parts):
        return False
    push = statuses.message_status(p[0] for p in parts)
    when = max(int(p[1] or now) for p in parts)
    cursor = conn.execute(
        "UPDATE messages SET status = ?, receipt_status = ?, done_at = ? WHERE id = ? AND status = 'submitted'",
        (statuses.message_row_status(push), push, when, message_id),
    )
    if cursor.rowcount != 1:
        return False
    campaign_id, account_id, recipient = int(row[2]), int(row[3]), row[4]
    fields = payloads.receipt_fields(ticket_for(campaign_id), recipient, push, when)
    enqueue_push(conn, account_id, "receipt", fields, now)
    return True


def push_refusal(conn: Connection, message_id: int, receipt_status: str, now: int) -> None:
    """A message refused for good at submit owes its receipt push too (same transaction as the refusal)."""
    row = conn.fetchone("SELECT campaign_id, account_id, recipient FROM messages WHERE id = ?", (message_id,))
    if row is not None:
        fields = payloads.receipt_fields(ticket_for(int(row[0])), row[2], receipt_status, now)
        enqueue_push(conn, int(row[1]), "receipt", fields, now)


def has_early_receipts(conn: Connection) -> bool:
    return conn.fetchone("SELECT 1 FROM early_receipts LIMIT 1") is not None


def apply_early(conn: Connection, message_id: int, connector: str, parts: Sequence[tuple[int, str]]) -> int:
    """Receipts that arrived before these just-recorded parts (seq, carrier id): applied now, then deleted.

    Only receipts that wrote the id in the part's own base are taken here (an all-digit id read in the other
    base could be another part's); those written in the other base are matched by `retry_early`.
    """
    applied = 0
    for seq, carrier_id in parts:
        form = ids.canonical(carrier_id)
        if not form:
            continue
        rows = conn.fetchall(
            "SELECT id, stat, error, done_at, received_at FROM early_receipts "
            "WHERE connector = ? AND carrier_id = ? ORDER BY id",
            (connector, form),
        )
        if not rows:
            continue
        first = rows[0]
        _set_part(conn, message_id, seq, first[1], int(first[3] or first[4]), first[2])
        conn.executemany("DELETE FROM early_receipts WHERE id = ?", [(r[0],) for r in rows])
        applied += 1
    return applied


def retry_early(conn: Connection, now: int, older_than: int) -> int:
    """Early receipts still waiting after `older_than` seconds: looked up again (their part may have been
    recorded by another process while the receipt was stored). Returns how many found their part.

    Pages through by id, so receipts that never find a part (another system on the same SMSC account) cannot
    hide the ones that will; those older than EARLY_HORIZON stay in the table for the operator, unscanned."""
    found = 0
    after = 0
    for _ in range(EARLY_PAGES):
        rows = conn.fetchall(
            "SELECT id, connector, carrier_id, stat, error, done_at, received_at FROM early_receipts "
            "WHERE id > ? AND received_at <= ? AND received_at > ? ORDER BY id LIMIT ?",
            (after, now - older_than, now - EARLY_HORIZON, EARLY_BATCH),
        )
        for early_id, connector, carrier_id, stat, error, done, received in rows:
            after = early_id
            part = _find_part(conn, connector, carrier_id)
            if part is None:
                continue
            message_id, seq, status, _ = part
            _lock_message(conn, message_id)
            if status == "submitted":
                _set_part(conn, message_id, seq, stat, int(done or received), error)
                complete_message(conn, message_id, now)
            conn.execute("DELETE FROM early_receipts WHERE id = ?", (early_id,))
            found += 1
        if len(rows) < EARLY_BATCH:
            break
    return found


# --- incoming texts ------------------------------------------------------------------------------------------

LAST_MARKETING = (
    "SELECT m.id, m.campaign_id, m.account_id FROM messages m JOIN campaigns c ON c.id = m.campaign_id "
    "WHERE m.recipient = ? AND c.transactional = 0 AND m.status IN (?, ?, ?) "
    "ORDER BY m.submitted_at DESC, m.id DESC LIMIT 1"
)
LAST_WITH_REPLIES = (
    "SELECT m.id, m.campaign_id, m.account_id FROM messages m JOIN campaigns c ON c.id = m.campaign_id "
    "WHERE m.recipient = ? AND c.with_replies = 1 AND m.status IN (?, ?, ?) "
    "ORDER BY m.submitted_at DESC, m.id DESC LIMIT 1"
)


def take_text(conn: Connection, mo: IncomingText, stop: bool) -> str:
    """Record an incoming text and act on it; returns its kind: 'stop', 'reply', 'unmatched' or 'incomplete'.

    A STOP goes to the account that last sent the number a marketing message; any other text (or a STOP
    nobody sent marketing to) is a reply to the campaign with replies the number last received, from any
    account. `sms_ticket` of a reply push is the id of the message replied to (messages.id, in decimal).
    """
    kind, found = "unmatched", None
    if not mo.complete:
        kind = "incomplete"
    elif mo.number is not None:
        if stop:
            found = conn.fetchone(LAST_MARKETING, (mo.number, *SENT))
            if found is not None:
                kind = "stop"
        if found is None:
            found = conn.fetchone(LAST_WITH_REPLIES, (mo.number, *SENT))
            if found is not None:
                kind = "reply"
    message_id, campaign_id, account_id = (int(v) for v in found) if found is not None else (None, None, None)
    conn.execute(
        "INSERT INTO incoming (connector, source, destination, text, kind, account_id, campaign_id, message_id, "
        "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (mo.connector, mo.number or mo.source, mo.destination, mo.text, kind, account_id, campaign_id,
         message_id, mo.received_at),
    )  # fmt: skip
    if kind == "stop":
        assert account_id is not None and mo.number is not None
        queries.add_stop(conn, account_id, mo.number, mo.text[:160], mo.received_at)
        enqueue_push(conn, account_id, "stop", payloads.stop_fields(mo.number, mo.text, mo.received_at),
                     mo.received_at)  # fmt: skip
    elif kind == "reply":
        assert account_id is not None and campaign_id is not None and mo.number is not None
        fields = payloads.reply_fields(
            ticket_for(campaign_id), mo.number, mo.text, str(message_id), mo.received_at
        )
        enqueue_push(conn, account_id, "reply", fields, mo.received_at)
    return kind


def incoming_texts(conn: Connection, limit: int = 100) -> list[tuple[str, str, str, str, int | None, int]]:
    """The latest incoming texts: (source, destination, text, kind, campaign_id, received_at), newest first."""
    rows = conn.fetchall(
        "SELECT source, destination, text, kind, campaign_id, received_at FROM incoming ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]


# --- the operator's views ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartView:
    seq: int
    connector: str
    carrier_id: str | None
    status: str
    submitted_at: int | None
    done_at: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    recipient: str
    status: str
    receipt_status: str | None
    attempts: int
    submitted_at: int | None
    done_at: int | None
    error: str | None
    parts: tuple[PartView, ...]


@dataclass(frozen=True, slots=True)
class CampaignView:
    id: int
    login: str
    sms_type: str
    sender: str | None
    transactional: bool
    with_replies: bool
    send_at: int
    created_at: int
    counts: dict[str, int]
    messages: tuple[MessageView, ...]


def campaign_view(conn: Connection, campaign_id: int, limit: int = 1000) -> CampaignView | None:
    """A campaign, its counts by status, and its first `limit` recipients with their parts."""
    row = conn.fetchone(
        "SELECT c.id, a.login, c.sms_type, c.sender, c.transactional, c.with_replies, c.send_at, c.created_at "
        "FROM campaigns c JOIN accounts a ON a.id = c.account_id WHERE c.id = ?",
        (campaign_id,),
    )
    if row is None:
        return None
    counts = {
        r[0]: int(r[1])
        for r in conn.fetchall(
            "SELECT status, COUNT(*) FROM messages WHERE campaign_id = ? GROUP BY status", (campaign_id,)
        )
    }
    rows = conn.fetchall(
        "SELECT id, recipient, status, receipt_status, attempts, submitted_at, done_at, error FROM messages "
        "WHERE campaign_id = ? ORDER BY id LIMIT ?",
        (campaign_id, limit),
    )
    parts: dict[int, list[PartView]] = {}
    if rows:
        part_rows = conn.fetchall(
            "SELECT p.message_id, p.seq, p.connector, p.carrier_id, p.status, p.submitted_at, p.done_at, p.error "
            "FROM message_parts p JOIN messages m ON m.id = p.message_id "
            "WHERE m.campaign_id = ? AND m.id <= ? ORDER BY p.message_id, p.seq",
            (campaign_id, int(rows[-1][0])),
        )
        for p in part_rows:
            parts.setdefault(int(p[0]), []).append(PartView(int(p[1]), p[2], p[3], p[4], p[5], p[6], p[7]))
    messages = tuple(
        MessageView(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], tuple(parts.get(int(r[0]), ())))
        for r in rows
    )
    return CampaignView(int(row[0]), row[1], row[2], row[3], bool(row[4]), bool(row[5]), int(row[6]),
                        int(row[7]), counts, messages)  # fmt: skip


def stops(conn: Connection, account_id: int) -> list[tuple[str, str | None, int]]:
    """(number, text, created_at) of an account's STOP list, oldest first."""
    rows = conn.fetchall(
        "SELECT number, text, created_at FROM stops WHERE account_id = ? ORDER BY created_at, number",
        (account_id,),
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


def remove_stop(conn: Connection, account_id: int, number: str) -> bool:
    cursor = conn.execute("DELETE FROM stops WHERE account_id = ? AND number = ?", (account_id, number))
    return bool(cursor.rowcount)


# --- long incoming texts --------------------------------------------------------------------------------------

PART_GROUP = "connector = ? AND source = ? AND destination = ? AND ref = ? AND total = ?"


@dataclass(frozen=True, slots=True)
class IncomingPart:
    """One part of a long incoming text (UDH or SAR concatenation)."""

    connector: str
    source: str
    number: str | None
    destination: str
    ref: int
    total: int
    seq: int
    text: str
    received_at: int


def take_part(conn: Connection, part: IncomingPart) -> str | None:
    """Store a part; when it completes its text, take the text in the same transaction (returns its kind).

    None while parts are missing. A part delivered twice by the SMSC is stored once."""
    group = (part.connector, part.source, part.destination, part.ref, part.total)
    conn.execute(
        "INSERT INTO incoming_parts (connector, source, destination, ref, total, seq, text, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (*group, part.seq, part.text, part.received_at),
    )
    rows = conn.fetchall(f"SELECT seq, text FROM incoming_parts WHERE {PART_GROUP} ORDER BY seq", group)  # noqa: S608
    if len(rows) < part.total:
        return None
    conn.execute(f"DELETE FROM incoming_parts WHERE {PART_GROUP}", group)  # noqa: S608
    text = "".join(row[1] for row in rows)
    mo = IncomingText(part.connector, part.source, part.number, part.destination, text, part.received_at)
    return take_text(conn, mo, is_stop(text))


def take_incomplete(conn: Connection, now: int, ttl: int, number_of: Callable[[str], str | None]) -> int:
    """Texts whose parts did not all arrive within `ttl` seconds: recorded as they are ('incomplete'), never
    dropped. Returns how many."""
    groups = conn.fetchall(
        "SELECT connector, source, destination, ref, total FROM incoming_parts "
        "GROUP BY connector, source, destination, ref, total HAVING MIN(received_at) <= ?",
        (now - ttl,),
    )
    for group in groups:
        rows = conn.fetchall(f"SELECT text FROM incoming_parts WHERE {PART_GROUP} ORDER BY seq", group)  # noqa: S608
        conn.execute(f"DELETE FROM incoming_parts WHERE {PART_GROUP}", group)  # noqa: S608
        connector, source, destination = group[0], group[1], group[2]
        text = "".join(row[0] for row in rows)
        take_text(conn, IncomingText(connector, source, number_of(source), destination, text, now, False), False)
    return len(groups)
