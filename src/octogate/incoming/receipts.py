"""A receipt deliver_sm/data_sm read into a `ReceiptUpdate`: the carrier id (receipted_message_id TLV, else
the text's `id:`), the state (message_state TLV, else `stat:`), the error (`err:`, else network_error_code)
and the done date. Pure: no I/O."""

from __future__ import annotations

from datetime import UTC, tzinfo

from octogate.incoming import payloads, statuses
from octogate.incoming.model import ReceiptUpdate
from octogate.smpp.client import DeliverEvent
from octogate.smpp.constants import EsmClass, MessageIds


def read_receipt(
    event: DeliverEvent, received_at: int, *, zone: tzinfo = UTC, message_ids: MessageIds = "auto"
) -> ReceiptUpdate | None:
    """None when the receipt names no message at all (nothing to apply it to). `message_ids`: the connector's
    setting, carried to where the id is keyed."""
    carrier_id = (event.message_id or "").strip()
    if not carrier_id:
        return None
    parsed = event.receipt()
    stat = statuses.receipt_stat(parsed.stat if parsed else "", event.message_state)
    if event.esm_class & EsmClass.MESSAGE_TYPE_MASK == EsmClass.INTERMEDIATE_NOTIFICATION:
        stat = "ENROUTE" if statuses.is_final(stat) else stat  # an intermediate notification is never final
    error = (parsed.err if parsed else "") or None
    if error is None and event.network_error_code is not None:
        kind, code = event.network_error_code
        error = f"network {kind}:{code}"
    done = payloads.parse_done_date(parsed.done_date, zone=zone) if parsed else None
    return ReceiptUpdate(
        connector=event.connector,
        carrier_id=carrier_id[:64],
        stat=stat,
        error=error[:40] if error else None,
        done_at=payloads.done_at(done, received_at),
        received_at=received_at,
        message_ids=message_ids,
    )
