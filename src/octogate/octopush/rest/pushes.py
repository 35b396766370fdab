"""The REST API's push bodies (JSON), made from the 1.6.1 push's fields so that both say the same thing.

A receipt carries `channel` and `meta_data`; a reply `sim_card_number` and `reception_date`; a STOP its campaign's
ticket. Dates stay `Y-m-d H:i:s` Paris time, as Octopush writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

#: 1.6.1 receipt statuses → the REST words (the rest are spelled the same).
STATUSES = {"INVALID_DESTINATION_ADDRESS": "BAD_DESTINATION"}
REST_STATUSES = (
    "ACK", "DELIVERED", "NOT_DELIVERED", "NOT_ALLOWED", "UNKNOWN_DELIVERY", "BAD_DESTINATION", "BLACKLISTED_NUMBER",
    "UNDEFINED",
)  # fmt: skip


def receipt(fields: Mapping[str, str], ticket: str) -> dict[str, object]:
    status = fields["status"]
    return {
        "channel": "sms",
        "message_id": ticket,
        "number": fields["number"],
        "status": STATUSES.get(status, status),
        "delivery_date": fields["delivery_date"],
        "meta_data": {},
    }


def reply(fields: Mapping[str, str], ticket: str, receiver: str | None) -> dict[str, object]:
    return {
        "message_id": ticket,
        "number": fields["number"],
        "text": fields["text"],
        "sim_card_number": sim_card_number(receiver),
        "reception_date": fields["answer_date"],
    }


def stop(fields: Mapping[str, str], ticket: str | None) -> dict[str, object]:
    return {"message_id": ticket, "number": fields["number"], "text": fields["text"], "stop_date": fields["stop_date"]}


def sim_card_number(receiver: str | None) -> str | None:
    """The number that received the text: `+` form when it is a full number, a short code as it is."""
    if not receiver:
        return None
    digits = receiver.strip().lstrip("+")
    if digits.isdigit() and len(digits) >= 8:
        return "+" + digits
    return receiver.strip()


def encode(document: Mapping[str, object]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
