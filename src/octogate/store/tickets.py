"""Campaign tickets: `api` + digits, derived from the campaign's id (unique, URL-safe, no extra column)."""

from __future__ import annotations

import re

TICKET_BASE = 100_000_000_000
TICKET_PATTERN = re.compile(r"api(\d{12,18})")


def ticket_for(campaign_id: int) -> str:
    return f"api{TICKET_BASE + campaign_id}"


def campaign_id_for(ticket: str) -> int | None:
    match = TICKET_PATTERN.fullmatch(ticket.strip())
    if match is None:
        return None
    campaign_id = int(match.group(1)) - TICKET_BASE
    return campaign_id if campaign_id > 0 else None
