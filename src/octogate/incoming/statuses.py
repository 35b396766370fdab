"""Receipt states: which are final, and the rulings' mapping to the document's six push statuses.

A long message is one push: its status is DELIVERED only when every part was delivered, otherwise the status of
its first part (in wire order) that was not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from octogate.frozen import quick_init
from octogate.smpp.constants import STATE_TO_RECEIPT_STAT
from octogate.statuses import DeliveryStatus, MessageStatus

#: Receipt states that say nothing final yet (SMPP 3.4 Appendix B and message_state 1 and 6).
INTERMEDIATE = frozenset({"ENROUTE", "ACCEPTD", ""})

PUSH_STATUS: dict[str, DeliveryStatus] = {
    "DELIVRD": DeliveryStatus.DELIVERED,
    "UNDELIV": DeliveryStatus.NOT_DELIVERED,
    "EXPIRED": DeliveryStatus.NOT_DELIVERED,
    "DELETED": DeliveryStatus.NOT_DELIVERED,
    "REJECTD": DeliveryStatus.NOT_ALLOWED,
    "UNKNOWN": DeliveryStatus.UNKNOWN_DELIVERY,
}

STATE_WORD = STATE_TO_RECEIPT_STAT  # the message_state TLV read as a stat word


def receipt_stat(text_stat: str, message_state: int | None) -> str:
    """The receipt's state word: the message_state TLV when it holds a known value (exact, machine-written),
    else the text's `stat:` (upper-cased, cut to 16 characters; unknown words stay as written)."""
    if message_state is not None and message_state in STATE_WORD:
        return STATE_WORD[message_state]
    return text_stat.strip().upper()[:16]


def is_final(stat: str) -> bool:
    return stat not in INTERMEDIATE


def push_status(stat: str) -> DeliveryStatus:
    """One part's final state as a push status: anything unknown is UNDEFINED."""
    return PUSH_STATUS.get(stat, DeliveryStatus.UNDEFINED)


def message_status(part_stats: Iterable[str]) -> DeliveryStatus:
    """The push status of a whole message from its parts' final states, in wire order."""
    stats = list(part_stats)
    for stat in stats:
        if stat != "DELIVRD":
            return push_status(stat)
    return DeliveryStatus.DELIVERED if stats else DeliveryStatus.UNDEFINED


def message_row_status(push: DeliveryStatus) -> MessageStatus:
    """messages.status once every part is final."""
    return MessageStatus.DELIVERED if push == DeliveryStatus.DELIVERED else MessageStatus.UNDELIVERED


@quick_init
@dataclass(frozen=True, slots=True)
class PartReceipt:
    """One recorded part as far as its message's final state goes."""

    #: MessageStatus.SUBMITTED while its receipt is awaited, else its final state word as the SMSC wrote it
    #: (`receipt_stat`: unknown words are kept), so a str and not an enum.
    status: str
    received_at: int | None  # when the gateway received that final receipt


@quick_init
@dataclass(frozen=True, slots=True)
class FinalState:
    """A message's final state: its row status, its push status, and the push's delivery date."""

    status: MessageStatus
    receipt_status: DeliveryStatus
    delivered_at: int


def final_state(parts: Sequence[PartReceipt], expected: int | None, now: int) -> FinalState | None:
    """None while a part is missing or still waiting; else the state, dated when the gateway received the
    last final receipt (the document's delivery_date), not the SMSC's done date. (Once per receipt: ~1.5 µs
    written this way, ~4.5 with generators and Enum calls: the look-ups give enum members, never call one.)"""
    if expected is None or len(parts) < expected:
        return None
    stats = [p.status for p in parts]
    for stat in stats:
        if stat == MessageStatus.SUBMITTED or stat in INTERMEDIATE:
            return None
    push = message_status(stats)
    when = max([p.received_at for p in parts if p.received_at is not None], default=now)
    return FinalState(message_row_status(push), push, when)
