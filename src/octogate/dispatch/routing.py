"""Routing and the wire form of a message: which connectors, which sender and TON/NPI, which text. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from octogate.config import RouteConfig
from octogate.frozen import quick_init
from octogate.smpp.constants import Npi, Ton
from octogate.store.delivery import ClaimedMessage

STOP_PLACEHOLDER = "STOP au XXXXX"


@quick_init
@dataclass(frozen=True, slots=True)
class WireMessage:
    """What goes into submit_sm for one message."""

    source: str
    source_ton: int
    source_npi: int
    destination: str  # international number, digits only
    text: str


class Router:
    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self.routes = tuple(routes)

    def route(self, sms_type: str, calling_code: int) -> RouteConfig | None:
        """The first route for this type and country (None: no route, the message cannot be sent)."""
        return next((r for r in self.routes if r.matches(sms_type, calling_code)), None)


def wire_message(message: ClaimedMessage, route: RouteConfig) -> WireMessage:
    """Sender and TON/NPI (alphanumeric 5/0, a number 1/1), the route's STOP short code in the text."""
    if message.sender:
        sender, numeric = message.sender, message.sender_is_msisdn
    else:
        sender = route.default_sender
        numeric = sender.lstrip("+").isdigit()
    if numeric:
        source, ton, npi = sender.lstrip("+"), Ton.INTERNATIONAL, Npi.ISDN
    else:
        source, ton, npi = sender, Ton.ALPHANUMERIC, Npi.UNKNOWN
    text = message.text.replace(STOP_PLACEHOLDER, f"STOP au {route.stop_short_code}")
    return WireMessage(source, int(ton), int(npi), message.recipient.lstrip("+"), text)
