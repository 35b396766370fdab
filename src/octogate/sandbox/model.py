"""The sandbox's records: what a phone received and sent, as the control interface, the CLI and the console
read it. Pure: built from JSON (the control interface's answers) or from the simulator's state (``view``), and
turned back into JSON the same way, so the two ends cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from octogate.smpp.simulator import OUTCOMES, phone_key

#: Longest text a sandbox phone sends (what ten concatenated UCS-2 parts carry, and more than any reply needs).
MAX_TEXT = 670


class Outcome(StrEnum):
    """What the receipts of the next messages say (``none``: no receipt is sent)."""

    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    REJECTED = "rejected"
    NONE = "none"


assert {o.value for o in Outcome} == set(OUTCOMES)  # one list of outcomes, the simulator's


class Direction(StrEnum):
    MT = "mt"  # to the phone: a message the gateway sent
    MO = "mo"  # from the phone: a reply or a STOP


class ReceiptState(StrEnum):
    NONE = "none"  # no receipt: not requested, or outcome "none"
    PENDING = "pending"  # scheduled, not yet acknowledged by the gateway
    ACKNOWLEDGED = "acknowledged"  # the gateway has it


class SandboxError(Exception):
    """A refusal of the control interface (or no control interface at all), in one line for the user."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def encoding_name(data_coding: int) -> str:
    """SMPP data_coding as a phone user would name the alphabet."""
    return {0: "gsm7", 1: "ascii", 3: "latin1", 8: "ucs2"}.get(data_coding, f"data_coding {data_coding}")


def display_number(key: str) -> str:
    """ "33612345678" -> "+33612345678"; an alphanumeric address as it is."""
    return f"+{key}" if key.isdigit() else key


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(value: str | None) -> float | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Receipt:
    state: ReceiptState
    stat: str | None  # DELIVRD, UNDELIV, REJECTD...; None when no receipt
    at: float | None  # when the gateway acknowledged it

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "stat": self.stat, "at": iso(self.at)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Receipt:
        return cls(ReceiptState(data["state"]), data.get("stat"), epoch(data.get("at")))


@dataclass(frozen=True, slots=True)
class Part:
    """One SMS on the wire."""

    seq: int
    message_id: str
    text: str
    octets: int  # user data, UDH included
    received_at: float
    receipt: Receipt

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "message_id": self.message_id, "text": self.text, "octets": self.octets,
                "received_at": iso(self.received_at), "receipt": self.receipt.to_json()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(int(data["seq"]), str(data["message_id"]), str(data["text"]), int(data["octets"]),
                   epoch(data["received_at"]) or 0.0, Receipt.from_json(data["receipt"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class PhoneMessage:
    """One entry of a phone's conversation: a whole message it received (MT, long ones reassembled) or a text
    it sent (MO)."""

    id: int
    direction: Direction
    at: float
    sender: str
    recipient: str
    text: str
    encoding: str
    sms_count: int
    parts: tuple[Part, ...] = ()  # MT only
    receipt: Receipt | None = None  # MT only: the message's (its parts' worst) receipt
    state: str | None = None  # MO only: pending, acknowledged, refused, withdrawn

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "direction": self.direction.value, "at": iso(self.at), "from": self.sender,
            "to": self.recipient, "text": self.text, "encoding": self.encoding, "sms_count": self.sms_count,
        }  # fmt: skip
        if self.direction == Direction.MT:
            data["parts"] = [p.to_json() for p in self.parts]
            data["receipt"] = self.receipt.to_json() if self.receipt else None
        else:
            data["state"] = self.state
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhoneMessage:
        receipt = data.get("receipt")
        return cls(int(data["id"]), Direction(data["direction"]), epoch(data["at"]) or 0.0, str(data["from"]),
                   str(data["to"]), str(data["text"]), str(data["encoding"]), int(data["sms_count"]),
                   tuple(Part.from_json(p) for p in data.get("parts", ())),
                   Receipt.from_json(receipt) if receipt else None, data.get("state"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    number: str  # "+33612345678"
    messages: int
    last_at: float
    last_text: str  # at most 80 characters
    last_direction: Direction
    outcome: Outcome | None  # this number's own outcome, if any

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "messages": self.messages, "last_at": iso(self.last_at),
                "last_text": self.last_text, "last_direction": self.last_direction.value,
                "outcome": self.outcome.value if self.outcome else None}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationSummary:
        outcome = data.get("outcome")
        return cls(str(data["number"]), int(data["messages"]), epoch(data["last_at"]) or 0.0,
                   str(data["last_text"]), Direction(data["last_direction"]),
                   Outcome(outcome) if outcome else None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcomes:
    """The receipt outcomes chosen: for every number (None: drawn from the simulator's configured mix), and per
    number."""

    default: Outcome | None
    numbers: dict[str, Outcome]

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default.value if self.default else None,
                "numbers": {n: o.value for n, o in sorted(self.numbers.items())}}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcomes:
        default = data.get("default")
        return cls(Outcome(default) if default else None,
                   {str(n): Outcome(o) for n, o in dict(data.get("numbers", {})).items()})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Listing:
    """Every conversation, most recent activity first."""

    version: int
    conversations: tuple[ConversationSummary, ...]
    outcomes: Outcomes

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "conversations": [c.to_json() for c in self.conversations],
                "outcomes": self.outcomes.to_json()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Listing:
        return cls(int(data["version"]), tuple(ConversationSummary.from_json(c) for c in data["conversations"]),
                   Outcomes.from_json(data["outcomes"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conversation:
    """One phone's messages, oldest first (the last ``limit`` asked for)."""

    version: int
    number: str
    outcome: Outcome | None  # what the next messages' receipts will say (None: the configured mix)
    messages: tuple[PhoneMessage, ...]

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "number": self.number,
                "outcome": self.outcome.value if self.outcome else None,
                "messages": [m.to_json() for m in self.messages]}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        outcome = data.get("outcome")
        return cls(int(data["version"]), str(data["number"]), Outcome(outcome) if outcome else None,
                   tuple(PhoneMessage.from_json(m) for m in data["messages"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Book:
    """Every phone (latest activity first) with its latest messages: what a page needs in one call."""

    version: int
    conversations: tuple[Conversation, ...]
    outcomes: Outcomes

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "conversations": [c.to_json() for c in self.conversations],
                "outcomes": self.outcomes.to_json()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Book:
        return cls(int(data["version"]), tuple(Conversation.from_json(c) for c in data["conversations"]),
                   Outcomes.from_json(data["outcomes"]))  # fmt: skip

    def summaries(self) -> tuple[ConversationSummary, ...]:
        """The listing of these conversations (those with no message left out)."""
        found = []
        for c in self.conversations:
            if c.messages:
                last = c.messages[-1]
                own = self.outcomes.numbers.get(c.number)
                found.append(ConversationSummary(c.number, len(c.messages), last.at, last.text[:80], last.direction,
                                                 own))  # fmt: skip
        return tuple(found)

    def visible(self, owned: set[str]) -> Book:
        """Only what one customer may see: the messages to the phones whose parts' ids are in ``owned`` (the ids
        the store has for the customer's messages), and the phones' texts to the senders of those messages."""
        kept = []
        for c in self.conversations:
            mine = [m for m in c.messages
                    if m.direction == Direction.MT and m.parts and all(p.message_id in owned for p in m.parts)]
            if not mine:
                continue
            ids, senders = {m.id for m in mine}, {m.sender for m in mine}
            messages = tuple(m for m in c.messages
                             if m.id in ids or (m.direction == Direction.MO and m.recipient in senders))  # fmt: skip
            kept.append(Conversation(c.version, c.number, c.outcome, messages))
        numbers = {c.number for c in kept}
        outcomes = Outcomes(self.outcomes.default,
                            {n: o for n, o in self.outcomes.numbers.items() if n in numbers})  # fmt: skip
        return Book(self.version, tuple(kept), outcomes)

    def message_ids(self) -> list[str]:
        return [p.message_id for c in self.conversations for m in c.messages for p in m.parts]


def parse_outcome(value: str) -> Outcome | None:
    """An outcome as a user writes it; "auto" (or "default") clears the choice."""
    word = value.strip().lower()
    if word in ("auto", "default"):
        return None
    try:
        return Outcome(word)
    except ValueError:
        raise SandboxError(
            f"outcome is one of {', '.join(o.value for o in Outcome)}, or auto (the configured mix)", 400
        ) from None


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise SandboxError("text: a non-empty string is needed", 400)
    if len(text) > MAX_TEXT:
        raise SandboxError(f"text: at most {MAX_TEXT} characters", 400)
    return text


def check_number(value: str) -> str:
    """A phone number as a user writes it (+33612345678, 0033612345678, 33612345678) -> the simulator's key
    (digits, calling code first)."""
    key = phone_key(value)
    if not (key.isascii() and key.isdigit()) or not 4 <= len(key) <= 15:
        raise SandboxError(f"not a phone number in international form: {value[:40]!r}", 400)
    return key
