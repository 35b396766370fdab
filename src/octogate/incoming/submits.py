"""What the dispatcher records of its submits, in one transaction per batch: each claimed message's outcome, the
parts the SMSC accepted (with the carrier-id keys receipts find them by), receipts that overtook their
submit_sm_resp, and the receipt push a refusal owes."""

from __future__ import annotations

from collections.abc import Sequence

from octogate.incoming import ids, payloads
from octogate.incoming.apply import apply_early, complete_message
from octogate.statuses import DeliveryStatus, MessageStatus, PushKind
from octogate.store import delivery
from octogate.store import incoming as sql
from octogate.store.callbacks import enqueue_push
from octogate.store.db import Connection
from octogate.store.delivery import Outcome
from octogate.store.tickets import ticket_for


def record_outcomes(conn: Connection, owner: str, outcomes: Sequence[Outcome], now: int) -> list[int]:
    """Store what became of claimed messages; returns the ids whose claim had been lost meanwhile.

    Accepted parts are stored even then: they really went out, and a later attempt must not send them again.
    """
    lost: list[int] = []
    early = any(o.parts for o in outcomes) and sql.has_early_receipts(conn)
    for outcome in outcomes:
        if outcome.status == MessageStatus.QUEUED:
            recorded = delivery.record_requeued(conn, owner, outcome.message_id, outcome.send_at, outcome.error)
        else:
            recorded = delivery.record_result(
                conn, owner, outcome.message_id, MessageStatus(outcome.status), outcome.connector,
                outcome.total_parts, outcome.receipt_status, outcome.error, now,
            )  # fmt: skip
        if not recorded:
            lost.append(outcome.message_id)
        applied = 0
        if outcome.parts and outcome.connector is not None:
            pairs = [(p.seq, p.carrier_id) for p in outcome.parts]
            record_parts(conn, outcome.message_id, outcome.connector, pairs, now)
            if early:
                applied = apply_early(conn, outcome.message_id, outcome.connector, pairs)
        if not recorded:
            continue
        if outcome.status == MessageStatus.FAILED:
            # refused for good at submit: the customer is owed a receipt, in this same transaction
            push_refusal(conn, outcome.message_id, outcome.receipt_status or DeliveryStatus.UNDEFINED, now)
        elif outcome.status == MessageStatus.SUBMITTED and (
            applied or len(outcome.parts) < (outcome.total_parts or 0)
        ):
            complete_message(conn, outcome.message_id, now)  # parts already final: receipt now
    return lost


def record_parts(conn: Connection, message_id: int, connector: str, parts: Sequence[tuple[int, str]], now: int) -> None:
    """Accepted parts (seq, carrier id), and every key their ids can be found by (`ids.part_keys`)."""
    sql.add_parts(conn, message_id, connector, parts, now)
    keys = [(k.key, message_id, seq, k.same_base) for seq, carrier_id in parts for k in ids.part_keys(carrier_id)]
    if keys:
        sql.add_part_keys(conn, connector, keys)


def push_refusal(conn: Connection, message_id: int, receipt_status: str, now: int) -> None:
    """A message refused for good at submit owes its receipt push too (same transaction as the refusal)."""
    head = sql.message_head(conn, message_id)
    if head is not None:
        fields = payloads.receipt_fields(ticket_for(head.campaign_id), head.recipient, receipt_status, now)
        enqueue_push(conn, head.account_id, PushKind.RECEIPT, fields, now)
