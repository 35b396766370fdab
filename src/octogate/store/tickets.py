"""Campaign tickets, derived from the campaign's id (unique, URL-safe, no extra column): `api` + digits for the
1.6.1 API, `sms_` + hex for the REST API (Octopush's own shapes)."""

from __future__ import annotations

import re

from octogate.octopush.rest.send import SOURCE as REST_SOURCE

TICKET_BASE = 100_000_000_000
TICKET_PATTERN = re.compile(r"api(\d{12,18})")
REST_TICKET_PATTERN = re.compile(r"sms_([0-9a-f]{10,16})")


def ticket_for(campaign_id: int) -> str:
    return f"api{TICKET_BASE + campaign_id}"


def rest_ticket_for(campaign_id: int) -> str:
    return f"sms_{TICKET_BASE + campaign_id:x}"


def ticket_as_sent(campaign_id: int, source: str | None) -> str:
    """The ticket in the shape its sender was given: `sms_…` for a campaign of the REST API (`campaigns.source`
    'rest'), `api…` for any other source, or none known."""
    return rest_ticket_for(campaign_id) if source == REST_SOURCE else ticket_for(campaign_id)


def campaign_id_for(ticket: str) -> int | None:
    """The campaign of either ticket form."""
    match = TICKET_PATTERN.fullmatch(ticket.strip())
    if match is not None:
        campaign_id = int(match.group(1)) - TICKET_BASE
    else:
        match = REST_TICKET_PATTERN.fullmatch(ticket.strip())
        if match is None:
            return None
        campaign_id = int(match.group(1), 16) - TICKET_BASE
    return campaign_id if campaign_id > 0 else None
