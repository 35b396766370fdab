"""Receipts into store state, inside the caller's transaction (a group-commit savepoint): receipt → part state →
message final status → the one receipt push it owes. The rules are the pure functions of `ids` and `statuses`;
the store calls only run SQL. The push is written in the same transaction as the state change, so it exists if
and only if the change does.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from octogate.incoming import ids, payloads, statuses
from octogate.incoming.model import ReceiptUpdate
from octogate.statuses import DeliveryStatus, MessageStatus, PushKind
from octogate.store import incoming as sql
from octogate.store.callbacks import enqueue_push
from octogate.store.db import Connection
from octogate.store.tickets import ticket_for

EARLY_PAGES = 20  # at most EARLY_PAGES * EARLY_BATCH early receipts looked at again per call
EARLY_HORIZON = 48 * 3600  # early receipts older than this stay in their table for the operator, unscanned
EARLY_BATCH = 500
EXPIRY_BATCH = 500  # messages given up per transaction


class Applied(StrEnum):
    """What became of one receipt."""

    APPLIED = "applied"  # its part took its final state
    EARLY = "early"  # no part yet: kept until one is recorded
    DUPLICATE = "duplicate"  # its part was final already
    INTERMEDIATE = "intermediate"  # nothing final to record


def apply_receipts(conn: Connection, updates: Sequence[ReceiptUpdate]) -> list[Applied]:
    return [apply_receipt(conn, update) for update in updates]


def apply_receipt(conn: Connection, update: ReceiptUpdate) -> Applied:
    if not statuses.is_final(update.stat):
        return Applied.INTERMEDIATE
    key = ids.receipt_key(update.carrier_id)
    match = ids.best_match(sql.parts_by_key(conn, update.connector, key), MessageStatus.SUBMITTED)
    if match is None:
        _keep_early(conn, key, update)
        return Applied.EARLY
    sql.lock_message(conn, match.message_id)
    if match.status != MessageStatus.SUBMITTED:
        if match.same_base:
            return Applied.DUPLICATE
        # Read in the other base, the id names a part already final: most likely it is the id of a part not
        # recorded yet (an all-digit id is ambiguous). Kept as early: its own part takes it when recorded, and
        # the later look (`retry_early`) drops it if no such part appears.
        _keep_early(conn, key, update)
        return Applied.EARLY
    if not sql.set_part(conn, match.message_id, match.seq, update.stat, update.done_at, update.error,
                        update.received_at):  # fmt: skip
        return Applied.DUPLICATE  # another process's receipt for it committed first
    complete_message(conn, match.message_id, update.received_at)
    return Applied.APPLIED


def _keep_early(conn: Connection, key: str, update: ReceiptUpdate) -> None:
    sql.keep_early(conn, update.connector, key, update.stat, update.error, update.done_at, update.received_at)


def complete_message(conn: Connection, message_id: int, now: int) -> bool:
    """When every part of a submitted message has its final state: the message's, and ONE receipt push, dated
    when the gateway received the last final receipt."""
    head = sql.message_head(conn, message_id)
    if head is None or head.status != MessageStatus.SUBMITTED:
        return False
    parts = [statuses.PartReceipt(p.status, p.received_at) for p in sql.part_states(conn, message_id)]
    final = statuses.final_state(parts, head.parts, now)
    if final is None:
        return False
    if not sql.finish_message(conn, message_id, final.status, final.receipt_status, final.delivered_at):
        return False
    fields = payloads.receipt_fields(ticket_for(head.campaign_id), head.recipient, final.receipt_status,
                                     final.delivered_at)  # fmt: skip
    enqueue_push(conn, head.account_id, PushKind.RECEIPT, fields, now)
    return True


def apply_early(conn: Connection, message_id: int, connector: str, parts: Sequence[tuple[int, str]]) -> int:
    """Receipts that arrived before these just-recorded parts (seq, carrier id): applied now, then deleted.

    Only receipts that wrote the id in the part's own base are taken here (an all-digit id read in the other
    base could be another part's); those written in the other base are matched by `retry_early`.
    """
    applied = 0
    for seq, carrier_id in parts:
        key = ids.receipt_key(carrier_id)
        early = sql.early_by_key(conn, connector, key) if key else []
        if not early:
            continue
        first = early[0]
        sql.set_part(conn, message_id, seq, first.stat, first.done_at or first.received_at, first.error,
                     first.received_at)  # fmt: skip
        sql.delete_early(conn, [e.id for e in early])
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
        page = sql.early_page(conn, after, now - EARLY_HORIZON + 1, now - older_than, EARLY_BATCH)
        for early in page:
            after = early.id
            match = ids.best_match(sql.parts_by_key(conn, early.connector, early.carrier_id), MessageStatus.SUBMITTED)
            if match is None:
                continue
            sql.lock_message(conn, match.message_id)
            if match.status == MessageStatus.SUBMITTED and sql.set_part(
                conn, match.message_id, match.seq, early.stat, early.done_at or early.received_at, early.error,
                early.received_at,
            ):  # fmt: skip
                complete_message(conn, match.message_id, now)
            sql.delete_early(conn, [early.id])
            found += 1
        if len(page) < EARLY_BATCH:
            break
    return found


def expire_overdue(conn: Connection, now: int, validity: int, limit: int = EXPIRY_BATCH) -> int:
    """Messages whose final receipt has not come within their validity (seconds after their submission):
    final UNKNOWN_DELIVERY, each with its receipt push, in this transaction. At most `limit`; returns how many.

    Their parts keep waiting: a receipt arriving later still records its part's state for the operator, and
    owes no second push (the message is final already)."""
    given_up = sql.give_up_submitted(conn, now - validity, MessageStatus.UNDELIVERED,
                                     DeliveryStatus.UNKNOWN_DELIVERY, now, limit)  # fmt: skip
    for message in given_up:
        fields = payloads.receipt_fields(ticket_for(message.campaign_id), message.recipient,
                                         DeliveryStatus.UNKNOWN_DELIVERY, now)  # fmt: skip
        enqueue_push(conn, message.account_id, PushKind.RECEIPT, fields, now)
    return len(given_up)
