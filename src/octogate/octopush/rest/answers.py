"""The REST answers' JSON bodies: money as JSON numbers (euros), counts as integers, tickets `sms_` + hex."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from octogate.sms.money import from_micro

SIMULATION_TICKET = "sms_simulation"  # not hex: never a real ticket


@dataclass(frozen=True, slots=True)
class RestSent:
    ticket: str
    contacts: int
    cost: int  # micro-units
    sms: int
    balance: int  # micro-units, after the debit


def money(micro: int) -> float:
    """Euros as a JSON number (six decimals at most: exact in a float's shortest repr)."""
    return float(from_micro(micro))


def sent_body(sent: RestSent) -> bytes:
    """Exactly the five fields the clients read (WP SMS fails a 2xx without a non-empty sms_ticket)."""
    return json.dumps(
        {
            "sms_ticket": sent.ticket,
            "number_of_contacts": sent.contacts,
            "total_cost": money(sent.cost),
            "number_of_sms_needed": sent.sms,
            "residual_credit": money(sent.balance),
        }
    ).encode()


def messages_bought(balance: int, unit_price: Decimal | None) -> int:
    """How many messages at `unit_price` a balance (micro-units) buys; 0 where the product is not offered."""
    if not unit_price:
        return 0
    return int((from_micro(balance) / unit_price).to_integral_value(rounding=ROUND_DOWN))


def balance_body(balance: int, currency: str) -> bytes:
    return json.dumps({"amount": money(balance), "unit": unit(currency)}).encode()


def unit(currency: str) -> str:
    return "euros" if currency == "EUR" else currency


def product_balance_body(amount: int, product: str, with_details: bool) -> bytes:
    """The balance as messages of one product for one country; octogate has one wallet and no expiry, so its
    details are one pack (both id spellings of the SDK and the docs)."""
    document: dict[str, object] = {"amount": amount, "unit": product}
    if with_details:
        document["wallet_packs"] = [
            {"id": "balance", "wallet_pack_id": "balance", "credit": amount, "expiration_date": None}
        ]
    return json.dumps(document).encode()


def credits_body(credits: dict[str, tuple[int, int]]) -> bytes:
    document = {country: {"premium_sms": premium, "low_cost_sms": low} for country, (premium, low) in credits.items()}
    return json.dumps(document).encode()
