"""Every SQL statement of what comes back from the SMSC: parts found by carrier-id key, receipts (per part,
early ones kept until their part is recorded), incoming texts (STOP list, replies, unmatched, long texts'
parts), messages given up after their validity, and the operator's views of them.

SQL only: each function runs one or a few statements inside the caller's transaction and returns named
records. The rules (which part a receipt names, when a message is final, STOP versus reply, which push is owed)
are the pure functions of `octogate.incoming`, whose transactions call these. Written once for SQLite and
PostgreSQL, every value a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from octogate.octopush.rest.send import SOURCE as REST_SOURCE
from octogate.statuses import MessageStatus
from octogate.store.db import Connection

ID_CHUNK = 500  # ids per IN (...) list: bounded statements


# --- parts and their carrier-id keys ------------------------------------------------------------------------


NEW_PART = (("message_id", "bigint"), ("connector", "text"), ("seq", "int"), ("carrier_id", "text"))
KEY = (("connector", "text"), ("carrier_key", "text"), ("message_id", "bigint"), ("seq", "int"))


def add_parts(conn: Connection, parts: Sequence[tuple[int, str, int, str]], now: int) -> None:
    """Record accepted parts (message id, connector, seq, carrier id as the SMSC wrote it), pending receipts."""
    if not parts:
        return
    conn.execute(
        "INSERT INTO message_parts (message_id, seq, connector, carrier_id, status, submitted_at) "  # noqa: S608
        f"SELECT v.message_id, v.seq, v.connector, v.carrier_id, ?, ? FROM {conn.rows_source('v', NEW_PART)} "
        "WHERE true ON CONFLICT DO NOTHING",  # WHERE: SQLite's parser needs it before ON CONFLICT
        (MessageStatus.SUBMITTED, now, *conn.rows_params(parts, len(NEW_PART))),
    )


def add_part_keys(conn: Connection, keys: Sequence[tuple[str, str, int, int]]) -> None:
    """The keys (connector, canonical key, message id, seq) parts are found by (`octogate.incoming.ids`)."""
    if not keys:
        return
    conn.execute(
        "INSERT INTO part_keys (connector, carrier_key, message_id, seq, same_base) "  # noqa: S608
        f"SELECT v.connector, v.carrier_key, v.message_id, v.seq, 1 FROM {conn.rows_source('v', KEY)} "
        "WHERE true ON CONFLICT DO NOTHING",
        conn.rows_params(keys, len(KEY)),
    )


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """A recorded part one of several looked-up keys names (`same_base`: through the receipt's own spelling, set
    by the caller that knows which spelling it looked up)."""

    carrier_key: str
    message_id: int
    seq: int
    status: str
    same_base: bool


def parts_by_keys(conn: Connection, connector: str, keys: Sequence[str]) -> Callable[[], list[KeyMatch]]:
    """The parts stored under any of these keys on one connector (a part's canonical key: `same_base = 1`; the
    re-spellings older versions stored too are not read): one statement for a whole batch of receipts, still
    index probes on the (connector, carrier_key) primary key. Read by calling the result (after a batch).

    On PostgreSQL one probe per key is spelled out (a LATERAL subquery the planner may not flatten): on a table
    without statistics yet its plan for `carrier_key = ANY(?)` read every key of the connector and filtered them
    (4-21 ms per batch of 50 receipts, growing with the table, on the first run of bench/pipeline.py --postgres).
    """
    if conn.dialect == "postgresql":
        rows = conn.later(
            "SELECT w.key, m.message_id, m.seq, m.status, m.same_base FROM unnest(?::text[]) AS w(key) "
            "CROSS JOIN LATERAL (SELECT k.message_id, k.seq, p.status, k.same_base FROM part_keys k "
            "JOIN message_parts p ON p.message_id = k.message_id AND p.seq = k.seq "
            "WHERE k.connector = ? AND k.carrier_key = w.key AND k.same_base = 1 OFFSET 0) AS m",
            (list(keys), connector),
        )
    else:
        rows = conn.later(
            "SELECT k.carrier_key, k.message_id, k.seq, p.status, k.same_base FROM part_keys k "  # noqa: S608
            "JOIN message_parts p ON p.message_id = k.message_id AND p.seq = k.seq "
            f"WHERE k.connector = ? AND {conn.in_list('k.carrier_key')} AND k.same_base = 1",
            (connector, conn.list_param(keys)),
        )
    return lambda: [KeyMatch(r[0], int(r[1]), int(r[2]), r[3], bool(r[4])) for r in rows()]


def lock_heads(conn: Connection, message_ids: Sequence[int]) -> Callable[[], list[MessageHead]]:
    """What deciding these messages' final states needs, read under their row locks on PostgreSQL (taken in id
    order: two processes locking overlapping sets never deadlock). See `lock_message`."""
    lock = " FOR UPDATE OF messages" if conn.dialect == "postgresql" else ""
    rows = conn.later(
        "SELECT id, status, parts, campaign_id, account_id, recipient, "  # noqa: S608
        "(SELECT c.source FROM campaigns c WHERE c.id = messages.campaign_id) "
        f"FROM messages WHERE {conn.in_list('id')} ORDER BY id{lock}",
        (conn.list_param(message_ids),),
    )
    return lambda: [
        MessageHead(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5], r[6] == REST_SOURCE) for r in rows()
    ]


PART_UPDATE = (("message_id", "bigint"), ("seq", "int"), ("stat", "text"), ("done_at", "bigint"),
               ("error", "text"), ("received_at", "bigint"))  # fmt: skip


def set_parts(
    conn: Connection, rows: Sequence[tuple[int, int, str, int, str | None, int]]
) -> Callable[[], set[tuple[int, int]]]:
    """Pending parts' final states (message id, seq, stat, done_at, error, received_at), one statement; the
    result gives the (message id, seq) that took theirs (the others had one already)."""
    if not rows:
        return set
    found = conn.later(
        "UPDATE message_parts SET status = v.stat, done_at = v.done_at, error = v.error, "  # noqa: S608
        f"received_at = v.received_at FROM {conn.rows_source('v', PART_UPDATE)} "
        "WHERE message_parts.message_id = v.message_id AND message_parts.seq = v.seq "
        f"AND {conn.unindexed('message_parts.status')} = ? RETURNING message_parts.message_id, message_parts.seq",
        (*conn.rows_params(rows, len(PART_UPDATE)), MessageStatus.SUBMITTED),
    )
    return lambda: {(int(r[0]), int(r[1])) for r in found()}


@dataclass(frozen=True, slots=True)
class PartOf:
    message_id: int
    seq: int
    status: str
    received_at: int | None


def parts_of(conn: Connection, message_ids: Sequence[int]) -> Callable[[], list[PartOf]]:
    """The parts of several messages, by message and seq."""
    if not message_ids:
        return list
    rows = conn.later(
        "SELECT message_id, seq, status, received_at FROM message_parts "  # noqa: S608
        f"WHERE {conn.in_list('message_id')} ORDER BY message_id, seq",
        (conn.list_param(message_ids),),
    )
    return lambda: [PartOf(int(r[0]), int(r[1]), r[2], r[3]) for r in rows()]


FINISH = (("id", "bigint"), ("status", "text"), ("receipt_status", "text"), ("done_at", "bigint"))


def finish_messages(conn: Connection, rows: Sequence[tuple[int, str, str, int]]) -> Callable[[], set[int]]:
    """Submitted messages' final states (id, status, receipt status, done_at), one statement; the result gives
    the ids that took theirs (a message final already owes no second push)."""
    if not rows:
        return set
    found = conn.later(
        "UPDATE messages SET status = v.status, receipt_status = v.receipt_status, done_at = v.done_at "  # noqa: S608
        f"FROM {conn.rows_source('v', FINISH)} WHERE messages.id = v.id AND {conn.unindexed('messages.status')} = ? "
        "RETURNING messages.id",
        (*conn.rows_params(rows, len(FINISH)), MessageStatus.SUBMITTED),
    )
    return lambda: {int(r[0]) for r in found()}


RECEIPTS_LOCK = "hashtext(current_schema() || '.octogate.receipts')"


def lock_receipts(conn: Connection) -> None:
    """Until commit, the receipts lock alone (PostgreSQL; SQLite's single writer does it already): taken by a
    transaction about to keep receipts that found no part as early rows (and by the look again at early
    receipts). Recordings of accepted parts hold it shared (`share_receipts_lock`) while they look for early
    rows: without it, a receipt and its part committed at the same instant by two connections would each miss
    the other, and the receipt would wait for the next `retry_early`."""
    if conn.dialect == "postgresql":
        conn.execute(f"SELECT pg_advisory_xact_lock({RECEIPTS_LOCK})")


def share_receipts_lock(conn: Connection) -> None:
    """Until commit, the receipts lock shared with other recordings of accepted parts: they never wait for each
    other (a host's SMSC acceptances are durable within the group commit, not behind the other hosts'
    receipts), only for a transaction keeping early receipts (`lock_receipts`)."""
    if conn.dialect == "postgresql":
        conn.execute(f"SELECT pg_advisory_xact_lock_shared({RECEIPTS_LOCK})")


def lock_message(conn: Connection, message_id: int) -> None:
    """Serialise receipts of one message across processes (PostgreSQL): two parts' receipts committed at once
    must not both read the other part as pending and leave the message without its final state. SQLite's
    single writer already serialises them."""
    if conn.dialect == "postgresql":
        conn.execute("SELECT id FROM messages WHERE id = ? FOR UPDATE", (message_id,))


def set_part(
    conn: Connection, message_id: int, seq: int, stat: str, done_at: int, error: str | None, received_at: int
) -> bool:
    """A pending part's final state; False when it had one already."""
    cursor = conn.execute(
        "UPDATE message_parts SET status = ?, done_at = ?, error = ?, received_at = ? "
        "WHERE message_id = ? AND seq = ? AND status = ?",
        (stat, done_at, error, received_at, message_id, seq, MessageStatus.SUBMITTED),
    )
    return cursor.rowcount == 1


@dataclass(frozen=True, slots=True)
class MessageHead:
    """What deciding a message's final state and its push needs."""

    id: int
    status: str
    parts: int | None
    campaign_id: int
    account_id: int
    recipient: str
    #: its campaign came through the REST API: its pushes are the REST API's JSON (read by `lock_heads` only)
    rest: bool = False


@dataclass(frozen=True, slots=True)
class PartState:
    seq: int
    status: str
    received_at: int | None  # when the gateway received this part's final receipt


def message_head(conn: Connection, message_id: int) -> MessageHead | None:
    return conn.record(
        MessageHead,
        "SELECT id, status, parts, campaign_id, account_id, recipient FROM messages WHERE id = ?",
        (message_id,),
    )


def part_states(conn: Connection, message_id: int) -> list[PartState]:
    return conn.records(
        PartState,
        "SELECT seq, status, received_at FROM message_parts WHERE message_id = ? ORDER BY seq",
        (message_id,),
    )


def finish_message(
    conn: Connection, message_id: int, status: MessageStatus, receipt_status: str, done_at: int
) -> bool:
    """A submitted message's final state; False when it had one already (its push is owed once)."""
    cursor = conn.execute(
        "UPDATE messages SET status = ?, receipt_status = ?, done_at = ? WHERE id = ? AND status = ?",
        (status, receipt_status, done_at, message_id, MessageStatus.SUBMITTED),
    )
    return cursor.rowcount == 1


@dataclass(frozen=True, slots=True)
class Overdue:
    """A submitted message given up on (no final receipt within its validity)."""

    id: int
    campaign_id: int
    account_id: int
    recipient: str


def give_up_submitted(
    conn: Connection, submitted_before: int, status: MessageStatus, receipt_status: str, now: int, limit: int
) -> list[Overdue]:
    """Up to `limit` messages submitted before `submitted_before` and still waiting for receipts, made final
    (oldest first, on the partial index `messages_waiting`). A receipt committing at the same moment is
    serialised by the row lock and the re-checked status: exactly one of the two makes the message final."""
    # The batch is chosen once, in a CTE (PostgreSQL materialises one that locks): an `IN (SELECT ... LIMIT)`
    # may be scanned again per row and, re-checking rows this very statement updated, take more than `limit`.
    skip_locked = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""  # held by a receipt: next time
    return conn.records(
        Overdue,
        "WITH due AS (SELECT id FROM messages WHERE status = ? AND submitted_at < ? "  # noqa: S608 - fixed clause
        f"ORDER BY submitted_at LIMIT ?{skip_locked}) "
        "UPDATE messages SET status = ?, receipt_status = ?, done_at = ? "
        "WHERE status = ? AND id IN (SELECT id FROM due) RETURNING id, campaign_id, account_id, recipient",
        (MessageStatus.SUBMITTED, submitted_before, limit, status, receipt_status, now, MessageStatus.SUBMITTED),
    )


# --- early receipts (their part not recorded yet) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EarlyReceipt:
    id: int
    connector: str
    carrier_id: str  # the receipt's key (canonical form)
    stat: str
    error: str | None
    done_at: int | None
    received_at: int


EARLY_COLUMNS = "id, connector, carrier_id, stat, error, done_at, received_at"


def keep_early(
    conn: Connection, connector: str, key: str, stat: str, error: str | None, done_at: int, received_at: int
) -> None:
    conn.execute(
        "INSERT INTO early_receipts (connector, carrier_id, stat, error, done_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (connector, key, stat, error, done_at, received_at),
    )


def has_early_receipts(conn: Connection) -> Callable[[], bool]:
    rows = conn.later("SELECT 1 FROM early_receipts LIMIT 1")
    return lambda: bool(rows())


def early_by_key(conn: Connection, connector: str, key: str) -> list[EarlyReceipt]:
    """Early receipts under one key, oldest first."""
    return conn.records(
        EarlyReceipt,
        f"SELECT {EARLY_COLUMNS} FROM early_receipts WHERE connector = ? AND carrier_id = ? ORDER BY id",  # noqa: S608
        (connector, key),
    )


def early_page(conn: Connection, after: int, received_from: int, received_to: int, limit: int) -> list[EarlyReceipt]:
    """Early receipts with id > `after`, received in [received_from, received_to], by id."""
    return conn.records(
        EarlyReceipt,
        f"SELECT {EARLY_COLUMNS} FROM early_receipts WHERE id > ? AND received_at <= ? AND received_at >= ? "  # noqa: S608
        "ORDER BY id LIMIT ?",
        (after, received_to, received_from, limit),
    )


def delete_early(conn: Connection, ids: Sequence[int]) -> None:
    conn.executemany("DELETE FROM early_receipts WHERE id = ?", [(i,) for i in ids])


# --- incoming texts ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextTarget:
    """The message an incoming text answers."""

    id: int
    campaign_id: int
    account_id: int


SENT = tuple(str(s) for s in (MessageStatus.SUBMITTED, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED))
LAST_SENT = (
    "SELECT m.id, m.campaign_id, m.account_id FROM messages m JOIN campaigns c ON c.id = m.campaign_id "
    "WHERE m.recipient = ? AND {condition} AND m.status IN (?, ?, ?) "
    "ORDER BY m.submitted_at DESC, m.id DESC LIMIT 1"
)
LAST_MARKETING = LAST_SENT.format(condition="c.transactional = 0")
LAST_WITH_REPLIES = LAST_SENT.format(condition="c.with_replies = 1")


def last_marketing(conn: Connection, number: str) -> TextTarget | None:
    """The marketing message that last went out to this number (any account)."""
    return conn.record(TextTarget, LAST_MARKETING, (number, *SENT))


def last_with_replies(conn: Connection, number: str) -> TextTarget | None:
    """The message of a campaign with replies that last went out to this number (any account)."""
    return conn.record(TextTarget, LAST_WITH_REPLIES, (number, *SENT))


def add_incoming(
    conn: Connection, connector: str, source: str, destination: str, text: str, kind: str,
    target: TextTarget | None, received_at: int,
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO incoming (connector, source, destination, text, kind, account_id, campaign_id, message_id, "
        "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (connector, source, destination, text, kind, target.account_id if target else None,
         target.campaign_id if target else None, target.id if target else None, received_at),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class IncomingRow:
    """One `incoming` row (the operator's and the console's views of what was received)."""

    id: int
    source: str
    destination: str
    text: str
    kind: str  # an IncomingKind word
    campaign_id: int | None  # the campaign it answers, if any
    received_at: int


def incoming_texts(conn: Connection, limit: int = 100) -> list[IncomingRow]:
    """The latest incoming texts, newest first."""
    return conn.records(
        IncomingRow,
        "SELECT id, source, destination, text, kind, campaign_id, received_at FROM incoming ORDER BY id DESC LIMIT ?",
        (limit,),
    )


# --- STOP list -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailedMessage:
    id: int
    campaign_id: int
    cost: int


def fail_queued_marketing(conn: Connection, account_id: int, number: str, error: str, now: int) -> list[FailedMessage]:
    """Fail the account's marketing messages to `number` still waiting to be claimed (none of their parts sent),
    returning them with their cost (found on the `messages_recipient` index)."""
    return conn.records(
        FailedMessage,
        "UPDATE messages SET status = ?, error = ?, done_at = ? "
        "WHERE recipient = ? AND account_id = ? AND status = ? "
        "AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = messages.campaign_id AND c.transactional = 0) "
        "AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = messages.id) "
        "RETURNING id, campaign_id, cost",
        (MessageStatus.FAILED, error, now, number, account_id, MessageStatus.QUEUED),
    )


def refund(conn: Connection, account_id: int, amount: int, campaign_id: int, note: str, now: int) -> int:
    """Give `amount` back to the account, with its ledger row; returns the new balance."""
    row = conn.fetchone(
        "UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance", (amount, account_id)
    )
    assert row is not None, "a message's account exists"
    balance = int(row[0])
    conn.execute(
        "INSERT INTO ledger (account_id, amount, balance_after, reason, campaign_id, note, created_at) "
        "VALUES (?, ?, ?, 'refund', ?, ?, ?)",
        (account_id, amount, balance, campaign_id, note, now),
    )
    return balance


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
    parts: tuple[PartView, ...] = ()


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
    counts: dict[str, int] = field(default_factory=dict)
    messages: tuple[MessageView, ...] = ()


@dataclass(frozen=True, slots=True)
class _PartOf:
    message_id: int
    seq: int
    connector: str
    carrier_id: str | None
    status: str
    submitted_at: int | None
    done_at: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class _Count:
    status: str
    count: int


def campaign_view(conn: Connection, campaign_id: int, limit: int = 1000) -> CampaignView | None:
    """A campaign, its counts by status, and its first `limit` recipients with their parts."""
    head = conn.record(
        CampaignView,
        "SELECT c.id, a.login, c.sms_type, c.sender, c.transactional, c.with_replies, c.send_at, c.created_at "
        "FROM campaigns c JOIN accounts a ON a.id = c.account_id WHERE c.id = ?",
        (campaign_id,),
    )
    if head is None:
        return None
    counts = conn.records(
        _Count, "SELECT status, COUNT(*) AS count FROM messages WHERE campaign_id = ? GROUP BY status", (campaign_id,)
    )
    rows = conn.records(
        MessageView,
        "SELECT id, recipient, status, receipt_status, attempts, submitted_at, done_at, error FROM messages "
        "WHERE campaign_id = ? ORDER BY id LIMIT ?",
        (campaign_id, limit),
    )
    parts: dict[int, list[PartView]] = {}
    if rows:
        for p in conn.records(
            _PartOf,
            "SELECT p.message_id, p.seq, p.connector, p.carrier_id, p.status, p.submitted_at, p.done_at, p.error "
            "FROM message_parts p JOIN messages m ON m.id = p.message_id "
            "WHERE m.campaign_id = ? AND m.id <= ? ORDER BY p.message_id, p.seq",
            (campaign_id, rows[-1].id),
        ):
            parts.setdefault(p.message_id, []).append(
                PartView(p.seq, p.connector, p.carrier_id, p.status, p.submitted_at, p.done_at, p.error)
            )
    messages = tuple(replace(m, parts=tuple(parts.get(m.id, ()))) for m in rows)
    return replace(
        head, transactional=bool(head.transactional), with_replies=bool(head.with_replies),
        counts={c.status: int(c.count) for c in counts}, messages=messages,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class StopRow:
    """One number of an account's STOP list."""

    number: str  # +E.164
    text: str | None  # the STOP text received, or the operator's note
    created_at: int


def stops(conn: Connection, account_id: int) -> list[StopRow]:
    """An account's STOP list, oldest first."""
    return conn.records(
        StopRow,
        "SELECT number, text, created_at FROM stops WHERE account_id = ? ORDER BY created_at, number",
        (account_id,),
    )


def remove_stop(conn: Connection, account_id: int, number: str) -> bool:
    cursor = conn.execute("DELETE FROM stops WHERE account_id = ? AND number = ?", (account_id, number))
    return bool(cursor.rowcount)


# --- long incoming texts --------------------------------------------------------------------------------------

PART_GROUP = "connector = ? AND source = ? AND destination = ? AND ref = ? AND total = ?"


@dataclass(frozen=True, slots=True)
class PartGroup:
    """The parts of one long incoming text share these."""

    connector: str
    source: str
    destination: str
    ref: int
    total: int

    def values(self) -> tuple[str, str, str, int, int]:
        return (self.connector, self.source, self.destination, self.ref, self.total)


def add_text_part(conn: Connection, group: PartGroup, seq: int, text: str, received_at: int) -> None:
    """Store one part (a part delivered twice by the SMSC is stored once)."""
    conn.execute(
        "INSERT INTO incoming_parts (connector, source, destination, ref, total, seq, text, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (*group.values(), seq, text, received_at),
    )


def text_parts(conn: Connection, group: PartGroup) -> list[tuple[int, str]]:
    """(seq, text) of a group's stored parts, in order."""
    rows = conn.fetchall(f"SELECT seq, text FROM incoming_parts WHERE {PART_GROUP} ORDER BY seq", group.values())  # noqa: S608
    return [(int(r[0]), r[1]) for r in rows]


def delete_text_parts(conn: Connection, group: PartGroup) -> None:
    conn.execute(f"DELETE FROM incoming_parts WHERE {PART_GROUP}", group.values())  # noqa: S608


def stale_groups(conn: Connection, first_before: int) -> list[PartGroup]:
    """Groups whose first part was received at or before `first_before`."""
    return conn.records(
        PartGroup,
        "SELECT connector, source, destination, ref, total FROM incoming_parts "
        "GROUP BY connector, source, destination, ref, total HAVING MIN(received_at) <= ?",
        (first_before,),
    )
