"""The simulator's state as the sandbox's records. No I/O: the control interface calls it on its event loop,
and tests call it on a simulator they drive."""

from __future__ import annotations

from octogate.smpp.constants import Tag
from octogate.smpp.simulator import InjectedMo, ReceivedMessage, ReceivedPart, SmscSimulator, phone_key
from octogate.sms.segments import split_text

from .model import (
    Book,
    Conversation,
    ConversationSummary,
    Direction,
    Listing,
    Outcome,
    Outcomes,
    Part,
    PhoneMessage,
    Receipt,
    ReceiptState,
    display_number,
    encoding_name,
)

#: The order receipts are summed up in for a message of several parts: the worst one is the message's.
_PRIORITY = {ReceiptState.PENDING: 1, ReceiptState.NONE: 2, ReceiptState.ACKNOWLEDGED: 0}


def part_receipt(part: ReceivedPart) -> Receipt:
    if part.receipt_stat is None:
        return Receipt(ReceiptState.NONE, None, None)
    state = ReceiptState.ACKNOWLEDGED if part.receipt_at is not None else ReceiptState.PENDING
    return Receipt(state, part.receipt_stat, part.receipt_at)


def message_receipt(receipts: list[Receipt]) -> Receipt:
    """A message's receipt: a failed part's stat over a delivered one's, a pending part over both, the
    latest acknowledgement's time."""
    failed = [r for r in receipts if r.stat not in (None, "DELIVRD")]
    worst = max(receipts, key=lambda r: _PRIORITY[r.state])
    if worst.state != ReceiptState.ACKNOWLEDGED:
        return Receipt(worst.state, (failed or [worst])[0].stat, None)
    stat = failed[0].stat if failed else receipts[0].stat
    return Receipt(ReceiptState.ACKNOWLEDGED, stat, max(r.at or 0.0 for r in receipts))


def sms_count(message: ReceivedMessage) -> int:
    """The SMS the phone got: one per part, or, for a text sent whole in message_payload, the parts the
    network would cut it into."""
    if len(message.parts) == 1 and not message.parts[0].short_message:
        return len(split_text(message.text)[1])
    return len(message.parts)


def mt_entry(message: ReceivedMessage) -> PhoneMessage:
    parts = tuple(
        Part(p.concat[2] if p.concat else 1, p.message_id, p.text, len(p.short_message) or _payload_length(p),
             p.received_at, part_receipt(p))
        for p in message.parts
    )  # fmt: skip
    return PhoneMessage(
        message.id, Direction.MT, message.received_at, message.source_addr,
        display_number(phone_key(message.destination_addr)), message.text, encoding_name(message.data_coding),
        sms_count(message), parts, message_receipt([p.receipt for p in parts]),
    )  # fmt: skip


def _payload_length(part: ReceivedPart) -> int:
    return sum(len(t.value) for t in part.tlvs if t.tag == Tag.MESSAGE_PAYLOAD)


def mo_entry(mo: InjectedMo) -> PhoneMessage:
    return PhoneMessage(mo.id, Direction.MO, mo.sent_at, display_number(phone_key(mo.source_addr)),
                        mo.destination_addr, mo.text, encoding_name(mo.data_coding), mo.parts,
                        state=mo.state)  # fmt: skip


def entry(item: ReceivedMessage | InjectedMo) -> PhoneMessage:
    return mt_entry(item) if isinstance(item, ReceivedMessage) else mo_entry(item)


def outcomes(sim: SmscSimulator) -> Outcomes:
    return Outcomes(Outcome(sim.outcome) if sim.outcome else None,
                    {display_number(n): Outcome(o) for n, o in sim.outcomes.items()})  # fmt: skip


def listing(sim: SmscSimulator, limit: int = 200) -> Listing:
    """The ``limit`` conversations with the most recent activity, most recent first."""
    summaries = []
    for key in reversed(list(sim.conversations)[-limit:] if limit else []):
        items = sim.conversations[key]
        last = entry(items[-1])
        own = sim.outcomes.get(key)
        summaries.append(ConversationSummary(display_number(key), len(items), last.at, last.text[:80],
                                             last.direction, Outcome(own) if own else None))  # fmt: skip
    return Listing(sim.version, tuple(summaries), outcomes(sim))


def conversation(sim: SmscSimulator, key: str, limit: int = 100) -> Conversation:
    """One phone's last ``limit`` entries, oldest first; an unknown number has an empty conversation."""
    items = list(sim.conversations.get(key, ()))[-limit:] if limit else []
    chosen = sim.outcome_for(key)
    return Conversation(sim.version, display_number(key), Outcome(chosen) if chosen else None,
                        tuple(entry(i) for i in items))  # fmt: skip


def book(sim: SmscSimulator, phones: int = 50, messages: int = 50) -> Book:
    """The ``phones`` most recently active phones, each with its latest ``messages``."""
    keys = list(reversed(list(sim.conversations)[-phones:])) if phones else []
    return Book(sim.version, tuple(conversation(sim, key, messages) for key in keys), outcomes(sim))
