"""Every status word octogate stores or pushes, as enums: one place, so that a typo is an AttributeError and
not a row that no query ever finds again.

They are `StrEnum`s: a member *is* its string, so it goes into SQL parameters (sqlite3 and psycopg bind it as
text) and comes back comparable with what the database returns.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """messages.status: queued -> sending -> submitted -> delivered | undelivered | failed."""

    QUEUED = "queued"  # waiting for its time (send_at) and a dispatcher
    SENDING = "sending"  # claimed by a dispatcher under a lease
    SUBMITTED = "submitted"  # every part accepted by the SMSC; waiting for receipts
    DELIVERED = "delivered"  # every part delivered
    UNDELIVERED = "undelivered"  # final, not delivered (receipt, or no receipt within the validity)
    FAILED = "failed"  # refused for good before reaching the handset (submit refused, STOP, no route)


#: messages that really went out (what a STOP or a reply can answer)
SENT_STATUSES = (MessageStatus.SUBMITTED, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)


class PushStatus(StrEnum):
    """callbacks.status: pending -> delivered | failed (gave up after the retry horizon)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class PushKind(StrEnum):
    """What a push reports; each has its own URL on the account."""

    RECEIPT = "receipt"
    STOP = "stop"
    REPLY = "reply"


class DeliveryStatus(StrEnum):
    """The `status` field of a receipt push (the document's words, and the rulings' additions)."""

    DELIVERED = "DELIVERED"
    NOT_DELIVERED = "NOT_DELIVERED"
    NOT_ALLOWED = "NOT_ALLOWED"
    INVALID_DESTINATION_ADDRESS = "INVALID_DESTINATION_ADDRESS"
    UNKNOWN_DELIVERY = "UNKNOWN_DELIVERY"
    UNDEFINED = "UNDEFINED"


class IncomingKind(StrEnum):
    """incoming.kind: what an incoming text turned out to be."""

    STOP = "stop"
    REPLY = "reply"
    UNMATCHED = "unmatched"
    INCOMPLETE = "incomplete"
