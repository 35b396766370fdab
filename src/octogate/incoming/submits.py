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
from octogate.store.db import Connection, durable_soon
from octogate.store.delivery import Outcome
from octogate.store.tickets import ticket_for


@durable_soon  # an SMSC acceptance not yet durable is sent again after a crash
def record_outcomes(conn: Connection, owner: str, outcomes: Sequence[Outcome], now: int) -> list[int]:
    """Store what became of claimed messages; returns the ids whose claim had been lost meanwhile.

    Accepted parts are stored even then: they really went out, and a later attempt must not send them again.
    The claims, the parts and their keys of the whole batch go in one statement each.
    """
    sent = [o for o in outcomes if o.parts and o.connector is not None]
    with conn.batch():  # one round trip on PostgreSQL
        settled_later = delivery.settle_outcomes(conn, owner, outcomes, now)
        record_parts(conn, [(o.message_id, o.connector or "", p.seq, p.carrier_id) for o in sent for p in o.parts],
                     now)  # fmt: skip
        if sent:
            sql.share_receipts_lock(conn)  # receipts kept early meanwhile are seen, or they see these parts
            early_later = sql.has_early_receipts(conn)
    settled = settled_later()
    recorded = {o.message_id: o.message_id in settled for o in outcomes}
    lost = [o.message_id for o in outcomes if o.message_id not in settled]
    early = bool(sent) and early_later()
    for outcome in outcomes:
        applied = 0
        if early and outcome.parts and outcome.connector is not None:
            pairs = [(p.seq, p.carrier_id) for p in outcome.parts]
            applied = apply_early(conn, outcome.message_id, outcome.connector, pairs)
        if not recorded[outcome.message_id]:
            continue
        if outcome.status == MessageStatus.FAILED:
            # refused for good at submit: the customer is owed a receipt, in this same transaction
            push_refusal(conn, outcome.message_id, outcome.receipt_status or DeliveryStatus.UNDEFINED, now)
        elif outcome.status == MessageStatus.SUBMITTED and (
            applied or len(outcome.parts) < (outcome.total_parts or 0)
        ):
            complete_message(conn, outcome.message_id, now)  # parts already final: receipt now
    return lost


def record_parts(conn: Connection, parts: Sequence[tuple[int, str, int, str]], now: int) -> None:
    """Accepted parts (message id, connector, seq, carrier id), and the one key each is found by: its id's
    canonical form, whatever the connector's `message_ids` (receipts are re-spelled into it, `ids`)."""
    if not parts:
        return
    sql.add_parts(conn, parts, now)
    keys = [(connector, ids.canonical(carrier_id), message_id, seq) for message_id, connector, seq, carrier_id in parts]
    sql.add_part_keys(conn, [key for key in keys if key[1]])


def push_refusal(conn: Connection, message_id: int, receipt_status: str, now: int) -> None:
    """A message refused for good at submit owes its receipt push too (same transaction as the refusal)."""
    head = sql.message_head(conn, message_id)
    if head is not None:
        fields = payloads.receipt_fields(ticket_for(head.campaign_id), head.recipient, receipt_status, now)
        enqueue_push(conn, head.account_id, PushKind.RECEIPT, fields, now)
