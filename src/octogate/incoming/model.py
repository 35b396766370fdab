"""What comes back from the SMSC, read: a receipt, a whole incoming text, one part of a long one. Plain values,
built by the handler and handed to the transactions of `apply`, `texts` and `submits`."""

from __future__ import annotations

from dataclasses import dataclass

from octogate.frozen import quick_init
from octogate.smpp.constants import MessageIds


@quick_init
@dataclass(frozen=True, slots=True)
class ReceiptUpdate:
    """One receipt, read: the carrier id as the SMSC wrote it, its state word, and when; `message_ids`: in
    which base its connector's SMSC writes ids (`ids.receipt_key`)."""

    connector: str
    carrier_id: str
    stat: str  # DELIVRD, UNDELIV... (statuses.receipt_stat)
    error: str | None
    done_at: int  # the SMSC's done date, or the reception time (payloads.done_at)
    received_at: int  # when the gateway received it: the receipt push's delivery_date
    message_ids: MessageIds = "auto"


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
