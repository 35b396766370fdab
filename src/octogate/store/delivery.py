"""Delivery's own SQL: what a claimed message needs to be sent (its campaign, the parts already accepted), and
recording what the SMSC said. The leasing itself (claim, renew, release, expiry) is the queue's
(`octogate.store.queue`, spec `MESSAGES`); written once for SQLite and PostgreSQL, run inside the group-commit
writer's savepoints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from octogate.frozen import quick_init
from octogate.statuses import MessageStatus
from octogate.store import queue
from octogate.store.db import Connection
from octogate.store.incoming import FailedMessage
from octogate.store.queue import MESSAGES, QueueSpec, Want

ID_CHUNK = 500  # ids per IN (...) list: bounded statements

CLAIMED_DETAILS = (
    "SELECT m.id, m.account_id, m.campaign_id, m.recipient, m.calling_code, COALESCE(m.text, c.text) AS text, "
    "m.priority, m.send_at, m.attempts, c.sms_type, c.sender, c.sender_is_msisdn "
    "FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE {ids}"
)


@quick_init
@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message this process holds under its lease, with what it takes to send it."""

    id: int
    account_id: int
    campaign_id: int
    recipient: str  # +E.164
    calling_code: int
    text: str
    priority: int  # 0 transactional, 1 marketing
    send_at: int
    attempts: int  # including this one
    sms_type: str
    sender: str | None
    sender_is_msisdn: bool
    #: parts the SMSC already accepted in an earlier attempt: seq -> carrier id (not to be sent again)
    done_parts: dict[int, str] = field(default_factory=dict)
    #: the connector those parts went to (the rest must follow on the same one, same segmentation)
    done_connector: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class AcceptedPart:
    seq: int
    carrier_id: str


@quick_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed message.

    status: 'submitted' (every part accepted), 'failed' (refused for good: `receipt_status` says why) or
    'queued' (a transient failure: tried again at `send_at`). `parts` are the parts accepted by this attempt.
    """

    message_id: int
    status: str
    connector: str | None
    parts: tuple[AcceptedPart, ...] = ()
    total_parts: int | None = None
    receipt_status: str | None = None
    error: str | None = None
    send_at: int | None = None


def claim(
    conn: Connection, owner: str, now: int, lease_until: int, wanted: dict[int, int]
) -> list[ClaimedMessage]:
    """Claim up to `wanted[account_id]` due messages of each account; returns them in dispatch order.

    `wanted` may name accounts with nothing due: they cost one indexed probe and give nothing.
    """
    claimed: list[queue.Claimed] = queue.claim(conn, MESSAGES, owner, now, lease_until, wanted)
    return claimed_details(conn, [c.id for c in claimed])


def claim_fair(
    conn: Connection, owner: str, now: int, lease_until: int, want: Want, waiting: Sequence[int] | None = None
) -> list[ClaimedMessage]:
    """The accounts with queued messages (`waiting`, when read already: `queue.keys_later`), and each one's share
    claimed, in one transaction."""
    claimed: list[queue.Claimed] = queue.claim_fair(conn, MESSAGES, owner, now, lease_until, want, waiting=waiting)
    return claimed_details(conn, [c.id for c in claimed])


def fail_claimed(conn: Connection, owner: str, ids: Sequence[int], error: str, now: int) -> list[FailedMessage]:
    """Fail messages this process holds, before anything of them is sent; returns them with their cost."""
    failed: list[FailedMessage] = []
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        failed += conn.records(
            FailedMessage,
            "UPDATE messages SET status = ?, error = ?, done_at = ?, claimed_by = NULL, lease_until = NULL "  # noqa: S608
            f"WHERE status = ? AND claimed_by = ? AND id IN ({marks}) RETURNING id, campaign_id, cost",
            (MessageStatus.FAILED, error, now, MessageStatus.SENDING, owner, *chunk),
        )
    return failed


def claimed_details(conn: Connection, ids: Sequence[int]) -> list[ClaimedMessage]:
    """The claimed messages with what sending them takes: their rows and their parts already accepted, read by
    two statements sent together (one round trip on PostgreSQL, where claims were round-trip bound)."""
    found: list[ClaimedMessage] = []
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        # One statement text whatever the claim's size (an `IN (?, ...)` per size was as many statements to
        # parse and, on PostgreSQL, to prepare and plan: claims come in every size up to the window's room).
        ids_param = (conn.list_param(chunk),)
        with conn.batch():
            rows_later = conn.later(CLAIMED_DETAILS.format(ids=conn.in_list("m.id")), ids_param)
            done_later = conn.later(
                DONE_PARTS.format(ids=conn.in_list("message_id")), (MessageStatus.FAILED, *ids_param)
            )
        done = _done_parts(done_later())
        for id_, account_id, campaign_id, recipient, calling_code, text, priority, send_at, attempts, sms_type, \
                sender, sender_is_msisdn in rows_later():  # CLAIMED_DETAILS's columns, in its order
            parts, connector = done.get(int(id_), ({}, None))
            found.append(
                ClaimedMessage(
                    int(id_), int(account_id), int(campaign_id), recipient, int(calling_code), text, int(priority),
                    int(send_at), int(attempts), sms_type, sender, bool(sender_is_msisdn), parts, connector,
                )
            )  # fmt: skip
    found.sort(key=lambda m: (m.priority, m.send_at, m.id))
    return found


DONE_PARTS = (  # a part with a receipt was accepted too; bound: MessageStatus.FAILED, then the ids
    "SELECT message_id, seq, connector, carrier_id FROM message_parts WHERE status <> ? AND {ids}"
)


def _done_parts(rows: Sequence[Sequence[Any]]) -> dict[int, tuple[dict[int, str], str | None]]:
    done: dict[int, tuple[dict[int, str], str | None]] = {}
    for message_id, seq, connector, carrier_id in rows:
        parts, _ = done.setdefault(int(message_id), ({}, connector))
        parts[int(seq)] = carrier_id or ""
    return done


def settle_outcome(conn: Connection, owner: str, outcome: Outcome, now: int) -> bool:
    """End the claim of one message as its outcome says (its queue columns and the columns that go with them);
    False if the claim had been lost meanwhile (the row is then left alone)."""
    if outcome.status == MessageStatus.QUEUED:
        return queue.settle_one(
            conn, MESSAGES, owner, outcome.message_id, MessageStatus.QUEUED,
            due=outcome.send_at, columns={"error": outcome.error},
        )  # fmt: skip
    submitted = outcome.status == MessageStatus.SUBMITTED
    return queue.settle_one(
        conn, MESSAGES, owner, outcome.message_id, outcome.status,
        columns={
            "connector": outcome.connector, "parts": outcome.total_parts,
            "submitted_at": now if submitted else None,
            "done_at": now if outcome.status == MessageStatus.FAILED else None,
            "receipt_status": outcome.receipt_status, "error": outcome.error,
        },
    )  # fmt: skip


FINAL_COLUMNS = (("connector", "text"), ("parts", "int"), ("submitted_at", "bigint"), ("done_at", "bigint"),
                 ("receipt_status", "text"), ("error", "text"))  # fmt: skip
RETRY_COLUMNS = (("send_at", "bigint"), ("error", "text"))


def settle_outcomes(conn: Connection, owner: str, outcomes: Sequence[Outcome], now: int) -> Callable[[], set[int]]:
    """`settle_outcome` for a batch, one statement per kind of outcome (final, or queued again); the result gives
    the ids whose claim was still held (the others are left alone), once the statements' `batch` is over."""
    final = [
        (o.message_id, o.status, o.connector, o.total_parts, now if o.status == MessageStatus.SUBMITTED else None,
         now if o.status == MessageStatus.FAILED else None, o.receipt_status, o.error)
        for o in outcomes if o.status != MessageStatus.QUEUED
    ]  # fmt: skip
    retry = [(o.message_id, o.status, o.send_at, o.error) for o in outcomes if o.status == MessageStatus.QUEUED]
    settled = queue.settle_rows(conn, MESSAGES, owner, FINAL_COLUMNS, final)
    requeued = queue.settle_rows(conn, MESSAGES, owner, RETRY_COLUMNS, retry)
    return lambda: settled() | requeued()


def settle_unrecorded(
    conn: Connection, spec: QueueSpec, owner: str, message_id: int, now: int, due: int, reason: str
) -> bool:
    """A message that went out but whose outcome could not be recorded: `submitted`, with the reason, so that no
    one sends it again (its validity then ends it)."""
    return queue.settle_one(
        conn, spec, owner, message_id, MessageStatus.SUBMITTED, columns={"error": reason, "submitted_at": now}
    )


# --- reads for operators, tests and benchmarks -------------------------------------------------------------


def status_counts(conn: Connection) -> dict[str, int]:
    rows = conn.fetchall("SELECT status, COUNT(*) FROM messages GROUP BY status")
    return {row[0]: int(row[1]) for row in rows}


class MessageState(NamedTuple):
    """One message's delivery state (a tuple too: callers may unpack it)."""

    status: str
    connector: str | None
    parts: int | None
    attempts: int
    receipt_status: str | None


class PartRow(NamedTuple):
    seq: int
    connector: str
    carrier_id: str | None
    status: str


class CampaignMessage(NamedTuple):
    id: int
    recipient: str


def message_state(conn: Connection, message_id: int) -> MessageState:
    found = conn.record(
        MessageState,
        "SELECT status, connector, parts, attempts, receipt_status FROM messages WHERE id = ?",
        (message_id,),
    )
    if found is None:
        raise LookupError(message_id)
    return found


def message_parts(conn: Connection, message_id: int) -> list[PartRow]:
    """A message's parts, in order."""
    return conn.records(
        PartRow,
        "SELECT seq, connector, carrier_id, status FROM message_parts WHERE message_id = ? ORDER BY seq",
        (message_id,),
    )


def campaign_message_ids(conn: Connection, campaign_id: int) -> list[CampaignMessage]:
    """A campaign's messages, in insertion order."""
    return conn.records(
        CampaignMessage, "SELECT id, recipient FROM messages WHERE campaign_id = ? ORDER BY id", (campaign_id,)
    )
